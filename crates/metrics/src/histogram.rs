//! Histogram data as the encoder takes it: per-bucket counts under upper bounds, a sum and a
//! count.

/// Upper bounds, in seconds, of the latency histograms every role exports: 5 ms to 10 minutes.
pub const LATENCY_BOUNDS: [f64; 16] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// One histogram's buckets: `counts[i]` observations fell at or under `bounds[i]` (and above
/// the bound before), `overflow` above the last; `sum` of all observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub overflow: u64,
    pub sum: f64,
}

impl Buckets {
    /// Empty buckets under `bounds` (ascending).
    pub fn new(bounds: &[f64]) -> Self {
        Self { bounds: bounds.to_vec(), counts: vec![0; bounds.len()], overflow: 0, sum: 0.0 }
    }

    /// Adds `n` observations whose values are at most `upper` (and whose sum is `sum`): they
    /// count in the first bucket whose bound is at least `upper`. A finer histogram re-bucketed
    /// this way is exact at its own bounds and never counts a value under a bound it exceeds.
    pub fn add(&mut self, upper: f64, n: u64, sum: f64) {
        match self.bounds.iter().position(|&b| upper <= b) {
            Some(i) => self.counts[i] += n,
            None => self.overflow += n,
        }
        self.sum += sum;
    }

    /// Observations in all buckets.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.overflow
    }

    /// `(bound, count)` pairs ending with `+Inf`, as the encoder writes them.
    pub(crate) fn pairs(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self.bounds.iter().copied().zip(self.counts.iter().copied()).collect();
        out.push((f64::INFINITY, self.overflow));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_under_the_first_bound_that_holds_them() {
        let mut b = Buckets::new(&[0.1, 1.0]);
        b.add(0.05, 2, 0.08);
        b.add(0.1, 1, 0.1);
        b.add(0.5, 1, 0.5);
        b.add(7.0, 3, 21.0);
        assert_eq!((b.counts.clone(), b.overflow, b.count()), (vec![3, 1], 3, 7));
        assert!((b.sum - 21.68).abs() < 1e-9);
        assert_eq!(b.pairs().last(), Some(&(f64::INFINITY, 3)));
    }
}
