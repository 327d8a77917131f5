//! Graceful drain over real processes: a proxy sent SIGTERM while streams run finishes them
//! (every one to `[DONE]`), refuses what comes after with a clear error, commits their charges,
//! and exits; started again, its books hold every one of them. A worker sent SIGTERM stops
//! being chosen at once, finishes what it runs, then leaves.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn term(pid: u32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
}

/// Prompt + completion tokens of a streamed answer (the usage event), and whether it reached
/// `[DONE]` with no error event.
fn usage_of(body: &[u8]) -> (u64, bool) {
    let text = String::from_utf8_lossy(body);
    let mut tokens = 0;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else { continue };
        if let Ok(v) = serde_json::from_str::<Value>(data) {
            if v["error"].is_object() {
                return (0, false);
            }
            if let Some(u) = v["usage"].as_object() {
                tokens = u["prompt_tokens"].as_u64().unwrap_or(0) + u["completion_tokens"].as_u64().unwrap_or(0);
            }
        }
    }
    (tokens, text.lines().any(|l| l == "data: [DONE]"))
}

/// Starts four streaming requests (about 2 s each on these networks).
fn four_streams(url: &str) -> Vec<tokio::task::JoinHandle<(u16, bytes::Bytes)>> {
    (0..4)
        .map(|_| {
            let url = url.to_string();
            tokio::spawn(async move { post(&url, chat_body(true, "")).await })
        })
        .collect()
}

async fn exits_within(net: &mut Net, name: &str, within: Duration) -> Duration {
    let started = Instant::now();
    let child = net.procs.children.get_mut(name).unwrap();
    let status = tokio::time::timeout(within, child.wait()).await.unwrap_or_else(|_| panic!("{name} did not exit"));
    assert!(status.unwrap().success(), "{name} exits cleanly after a drain");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_asked_to_stop_finishes_running_streams_refuses_new_ones_and_keeps_their_charges() {
    // Each answer streams 50 chunks 40 ms apart: about 2 s.
    let mut net = Net::start("drain-proxy", NetOpts { payments: true, delay_ms: 40, ..Default::default() }).await;
    let (status, _) = post_json(&format!("{}/v1/payments/deposit", net.api), r#"{"amount":1000000000}"#).await;
    assert_eq!(status, 200);
    let (_, before) = get_json(&net.proxy_stats[0]).await;
    let charged_before = before["ledger"]["charged_tokens"].as_u64().unwrap();

    let url = net.chat_url();
    let streams = four_streams(&url);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, during) = get_json(&net.proxy_stats[0]).await;
    assert_eq!(during["workers"].as_array().unwrap().iter().map(|w| w["running"].as_u64().unwrap()).sum::<u64>(), 4);
    term(net.procs.pid("proxy-0"));
    tokio::time::sleep(Duration::from_millis(200)).await;

    // New work is refused with a clear error while the running streams go on.
    let (status, body) = post(&url, chat_body(false, "")).await;
    assert!(status >= 500, "{status}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"]["code"].is_string(), "{v}");

    let mut tokens = 0;
    for s in streams {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, 200);
        let (t, done) = usage_of(&body);
        let text = String::from_utf8_lossy(&body);
        assert!(
            done && t > 0,
            "a running stream finished whole ({t} tokens, done {done}): ...{}",
            &text[text.len().saturating_sub(600)..]
        );
        tokens += t;
    }
    let took = exits_within(&mut net, "proxy-0", Duration::from_secs(20)).await;
    let log = net.procs.log("proxy-0");
    assert!(log.contains("drained"), "{log}");
    eprintln!("proxy exited {took:?} after its last stream; {tokens} tokens charged during the drain");

    // Started again: the charges made during the drain were committed before it exited.
    net.restart_proxy(0);
    let after = wait_for(&net.proxy_stats[0], 30, |v| v["ledger"].is_object()).await;
    assert_eq!(after["ledger"]["balanced"], true, "{after}");
    assert_eq!(after["ledger"]["charged_tokens"].as_u64().unwrap(), charged_before + tokens, "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_asked_to_stop_is_not_chosen_again_and_finishes_what_it_runs() {
    let mut net = Net::start("drain-worker", NetOpts { workers: 2, delay_ms: 40, ..Default::default() }).await;
    let url = net.chat_url();
    let streams = four_streams(&url);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, w0) = get_json(&net.worker_stats[0]).await;
    let worker_id = w0["worker_id"].as_str().unwrap().to_string();
    term(net.procs.pid("worker-0"));
    // The proxy hears it is draining and stops choosing it.
    wait_for(&net.proxy_stats[0], 10, |v| {
        v["workers"].as_array().unwrap().iter().any(|w| w["worker_id"] == worker_id.as_str() && w["enabled"] == false)
    })
    .await;
    for _ in 0..4 {
        let (status, _) = post(&url, chat_body(false, "")).await;
        assert_eq!(status, 200, "the other worker serves");
    }
    for s in streams {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, 200);
        assert!(usage_of(&body).1, "{}", String::from_utf8_lossy(&body));
    }
    exits_within(&mut net, "worker-0", Duration::from_secs(20)).await;
    assert!(net.procs.log("worker-0").contains("drained"));
}
