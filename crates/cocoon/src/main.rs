//! `cocoon`: one binary for every role of the network, a local network in one command, and
//! benchmarks. Argument parsing lives here; each subcommand is its own module.

mod attest;
mod bench;
mod bench_engine;
mod bench_peer;
mod bench_pow;
mod bench_scale;
mod bench_streams;
mod bench_translate;
mod chrf;
mod config;
mod devnet;
mod explorer_cli;
mod faithful;
mod fleet;
mod money;
mod network;
mod operator;
mod procstat;
mod roles;
mod shutdown;
mod soak;
mod supervise;
mod tasks_cli;
mod up;
mod up_chain;
mod wallet;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc: the request path allocates many small short-lived buffers; glibc's malloc showed
/// up at ~6% of CPU in the streaming benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run a local TON chain (TON's emulator behind toncenter's HTTP API v2, with a faucet and
    /// the root contract deployed): DEVNET ONLY, its coins are worthless.
    Devnet(devnet::DevnetArgs),
    /// Serve the network explorer: a web page of the chain's contracts and the proxies'
    /// reports (TVL, proxies, models, workers, live charts).
    Explorer(explorer_cli::ExplorerArgs),
    /// The network's headline figures and its proxies, models and workers, as tables
    /// (`--json`: the explorer's snapshot).
    Status(explorer_cli::StatusArgs),
    /// Run a synthetic OpenAI-compatible backend (for tests, demos and benchmarks).
    BenchBackend(roles::BenchBackendArgs),
    /// Benchmark the network against its backend with `hey`.
    Bench(bench::BenchArgs),
    /// Benchmark the embedded engine: prompt and generation tok/s, 1 and N streams, in-process
    /// and through a local network.
    BenchEngine(bench_engine::BenchEngineArgs),
    /// Worker selection in one proxy with many workers, with workers joining and leaving.
    BenchScale(bench_scale::BenchScaleArgs),
    /// One proxy under a thousand workers and ten thousand concurrent slow streams: its memory,
    /// selection time, and whether workers leaving and joining stall the other streams.
    BenchStreams(bench_streams::BenchStreamsArgs),
    /// Many workers in one process, each with its own key and link (for bench-streams).
    #[command(hide = true)]
    Fleet(fleet::FleetArgs),
    /// A long run through a local network with every role's memory sampled: the RSS curve,
    /// failing on growth after warm-up or on any failed request.
    Soak(soak::SoakArgs),
    /// The proof of work before TLS: a dialer's cost, a proxy's, and a flood against one core.
    BenchPow(bench_pow::BenchPowArgs),
    /// Translation quality: chrF per direction on the built-in evaluation set, through a running client.
    BenchTranslate(bench_translate::BenchTranslateArgs),
    /// Translate texts through a running client (`cocoon up`).
    Translate(tasks_cli::TranslateArgs),
    /// Summarize a text in 2-3 sentences through a running client.
    Summarize(tasks_cli::SummarizeArgs),
    /// Chat with a model through a running client.
    Chat(tasks_cli::ChatArgs),
    /// Transcribe an audio file (speech to text) through a running client.
    Transcribe(tasks_cli::TranscribeArgs),
    /// The root contract, for its owner (governance): deploy, show, allowlists, prices.
    #[command(subcommand)]
    Root(operator::RootCmd),
    /// A role's TON wallet (the wallet of its identity key): address, balance, send.
    #[command(subcommand)]
    Wallet(wallet::WalletCmd),
    /// Inspect and verify attestation: TDX quotes and RA-TLS certificates.
    #[command(subcommand)]
    Attest(attest::AttestCmd),
}

/// The async runtime: multi-threaded, with `COCOON_THREADS` worker threads (default: one per
/// core). `COCOON_THREADS=1` runs everything on one thread, which avoids cross-thread wake-ups
/// when many roles share a small machine (as in `cocoon up`).
fn runtime() -> Result<tokio::runtime::Runtime> {
    let threads = std::env::var("COCOON_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    let rt = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Some(n) => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()?,
        None => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
    };
    Ok(rt)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    // Attestation tools are synchronous: no runtime.
    let command = match cli.command {
        Command::Attest(cmd) => return attest::run(cmd),
        other => other,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        match command {
            Command::Proxy(a) => roles::proxy(a).await,
            Command::Worker(a) => roles::worker(a).await,
            Command::Client(a) => roles::client(a).await,
            Command::Up(a) => up::run(a).await,
            Command::Devnet(a) => devnet::run(a).await,
            Command::Explorer(a) => explorer_cli::explorer(a).await,
            Command::Status(a) => explorer_cli::status(a).await,
            Command::BenchBackend(a) => roles::bench_backend(a).await,
            Command::Bench(a) => bench::run(a).await,
            Command::BenchEngine(a) => bench_engine::run(a).await,
            Command::BenchTranslate(a) => bench_translate::run(a).await,
            Command::BenchPow(a) => bench_pow::run(a).await,
            Command::Soak(a) => soak::run(a).await,
            Command::BenchScale(a) => bench_scale::run(a).await,
            Command::BenchStreams(a) => bench_streams::run(a).await,
            Command::Fleet(a) => fleet::run(a).await,
            Command::Translate(a) => tasks_cli::translate(a).await,
            Command::Summarize(a) => tasks_cli::summarize(a).await,
            Command::Chat(a) => tasks_cli::chat(a).await,
            Command::Transcribe(a) => tasks_cli::transcribe(a).await,
            Command::Wallet(c) => wallet::run(c).await,
            Command::Root(c) => operator::root(c).await,
            Command::Attest(_) => Ok(()),
        }
    })
}
