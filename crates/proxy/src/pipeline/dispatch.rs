//! Dispatch: sends the request, under its terms, to the chosen worker and waits for the first
//! byte of the answer; a worker that fails before that is marked and the request may be
//! retried elsewhere.

use super::choose::Chosen;
use crate::registry::Running;
use bytes::Bytes;
use cocoon_openai::ApiError;
use cocoon_proto::{inner_timeout, path, InferMeta, Outcome};
use cocoon_transport::{full, read_limited, Body, BoxError};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::{Duration, Instant};

/// A worker's answer whose first frame (if the body is not empty) has arrived.
pub struct Answer {
    /// The worker's response status and headers.
    pub parts: http::response::Parts,
    /// The first body frame, already read to know the worker started; `None` when the body was empty.
    pub first: Option<Frame<Bytes>>,
    /// The rest of the worker's body, still to be relayed.
    pub rest: Incoming,
    /// Counts the request on the worker's load until the answer is over.
    pub running: Running,
}

/// How one attempt at a worker went.
pub enum Attempt {
    /// The worker answered 200 and started its body.
    Streaming(Answer),
    /// The worker refused the request itself (bad request): passed to the client as is.
    Refused(Response<Body>),
    /// The worker failed before any byte reached the client: retryable.
    Failed(ApiError),
}

/// A worker's body as the relay's body type.
pub fn box_incoming(b: Incoming) -> Body {
    b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()
}

fn worker_failed(msg: String) -> ApiError {
    ApiError::from_status(StatusCode::BAD_GATEWAY, "worker_failed", msg)
}

/// Sends the request to `chosen` (its coefficient written into the terms) and waits for the
/// first byte, within `remaining`.
pub async fn dispatch(chosen: &Chosen, meta: &InferMeta, body: Bytes, remaining: Duration) -> Attempt {
    let worker = &chosen.worker;
    let timeout_err =
        || ApiError::from_status(StatusCode::GATEWAY_TIMEOUT, "timeout", "no answer from the worker in time");
    let running = Running::new(worker.clone());
    let mut hop = meta.clone();
    hop.timeout = inner_timeout(remaining);
    hop.terms.coefficient = Some(chosen.coefficient);
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
            return Attempt::Failed(worker_failed(format!("worker link failed: {e}")));
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let body = tokio::time::timeout(Duration::from_secs(5), read_limited(resp.into_body(), 64 * 1024))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
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
            return Attempt::Failed(worker_failed(format!("worker failed before the first byte: {e}")));
        }
        Ok(Some(Ok(frame))) => {
            if let Some(err) = frame.trailers_ref().and_then(|t| Outcome::from_trailers(t).error) {
                worker.observe_outcome(false);
                return Attempt::Failed(worker_failed(format!("worker failed before the first byte: {}", err.message)));
            }
            Some(frame)
        }
    };
    worker.observe_latency(t0.elapsed());
    Attempt::Streaming(Answer { parts, first, rest, running })
}
