//! The explorer's web server: the page (one bundled HTML file, nothing loaded from elsewhere)
//! and its API (`/api/snapshot`, `/api/history`), with a background task that collects every
//! interval.

use crate::history::History;
use crate::{Collector, ExplorerError, Snapshot};
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Json, Router};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The page.
pub const PAGE_HTML: &str = include_str!("page.html");

/// The page may run its own inline script and style and fetch from this server; nothing else.
const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

/// What the server shares with its collector.
struct Shared {
    latest: RwLock<Option<Arc<Snapshot>>>,
    history: RwLock<History>,
}

/// Serves the explorer on `listener` and collects every `interval` until `stop`.
pub async fn serve(
    listener: TcpListener,
    collector: Collector,
    interval: Duration,
    stop: CancellationToken,
) -> Result<(), ExplorerError> {
    let shared =
        Arc::new(Shared { latest: RwLock::new(None), history: RwLock::new(History::new(interval.as_secs().max(1))) });
    let task = tokio::spawn(collect_loop(collector, interval, shared.clone(), stop.clone()));
    let app = Router::new()
        .route("/", get(page))
        .route("/api/snapshot", get(snapshot))
        .route("/api/history", get(history))
        .with_state(shared);
    let r = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned()).await;
    stop.cancel();
    let _ = task.await;
    r.map_err(ExplorerError::Serve)
}

async fn collect_loop(collector: Collector, interval: Duration, shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = tokio::select! {
            _ = stop.cancelled() => return,
            s = collector.collect() => s,
        };
        let down = s.proxies.iter().filter(|p| !p.report.reachable).count();
        tracing::debug!(took_ms = s.took_ms, proxies = s.proxies.len(), unreachable = down, "collected");
        shared.history.write().unwrap_or_else(|p| p.into_inner()).push(&s);
        *shared.latest.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(s));
    }
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, CSP)], PAGE_HTML)
}

async fn snapshot(State(s): State<Arc<Shared>>) -> axum::response::Response {
    let latest = s.latest.read().unwrap_or_else(|p| p.into_inner()).clone();
    match latest {
        Some(snap) => Json(snap.as_ref().clone()).into_response(),
        None => (http::StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": "first collection running"})))
            .into_response(),
    }
}

async fn history(State(s): State<Arc<Shared>>) -> Json<History> {
    Json(s.history.read().unwrap_or_else(|p| p.into_inner()).clone())
}
