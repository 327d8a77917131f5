//! What a worker answers on a proxy link: hello, its status stream, and inference requests.

use crate::{
    backend::{Backend, BackendRequest},
    meter::{Meter, Slot},
    state::WorkerState,
};
use cocoon_openai::{validate_bounded, ApiError, Validated};
use cocoon_proto::{path, EventCodec, InferMeta, Terms, VoucherEvent, WorkerAnnounce};
use cocoon_transport::{error_response, hello_response, read_limited, Body, BoxError, Relay, TransportError};
use cocoon_voucher::VoucherWallet;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use std::{
    convert::Infallible,
    sync::{atomic::AtomicU32, atomic::Ordering::Relaxed, Arc},
};

/// Everything one proxy link needs to answer requests.
pub struct LinkCtx {
    /// The proxy's address as configured (what the link dials).
    pub proxy: String,
    /// The worker's live status and counters, shared by all links.
    pub state: Arc<WorkerState>,
    /// What executes this link's requests (shared by all links).
    pub backend: Arc<dyn Backend>,
    /// Worker id, model and hardware; status and share are filled in at hello time.
    pub announce: WorkerAnnounce,
    /// This link's share of the worker's concurrency.
    pub share: u32,
    /// Most requests the worker runs at once over all links (its configured `max_active`).
    pub max_active: u32,
    /// The limits SIGHUP may change (largest request body accepted from the proxy, ...).
    pub tunables: Arc<crate::reload::Tunables>,
    /// Requests running on this link right now, bounded by `share`.
    pub running: Arc<AtomicU32>,
    /// Whether the link to this proxy is up right now.
    pub connected: std::sync::atomic::AtomicBool,
    /// This worker's payout vouchers, one book per proxy.
    pub wallet: Arc<VoucherWallet>,
    /// The key of the proxy this link is connected to (set at each connect).
    pub proxy_key: std::sync::Mutex<Option<[u8; 32]>>,
}

impl LinkCtx {
    fn proxy_key(&self) -> Option<[u8; 32]> {
        *self.proxy_key.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Answers one request from the proxy on this link: inference, the status stream, hello or a payout voucher.
pub async fn handle(ctx: Arc<LinkCtx>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let resp = match (req.method(), req.uri().path()) {
        (&Method::POST, path::INFER) => infer(&ctx, req).await.unwrap_or_else(|e| error_response(&e)),
        (&Method::GET, path::WORKER_EVENTS) => events(&ctx),
        (&Method::POST, path::HELLO) => hello(&ctx, req).await,
        (&Method::POST, path::WORKER_VOUCHER) => voucher(&ctx, req).await.unwrap_or_else(|e| error_response(&e)),
        (_, p) => error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            format!("no such path {p}"),
        )),
    };
    Ok(resp)
}

async fn hello(ctx: &LinkCtx, req: Request<Incoming>) -> Response<Body> {
    let mut announce = ctx.announce.clone();
    announce.status = ctx.state.status();
    announce.max_active = ctx.share;
    // Our latest voucher from this proxy, so a proxy whose state was rolled back notices.
    announce.voucher = ctx.proxy_key().and_then(|k| ctx.wallet.open(&k).ok().flatten());
    let (hello, resp) = hello_response(req.into_body(), Some(announce)).await;
    if let Some(h) = hello {
        tracing::info!(proxy = %ctx.proxy, peer_software = %h.software, "hello from proxy");
    }
    resp
}

/// A payout voucher from the proxy: verified (signature, kind, contract, growth) and kept.
async fn voucher(ctx: &LinkCtx, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let body =
        read_limited(req.into_body(), 16 * 1024).await.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
    let event: VoucherEvent =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("bad_voucher", e.to_string()))?;
    let key = ctx.proxy_key().ok_or_else(|| ApiError::bad_request("bad_voucher", "no proxy key on this link"))?;
    ctx.wallet.accept(&key, &event.voucher).map_err(|e| ApiError::bad_request("bad_voucher", e.to_string()))?;
    Ok(cocoon_transport::json_response(&serde_json::json!({"accepted": true})))
}

/// A long-lived response: the current status, then one frame per change.
fn events(ctx: &LinkCtx) -> Response<Body> {
    let rx = ctx.state.subscribe();
    let stream = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let status = rx.borrow_and_update().clone();
        Some((status, (rx, false)))
    })
    .map(|s| EventCodec::frame(&s).map(Frame::data).map_err(|e| Box::new(e) as BoxError));
    Response::new(StreamBody::new(stream).boxed_unsync())
}

