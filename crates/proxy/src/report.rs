//! The proxy's public report (`report_listen`, off unless configured): the figures an
//! explorer shows about this proxy, readable by anyone, changing nothing.
//!
//! It holds what the network would publish anyway: the proxy's current RA-TLS certificate (so
//! an explorer can verify its attestation and image itself), its workers (model, hardware,
//! price, measured reputation, tokens and earnings: no addresses), client counts and the
//! client contracts' addresses (public on chain; an explorer reads their balances there), the
//! request and token totals, the books' totals and how far the chain's anchor is behind. No
//! prompt, answer, client key or worker address is in it.

use crate::Shared;
use axum::{extract::State, routing::get, Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::{atomic::Ordering::Relaxed, Arc, Mutex};
use std::time::{Duration, Instant};

/// Version of the report's JSON shape; an explorer refuses a report it does not know.
pub const REPORT_VERSION: u64 = 1;

/// Most client contract addresses one report lists (the count is always exact).
pub const MAX_LISTED_CLIENTS: usize = 1000;

/// Most report requests served at once; more wait (the report is cheap, but public).
const MAX_CONCURRENT: usize = 32;

/// The routes of `report_listen`: `GET /report`.
pub fn router(shared: Arc<Shared>) -> Router {
    let state = Arc::new(ReportState { shared, cache: Mutex::new(None) });
    Router::new()
        .route("/report", get(report))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .with_state(state)
}

/// How long one built report is served again: a flood of readers costs one build a second.
const CACHE_FOR: Duration = Duration::from_secs(1);

/// The report's server state: the proxy, and the last report built.
struct ReportState {
    shared: Arc<Shared>,
    cache: Mutex<Option<(Instant, Arc<Value>)>>,
}

async fn report(State(state): State<Arc<ReportState>>) -> Json<Value> {
    let fresh = state.cache.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some((_, doc)) = fresh.filter(|(at, _)| at.elapsed() < CACHE_FOR) {
        return Json(doc.as_ref().clone());
    }
    // The ledger's audit reads the database: off the async workers.
    let shared = state.shared.clone();
    let doc =
        tokio::task::spawn_blocking(move || document(&shared)).await.unwrap_or_else(|_| json!({"error": "failed"}));
    let doc = Arc::new(doc);
    *state.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), doc.clone()));
    Json(doc.as_ref().clone())
}

/// Nanotons as a decimal string (JSON numbers lose precision above 2^53 in browsers).
fn tons(n: impl ToString) -> Value {
    Value::String(n.to_string())
}

/// The report document.
pub fn document(s: &Shared) -> Value {
    let c = &s.stats;
    let now = crate::payments::now_unix();
    let ledger_accounts = s.payments.as_ref().map(|p| p.ledger.accounts());
    let by_worker: std::collections::HashMap<&[u8; 32], (u64, u64)> =
        ledger_accounts.iter().flat_map(|a| a.workers.iter().map(|(k, w)| (k, (w.earned_tokens, w.earned)))).collect();
    let earned = |id: &str| {
        let key: [u8; 32] = hex::decode(id).ok()?.try_into().ok()?;
        by_worker.get(&key).copied()
    };
    let workers: Vec<Value> = s
        .registry
        .views()
        .into_iter()
        .map(|w| {
            let (tokens, nanotons) = earned(&w.worker_id).unwrap_or((0, 0));
            json!({
                "worker_id": w.worker_id, "model": w.model, "model_sha256": w.model_sha256,
                "image_hash": w.image_hash, "hardware": w.hardware, "coefficient": w.coefficient,
                "enabled": w.enabled, "running": w.running, "max_active": w.max_active,
                "success_rate": w.success_rate, "latency_ms": w.latency_ms, "served": w.served,
                "failed": w.failed, "earned_tokens": tokens, "earned": tons(nanotons),
            })
        })
        .collect();
    let known = match &ledger_accounts {
        Some(a) => a.clients.len() as u64,
        None => c.clients_seen() as u64,
    };
    let mut contracts = Vec::new();
    if let (Some(p), Some(accounts)) = (&s.payments, &ledger_accounts) {
        if let Some(ton) = &p.ton {
            for (id, _) in accounts.clients.iter().take(MAX_LISTED_CLIENTS) {
                if let Ok(a) = ton.client_address(id) {
                    contracts.push(cocoon_ton::address::raw(&a));
                }
            }
        }
    }
    let (books, chain, anchor) = match &s.payments {
        Some(p) => {
            let books = match p.ledger.audit() {
                Ok(t) => json!({"charged": tons(t.charged), "charged_tokens": t.charged_tokens,
                    "worker_earned": tons(t.worker_earned), "commission": tons(t.commission), "balanced": true}),
                Err(_) => json!({"balanced": false}),
            };
            let chain = p.ton.as_ref().map(|t| {
                json!({"root": cocoon_ton::address::raw(t.root()), "contract": cocoon_ton::address::raw(t.proxy_address())})
            });
            (books, chain, p.anchor_lag())
        }
        None => (Value::Null, None, None),
    };
    json!({
        "version": REPORT_VERSION,
        "proxy_id": s.proxy_id,
        "software": concat!("cocoon/", env!("CARGO_PKG_VERSION")),
        "read_at": now,
        "certificate": base64::engine::general_purpose::STANDARD.encode(s.identity.cert_der()),
        "chain": chain,
        "clients": {
            "connected": c.clients_connected.load(Relaxed),
            "active_24h": c.clients_active(now, 86_400),
            "known": known,
            "contracts": contracts,
        },
        "requests": {
            "total": c.requests.load(Relaxed), "succeeded": c.succeeded.load(Relaxed),
            "failed": c.failed.load(Relaxed), "no_worker": c.no_worker.load(Relaxed),
            "rejected_invalid": c.rejected_invalid.load(Relaxed), "cancelled": c.cancelled.load(Relaxed),
        },
        "tokens": {"prompt": c.prompt_tokens.load(Relaxed), "completion": c.completion_tokens.load(Relaxed)},
        "workers": workers,
        "books": books,
        "anchor": anchor,
    })
}
