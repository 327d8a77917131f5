//! The local OpenAI-compatible HTTP API that apps talk to.
//!
//! `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`,
//! `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart, [`crate::transcribe`]), the tasks, plus
//! `GET /health` and `GET /stats`. Errors are OpenAI-style JSON. CORS is open on the
//! inference routes only, as for any local OpenAI-compatible server; the money routes
//! (`/v1/payments/*`) need the API token ([`crate::api_token`]) and JSON, and never answer
//! a browser's preflight. Keep the listener on loopback.

use crate::{forward, Shared};
use axum::{
    body::Body as AxumBody,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use cocoon_openai::{ApiError, Endpoint};
use cocoon_proto::{path, ModelList};
use cocoon_transport::AccessToken;
use cocoon_transport::{empty, read_limited};
use serde_json::{json, Value};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use tower_http::cors::CorsLayer;

/// The API's routes: inference (open to browsers, as any local OpenAI-compatible server is),
/// money (a token and JSON, no CORS) and the operator's `/health` and `/stats` (no CORS).
pub fn router(shared: Arc<Shared>, token: AccessToken) -> Router {
    let max_body = shared.max_body;
    let inference = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route(
            "/v1/audio/transcriptions",
            post(crate::transcribe::transcriptions).layer(axum::extract::DefaultBodyLimit::max(max_body)),
        )
        .route(
            "/v1/audio/translations",
            post(crate::transcribe::translations).layer(axum::extract::DefaultBodyLimit::max(max_body)),
        )
        .route("/v1/tasks/translate", post(crate::tasks::translate))
        .route("/v1/tasks/summarize", post(crate::tasks::summarize))
        .layer(CorsLayer::permissive());
    let money = Router::new()
        .route("/v1/payments/account", get(crate::payments::account))
        .route("/v1/payments/{op}", post(crate::payments::operate))
        .layer(axum::middleware::from_fn_with_state(token, crate::api_token::require));
    Router::new()
        .merge(inference)
        .merge(money)
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(dashboard))
        .fallback(not_found)
        .with_state(shared)
}

fn to_axum(resp: http::Response<cocoon_transport::Body>) -> Response {
    resp.map(AxumBody::new)
}

fn error(e: ApiError) -> Response {
    to_axum(cocoon_transport::error_response(&e))
}

async fn chat(State(s): State<Arc<Shared>>, body: AxumBody) -> Response {
    to_axum(forward::completions(&s, Endpoint::ChatCompletions, body).await)
}

async fn completions(State(s): State<Arc<Shared>>, body: AxumBody) -> Response {
    to_axum(forward::completions(&s, Endpoint::Completions, body).await)
}

async fn embeddings(State(s): State<Arc<Shared>>, body: AxumBody) -> Response {
    to_axum(forward::completions(&s, Endpoint::Embeddings, body).await)
}

async fn not_found(uri: http::Uri) -> Response {
    error(ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        format!("no such endpoint {}", uri.path()),
    ))
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    let up = s.pool.connected();
    let status = if up > 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"status": if up > 0 { "ok" } else { "no proxy connected" }, "proxies_connected": up, "proxies": s.pool.slots().len()}))).into_response()
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(stats_json(&s))
}

/// The Prometheus text of the figures `/stats` shows ([`crate::metrics`]).
async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let text = crate::metrics::scrape(&s, &stats_json(&s)).render();
    ([(http::header::CONTENT_TYPE, cocoon_metrics::CONTENT_TYPE)], text).into_response()
}

/// The operator's page over `/stats`.
async fn dashboard() -> axum::response::Html<&'static str> {
    axum::response::Html(cocoon_metrics::DASHBOARD_HTML)
}

/// The `/stats` document.
fn stats_json(s: &Shared) -> Value {
    json!({
        "role": "client",
        "client_id": s.client_id,
        "api": format!("http://{}/v1", s.api_addr),
        "counters": s.stats.snapshot(),
        "proxies": s.pool.views(),
        "payments": crate::payments::stats(s),
        "security": s.exposure.to_json(),
    })
}

/// Lists models from every connected proxy, merged: each with its workers' coefficients and load.
async fn models(State(s): State<Arc<Shared>>) -> Response {
    let mut lookups = Vec::new();
    for slot in s.pool.slots().iter().filter(|sl| sl.connected.load(std::sync::atomic::Ordering::Relaxed)) {
        let Some((_, send, _guard)) = s.pool.pick_slot(slot) else { continue };
        lookups.push(fetch_models(send));
    }
    let lists = futures::future::join_all(lookups).await;
    let mut merged: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for list in lists.into_iter().flatten() {
        for m in list.models {
            let entry = merged.entry(m.id).or_default();
            entry.extend(m.workers.into_iter().filter_map(|w| serde_json::to_value(w).ok()));
        }
    }
    let data: Vec<Value> = merged
        .into_iter()
        .map(|(id, workers)| json!({"id": id, "object": "model", "created": 0, "owned_by": "cocoon", "workers": workers}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// The first model any connected proxy offers (for requests that name none).
pub async fn first_model(s: &Arc<Shared>) -> Option<String> {
    for slot in s.pool.slots().iter().filter(|sl| sl.connected.load(std::sync::atomic::Ordering::Relaxed)) {
        let Some((_, send, _guard)) = s.pool.pick_slot(slot) else { continue };
        if let Some(m) = fetch_models(send).await.and_then(|l| l.models.into_iter().next()) {
            return Some(m.id);
        }
    }
    None
}

async fn fetch_models(mut send: hyper::client::conn::http2::SendRequest<cocoon_transport::Body>) -> Option<ModelList> {
    let req = http::Request::get(cocoon_transport::peer_uri(path::MODELS)).body(empty()).ok()?;
    let fut = async {
        send.ready().await.ok()?;
        let resp = send.send_request(req).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = read_limited(resp.into_body(), 4 * 1024 * 1024).await.ok()?;
        serde_json::from_slice(&body).ok()
    };
    tokio::time::timeout(Duration::from_secs(3), fut).await.ok().flatten()
}
