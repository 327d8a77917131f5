//! A whole network on loopback, as child processes: what `cocoon up`, `cocoon bench` and the
//! black-box tests start.
//!
//! Each role runs as its own OS process (as in production) with a generated TOML config in
//! `<data-dir>/config/` and its log in `<data-dir>/logs/`. `network.json` tells scripts where
//! every role is.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{json, Value};
use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

/// What to start.
pub struct Spec {
    /// LLM workers to start (a speech worker is added when `speech` is set, an embedding worker
    /// when `embedding` is).
    pub workers: usize,
    /// Proxies to start; every worker and the client connect to all of them.
    pub proxies: usize,
    /// Where the workers' answers come from.
    pub backend: BackendSpec,
    /// Model name the workers serve (default: from the model file, `bench-model` when synthetic, `default` for a URL).
    pub model: Option<String>,
    /// Loopback port of the client's OpenAI-compatible API; it must be free.
    pub client_port: u16,
    /// Where the roles' configs (`config/`), logs (`logs/`), data and `network.json` go.
    pub data_dir: PathBuf,
    /// Each worker's limit of concurrent requests.
    pub max_active: u32,
    /// How the synthetic backend answers, when it is started (its `model` is ignored: see
    /// `model`).
    pub bench: cocoon_bench_backend::Options,
    /// Payments on, with this starting deposit for the client at each proxy (nanotons);
    /// `None`: payments off.
    pub deposit: Option<u64>,
    /// A Whisper model directory: one more worker serves speech to text with it.
    pub speech: Option<PathBuf>,
    /// A GGUF embedding model: one more worker serves `/v1/embeddings` with it.
    pub embedding: Option<PathBuf>,
    /// With payments: settle on a local TON chain (`cocoon devnet`, started here) rather than
    /// on the embedded DEV backend.
    pub chain: bool,
    /// Start `cocoon explorer` on this loopback port (0: any free port); `None`: no explorer.
    pub explorer: Option<u16>,
}

/// What the workers serve.
pub enum BackendSpec {
    /// The embedded llama.cpp engine on this GGUF file, with this many CPU threads and
    /// sequences at once per worker.
    Embedded { model_file: PathBuf, threads: usize, parallel: usize },
    /// An OpenAI-compatible server at this URL.
    Url(String),
    /// The synthetic bench backend (canned text), started by the network.
    Synthetic,
}

/// The proxy operator's own stake in a local network: 10 TON.
const PROXY_STAKE: u64 = 10_000_000_000;

/// One TON in nanotons.
const TON: u64 = 1_000_000_000;

/// One running child process.
pub struct Proc {
    /// The role's name (`proxy-0`, `worker-1`, `client`, ...), also its log file's name.
    pub name: String,
    /// The process; killed if the handle is dropped.
    pub child: Child,
    /// The file its stdout and stderr go to.
    pub log: PathBuf,
    /// How it was started (the supervisor starts it again the same way).
    pub exe: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// When it was (last) started.
    pub started: Instant,
    /// Restarts in a row that ended within a minute (reset once it stays up longer).
    pub quick_restarts: u32,
}

/// A local network started by [`Network::start`]: its child processes and where to reach it.
pub struct Network {
    /// Every child process, in start order ([`Network::stop`] stops them in reverse).
    pub procs: Vec<Proc>,
    /// The client's OpenAI-compatible base URL (`http://127.0.0.1:<port>/v1`).
    pub api: String,
    /// The backend's base URL the workers use; empty for the embedded engine.
    pub backend_url: String,
    /// The model name the LLM workers serve.
    pub model: String,
    /// What `network.json` holds: each role's pid and addresses, the backend, model and chain.
    pub info: Value,
    /// The local chain, when payments settle on it.
    pub chain: Option<crate::up_chain::LocalChain>,
}

/// Reserves `n` distinct free loopback ports.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

fn check_port_free(port: u16, flag: &str) -> Result<()> {
    match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bail!("port {port} is already in use (another `cocoon up` or client running?); choose another with {flag}")
        }
        Err(e) => bail!("cannot use port {port}: {e}"),
    }
}

impl Network {
    /// No process yet: the set [`Network::spawn`] adds to (benchmarks that start their roles
    /// themselves use it for the spawning, the liveness checks and the stop).
    pub(crate) fn empty() -> Self {
        Network {
            procs: Vec::new(),
            api: String::new(),
            backend_url: String::new(),
            model: String::new(),
            info: Value::Null,
            chain: None,
        }
    }

