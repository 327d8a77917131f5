//! The proxy's request counters.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{
    atomic::{AtomicU64, Ordering::Relaxed},
    Mutex,
};

/// Most clients whose last request time is kept (for "active in the last 24 h"); past it,
/// entries older than a day are dropped, and new clients are not tracked until there is room.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// A day, in seconds: how long a client counts as active after a request.
const DAY_SECS: u64 = 86_400;

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
    /// Each client's last inference request (Unix seconds), bounded by [`MAX_TRACKED_CLIENTS`].
    last_seen: Mutex<HashMap<[u8; 32], u64>>,
    /// How long choosing a worker takes, per choice.
    pub selection: SelectionTime,
}

/// How long each worker selection took (from 0.1 µs, buckets 10% apart): `/stats` shows its
/// percentiles, `/metrics` exports it as `cocoon_proxy_selection_seconds`.
pub struct SelectionTime(pub cocoon_metrics::LogHistogram);

impl Default for SelectionTime {
    fn default() -> Self {
        Self(cocoon_metrics::LogHistogram::new(0.1))
    }
}

impl SelectionTime {
    /// Count, p50, p99 and the slowest, in microseconds (`null` before any choice).
    fn summary(&self) -> serde_json::Value {
        let q = |x: f64| self.0.quantile_us(x).map(|us| (us * 100.0).round() / 100.0);
        serde_json::json!({"count": self.0.count(), "p50_us": q(0.5), "p99_us": q(0.99), "max_us": q(1.0)})
    }
}

impl ProxyStats {
    /// Counts one refused client or worker connection and keeps `why` as the last refusal.
    pub fn refused(&self, why: String) {
        self.handshakes_refused.fetch_add(1, Relaxed);
        *self.last_refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// Notes a request from `client` at `now` (Unix seconds).
    pub fn seen(&self, client: &[u8; 32], now: u64) {
        let mut map = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = map.get_mut(client) {
            *t = now;
            return;
        }
        if map.len() >= MAX_TRACKED_CLIENTS {
            map.retain(|_, t| now.saturating_sub(*t) < DAY_SECS);
        }
        if map.len() < MAX_TRACKED_CLIENTS {
            map.insert(*client, now);
        }
    }

    /// Clients with a request within `window` seconds of `now`.
    pub fn clients_active(&self, now: u64, window: u64) -> usize {
        let map = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|t| now.saturating_sub(**t) < window).count()
    }

    /// Clients with a request since the proxy started (up to [`MAX_TRACKED_CLIENTS`]).
    pub fn clients_seen(&self) -> usize {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner()).len()
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
            clients_active_24h: usize,
            selection: serde_json::Value,
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
            clients_active_24h: self.clients_active(crate::payments::now_unix(), DAY_SECS),
            selection: self.selection.summary(),
        };
        serde_json::to_value(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_clients_age_out_and_the_map_stays_bounded() {
        let s = ProxyStats::default();
        s.seen(&[1; 32], 1_000);
        s.seen(&[2; 32], 1_000 + DAY_SECS);
        s.seen(&[1; 32], 1_000 + 10);
        assert_eq!(s.clients_active(1_010 + DAY_SECS, DAY_SECS), 1, "client 1 was last seen a day ago");
        assert_eq!(s.clients_active(1_010 + DAY_SECS - 1, DAY_SECS), 2);
        assert_eq!(s.clients_seen(), 2);
        // Full: old entries make room, fresh ones are kept.
        let mut map = s.last_seen.lock().unwrap();
        for i in 0..MAX_TRACKED_CLIENTS as u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            k[31] = 9;
            map.insert(k, 0);
        }
        drop(map);
        s.seen(&[3; 32], 5 * DAY_SECS);
        assert_eq!(s.clients_seen(), 1, "everything older than a day went");
        assert_eq!(s.clients_active(5 * DAY_SECS, DAY_SECS), 1);
    }
}
