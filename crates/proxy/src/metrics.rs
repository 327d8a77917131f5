//! The proxy's Prometheus `/metrics`: the figures of its `/stats` (requests by outcome, tokens,
//! bytes, links, each worker's load, price, reputation and requests, the books), read from the
//! same `/stats` document in the same call, so the two agree.

use cocoon_metrics::Scrape;
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Upper bounds of the selection-time histogram, in seconds: 1 µs to 1 ms.
const SELECTION_BOUNDS: [f64; 8] = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3];

/// The selection-time histogram, exported beside the figures of `/stats`.
pub fn selection(m: &mut Scrape, stats: &crate::stats::ProxyStats) {
    m.histogram(
        "cocoon_proxy_selection_seconds",
        "Time to choose a worker for a request.",
        &[],
        stats.selection.0.buckets(&SELECTION_BOUNDS),
    );
}

/// The metrics of `stats`, the proxy's `/stats` document.
pub fn scrape(stats: &Value) -> Scrape {
    let mut m = Scrape::new();
    let c = &stats["counters"];
    m.counter("cocoon_proxy_requests_received", "Inference requests received from clients.", &[], n(&c["requests"]));
    for outcome in ["succeeded", "failed", "no_worker", "rejected_invalid", "cancelled"] {
        m.counter(
            "cocoon_proxy_requests",
            "Requests by how they ended: succeeded, failed (on a worker or here), no_worker (none could take it), rejected_invalid (the client's mistake), cancelled (the client left; still charged).",
            &[("outcome", outcome)],
            n(&c[outcome]),
        );
    }
    m.counter(
        "cocoon_proxy_retries",
        "Requests sent to a second worker after the first failed before its first byte.",
        &[],
        n(&c["retried"]),
    );
    m.counter("cocoon_proxy_sent_bytes", "Answer body bytes relayed to clients.", &[], n(&c["bytes_out"]));
    for kind in ["prompt", "completion"] {
        m.counter(
            "cocoon_proxy_tokens",
            "Tokens of finished requests as bounded and billed, by kind.",
            &[("kind", kind)],
            n(&c[format!("{kind}_tokens")]),
        );
    }
    m.gauge("cocoon_proxy_clients_connected", "Client links open now.", &[], n(&c["clients_connected"]) as f64);
    m.gauge(
        "cocoon_proxy_clients_active",
        "Clients with a request in the last 24 hours (since the proxy started).",
        &[],
        n(&c["clients_active_24h"]) as f64,
    );
    m.counter(
        "cocoon_proxy_handshakes_refused",
        "Client and worker connections refused at admission.",
        &[],
        n(&c["handshakes_refused"]),
    );

    let workers = stats["workers"].as_array().map(Vec::as_slice).unwrap_or_default();
    m.gauge("cocoon_proxy_workers_connected", "Worker links open now.", &[], workers.len() as f64);
    let in_flight: u64 = workers.iter().map(|w| n(&w["running"])).sum();
    m.gauge("cocoon_proxy_in_flight", "Requests running on workers now.", &[], in_flight as f64);
    for w in workers {
        let id = w["worker_id"].as_str().unwrap_or_default();
        let model = w["model"].as_str().unwrap_or_default();
        let hardware = w["hardware"].as_str().unwrap_or_default();
        let l = [("worker", id), ("model", model)];
        m.gauge(
            "cocoon_proxy_worker_info",
            "A connected worker (1), with its hardware.",
            &[("worker", id), ("model", model), ("hardware", hardware)],
            1.0,
        );
        m.gauge(
            "cocoon_proxy_worker_enabled",
            "1 while the worker takes requests.",
            &l,
            f64::from(u8::from(w["enabled"] == true)),
        );
        m.gauge(
            "cocoon_proxy_worker_running",
            "Requests this proxy has on the worker now.",
            &l,
            n(&w["running"]) as f64,
        );
        m.gauge(
            "cocoon_proxy_worker_max_active",
            "Most requests the worker takes at once.",
            &l,
            n(&w["max_active"]) as f64,
        );
        m.gauge(
            "cocoon_proxy_worker_coefficient",
            "The worker's price coefficient, per-mille.",
            &l,
            n(&w["coefficient"]) as f64,
        );
        m.gauge(
            "cocoon_proxy_worker_success_ratio",
            "Decayed success rate the proxy measures, 0..1.",
            &l,
            f(&w["success_rate"]),
        );
        m.gauge(
            "cocoon_proxy_worker_first_byte_seconds",
            "Decayed peak latency to first byte the proxy measures.",
            &l,
            f(&w["latency_ms"]) / 1000.0,
        );
        for (outcome, key) in [("succeeded", "served"), ("failed", "failed")] {
            m.counter(
                "cocoon_proxy_worker_requests",
                "Requests finished on the worker over its current link, by outcome.",
                &[("worker", id), ("model", model), ("outcome", outcome)],
                n(&w[key]),
            );
        }
    }

    let anchor = &stats["anchor"];
    if anchor.is_object() {
        m.gauge(
            "cocoon_proxy_anchor_behind_commits",
            "Ledger commits not yet covered by an anchor on chain (settlement lag; vouchers wait for it).",
            &[],
            n(&anchor["behind"]) as f64,
        );
        if let Some(at) = anchor["anchored_at"].as_u64() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            m.gauge(
                "cocoon_proxy_anchor_age_seconds",
                "Seconds since this proxy last saved an anchor on chain.",
                &[],
                now.saturating_sub(at) as f64,
            );
        }
    }

    let ledger = &stats["ledger"];
    if ledger.is_object() {
        m.gauge(
            "cocoon_proxy_books_balanced",
            "1 while the books balance (what clients paid = earned + commission + held).",
            &[],
            f64::from(u8::from(ledger["balanced"] == true)),
        );
        for entry in [
            "deposited",
            "withdrawn",
            "client_available",
            "reserved",
            "staked",
            "charged",
            "worker_earned",
            "commission",
        ] {
            m.gauge(
                "cocoon_proxy_ledger_nanotons",
                "The books in nanotons, by entry: deposited, withdrawn, client_available, reserved, staked, charged, worker_earned, commission.",
                &[("entry", entry)],
                n(&ledger[entry]) as f64,
            );
        }
        m.counter("cocoon_proxy_charged_tokens", "Tokens charged to clients.", &[], n(&ledger["charged_tokens"]));
        m.counter(
            "cocoon_proxy_worker_earned_tokens",
            "Tokens credited to workers.",
            &[],
            n(&ledger["worker_earned_tokens"]),
        );
    }
    m
}