    /// Starts every role of `spec` as a child process, waits until each proxy sees every worker and
    /// the client reaches every proxy (and has its deposit), then writes `network.json`.
    pub async fn start(spec: Spec) -> Result<Self> {
        if spec.workers == 0 || spec.proxies == 0 {
            bail!("need at least one worker and one proxy");
        }
        check_port_free(spec.client_port, "--client-port")?;
        if let Some(port) = spec.explorer.filter(|p| *p != 0) {
            check_port_free(port, "--explorer-port")?;
        }
        let cfg_dir = spec.data_dir.join("config");
        let log_dir = spec.data_dir.join("logs");
        std::fs::create_dir_all(&cfg_dir).with_context(|| format!("creating {}", cfg_dir.display()))?;
        std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
        let exe = std::env::current_exe().context("locating the cocoon binary")?;
        let workers = spec.workers + usize::from(spec.speech.is_some()) + usize::from(spec.embedding.is_some());
        let mut ports = free_ports(1 + 4 * spec.proxies + workers)?.into_iter();
        let mut next = || ports.next().unwrap_or(0);
        let mut net = Network::empty();
        net.api = format!("http://127.0.0.1:{}/v1", spec.client_port);
        let on_chain = spec.chain && spec.deposit.is_some();
        if on_chain {
            let port = free_ports(1)?[0];
            net.chain = Some(crate::up_chain::start(&mut net, &exe, &spec.data_dir, port, &log_dir).await?);
        }

        // The backend: the given one, or the synthetic one.
        let backend_port = next();
        let (backend_url, model, backend_info) = match &spec.backend {
            BackendSpec::Url(url) => {
                (url.clone(), spec.model.clone().unwrap_or_else(|| "default".into()), json!({"url": url}))
            }
            BackendSpec::Embedded { model_file: path, .. } => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("model").to_string();
                let model = spec.model.clone().unwrap_or_else(|| default_model_name(&name));
                (String::new(), model, json!({"embedded": path.display().to_string()}))
            }
            BackendSpec::Synthetic => {
                let model = spec.model.clone().unwrap_or_else(|| "bench-model".into());
                let b = &spec.bench;
                let mut args = vec![
                    "bench-backend".to_string(),
                    "--port".into(),
                    backend_port.to_string(),
                    "--model".into(),
                    model.clone(),
                    "--chunks".into(),
                    b.chunks.to_string(),
                    "--bytes".into(),
                    b.bytes.to_string(),
                    "--delay-ms".into(),
                    b.delay_ms.to_string(),
                ];
                if b.flush {
                    args.push("--flush".into());
                }
                let url = format!("http://127.0.0.1:{backend_port}");
                net.spawn(&exe, "backend", args, &log_dir)?;
                wait_http(&mut net, &format!("{url}/health"), |_| true).await?;
                (url.clone(), model, json!({"url": url, "synthetic": true, "pid": net.procs[0].child.id()}))
            }
        };
        net.backend_url = backend_url.clone();
        net.model = model.clone();

        // Proxies.
        let mut proxy_info = Vec::new();
        let mut worker_addrs = Vec::new();
        let mut client_addrs = Vec::new();
        for i in 0..spec.proxies {
            let (c, w, s, r) = (next(), next(), next(), next());
            let mut cfg = format!(
                "client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{s}\"\nreport_listen = \"127.0.0.1:{r}\"\n\n[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[client_policy]\nkind = \"any\"\n\n[worker_policy]\nkind = \"dev\"\n",
                node_dir(&spec, &format!("proxy-{i}")).join("key.pem")
            );
            if spec.deposit.is_some() {
                cfg.push_str(&format!(
                    "\n[payments]\ndata_dir = {:?}\nown_stake = {PROXY_STAKE}\n",
                    node_dir(&spec, &format!("proxy-{i}"))
                ));
            }
            if let Some(chain) = &net.chain {
                // The proxy's wallet pays its stake; thresholds of 1 nanoton and an anchor every
                // 10 s (vouchers wait for the anchor that covers them) make charges and
                // payouts show on the local chain within seconds.
                chain.fund(&node_dir(&spec, &format!("proxy-{i}")).join("key.pem"), PROXY_STAKE + 2 * TON).await?;
                cfg.push_str(&format!(
                    "settle_interval_ms = 5000\ncharge_threshold = 1\npayout_threshold = 1\nanchor_interval_secs = 10\n\n[payments.ton]\napi_url = \"{}\"\nroot = \"{}\"\npoll_interval_ms = 200\n",
                    chain.api, chain.root
                ));
            }
            let path = cfg_dir.join(format!("proxy-{i}.toml"));
            std::fs::write(&path, cfg)?;
            let stats = format!("http://127.0.0.1:{s}/stats");
            net.spawn(
                &exe,
                &format!("proxy-{i}"),
                vec!["proxy".into(), "--config".into(), path.display().to_string()],
                &log_dir,
            )?;
            proxy_info.push(json!({"pid": net.procs.last().and_then(|p| p.child.id()), "stats": stats,
                "report": format!("http://127.0.0.1:{r}/report"),
                "client_addr": format!("127.0.0.1:{c}"), "worker_addr": format!("127.0.0.1:{w}")}));
            worker_addrs.push(format!("\"127.0.0.1:{w}\""));
            client_addrs.push(format!("\"127.0.0.1:{c}\""));
        }
        for p in proxy_info.iter() {
            let url = p["stats"].as_str().unwrap_or_default().replace("/stats", "/health");
            wait_http(&mut net, &url, |_| true).await?;
        }

