//! The client's request latencies (to first byte, to the end): a [`LogHistogram`] from 10 µs
//! (to ~10 minutes, buckets 10% apart), read as milliseconds for `/stats`.

use cocoon_metrics::LogHistogram;
use std::time::Duration;

/// Request durations, for the latency percentiles in `/stats` and the `/metrics` histograms.
pub struct Histogram(LogHistogram);

impl Default for Histogram {
    fn default() -> Self {
        Self(LogHistogram::new(10.0))
    }
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&self, d: Duration) {
        self.0.record(d);
    }

    /// The histogram itself (buckets, sum, count).
    pub fn inner(&self) -> &LogHistogram {
        &self.0
    }

    /// The `q` quantile (0..=1) in milliseconds, or `None` before any sample.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.0.quantile_us(q).map(|us| us.round() / 1000.0)
    }

    /// The count and the p50, p90 and p99 in milliseconds, as JSON (`null` percentiles before any sample).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.0.count(),
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
        assert_eq!(h.inner().count(), 101);
    }
}
