//! Helpers of the tests that run the local TON chain (`cocoon devnet`): starting it, funding
//! wallets, and configs of roles that settle on it.

use super::*;
use serde_json::Value;
use std::time::Duration;

/// One TON in nanotons.
pub const TON: u64 = 1_000_000_000;

/// The start of every chain test: its processes, or `None` (after saying why) where the
/// devnet cannot run here.
pub fn chain_procs(name: &str) -> Option<Procs> {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping the chain test: {why}");
        return None;
    }
    Some(Procs::new(name))
}

/// `cocoon wallet address` of a key file (creating the key).
pub fn wallet_address(key_file: &std::path::Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["wallet", "address", "--json", "--key-file"])
        .arg(key_file)
        .output()
        .expect("cocoon wallet address");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["raw"].as_str().expect("raw address").to_string()
}

/// Runs `cocoon ARGS --json` and parses what it prints.
pub fn cocoon_json(args: &[String]) -> Value {
    let out = std::process::Command::new(BIN).args(args).arg("--json").output().expect("cocoon");
    assert!(out.status.success(), "cocoon {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("cocoon {args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The wallet of role `name`'s key under `dir` (creating both), funded by the faucet.
pub async fn funded_wallet(chain: &str, dir: &std::path::Path, name: &str, nanotons: u64) -> String {
    let role_dir = dir.join(name);
    std::fs::create_dir_all(&role_dir).unwrap();
    let wallet = wallet_address(&role_dir.join("key.pem"));
    faucet(chain, &wallet, nanotons).await;
    wallet
}

pub async fn faucet(base: &str, address: &str, nanotons: u64) {
    let (status, v) =
        post_json(&format!("{base}/devnet/faucet"), &format!(r#"{{"address":"{address}","amount":"{nanotons}"}}"#))
            .await;
    assert_eq!(status, 200, "{v}");
}

pub async fn balance(base: &str, address: &str) -> u64 {
    let (status, v) = get_json(&format!("{base}/api/v2/getAddressBalance?address={address}")).await;
    assert_eq!(status, 200, "{v}");
    v["result"].as_str().and_then(|b| b.parse().ok()).expect("balance")
}

/// Starts the devnet again on its data dir after a kill (its server may still be letting go
/// of the port for a moment).
pub async fn restart_devnet(procs: &mut Procs, port: u16, chain: &str) {
    for _ in 0..20 {
        procs.spawn("devnet", &devnet_args(procs, port));
        for _ in 0..300 {
            if let Ok(Some(_)) = procs.children.get_mut("devnet").unwrap().try_wait() {
                break;
            }
            let url = format!("{chain}/devnet/info");
            if let Ok((200, _)) = tokio::spawn(async move { get_json(&url).await }).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the devnet did not come back:\n{}", procs.log("devnet"));
}

/// Starts `cocoon devnet` with root `params` (JSON) and returns its base URL and root.
pub async fn devnet(procs: &mut Procs, port: u16, params: &str) -> (String, String) {
    devnet_with(procs, port, &format!(r#"{{"params": {params}}}"#)).await
}

/// `cocoon devnet` on `procs`' chain dir and devnet.json.
pub fn devnet_args(procs: &Procs, port: u16) -> Vec<String> {
    let cfg = procs.dir.join("devnet.json").display().to_string();
    let data = procs.dir.join("chain").display().to_string();
    let contracts = contracts().display().to_string();
    [s("devnet"), s("--port"), s(port), s("--data-dir"), data, s("--config"), cfg, s("--contracts-dir"), contracts]
        .to_vec()
}

/// Starts `cocoon devnet` with the whole devnet `config` (JSON: params and allowlists).
pub async fn devnet_with(procs: &mut Procs, port: u16, config: &str) -> (String, String) {
    std::fs::write(procs.dir.join("devnet.json"), config).unwrap();
    procs.spawn("devnet", &devnet_args(procs, port));
    let chain = format!("http://127.0.0.1:{port}");
    let info = wait_for(&format!("{chain}/devnet/info"), 120, |v| v["result"]["root"]["address"].is_string()).await;
    (chain, info["result"]["root"]["address"].as_str().unwrap().to_string())
}

/// A proxy config settling on the devnet, thresholds at 1 nanoton, anchors every second.
pub fn proxy_config(dir: &std::path::Path, name: &str, chain: &str, root: &str) -> std::path::PathBuf {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[payments]\ndata_dir = {data:?}\ncommit_interval_ms = 50\n\
             own_stake = 1000000000\nsettle_interval_ms = 300\ncharge_threshold = 1\npayout_threshold = 1\n\
             anchor_interval_secs = 1\n\n[payments.ton]\napi_url = \"{chain}\"\nroot = \"{root}\"\npoll_interval_ms = 100\n",
            data.join("key.pem")
        ),
    )
    .unwrap();
    path
}

pub fn proxy_args(cfg: &std::path::Path, client_l: u16, worker_l: u16, stats_l: u16) -> Vec<String> {
    vec![
        s("proxy"),
        s("--config"),
        cfg.display().to_string(),
        s("--client-listen"),
        format!("127.0.0.1:{client_l}"),
        s("--worker-listen"),
        format!("127.0.0.1:{worker_l}"),
        s("--stats-listen"),
        format!("127.0.0.1:{stats_l}"),
    ]
}

/// A worker on the bench backend at `backend`, serving through the proxy's worker port.
pub fn worker_args(backend: u16, stats: u16, proxy_workers: u16) -> Vec<String> {
    vec![
        s("worker"),
        s("--model"),
        s(MODEL),
        s("--backend"),
        format!("http://127.0.0.1:{backend}"),
        s("--stats-listen"),
        format!("127.0.0.1:{stats}"),
        s("--proxy"),
        format!("127.0.0.1:{proxy_workers}"),
    ]
}

/// A client config whose money moves on the devnet.
pub fn client_config(
    dir: &std::path::Path,
    name: &str,
    api: u16,
    proxy: u16,
    chain: &str,
    root: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{api}\"\nproxies = [\"127.0.0.1:{proxy}\"]\ndata_dir = {:?}\n\n\
             [chain]\napi_url = \"{chain}\"\nroot = \"{root}\"\npoll_interval_ms = 100\n",
            dir.join(name)
        ),
    )
    .unwrap();
    path
}

/// Polls `url` until `ready` holds, at most `secs`; panics with the last answer and `logs`.
pub async fn eventually(url: &str, secs: u64, logs: &Procs, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..secs * 5 {
        // A process still starting refuses the connection: not ready yet.
        let url2 = url.to_string();
        if let Ok((_, v)) = tokio::spawn(async move { get_json(&url2).await }).await {
            if ready(&v) {
                return v;
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: not within {secs} s; last {last}\n--- proxy log ---\n{}", logs.log("proxy"));
}
