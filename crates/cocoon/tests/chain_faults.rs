//! The chain API slow and failing, between the proxy and the local TON chain: a relay the test
//! controls sits in front of `cocoon devnet`'s API for the proxy only. Settlement is off the
//! request path, so while every chain call takes seconds, answers with 503, or never answers,
//! requests are served at their usual speed and the proxy's `/stats` answers; once the API is
//! back, settlement catches up exactly (the contracts' getters equal the ledger) and the books
//! balance. (The chain going away altogether, and coming back, is in `chain.rs`.) Skipped
//! (saying why) where Node.js or contracts/node_modules is missing.

mod common;

use common::chain::*;
use common::*;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the relay does to each connection.
const PASS: u64 = 0;
const FAIL_503: u64 = 1;
const HANG: u64 = u64::MAX;

/// Copies `from` to `to` piece by piece, reading `mode` before each: a failing API cuts the
/// connection, a silent one holds the piece (counted in `held`), and answers (`delayed`) wait
/// out a delay.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<AtomicU64>,
    held: Arc<AtomicU64>,
    delayed: bool,
) {
    let mut b = vec![0u8; 16384];
    loop {
        let n = match from.read(&mut b).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match mode.load(SeqCst) {
            FAIL_503 => break,
            HANG => {
                held.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_secs(600)).await
            }
            PASS => {}
            delay if delayed => tokio::time::sleep(Duration::from_millis(delay)).await,
            _ => {}
        }
        if to.write_all(&b[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Forwards connections to `upstream`; `mode` is PASS, FAIL_503, HANG or a delay in ms added
/// before the answer is relayed.
async fn relay(upstream: u16, mode: Arc<AtomicU64>, held: Arc<AtomicU64>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut down, _)) = l.accept().await {
            let (mode, held) = (mode.clone(), held.clone());
            tokio::spawn(async move {
                match mode.load(SeqCst) {
                    FAIL_503 => {
                        let mut b = [0u8; 4096];
                        let _ = down.read(&mut b).await;
                        let _ = down
                            .write_all(
                                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            )
                            .await;
                        return;
                    }
                    HANG => {
                        held.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_secs(600)).await;
                        return;
                    }
                    _ => {}
                }
                let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                let (ur, uw) = up.into_split();
                let (dr, dw) = down.into_split();
                // The mode is read again before each piece is relayed: pooled connections made
                // while the API was healthy go slow, fail or fall silent too.
                let to_up = pipe(dr, uw, mode.clone(), held, false);
                // Only requests held count as calls left hanging, as before.
                let to_down = pipe(ur, dw, mode, Arc::default(), true);
                // Either direction ending (a failure included) ends the connection.
                tokio::select! {
                    _ = to_up => {}
                    _ = to_down => {}
                }
            });
        }
    });
    url
}

/// Every request served, each within a second, while the proxy's chain calls suffer.
async fn served_quickly(api: &str, n: usize) {
    for _ in 0..n {
        let started = Instant::now();
        let (status, v) = post_json(&format!("{api}/v1/chat/completions"), &chat_body(false, "")).await;
        assert_eq!(status, 200, "{v}");
        assert!(started.elapsed() < Duration::from_secs(1), "a request took {:?}", started.elapsed());
    }
}

