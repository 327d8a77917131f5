//! The client's Prometheus `/metrics`: the figures of its `/stats`, read from the same snapshot
//! in the same call, and its latency histograms.

use crate::{latency::Histogram, Shared};
use cocoon_metrics::{Buckets, Scrape, LATENCY_BOUNDS};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The metrics of `stats` (the client's `/stats` document) and of its latency histograms.
pub fn scrape(s: &Shared, stats: &Value) -> Scrape {
    let mut m = Scrape::new();
    let c = &stats["counters"];
    m.counter("cocoon_client_requests_received", "Inference requests received from the app.", &[], n(&c["requests"]));
    for outcome in ["succeeded", "failed", "rejected", "cancelled"] {
        m.counter(
            "cocoon_client_requests",
            "Requests from the app by how they ended: succeeded, failed (5xx or after the answer started), rejected (4xx), cancelled (the app went away).",
            &[("outcome", outcome)],
            n(&c[outcome]),
        );
    }
    m.counter(
        "cocoon_client_failovers",
        "Requests sent to another proxy after one failed before answering.",
        &[],
        n(&c["failovers"]),
    );
    m.counter("cocoon_client_sent_bytes", "Answer body bytes relayed to the app.", &[], n(&c["bytes_out"]));
    for kind in ["prompt", "cached", "completion", "reasoning"] {
        m.counter(
            "cocoon_client_tokens",
            "Tokens in the usage of finished answers, by kind (cached is part of prompt, reasoning part of completion).",
            &[("kind", kind)],
            n(&c["tokens"][kind]),
        );
    }
    m.counter(
        "cocoon_client_spent_nanotons",
        "Nanotons the proxies charged for this process's requests.",
        &[],
        n(&stats["payments"]["spent_this_run"]),
    );
    m.histogram(
        "cocoon_client_first_byte_seconds",
        "Time from the app's request to the first byte of the answer.",
        &[],
        buckets(&s.stats.first_byte),
    );
    m.histogram(
        "cocoon_client_request_seconds",
        "Time from the app's request to the end of the answer.",
        &[],
        buckets(&s.stats.total),
    );
    for p in stats["proxies"].as_array().into_iter().flatten() {
        let proxy = p["address"].as_str().unwrap_or_default();
        let labels = [("proxy", proxy)];
        m.gauge(
            "cocoon_client_proxy_connected",
            "1 while the link to this proxy is up.",
            &labels,
            f64::from(u8::from(p["connected"] == true)),
        );
        m.gauge(
            "cocoon_client_proxy_in_flight",
            "Requests in flight on this proxy link.",
            &labels,
            n(&p["in_flight"]) as f64,
        );
        m.counter("cocoon_client_proxy_requests", "Requests sent on this proxy link.", &labels, n(&p["requests"]));
        m.counter(
            "cocoon_client_proxy_failures",
            "Requests that failed on this proxy link.",
            &labels,
            n(&p["failures"]),
        );
        m.counter(
            "cocoon_client_proxy_connects",
            "Times the link to this proxy was established.",
            &labels,
            n(&p["connects"]),
        );
    }
    m
}

/// A latency histogram in the exported buckets.
fn buckets(h: &Histogram) -> Buckets {
    h.inner().buckets(&LATENCY_BOUNDS)
}
