//! The client's counters and latency histograms.

use crate::latency::Histogram;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    pub cancelled: AtomicU64,
    pub failovers: AtomicU64,
    pub bytes_out: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub reasoning_tokens: AtomicU64,
    /// Nanotons the proxies charged for this process's requests.
    pub spent: AtomicU64,
    /// Time until the first byte of the answer.
    pub first_byte: Histogram,
    /// Time until the whole answer.
    pub total: Histogram,
}

impl ClientStats {
    pub fn add_usage(&self, u: &cocoon_openai::Usage) {
        self.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
        self.cached_tokens.fetch_add(u.cached_tokens, Relaxed);
        self.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        self.reasoning_tokens.fetch_add(u.reasoning_tokens, Relaxed);
    }

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
