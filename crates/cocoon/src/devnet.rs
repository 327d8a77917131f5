//! `cocoon devnet`: a local TON chain for development, until Ctrl-C.
//!
//! It runs TON's own emulator (@ton/sandbox) behind the TON HTTP API v2 that public providers
//! (toncenter) serve, with a faucet, in a Node.js server from the contracts dir
//! (`contracts/devnet/server.ts`). The root contract is deployed at first start; the state
//! lives in the data dir and survives restarts. DEVNET ONLY: its coins are worthless.

use crate::{network::get_json, shutdown};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

/// The loud line: every devnet banner carries it.
const WARNING: &str = "DEVNET: local emulator, not a real chain, coins are worthless";

/// Arguments of `cocoon devnet`.
#[derive(Args)]
pub struct DevnetArgs {
    /// Port of the TON HTTP API (bound on 127.0.0.1 only).
    #[arg(long, default_value_t = 8081)]
    pub port: u16,
    /// Where the chain state, its transaction history and devnet.json live.
    #[arg(long, default_value = "data/devnet")]
    pub data_dir: PathBuf,
    /// JSON config: root params overrides and allowlist hashes (hex); see
    /// contracts/devnet/config.ts.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The contracts dir with the devnet server and its node_modules (default: ./contracts if
    /// there, else the one this binary was built from).
    #[arg(long, env = "COCOON_CONTRACTS_DIR")]
    pub contracts_dir: Option<PathBuf>,
    /// Seconds to wait for the devnet to answer before giving up.
    #[arg(long, default_value_t = 120)]
    pub start_timeout: u64,
}

/// The contracts dir: the flag or env, else ./contracts, else the source tree's.
fn contracts_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => vec![
            PathBuf::from("contracts"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("contracts"),
        ],
    };
    for c in &candidates {
        if c.join("devnet").join("server.ts").is_file() {
            return std::fs::canonicalize(c).with_context(|| format!("resolving {}", c.display()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    bail!(
        "no contracts dir with devnet/server.ts (tried {}); pass --contracts-dir or set COCOON_CONTRACTS_DIR",
        tried.join(", ")
    )
}

/// Node.js is there, new enough for `--import`, and the contracts' packages are installed.
fn check_prerequisites(contracts: &Path) -> Result<()> {
    let out = std::process::Command::new("node").arg("--version").output().map_err(|e| {
        anyhow::anyhow!("`node` not found ({e}): the devnet runs on Node.js 20+; install it (./scripts/setup.sh does)")
    })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = version.trim_start_matches('v').split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if major < 18 || (major == 18 && minor < 19) {
        bail!("node {version} is too old for the devnet: it needs Node.js 20 or newer");
    }
    for pkg in ["tsx", "@ton/sandbox", "@ton/core"] {
        if !contracts.join("node_modules").join(pkg).is_dir() {
            bail!(
                "{}/node_modules/{pkg} is missing: run `npm ci` in {} (or ./scripts/setup.sh)",
                contracts.display(),
                contracts.display()
            );
        }
    }
    Ok(())
}

/// A clear error now rather than a confusing one from the child.
fn check_port(port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bail!("port {port} on 127.0.0.1 is already in use (is another devnet running?)")
        }
        Err(e) => bail!("cannot bind 127.0.0.1:{port}: {e}"),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// Runs `cocoon devnet`: starts the local TON emulator and its HTTP API as a Node.js child, and
/// keeps it up until Ctrl-C or until the emulator exits.
pub async fn run(a: DevnetArgs) -> Result<()> {
    let contracts = contracts_dir(a.contracts_dir.as_deref())?;
    check_prerequisites(&contracts)?;
    check_port(a.port)?;
    let data_dir = absolute(&a.data_dir)?;
    let mut cmd = Command::new("node");
    // `--import tsx` resolves from the working dir: contracts/node_modules/tsx.
    cmd.args(["--import", "tsx", "devnet/server.ts", "--port", &a.port.to_string(), "--data-dir"])
        .arg(&data_dir)
        .current_dir(&contracts)
        // If this process is killed outright, the server notices and stops (saving) too.
        .env("COCOON_DEVNET_WATCH_PARENT", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(config) = &a.config {
        cmd.arg("--config").arg(absolute(config)?);
    }
    tracing::info!(contracts = %contracts.display(), data_dir = %data_dir.display(), "starting the devnet server");
    let mut child = cmd.spawn().context("spawning node")?;
    let stop = shutdown::on_signal();
    let base = format!("http://127.0.0.1:{}", a.port);

    tokio::select! {
        r = wait_ready(&mut child, &base, Duration::from_secs(a.start_timeout)) => r?,
        _ = stop.cancelled() => {
            let status = stop_child(&mut child).await?;
            if !status.success() {
                bail!("the devnet server did not stop cleanly ({status})");
            }
            tracing::info!("stopped before the devnet was ready");
            return Ok(());
        }
    }
    let (_, info) = get_json(&format!("{base}/devnet/info")).await.context("reading /devnet/info")?;
    let info = &info["result"];
    println!("devnet ready: TON HTTP API v2 at {base}/api/v2/ (JSON-RPC: {base}/api/v2/jsonRPC)");
    match info["root"]["address"].as_str() {
        Some(root) => println!("root contract: {root} (owner {})", info["owner"].as_str().unwrap_or("?")),
        None => println!("root contract: none (contracts/wrappers/root.ts is missing; restart once it exists)"),
    }
    println!("faucet: POST {base}/devnet/faucet {{\"address\": \"...\", \"amount\": \"<nanotons>\"}} (at most 1000 TON a call)");
    println!("data dir: {} (devnet.json has the addresses)", data_dir.display());
    println!("{WARNING}");

    tokio::select! {
        status = child.wait() => {
            let status = status?;
            if !status.success() {
                bail!("the devnet server stopped on its own ({status})");
            }
            Ok(())
        }
        _ = stop.cancelled() => {
            let status = stop_child(&mut child).await?;
            if !status.success() {
                bail!("the devnet server did not stop cleanly ({status})");
            }
            tracing::info!("devnet stopped; state saved in {}", data_dir.display());
            Ok(())
        }
    }
}

/// Polls getMasterchainInfo until it answers, printing progress; fails if the child exits.
async fn wait_ready(child: &mut Child, base: &str, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    let mut next_note = Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the devnet server exited before it was ready ({status}); its message is above");
        }
        if let Ok((200, v)) = get_json(&format!("{base}/api/v2/getMasterchainInfo")).await {
            if v["ok"] == Value::Bool(true) {
                return Ok(());
            }
        }
        let waited = started.elapsed();
        if waited > timeout {
            let _ = child.start_kill();
            bail!("the devnet did not answer at {base} within {} s", timeout.as_secs());
        }
        if waited > next_note {
            eprintln!("waiting for the devnet (Node.js + TON emulator) to start... {} s", waited.as_secs());
            next_note += Duration::from_secs(5);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Forwards the stop to the child (SIGINT: it saves and exits) and waits, at most 20 s.
async fn stop_child(child: &mut Child) -> Result<ExitStatus> {
    if let Some(pid) = child.id() {
        // A Ctrl-C in a terminal reached the child too; a second SIGINT is harmless.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT);
    }
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => Ok(status?),
        Err(_) => {
            tracing::warn!("the devnet server did not stop within 20 s; killing it");
            child.kill().await?;
            Ok(child.wait().await?)
        }
    }
}
