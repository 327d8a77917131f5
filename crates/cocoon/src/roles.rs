//! The single-role subcommands: `proxy`, `worker`, `client` and `bench-backend`.
//!
//! Each reads its TOML config (optional), applies flags and environment variables on top, and
//! runs the role until SIGINT/SIGTERM. Every variable is prefixed with its role
//! (`COCOON_PROXY_*`, `COCOON_WORKER_*`, `COCOON_CLIENT_*`), so one shell can start several
//! roles without one's settings leaking into another.

use crate::{
    config::{load, Overrides},
    shutdown,
};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cocoon proxy`: the flags that override its config, or a subcommand for a running proxy.
#[derive(Args)]
pub struct ProxyArgs {
    /// Inspect a running proxy or its contract instead of starting one.
    #[command(subcommand)]
    pub action: Option<crate::money::ProxyAction>,
    /// TOML config file (see config/proxy.example.toml).
    #[arg(long, short, env = "COCOON_PROXY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address clients connect to.
    #[arg(long, env = "COCOON_PROXY_CLIENT_LISTEN")]
    pub client_listen: Option<String>,
    /// Address workers connect to.
    #[arg(long, env = "COCOON_PROXY_WORKER_LISTEN")]
    pub worker_listen: Option<String>,
    /// Address of /health and /stats.
    #[arg(long, env = "COCOON_PROXY_STATS_LISTEN")]
    pub stats_listen: Option<String>,
}

/// Runs `cocoon proxy`: a subcommand if one was given, else a proxy until SIGINT/SIGTERM.
pub async fn proxy(a: ProxyArgs) -> Result<()> {
    if let Some(action) = a.action {
        return crate::money::proxy(action).await;
    }
    let o = Overrides::new()
        .set("client_listen", a.client_listen)
        .set("worker_listen", a.worker_listen)
        .set("stats_listen", a.stats_listen);
    let cfg: cocoon_proxy::ProxyConfig = load(a.config.as_deref(), o.clone())?;
    let reloads = reload_on_sighup(a.config.clone(), o);
    cocoon_proxy::run_with_reloads(cfg, shutdown::on_signal(), reloads).await.context("proxy")
}

/// On each SIGHUP, the config file is read again (with the same flags on top) and sent to the
/// role, which applies what can change while running; a config that does not load is logged
/// and changes nothing.
fn reload_on_sighup<T>(path: Option<PathBuf>, o: Overrides) -> tokio::sync::mpsc::Receiver<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            match load::<T>(path.as_deref(), o.clone()) {
                Ok(new) => {
                    let _ = tx.try_send(new);
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "SIGHUP: the config does not load; nothing changed")
                }
            }
        }
    });
    rx
}

/// Arguments of `cocoon worker`: the flags that override its config, or a subcommand for a running worker.
#[derive(Args)]
pub struct WorkerArgs {
    /// Read a running worker instead of starting one.
    #[command(subcommand)]
    pub action: Option<crate::money::WorkerAction>,
    /// TOML config file (see config/worker.example.toml).
    #[arg(long, short, env = "COCOON_WORKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// A proxy's worker address (repeat for several; replaces the file's list).
    #[arg(long = "proxy", env = "COCOON_WORKER_PROXIES", value_delimiter = ',')]
    pub proxies: Vec<String>,
    /// Model name to serve.
    #[arg(long, env = "COCOON_WORKER_MODEL")]
    pub model: Option<String>,
    /// OpenAI-compatible backend base URL.
    #[arg(long, env = "COCOON_WORKER_BACKEND")]
    pub backend: Option<String>,
    /// The weights file the backend serves: hashed at start and attested (`model_sha256`).
    #[arg(long, env = "COCOON_WORKER_MODEL_FILE")]
    pub model_file: Option<PathBuf>,
    /// Optional OpenAI features the backend has, comma-separated: tools, logprobs, logit_bias, n
    /// (replaces the file's list).
    #[arg(long = "features", env = "COCOON_WORKER_FEATURES", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Hardware profile ("cpu", "H100:80GiB", ...).
    #[arg(long, env = "COCOON_WORKER_HARDWARE")]
    pub hardware: Option<String>,
    /// Price coefficient, per-mille.
    #[arg(long, env = "COCOON_WORKER_COEFFICIENT")]
    pub coefficient: Option<u32>,
    /// Maximum concurrent requests.
    #[arg(long, env = "COCOON_WORKER_MAX_ACTIVE")]
    pub max_active: Option<u32>,
    /// Address of /health, /stats and /earnings.
    #[arg(long, env = "COCOON_WORKER_STATS_LISTEN")]
    pub stats_listen: Option<String>,
    /// Address of the operator's controls (/admin/*, token in <data_dir>/admin-token).
    #[arg(long, env = "COCOON_WORKER_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Where the worker keeps its key and payout vouchers.
    #[arg(long, env = "COCOON_WORKER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs `cocoon worker`: a subcommand if one was given, else a worker until SIGINT/SIGTERM.
pub async fn worker(a: WorkerArgs) -> Result<()> {
    if let Some(action) = a.action {
        return crate::money::worker(action).await;
    }
    let o = Overrides::new()
        .list("proxies", &a.proxies)
        .set("model", a.model)
        .set("backend", a.backend)
        .set("model_file", a.model_file.map(|p| p.display().to_string()))
        .list("features", &a.features)
        .set("hardware", a.hardware)
        .set("coefficient", a.coefficient.map(i64::from))
        .set("max_active", a.max_active.map(i64::from))
        .set("stats_listen", a.stats_listen)
        .set("admin_listen", a.admin_listen)
        .set("data_dir", a.data_dir.map(|p| p.display().to_string()));
    let cfg: cocoon_worker::WorkerConfig = load(a.config.as_deref(), o.clone())?;
    let reloads = reload_on_sighup(a.config.clone(), o);
    cocoon_worker::run_with_reloads(cfg, shutdown::on_signal(), reloads).await.context("worker")
}

/// Arguments of `cocoon client`: the flags that override its config, or a money subcommand.
#[derive(Args)]
pub struct ClientArgs {
    /// Act on a running client's account instead of starting one.
    #[command(subcommand)]
    pub action: Option<crate::money::ClientAction>,
    /// TOML config file (see config/client.example.toml).
    #[arg(long, short, env = "COCOON_CLIENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the OpenAI-compatible API listens.
    #[arg(long, env = "COCOON_CLIENT_LISTEN")]
    pub listen: Option<String>,
    /// A proxy's client address (repeat for several; replaces the file's list).
    #[arg(long = "proxy", env = "COCOON_CLIENT_PROXIES", value_delimiter = ',')]
    pub proxies: Vec<String>,
    /// Where the client keeps its key (its account) and charge vouchers.
    #[arg(long, env = "COCOON_CLIENT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs `cocoon client`: a money subcommand if one was given, else a client until SIGINT/SIGTERM.
pub async fn client(a: ClientArgs) -> Result<()> {
    if let Some(action) = a.action {
        return crate::money::client(action).await;
    }
    let o = Overrides::new()
        .set("listen", a.listen)
        .list("proxies", &a.proxies)
        .set("data_dir", a.data_dir.map(|p| p.display().to_string()));
    let cfg: cocoon_client::ClientConfig = load(a.config.as_deref(), o)?;
    cocoon_client::run(cfg, shutdown::on_signal()).await.context("client")
}

/// Arguments of `cocoon bench-backend`: the shape of the synthetic answers.
#[derive(Args)]
pub struct BenchBackendArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Content chunks per streamed answer.
    #[arg(long, default_value_t = 50)]
    pub chunks: usize,
    /// Bytes of content per chunk.
    #[arg(long, default_value_t = 128)]
    pub bytes: usize,
    /// Delay between chunks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Model name served.
    #[arg(long, default_value = "bench-model")]
    pub model: String,
    /// Write and flush each chunk on its own (as Cocoon's benchmark server does) rather than
    /// the ready chunks together.
    #[arg(long)]
    pub flush: bool,
}

/// Runs `cocoon bench-backend`: the synthetic OpenAI-compatible backend on 127.0.0.1 until SIGINT/SIGTERM.
pub async fn bench_backend(a: BenchBackendArgs) -> Result<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], a.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is the port in use? pick another with --port)"))?;
    let opts = cocoon_bench_backend::Options {
        model: a.model,
        chunks: a.chunks,
        bytes: a.bytes,
        delay_ms: a.delay_ms,
        flush: a.flush,
    };
    tracing::info!(%addr, model = %opts.model, chunks = opts.chunks, bytes = opts.bytes, delay_ms = opts.delay_ms, flush = opts.flush, "synthetic backend listening");
    let stop = shutdown::on_signal();
    cocoon_bench_backend::BenchBackend::new(opts).serve(listener, stop.cancelled_owned()).await.context("bench backend")
}
