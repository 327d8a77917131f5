//! A lock-free latency histogram for /stats percentiles.
//!
//! Buckets grow by 10% from 10 µs to ~10 minutes, so any percentile is exact to within 10%;
//! recording is one atomic increment, cheap enough for the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const FIRST_US: f64 = 10.0;
const GROWTH: f64 = 1.1;
const BUCKETS: usize = 190;

/// Counts request durations in buckets 10% apart (10 µs to ~10 minutes), for the latency percentiles in `/stats`.
pub struct Histogram {
    counts: Vec<AtomicU64>,
    /// Sum of all durations, in microseconds (for Prometheus' `_sum`).
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), sum_us: AtomicU64::new(0) }
    }
}

fn bucket_of(us: f64) -> usize {
    if us <= FIRST_US {
        return 0;
    }
    ((us / FIRST_US).ln() / GROWTH.ln()).ceil().min((BUCKETS - 1) as f64) as usize
}

fn upper_bound_us(bucket: usize) -> f64 {
    FIRST_US * GROWTH.powi(bucket as i32)
}

impl Histogram {
    /// Counts one duration in its bucket.
    pub fn record(&self, d: Duration) {
        self.counts[bucket_of(d.as_secs_f64() * 1e6)].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Sum of all recorded durations, in seconds.
    pub fn sum_secs(&self) -> f64 {
        self.sum_us.load(Relaxed) as f64 / 1e6
    }

    /// Calls `f(upper bound in seconds, count)` for every non-empty bucket, in order.
    pub fn each_bucket(&self, mut f: impl FnMut(f64, u64)) {
        for (i, c) in self.counts.iter().enumerate() {
            let c = c.load(Relaxed);
            if c > 0 {
                f(upper_bound_us(i) / 1e6, c);
            }
        }
    }

    /// How many durations have been recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in milliseconds, or `None` before any sample.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
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
                return Some(upper_bound_us(i).round() / 1000.0);
            }
        }
        None
    }

    /// The count and the p50, p90 and p99 in milliseconds, as JSON (`null` percentiles before any sample).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count(),
            "p50_ms": self.quantile_ms(0.5),
            "p90_ms": self.quantile_ms(0.9),
            "p99_ms": self.quantile_ms(0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_ten_percent() {
        let h = Histogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((50.0..=55.0).contains(&p50), "{p50}");
        assert!((99.0..=109.0).contains(&p99), "{p99}");
        h.record(Duration::from_secs(100_000));
        assert_eq!(h.count(), 101);
    }
}
