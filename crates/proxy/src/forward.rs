//! The request path through the proxy, one small step per function:
//!
//! 1. [`infer`] reads the routing metadata and the body (bad input: 4xx, nothing changes);
//! 2. billing reserves the request's maximum cost (the payment seam, see [`crate::billing`]);
//! 3. the registry picks a worker ([`crate::select`]);
//! 4. [`try_worker`] sends the request and waits for the first byte of the answer;
//!    a worker that fails before that is marked and the request retried once elsewhere;
//! 5. the answer is relayed to the client by a [`Relay`] whose [`Settle`] observer records
//!    the worker's health, charges the usage and notices a client that went away (dropping
//!    the relay resets the worker's stream, which cancels the backend request).

use crate::{
    billing::Reservation,
    registry::{Running, WorkerEntry},
    select::NoWorker,
    Shared,
};
use bytes::Bytes;
use cocoon_ledger::AccountId;
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::{inner_timeout, outcome::OutcomeError, path, InferMeta, Outcome};
use cocoon_transport::{error_response, full, read_limited, Body, BoxError, Observer, Relay, TransportError};
use futures::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use hyper::body::Incoming;
use std::{
    sync::{atomic::Ordering::Relaxed, Arc},
    time::{Duration, Instant},
};

pub async fn infer(shared: &Arc<Shared>, client: &AccountId, req: Request<Incoming>) -> Response<Body> {
    shared.stats.requests.fetch_add(1, Relaxed);
    match route(shared, client, req).await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status.is_client_error()
                && e.status != StatusCode::TOO_MANY_REQUESTS
                && e.status != StatusCode::NOT_FOUND
            {
                shared.stats.rejected_invalid.fetch_add(1, Relaxed);
            } else {
                shared.stats.failed.fetch_add(1, Relaxed);
            }
            error_response(&e)
        }
    }
}

async fn route(shared: &Arc<Shared>, client: &AccountId, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    // Parse: routing metadata from headers, body within the size limit.
    let mut meta = InferMeta::read(req.headers())
        .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, "bad_metadata", e.to_string()))?;
    meta.timeout = meta.timeout.min(shared.max_timeout);
    let body = read_limited(req.into_body(), shared.max_body).await.map_err(|e| match e {
        TransportError::TooLarge(n) => ApiError::from_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body over {n} bytes"),
        ),
        other => ApiError::from_status(StatusCode::BAD_REQUEST, "bad_body", other.to_string()),
    })?;
    let started = Instant::now();
    let deadline = started + meta.timeout;

    // Admit: the payment seam.
    let reservation = shared.billing.reserve(client, &meta, body.len())?;

    // Select and forward, retrying once on another worker if the first fails before any byte.
    let mut tried = None;
    let mut first_failure: Option<ApiError> = None;
    for attempt in 0..2 {
        let worker = match shared.registry.choose(&meta.model, meta.hardware.as_deref(), meta.max_coefficient, tried) {
            Ok(w) => w,
            Err(why) => {
                release(shared, reservation);
                // After a failed first attempt, that failure is the news, not the lack of a spare.
                return Err(first_failure.unwrap_or_else(|| {
                    shared.stats.no_worker.fetch_add(1, Relaxed);
                    no_worker_error(&meta, why)
                }));
            }
        };
        if attempt > 0 {
            shared.stats.retried.fetch_add(1, Relaxed);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        match try_worker(&worker, &meta, body.clone(), remaining).await {
            Attempt::Streaming(answer) => {
                return Ok(relay(shared, answer, &meta, reservation, deadline));
            }
            Attempt::Refused(resp) => {
                release(shared, reservation);
                return Ok(resp);
            }
            Attempt::Failed(e) => {
                tracing::warn!(request_id = %meta.request_id, worker = %crate::worker_link::short(&worker.worker_id), error = %e.message, attempt, "worker failed before the first byte");
                tried = Some(worker.link_id);
                if e.status == StatusCode::GATEWAY_TIMEOUT {
                    release(shared, reservation);
                    return Err(e);
                }
                first_failure.get_or_insert(e);
            }
        }
    }
    let err = first_failure
        .unwrap_or_else(|| ApiError::from_status(StatusCode::BAD_GATEWAY, "worker_failed", "worker failed"));
    release(shared, reservation);
    Err(err)
}

