//! Graceful drain: on SIGTERM a proxy stops taking new requests, lets the ones in flight
//! finish up to a deadline, and only then closes its worker links and makes its last commit
//! and anchor. [`Drain`] holds the state; each request holds a [`Running`] for its whole life
//! (admit to settlement, including an answer read to its end after its client left).

use cocoon_openai::ApiError;
use http::StatusCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether the proxy is draining, and how many requests are in flight.
#[derive(Default)]
pub struct Drain {
    draining: AtomicBool,
    in_flight: Arc<AtomicU64>,
}

/// One request in flight; counted until dropped.
pub struct Running(Arc<AtomicU64>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Drain {
    /// Counts a new request in, or refuses it (503 `draining`) once the drain has begun.
    pub fn admit(&self) -> Result<Running, ApiError> {
        if self.draining.load(Relaxed) {
            return Err(ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "draining",
                "this proxy is shutting down and takes no new requests; use another proxy",
            ));
        }
        self.in_flight.fetch_add(1, Relaxed);
        Ok(Running(self.in_flight.clone()))
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// Whether the drain has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    /// Begins the drain and waits until no request is in flight or `deadline` passes; returns
    /// how many were still running at the end.
    pub async fn run(&self, deadline: Duration) -> u64 {
        self.draining.store(true, Relaxed);
        let started = Instant::now();
        tracing::info!(
            in_flight = self.in_flight(),
            deadline_secs = deadline.as_secs(),
            "draining: no new requests; finishing those in flight"
        );
        while self.in_flight() > 0 && started.elapsed() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = self.in_flight();
        match left {
            0 => tracing::info!(took_ms = started.elapsed().as_millis() as u64, "drained"),
            n => tracing::warn!(in_flight = n, "drain deadline passed; stopping under requests in flight"),
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_refuses_new_requests_and_waits_for_running_ones() {
        let d = Arc::new(Drain::default());
        let running = d.admit().unwrap();
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.run(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(d.is_draining());
        let refused = d.admit().err().expect("refused while draining");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!waiter.is_finished(), "one request still runs");
        drop(running);
        assert_eq!(waiter.await.unwrap(), 0);
        // A request that never ends is left behind at the deadline.
        let d = Drain::default();
        let _stuck = d.admit().unwrap();
        assert_eq!(d.run(Duration::from_millis(120)).await, 1);
    }
}
