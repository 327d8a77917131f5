//! `cocoon bench-scale` (issue 14 item 5, first part): worker selection in one proxy's
//! registry with many workers of one model, with workers joining and leaving while it runs.
//! Each simulated worker is a real registry entry with a real HTTP/2 handle (over an in-memory
//! pipe); only the network is left out.

use anyhow::Result;
use clap::Args;
use cocoon_openai::FeatureSet;
use cocoon_proto::{HardwareProfile, WorkerStatus};
use cocoon_proxy::registry::{Registry, WorkerEntry};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `cocoon bench-scale`.
#[derive(Args)]
pub struct BenchScaleArgs {
    /// Workers of the one model.
    #[arg(long, default_value_t = 1000)]
    pub workers: usize,
    /// Selections timed.
    #[arg(long, default_value_t = 200_000)]
    pub choices: usize,
}

async fn entry(i: usize, pipes: &mut Vec<tokio::io::DuplexStream>) -> Result<Arc<WorkerEntry>> {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    pipes.push(theirs);
    let (send, conn) = cocoon_transport::h2_client(ours).await?;
    tokio::spawn(conn);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Ok(Arc::new(WorkerEntry {
        link_id: i as u64,
        worker_id: hex::encode(key),
        worker_key: key,
        address: format!("sim-{i}"),
        model: "m".into(),
        hardware: HardwareProfile::parse(if i.is_multiple_of(3) { "h100" } else { "cpu" })
            .map_err(anyhow::Error::msg)?,
        max_active: 16,
        features: FeatureSet::default(),
        image_hash: None,
        model_sha256: None,
        status: Mutex::new(WorkerStatus { enabled: true, coefficient: 800 + (i % 5) as u32 * 100, reason: None }),
        running: Default::default(),
        health: Default::default(),
        served: Default::default(),
        failed: Default::default(),
        send,
    }))
}

/// The `p` quantile (0..=1) of sorted durations; zero for none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or_default()
}

/// Runs `cocoon bench-scale`.
pub async fn run(a: BenchScaleArgs) -> Result<()> {
    let registry = Arc::new(Registry::default());
    let mut pipes = Vec::new();
    for i in 0..a.workers {
        registry.add(entry(i, &mut pipes).await?);
    }
    let time = |n: usize| {
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            let r = registry.choose("m", None, FeatureSet::default(), 1500, None);
            t.push(started.elapsed());
            std::hint::black_box(r.ok());
        }
        t.sort();
        t
    };
    let quiet = time(a.choices);
    println!(
        "{} workers, no churn: choose p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        a.workers,
        percentile(&quiet, 0.5).as_secs_f64() * 1e6,
        percentile(&quiet, 0.99).as_secs_f64() * 1e6,
        quiet.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    );
    // Churn: a worker leaves and another joins, continuously, on another thread.
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (registry, stop) = (registry.clone(), stop.clone());
        let mut extra = Vec::new();
        let mut spare = Vec::new();
        for i in 0..64 {
            spare.push(entry(a.workers + i, &mut extra).await?);
        }
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut i = 0;
            while !stop.load(Relaxed) {
                let w = spare[i % spare.len()].clone();
                registry.add(w.clone());
                registry.remove(w.link_id);
                n += 2;
                i += 1;
            }
            drop(extra);
            n
        })
    };
    let churned = time(a.choices);
    stop.store(true, Relaxed);
    let changes = churn.join().map_err(|_| anyhow::anyhow!("the churn thread panicked"))?;
    println!(
        "{} workers, {} joins and leaves meanwhile: choose p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        a.workers,
        changes,
        percentile(&churned, 0.5).as_secs_f64() * 1e6,
        percentile(&churned, 0.99).as_secs_f64() * 1e6,
        churned.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    );
    drop(pipes);
    Ok(())
}
