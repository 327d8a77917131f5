//! The worker's Prometheus `/metrics`: the figures of its `/stats` (requests by outcome, load,
//! tokens, bytes, price, proxy links, earnings), read from the same `/stats` document in the
//! same call, so the two agree.

use cocoon_metrics::Scrape;
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The metrics of `stats`, the worker's `/stats` document.
pub fn scrape(stats: &Value) -> Scrape {
    let mut m = Scrape::new();
    let model = stats["model"].as_str().unwrap_or_default();
    let hardware = stats["hardware"].as_str().unwrap_or_default();
    let l = [("model", model)];
    let c = &stats["counters"];
    m.gauge(
        "cocoon_worker_info",
        "This worker (1), with its model and hardware.",
        &[("model", model), ("hardware", hardware)],
        1.0,
    );
    m.counter("cocoon_worker_requests_received", "Inference requests received from proxies.", &l, n(&c["requests"]));
    for outcome in ["succeeded", "failed", "rejected_busy", "rejected_invalid", "cancelled"] {
        m.counter(
            "cocoon_worker_requests",
            "Requests by how they ended: succeeded, failed (in the backend), rejected_busy (at the concurrency limit), rejected_invalid (bad terms or body), cancelled (dropped by the proxy).",
            &[("model", model), ("outcome", outcome)],
            n(&c[outcome]),
        );
    }
    m.counter("cocoon_worker_sent_bytes", "Answer body bytes sent to proxies.", &l, n(&c["bytes_out"]));
    for kind in ["prompt", "cached", "completion", "reasoning"] {
        m.counter(
            "cocoon_worker_tokens",
            "Tokens in the backend's usage, by kind (cached is part of prompt, reasoning part of completion).",
            &[("model", model), ("kind", kind)],
            n(&c[format!("{kind}_tokens")]),
        );
    }
    m.gauge("cocoon_worker_running", "Requests running now over all proxy links.", &l, n(&stats["running"]) as f64);
    m.gauge("cocoon_worker_max_active", "Most requests the worker runs at once.", &l, n(&stats["max_active"]) as f64);
    m.gauge(
        "cocoon_worker_enabled",
        "1 while the worker takes requests.",
        &l,
        f64::from(u8::from(stats["enabled"] == true)),
    );
    m.gauge(
        "cocoon_worker_coefficient",
        "The worker's price coefficient, per-mille.",
        &l,
        n(&stats["coefficient"]) as f64,
    );
    for p in stats["proxies"].as_array().into_iter().flatten() {
        let proxy = p["address"].as_str().unwrap_or_default();
        m.gauge(
            "cocoon_worker_proxy_connected",
            "1 while the link to this proxy is up.",
            &[("proxy", proxy)],
            f64::from(u8::from(p["connected"] == true)),
        );
        m.gauge(
            "cocoon_worker_proxy_running",
            "Requests running on this proxy link.",
            &[("proxy", proxy)],
            n(&p["running"]) as f64,
        );
    }
    m.counter(
        "cocoon_worker_earned_tokens",
        "Tokens the proxies' latest vouchers pay this worker for (each worker contract pays them at the network's worker fee).",
        &l,
        n(&stats["earnings"]["total_tokens"]),
    );
    m
}
