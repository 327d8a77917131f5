//! Admission: attestation at the handshake, and bad or unroutable requests.

mod common;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends only the head of a POST that announces `len` body bytes; returns what the server says.
async fn raw_post_head(base: &str, path: &str, len: usize) -> String {
    let addr = base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while let Ok(Ok(n)) = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(2).filter(|w| w == b"}}").count() > 0 {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_with_a_disallowed_image_hash_is_refused_at_handshake() {
    let mut procs = Procs::new("allowlist");
    let [c, w, st, wst] = free_ports(4)[..] else { unreachable!() };
    let allowed = "11".repeat(32);
    let cfg = procs.dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\n\n[worker_policy]\nkind = \"dev\"\nimage_hashes = [\"{allowed}\"]\n"
        ),
    )
    .unwrap();
    procs.spawn("proxy", &["proxy".into(), "--config".into(), cfg.display().to_string()]);
    let stats = format!("http://127.0.0.1:{st}/stats");
    wait_for(&stats, 30, |_| true).await;
    procs.spawn(
        "worker",
        &[
            "worker".into(),
            "--proxy".into(),
            format!("127.0.0.1:{w}"),
            "--model".into(),
            MODEL.into(),
            "--backend".into(),
            "http://127.0.0.1:9".into(),
            "--stats-listen".into(),
            format!("127.0.0.1:{wst}"),
        ],
    );
    let v = wait_for(&stats, 30, |v| v["counters"]["handshakes_refused"].as_u64() >= Some(1)).await;
    assert_eq!(v["workers"], Value::Array(vec![]), "never registered");
    let why = v["counters"]["last_refusal"].as_str().unwrap();
    assert!(why.contains("not in the allowlist"), "{why}");
    let log = procs.log("proxy");
    let line = log.lines().find(|l| l.contains("RA-TLS peer refused")).expect("the proxy logs the refusal");
    assert!(line.contains("not in the allowlist"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_whose_model_hash_is_not_allowlisted_is_refused() {
    let mut procs = Procs::new("model-hashes");
    let [c, w, st, b, w1, w2] = free_ports(6)[..] else { unreachable!() };
    // Two "model files": the proxy allows only the first one's hash.
    let good = procs.dir.join("good.gguf");
    let bad = procs.dir.join("bad.gguf");
    std::fs::write(&good, b"weights the registry allows").unwrap();
    std::fs::write(&bad, b"some other weights").unwrap();
    let good_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"weights the registry allows"))
    };
    let cfg = procs.dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\nmodel_hashes = [\"{}\"]\n",
            good_sha.to_uppercase()
        ),
    )
    .unwrap();
    procs.spawn("backend", &["bench-backend".into(), "--port".into(), b.to_string()]);
    procs.spawn("proxy", &["proxy".into(), "--config".into(), cfg.display().to_string()]);
    let stats = format!("http://127.0.0.1:{st}/stats");
    wait_for(&stats, 30, |_| true).await;
    for (name, file, port) in [("good", &good, w1), ("bad", &bad, w2)] {
        procs.spawn(
            name,
            &[
                "worker".into(),
                "--proxy".into(),
                format!("127.0.0.1:{w}"),
                "--model".into(),
                MODEL.into(),
                "--backend".into(),
                format!("http://127.0.0.1:{b}"),
                "--model-file".into(),
                file.display().to_string(),
                "--stats-listen".into(),
                format!("127.0.0.1:{port}"),
            ],
        );
    }
    let v = wait_for(&stats, 30, |v| {
        v["counters"]["handshakes_refused"].as_u64() >= Some(1) && v["workers"].as_array().is_some_and(|w| w.len() == 1)
    })
    .await;
    assert_eq!(v["workers"][0]["model_sha256"], good_sha.as_str(), "{v}");
    let why = v["counters"]["last_refusal"].as_str().unwrap();
    assert!(why.contains("not in the registry's allowlist"), "{why}");
    let (_, ws) = get_json(&format!("http://127.0.0.1:{w1}/stats")).await;
    assert_eq!(ws["model_sha256"], good_sha.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_4xx_and_change_nothing() {
    let net = Net::start("bad-input", NetOpts { workers: 1, max_active: 1, ..Default::default() }).await;
    let url = net.chat_url();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not json", b"{nope".to_vec(), 400, "invalid_json"),
        ("not an object", b"[1,2]".to_vec(), 400, ""),
        ("no model", br#"{"messages":[{"role":"user","content":"x"}]}"#.to_vec(), 400, "missing_model"),
        (
            "unknown model",
            br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            404,
            "model_not_found",
        ),
        ("a feature no worker has", chat_body(false, r#""tools":[]"#).into_bytes(), 400, "unsupported_feature"),
        ("a field nobody serves", chat_body(false, r#""audio":{}"#).into_bytes(), 400, "unsupported_field"),
        ("unknown field", chat_body(false, r#""frobnicate":1"#).into_bytes(), 400, "unsupported_field"),
        ("n = 2", chat_body(false, r#""n":2"#).into_bytes(), 400, "unsupported_feature"),
        ("n = 99", chat_body(false, r#""n":99"#).into_bytes(), 400, "invalid_field"),
        ("bad timeout", chat_body(false, r#""timeout":-1"#).into_bytes(), 400, "invalid_field"),
        ("bad max_coefficient", chat_body(false, r#""max_coefficient":"lots""#).into_bytes(), 400, "invalid_field"),
        ("too expensive", chat_body(false, r#""max_coefficient":500"#).into_bytes(), 503, "coefficient_too_low"),
        ("no such hardware", chat_body(false, r#""hardware":"H100""#).into_bytes(), 503, "no_matching_hardware"),
    ];
    for (name, body, status, code) in cases {
        let (got, resp) = post(&url, body).await;
        assert_eq!(got, status, "{name}: {}", String::from_utf8_lossy(&resp));
        let v: Value = serde_json::from_slice(&resp).unwrap_or_else(|_| panic!("{name}: JSON error body"));
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {v}");
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code, "{name}: {v}");
        }
    }
    // Oversized: refused from its Content-Length, before the body is read.
    let head = raw_post_head(&net.api, "/v1/chat/completions", 9 * 1024 * 1024).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("body_too_large"), "{head}");

    let (_, v) = post(&url, chat_body(false, r#""max_coefficient":500"#)).await;
    let msg = serde_json::from_slice::<Value>(&v).unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("needs coefficient 1000"), "{msg}");
    let (status, _) = get_json(&format!("{}/v1/images/generations", net.api)).await;
    assert_eq!(status, 404);
    let (status, _) = get_json(&format!("{}/v1/embeddings", net.api)).await;
    assert_eq!(status, 405, "embeddings are POSTed");

    // Nothing reached the backend, nothing is stuck, and the network still works.
    let (_, backend) = get_json(&format!("{}/stats", net.backend)).await;
    assert_eq!(backend["requests"], 0, "{backend}");
    let (_, proxy) = get_json(&net.proxy_stats[0]).await;
    assert_eq!(proxy["workers"][0]["running"], 0);
    assert_eq!(proxy["workers"][0]["failed"], 0, "bad input is not the worker's fault: {proxy}");
    let (status, _) = post(&url, chat_body(false, r#""max_tokens":2"#)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_worker_makes_the_network_say_busy() {
    let net =
        Net::start("busy", NetOpts { workers: 1, max_active: 1, delay_ms: 40, chunks: 25, ..Default::default() }).await;
    let url = net.chat_url();
    let first = tokio::spawn({
        let url = url.clone();
        async move { post(&url, chat_body(true, "")).await }
    });
    wait_for(&net.worker_stats[0], 10, |v| v["running"] == 1).await;
    let (status, body) = post(&url, chat_body(true, "")).await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "all_workers_busy");
    let (status, _) = first.await.unwrap();
    assert_eq!(status, 200);
}
