//! Payments end to end, through real processes: charging, 402s, vouchers at both ends, books
//! that balance, and a proxy killed under load that loses no acknowledged money.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const TON: u64 = 1_000_000_000;

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

async fn deposit(net: &Net, amount: u64) -> (u16, Value) {
    post_json(&format!("{}/v1/payments/deposit", net.api), &format!(r#"{{"amount":{amount}}}"#)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_paid_for_and_vouchered_at_both_ends() {
    let net = Net::start("pay", NetOpts { workers: 1, chunks: 10, payments: true, ..Default::default() }).await;

    // No account yet: 402, saying the balance and what the request needs; nothing changes.
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 402, "{}", String::from_utf8_lossy(&body));
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["error"]["code"], "no_account");
    assert_eq!(e["error"]["balance"], 0);
    assert!(n(&e["error"], "required") > 0);

    // A deposit: the stake (0.1 TON by default) is filled first.
    let (status, acct) = deposit(&net, TON).await;
    assert_eq!(status, 200, "{acct}");
    assert_eq!((n(&acct, "stake"), n(&acct, "available")), (TON / 10, TON - TON / 10));

    // A request that could cost more than the balance: 402 with balance and required.
    let (status, body) = post(&net.chat_url(), chat_body(false, r#""max_tokens":1000000000000"#)).await;
    assert_eq!(status, 402);
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["error"]["code"], "insufficient_balance");
    assert_eq!(n(&e["error"], "balance"), TON - TON / 10);
    assert!(n(&e["error"], "required") > TON);

    // Paid requests: the answer carries its cost, priced exactly (2 nanotons per token at
    // coefficient 1.0 on the default prices).
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let u = &v["usage"];
    assert_eq!(n(u, "total_cost"), 2 * (n(u, "prompt_tokens") + n(u, "completion_tokens")), "{u}");
    let (status, body) = post(&net.chat_url(), chat_body(true, "")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(": cocoon total_cost="), "{text}");

    // The books balance, and the vouchers at the client and the worker match them.
    let stats = wait_for(&net.proxy_stats[0], 10, |s| s["ledger"]["charged"].as_u64().unwrap_or(0) > 0).await;
    assert_books_balance(&stats);
    let charged = n(&stats["ledger"], "charged");
    let earned = n(&stats["ledger"], "worker_earned");
    assert_eq!(earned * 2, charged, "the worker earns 1 of every 2 nanotons");
    // Vouchers carry adjusted tokens: 2 nanotons each for the client, 1 for the worker.
    let tokens = n(&stats["ledger"], "charged_tokens");
    assert_eq!((tokens * 2, n(&stats["ledger"], "worker_earned_tokens")), (charged, tokens));
    let client = wait_for(&format!("{}/stats", net.api), 10, |s| {
        s["payments"]["charged_tokens_by_vouchers"].as_u64() == Some(tokens)
    })
    .await;
    assert_eq!(client["payments"]["spent_this_run"].as_u64(), Some(charged));
    let earnings = net.worker_stats[0].replace("/stats", "/earnings");
    let e = wait_for(&earnings, 10, |e| e["total_tokens"].as_u64() == Some(tokens)).await;
    assert!(e["proxies"][0]["contract"].as_str().is_some_and(|c| c.starts_with("0:")), "{e}");
    // Settlement: the vouchers are submitted, the client's charge moves to the proxy and the
    // worker is paid (thresholds are 1 nanoton in tests).
    let stats =
        wait_for(&net.proxy_stats[0], 10, |s| s["settlement"]["paid_to_workers"].as_u64() == Some(earned)).await;
    assert_eq!(n(&stats["settlement"], "earned") + earned, charged, "{}", stats["settlement"]);
    let accounts = get_json(&net.proxy_stats[0].replace("/stats", "/accounts")).await.1;
    assert_eq!(accounts["workers"][0]["paid_out"].as_u64(), Some(earned));

    // Withdrawals: never more than is available (and never the stake).
    let acct = get_json(&format!("{}/v1/payments/account", net.api)).await.1;
    let available = n(&acct, "available");
    let url = format!("{}/v1/payments/withdraw", net.api);
    let (status, e) = post_json(&url, &format!(r#"{{"amount":{}}}"#, available + 1)).await;
    assert_eq!(status, 402, "{e}");
    let (status, acct) = post_json(&url, r#"{"amount":1000}"#).await;
    assert_eq!(status, 200, "{acct}");
    assert_eq!((n(&acct, "available"), n(&acct, "withdrawn")), (available - 1000, 1000));
    let (status, _) = post_json(&url, r#"{"amount":"lots"}"#).await;
    assert_eq!(status, 400);
    assert_books_balance(&get_json(&net.proxy_stats[0]).await.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_under_load_loses_no_acknowledged_money() {
    let mut net =
        Net::start("kill-proxy", NetOpts { workers: 1, chunks: 20, delay_ms: 2, payments: true, ..Default::default() })
            .await;
    let mut acked = 0;
    for _ in 0..3 {
        let (status, _) = deposit(&net, TON).await;
        assert_eq!(status, 200);
        acked += TON;
    }

    // Load: streaming requests and more deposits, until the proxy dies under them.
    let chat = net.chat_url();
    let load: Vec<_> = (0..8)
        .map(|_| {
            let chat = chat.clone();
            tokio::spawn(async move {
                let mut ok = 0u32;
                for _ in 0..200 {
                    if post(&chat, chat_body(true, "")).await.0 != 200 {
                        break;
                    }
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let api = net.api.clone();
    let depositor = tokio::spawn(async move {
        let mut acked = 0;
        loop {
            let url = format!("{api}/v1/payments/deposit");
            match post_json(&url, r#"{"amount":1000}"#).await {
                (200, _) => acked += 1000,
                _ => return acked,
            }
        }
    });
    // Let vouchers flow, then kill the proxy with no warning.
    wait_for(&format!("{}/stats", net.api), 20, |s| {
        s["payments"]["charged_tokens_by_vouchers"].as_u64().unwrap_or(0) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    net.procs.kill("proxy-0").await;
    let mut served = 0;
    for t in load {
        served += t.await.unwrap();
    }
    let deposits_under_load = depositor.await.unwrap();
    acked += deposits_under_load;
    // What the client and the worker hold, signed by the proxy before it died.
    let client_voucher = n(&get_json(&format!("{}/stats", net.api)).await.1["payments"], "charged_tokens_by_vouchers");
    let worker_voucher = n(&get_json(&net.worker_stats[0].replace("/stats", "/earnings")).await.1, "total_tokens");
    assert!(client_voucher > 0 && worker_voucher > 0);
    eprintln!("served {served} requests and {deposits_under_load} nanotons of deposits under load; vouchers (tokens): client {client_voucher}, worker {worker_voucher}");
    assert!(served > 8 && deposits_under_load > 0, "the proxy must die under load");

    net.restart_proxy(0);
    // Both reconnect, presenting those vouchers: the proxy's books hold at least as much, so
    // it is not taken for a rollback.
    let stats = wait_for(&net.proxy_stats[0], 30, |s| enabled_workers(s) == 1).await;
    wait_for(&format!("{}/health", net.api), 30, |h| h["proxies_connected"].as_u64() == Some(1)).await;
    assert_books_balance(&stats);
    let l = &stats["ledger"];
    assert!(n(l, "deposited") >= acked, "acknowledged {acked} but the books hold {l}");
    let accounts = get_json(&net.proxy_stats[0].replace("/stats", "/accounts")).await.1;
    let client = &accounts["clients"][0]["account"];
    assert!(n(client, "charged_tokens") >= client_voucher, "vouchered {client_voucher}, books {client}");
    assert!(n(&accounts["workers"][0], "earned_tokens") >= worker_voucher);
    assert!(!net.procs.log("proxy-0").contains("ROLLBACK"), "{}", net.procs.log("proxy-0"));
    // And it serves again.
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_whose_books_were_rolled_back_refuses_to_serve() {
    let mut net = Net::start("rollback", NetOpts { workers: 1, chunks: 5, payments: true, ..Default::default() }).await;
    assert_eq!(deposit(&net, TON).await.0, 200);
    let ledger = net.procs.dir.join("proxy-0").join("ledger.redb");
    let old = std::fs::read(&ledger).unwrap();
    for _ in 0..3 {
        assert_eq!(post(&net.chat_url(), chat_body(false, "")).await.0, 200);
    }
    wait_for(&format!("{}/stats", net.api), 10, |s| {
        s["payments"]["charged_tokens_by_vouchers"].as_u64().unwrap_or(0) > 0
    })
    .await;
    net.procs.kill("proxy-0").await;
    // An operator (or an attacker) puts back an older database.
    std::fs::write(&ledger, old).unwrap();
    net.restart_proxy(0);
    let log = || net.procs.log("proxy-0");
    for _ in 0..100 {
        if log().contains("ROLLBACK DETECTED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log().contains("ROLLBACK DETECTED"), "{}", log());
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_ne!(status, 200, "a rolled-back proxy must not serve: {}", String::from_utf8_lossy(&body));
}
