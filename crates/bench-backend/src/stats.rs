//! Counters the backend keeps about its own traffic.
//!
//! Tests and benchmarks read them to check what actually reached the backend,
//! in particular whether streams were cut short when a client went away.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Live counters, updated lock-free by request handlers.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    streams_started: AtomicU64,
    streams_completed: AtomicU64,
    streams_cancelled: AtomicU64,
    models_requests: AtomicU64,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Completion requests received (valid or not).
    pub requests: u64,
    /// Streaming answers begun (each ends up completed or cancelled).
    pub streams_started: u64,
    /// Streams whose last chunk was handed to the HTTP layer.
    pub streams_completed: u64,
    /// Streams dropped before their last chunk was sent.
    pub streams_cancelled: u64,
    /// `GET /v1/models` requests.
    pub models_requests: u64,
}

impl Stats {
    /// Reads every counter now (each individually; the set is not one atomic cut).
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            streams_started: get(&self.streams_started),
            streams_completed: get(&self.streams_completed),
            streams_cancelled: get(&self.streams_cancelled),
            models_requests: get(&self.models_requests),
        }
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn models_request(&self) {
        self.models_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stream_started(&self) {
        self.streams_started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stream_completed(&self) {
        self.streams_completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stream_cancelled(&self) {
        self.streams_cancelled.fetch_add(1, Ordering::Relaxed);
    }
}