        // Workers.
        let mut worker_info = Vec::new();
        let speech_model =
            spec.speech.as_ref().map(|dir| dir.file_name().and_then(|n| n.to_str()).unwrap_or("whisper").to_string());
        let embedding_model = spec
            .embedding
            .as_ref()
            .map(|file| default_model_name(file.file_name().and_then(|n| n.to_str()).unwrap_or("embedding.gguf")));
        // After the LLM workers: the speech worker, then the embedding worker, when wanted.
        let mut extras = Vec::new();
        if let (Some(dir), Some(name)) = (&spec.speech, &speech_model) {
            extras.push((name.as_str(), format!("\n[speech]\nmodel_dir = {:?}\nthreads = 1\n", absolute(dir))));
        }
        if let (Some(file), Some(name)) = (&spec.embedding, &embedding_model) {
            extras.push((
                name.as_str(),
                format!("\n[embedding]\nmodel_path = {:?}\nthreads = 1\ncontext = 512\nparallel = 8\n", absolute(file)),
            ));
        }
        let total_workers = spec.workers + extras.len();
        for i in 0..total_workers {
            let s = next();
            let extra = i.checked_sub(spec.workers).and_then(|e| extras.get(e));
            let (served, backend_cfg) = match (extra, &spec.backend) {
                (Some((name, table)), _) => (*name, table.clone()),
                (None, BackendSpec::Embedded { model_file, threads, parallel }) => (
                    model.as_str(),
                    format!(
                        "\n[embedded]\nmodel_path = {:?}\nthreads = {threads}\nparallel = {parallel}\n",
                        absolute(model_file)
                    ),
                ),
                (None, _) => (model.as_str(), format!("backend = \"{backend_url}\"\n")),
            };
            let mut cfg = format!(
                "proxies = [{}]\nmodel = \"{served}\"\nhardware = \"cpu\"\ncoefficient = 1000\nmax_active = {}\nstats_listen = \"127.0.0.1:{s}\"\nadmin_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n",
                worker_addrs.join(", "),
                spec.max_active,
                node_dir(&spec, &format!("worker-{i}")),
            );
            cfg.push_str(&backend_cfg);
            cfg.push_str("\n[attestation]\nmode = \"dev\"\n\n[proxy_policy]\nkind = \"dev\"\n");
            let path = cfg_dir.join(format!("worker-{i}.toml"));
            std::fs::write(&path, cfg)?;
            let stats = format!("http://127.0.0.1:{s}/stats");
            net.spawn(
                &exe,
                &format!("worker-{i}"),
                vec!["worker".into(), "--config".into(), path.display().to_string()],
                &log_dir,
            )?;
            worker_info
                .push(json!({"pid": net.procs.last().and_then(|p| p.child.id()), "stats": stats, "model": served}));
        }
        // Every proxy must see every worker, enabled.
        for p in proxy_info.iter() {
            let url = p["stats"].as_str().unwrap_or_default().to_string();
            let want = total_workers;
            wait_http(&mut net, &url, |v| {
                v["workers"]
                    .as_array()
                    .is_some_and(|ws| ws.iter().filter(|w| w["enabled"] == json!(true)).count() >= want)
            })
            .await?;
        }

