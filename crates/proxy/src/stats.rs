//! The proxy's request counters.

use serde::Serialize;
use std::sync::{
    atomic::{AtomicU64, Ordering::Relaxed},
    Mutex,
};

#[derive(Default)]
pub struct ProxyStats {
    pub requests: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub no_worker: AtomicU64,
    pub rejected_invalid: AtomicU64,
    pub cancelled: AtomicU64,
    pub bytes_out: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub clients_connected: AtomicU64,
    pub handshakes_refused: AtomicU64,
    pub last_refusal: Mutex<Option<String>>,
}

impl ProxyStats {
    pub fn refused(&self, why: String) {
        self.handshakes_refused.fetch_add(1, Relaxed);
        *self.last_refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    pub fn snapshot(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct S {
            requests: u64,
            succeeded: u64,
            failed: u64,
            retried: u64,
            no_worker: u64,
            rejected_invalid: u64,
            cancelled: u64,
            bytes_out: u64,
            prompt_tokens: u64,
            completion_tokens: u64,
            clients_connected: u64,
            handshakes_refused: u64,
            last_refusal: Option<String>,
        }
        let s = S {
            requests: self.requests.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retried: self.retried.load(Relaxed),
            no_worker: self.no_worker.load(Relaxed),
            rejected_invalid: self.rejected_invalid.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            prompt_tokens: self.prompt_tokens.load(Relaxed),
            completion_tokens: self.completion_tokens.load(Relaxed),
            clients_connected: self.clients_connected.load(Relaxed),
            handshakes_refused: self.handshakes_refused.load(Relaxed),
            last_refusal: self.last_refusal.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        serde_json::to_value(s).unwrap_or_default()
    }
}
