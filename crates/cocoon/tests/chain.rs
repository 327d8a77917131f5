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

use common::chain::*;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn money_moves_on_chain_from_top_up_to_charge_payout_withdrawal_and_refund() {
    let Some(mut procs) = chain_procs("chain") else { return };
    let dir = procs.dir.clone();
    // Ports are taken when they are used: tests run in parallel, and a port found free long
    // before can be another process's by then.
    let chain_port = free_ports(1)[0];
    // The chain, with a low proxy stake and a short close delay.
    let (chain, root) = devnet(
        &mut procs,
        chain_port,
        r#"{"minProxyStake": "1000000000", "minClientStake": "100000000", "clientDelayBeforeClose": 5}"#,
    )
    .await;

    // Wallets: the proxy's pays its stake, the client's its top-ups.
    let proxy_wallet = funded_wallet(&chain, &dir, "proxy", 5 * TON).await;
    let client_wallet = funded_wallet(&chain, &dir, "client", 10 * TON).await;

    let ports = free_ports(4);
    let (backend_port, client_l, worker_l, stats_l) = (ports[0], ports[1], ports[2], ports[3]);
    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(backend_port), s("--chunks"), s(20)]);
    wait_for(&format!("http://127.0.0.1:{backend_port}/health"), 30, |_| true).await;

    let proxy_cfg = proxy_config(&dir, "proxy", &chain, &root);
    procs.spawn("proxy", &proxy_args(&proxy_cfg, client_l, worker_l, stats_l));
    let stats = format!("http://127.0.0.1:{stats_l}/stats");
    let st =
        eventually(&stats, 90, &procs, "the proxy registers and serves", |v| v["chain"]["proxy_contract"].is_string())
            .await;
    let proxy_contract = st["chain"]["proxy_contract"].as_str().unwrap().to_string();
    assert!(balance(&chain, &proxy_contract).await >= TON, "the stake is in the proxy contract");

    // The worker finds the proxy in the root's registry (no proxy list in its config).
    let worker_stats = free_ports(1)[0];
    let worker_cfg = dir.join("worker.toml");
    std::fs::write(
        &worker_cfg,
        format!(
            "model = \"{MODEL}\"\nbackend = \"http://127.0.0.1:{backend_port}\"\nstats_listen = \"127.0.0.1:{worker_stats}\"\n\
             data_dir = {:?}\n\n[chain]\napi_url = \"{chain}\"\nroot = \"{root}\"\n",
            dir.join("worker")
        ),
    )
    .unwrap();
    procs.spawn("worker", &[s("worker"), s("--config"), worker_cfg.display().to_string()]);
    eventually(&stats, 30, &procs, "the worker is admitted", |v| enabled_workers(v) >= 1).await;

    // A client that asks the proxy to credit a deposit nobody paid: refused, nothing credited.
    let cheat_api = free_ports(1)[0];
    procs.spawn("cheat", &client_args(cheat_api, client_l, &dir.join("cheat")));
    let cheat = format!("http://127.0.0.1:{cheat_api}");
    wait_for(&format!("{cheat}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&cheat, &dir.join("cheat"));
    let (status, v) = post_json(&format!("{cheat}/v1/payments/deposit"), r#"{"amount": 5000000000}"#).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "on_chain", "{v}");
    let (status, v) = get_json(&format!("{cheat}/v1/payments/account")).await;
    assert_eq!(status, 404, "no account was created: {v}");
    let (status, v) = post_json(&format!("{cheat}/v1/chat/completions"), &chat_body(false, "")).await;
    assert_eq!(status, 402, "{v}");

    // The honest client: its money moves by its wallet's messages.
    // It finds the proxy in the root's registry too.
    let client_api = free_ports(1)[0];
    let client_cfg = client_config(&dir, "client", client_api, client_l, &chain, &root);
    let text = std::fs::read_to_string(&client_cfg).unwrap();
    std::fs::write(&client_cfg, text.replace(&format!("proxies = [\"127.0.0.1:{client_l}\"]\n"), "")).unwrap();
    procs.spawn("client", &[s("client"), s("--config"), client_cfg.display().to_string()]);
    let api = format!("http://127.0.0.1:{client_api}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&api, &dir.join("client"));
    let (status, v) = post_json(&format!("{api}/v1/payments/deposit"), &format!(r#"{{"amount": {}}}"#, 2 * TON)).await;
    assert_eq!(status, 200, "{v}\n{}", procs.log("client"));
    let contract = v["sent"]["contract"].as_str().expect("the contract it paid").to_string();
    eprintln!("fees: the client's wallet transaction of its first top-up cost {} nanotons", v["sent"]["wallet_fee"]);
    assert_eq!(v["account"]["balance"], 2 * TON, "credited exactly what arrived: {v}");
    let (status, v) = post_json(&format!("{api}/v1/payments/stake"), &format!(r#"{{"amount": {}}}"#, TON / 5)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["account"]["stake"], TON / 5, "{v}");
    assert!(balance(&chain, &contract).await >= 2 * TON + TON / 5, "the money is in the client contract");

    // Paid requests.
    let proxy_spent_from = balance(&chain, &proxy_wallet).await;
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
    // What settlement cost the proxy's wallet (printed for the docs' fee figures).
    let log = procs.log("proxy");
    eprintln!(
        "fees: the proxy's wallet spent {} nanotons on {} voucher sends and {} anchors",
        proxy_spent_from as i128 - balance(&chain, &proxy_wallet).await as i128,
        log.matches("submitting a voucher").count(),
        log.matches("ledger anchored on chain").count()
    );
    assert_eq!(c["chain"]["balance"], c["ledger"]["balance"], "getters equal the ledger: {c}");
    assert_eq!(c["chain"]["stake"], c["ledger"]["stake"], "{c}");
    assert_eq!(st["ledger"]["balanced"], true, "{st}");
    let charged = c["ledger"]["charged_tokens"].as_u64().unwrap();
    assert!(c["ledger"]["balance"].as_u64().unwrap() < 2 * TON, "{c}");

    // The operator withdraws part of the commission the payouts booked in the proxy contract.
    let contract_args = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(s).collect();
        v.extend([s("--data-dir"), dir.join("proxy").display().to_string(), s("--api"), chain.clone()]);
        v
    };
    let pc = cocoon_json(&contract_args(&["proxy", "contract"]));
    let commission: u64 = pc["commission"].as_str().unwrap().parse().unwrap();
    assert!(commission > 0, "{pc}");
    cocoon_json(&contract_args(&["proxy", "withdraw", "0.000000001"]));
    let pc = cocoon_json(&contract_args(&["proxy", "contract"]));
    assert_eq!(pc["commission"].as_str().unwrap().parse::<u64>().unwrap(), commission - 1, "{pc}");

    // The chain goes away during settlement: requests are still served from the books,
    // settlement retries, and once the chain is back it catches up exactly (nothing lost,
    // nothing charged twice: the contract's tokens equal the ledger's).
    procs.kill("devnet").await;
    // Its Node.js server notices within a second that its parent is gone, and stops.
    for _ in 0..100 {
        let url = format!("{chain}/api/v2/getMasterchainInfo");
        if tokio::spawn(async move { get_json(&url).await }).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..2 {
        let (status, v) = post_json(&format!("{api}/v1/chat/completions"), &chat_body(false, "")).await;
        assert_eq!(status, 200, "served while the chain is down: {v}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, down) = get_json(&stats).await;
    let c = &down["chain"]["clients"][0];
    assert!(
        c["chain"]["tokens_used"].as_u64() < c["ledger"]["charged_tokens"].as_u64(),
        "usage served while the chain was down is not charged yet: {c}"
    );
    restart_devnet(&mut procs, chain_port, &chain).await;
    let st = eventually(&stats, 60, &procs, "settlement catches up after the outage", |v| {
        let c = &v["chain"]["clients"][0];
        let w = &v["chain"]["workers"][0];
        c["ledger"]["charged_tokens"].as_u64().is_some_and(|t| t > charged)
            && c["chain"]["tokens_used"] == c["ledger"]["charged_tokens"]
            && w["chain"]["paid_tokens"] == w["ledger"]["earned_tokens"]
    })
    .await;
    assert_eq!(st["ledger"]["balanced"], true, "{st}");
    let c = &st["chain"]["clients"][0];
    assert_eq!(c["chain"]["balance"], c["ledger"]["balance"], "{c}");
    let charged = c["ledger"]["charged_tokens"].as_u64().unwrap();

    // A withdrawal on chain is booked to the nanoton.
    let before = st["chain"]["clients"][0]["ledger"]["balance"].as_u64().unwrap();
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

/// The anti-rollback anchor, the forced refund and the registry check, against real processes:
/// a proxy whose database is replaced by an older copy refuses to start (the chain holds a
/// later anchor); with the proxy gone, the client closes by force after the delay and gets its
/// balance and stake back; a client refuses to pay a proxy the root does not list.
#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_proxy_refuses_to_serve_a_client_leaves_without_it_and_unlisted_proxies_get_nothing() {
    let Some(mut procs) = chain_procs("chain-rollback") else { return };
    let dir = procs.dir.clone();
    let p = free_ports(1);
    let (chain, root) = devnet(
        &mut procs,
        p[0],
        r#"{"minProxyStake": "1000000000", "minClientStake": "100000000", "clientDelayBeforeClose": 3}"#,
    )
    .await;
    funded_wallet(&chain, &dir, "proxy", 5 * TON).await;
    let client_wallet = funded_wallet(&chain, &dir, "client", 5 * TON).await;
    let p = free_ports(6); // taken now: the devnet's start took seconds
    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(p[1]), s("--chunks"), s(20)]);
    let proxy_cfg = proxy_config(&dir, "proxy", &chain, &root);
    let args = proxy_args(&proxy_cfg, p[2], p[3], p[4]);
    procs.spawn("proxy", &args);
    let stats = format!("http://127.0.0.1:{}/stats", p[4]);
    eventually(&stats, 90, &procs, "the proxy registers", |v| v["chain"]["proxy_contract"].is_string()).await;
    procs.spawn("worker", &worker_args(p[1], free_ports(1)[0], p[3]));
    let api_port = free_ports(1)[0];
    let client_cfg = client_config(&dir, "client", api_port, p[2], &chain, &root);
    procs.spawn("client", &[s("client"), s("--config"), client_cfg.display().to_string()]);
    let api = format!("http://127.0.0.1:{api_port}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&api, &dir.join("client"));
    let (status, v) = post_json(&format!("{api}/v1/payments/deposit"), &format!(r#"{{"amount": {TON}}}"#)).await;
    assert_eq!(status, 200, "{v}");
    let contract = v["sent"]["contract"].as_str().unwrap().to_string();
    let (status, v) = post_json(&format!("{api}/v1/payments/stake"), &format!(r#"{{"amount": {}}}"#, TON / 5)).await;
    assert_eq!(status, 200, "{v}");

    // A copy of the database as it is now, taken with the proxy stopped.
    procs.kill("proxy").await;
    let ledger = dir.join("proxy").join("ledger.redb");
    std::fs::copy(&ledger, dir.join("ledger.old")).unwrap();
    procs.spawn("proxy", &args);
    eventually(&stats, 60, &procs, "the proxy is back", |v| enabled_workers(v) >= 1).await;
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    for _ in 0..2 {
        let (status, v) = post_json(&format!("{api}/v1/chat/completions"), &chat_body(false, "")).await;
        assert_eq!(status, 200, "{v}");
    }
    eventually(&stats, 30, &procs, "charged on chain", |v| {
        let c = &v["chain"]["clients"][0];
        c["chain"]["tokens_used"].as_u64().is_some_and(|t| t > 0)
            && c["chain"]["tokens_used"] == c["ledger"]["charged_tokens"]
    })
    .await;
    // Let an anchor of the new state reach the chain.
    for _ in 0..100 {
        if procs.log("proxy").matches("ledger anchored on chain").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The older copy comes back: the proxy refuses to start, and says why.
    procs.kill("proxy").await;
    std::fs::copy(dir.join("ledger.old"), &ledger).unwrap();
    procs.spawn("proxy", &args);
    let mut exited = false;
    for _ in 0..300 {
        if let Ok(Some(status)) = procs.children.get_mut("proxy").unwrap().try_wait() {
            assert!(!status.success());
            exited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = procs.log("proxy");
    assert!(exited, "a rolled-back proxy must not serve:\n{log}");
    assert!(log.contains("ROLLBACK DETECTED") && log.contains("anchor"), "{log}");

    // With the proxy gone, the client asks to close, waits out the delay and forces its refund.
    let before = balance(&chain, &client_wallet).await;
    let (status, v) = post_json(&format!("{api}/v1/payments/close?proxy=0"), "{}").await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post_json(&format!("{api}/v1/payments/force_refund?proxy=0"), "{}").await;
    assert_eq!(status, 400, "too early: refused before anything is sent: {v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("close delay ends"), "{v}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, v) = post_json(&format!("{api}/v1/payments/force_refund?proxy=0"), "{}").await;
    assert_eq!(status, 200, "{v}");
    let back = balance(&chain, &client_wallet).await - before;
    assert!(back > TON + TON / 5 - TON / 10, "balance and stake came back without the proxy: {back}");
    assert!(balance(&chain, &contract).await < TON / 100, "the contract is empty");

    // A proxy the root does not list (embedded settlement, never registered) gets nothing.
    let cfg = dir.join("unlisted.toml");
    std::fs::write(
        &cfg,
        format!(
            "[attestation]\nmode = \"dev\"\n\n[payments]\ndata_dir = {:?}\ncommit_interval_ms = 50\n",
            dir.join("unlisted")
        ),
    )
    .unwrap();
    let q = free_ports(4);
    let (unlisted_clients, api2_port) = (q[0], q[3]);
    procs.spawn("unlisted", &proxy_args(&cfg, unlisted_clients, q[1], q[2]));
    wait_for(&format!("http://127.0.0.1:{}/health", q[2]), 30, |_| true).await;
    let other_cfg = client_config(&dir, "client2", api2_port, unlisted_clients, &chain, &root);
    procs.spawn("client2", &[s("client"), s("--config"), other_cfg.display().to_string()]);
    let api2 = format!("http://127.0.0.1:{api2_port}");
    wait_for(&format!("{api2}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&api2, &dir.join("client2"));
    let other_wallet = wallet_address(&dir.join("client2").join("key.pem"));
    faucet(&chain, &other_wallet, 2 * TON).await;
    let (status, v) = post_json(&format!("{api2}/v1/payments/deposit"), &format!(r#"{{"amount": {TON}}}"#)).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("lists no proxy"), "{v}");
    assert!(balance(&chain, &other_wallet).await > 2 * TON - TON / 100, "nothing left the wallet");
}

/// Governance on the devnet: a root deployed by its owner's key, its allowlist and prices
/// changed by the owner, and the same changes from another key refused by the contract.
#[tokio::test(flavor = "multi_thread")]
async fn the_roots_owner_governs_it_and_nobody_else_does() {
    let Some(mut procs) = chain_procs("chain-root") else { return };
    let dir = procs.dir.clone();
    let port = free_ports(1)[0];
    let (chain, _) = devnet(&mut procs, port, "{}").await;
    let owner_key = dir.join("owner.pem");
    let other_key = dir.join("other.pem");
    faucet(&chain, &wallet_address(&owner_key), 5 * TON).await;
    faucet(&chain, &wallet_address(&other_key), 5 * TON).await;
    let with = |args: &[&str], key: &std::path::Path, root: &str| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(s).collect();
        v.extend([s("--key-file"), key.display().to_string(), s("--root"), s(root), s("--api"), chain.clone()]);
        v
    };
    let deployed = cocoon_json(&[
        s("root"),
        s("deploy"),
        s("--key-file"),
        owner_key.display().to_string(),
        s("--api"),
        chain.clone(),
    ]);
    let root = deployed["root"].as_str().unwrap().to_string();
    let show = || cocoon_json(&[s("root"), s("show"), s("--root"), root.clone(), s("--api"), chain.clone()]);
    let before = show();
    assert_eq!(before["owner"].as_str().unwrap(), wallet_address(&owner_key), "{before}");
    assert_eq!(before["params"]["price_per_token"], "2", "{before}");

    let image = "ab".repeat(32);
    // Someone else's messages reach the root and change nothing.
    cocoon_json(&with(&["root", "allow", "proxy-image", &image], &other_key, &root));
    cocoon_json(&with(&["root", "set-prices", "--price", "9", "--worker-fee", "1"], &other_key, &root));
    let after = show();
    assert_eq!(after["proxy_image_hashes"], serde_json::json!([]), "{after}");
    assert_eq!(after["params"], before["params"], "{after}");
    // The owner's do.
    cocoon_json(&with(&["root", "allow", "proxy-image", &image], &owner_key, &root));
    cocoon_json(&with(&["root", "set-prices", "--price", "3", "--worker-fee", "1"], &owner_key, &root));
    let after = show();
    assert_eq!(after["proxy_image_hashes"], serde_json::json!([image]), "{after}");
    assert_eq!(after["params"]["price_per_token"], "3", "{after}");
    assert_eq!(after["params"]["params_version"], before["params"]["params_version"].as_u64().unwrap() + 1, "{after}");
    cocoon_json(&with(&["root", "allow", "proxy-image", &image, "--remove"], &owner_key, &root));
    assert_eq!(show()["proxy_image_hashes"], serde_json::json!([]));
}

/// Cocoon's stake rule over real sockets: a client that keeps asking cannot run up usage the
/// chain has not charged beyond its stake. Its request is refused with 402 `charge_pending`,
/// the proxy charges it on chain at once (whatever the threshold), and then it is served again.
#[tokio::test(flavor = "multi_thread")]
async fn usage_not_charged_on_chain_never_passes_the_stake() {
    let Some(mut procs) = chain_procs("chain-stake") else { return };
    let dir = procs.dir.clone();
    let p = free_ports(1);
    // Expensive tokens (0.001 TON), so that a few requests reach a 1 TON stake.
    let (chain, root) = devnet(
        &mut procs,
        p[0],
        r#"{"minProxyStake": "1000000000", "pricePerToken": "1000000", "workerFeePerToken": "500000"}"#,
    )
    .await;
    faucet(&chain, &wallet_address(&dir.join("proxy").join("key.pem")), 5 * TON).await;
    faucet(&chain, &wallet_address(&dir.join("client").join("key.pem")), 10 * TON).await;
    let p = free_ports(6); // taken now: the devnet's start took seconds
    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(p[1]), s("--chunks"), s(20)]);
    let cfg = proxy_config(&dir, "proxy", &chain, &root);
    // The default 1 TON charge threshold and a settlement run every 2 s.
    let text =
        std::fs::read_to_string(&cfg).unwrap().replace("charge_threshold = 1\n", "charge_threshold = 1000000000\n");
    std::fs::write(&cfg, text.replace("settle_interval_ms = 300", "settle_interval_ms = 2000")).unwrap();
    procs.spawn("proxy", &proxy_args(&cfg, p[2], p[3], p[4]));
    let stats = format!("http://127.0.0.1:{}/stats", p[4]);
    eventually(&stats, 90, &procs, "the proxy registers", |v| v["chain"]["proxy_contract"].is_string()).await;
    procs.spawn("worker", &worker_args(p[1], free_ports(1)[0], p[3]));
    eventually(&stats, 30, &procs, "the worker is admitted", |v| enabled_workers(v) >= 1).await;
    // This client takes its proxies from the root and reads it again every second.
    let api_port = free_ports(1)[0];
    let client_cfg = client_config(&dir, "client", api_port, p[2], &chain, &root);
    let text = std::fs::read_to_string(&client_cfg).unwrap();
    let text = text.replace(&format!("proxies = [\"127.0.0.1:{}\"]\n", p[2]), "");
    std::fs::write(&client_cfg, format!("{text}registry_refresh_secs = 1\n")).unwrap();
    procs.spawn("client", &[s("client"), s("--config"), client_cfg.display().to_string()]);
    let api = format!("http://127.0.0.1:{api_port}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&api, &dir.join("client"));
    let (status, v) = post_json(&format!("{api}/v1/payments/deposit"), &format!(r#"{{"amount": {}}}"#, 5 * TON)).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post_json(&format!("{api}/v1/payments/stake"), &format!(r#"{{"amount": {TON}}}"#)).await;
    assert_eq!(status, 200, "{v}");

    let body = chat_body(false, r#""max_tokens":5,"max_coefficient":1000"#);
    let mut served = 0;
    let refused = loop {
        let (status, v) = post_json(&format!("{api}/v1/chat/completions"), &body).await;
        match status {
            200 => served += 1,
            402 => break v,
            other => panic!("unexpected {other}: {v}"),
        }
        assert!(served < 200, "never refused: the stake rule is not enforced");
    };
    assert_eq!(refused["error"]["code"], "charge_pending", "{refused}");
    assert!(served > 0, "{refused}");
    let (_, st) = get_json(&stats).await;
    let c = &st["chain"]["clients"][0];
    let price = 1_000_000u64;
    let uncharged =
        (c["ledger"]["charged_tokens"].as_u64().unwrap() - c["chain"]["tokens_used"].as_u64().unwrap()) * price;
    assert!(uncharged <= TON, "uncharged usage {uncharged} stays under the 1 TON stake: {c}");
    // The refusal makes the proxy charge now; then the client is served again.
    let st = eventually(&stats, 30, &procs, "the refused client is charged on chain", |v| {
        let c = &v["chain"]["clients"][0];
        c["chain"]["tokens_used"] == c["ledger"]["charged_tokens"]
    })
    .await;
    assert_eq!(st["ledger"]["balanced"], true, "{st}");
    // As the refusal says, retry in a moment: the proxy books the contract right after the charge.
    let mut again = (0, serde_json::Value::Null);
    for _ in 0..20 {
        again = post_json(&format!("{api}/v1/chat/completions"), &body).await;
        if again.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(again.0, 200, "served again after the charge: {}", again.1);

    // A second proxy registers: the client finds it in the root and connects.
    faucet(&chain, &wallet_address(&dir.join("proxy-b").join("key.pem")), 5 * TON).await;
    let q = free_ports(3);
    let cfg_b = proxy_config(&dir, "proxy-b", &chain, &root);
    procs.spawn("proxy-b", &proxy_args(&cfg_b, q[0], q[1], q[2]));
    let health = wait_for(&format!("{api}/health"), 60, |v| v["proxies_connected"].as_u64() == Some(2)).await;
    assert_eq!(health["proxies"], 2, "{health}");
}

/// On chain the proxy takes the worker allowlists from the root, not its config file: a root
/// that lists only a model hash no worker here serves leaves the proxy admitting none, and says
/// why.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_admits_only_workers_the_roots_allowlists_allow() {
    let Some(mut procs) = chain_procs("chain-allow") else { return };
    let dir = procs.dir.clone();
    let p = free_ports(1);
    // The root's model allowlist lists one hash no worker here serves.
    let listed = "cd".repeat(32);
    let (chain, root) = devnet_with(
        &mut procs,
        p[0],
        &format!(r#"{{"params": {{"minProxyStake": "1000000000"}}, "model_hashes": ["{listed}"]}}"#),
    )
    .await;
    faucet(&chain, &wallet_address(&dir.join("proxy").join("key.pem")), 5 * TON).await;
    let p = free_ports(6); // taken now: the devnet's start took seconds
    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(p[1])]);
    let proxy_cfg = proxy_config(&dir, "proxy", &chain, &root);
    procs.spawn("proxy", &proxy_args(&proxy_cfg, p[2], p[3], p[4]));
    let stats = format!("http://127.0.0.1:{}/stats", p[4]);
    eventually(&stats, 90, &procs, "the proxy registers", |v| v["chain"]["proxy_contract"].is_string()).await;
    procs.spawn("worker", &worker_args(p[1], free_ports(1)[0], p[3]));
    let st = eventually(&stats, 30, &procs, "the worker is refused", |v| {
        v["counters"]["handshakes_refused"].as_u64() > Some(0) || v["counters"]["last_refusal"].is_string()
    })
    .await;
    assert_eq!(enabled_workers(&st), 0, "{st}");
    let log = procs.log("proxy");
    assert!(log.contains("allowlists from the root"), "{log}");
    assert!(log.contains("registry's allowlist") || log.contains("attests no model hash"), "{log}");
}
