//! The explorer against proxies that answer badly, over real sockets: a report server run by
//! the test serves a good report, one that is too big, one that never ends, garbage, another
//! shape version, and a report that borrows another proxy's certificate. Every proxy stays in
//! the snapshot; only the good one is reachable and verified; the liar is not verified.

use axum::{routing::get, Json, Router};
use base64::Engine as _;
use cocoon_explorer::{AttestationMode, CollectConfig, Collector};
use cocoon_ratls::{DevAttester, Identity, IdentityConfig, Measurements, Role};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn identity() -> Identity {
    let attester = Arc::new(DevAttester::new(Measurements::dev_default()));
    Identity::new(IdentityConfig::new(Role::Proxy).with_attester(attester)).expect("identity")
}

fn report(key: &str, cert: &Identity, requests: u64) -> Value {
    json!({
        "version": 1, "proxy_id": key, "software": "cocoon/test", "read_at": 0,
        "certificate": base64::engine::general_purpose::STANDARD.encode(cert.cert_der()),
        "chain": null,
        "clients": {"connected": 1, "active_24h": 1, "known": 2, "contracts": []},
        "requests": {"total": requests, "succeeded": requests, "failed": 0},
        "tokens": {"prompt": 10 * requests, "completion": 20 * requests},
        "workers": [{"worker_id": "w1", "model": "m", "hardware": "cpu", "coefficient": 1500, "enabled": true,
                     "running": 1, "max_active": 4, "success_rate": 0.5, "latency_ms": 10.0, "served": 3,
                     "earned_tokens": 30, "earned": "30"}],
        "books": {"charged": "60", "commission": "30", "balanced": true},
        "anchor": null,
    })
}

#[tokio::test]
async fn bad_reports_are_shown_as_unreachable_and_a_borrowed_certificate_is_not_verified() {
    let (good, other) = (identity(), identity());
    let good_key = good.public_key_hex();
    let liar_key = hex::encode([7u8; 32]);
    let requests = Arc::new(std::sync::atomic::AtomicU64::new(10));
    let app = Router::new()
        .route("/good", {
            let (good, key, requests) = (good.clone(), good_key.clone(), requests.clone());
            get(move || async move { Json(report(&key, &good, requests.load(std::sync::atomic::Ordering::Relaxed))) })
        })
        .route("/huge", get(|| async { "x".repeat(5 << 20) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route("/garbage", get(|| async { "{\"version\":1,\"proxy_id\":" }))
        .route("/v2", {
            let key = good_key.clone();
            get(move || async move { Json(json!({"version": 2, "proxy_id": key})) })
        })
        .route("/liar", {
            let (other, key) = (other.clone(), liar_key.clone());
            get(move || async move { Json(report(&key, &other, 0)) })
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/report", l.local_addr().unwrap())
    };
    let urls: Vec<String> = ["good", "huge", "slow", "garbage", "v2", "liar"]
        .iter()
        .map(|p| format!("{base}/{p}"))
        .chain([dead.clone()])
        .collect();
    let collector = Collector::new(CollectConfig {
        chain: None,
        reports: urls.clone(),
        attestation: AttestationMode::Dev,
        timeout: Duration::from_secs(2),
    })
    .unwrap();

    let started = Instant::now();
    let s = collector.collect().await;
    assert!(started.elapsed() < Duration::from_secs(10), "a slow report is bounded: {:?}", started.elapsed());
    assert_eq!(s.proxies.len(), urls.len(), "every proxy stays in the snapshot");
    let row = |id: &str| s.proxies.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no row {id}: {s:?}"));
    let g = row(&good_key);
    assert!(g.report.reachable && g.attestation.verified && g.attestation.insecure, "{g:?}");
    assert_eq!(g.attestation.tee.as_deref(), Some("dev"));
    assert_eq!(g.attestation.key_matches, Some(true));
    for bad in ["huge", "slow", "garbage", "v2"] {
        let r = row(&format!("{base}/{bad}"));
        assert!(!r.report.reachable && r.report.error.is_some() && !r.attestation.verified, "{bad}: {r:?}");
    }
    let d = row(&dead);
    assert!(!d.report.reachable, "{d:?}");
    // The liar answers, but its certificate is another key's: not verified.
    let l = row(&liar_key);
    assert!(l.report.reachable && !l.attestation.verified, "{l:?}");
    assert_eq!(l.attestation.key_matches, Some(false));
    // Figures count what answered; no rate from one read.
    assert_eq!(s.headline.proxies.value, Some(7));
    assert_eq!(s.headline.workers.value, Some(2), "the good report's and the liar's");
    assert_eq!(s.headline.requests_per_s.value, None);
    assert_eq!(s.models.len(), 1);
    assert_eq!((s.models[0].workers, s.models[0].coefficient_min, s.models[0].tokens), (2, 1500, 60));

    // A second read gives the rate of what grew in between.
    requests.store(30, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s2 = collector.collect().await;
    let rate = s2.headline.requests_per_s.value.expect("a rate after two reads");
    let secs = (s2.proxies[0].report.read_at - s.proxies[0].report.read_at) as f64 / 1000.0;
    assert!((rate - 20.0 / secs).abs() < 0.01, "rate {rate}, 20 requests in {secs} s");
    let tokens = s2.headline.tokens_per_s.value.unwrap();
    assert!((tokens - 600.0 / secs).abs() < 0.1, "tokens/s {tokens}");
}

#[tokio::test]
async fn a_chain_that_does_not_answer_gives_no_tvl_rather_than_zero() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let collector = Collector::new(CollectConfig {
        chain: Some(cocoon_onchain::ChainConfig {
            api_url: format!("http://{dead}"),
            api_key: None,
            root: format!("0:{}", "11".repeat(32)),
            message_ttl_secs: 60,
            poll_interval_ms: 100,
            registry_refresh_secs: 300,
        }),
        reports: Vec::new(),
        attestation: AttestationMode::Dev,
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let s = collector.collect().await;
    let root = s.root.as_ref().expect("the root is shown");
    assert!(root.error.as_deref().unwrap_or_default().contains("get_root_data"), "{root:?}");
    assert_eq!(s.headline.tvl.value, None, "not 0: {:?}", s.headline.tvl);
    assert_eq!(s.headline.proxies.value, None);
}