        // The client.
        let cfg = format!(
            "listen = \"127.0.0.1:{}\"\nproxies = [{}]\ndata_dir = {:?}\n\n[attestation]\nmode = \"none\"\n\n[proxy_policy]\nkind = \"dev\"\n",
            spec.client_port,
            client_addrs.join(", "),
            node_dir(&spec, "client"),
        );
        let mut cfg = cfg;
        if let (Some(chain), Some(deposit)) = (&net.chain, spec.deposit) {
            let want = (deposit + deposit / 10 + TON) * spec.proxies as u64;
            chain.fund(&node_dir(&spec, "client").join("key.pem"), want).await?;
            cfg.push_str(&format!(
                "\n[chain]\napi_url = \"{}\"\nroot = \"{}\"\npoll_interval_ms = 200\n",
                chain.api, chain.root
            ));
        }
        let path = cfg_dir.join("client.toml");
        std::fs::write(&path, cfg)?;
        let client_stats = format!("http://127.0.0.1:{}/stats", spec.client_port);
        net.spawn(&exe, "client", vec!["client".into(), "--config".into(), path.display().to_string()], &log_dir)?;
        let want = spec.proxies as u64;
        wait_http(&mut net, &format!("http://127.0.0.1:{}/health", spec.client_port), |v| {
            v["proxies_connected"].as_u64() == Some(want)
        })
        .await?;

        if let Some(deposit) = spec.deposit {
            let token = read_token(&node_dir(&spec, "client"), cocoon_client::api_token::TOKEN_FILE)?;
            for i in 0..spec.proxies {
                top_up(spec.client_port, i, deposit, on_chain, &token).await?;
            }
        }

        // The explorer: on chain it finds the proxies in the root, and is given their reports.
        let explorer = match spec.explorer {
            Some(port) => {
                // Also given on chain: a proxy registered by an older build has no report URL in the root.
                let reports: Vec<String> =
                    proxy_info.iter().filter_map(|p| p["report"].as_str().map(String::from)).collect();
                let chain = net.chain.as_ref().map(|c| (c.api.clone(), c.root.clone()));
                let chain = chain.as_ref().map(|(a, r)| (a.as_str(), r.as_str()));
                Some(crate::explorer_cli::start_in(&mut net, &exe, port, chain, &reports, &log_dir).await?)
            }
            None => None,
        };
        net.info = json!({
            "explorer": explorer,
            "client": {"pid": net.procs.last().and_then(|p| p.child.id()), "api": net.api, "stats": client_stats,
                "token_file": node_dir(&spec, "client").join(cocoon_client::api_token::TOKEN_FILE).display().to_string()},
            "proxies": proxy_info,
            "workers": worker_info,
            "backend": backend_info,
            "model": model,
            "speech_model": speech_model,
            "embedding_model": embedding_model,
            "data_dir": spec.data_dir.display().to_string(),
            "logs": log_dir.display().to_string(),
            "chain": match &net.chain {
                Some(c) => json!({ "api": format!("{}/api/v2/", c.api), "root": c.root, "devnet": true }),
                None => Value::Null,
            },
        });
        let path = spec.data_dir.join("network.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&net.info)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(net)
    }

    pub(crate) fn spawn(&mut self, exe: &Path, name: &str, args: Vec<String>, log_dir: &Path) -> Result<()> {
        let log = log_dir.join(format!("{name}.log"));
        let child = start_child(exe, &args, &log, false).with_context(|| format!("starting {name}"))?;
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            log,
            exe: exe.to_path_buf(),
            args,
            started: Instant::now(),
            quick_restarts: 0,
        });
        Ok(())
    }

    /// SIGKILLs the role `name` and forgets it: a process that goes away on purpose.
    pub(crate) fn kill(&mut self, name: &str) {
        for p in self.procs.iter_mut().filter(|p| p.name == name) {
            let _ = p.child.start_kill();
        }
        self.procs.retain(|p| p.name != name);
    }

    /// Fails with the log tail of any child that has exited.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        for p in &mut self.procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                bail!("{} exited ({status}):\n{}", p.name, log_tail(&p.log, 15));
            }
        }
        Ok(())
    }

    /// Asks every child to stop (SIGTERM), clients first, and kills what is left after 10 s.
    pub async fn stop(&mut self) {
        for p in self.procs.iter().rev() {
            if let Some(pid) = p.child.id() {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for p in self.procs.iter_mut().rev() {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, p.child.wait()).await.is_err() {
                let _ = p.child.kill().await;
            }
        }
    }
}

/// Starts one role with its output in `log` (appended to when `append`: a restarted role
/// keeps its earlier log).
pub(crate) fn start_child(exe: &Path, args: &[String], log: &Path, append: bool) -> Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(log)
        .with_context(|| format!("creating {}", log.display()))?;
    // All roles share this machine: one runtime thread each avoids cross-thread wake-ups
    // (set COCOON_THREADS to override).
    let threads = std::env::var("COCOON_THREADS").unwrap_or_else(|_| "1".into());
    Ok(Command::new(exe)
        .args(args)
        .env("COCOON_THREADS", threads)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C in the terminal reaches only `up`, which reads
        // the books from the running roles and then stops them in order.
        .process_group(0)
        .spawn()?)
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// "SmolLM2-135M-Instruct.Q4_1.gguf" -> "SmolLM2-135M-Instruct": the file name without the
/// quantization and extension.
/// `p` as an absolute path (children may run elsewhere), else as given.
fn absolute(p: &PathBuf) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.clone())
}

