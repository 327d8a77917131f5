//! The worker's local HTTP endpoint: health, stats, and run-time controls for its operator.
//!
//! `POST /admin/enable`, `POST /admin/disable`, `POST /admin/coefficient {"coefficient": N}`.
//! Bind it to loopback: it has no authentication.

use crate::{config::MAX_COEFFICIENT, service::LinkCtx, state::WorkerState};
use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{atomic::Ordering::Relaxed, Arc};

pub struct Admin {
    pub state: Arc<WorkerState>,
    pub links: Vec<Arc<LinkCtx>>,
    pub model: String,
    pub hardware: String,
    pub backend: String,
    /// SHA-256 of the weights served, when known (attested as `model_sha256`).
    pub model_sha256: Option<String>,
    pub worker_id: String,
    pub max_active: u32,
    pub wallet: Arc<cocoon_voucher::VoucherWallet>,
}

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/earnings", get(earnings))
        .route("/admin/enable", post(enable))
        .route("/admin/disable", post(disable))
        .route("/admin/coefficient", post(coefficient))
        .with_state(admin)
}

async fn health(State(a): State<Arc<Admin>>) -> (StatusCode, Json<Value>) {
    let s = a.state.status();
    let connected = a.links.iter().filter(|l| l.connected.load(Relaxed)).count();
    (
        StatusCode::OK,
        Json(json!({"status": "ok", "enabled": s.enabled, "reason": s.reason, "proxies_connected": connected})),
    )
}

async fn stats(State(a): State<Arc<Admin>>) -> Json<Value> {
    let s = a.state.status();
    let proxies: Vec<Value> = a
        .links
        .iter()
        .map(|l| json!({"address": l.proxy, "connected": l.connected.load(Relaxed), "running": l.running.load(Relaxed), "share": l.share}))
        .collect();
    Json(json!({
        "role": "worker",
        "worker_id": a.worker_id,
        "model": a.model,
        "hardware": a.hardware,
        "backend": a.backend,
        "model_sha256": a.model_sha256,
        "enabled": s.enabled,
        "disabled_reason": s.reason,
        "coefficient": s.coefficient,
        "max_active": a.max_active,
        "running": a.state.running.load(Relaxed),
        "counters": a.state.counters.snapshot(),
        "proxies": proxies,
        "earnings": earnings_json(&a),
    }))
}

/// Earnings as the proxies' latest vouchers say, in adjusted tokens (each worker contract pays
/// them at the network's worker fee per token).
fn earnings_json(a: &Admin) -> Value {
    json!({"total_tokens": a.wallet.total_tokens(), "proxies": a.wallet.held()})
}

async fn earnings(State(a): State<Arc<Admin>>) -> Json<Value> {
    Json(earnings_json(&a))
}

async fn enable(State(a): State<Arc<Admin>>) -> Json<Value> {
    a.state.set_enabled(true);
    tracing::info!("enabled by operator");
    Json(json!({"enabled": true}))
}

async fn disable(State(a): State<Arc<Admin>>) -> Json<Value> {
    a.state.set_enabled(false);
    tracing::info!("disabled by operator");
    Json(json!({"enabled": false}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoefficientBody {
    coefficient: u32,
}

async fn coefficient(
    State(a): State<Arc<Admin>>,
    body: Result<Json<CoefficientBody>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<Value>) {
    match body {
        Ok(Json(b)) if (1..=MAX_COEFFICIENT).contains(&b.coefficient) => {
            a.state.set_coefficient(b.coefficient);
            tracing::info!(coefficient = b.coefficient, "coefficient changed by operator");
            (StatusCode::OK, Json(json!({"coefficient": b.coefficient})))
        }
        Ok(Json(b)) => (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": {"message": format!("coefficient {} outside 1..={MAX_COEFFICIENT}", b.coefficient), "type": "invalid_request_error", "code": "bad_coefficient"}}),
            ),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": e.body_text(), "type": "invalid_request_error", "code": "bad_json"}})),
        ),
    }
}
