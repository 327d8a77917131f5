//! The local network's chain: `cocoon devnet` started as one more child of `cocoon up`, and
//! the roles' wallets funded from its faucet. DEVNET ONLY: its coins are worthless.

use crate::network::{get_json, post_json, Network};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The devnet a local network runs on.
pub struct LocalChain {
    /// Base URL of its TON HTTP API (without `/api/v2`).
    pub api: String,
    /// The root contract (raw form).
    pub root: String,
}

/// Starts the devnet (its state in `<data_dir>/chain`, kept across runs) on `port` and waits
/// until it answers with its root deployed.
pub async fn start(net: &mut Network, exe: &Path, data_dir: &Path, port: u16, log_dir: &Path) -> Result<LocalChain> {
    let cfg = data_dir.join("config").join("devnet.json");
    // A shorter close delay than the network's default day, so a local close is seen through.
    std::fs::write(&cfg, serde_json::to_vec_pretty(&json!({ "params": { "clientDelayBeforeClose": 120 } }))?)
        .with_context(|| format!("writing {}", cfg.display()))?;
    let chain_dir = std::path::absolute(data_dir.join("chain")).unwrap_or_else(|_| data_dir.join("chain"));
    let args = vec![
        "devnet".to_string(),
        "--port".into(),
        port.to_string(),
        "--data-dir".into(),
        chain_dir.display().to_string(),
        "--config".into(),
        cfg.display().to_string(),
    ];
    net.spawn(exe, "devnet", args, log_dir)?;
    let api = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut next_note = Duration::from_secs(10);
    loop {
        net.check_alive()?;
        if let Ok((200, v)) = get_json(&format!("{api}/devnet/info")).await {
            if let Some(root) = v["result"]["root"]["raw"].as_str().or(v["result"]["root"]["address"].as_str()) {
                return Ok(LocalChain { api, root: root.to_string() });
            }
        }
        let waited = started.elapsed();
        if waited > Duration::from_secs(180) {
            bail!("the devnet did not come up within 180 s; see {}", log_dir.join("devnet.log").display());
        }
        if waited > next_note {
            eprintln!("waiting for the local TON chain (Node.js + TON emulator)... {} s", waited.as_secs());
            next_note += Duration::from_secs(10);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl LocalChain {
    /// The wallet of the identity key in `key_file` (created if missing), funded from the
    /// faucet up to `want` nanotons when it holds less than half of that. Returns its address.
    pub async fn fund(&self, key_file: &Path, want: u64) -> Result<String> {
        if let Some(dir) = key_file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let wallet = crate::wallet::wallet(key_file)?;
        let address = cocoon_ton::address::raw(wallet.address());
        let (_, v) = get_json(&format!("{}/api/v2/getAddressBalance?address={address}", self.api)).await?;
        let balance: u64 = v["result"].as_str().and_then(|b| b.parse().ok()).unwrap_or(0);
        if balance >= want / 2 {
            return Ok(address);
        }
        let mut left = want - balance;
        while left > 0 {
            // The faucet pays at most 1000 TON a call.
            let amount = left.min(1_000_000_000_000);
            let (status, v) = post_json(
                &format!("{}/devnet/faucet", self.api),
                &json!({ "address": address, "amount": amount.to_string() }),
            )
            .await?;
            if status != 200 {
                bail!("the devnet faucet refused to pay {address} (HTTP {status}): {v}");
            }
            left -= amount;
        }
        Ok(address)
    }
}