/// Checks the body against the request's terms (what the proxy reserved for and prices at)
/// and validates it for the backend. A body that disagrees with its terms is refused: the
/// worker serves exactly what it will be paid for.
fn check_terms(ctx: &LinkCtx, terms: &Terms, body: &[u8]) -> Result<Validated, ApiError> {
    let served = &ctx.announce.model;
    if &terms.model != served {
        return Err(ApiError::bad_request(
            "model_mismatch",
            format!("the request is for model `{}` but this worker serves `{served}`", terms.model),
        ));
    }
    let coefficient = terms.coefficient.ok_or_else(|| {
        ApiError::bad_request("bad_metadata", "missing header cocoon-coefficient (the price the proxy chose)")
    })?;
    let current = ctx.state.status().coefficient;
    if coefficient < current {
        // Chosen at an older, lower price: the proxy retries elsewhere or at the new one.
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "coefficient_changed",
            format!("chosen at coefficient {coefficient}; this worker now asks {current}"),
        ));
    }
    let validated = validate_bounded(terms.endpoint, body, served, terms.max_tokens, ctx.announce.features)?;
    let used = validated.features;
    if used.features != terms.features || used.choices != terms.choices {
        return Err(ApiError::bad_request(
            "terms_mismatch",
            format!(
                "the body uses features [{}] and {} choices but the request was reserved for [{}] and {}",
                used.features, used.choices, terms.features, terms.choices
            ),
        ));
    }
    if validated.stream != terms.stream {
        return Err(ApiError::bad_request(
            "terms_mismatch",
            format!(
                "the body says stream={} but the request was reserved as stream={}",
                validated.stream, terms.stream
            ),
        ));
    }
    Ok(validated)
}

async fn infer(ctx: &LinkCtx, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let state = &ctx.state;
    state.counters.requests.fetch_add(1, Relaxed);
    let meta = InferMeta::read(req.headers()).map_err(|e| ApiError::bad_request("bad_metadata", e.to_string()))?;
    if !state.is_enabled() {
        let reason = state.status().reason.unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "worker_disabled",
            format!("worker is disabled: {reason}"),
        ));
    }
    let Some(slot) = Slot::try_take(&ctx.running, ctx.share, state, ctx.max_active) else {
        state.counters.rejected_busy.fetch_add(1, Relaxed);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "server_error",
            "worker_busy",
            format!("worker busy: at its limit of {} concurrent requests on this proxy", ctx.share),
        ));
    };
    let body = read_limited(req.into_body(), ctx.tunables.max_body()).await.map_err(|e| match e {
        TransportError::TooLarge(n) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "body_too_large",
            format!("request body over {n} bytes"),
        ),
        other => ApiError::bad_request("bad_body", other.to_string()),
    })?;
    let validated = check_terms(ctx, &meta.terms, &body).inspect_err(|_| {
        state.counters.rejected_invalid.fetch_add(1, Relaxed);
    })?;

    let started = tokio::time::Instant::now();
    let call = ctx.backend.infer(BackendRequest {
        endpoint: meta.terms.endpoint,
        body: validated.body,
        stream: validated.stream,
    });
    let resp = match tokio::time::timeout(meta.timeout, call).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            // A request the backend judged bad (e.g. an upload that is not audio) is the
            // caller's fault, not a failure of this worker.
            let counter =
                if e.status.is_client_error() { &state.counters.rejected_invalid } else { &state.counters.failed };
            counter.fetch_add(1, Relaxed);
            return Err(e);
        }
        Err(_) => {
            state.counters.failed.fetch_add(1, Relaxed);
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                "timeout",
                "backend did not answer in time",
            ));
        }
    };
    if !resp.status.is_success() {
        state.counters.failed.fetch_add(1, Relaxed);
        tracing::warn!(request_id = %meta.request_id, status = %resp.status, "backend refused the request");
        let mut out = Response::new(resp.body);
        *out.status_mut() = resp.status;
        if let Some(ct) = resp.content_type {
            out.headers_mut().insert(http::header::CONTENT_TYPE, ct);
        }
        return Ok(out);
    }
    let remaining = meta.timeout.saturating_sub(started.elapsed());
    let meter = Meter::new(state.clone(), slot, validated.stream, meta.request_id);
    let mut out = Response::new(Relay::new(resp.body, meter, Some(remaining)).boxed());
    if let Some(ct) = resp.content_type {
        out.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    }
    Ok(out)
}
