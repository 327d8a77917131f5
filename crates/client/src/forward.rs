//! The request path through the client, one step per function:
//!
//! 1. [`completions`] reads the body within its limit and lifts out the routing fields
//!    (`max_coefficient`, `timeout`, `hardware` are ours and never reach the backend);
//! 2. [`send`] picks a proxy and fails over to another if a link breaks before an answer;
//! 3. a streaming answer is relayed byte for byte ([`Finish`] counts it and turns a failure
//!    after the first byte into a final SSE error event); a non-streaming one is buffered so a
//!    failure becomes a proper HTTP error.

use crate::{pool::InFlight, Shared};
use bytes::Bytes;
use cocoon_openai::{extract_routing, ApiError, Endpoint, RoutingFields};
use cocoon_proto::{inner_timeout, outcome::OutcomeError, path, InferMeta, Outcome, Terms};
use cocoon_transport::{error_response, full, read_limited, Body, BoxError, Observer, Relay, TransportError};
use http::{header, HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Limited};
use std::{
    sync::{atomic::Ordering::Relaxed, Arc},
    time::{Duration, Instant},
};

/// Largest non-streaming answer we buffer.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

fn status_for(code: &str) -> StatusCode {
    if code == "timeout" {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// Handles `POST /v1/chat/completions` and `POST /v1/completions`.
pub async fn completions<B>(shared: &Arc<Shared>, endpoint: Endpoint, body: B) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    counted(shared, run(shared, endpoint, body, Instant::now())).await
}

/// Handles a request whose routing fields were read elsewhere (transcriptions: from a form).
pub async fn routed(shared: &Arc<Shared>, endpoint: Endpoint, routing: RoutingFields, body: Bytes) -> Response<Body> {
    counted(shared, dispatch(shared, endpoint, routing, body, Instant::now())).await
}

/// Counts a request, and counts and answers its error if it fails before an answer.
async fn counted(
    shared: &Shared,
    request: impl std::future::Future<Output = Result<Response<Body>, ApiError>>,
) -> Response<Body> {
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Relaxed);
    match request.await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status.is_client_error() {
                stats.rejected.fetch_add(1, Relaxed);
            } else {
                stats.failed.fetch_add(1, Relaxed);
            }
            error_response(&e)
        }
    }
}

async fn run<B>(shared: &Arc<Shared>, endpoint: Endpoint, body: B, started: Instant) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let raw = read_limited(body, shared.max_body).await.map_err(|e| match e {
        TransportError::TooLarge(n) => ApiError::from_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body over {n} bytes"),
        ),
        other => ApiError::from_status(StatusCode::BAD_REQUEST, "bad_body", other.to_string()),
    })?;
    let (routing, clean) = extract_routing(&raw, shared.max_body)?;
    if endpoint == Endpoint::Embeddings {
        // Refused here, before a proxy is dialed or anything is reserved, when it is malformed.
        cocoon_openai::embeddings::EmbeddingRequest::parse(&clean)?;
    }
    dispatch(shared, endpoint, routing, clean, started).await
}

