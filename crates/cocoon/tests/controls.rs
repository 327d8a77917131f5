//! Run-time control of workers (backend health, operator actions) and per-hop timeouts.

mod common;

use common::*;
use serde_json::Value;

fn proxy_worker_field(v: &Value, field: &str) -> Value {
    v["workers"][0][field].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_backend_is_down_reports_itself_disabled() {
    let mut net = Net::start("backend-down", NetOpts { workers: 1, ..Default::default() }).await;
    net.procs.kill("backend").await;
    let proxy = wait_for(&net.proxy_stats[0], 15, |v| proxy_worker_field(v, "enabled") == false).await;
    assert_eq!(proxy_worker_field(&proxy, "disabled_reason"), "backend is down");
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"], "no_workers");

    // The backend comes back on the same port: the worker re-enables itself.
    let port = net.backend.rsplit(':').next().unwrap().to_string();
    net.procs.spawn("backend", &["bench-backend".into(), "--port".into(), port]);
    wait_for(&net.proxy_stats[0], 15, |v| proxy_worker_field(v, "enabled") == true).await;
    assert_eq!(post(&net.chat_url(), chat_body(false, r#""max_tokens":2"#)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_can_disable_a_worker_and_change_its_price_at_run_time() {
    let net = Net::start("controls", NetOpts { workers: 1, ..Default::default() }).await;
    let (s, _) = worker_control(&net, 0, "disable", "{}").await;
    assert_eq!(s, 200);
    wait_for(&net.proxy_stats[0], 10, |v| proxy_worker_field(v, "enabled") == false).await;
    assert_eq!(post(&net.chat_url(), chat_body(false, "")).await.0, 503);
    assert_eq!(worker_control(&net, 0, "enable", "{}").await.0, 200);
    wait_for(&net.proxy_stats[0], 10, |v| proxy_worker_field(v, "enabled") == true).await;

    // Price: 5.0x is above the default max_coefficient (4000).
    let (s, _) = worker_control(&net, 0, "coefficient", r#"{"coefficient":5000}"#).await;
    assert_eq!(s, 200);
    wait_for(&net.proxy_stats[0], 10, |v| proxy_worker_field(v, "coefficient") == 5000).await;
    let (status, body) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("needs coefficient 5000"));
    let (status, _) = post(&net.chat_url(), chat_body(false, r#""max_coefficient":6000,"max_tokens":2"#)).await;
    assert_eq!(status, 200);
    let (_, models) = get_json(&format!("{}/v1/models", net.api)).await;
    assert_eq!(models["data"][0]["workers"][0]["coefficient"], 5000, "{models}");

    // Nonsense is refused and changes nothing.
    let (s, _) = worker_control(&net, 0, "coefficient", r#"{"coefficient":0}"#).await;
    assert_eq!(s, 400);
    let (s, _) = worker_control(&net, 0, "coefficient", "{nope").await;
    assert_eq!(s, 400);
    let (_, w) = get_json(&net.worker_stats[0]).await;
    assert_eq!(w["coefficient"], 5000);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_fire_at_the_innermost_hop_first() {
    // 50 chunks x 50 ms = 2.5 s of answer against a 0.6 s timeout.
    let net = Net::start("timeouts", NetOpts { workers: 1, delay_ms: 50, ..Default::default() }).await;
    let started = std::time::Instant::now();
    let (status, body) = post(&net.chat_url(), chat_body(false, r#""timeout":0.6"#)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"], "timeout");

    let (status, body) = post(&net.chat_url(), chat_body(true, r#""timeout":0.6"#)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\"") && last.contains("\"timeout\""), "{last}");

    // The worker itself gave up (a failure it reported), rather than being cancelled by an
    // outer hop that gave up before it.
    let (_, w) = get_json(&net.worker_stats[0]).await;
    assert_eq!(w["counters"]["failed"], 2, "{w}");
    assert_eq!(w["counters"]["cancelled"], 0, "{w}");
}
