//! Decayed per-worker health: peak-EWMA latency and a decayed success rate.
//!
//! Peak-EWMA (as in linkerd and tower's `balance`): a latency above the current estimate is
//! adopted at once, lower ones are blended in with a weight that decays with time, so a worker
//! that turns slow is avoided immediately and forgiven gradually. While a worker gets no
//! requests its estimate decays toward zero, so an idle or never-measured worker is tried again
//! before long instead of being starved by the one that happened to answer first.

use std::time::{Duration, Instant};

const LATENCY_DECAY: Duration = Duration::from_secs(10);
/// Weight of one outcome in the success rate.
const SUCCESS_ALPHA: f64 = 0.2;
/// Latency assumed for a worker we have not measured yet.
pub const DEFAULT_LATENCY_MS: f64 = 50.0;

/// One worker's decayed latency and success estimates, fed by its requests and read by
/// worker selection.
#[derive(Debug, Clone)]
pub struct Health {
    latency_ms: f64,
    success: f64,
    updated: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Self { latency_ms: DEFAULT_LATENCY_MS, success: 1.0, updated: Instant::now() }
    }
}

fn weight(elapsed: Duration, decay: Duration) -> f64 {
    (-elapsed.as_secs_f64() / decay.as_secs_f64()).exp()
}

impl Health {
    /// Records the time to first byte of a request that got one.
    pub fn observe_latency(&mut self, rtt: Duration, now: Instant) {
        let rtt_ms = rtt.as_secs_f64() * 1000.0;
        if rtt_ms > self.latency_ms {
            self.latency_ms = rtt_ms;
        } else {
            let w = weight(now.saturating_duration_since(self.updated), LATENCY_DECAY);
            self.latency_ms = self.latency_ms * w + rtt_ms * (1.0 - w);
        }
        self.updated = now;
    }

    /// Records whether a request succeeded; each outcome moves the rate by [`SUCCESS_ALPHA`].
    pub fn observe_outcome(&mut self, ok: bool) {
        self.success = self.success * (1.0 - SUCCESS_ALPHA) + if ok { SUCCESS_ALPHA } else { 0.0 };
    }

    /// The estimate as of `now`: decayed toward zero for the time without samples.
    pub fn latency_ms_at(&self, now: Instant) -> f64 {
        self.latency_ms * weight(now.saturating_duration_since(self.updated), LATENCY_DECAY)
    }

    /// The decayed success rate, in [0, 1] (1.0 until a request fails).
    pub fn success(&self) -> f64 {
        self.success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_at_once_and_decays_slowly() {
        let t0 = Instant::now();
        let mut h = Health::default();
        h.observe_latency(Duration::from_millis(400), t0);
        assert_eq!(h.latency_ms_at(t0), 400.0);
        let t1 = t0 + Duration::from_secs(1);
        h.observe_latency(Duration::from_millis(10), t1);
        assert!(h.latency_ms_at(t1) > 300.0 && h.latency_ms_at(t1) < 400.0, "{}", h.latency_ms_at(t1));
        let t2 = t0 + Duration::from_secs(60);
        h.observe_latency(Duration::from_millis(10), t2);
        assert!(h.latency_ms_at(t2) < 20.0);
    }

    #[test]
    fn idle_workers_become_attractive_again() {
        let t0 = Instant::now();
        let mut h = Health::default();
        h.observe_latency(Duration::from_millis(200), t0);
        assert!(h.latency_ms_at(t0 + Duration::from_secs(1)) > 150.0);
        assert!(h.latency_ms_at(t0 + Duration::from_secs(60)) < 1.0);
    }

    #[test]
    fn failures_lower_success() {
        let mut h = Health::default();
        for _ in 0..5 {
            h.observe_outcome(false);
        }
        assert!(h.success() < 0.5, "{}", h.success());
        for _ in 5..100 {
            h.observe_outcome(true);
        }
        assert!(h.success() > 0.9);
    }
}
