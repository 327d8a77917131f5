//! The proxy's request counters.

use serde::Serialize;
use std::sync::{
    atomic::{AtomicU64, Ordering::Relaxed},
    Mutex,
};

/// The proxy's counters since it started, served as JSON on `/stats`.
#[derive(Default)]
pub struct ProxyStats {
    /// Inference requests received from clients.
    pub requests: AtomicU64,
    /// Requests whose answer was relayed to its end without an error.
    pub succeeded: AtomicU64,
    /// Requests that failed on a worker or in the proxy (client mistakes go to `rejected_invalid`).
    pub failed: AtomicU64,
    /// Requests sent to a second worker after the first failed before its first byte.
    pub retried: AtomicU64,
    /// Requests no connected worker could take (unknown model, none enabled, too expensive, all busy).
    pub no_worker: AtomicU64,
    /// Requests refused as the client's fault (a 4xx other than 404 and 429).
    pub rejected_invalid: AtomicU64,
    /// Requests whose client went away before the answer ended (the answer was still read and charged).
    pub cancelled: AtomicU64,
    /// Answer body bytes relayed to clients.
    pub bytes_out: AtomicU64,
    /// Prompt tokens of finished requests, as bounded and billed by the proxy.
    pub prompt_tokens: AtomicU64,
    /// Completion tokens of finished requests, as bounded and billed by the proxy.
    pub completion_tokens: AtomicU64,
    /// Client links open right now (a gauge: decremented when a link ends).
    pub clients_connected: AtomicU64,
    /// Client and worker connections refused during admission (TLS/attestation or the worker's claims).
    pub handshakes_refused: AtomicU64,
    /// Why the most recent connection was refused, prefixed with its role and address.
    pub last_refusal: Mutex<Option<String>>,
}

impl ProxyStats {
    /// Counts one refused client or worker connection and keeps `why` as the last refusal.
    pub fn refused(&self, why: String) {
        self.handshakes_refused.fetch_add(1, Relaxed);
        *self.last_refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// The counters as one JSON object, for `/stats`.
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
