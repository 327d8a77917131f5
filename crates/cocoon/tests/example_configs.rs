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
    let p = c.payments.expect("the example documents [payments]");
    assert_eq!(p.load_prices().unwrap(), cocoon_ledger::Prices::default(), "the example shows the defaults");
}

#[test]
fn registry_example_loads_and_is_checked() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut p = cocoon_proxy::config::PaymentsConfig::new("unused".into());
    p.registry_file = Some(dir.join("registry.example.toml"));
    let prices = p.load_prices().unwrap();
    assert_eq!((prices.price_per_token, prices.worker_fee_per_token, prices.cached_multiplier), (20, 18, 2500));
    // A fee above the price is refused at load.
    let bad = std::env::temp_dir().join(format!("cocoon-bad-registry-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        read("registry.example.toml").replace("worker_fee_per_token = 18", "worker_fee_per_token = 21"),
    )
    .unwrap();
    p.registry_file = Some(bad.clone());
    assert!(p.load_prices().unwrap_err().contains("exceeds price_per_token"));
    let _ = std::fs::remove_file(bad);
}

#[test]
fn worker_example_loads_and_validates() {
    let c: cocoon_worker::WorkerConfig = toml::from_str(&read("worker.example.toml")).unwrap();
    c.validate().unwrap();
    assert!(!c.proxies.is_empty());
    assert_eq!(c.features.to_string(), "tools,logprobs,logit_bias,n");
    // An unknown feature is an error naming it, not skipped.
    let line = "features = [\"tools\", \"logprobs\", \"logit_bias\", \"n\"]";
    assert!(read("worker.example.toml").contains(line));
    let text = read("worker.example.toml").replacen(line, "features = [\"tools\", \"vision\"]", 1);
    let e = toml::from_str::<cocoon_worker::WorkerConfig>(&text).unwrap_err().to_string();
    assert!(e.contains("vision"), "{e}");
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

/// The commented `[payments.ton]` and `[chain]` tables document real keys: uncommented, they load.
#[test]
fn the_chain_tables_in_the_examples_are_real() {
    let uncomment = |text: &str, table: &str| -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in text.lines() {
            if line.trim() == format!("# [{table}]") {
                inside = true;
            } else if inside && !line.starts_with("# ") {
                inside = false;
            }
            let l = if inside { line.trim_start_matches("# ").split("  #").next().unwrap_or("") } else { line };
            out.push_str(l);
            out.push('\n');
        }
        out
    };
    let proxy: cocoon_proxy::ProxyConfig =
        toml::from_str(&uncomment(&read("proxy.example.toml"), "payments.ton")).unwrap();
    let ton = proxy.payments.unwrap().ton.expect("[payments.ton] loads");
    assert_eq!(ton.api_url, "https://testnet.toncenter.com");
    let client: cocoon_client::ClientConfig =
        toml::from_str(&uncomment(&read("client.example.toml"), "chain")).unwrap();
    assert_eq!(client.chain.expect("[chain] loads").registry_refresh_secs, 300);
    let worker: cocoon_worker::WorkerConfig =
        toml::from_str(&uncomment(&read("worker.example.toml"), "chain")).unwrap();
    assert!(worker.chain.is_some());
}
