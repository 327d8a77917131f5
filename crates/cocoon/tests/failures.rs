//! Failures: workers and proxies that die, and the network carrying on.

mod common;

use common::*;
use serde_json::Value;

/// Which of the workers is running a request right now.
async fn busy_worker(net: &Net) -> usize {
    for _ in 0..200 {
        for (i, url) in net.worker_stats.iter().enumerate() {
            let (_, v) = get_json(url).await;
            if v["running"].as_u64() == Some(1) {
                return i;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no worker picked up the request");
}

fn worker_ids(proxy_stats: &Value) -> Vec<String> {
    proxy_stats["workers"].as_array().unwrap().iter().map(|w| w["worker_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_mid_stream_gives_a_clear_error_and_is_forgotten() {
    let mut net = Net::start("midstream", NetOpts { workers: 2, delay_ms: 50, ..Default::default() }).await;
    let resp = post_stream(&net.chat_url(), chat_body(true, "")).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    read_until(&mut body, &mut buf, |b| count(b, "chat.completion.chunk") >= 2).await;
    let victim = busy_worker(&net).await;
    let (_, w) = get_json(&net.worker_stats[victim]).await;
    let victim_id = w["worker_id"].as_str().unwrap().to_string();
    net.procs.kill(&format!("worker-{victim}")).await;

    read_until(&mut body, &mut buf, |_| false).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("[DONE]"), "the stream must not look complete");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\":"), "last event is an error: {last}");
    assert!(last.contains("worker_failed"), "{last}");

    let proxy = wait_for(&net.proxy_stats[0], 15, |v| worker_ids(v).len() == 1).await;
    assert!(!worker_ids(&proxy).contains(&victim_id), "the dead worker is forgotten");
    assert!(net.procs.log("proxy-0").contains("worker forgotten"));
    // And the network still serves.
    let (status, _) = post(&net.chat_url(), chat_body(false, r#""max_tokens":2"#)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_before_the_first_byte_is_retried_elsewhere() {
    // Non-streaming answers arrive only when complete: 40 chunks x 50 ms = 2 s with no byte.
    let mut net = Net::start("retry", NetOpts { workers: 2, delay_ms: 50, chunks: 40, ..Default::default() }).await;
    let url = net.chat_url();
    let request = tokio::spawn(async move { post(&url, chat_body(false, "")).await });
    let victim = busy_worker(&net).await;
    net.procs.kill(&format!("worker-{victim}")).await;

    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 40);
    let (_, proxy) = get_json(&net.proxy_stats[0]).await;
    assert_eq!(proxy["counters"]["retried"], 1, "{proxy}");
    assert_eq!(proxy["counters"]["succeeded"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_two_proxies_killing_one_leaves_the_client_serving() {
    let mut net = Net::start("two-proxies", NetOpts { workers: 2, proxies: 2, ..Default::default() }).await;
    for _ in 0..6 {
        assert_eq!(post(&net.chat_url(), chat_body(false, r#""max_tokens":2"#)).await.0, 200);
    }
    let (_, c) = get_json(&format!("{}/stats", net.api)).await;
    let per_proxy: Vec<u64> =
        c["proxies"].as_array().unwrap().iter().map(|p| p["requests"].as_u64().unwrap()).collect();
    assert_eq!(per_proxy.iter().sum::<u64>(), 6);

    net.procs.kill("proxy-0").await;
    for i in 0..10 {
        let (status, body) = post(&net.chat_url(), chat_body(i % 2 == 0, r#""max_tokens":2"#)).await;
        assert_eq!(status, 200, "request {i} after the proxy died: {}", String::from_utf8_lossy(&body));
    }
    let (_, health) = get_json(&format!("{}/health", net.api)).await;
    assert_eq!(health["proxies_connected"], 1);
    // Workers still serve through the surviving proxy.
    let (_, p1) = get_json(&net.proxy_stats[1]).await;
    assert!(p1["counters"]["succeeded"].as_u64().unwrap() >= 10, "{p1}");
}
