//! `cocoon fleet` (hidden; `cocoon bench-streams` starts it): many workers in one process, each
//! a full `cocoon_worker::run` with its own identity key and its own RA-TLS link to the proxy,
//! all forwarding to one backend. A thousand worker processes would not fit on one machine;
//! a thousand workers in one process load the proxy exactly as a thousand machines would.

use anyhow::{Context, Result};
use clap::Args;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arguments of `cocoon fleet`.
#[derive(Args)]
pub struct FleetArgs {
    /// The proxy's worker address.
    #[arg(long)]
    pub proxy: String,
    /// The OpenAI-compatible backend every worker forwards to.
    #[arg(long)]
    pub backend: String,
    /// Model name served.
    #[arg(long, default_value = "bench-model")]
    pub model: String,
    /// Workers to run.
    #[arg(long, default_value_t = 100)]
    pub workers: usize,
    /// Each worker's limit of concurrent requests.
    #[arg(long, default_value_t = 16)]
    pub max_active: u32,
    /// Workers started at once (each does proof of work and a TLS handshake with the proxy).
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
}

/// One worker's config: dev attestation (a fresh key in memory), any free loopback port for its
/// stats and controls, the backend checked rarely (a thousand pollers would load it), and no
/// drain on stop: a stopped fleet is a set of machines that went away.
fn config(a: &FleetArgs) -> Result<cocoon_worker::WorkerConfig> {
    let text = format!(
        "proxies = [{:?}]\nmodel = {:?}\nbackend = {:?}\nhardware = \"cpu\"\nmax_active = {}\nstats_listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nbackend_poll_ms = 30000\ndrain_timeout_secs = 0\n\n[attestation]\nmode = \"dev\"\n\n[proxy_policy]\nkind = \"dev\"\n",
        a.proxy, a.model, a.backend, a.max_active
    );
    toml::from_str(&text).context("the fleet's worker config")
}

/// Runs `cocoon fleet` until SIGINT/SIGTERM.
pub async fn run(a: FleetArgs) -> Result<()> {
    let cfg = config(&a)?;
    let stop = crate::shutdown::on_signal();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.workers {
        let (cfg, stop) = (cfg.clone(), stop.clone());
        tasks.spawn(async move {
            if let Err(e) = cocoon_worker::run(cfg, stop).await {
                tracing::warn!(worker = i, error = %e, "fleet worker stopped");
            }
        });
        // Batches, so that a thousand handshakes do not all land in the proxy's listen queue at once.
        if (i + 1) % a.batch.max(1) == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!("fleet: {} workers started", a.workers);
    wait_all(&mut tasks, &stop).await;
    Ok(())
}

async fn wait_all(tasks: &mut tokio::task::JoinSet<()>, stop: &CancellationToken) {
    stop.cancelled().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
}
