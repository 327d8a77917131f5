//! The worker's local HTTP endpoints: health, stats and earnings on `stats_listen`, and the
//! operator's run-time controls on their own listener (`admin_listen`):
//! `POST /admin/enable`, `POST /admin/disable`, `POST /admin/coefficient {"coefficient": N}`,
//! each with `Authorization: Bearer <token>` (the token in `<data_dir>/admin-token`) and
//! `content-type: application/json`, so a web page open on the machine cannot switch the
//! worker off or change its price.

use crate::{config::MAX_COEFFICIENT, service::LinkCtx, state::WorkerState};
use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use cocoon_transport::AccessToken;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{atomic::Ordering::Relaxed, Arc};

/// What the local endpoints show and control.
pub struct Admin {
    /// The worker's live status and counters; the controls change it.
    pub state: Arc<WorkerState>,
    /// One context per configured proxy, for their connection state and load in `/health` and `/stats`.
    pub links: Vec<Arc<LinkCtx>>,
    /// The model name this worker serves, as announced to proxies.
    pub model: String,
    /// The worker's hardware profile, as text.
    pub hardware: String,
    /// The backend's description (see [`crate::backend::Backend::describe`]).
    pub backend: String,
    /// SHA-256 of the weights served, when known (attested as `model_sha256`).
    pub model_sha256: Option<String>,
    /// This worker's public key (hex): its identity and its earnings account.
    pub worker_id: String,
    /// Most requests the worker runs at once, over all its proxies.
    pub max_active: u32,
    /// The payout vouchers received from proxies, reported as earnings.
    pub wallet: Arc<cocoon_voucher::VoucherWallet>,
    /// Where the controls listen (shown in `/stats`).
    pub admin_addr: std::net::SocketAddr,
    /// What is open (only with `insecure_dev`), for `/stats`.
    pub exposure: cocoon_transport::Exposure,
}

/// File name of the controls' token in the worker's data directory.
pub const TOKEN_FILE: &str = "admin-token";

/// The read-only routes of `stats_listen`.
pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { axum::response::Html(cocoon_metrics::DASHBOARD_HTML) }))
        .route("/earnings", get(earnings))
        .with_state(admin)
}

/// The operator's controls, on `admin_listen`, behind `token`.
pub fn controls(admin: Arc<Admin>, token: AccessToken) -> Router {
    Router::new()
        .route("/admin/enable", post(enable))
        .route("/admin/disable", post(disable))
        .route("/admin/coefficient", post(coefficient))
        .layer(axum::middleware::from_fn_with_state(token, require))
        .with_state(admin)
}

/// The token and a JSON body type, or a refusal.
async fn require(
    State(token): State<AccessToken>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match token.check(req.headers(), true) {
        Ok(()) => next.run(req).await,
        Err(e) => cocoon_transport::error_response(&e).map(axum::body::Body::new),
    }
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
    Json(stats_json(&a))
}

/// The Prometheus text of the figures `/stats` shows ([`crate::metrics`]).
async fn metrics(State(a): State<Arc<Admin>>) -> impl axum::response::IntoResponse {
    let text = crate::metrics::scrape(&stats_json(&a)).render();
    ([(http::header::CONTENT_TYPE, cocoon_metrics::CONTENT_TYPE)], text)
}

/// The `/stats` document.
fn stats_json(a: &Admin) -> Value {
    let s = a.state.status();
    let proxies: Vec<Value> = a
        .links
        .iter()
        .map(|l| json!({"address": l.proxy, "connected": l.connected.load(Relaxed), "running": l.running.load(Relaxed), "share": l.share}))
        .collect();
    json!({
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
        "earnings": earnings_json(a),
        "admin": format!("http://{}/admin", a.admin_addr),
        "security": a.exposure.to_json(),
    })
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
