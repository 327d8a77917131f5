//! The example configs in config/ are real: they load into each role's typed config.

use std::path::PathBuf;

fn read(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn proxy_example_loads() {
    let c: cocoon_proxy::ProxyConfig = toml::from_str(&read("proxy.example.toml")).unwrap();
    assert_eq!(c.client_policy.kind, cocoon_ratls::PolicyKind::Any);
}

#[test]
fn worker_example_loads_and_validates() {
    let c: cocoon_worker::WorkerConfig = toml::from_str(&read("worker.example.toml")).unwrap();
    c.validate().unwrap();
    assert!(!c.proxies.is_empty());
}

#[test]
fn client_example_loads_and_validates() {
    let c: cocoon_client::ClientConfig = toml::from_str(&read("client.example.toml")).unwrap();
    c.validate().unwrap();
    assert_eq!(c.listen.port(), 10000);
}

#[test]
fn a_typo_in_a_config_is_an_error() {
    let text = read("worker.example.toml").replacen("\nmax_active", "\nmax_actvie", 1);
    assert!(text.contains("max_actvie"), "the example sets max_active");
    assert!(toml::from_str::<cocoon_worker::WorkerConfig>(&text).is_err());
}