fn default_model_name(file: &str) -> String {
    let stem = file.strip_suffix(".gguf").unwrap_or(file);
    match stem.rsplit_once('.') {
        Some((name, quant)) if quant.starts_with('Q') || quant.starts_with('F') => name.to_string(),
        _ => stem.to_string(),
    }
}

/// Where one node keeps its key and books, as an absolute path (children may run elsewhere).
fn node_dir(spec: &Spec, name: &str) -> PathBuf {
    let dir = spec.data_dir.join(name);
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Gives the client `deposit` at proxy `i`, unless it still has at least half of that
/// (like Cocoon's automatic top-up), so repeated runs do not pile up deposits. On chain the
/// client's wallet sends it (a top-up to its client contract), and a stake of a tenth of it.
pub(crate) async fn top_up(client_port: u16, i: usize, deposit: u64, on_chain: bool, token: &str) -> Result<()> {
    let base = format!("http://127.0.0.1:{client_port}/v1/payments");
    let (_, account) = get_json_with(&format!("{base}/account?proxy={i}"), Some(token)).await?;
    let mut ops = Vec::new();
    if account["available"].as_u64().unwrap_or(0) < deposit / 2 {
        ops.push(("deposit", deposit));
    }
    if on_chain && account["stake"].as_u64().unwrap_or(0) < deposit / 20 {
        ops.push(("stake", deposit / 10));
    }
    for (op, amount) in ops {
        let (status, v) =
            post_json_with(&format!("{base}/{op}?proxy={i}"), &json!({ "amount": amount }), Some(token)).await?;
        if status != 200 {
            bail!("starting {op} at proxy {i} failed (HTTP {status}): {v}");
        }
        if on_chain {
            eprintln!(
                "client {op} on chain at proxy {i}: {} nanotons, transaction {}",
                amount,
                v["sent"]["tx_hash"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// GETs a URL and parses JSON (any status).
pub async fn get_json(url: &str) -> Result<(u16, Value)> {
    get_json_with(url, None).await
}

/// POSTs JSON to a URL and parses the JSON answer (any status).
pub async fn post_json(url: &str, body: &Value) -> Result<(u16, Value)> {
    post_json_with(url, body, None).await
}

/// The token of a client's money routes, from its data directory.
pub fn read_token(data_dir: &std::path::Path, file: &str) -> Result<String> {
    let path = data_dir.join(file);
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("reading the token {}", path.display()))?
        .trim()
        .to_string())
}

/// [`get_json`] with `Authorization: Bearer <token>` when one is given.
pub async fn get_json_with(url: &str, token: Option<&str>) -> Result<(u16, Value)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::get(url);
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::new()))?;
    let resp = tokio::time::timeout(Duration::from_secs(5), client.request(req)).await??;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// [`post_json`] with `Authorization: Bearer <token>` when one is given.
pub async fn post_json_with(url: &str, body: &Value, token: Option<&str>) -> Result<(u16, Value)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::post(url).header(http::header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req)).await??;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

async fn wait_http(net: &mut Network, url: &str, ready: impl Fn(&Value) -> bool) -> Result<()> {
    wait_json(net, url, Duration::from_secs(60), url, ready).await.map(|_| ())
}

/// Polls `url` until its JSON satisfies `ready` and returns it, failing if a role exits or
/// `within` passes (with every role's log tail); says every 5 s that it is still waiting for
/// `what`.
pub(crate) async fn wait_json(
    net: &mut Network,
    url: &str,
    within: Duration,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + within;
    let mut said = Instant::now();
    loop {
        net.check_alive()?;
        if let Ok((200, v)) = get_json(url).await {
            if ready(&v) {
                return Ok(v);
            }
        }
        if Instant::now() > deadline {
            let tails: Vec<String> =
                net.procs.iter().map(|p| format!("--- {} ---\n{}", p.name, log_tail(&p.log, 8))).collect();
            bail!("timed out waiting for {what} ({url}); logs:\n{}", tails.join("\n"));
        }
        if said.elapsed() > Duration::from_secs(5) {
            eprintln!("  still waiting for {what}...");
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
