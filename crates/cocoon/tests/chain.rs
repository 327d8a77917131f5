//! Payments on the local TON chain, end to end over real processes: `cocoon devnet`, a proxy
//! with settlement on TON (it registers itself in the root with its stake), a worker, a client
//! whose money moves only by its own wallet's messages, and a second client that asks the proxy
//! for a deposit without paying one.
//!
//! It checks that a deposit request with no transfer credits nothing; that a top-up and a
//! stake sent on chain are credited; that paid requests are charged on chain and the worker is
//! paid out on chain (thresholds set to 1 nanoton); that the contracts' getters equal the
//! ledger after it; that a withdrawal on chain is booked; and that a close gets balance and
//! stake back through the proxy's grant refund. Skipped (saying why) where Node.js or
//! contracts/node_modules is missing.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const TON: u64 = 1_000_000_000;

fn s(x: impl ToString) -> String {
    x.to_string()
}

/// `cocoon wallet address` of a key file (creating the key).
fn wallet_address(key_file: &std::path::Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["wallet", "address", "--json", "--key-file"])
        .arg(key_file)
        .output()
        .expect("cocoon wallet address");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["raw"].as_str().expect("raw address").to_string()
}

async fn faucet(base: &str, address: &str, nanotons: u64) {
    let (status, v) =
        post_json(&format!("{base}/devnet/faucet"), &format!(r#"{{"address":"{address}","amount":"{nanotons}"}}"#))
            .await;
    assert_eq!(status, 200, "{v}");
}

async fn balance(base: &str, address: &str) -> u64 {
    let (status, v) = get_json(&format!("{base}/api/v2/getAddressBalance?address={address}")).await;
    assert_eq!(status, 200, "{v}");
    v["result"].as_str().and_then(|b| b.parse().ok()).expect("balance")
}

/// Polls `url` until `ready` holds, at most `secs`; panics with the last answer and `logs`.
async fn eventually(url: &str, secs: u64, logs: &Procs, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
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

#[tokio::test(flavor = "multi_thread")]
async fn money_moves_on_chain_from_top_up_to_charge_payout_withdrawal_and_refund() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping the chain test: {why}");
        return;
    }
    let mut procs = Procs::new("chain");
    let dir = procs.dir.clone();
    let ports = free_ports(8);
    let (chain_port, backend_port, client_l, worker_l, stats_l, client_api, worker_stats, cheat_api) =
        (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7]);
    let chain = format!("http://127.0.0.1:{chain_port}");

    // The chain, with a low proxy stake and a short close delay.
    let devnet_cfg = dir.join("devnet.json");
    std::fs::write(
        &devnet_cfg,
        r#"{"params": {"minProxyStake": "1000000000", "minClientStake": "100000000", "clientDelayBeforeClose": 5}}"#,
    )
    .unwrap();
    procs.spawn(
        "devnet",
        &[
            s("devnet"),
            s("--port"),
            s(chain_port),
            s("--data-dir"),
            dir.join("chain").display().to_string(),
            s("--config"),
            devnet_cfg.display().to_string(),
            s("--contracts-dir"),
            contracts().display().to_string(),
        ],
    );
    let info = wait_for(&format!("{chain}/devnet/info"), 120, |v| v["result"]["root"]["address"].is_string()).await;
    let root = info["result"]["root"]["address"].as_str().unwrap().to_string();

    // Wallets: the proxy's pays its stake, the client's its top-ups.
    let proxy_dir = dir.join("proxy");
    let client_dir = dir.join("client");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::fs::create_dir_all(&client_dir).unwrap();
    let proxy_wallet = wallet_address(&proxy_dir.join("key.pem"));
    let client_wallet = wallet_address(&client_dir.join("key.pem"));
    faucet(&chain, &proxy_wallet, 5 * TON).await;
    faucet(&chain, &client_wallet, 10 * TON).await;

    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(backend_port), s("--chunks"), s(20)]);
    wait_for(&format!("http://127.0.0.1:{backend_port}/health"), 30, |_| true).await;

    let proxy_cfg = dir.join("proxy.toml");
    std::fs::write(
        &proxy_cfg,
        format!(
            "[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[payments]\ndata_dir = {proxy_dir:?}\ncommit_interval_ms = 50\n\
             own_stake = 1000000000\nsettle_interval_ms = 300\ncharge_threshold = 1\npayout_threshold = 1\n\n\
             [payments.ton]\napi_url = \"{chain}\"\nroot = \"{root}\"\npoll_interval_ms = 100\n",
            proxy_dir.join("key.pem")
        ),
    )
    .unwrap();
    procs.spawn(
        "proxy",
        &[
            s("proxy"),
            s("--config"),
            proxy_cfg.display().to_string(),
            s("--client-listen"),
            format!("127.0.0.1:{client_l}"),
            s("--worker-listen"),
            format!("127.0.0.1:{worker_l}"),
            s("--stats-listen"),
            format!("127.0.0.1:{stats_l}"),
        ],
    );
    let stats = format!("http://127.0.0.1:{stats_l}/stats");
    let st =
        eventually(&stats, 90, &procs, "the proxy registers and serves", |v| v["chain"]["proxy_contract"].is_string())
            .await;
    let proxy_contract = st["chain"]["proxy_contract"].as_str().unwrap().to_string();
    assert!(balance(&chain, &proxy_contract).await >= TON, "the stake is in the proxy contract");

    procs.spawn(
        "worker",
        &[
            s("worker"),
            s("--model"),
            s(MODEL),
            s("--backend"),
            format!("http://127.0.0.1:{backend_port}"),
            s("--stats-listen"),
            format!("127.0.0.1:{worker_stats}"),
            s("--proxy"),
            format!("127.0.0.1:{worker_l}"),
            s("--data-dir"),
            dir.join("worker").display().to_string(),
        ],
    );
    eventually(&stats, 30, &procs, "the worker is admitted", |v| enabled_workers(v) >= 1).await;

    // A client that asks the proxy to credit a deposit nobody paid: refused, nothing credited.
    procs.spawn(
        "cheat",
        &[
            s("client"),
            s("--listen"),
            format!("127.0.0.1:{cheat_api}"),
            s("--proxy"),
            format!("127.0.0.1:{client_l}"),
            s("--data-dir"),
            dir.join("cheat").display().to_string(),
        ],
    );
    let cheat = format!("http://127.0.0.1:{cheat_api}");
    wait_for(&format!("{cheat}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    let (status, v) = post_json(&format!("{cheat}/v1/payments/deposit"), r#"{"amount": 5000000000}"#).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "on_chain", "{v}");
    let (status, v) = get_json(&format!("{cheat}/v1/payments/account")).await;
    assert_eq!(status, 404, "no account was created: {v}");
    let (status, v) = post_json(&format!("{cheat}/v1/chat/completions"), &chat_body(false, "")).await;
    assert_eq!(status, 402, "{v}");

    // The honest client: its money moves by its wallet's messages.
    let client_cfg = dir.join("client.toml");
    std::fs::write(
        &client_cfg,
        format!(
            "listen = \"127.0.0.1:{client_api}\"\nproxies = [\"127.0.0.1:{client_l}\"]\ndata_dir = {client_dir:?}\n\n\
             [chain]\napi_url = \"{chain}\"\nroot = \"{root}\"\npoll_interval_ms = 100\n"
        ),
    )
    .unwrap();
    procs.spawn("client", &[s("client"), s("--config"), client_cfg.display().to_string()]);
    let api = format!("http://127.0.0.1:{client_api}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    let (status, v) = post_json(&format!("{api}/v1/payments/deposit"), &format!(r#"{{"amount": {}}}"#, 2 * TON)).await;
    assert_eq!(status, 200, "{v}\n{}", procs.log("client"));
    let contract = v["sent"]["contract"].as_str().expect("the contract it paid").to_string();
    assert_eq!(v["account"]["balance"], 2 * TON, "credited exactly what arrived: {v}");
    let (status, v) = post_json(&format!("{api}/v1/payments/stake"), &format!(r#"{{"amount": {}}}"#, TON / 5)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["account"]["stake"], TON / 5, "{v}");
    assert!(balance(&chain, &contract).await >= 2 * TON + TON / 5, "the money is in the client contract");

    // Paid requests.
    for _ in 0..3 {
        let (status, v) = post_json(&format!("{api}/v1/chat/completions"), &chat_body(false, "")).await;
        assert_eq!(status, 200, "{v}");
    }
    let st = eventually(&stats, 30, &procs, "charged and paid out on chain", |v| {
        let c = &v["chain"]["clients"][0];
        let w = &v["chain"]["workers"][0];
        c["ledger"]["charged_tokens"].as_u64().is_some_and(|t| t > 0)
            && c["chain"]["tokens_used"] == c["ledger"]["charged_tokens"]
            && w["chain"]["paid_tokens"] == w["ledger"]["earned_tokens"]
    })
    .await;
    let c = &st["chain"]["clients"][0];
    assert_eq!(c["contract"], contract);
    assert_eq!(c["chain"]["balance"], c["ledger"]["balance"], "getters equal the ledger: {c}");
    assert_eq!(c["chain"]["stake"], c["ledger"]["stake"], "{c}");
    assert_eq!(st["ledger"]["balanced"], true, "{st}");
    let charged = c["ledger"]["charged_tokens"].as_u64().unwrap();
    assert!(c["ledger"]["balance"].as_u64().unwrap() < 2 * TON, "{c}");

    // A withdrawal on chain is booked to the nanoton.
    let before = c["ledger"]["balance"].as_u64().unwrap();
    let (status, v) = post_json(&format!("{api}/v1/payments/withdraw"), &format!(r#"{{"amount": {}}}"#, TON / 2)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["account"]["balance"], before - TON / 2, "{v}");

    // Closing: the proxy answers the refund request with its final charge; balance and stake
    // come back to the wallet.
    let wallet_before = balance(&chain, &client_wallet).await;
    let (status, v) = post_json(&format!("{api}/v1/payments/close"), "{}").await;
    assert_eq!(status, 200, "{v}");
    let st = eventually(&stats, 30, &procs, "the close is granted", |v| {
        let c = &v["chain"]["clients"][0];
        c["chain"]["balance"] == 0 && c["chain"]["stake"] == 0 && c["ledger"]["stake"] == 0
    })
    .await;
    let c = &st["chain"]["clients"][0];
    assert_eq!(c["chain"]["tokens_used"].as_u64().unwrap(), charged, "{c}");
    assert_eq!(st["ledger"]["balanced"], true, "{st}");
    let refunded = balance(&chain, &client_wallet).await - wallet_before;
    assert!(refunded > before - TON / 2 + TON / 5 - TON / 20, "refund {refunded} = balance + stake less fees");
}
