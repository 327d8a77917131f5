//! Relay and settle: streams the worker's answer to the client and, when it ends, charges
//! the usage (priced at the coefficient recorded at selection, bounded by what the request
//! could have produced) and re-emits the outcome trailers with the cost.
//!
//! A client that goes away does not end the request: the rest of the answer is read in the
//! background, up to the request's deadline, so the worker's usage is still collected and
//! charged (otherwise a client resetting its stream just before the trailers would pay
//! nothing).

use super::{dispatch::Answer, reserve::Reservation};
use crate::{registry::Running, Shared};
use bytes::Bytes;
use cocoon_openai::Usage;
use cocoon_proto::{outcome::OutcomeError, Outcome};
use cocoon_transport::{Body, BoxError, Observer, Relay};
use futures::StreamExt;
use http::{HeaderMap, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, BodyStream, StreamBody};
use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering::Relaxed},
        Arc,
    },
    task::{Context, Poll},
};
use tokio::time::Instant;

/// Prompt tokens a chat template may add beyond the body's bytes (role markers, a default
/// system prompt): the most a worker may report above one token per body byte.
pub const PROMPT_SLACK: u64 = 256;

/// Streams `answer` to the client; settles `reservation` when it ends.
pub fn relay(
    shared: &Arc<Shared>,
    answer: Answer,
    coefficient: u32,
    request_id: &str,
    stream: bool,
    reservation: Reservation,
    deadline: Instant,
) -> Response<Body> {
    let Answer { parts, first, rest, running } = answer;
    let head = futures::stream::iter(first.map(Ok::<_, BoxError>));
    let tail = BodyStream::new(super::dispatch::box_incoming(rest));
    let body: Body = StreamBody::new(head.chain(tail)).boxed_unsync();
    let detached = Arc::new(AtomicBool::new(false));
    let settle = Settle {
        shared: shared.clone(),
        running,
        reservation: Some(reservation),
        coefficient,
        request_id: request_id.to_string(),
        ended: false,
        stream,
        events: 0,
        detached: detached.clone(),
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    let relay = Relay::new(body, settle, Some(remaining));
    Response::from_parts(parts, ClientBody { relay: Some(relay), done: false, detached }.boxed_unsync())
}

/// The body the client reads. Dropped before its end (the client went away), it hands the
/// relay to a background task that reads the worker's answer to its end (or the deadline).
struct ClientBody {
    relay: Option<Relay<Settle>>,
    done: bool,
    detached: Arc<AtomicBool>,
}

impl HttpBody for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(relay) = this.relay.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(&mut *relay).poll_frame(cx);
        // Ended: by its last frame (the trailers, after which the reader stops asking), by
        // running out, or by failing. A body dropped after that has nothing left to read.
        if relay.is_end_stream() || matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.relay.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.relay.as_ref().map(HttpBody::size_hint).unwrap_or_default()
    }
}

impl Drop for ClientBody {
    fn drop(&mut self) {
        let Some(mut relay) = self.relay.take() else { return };
        if self.done {
            return;
        }
        self.detached.store(true, Relaxed);
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        rt.spawn(async move {
            // The relay ends by itself: the worker's trailers, its failure, or the deadline.
            while let Some(frame) = relay.frame().await {
                if frame.is_err() {
                    break;
                }
            }
        });
    }
}

/// Accounting at the end of a relayed request.
struct Settle {
    shared: Arc<Shared>,
    running: Running,
    reservation: Option<Reservation>,
    /// The price the worker was chosen at.
    coefficient: u32,
    request_id: String,
    ended: bool,
    stream: bool,
    /// SSE events relayed so far: what bounds a stream's completion tokens.
    events: u64,
    /// Set when the client went away and the answer is read in the background.
    detached: Arc<AtomicBool>,
}

impl Settle {
    /// What to charge: the worker's usage when it reported one, bounded by what the request
    /// could have produced; for a stream cut short, the completion chunks relayed (one token
    /// each, as streaming backends send them; the first carries only the role); nothing
    /// otherwise.
    fn usage(&self, reported: Option<&Usage>) -> Option<Usage> {
        let Some(r) = &self.reservation else { return reported.copied() };
        match reported {
            Some(u) => {
                let b = bound(u, r, self.stream.then_some(self.events));
                if b != *u {
                    tracing::warn!(request_id = %self.request_id, worker = %crate::worker_link::short(&self.running.worker().worker_id),
                        reported = ?u, charged = ?b, "the worker reported more tokens than the request could produce; charged the bound");
                }
                Some(b)
            }
            None => {
                let produced = self.events.saturating_sub(1).min(r.max_tokens);
                (self.stream && produced > 0).then(|| Usage {
                    completion_tokens: produced,
                    total_tokens: produced,
                    ..Usage::default()
                })
            }
        }
    }

    /// Settles the reservation for `usage` (already bounded by [`Settle::usage`]).
    fn charge(&mut self, usage: Option<Usage>) -> Option<u64> {
        let r = self.reservation.take()?;
        let worker = self.running.worker();
        r.settle(usage.as_ref(), &worker.worker_key, self.coefficient).map(|c| c.client)
    }
}

/// `u` bounded by the request: completion by its output bound (and, for a stream, by the
/// events relayed), prompt by its body, cached and reasoning by what they are part of.
fn bound(u: &Usage, r: &Reservation, events: Option<u64>) -> Usage {
    let mut completion = u.completion_tokens.min(r.max_tokens);
    if let Some(e) = events {
        completion = completion.min(e);
    }
    let prompt = u.prompt_tokens.min(r.body_bytes.saturating_add(PROMPT_SLACK));
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: u.cached_tokens.min(prompt),
        reasoning_tokens: u.reasoning_tokens.min(completion),
    }
}

/// Finds SSE event starts in relayed data.
static EVENT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"data:"));

impl Observer for Settle {
    fn on_data(&mut self, data: &Bytes) {
        if !self.detached.load(Relaxed) {
            self.shared.stats.bytes_out.fetch_add(data.len() as u64, Relaxed);
        }
        if self.stream {
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
        if self.detached.load(Relaxed) {
            stats.cancelled.fetch_add(1, Relaxed);
            tracing::debug!(request_id = %self.request_id, "the client went away; the answer was read to its end and charged");
        } else if ok {
            stats.succeeded.fetch_add(1, Relaxed);
        } else {
            stats.failed.fetch_add(1, Relaxed);
        }
        if let Some(e) = &outcome.error {
            tracing::warn!(request_id = %self.request_id, worker = %crate::worker_link::short(&worker.worker_id), code = %e.code, error = %e.message, "request failed mid-stream");
        }
        let usage = self.usage(outcome.usage.as_ref());
        if let Some(u) = &usage {
            stats.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
            stats.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        }
        outcome.usage = usage;
        outcome.cost = self.charge(usage);
        Some(Frame::trailers(outcome.to_trailers()))
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.ended {
            // The relay itself was dropped (the runtime is shutting down): charge what was relayed.
            self.shared.stats.cancelled.fetch_add(1, Relaxed);
            let usage = self.usage(None);
            self.charge(usage);
        }
    }
}
