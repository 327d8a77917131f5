//! A lock-free histogram of durations for percentiles in `/stats`.
//!
//! Buckets grow by 10% from a first bound (10 µs for request latencies, 0.1 µs for the
//! proxy's worker selection) over 190 buckets, so any percentile is exact to within 10%;
//! recording is one atomic increment, cheap enough for the hot path.

use crate::Buckets;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const GROWTH: f64 = 1.1;
const BUCKETS: usize = 190;

/// Counts durations in buckets 10% apart, from `first_us` up (190 buckets: 10 µs reaches
/// ~10 minutes), for percentiles and Prometheus histograms.
pub struct LogHistogram {
    first_us: f64,
    counts: Vec<AtomicU64>,
    /// Sum of all durations, in nanoseconds (for Prometheus' `_sum`).
    sum_ns: AtomicU64,
}

impl LogHistogram {
    /// An empty histogram whose first bucket holds durations up to `first_us` microseconds.
    pub fn new(first_us: f64) -> Self {
        Self {
            first_us: first_us.max(1e-3),
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    fn bucket_of(&self, us: f64) -> usize {
        if us <= self.first_us {
            return 0;
        }
        ((us / self.first_us).ln() / GROWTH.ln()).ceil().min((BUCKETS - 1) as f64) as usize
    }

    fn upper_bound_us(&self, bucket: usize) -> f64 {
        self.first_us * GROWTH.powi(bucket as i32)
    }

    /// Counts one duration in its bucket.
    pub fn record(&self, d: Duration) {
        self.counts[self.bucket_of(d.as_secs_f64() * 1e6)].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Sum of all recorded durations, in seconds.
    pub fn sum_secs(&self) -> f64 {
        self.sum_ns.load(Relaxed) as f64 / 1e9
    }

    /// Calls `f(upper bound in seconds, count)` for every non-empty bucket, in order.
    pub fn each_bucket(&self, mut f: impl FnMut(f64, u64)) {
        for (i, c) in self.counts.iter().enumerate() {
            let c = c.load(Relaxed);
            if c > 0 {
                f(self.upper_bound_us(i) / 1e6, c);
            }
        }
    }

    /// How many durations have been recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in microseconds (the upper bound of its bucket), or `None`
    /// before any sample.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(self.upper_bound_us(i));
            }
        }
        None
    }

    /// This histogram re-bucketed under `bounds` (seconds) for export.
    pub fn buckets(&self, bounds: &[f64]) -> Buckets {
        let mut b = Buckets::new(bounds);
        self.each_bucket(|upper_secs, count| b.add(upper_secs, count, 0.0));
        b.sum = self.sum_secs();
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_ten_percent_at_any_scale() {
        let h = LogHistogram::new(0.1);
        assert_eq!(h.quantile_us(0.5), None);
        for ns in 1..=100u64 {
            h.record(Duration::from_nanos(ns * 1000));
        }
        let p50 = h.quantile_us(0.5).unwrap();
        let p99 = h.quantile_us(0.99).unwrap();
        assert!((50.0..=55.0).contains(&p50), "{p50}");
        assert!((99.0..=109.0).contains(&p99), "{p99}");
        h.record(Duration::from_secs(100_000));
        assert_eq!(h.count(), 101);
        assert!((h.sum_secs() - (100_000.0 + 0.00505)).abs() < 1e-6);
        // Re-bucketed by each fine bucket's upper bound: a value is never counted under a bound
        // it may exceed, so 10 µs (in the fine bucket up to 10.7 µs) counts above 10 µs.
        let b = h.buckets(&[1e-5, 1e-4]);
        assert_eq!((b.counts.clone(), b.overflow), (vec![9, 86], 6));
        assert_eq!(b.count(), 101);
    }
}
