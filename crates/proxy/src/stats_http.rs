//! The proxy's local HTTP endpoint (`stats_listen`, loopback): /health, /stats (per-worker load, latency, success rate,
//! and the books: `ledger` totals and `prices`), /metrics (the same figures for Prometheus), /dashboard (a page over /stats) and /accounts (every
//! client and worker account).

use crate::Shared;
use axum::{extract::State, response::IntoResponse, routing::get, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// The routes of `stats_listen`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { axum::response::Html(cocoon_metrics::DASHBOARD_HTML) }))
        .route("/accounts", get(accounts))
        .with_state(shared)
}

async fn health(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"status": "ok", "workers": s.registry.len()}))
}

async fn accounts(State(s): State<Arc<Shared>>) -> Json<Value> {
    let Some(p) = &s.payments else { return Json(json!({"enabled": false})) };
    let a = p.ledger.accounts();
    let clients: Vec<Value> =
        a.clients.iter().map(|(id, v)| json!({"client": hex::encode(id), "account": v})).collect();
    let workers: Vec<Value> = a
        .workers
        .iter()
        .map(|(id, w)| json!({"worker": hex::encode(id), "earned": w.earned, "earned_tokens": w.earned_tokens, "paid_out": w.paid_out}))
        .collect();
    Json(json!({"enabled": true, "clients": clients, "workers": workers, "books": p.snapshot()}))
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(stats_json(&s))
}

/// The Prometheus text of the figures `/stats` shows ([`crate::metrics`]).
async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let mut scrape = crate::metrics::scrape(&stats_json(&s));
    crate::metrics::selection(&mut scrape, &s.stats);
    let text = scrape.render();
    ([(http::header::CONTENT_TYPE, cocoon_metrics::CONTENT_TYPE)], text)
}

/// The `/stats` document.
fn stats_json(s: &Shared) -> Value {
    let mut v = json!({
        "role": "proxy",
        "proxy_id": s.proxy_id,
        "client_listen": s.client_addr.to_string(),
        "worker_listen": s.worker_addr.to_string(),
        "counters": s.stats.snapshot(),
        "workers": s.registry.views(),
        "models": s.registry.models().models,
        "security": s.exposure.to_json(),
    });
    if let (Some(obj), Value::Object(pay)) = (v.as_object_mut(), crate::account::stats(s)) {
        obj.extend(pay);
    }
    v
}
