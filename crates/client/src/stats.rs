//! The client's counters and latency histograms.

use crate::latency::Histogram;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The client's counters and latency histograms since start, served as JSON on `/stats`.
#[derive(Default)]
pub struct ClientStats {
    /// Inference requests received from the app.
    pub requests: AtomicU64,
    /// Requests whose answer ended without an error.
    pub succeeded: AtomicU64,
    /// Requests that failed with a 5xx from the client or the network, or after their answer started.
    pub failed: AtomicU64,
    /// Requests answered with a 4xx by the client or the network (bad input, unknown model, all busy).
    pub rejected: AtomicU64,
    /// Requests the app went away from before the answer ended.
    pub cancelled: AtomicU64,
    /// Times a request was sent to another proxy after one failed before answering.
    pub failovers: AtomicU64,
    /// Answer body bytes relayed to the app.
    pub bytes_out: AtomicU64,
    /// Prompt tokens in the usage of finished answers.
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens served from a backend's cache, from the usage of finished answers.
    pub cached_tokens: AtomicU64,
    /// Completion tokens in the usage of finished answers.
    pub completion_tokens: AtomicU64,
    /// Reasoning tokens (part of the completion) in the usage of finished answers.
    pub reasoning_tokens: AtomicU64,
    /// Nanotons the proxies charged for this process's requests.
    pub spent: AtomicU64,
    /// Time until the first byte of the answer.
    pub first_byte: Histogram,
    /// Time until the whole answer.
    pub total: Histogram,
}

impl ClientStats {
    /// Adds one answer's token usage to the token counters.
    pub fn add_usage(&self, u: &cocoon_openai::Usage) {
        self.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
        self.cached_tokens.fetch_add(u.cached_tokens, Relaxed);
        self.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        self.reasoning_tokens.fetch_add(u.reasoning_tokens, Relaxed);
    }

    /// The counters, tokens and latency percentiles as one JSON object, for `/stats`.
    pub fn snapshot(&self) -> serde_json::Value {
        let l = |a: &AtomicU64| a.load(Relaxed);
        serde_json::json!({
            "requests": l(&self.requests),
            "succeeded": l(&self.succeeded),
            "failed": l(&self.failed),
            "rejected": l(&self.rejected),
            "cancelled": l(&self.cancelled),
            "failovers": l(&self.failovers),
            "bytes_out": l(&self.bytes_out),
            "tokens": {
                "prompt": l(&self.prompt_tokens),
                "cached": l(&self.cached_tokens),
                "completion": l(&self.completion_tokens),
                "reasoning": l(&self.reasoning_tokens),
            },
            "latency": {
                "first_byte": self.first_byte.summary(),
                "total": self.total.summary(),
            },
        })
    }
}
