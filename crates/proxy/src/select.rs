//! Worker selection: which worker serves a request.
//!
//! Pure logic over snapshots, so it is tested without sockets. Eligible workers serve the
//! requested model, have the optional features it uses, are enabled, match the hardware constraint, cost at most the client's
//! `max_coefficient`, and are not full. Among them we use power-of-two-choices: pick two at
//! random and keep the one with the lower [`score`]. Randomness keeps many proxies from herding
//! onto the same "best" worker; comparing two keeps bad workers rarely chosen.

use rand::Rng;

/// What selection needs to know about one worker.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Whether the worker's latest status says it takes requests.
    pub enabled: bool,
    /// Requests this proxy has on the worker right now.
    pub running: u32,
    /// Most requests the worker takes at once; at `running == max_active` it is full.
    pub max_active: u32,
    /// The worker's price coefficient, per-mille (1000 = 1.0x); compared with the client's `max_coefficient`.
    pub coefficient: u32,
    /// Decayed peak latency to first byte, in milliseconds.
    pub latency_ms: f64,
    /// Decayed success rate in [0, 1].
    pub success: f64,
    /// Whether the worker meets the request's hardware constraint (true when the request sets none).
    pub hardware_ok: bool,
    /// Whether its backend has every optional feature the request uses.
    pub features_ok: bool,
    /// Already tried for this request (retries go elsewhere).
    pub excluded: bool,
}

/// Why no worker could take a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoWorker {
    /// No connected worker serves this model.
    UnknownModel,
    /// Workers serve it, but none has every optional feature the request uses.
    Unsupported,
    /// Workers serve it but none is enabled (or the only one was already tried).
    NoneEnabled,
    /// None has the requested hardware.
    NoHardware,
    /// The cheapest eligible worker needs a higher `max_coefficient`.
    TooExpensive { cheapest: u32 },
    /// All eligible workers are at their concurrency limit.
    AllBusy,
}

/// Lower is better: expected wait (load x latency), scaled by price, divided by reliability.
pub fn score(c: &Candidate) -> f64 {
    let load = (c.running as f64 + 1.0) / c.max_active.max(1) as f64;
    let latency = c.latency_ms.max(0.1);
    let price = c.coefficient.max(1) as f64 / 1000.0;
    let success = c.success.clamp(0.05, 1.0);
    load * latency * price / success
}

/// Whether `c` may take a request at `max_coefficient` right now: every filter of [`choose`].
pub fn eligible(c: &Candidate, max_coefficient: u32) -> bool {
    c.features_ok
        && c.enabled
        && !c.excluded
        && c.hardware_ok
        && c.coefficient <= max_coefficient
        && c.running < c.max_active
}

/// Picks the index of the worker to use, or says why none fits.
pub fn choose<R: Rng + ?Sized>(cands: &[Candidate], max_coefficient: u32, rng: &mut R) -> Result<usize, NoWorker> {
    if cands.is_empty() {
        return Err(NoWorker::UnknownModel);
    }
    let capable: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].features_ok).collect();
    if capable.is_empty() {
        return Err(NoWorker::Unsupported);
    }
    let live: Vec<usize> = capable.into_iter().filter(|&i| cands[i].enabled && !cands[i].excluded).collect();
    if live.is_empty() {
        return Err(NoWorker::NoneEnabled);
    }
    let hw: Vec<usize> = live.into_iter().filter(|&i| cands[i].hardware_ok).collect();
    if hw.is_empty() {
        return Err(NoWorker::NoHardware);
    }
    let affordable: Vec<usize> = hw.iter().copied().filter(|&i| cands[i].coefficient <= max_coefficient).collect();
    if affordable.is_empty() {
        let cheapest = hw.iter().map(|&i| cands[i].coefficient).min().unwrap_or(0);
        return Err(NoWorker::TooExpensive { cheapest });
    }
    let open: Vec<usize> = affordable.into_iter().filter(|&i| cands[i].running < cands[i].max_active).collect();
    match open.len() {
        0 => Err(NoWorker::AllBusy),
        1 => Ok(open[0]),
        n => {
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            let (a, b) = (open[a], open[b]);
            Ok(if score(&cands[b]) < score(&cands[a]) { b } else { a })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn c(running: u32, coefficient: u32) -> Candidate {
        Candidate {
            enabled: true,
            running,
            max_active: 10,
            coefficient,
            latency_ms: 50.0,
            success: 1.0,
            hardware_ok: true,
            features_ok: true,
            excluded: false,
        }
    }

    #[test]
    fn explains_why_nothing_fits() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(choose(&[], 4000, &mut rng), Err(NoWorker::UnknownModel));
        let mut off = c(0, 1000);
        off.enabled = false;
        assert_eq!(choose(&[off], 4000, &mut rng), Err(NoWorker::NoneEnabled));
        assert_eq!(choose(&[c(0, 3000), c(0, 2500)], 2000, &mut rng), Err(NoWorker::TooExpensive { cheapest: 2500 }));
        assert_eq!(choose(&[c(10, 1000)], 4000, &mut rng), Err(NoWorker::AllBusy));
        let mut gpu = c(0, 1000);
        gpu.hardware_ok = false;
        assert_eq!(choose(&[gpu], 4000, &mut rng), Err(NoWorker::NoHardware));
        let mut tried = c(0, 1000);
        tried.excluded = true;
        assert_eq!(choose(&[tried, c(0, 1000)], 4000, &mut rng), Ok(1));
    }

    #[test]
    fn a_request_goes_only_to_workers_with_its_features() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut plain = c(0, 1000);
        plain.features_ok = false;
        assert_eq!(choose(&[plain.clone()], 4000, &mut rng), Err(NoWorker::Unsupported));
        // The one capable worker is chosen every time, even when busier and dearer.
        let cands = [plain.clone(), c(5, 2000), plain];
        for _ in 0..100 {
            assert_eq!(choose(&cands, 4000, &mut rng), Ok(1));
        }
        // A capable worker that is off says so, rather than "unsupported".
        let mut off = c(0, 1000);
        off.enabled = false;
        let mut plain = c(0, 1000);
        plain.features_ok = false;
        assert_eq!(choose(&[plain, off], 4000, &mut rng), Err(NoWorker::NoneEnabled));
    }

    #[test]
    fn prefers_idle_cheap_fast_reliable_but_spreads() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut slow = c(0, 1000);
        slow.latency_ms = 500.0;
        let mut flaky = c(0, 1000);
        flaky.success = 0.2;
        let cands = [c(0, 1000), c(8, 1000), c(0, 3000), slow, flaky];
        let mut hits = [0u32; 5];
        for _ in 0..10_000 {
            hits[choose(&cands, 4000, &mut rng).unwrap()] += 1;
        }
        // The good worker wins every comparison it is in: it is in 2 of 5 picks per pair.
        assert!(hits[0] > 3500, "{hits:?}");
        assert!(hits.iter().skip(1).all(|&h| h < hits[0]), "{hits:?}");
        // Equal workers share the load.
        let twins = [c(0, 1000), c(0, 1000)];
        let mut h = [0u32; 2];
        for _ in 0..10_000 {
            h[choose(&twins, 4000, &mut rng).unwrap()] += 1;
        }
        assert!(h[0] > 4000 && h[1] > 4000, "{h:?}");
    }
}