/// Routes one request through the network and relays (streaming) or buffers (otherwise) the
/// answer.
async fn dispatch(
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    routing: RoutingFields,
    clean: Bytes,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    let timeout = Duration::from_secs_f64(routing.timeout.unwrap_or(shared.default_timeout_secs));
    let meta = InferMeta {
        request_id: format!("{:016x}", rand::random::<u64>()),
        terms: Terms::of(endpoint, &routing),
        max_coefficient: routing.max_coefficient.unwrap_or(shared.default_max_coefficient),
        timeout: inner_timeout(timeout),
        hardware: routing.hardware,
    };
    let deadline = started + timeout;
    let (resp, in_flight) = send(shared, &meta, clean, deadline).await?;
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    let body = resp.into_body().map_err(|e| Box::new(e) as BoxError).boxed_unsync();
    if !status.is_success() {
        // The network refused the request (no worker, bad input, busy): its JSON error as is.
        let counter = if status.is_client_error() { &shared.stats.rejected } else { &shared.stats.failed };
        counter.fetch_add(1, Relaxed);
        let mut out = Response::new(body);
        *out.status_mut() = status;
        if let Some(ct) = content_type {
            out.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        return Ok(out);
    }
    shared.stats.first_byte.record(started.elapsed());
    let finish = Finish {
        shared: shared.clone(),
        _in_flight: in_flight,
        started,
        stream: meta.terms.stream,
        ended: false,
        request_id: meta.request_id.clone(),
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    if meta.terms.stream {
        let mut out = Response::new(Relay::new(body, finish, Some(remaining)).boxed());
        out.headers_mut()
            .insert(header::CONTENT_TYPE, content_type.unwrap_or(http::HeaderValue::from_static("text/event-stream")));
        out.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
        return Ok(out);
    }
    // Non-streaming: buffer, so that a failure can still become an HTTP error status.
    let collected = Relay::new(body, finish, Some(remaining));
    let collected = Limited::new(collected, MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| ApiError::from_status(StatusCode::BAD_GATEWAY, "proxy_failed", e.to_string()))?;
    let outcome = collected.trailers().map(Outcome::from_trailers).unwrap_or_default();
    if let Some(e) = outcome.error {
        // Already counted as failed by `Finish`.
        return Ok(error_response(&ApiError::from_status(status_for(&e.code), &e.code, e.message)));
    }
    let body = match outcome.cost {
        Some(cost) => with_total_cost(collected.to_bytes(), cost),
        None => collected.to_bytes(),
    };
    let mut out = Response::new(full(body));
    out.headers_mut()
        .insert(header::CONTENT_TYPE, content_type.unwrap_or(http::HeaderValue::from_static("application/json")));
    Ok(out)
}

/// Sends the request to a proxy, failing over while links break before an answer.
async fn send(
    shared: &Arc<Shared>,
    meta: &InferMeta,
    body: Bytes,
    deadline: Instant,
) -> Result<(Response<hyper::body::Incoming>, InFlight), ApiError> {
    let mut tried = Vec::new();
    let mut last_error: Option<String> = None;
    loop {
        let Some((i, mut send, in_flight)) = shared.pool.pick(&tried) else {
            let why = last_error.unwrap_or_else(|| "no proxy is connected".into());
            return Err(ApiError::from_status(
                StatusCode::BAD_GATEWAY,
                "no_proxy",
                format!("cannot reach any proxy: {why}"),
            ));
        };
        if !tried.is_empty() {
            shared.stats.failovers.fetch_add(1, Relaxed);
        }
        tried.push(i);
        let mut req = Request::new(full(body.clone()));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = cocoon_transport::peer_uri(path::INFER);
        meta.write(req.headers_mut())
            .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, "invalid_field", e.to_string()))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let call = async {
            send.ready().await?;
            send.send_request(req).await
        };
        match tokio::time::timeout(remaining, call).await {
            Err(_) => {
                return Err(ApiError::from_status(
                    StatusCode::GATEWAY_TIMEOUT,
                    "timeout",
                    "no answer from the network in time",
                ))
            }
            Ok(Ok(resp)) => return Ok((resp, in_flight)),
            Ok(Err(e)) => {
                let slot = in_flight.slot();
                slot.failures.fetch_add(1, Relaxed);
                tracing::warn!(request_id = %meta.request_id, proxy = %slot.address, error = %e, "proxy failed before answering; trying another");
                last_error = Some(format!("{}: {e}", slot.address));
            }
        }
    }
}

/// Accounting at the end of an answer; a failure after the first byte becomes an SSE error event.
struct Finish {
    shared: Arc<Shared>,
    _in_flight: InFlight,
    started: Instant,
    /// Streaming readers get errors as a final SSE event; others read the trailers.
    stream: bool,
    ended: bool,
    request_id: String,
}

impl Observer for Finish {
    fn on_data(&mut self, data: &Bytes) {
        self.shared.stats.bytes_out.fetch_add(data.len() as u64, Relaxed);
    }

    fn on_end(&mut self, trailers: Option<HeaderMap>, error: Option<OutcomeError>) -> Option<Frame<Bytes>> {
        self.ended = true;
        let stats = &self.shared.stats;
        stats.total.record(self.started.elapsed());
        let mut outcome = trailers.as_ref().map(Outcome::from_trailers).unwrap_or_default();
        if let Some(mut e) = error {
            if e.code == "upstream_failed" {
                e = OutcomeError {
                    code: "proxy_failed".into(),
                    message: format!("proxy link lost mid-stream: {}", e.message),
                };
            }
            outcome.error = Some(e);
        }
        if let Some(u) = &outcome.usage {
            stats.add_usage(u);
        }
        if let Some(c) = outcome.cost {
            stats.spent.fetch_add(c, Relaxed);
        }
        let Some(e) = &outcome.error else {
            stats.succeeded.fetch_add(1, Relaxed);
            if self.stream {
                // The usage chunk went out before the proxy priced it: tell the app in an SSE
                // comment, which OpenAI clients skip.
                return outcome.cost.map(|c| Frame::data(Bytes::from(format!(": cocoon total_cost={c}\n\n"))));
            }
            return Some(Frame::trailers(outcome.to_trailers()));
        };
        stats.failed.fetch_add(1, Relaxed);
        tracing::warn!(request_id = %self.request_id, code = %e.code, error = %e.message, "request failed after its answer started");
        if !self.stream {
            return Some(Frame::trailers(outcome.to_trailers()));
        }
        let err = ApiError::from_status(status_for(&e.code), &e.code, e.message.clone());
        let mut event = Vec::with_capacity(64);
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&err.to_json());
        event.extend_from_slice(b"\n\n");
        Some(Frame::data(Bytes::from(event)))
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.stats.cancelled.fetch_add(1, Relaxed);
            tracing::debug!(request_id = %self.request_id, "app went away; request cancelled upstream");
        }
    }
}

/// Adds `usage.total_cost` (nanotons, as Cocoon does) to a JSON answer; anything that is not a
/// JSON object with a `usage` object passes unchanged.
fn with_total_cost(body: Bytes, cost: u64) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else { return body };
    let Some(usage) = v.get_mut("usage").and_then(serde_json::Value::as_object_mut) else { return body };
    usage.insert("total_cost".into(), serde_json::Value::from(cost));
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or(body)
}
