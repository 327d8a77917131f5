//! `cocoon`: one binary for every role of the network, a local network in one command, and
//! benchmarks. Argument parsing lives here; each subcommand is its own module.

mod bench;
mod config;
mod network;
mod roles;
mod shutdown;
mod up;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "cocoon",
    version,
    about = "Confidential AI compute network: client, proxy and worker over attested TLS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a proxy: admits attested clients and workers and routes requests.
    Proxy(roles::ProxyArgs),
    /// Run a worker: serves a model through one or more proxies.
    Worker(roles::WorkerArgs),
    /// Run a client: a local OpenAI-compatible API that forwards to proxies.
    Client(roles::ClientArgs),
    /// Run a whole network on loopback: proxies, workers and a client.
    Up(up::UpArgs),
    /// Run a synthetic OpenAI-compatible backend (for tests, demos and benchmarks).
    BenchBackend(roles::BenchBackendArgs),
    /// Benchmark the network against its backend with `hey`.
    Bench(bench::BenchArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Proxy(a) => roles::proxy(a).await,
            Command::Worker(a) => roles::worker(a).await,
            Command::Client(a) => roles::client(a).await,
            Command::Up(a) => up::run(a).await,
            Command::BenchBackend(a) => roles::bench_backend(a).await,
            Command::Bench(a) => bench::run(a).await,
        }
    })
}
