//! The worker's live state: what operators can change at run time, and counters.
//!
//! Changes that proxies must know about (enabled, coefficient) go through a watch channel;
//! every proxy link streams it as status events.

use cocoon_openai::Usage;
use cocoon_proto::WorkerStatus;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use tokio::sync::watch;

pub struct WorkerState {
    admin_enabled: AtomicBool,
    backend_up: AtomicBool,
    coefficient: AtomicU32,
    status: watch::Sender<WorkerStatus>,
    pub running: AtomicU32,
    pub counters: Counters,
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub rejected_busy: AtomicU64,
    pub rejected_invalid: AtomicU64,
    pub cancelled: AtomicU64,
    pub bytes_out: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub reasoning_tokens: AtomicU64,
}

#[derive(Serialize)]
pub struct CountersSnapshot {
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub rejected_busy: u64,
    pub rejected_invalid: u64,
    pub cancelled: u64,
    pub bytes_out: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Counters {
    pub fn add_usage(&self, u: &Usage) {
        self.prompt_tokens.fetch_add(u.prompt_tokens, Relaxed);
        self.cached_tokens.fetch_add(u.cached_tokens, Relaxed);
        self.completion_tokens.fetch_add(u.completion_tokens, Relaxed);
        self.reasoning_tokens.fetch_add(u.reasoning_tokens, Relaxed);
    }

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
    pub fn new(coefficient: u32) -> Self {
        let (tx, _) = watch::channel(WorkerStatus {
            enabled: false,
            coefficient,
            reason: Some("backend not checked yet".into()),
        });
        Self {
            admin_enabled: AtomicBool::new(true),
            backend_up: AtomicBool::new(false),
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
        let reason = match (admin, backend) {
            (true, true) => None,
            (false, _) => Some("disabled by operator".to_string()),
            (true, false) => Some("backend is down".to_string()),
        };
        WorkerStatus { enabled: admin && backend, coefficient: self.coefficient.load(Relaxed), reason }
    }

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

    pub fn set_enabled(&self, on: bool) {
        self.admin_enabled.store(on, Relaxed);
        self.publish();
    }

    pub fn set_backend_up(&self, up: bool) -> bool {
        let was = self.backend_up.swap(up, Relaxed);
        self.publish();
        was != up
    }

    pub fn set_coefficient(&self, c: u32) {
        self.coefficient.store(c, Relaxed);
        self.publish();
    }

    pub fn is_enabled(&self) -> bool {
        self.admin_enabled.load(Relaxed) && self.backend_up.load(Relaxed)
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