/// Ends a request that produced nothing: nothing is charged, the hold is released.
fn release(shared: &Shared, reservation: Reservation) {
    shared.billing.settle(reservation, None, &[0; 32], 0);
}

fn no_worker_error(meta: &InferMeta, why: NoWorker) -> ApiError {
    let m = &meta.model;
    match why {
        NoWorker::UnknownModel => {
            ApiError::from_status(StatusCode::NOT_FOUND, "model_not_found", format!("no worker serves model {m:?}"))
        }
        NoWorker::NoneEnabled => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_workers",
            format!("no enabled worker for model {m:?} right now"),
        ),
        NoWorker::NoHardware => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_matching_hardware",
            format!("no worker for model {m:?} has hardware {:?}", meta.hardware.as_deref().unwrap_or("")),
        ),
        NoWorker::TooExpensive { cheapest } => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "coefficient_too_low",
            format!(
                "cheapest worker for model {m:?} needs coefficient {cheapest}; max_coefficient is {}",
                meta.max_coefficient
            ),
        ),
        NoWorker::AllBusy => ApiError::from_status(
            StatusCode::TOO_MANY_REQUESTS,
            "all_workers_busy",
            format!("all workers for model {m:?} are busy; retry later"),
        ),
    }
}

/// A worker's answer whose first frame (if the body is not empty) has arrived.
struct Answer {
    parts: http::response::Parts,
    first: Option<Frame<Bytes>>,
    rest: Incoming,
    running: Running,
}

enum Attempt {
    /// The worker answered 200 and started its body.
    Streaming(Answer),
    /// The worker refused the request itself (bad request): passed to the client as is.
    Refused(Response<Body>),
    /// The worker failed before any byte reached the client: retryable.
    Failed(ApiError),
}

fn box_incoming(b: Incoming) -> Body {
    b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()
}

