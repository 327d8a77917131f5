//! The worker's live state: what operators can change at run time, and counters.
//!
//! Changes that proxies must know about (enabled, coefficient) go through a watch channel;
//! every proxy link streams it as status events.

use cocoon_openai::Usage;
use cocoon_proto::WorkerStatus;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use tokio::sync::watch;

/// The worker's run-time state: operator switch, backend health, price coefficient, load and
/// counters; status changes are published to every proxy link.
pub struct WorkerState {
    /// Set at shutdown: the worker finishes what runs and takes nothing new.
    draining: AtomicBool,
    admin_enabled: AtomicBool,
    backend_up: AtomicBool,
    coefficient: AtomicU32,
    status: watch::Sender<WorkerStatus>,
    /// Requests running right now over all proxy links.
    pub running: AtomicU32,
    /// Request and token counters since start, shown by `/stats`.
    pub counters: Counters,
}

/// The worker's request and token counters since start.
#[derive(Default)]
pub struct Counters {
    /// Inference requests received from proxies.
    pub requests: AtomicU64,
    /// Requests whose answer ended without an error.
    pub succeeded: AtomicU64,
    /// Requests that failed in the backend (errors, timeouts, non-2xx, or an error mid-stream).
    pub failed: AtomicU64,
    /// Requests refused because the link's share or the worker's `max_active` was full.
    pub rejected_busy: AtomicU64,
    /// Requests refused as bad: terms that disagree with the body, failed validation, or a 4xx from the backend.
    pub rejected_invalid: AtomicU64,
    /// Requests dropped by the proxy before their answer ended.
    pub cancelled: AtomicU64,
    /// Answer body bytes sent to proxies.
    pub bytes_out: AtomicU64,
    /// Prompt tokens reported in the backends' usage.
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens the backend served from its cache, as reported in its usage.
    pub cached_tokens: AtomicU64,
    /// Completion tokens reported in the backends' usage.
    pub completion_tokens: AtomicU64,
    /// Reasoning tokens (part of the completion) reported in the backends' usage.
    pub reasoning_tokens: AtomicU64,
}

/// A copy of [`Counters`] at one moment, serialized under `counters` in `/stats`.
#[derive(Serialize)]
pub struct CountersSnapshot {
    /// Inference requests received from proxies.
    pub requests: u64,
    /// Requests whose answer ended without an error.
    pub succeeded: u64,
    /// Requests that failed in the backend.
    pub failed: u64,
    /// Requests refused because the worker or the link was at its concurrency limit.
    pub rejected_busy: u64,
    /// Requests refused as bad (terms, validation, or a 4xx from the backend).
    pub rejected_invalid: u64,
    /// Requests dropped by the proxy before their answer ended.
    pub cancelled: u64,
    /// Answer body bytes sent to proxies.
    pub bytes_out: u64,
    /// Prompt tokens reported in the backends' usage.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the backend's cache.
    pub cached_tokens: u64,
    /// Completion tokens reported in the backends' usage.
    pub completion_tokens: u64,
    /// Reasoning tokens (part of the completion) reported in the backends' usage.
    pub reasoning_tokens: u64,
}

impl Counters {
    /// Adds one answer's token usage to the token counters.
    pub fn add_usage(&self, u: &Usage) {
        self.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
        self.cached_tokens.fetch_add(u.cached_tokens, Relaxed);
        self.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        self.reasoning_tokens.fetch_add(u.reasoning_tokens, Relaxed);
    }

    /// Reads every counter into a [`CountersSnapshot`].
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            requests: self.requests.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            rejected_busy: self.rejected_busy.load(Relaxed),
            rejected_invalid: self.rejected_invalid.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            prompt_tokens: self.prompt_tokens.load(Relaxed),
            cached_tokens: self.cached_tokens.load(Relaxed),
            completion_tokens: self.completion_tokens.load(Relaxed),
            reasoning_tokens: self.reasoning_tokens.load(Relaxed),
        }
    }
}

impl WorkerState {
    /// A worker at `coefficient` (per-mille), enabled by its operator but disabled until the backend is checked.
    pub fn new(coefficient: u32) -> Self {
        let (tx, _) = watch::channel(WorkerStatus {
            enabled: false,
            coefficient,
            reason: Some("backend not checked yet".into()),
        });
        Self {
            admin_enabled: AtomicBool::new(true),
            backend_up: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            coefficient: AtomicU32::new(coefficient),
            status: tx,
            running: AtomicU32::new(0),
            counters: Counters::default(),
        }
    }

    /// The status as proxies should see it now.
    pub fn status(&self) -> WorkerStatus {
        let admin = self.admin_enabled.load(Relaxed);
        let backend = self.backend_up.load(Relaxed);
        let draining = self.draining.load(Relaxed);
        let reason = match (draining, admin, backend) {
            (true, _, _) => Some("draining: shutting down".to_string()),
            (false, true, true) => None,
            (false, false, _) => Some("disabled by operator".to_string()),
            (false, true, false) => Some("backend is down".to_string()),
        };
        WorkerStatus { enabled: reason.is_none(), coefficient: self.coefficient.load(Relaxed), reason }
    }

    /// A receiver of the status as proxies should see it; a link streams each change to its proxy.
    pub fn subscribe(&self) -> watch::Receiver<WorkerStatus> {
        self.status.subscribe()
    }

    fn publish(&self) {
        let now = self.status();
        self.status.send_if_modified(|s| {
            if *s != now {
                *s = now;
                true
            } else {
                false
            }
        });
    }

    /// The operator's switch: enables or disables the worker and publishes the change.
    pub fn set_enabled(&self, on: bool) {
        self.admin_enabled.store(on, Relaxed);
        self.publish();
    }

    /// Records whether the backend is up and publishes the change; returns whether it changed.
    pub fn set_backend_up(&self, up: bool) -> bool {
        let was = self.backend_up.swap(up, Relaxed);
        self.publish();
        was != up
    }

    /// Sets the price coefficient (per-mille, 1000 = 1.0x) and publishes it to the proxies.
    pub fn set_coefficient(&self, c: u32) {
        self.coefficient.store(c, Relaxed);
        self.publish();
    }

    /// Whether the worker takes requests: enabled by its operator, its backend up, not draining.
    pub fn is_enabled(&self) -> bool {
        self.admin_enabled.load(Relaxed) && self.backend_up.load(Relaxed) && !self.draining.load(Relaxed)
    }

    /// Starts draining: the proxies are told the worker takes no new requests (those running
    /// go on). There is no way back: the worker is stopping.
    pub fn start_draining(&self) {
        self.draining.store(true, Relaxed);
        self.publish();
    }

    /// Requests running now.
    pub fn running(&self) -> u32 {
        self.running.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reflects_admin_and_backend() {
        let s = WorkerState::new(1000);
        let mut rx = s.subscribe();
        assert!(!s.status().enabled);
        s.set_backend_up(true);
        assert!(rx.has_changed().unwrap());
        assert!(rx.borrow_and_update().enabled);
        s.set_enabled(false);
        assert_eq!(rx.borrow_and_update().reason.as_deref(), Some("disabled by operator"));
        s.set_enabled(false);
        assert!(!rx.has_changed().unwrap(), "no event when nothing changed");
        s.set_coefficient(1500);
        assert_eq!(rx.borrow_and_update().coefficient, 1500);
    }
}
