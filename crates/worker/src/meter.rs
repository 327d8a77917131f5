//! Per-request accounting on the worker: concurrency slots and token usage.
//!
//! A [`Slot`] holds one of the worker's concurrency permits for as long as a request runs.
//! [`Meter`] watches the backend's response on its way out, counts the tokens from its
//! `usage` (streaming: parsed from the SSE events; otherwise from the JSON body) and reports
//! them to the proxy in the trailers.

use crate::state::WorkerState;
use bytes::{Bytes, BytesMut};
use cocoon_openai::{usage_from_body, SseUsageCounter};
use cocoon_proto::{outcome::OutcomeError, Outcome};
use cocoon_transport::Observer;
use http::HeaderMap;
use http_body::Frame;
use std::sync::{
    atomic::{AtomicU32, Ordering::Relaxed},
    Arc,
};

/// One concurrency permit, counted on this proxy link and on the worker as a whole.
pub struct Slot {
    link: Arc<AtomicU32>,
    state: Arc<WorkerState>,
}

impl Slot {
    /// Takes a permit if both the link's share and the worker's total allow it.
    pub fn try_take(
        link: &Arc<AtomicU32>,
        link_limit: u32,
        state: &Arc<WorkerState>,
        total_limit: u32,
    ) -> Option<Self> {
        if link.fetch_add(1, Relaxed) >= link_limit {
            link.fetch_sub(1, Relaxed);
            return None;
        }
        if state.running.fetch_add(1, Relaxed) >= total_limit {
            state.running.fetch_sub(1, Relaxed);
            link.fetch_sub(1, Relaxed);
            return None;
        }
        Some(Self { link: link.clone(), state: state.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.link.fetch_sub(1, Relaxed);
        self.state.running.fetch_sub(1, Relaxed);
    }
}

/// Largest non-streaming body we buffer to find its usage.
const MAX_BUFFERED: usize = 4 * 1024 * 1024;

/// Watches one backend answer on its way to the proxy: counts its bytes and tokens, reports the
/// usage and outcome in the trailers, and holds the request's [`Slot`] until it ends.
pub struct Meter {
    state: Arc<WorkerState>,
    _slot: Slot,
    stream: bool,
    sse: SseUsageCounter,
    buffered: BytesMut,
    request_id: String,
    ended: bool,
}

impl Meter {
    /// Meters a request holding `slot`; `stream` says whether its usage comes from SSE events or the JSON body.
    pub fn new(state: Arc<WorkerState>, slot: Slot, stream: bool, request_id: String) -> Self {
        Self {
            state,
            _slot: slot,
            stream,
            sse: SseUsageCounter::new(),
            buffered: BytesMut::new(),
            request_id,
            ended: false,
        }
    }
}

impl Observer for Meter {
    fn on_data(&mut self, data: &Bytes) {
        self.state.counters.bytes_out.fetch_add(data.len() as u64, Relaxed);
        if self.stream {
            self.sse.feed(data);
        } else if self.buffered.len() + data.len() <= MAX_BUFFERED {
            self.buffered.extend_from_slice(data);
        }
    }

    fn on_end(&mut self, _trailers: Option<HeaderMap>, mut error: Option<OutcomeError>) -> Option<Frame<Bytes>> {
        self.ended = true;
        if self.stream {
            self.sse.finish();
            // A backend that fails mid-stream says so in an SSE event; the relay saw a clean end.
            if let (None, Some(msg)) = (&error, self.sse.error()) {
                error = Some(OutcomeError { code: "backend_error".into(), message: format!("backend error: {msg}") });
            }
            // Every OpenAI-compatible server ends a complete stream with `data: [DONE]`; a
            // clean end without it (a body that is not an event stream, or one cut short at a
            // chunk boundary) is an incomplete answer, not a success.
            if error.is_none() && !self.sse.saw_done() {
                error = Some(OutcomeError {
                    code: "backend_error".into(),
                    message: "the backend's stream ended before its closing [DONE] event: the answer is incomplete"
                        .into(),
                });
            }
        }
        let usage = if self.stream { self.sse.usage() } else { usage_from_body(&self.buffered) };
        let c = &self.state.counters;
        if let Some(u) = &usage {
            c.add_usage(u);
        }
        match &error {
            None => {
                c.succeeded.fetch_add(1, Relaxed);
                if usage.is_none() {
                    tracing::warn!(request_id = %self.request_id, "backend response carried no usage; tokens not counted");
                }
            }
            Some(e) => {
                c.failed.fetch_add(1, Relaxed);
                tracing::warn!(request_id = %self.request_id, code = %e.code, error = %e.message, "request ended with an error");
            }
        }
        Some(Frame::trailers(Outcome { usage, error, cost: None }.to_trailers()))
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if !self.ended {
            self.state.counters.cancelled.fetch_add(1, Relaxed);
            tracing::debug!(request_id = %self.request_id, "request cancelled by the proxy; backend request dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_respect_both_limits() {
        let state = Arc::new(WorkerState::new(1000));
        let link = Arc::new(AtomicU32::new(0));
        let a = Slot::try_take(&link, 2, &state, 3).unwrap();
        let _b = Slot::try_take(&link, 2, &state, 3).unwrap();
        assert!(Slot::try_take(&link, 2, &state, 3).is_none(), "link share exhausted");
        let other = Arc::new(AtomicU32::new(0));
        let _c = Slot::try_take(&other, 2, &state, 3).unwrap();
        assert!(Slot::try_take(&other, 2, &state, 3).is_none(), "worker total exhausted");
        drop(a);
        assert!(Slot::try_take(&other, 2, &state, 3).is_some());
        assert_eq!(link.load(Relaxed), 1);
    }
}
