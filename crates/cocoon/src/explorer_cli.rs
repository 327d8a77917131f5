//! `cocoon explorer` (the network's web page) and `cocoon status` (its headline figures and
//! tables in a terminal), both over `cocoon-explorer`; and the explorer `cocoon up` starts.

use crate::network::{self, Network};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use cocoon_explorer::{AttestationMode, CollectConfig, Collector};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which attestation the explorer counts as verified.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Attestation {
    /// Intel TDX quotes, with the root's proxy image list.
    Tdx,
    /// Simulated dev evidence (local networks): shown as INSECURE.
    Dev,
}

/// Where to look: a chain (API + root), report URLs, or a `cocoon up` network.json.
#[derive(Args, Clone)]
pub struct LookArgs {
    /// A `cocoon up` network's network.json: its chain and its proxies' reports (default:
    /// data/up/network.json when neither --root nor --report is given).
    #[arg(long)]
    pub network: Option<PathBuf>,
    /// The TON HTTP API v2 (toncenter, or `cocoon devnet`'s address).
    #[arg(long, env = "COCOON_TON_API")]
    pub api: Option<String>,
    /// The root contract (any address form).
    #[arg(long, env = "COCOON_ROOT", requires = "api")]
    pub root: Option<String>,
    /// A proxy report URL to read besides those the root lists (repeatable).
    #[arg(long = "report")]
    pub reports: Vec<String>,
    /// Which attestation counts as verified (default: tdx; dev for a `cocoon up` network.json).
    #[arg(long, value_enum)]
    pub attestation: Option<Attestation>,
    /// Seconds one report or getter may take.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

impl LookArgs {
    /// The collector's configuration.
    fn config(&self) -> Result<CollectConfig> {
        let mut reports = self.reports.clone();
        let mut chain = None;
        let mut attestation = self.attestation;
        let network = match (&self.network, &self.root, self.reports.is_empty()) {
            (Some(p), _, _) => Some(p.clone()),
            (None, None, true) => Some(PathBuf::from("data/up/network.json")),
            _ => None,
        };
        if let Some(path) = network {
            let text = std::fs::read(&path).with_context(|| {
                format!("reading {} (start a network with `cocoon up`, or give --api and --root)", path.display())
            })?;
            let info: serde_json::Value =
                serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            if let (Some(api), Some(root)) = (info["chain"]["api"].as_str(), info["chain"]["root"].as_str()) {
                chain = Some((api.to_string(), root.to_string()));
            }
            for p in info["proxies"].as_array().into_iter().flatten() {
                if let Some(r) = p["report"].as_str() {
                    reports.push(r.to_string());
                }
            }
            attestation = attestation.or(Some(Attestation::Dev));
        }
        if let (Some(api), Some(root)) = (&self.api, &self.root) {
            chain = Some((api.clone(), root.clone()));
        }
        let chain = chain.map(|(api_url, root)| cocoon_onchain::ChainConfig {
            api_url,
            api_key: None,
            root,
            message_ttl_secs: 60,
            poll_interval_ms: 1000,
            registry_refresh_secs: 300,
        });
        Ok(CollectConfig {
            chain,
            reports,
            attestation: match attestation.unwrap_or(Attestation::Tdx) {
                Attestation::Tdx => AttestationMode::Tdx,
                Attestation::Dev => AttestationMode::Dev,
            },
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
        })
    }
}

/// Arguments of `cocoon explorer`.
#[derive(Args)]
pub struct ExplorerArgs {
    #[command(flatten)]
    pub look: LookArgs,
    /// Where to serve the page (it shows only public figures; loopback by default).
    #[arg(long, default_value = "127.0.0.1:10001")]
    pub listen: SocketAddr,
    /// Seconds between collections.
    #[arg(long, default_value_t = 5)]
    pub interval_secs: u64,
}

/// Arguments of `cocoon status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub look: LookArgs,
    /// Print the snapshot as JSON (the explorer's /api/snapshot shape).
    #[arg(long)]
    pub json: bool,
    /// Seconds between the two reads that give requests/s and tokens/s (0: one read, no rates).
    #[arg(long, default_value_t = 2.0)]
    pub interval_secs: f64,
}

/// `cocoon explorer`.
pub async fn explorer(a: ExplorerArgs) -> Result<()> {
    let cfg = a.look.config()?;
    let collector = Collector::new(cfg)?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding the explorer to {}", a.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("explorer: http://{addr}/");
    let stop = crate::shutdown::on_signal();
    cocoon_explorer::server::serve(listener, collector, Duration::from_secs(a.interval_secs.max(1)), stop).await?;
    Ok(())
}

/// `cocoon status`.
pub async fn status(a: StatusArgs) -> Result<()> {
    let collector = Collector::new(a.look.config()?)?;
    let started = Instant::now();
    let mut snap = collector.collect().await;
    if a.interval_secs > 0.0 {
        let wait = Duration::from_secs_f64(a.interval_secs).saturating_sub(started.elapsed());
        if !a.json {
            eprintln!("reading again in {:.1} s for the rates...", wait.as_secs_f64());
        }
        tokio::time::sleep(wait).await;
        snap = collector.collect().await;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&snap)?);
    } else {
        print!("{}", cocoon_explorer::table::render(&snap));
    }
    Ok(())
}

/// Starts `cocoon explorer` as a child of a local network on `port` (0: any free port),
/// reading its chain and `reports`; returns its URL once it serves a first snapshot.
pub async fn start_in(
    net: &mut Network,
    exe: &Path,
    port: u16,
    chain: Option<(&str, &str)>,
    reports: &[String],
    log_dir: &Path,
) -> Result<String> {
    let port = if port == 0 { network::free_ports(1)?[0] } else { port };
    let mut args = vec![
        "explorer".to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--interval-secs".into(),
        "2".into(),
    ];
    args.extend(["--attestation".into(), "dev".into()]);
    if let Some((api, root)) = chain {
        args.extend(["--api".into(), api.to_string(), "--root".into(), root.to_string()]);
    }
    for r in reports {
        args.extend(["--report".into(), r.clone()]);
    }
    net.spawn(exe, "explorer", args, log_dir)?;
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        net.check_alive()?;
        if let Ok((200, _)) = network::get_json(&format!("{url}api/snapshot")).await {
            return Ok(url);
        }
        if Instant::now() > deadline {
            bail!("the explorer did not serve within 60 s; see {}", log_dir.join("explorer.log").display());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