fn settled(v: &serde_json::Value, more_than: u64) -> bool {
    let c = &v["chain"]["clients"][0];
    let w = &v["chain"]["workers"][0];
    c["ledger"]["charged_tokens"].as_u64().is_some_and(|t| t > more_than)
        && c["chain"]["tokens_used"] == c["ledger"]["charged_tokens"]
        && w["chain"]["paid_tokens"] == w["ledger"]["earned_tokens"]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_or_failing_chain_api_never_slows_requests_and_settlement_catches_up() {
    let Some(mut procs) = chain_procs("chain-faults") else { return };
    let dir = procs.dir.clone();
    let chain_port = free_ports(1)[0];
    let (chain, root) =
        devnet(&mut procs, chain_port, r#"{"minProxyStake": "1000000000", "minClientStake": "100000000"}"#).await;
    let mode = Arc::new(AtomicU64::new(PASS));
    let held = Arc::new(AtomicU64::new(0));
    let proxy_chain = relay(chain_port, mode.clone(), held.clone()).await;

    funded_wallet(&chain, &dir, "proxy", 5 * TON).await;
    funded_wallet(&chain, &dir, "client", 10 * TON).await;

    let ports = free_ports(4);
    let (backend_port, client_l, worker_l, stats_l) = (ports[0], ports[1], ports[2], ports[3]);
    procs.spawn("backend", &[s("bench-backend"), s("--port"), s(backend_port), s("--chunks"), s(10)]);
    wait_for(&format!("http://127.0.0.1:{backend_port}/health"), 30, |_| true).await;
    // The proxy reaches the chain through the relay; the client directly.
    let proxy_cfg = proxy_config(&dir, "proxy", &proxy_chain, &root);
    procs.spawn("proxy", &proxy_args(&proxy_cfg, client_l, worker_l, stats_l));
    let stats = format!("http://127.0.0.1:{stats_l}/stats");
    eventually(&stats, 90, &procs, "the proxy registers", |v| v["chain"]["proxy_contract"].is_string()).await;
    let worker_stats = free_ports(1)[0];
    procs.spawn("worker", &worker_args(backend_port, worker_stats, worker_l));
    eventually(&stats, 30, &procs, "the worker is admitted", |v| enabled_workers(v) >= 1).await;
    let client_api = free_ports(1)[0];
    let client_cfg = client_config(&dir, "client", client_api, client_l, &chain, &root);
    procs.spawn("client", &[s("client"), s("--config"), client_cfg.display().to_string()]);
    let api = format!("http://127.0.0.1:{client_api}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"].as_u64() == Some(1)).await;
    remember_client(&api, &dir.join("client"));
    let (status, v) = post_json(&format!("{api}/v1/payments/deposit"), &format!(r#"{{"amount": {}}}"#, 2 * TON)).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post_json(&format!("{api}/v1/payments/stake"), &format!(r#"{{"amount": {}}}"#, TON / 5)).await;
    assert_eq!(status, 200, "{v}");
    // The proxy learns of the top-up through the (healthy) relay.
    served_quickly(&api, 3).await;
    let st = eventually(&stats, 60, &procs, "settled on chain", |v| settled(v, 0)).await;
    let mut charged = st["chain"]["clients"][0]["ledger"]["charged_tokens"].as_u64().unwrap();

    for (what, m) in [("slow (3 s per answer)", 3000), ("failing (503, connections cut)", FAIL_503), ("silent", HANG)] {
        let warned = |p: &Procs| p.log("proxy").lines().filter(|l| l.contains("WARN")).count();
        let warnings_before = warned(&procs);
        mode.store(m, SeqCst);
        // Longer than one chain call's timeout (10 s), requests all along.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(12) {
            served_quickly(&api, 1).await;
            let asked = Instant::now();
            let (status, _) = get_json(&stats).await;
            assert_eq!(status, 200);
            assert!(asked.elapsed() < Duration::from_secs(1), "/stats waited on the chain while it was {what}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match m {
            FAIL_503 => assert!(warned(&procs) > warnings_before, "the proxy saw the chain API {what}"),
            // A silent API only shows in the proxy's log once its calls time out and their
            // retries run out; the relay counts the calls it left hanging.
            HANG => assert!(held.load(SeqCst) > 0, "the proxy called the chain while it was {what}"),
            _ => {}
        }
        mode.store(PASS, SeqCst);
        let st =
            eventually(&stats, 90, &procs, &format!("settlement catches up after the chain API was {what}"), |v| {
                settled(v, charged)
            })
            .await;
        assert_eq!(st["ledger"]["balanced"], true, "{st}");
        let c = &st["chain"]["clients"][0];
        assert_eq!(c["chain"]["balance"], c["ledger"]["balance"], "getters equal the ledger: {c}");
        charged = c["ledger"]["charged_tokens"].as_u64().unwrap();
    }
}
