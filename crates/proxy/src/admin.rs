//! The proxy's local HTTP endpoint: /health and /stats (per-worker load, latency, success rate).

use crate::Shared;
use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/health", get(health)).route("/stats", get(stats)).with_state(shared)
}

async fn health(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"status": "ok", "workers": s.registry.len()}))
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "role": "proxy",
        "proxy_id": s.proxy_id,
        "client_listen": s.client_addr.to_string(),
        "worker_listen": s.worker_addr.to_string(),
        "counters": s.stats.snapshot(),
        "workers": s.registry.views(),
        "models": s.registry.models().models,
    }))
}