/// Sends the request to one worker and waits for its first byte.
async fn try_worker(worker: &Arc<WorkerEntry>, meta: &InferMeta, body: Bytes, remaining: Duration) -> Attempt {
    let timeout_err =
        || ApiError::from_status(StatusCode::GATEWAY_TIMEOUT, "timeout", "no answer from the worker in time");
    let running = Running::new(worker.clone());
    let mut hop = meta.clone();
    hop.timeout = inner_timeout(remaining);
    let mut req = Request::new(full(body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = cocoon_transport::peer_uri(path::INFER);
    if let Err(e) = hop.write(req.headers_mut()) {
        return Attempt::Failed(ApiError::from_status(StatusCode::BAD_REQUEST, "bad_metadata", e.to_string()));
    }
    let t0 = Instant::now();
    let mut send = worker.send.clone();
    let call = async move {
        send.ready().await?;
        send.send_request(req).await
    };
    let resp = match tokio::time::timeout(remaining, call).await {
        Err(_) => return Attempt::Failed(timeout_err()),
        Ok(Err(e)) => {
            worker.observe_outcome(false);
            return Attempt::Failed(ApiError::from_status(
                StatusCode::BAD_GATEWAY,
                "worker_failed",
                format!("worker link failed: {e}"),
            ));
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let body = read_limited(resp.into_body(), 64 * 1024).await.unwrap_or_default();
            if status.is_server_error() {
                worker.observe_outcome(false);
            }
            let e = ApiError::from_json(status, &body)
                .unwrap_or_else(|| ApiError::from_status(status, "worker_failed", format!("worker answered {status}")));
            return Attempt::Failed(e);
        }
        return Attempt::Refused(resp.map(box_incoming));
    }
    let (parts, mut rest) = resp.into_parts();
    let left = remaining.saturating_sub(t0.elapsed());
    let first = match tokio::time::timeout(left, rest.frame()).await {
        Err(_) => return Attempt::Failed(timeout_err()),
        Ok(None) => None,
        Ok(Some(Err(e))) => {
            worker.observe_outcome(false);
            return Attempt::Failed(ApiError::from_status(
                StatusCode::BAD_GATEWAY,
                "worker_failed",
                format!("worker failed before the first byte: {e}"),
            ));
        }
        Ok(Some(Ok(frame))) => {
            if let Some(err) = frame.trailers_ref().and_then(|t| Outcome::from_trailers(t).error) {
                worker.observe_outcome(false);
                return Attempt::Failed(ApiError::from_status(
                    StatusCode::BAD_GATEWAY,
                    "worker_failed",
                    format!("worker failed before the first byte: {}", err.message),
                ));
            }
            Some(frame)
        }
    };
    worker.observe_latency(t0.elapsed());
    Attempt::Streaming(Answer { parts, first, rest, running })
}

/// Streams the worker's answer to the client, settling when it ends.
fn relay(
    shared: &Arc<Shared>,
    answer: Answer,
    meta: &InferMeta,
    reservation: Reservation,
    deadline: Instant,
) -> Response<Body> {
    let Answer { parts, first, rest, running } = answer;
    let head = futures::stream::iter(first.map(Ok::<_, BoxError>));
    let tail = BodyStream::new(box_incoming(rest));
    let body: Body = StreamBody::new(head.chain(tail)).boxed_unsync();
    let settle = Settle {
        shared: shared.clone(),
        running,
        reservation: Some(reservation),
        request_id: meta.request_id.clone(),
        ended: false,
        stream: meta.stream,
        events: 0,
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    Response::from_parts(parts, Relay::new(body, settle, Some(remaining)).boxed())
}

/// Accounting at the end of a relayed request.
struct Settle {
    shared: Arc<Shared>,
    running: Running,
    reservation: Option<Reservation>,
    request_id: String,
    ended: bool,
    stream: bool,
    /// SSE events relayed so far: what a stream cut short is charged by.
    events: u64,
}

impl Settle {
    /// What to charge: the worker's usage when it reported one; for a stream cut short, the
    /// completion chunks the client received (one token each, as streaming backends send them;
    /// the first carries only the role); nothing otherwise.
    fn usage(&self, reported: Option<&Usage>) -> Option<Usage> {
        if let Some(u) = reported {
            return Some(*u);
        }
        let produced = self.events.saturating_sub(1);
        (self.stream && produced > 0).then(|| Usage {
            completion_tokens: produced,
            total_tokens: produced,
            ..Usage::default()
        })
    }

    fn charge(&mut self, reported: Option<&Usage>) -> Option<u64> {
        let r = self.reservation.take()?;
        let usage = self.usage(reported);
        let worker = self.running.worker();
        let cost = self.shared.billing.settle(r, usage.as_ref(), &worker.worker_key, worker.status().coefficient);
        cost.map(|c| c.client)
    }
}

/// Finds SSE event starts in relayed data.
static EVENT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"data:"));

impl Observer for Settle {
    fn on_data(&mut self, data: &Bytes) {
        self.shared.stats.bytes_out.fetch_add(data.len() as u64, Relaxed);
        if self.stream && self.reservation.as_ref().is_some_and(|r| r.hold.is_some()) {
            self.events += EVENT.find_iter(data).count() as u64;
        }
    }

    fn on_end(&mut self, trailers: Option<HeaderMap>, error: Option<OutcomeError>) -> Option<Frame<Bytes>> {
        self.ended = true;
        let worker = self.running.worker().clone();
        let mut outcome = trailers.as_ref().map(Outcome::from_trailers).unwrap_or_default();
        if let Some(mut e) = error {
            if e.code == "upstream_failed" {
                e = OutcomeError {
                    code: "worker_failed".into(),
                    message: format!("worker failed mid-stream: {}", e.message),
                };
            }
            outcome.error = Some(e);
        }
        let ok = outcome.error.is_none();
        worker.observe_outcome(ok);
        let stats = &self.shared.stats;
        if ok {
            stats.succeeded.fetch_add(1, Relaxed);
        } else {
            stats.failed.fetch_add(1, Relaxed);
            if let Some(e) = &outcome.error {
                tracing::warn!(request_id = %self.request_id, worker = %crate::worker_link::short(&worker.worker_id), code = %e.code, error = %e.message, "request failed mid-stream");
            }
        }
        if let Some(u) = &outcome.usage {
            stats.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
            stats.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        }
        outcome.cost = self.charge(outcome.usage.as_ref());
        Some(Frame::trailers(outcome.to_trailers()))
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.stats.cancelled.fetch_add(1, Relaxed);
            tracing::debug!(request_id = %self.request_id, "client went away; request cancelled at the worker");
            self.charge(None);
        }
    }
}
