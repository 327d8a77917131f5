//! Every role's Prometheus `/metrics` through a real network under load: it parses with the
//! Prometheus project's own text-format parser (Python `prometheus_client`, installed by
//! scripts/python-sdk.sh), and its counters agree with the role's `/stats`. Every role's
//! `/dashboard` is served, self-contained.

mod common;

use common::*;
use serde_json::Value;
use std::{collections::HashMap, path::PathBuf};

/// A sample's labels, sorted by name.
type Labels = Vec<(String, String)>;

/// `(metric name, labels)` -> value, as the Prometheus parser read them.
type Samples = HashMap<(String, Labels), f64>;

/// Parses OpenMetrics text with `prometheus_client.openmetrics.parser`, which refuses anything
/// that is not valid exposition.
async fn parse(text: &str) -> Samples {
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/python-sdk");
    assert!(sdk.join("prometheus_client").is_dir(), "run ./scripts/python-sdk.sh");
    let program = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, sorted(s.labels.items()), s.value])
print(json.dumps(out))
"#;
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", program])
        .env("PYTHONPATH", &sdk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "the Prometheus parser refused it: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<(String, Labels, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter().map(|(name, labels, value)| ((name, labels), value)).collect()
}

async fn scrape(stats_url: &str) -> (Samples, Value) {
    let url = stats_url.replace("/stats", "/metrics");
    let (status, text) = get_text(&url).await;
    assert_eq!(status, 200, "{url}");
    let stats = get_json(stats_url).await.1;
    (parse(&text).await, stats)
}

fn get(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut key: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    key.sort();
    *samples.get(&(name.to_string(), key)).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

fn n(v: &Value) -> f64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_exports_what_its_stats_say() {
    let net = Net::start("metrics", NetOpts { workers: 2, payments: true, ..Default::default() }).await;
    let (status, v) =
        post_json(&format!("{}/v1/payments/deposit", net.api), &format!(r#"{{"amount":{}}}"#, 1_000_000_000u64)).await;
    assert_eq!(status, 200, "{v}");
    for i in 0..12 {
        let (status, _) = post(&net.chat_url(), chat_body(i % 2 == 0, r#""max_tokens":5"#)).await;
        assert_eq!(status, 200);
    }
    for _ in 0..3 {
        assert_eq!(post(&net.chat_url(), chat_body(false, r#""frobnicate":1"#)).await.0, 400);
    }
    wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await;

    // The client.
    let (m, stats) = scrape(&format!("{}/stats", net.api)).await;
    let c = &stats["counters"];
    assert_eq!(get(&m, "cocoon_client_requests_received_total", &[]), n(&c["requests"]));
    assert_eq!(get(&m, "cocoon_client_requests_total", &[("outcome", "succeeded")]), 12.0);
    assert_eq!(get(&m, "cocoon_client_requests_total", &[("outcome", "rejected")]), n(&c["rejected"]));
    assert_eq!(get(&m, "cocoon_client_tokens_total", &[("kind", "completion")]), n(&c["tokens"]["completion"]));
    assert_eq!(get(&m, "cocoon_client_sent_bytes_total", &[]), n(&c["bytes_out"]));
    assert_eq!(get(&m, "cocoon_client_request_seconds_count", &[]), n(&c["latency"]["total"]["count"]));
    assert_eq!(get(&m, "cocoon_client_request_seconds_bucket", &[("le", "+Inf")]), n(&c["latency"]["total"]["count"]));
    assert!(get(&m, "cocoon_client_request_seconds_sum", &[]) > 0.0);
    let proxy = stats["proxies"][0]["address"].as_str().unwrap();
    assert_eq!(get(&m, "cocoon_client_proxy_connected", &[("proxy", proxy)]), 1.0);

    // The proxy.
    let (m, stats) = scrape(&net.proxy_stats[0]).await;
    let c = &stats["counters"];
    assert_eq!(get(&m, "cocoon_proxy_requests_received_total", &[]), n(&c["requests"]));
    assert_eq!(get(&m, "cocoon_proxy_requests_total", &[("outcome", "succeeded")]), 12.0);
    assert_eq!(get(&m, "cocoon_proxy_tokens_total", &[("kind", "prompt")]), n(&c["prompt_tokens"]));
    assert_eq!(get(&m, "cocoon_proxy_workers_connected", &[]), 2.0);
    assert_eq!(get(&m, "cocoon_proxy_clients_active", &[]), n(&c["clients_active_24h"]));
    assert_eq!(get(&m, "cocoon_proxy_clients_active", &[]), 1.0, "one client sent requests");
    let ledger = &stats["ledger"];
    assert_eq!(get(&m, "cocoon_proxy_ledger_nanotons", &[("entry", "charged")]), n(&ledger["charged"]));
    assert!(n(&ledger["charged"]) > 0.0);
    assert_eq!(get(&m, "cocoon_proxy_books_balanced", &[]), 1.0);
    let mut served = 0.0;
    for w in stats["workers"].as_array().unwrap() {
        let labels = [("worker", w["worker_id"].as_str().unwrap()), ("model", MODEL), ("outcome", "succeeded")];
        let s = get(&m, "cocoon_proxy_worker_requests_total", &labels);
        assert_eq!(s, n(&w["served"]));
        served += s;
    }
    assert_eq!(served, 12.0, "every request counted on the worker that served it");

    // The workers.
    let mut total = 0.0;
    for url in &net.worker_stats {
        let (m, stats) = scrape(url).await;
        let c = &stats["counters"];
        let ok = get(&m, "cocoon_worker_requests_total", &[("model", MODEL), ("outcome", "succeeded")]);
        assert_eq!(ok, n(&c["succeeded"]));
        assert_eq!(
            get(&m, "cocoon_worker_tokens_total", &[("model", MODEL), ("kind", "completion")]),
            n(&c["completion_tokens"])
        );
        assert_eq!(get(&m, "cocoon_worker_max_active", &[("model", MODEL)]), n(&stats["max_active"]));
        total += ok;
    }
    assert_eq!(total, 12.0);

    // Every role's dashboard: one page, nothing fetched from elsewhere, reading its own /stats.
    for stats in [format!("{}/stats", net.api), net.proxy_stats[0].clone(), net.worker_stats[0].clone()] {
        let url = stats.replace("/stats", "/dashboard");
        let (status, page) = get_text(&url).await;
        assert_eq!(status, 200, "{url}");
        assert!(page.starts_with("<!doctype html>") && page.contains(r#"fetch("stats""#), "{url}");
        assert!(!page.contains("://"), "{url}: the page must not load anything from another origin");
        assert!(!page.contains("innerHTML"), "{url}: text from /stats is set as text only");
    }
}

async fn get_text(url: &str) -> (u16, String) {
    let (status, body) = get_bytes(url).await;
    (status, String::from_utf8(body).expect("utf-8"))
}
