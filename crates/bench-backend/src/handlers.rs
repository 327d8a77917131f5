//! HTTP handlers of the bench backend.
//!
//! Thin glue between axum and the pre-rendering in `response`/`stream`: parse
//! the request, pick the chunk count, and answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use cocoon_openai::{ApiError, Endpoint};

use crate::request::BenchRequest;
use crate::response::{full_body, Meta, StreamParts};
use crate::stats::StatsSnapshot;
use crate::stream::ChunkStream;
use crate::Inner;

type Shared = State<Arc<Inner>>;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) async fn health() -> &'static str {
    "ok"
}

pub(crate) async fn stats(State(inner): Shared) -> Json<StatsSnapshot> {
    Json(inner.stats.snapshot())
}

pub(crate) async fn models(State(inner): Shared) -> Response {
    inner.stats.models_request();
    json_response(StatusCode::OK, inner.models_body.clone())
}

pub(crate) async fn chat_completions(State(inner): Shared, body: Bytes) -> Response {
    complete(&inner, Endpoint::ChatCompletions, &body).await
}

pub(crate) async fn completions(State(inner): Shared, body: Bytes) -> Response {
    complete(&inner, Endpoint::Completions, &body).await
}

/// The latest completion request's body, byte for byte.
pub(crate) async fn last_request(State(inner): Shared) -> Bytes {
    inner.last_request.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

async fn complete(inner: &Arc<Inner>, endpoint: Endpoint, body: &[u8]) -> Response {
    inner.stats.request();
    *inner.last_request.lock().unwrap_or_else(|p| p.into_inner()) = Bytes::copy_from_slice(body);
    let req = match BenchRequest::parse(endpoint, body, &inner.opts.model) {
        Ok(req) => req,
        Err(e) => return error_response(&e),
    };
    let chunks = match req.max_tokens {
        Some(max) => inner.opts.chunks.min(usize::try_from(max).unwrap_or(usize::MAX)),
        None => inner.opts.chunks,
    };
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let meta = Meta::new(endpoint, id, unix_now(), &inner.model_json);
    let delay = (inner.opts.delay_ms > 0).then(|| Duration::from_millis(inner.opts.delay_ms));

    if req.stream {
        let usage = req.include_usage.then_some((req.prompt_tokens, chunks as u64));
        let parts = StreamParts::new(endpoint, &meta, &inner.chunk, usage);
        let stream = ChunkStream::new(parts, chunks, delay, inner.opts.flush, inner.stats.clone());
        let mut res = Response::new(Body::from_stream(stream));
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return res;
    }

    if let Some(d) = delay {
        tokio::time::sleep(d.saturating_mul(u32::try_from(chunks).unwrap_or(u32::MAX))).await;
    }
    let body = full_body(endpoint, &meta, &inner.chunk, chunks, req.choices, req.prompt_tokens);
    json_response(StatusCode::OK, Bytes::from(body))
}

pub(crate) fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    json_response(e.status, e.to_json())
}
