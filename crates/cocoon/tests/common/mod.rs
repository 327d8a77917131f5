//! Test harness: starts real `cocoon` processes on loopback and talks HTTP to them.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::PathBuf,
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

pub mod chain;

pub const BIN: &str = env!("CARGO_BIN_EXE_cocoon");
pub const MODEL: &str = "bench-model";

static DIRS: AtomicU32 = AtomicU32::new(0);

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "cocoon-test-{}-{}-{tag}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `n` ports free now, below Linux's ephemeral range (32768 and up): a port the kernel hands
/// out for `:0` is also the kind every outgoing connection takes, so with tests running in
/// parallel it could be taken again before the process meant to listen on it starts. Each port
/// is handed out once per test binary.
pub fn free_ports(n: usize) -> Vec<u16> {
    use std::sync::Mutex;
    static NEXT: Mutex<Option<u16>> = Mutex::new(None);
    let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
    // Start at a place that depends on the process, so two test binaries rarely overlap.
    let mut port = next.unwrap_or(20_000 + (std::process::id() % 600) as u16 * 20);
    let mut out = Vec::with_capacity(n);
    let mut tried = 0;
    while out.len() < n {
        port = if port >= 32_000 { 20_000 } else { port + 1 };
        tried += 1;
        assert!(tried < 20_000, "no free port below 32000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out.push(port);
        }
    }
    *next = Some(port);
    out
}

/// A set of running role processes, killed when dropped.
pub struct Procs {
    pub dir: PathBuf,
    pub children: BTreeMap<String, Child>,
}

impl Procs {
    pub fn new(tag: &str) -> Self {
        Self { dir: temp_dir(tag), children: BTreeMap::new() }
    }

    pub fn spawn(&mut self, name: &str, args: &[String]) {
        self.spawn_in(None, name, args)
    }

    /// [`Procs::spawn`] inside the network namespace `netns` (`ip netns exec`, which execs
    /// the binary: the pid is cocoon's) when one is given.
    pub fn spawn_in(&mut self, netns: Option<&str>, name: &str, args: &[String]) {
        let log = std::fs::File::create(self.log_path(name)).expect("log file");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, BIN]);
                c
            }
            None => Command::new(BIN),
        };
        let child = cmd
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn cocoon");
        self.children.insert(name.to_string(), child);
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    pub fn pid(&self, name: &str) -> u32 {
        self.children[name].id().expect("running")
    }

    /// SIGKILL: the process gets no chance to say goodbye.
    pub async fn kill(&mut self, name: &str) {
        let mut c = self.children.remove(name).expect("known process");
        c.kill().await.expect("kill");
    }
}

/// Addresses of a test network.
pub struct Net {
    pub procs: Procs,
    pub backend: String,
    pub api: String,
    pub proxy_client: Vec<String>,
    pub proxy_worker: Vec<String>,
    pub proxy_stats: Vec<String>,
    pub worker_stats: Vec<String>,
    /// Each worker's data directory (its keys and the controls' token).
    pub worker_dirs: Vec<PathBuf>,
    /// How each proxy was started, to start it again after a kill.
    pub proxy_args: Vec<Vec<String>>,
}

pub struct NetOpts {
    pub workers: usize,
    pub proxies: usize,
    pub delay_ms: u64,
    pub chunks: usize,
    pub max_active: u32,
    /// Payments on: proxies keep books (fast group commits), nodes keep keys and vouchers.
    pub payments: bool,
}

impl Default for NetOpts {
    fn default() -> Self {
        Self { workers: 2, proxies: 1, delay_ms: 0, chunks: 50, max_active: 32, payments: false }
    }
}

/// An argument for a command line.
pub fn s(x: impl ToString) -> String {
    x.to_string()
}

/// `cocoon client` with its API on `api`, one proxy at `proxy` and its data in `data_dir`.
pub fn client_args(api: u16, proxy: u16, data_dir: &std::path::Path) -> Vec<String> {
    vec![
        s("client"),
        s("--listen"),
        format!("127.0.0.1:{api}"),
        s("--proxy"),
        format!("127.0.0.1:{proxy}"),
        s("--data-dir"),
        data_dir.display().to_string(),
    ]
}

impl Net {
    pub async fn start(tag: &str, o: NetOpts) -> Net {
        let mut procs = Procs::new(tag);
        let ports = free_ports(2 + 3 * o.proxies + o.workers);
        let mut p = ports.into_iter();
        let backend_port = p.next().unwrap();
        let client_port = p.next().unwrap();
        procs.spawn(
            "backend",
            &[
                s("bench-backend"),
                s("--port"),
                s(backend_port),
                s("--delay-ms"),
                s(o.delay_ms),
                s("--chunks"),
                s(o.chunks),
            ],
        );
        let backend = format!("http://127.0.0.1:{backend_port}");
        let mut net = Net {
            procs,
            backend: backend.clone(),
            api: format!("http://127.0.0.1:{client_port}"),
            proxy_client: vec![],
            proxy_worker: vec![],
            proxy_stats: vec![],
            worker_stats: vec![],
            worker_dirs: vec![],
            proxy_args: vec![],
        };
        wait_for(&format!("{backend}/health"), 30, |_| true).await;
        for i in 0..o.proxies {
            let (c, w, st) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
            let mut args = vec![
                s("proxy"),
                s("--client-listen"),
                format!("127.0.0.1:{c}"),
                s("--worker-listen"),
                format!("127.0.0.1:{w}"),
                s("--stats-listen"),
                format!("127.0.0.1:{st}"),
            ];
            if o.payments {
                let dir = net.procs.dir.join(format!("proxy-{i}"));
                let cfg = format!(
                    "[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[payments]\ndata_dir = {dir:?}\ncommit_interval_ms = 50\nown_stake = 1000000000\nsettle_interval_ms = 100\ncharge_threshold = 1\npayout_threshold = 1\n",
                    dir.join("key.pem")
                );
                let path = net.procs.dir.join(format!("proxy-{i}.toml"));
                std::fs::write(&path, cfg).expect("proxy config");
                args.extend([s("--config"), path.display().to_string()]);
            }
            net.procs.spawn(&format!("proxy-{i}"), &args);
            net.proxy_args.push(args);
            net.proxy_client.push(format!("127.0.0.1:{c}"));
            net.proxy_worker.push(format!("127.0.0.1:{w}"));
            net.proxy_stats.push(format!("http://127.0.0.1:{st}/stats"));
        }
        for i in 0..o.workers {
            let st = p.next().unwrap();
            let name = format!("worker-{i}");
            let extra = match o.payments {
                true => vec![s("--data-dir"), net.procs.dir.join(&name).display().to_string()],
                false => vec![],
            };
            net.start_worker(&name, st, o.max_active, &extra);
        }
        for url in net.proxy_stats.clone() {
            let want = o.workers;
            wait_for(&url, 30, |v| enabled_workers(v) >= want).await;
        }
        let mut args = vec![s("client"), s("--listen"), format!("127.0.0.1:{client_port}")];
        for c in &net.proxy_client {
            args.extend([s("--proxy"), c.clone()]);
        }
        if o.payments {
            args.extend([s("--data-dir"), net.procs.dir.join("client").display().to_string()]);
        }
        net.procs.spawn("client", &args);
        let want = o.proxies as u64;
        wait_for(&format!("{}/health", net.api), 30, |v| v["proxies_connected"].as_u64() == Some(want)).await;
        if o.payments {
            remember_client(&net.api, &net.procs.dir.join("client"));
        }
        net
    }

    pub fn start_worker(&mut self, name: &str, stats_port: u16, max_active: u32, extra: &[String]) {
        let mut args = vec![
            s("worker"),
            s("--model"),
            s(MODEL),
            s("--backend"),
            self.backend.clone(),
            s("--stats-listen"),
            format!("127.0.0.1:{stats_port}"),
            s("--max-active"),
            s(max_active),
        ];
        for w in &self.proxy_worker {
            args.extend([s("--proxy"), w.clone()]);
        }
        // Controls on a port of their own; a data dir so that their token can be read.
        args.extend([s("--admin-listen"), s("127.0.0.1:0")]);
        if !extra.iter().any(|a| a == "--data-dir") {
            args.extend([s("--data-dir"), self.procs.dir.join(name).display().to_string()]);
        }
        args.extend(extra.iter().cloned());
        self.procs.spawn(name, &args);
        self.worker_stats.push(format!("http://127.0.0.1:{stats_port}/stats"));
        self.worker_dirs
            .push(args.iter().position(|a| a == "--data-dir").map(|i| PathBuf::from(&args[i + 1])).unwrap_or_default());
    }

    /// Starts proxy `i` again with the arguments it was first started with.
    pub fn restart_proxy(&mut self, i: usize) {
        let args = self.proxy_args[i].clone();
        let name = format!("proxy-{i}");
        let old = self.procs.log(&name);
        std::fs::write(self.procs.dir.join(format!("{name}.before-restart.log")), old).ok();
        self.procs.spawn(&name, &args);
    }

    pub fn chat_url(&self) -> String {
        format!("{}/v1/chat/completions", self.api)
    }
}

/// POSTs `body` to worker `i`'s control `action` (`/admin/<action>`) as its operator does:
/// with the token from its data dir and a JSON content type.
pub async fn worker_control(net: &Net, i: usize, action: &str, body: &str) -> (u16, Bytes) {
    let (_, stats) = get_json(&net.worker_stats[i]).await;
    let admin = stats["admin"].as_str().expect("the worker's /stats names its admin listener").to_string();
    let token = std::fs::read_to_string(net.worker_dirs[i].join("admin-token")).expect("admin-token");
    let req = http::Request::post(format!("{admin}/{action}"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = client().request(req).await.expect("POST");
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.expect("body").to_bytes())
}

pub fn enabled_workers(proxy_stats: &Value) -> usize {
    proxy_stats["workers"]
        .as_array()
        .map(|ws| ws.iter().filter(|w| w["enabled"] == Value::Bool(true)).count())
        .unwrap_or(0)
}

pub fn chat_body(stream: bool, extra: &str) -> String {
    format!(
        r#"{{"model":"{MODEL}","stream":{stream},"messages":[{{"role":"user","content":"hello there"}}]{}{extra}}}"#,
        if extra.is_empty() { "" } else { "," }
    )
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Client APIs whose money-route token the helpers attach (see [`remember_client`]).
static TOKENS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Remembers the API token of the client at `api` (kept in `data_dir/api-token`): from now on
/// [`get_json`] and [`post_json`] send it on that client's `/v1/payments/*` routes, as the
/// `cocoon client` commands do. Attack tests send their own requests without it.
pub fn remember_client(api: &str, data_dir: &std::path::Path) {
    let token = std::fs::read_to_string(data_dir.join("api-token")).expect("the client's api-token");
    TOKENS.lock().unwrap().push((api.trim_end_matches('/').to_string(), token.trim().to_string()));
}

fn token_for(url: &str) -> Option<String> {
    if !url.contains("/v1/payments/") {
        return None;
    }
    TOKENS.lock().unwrap().iter().find(|(api, _)| url.starts_with(api.as_str())).map(|(_, t)| t.clone())
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let mut req = http::Request::get(url);
    if let Some(t) = token_for(url) {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = client().request(req.body(Full::new(Bytes::new())).expect("request")).await.expect("GET");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// GETs a body as bytes.
pub async fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let resp =
        client().request(http::Request::get(url).body(Full::new(Bytes::new())).expect("request")).await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.expect("body").to_bytes().to_vec())
}

/// POSTs JSON and parses the JSON answer.
pub async fn post_json(url: &str, body: &str) -> (u16, Value) {
    let mut req = http::Request::post(url).header("content-type", "application/json");
    if let Some(t) = token_for(url) {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp =
        client().request(req.body(Full::new(Bytes::from(body.to_string()))).expect("request")).await.expect("POST");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// POSTs and returns the status and the whole body.
pub async fn post(url: &str, body: impl Into<Bytes>) -> (u16, Bytes) {
    let resp = post_stream(url, body).await;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

/// POSTs a multipart form (OpenAI's audio endpoints): status and body.
pub async fn post_form(url: &str, fields: &[(&str, &str)], file_name: &str, audio: &[u8]) -> (u16, Bytes) {
    let (content_type, body) = cocoon_openai::transcription::multipart_form(fields, file_name, audio);
    let req = http::Request::post(url).header("content-type", content_type).body(Full::new(body)).expect("request");
    let resp = client().request(req).await.expect("POST");
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.expect("body").to_bytes())
}

/// The speech model tests run on (`COCOON_TEST_SPEECH_MODEL`, else fetched by
/// scripts/fetch-models.sh).
pub fn test_speech_model() -> String {
    cocoon_speech::testing::test_model().unwrap_or_else(|e| panic!("{e}")).display().to_string()
}

/// `text` spoken by espeak-ng, as a WAV file.
pub fn speak(text: &str) -> Vec<u8> {
    cocoon_speech::testing::speak(text).unwrap_or_else(|e| panic!("{e}"))
}

/// `text` spoken by espeak-ng's `voice` (a language code) at `wpm` words per minute, as a WAV file.
pub fn speak_at(voice: &str, wpm: u32, text: &str) -> Vec<u8> {
    cocoon_speech::testing::speak_at(voice, wpm, text).unwrap_or_else(|e| panic!("{e}"))
}

/// POSTs and returns the response with its body still streaming.
pub async fn post_stream(url: &str, body: impl Into<Bytes>) -> http::Response<hyper::body::Incoming> {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .expect("request");
    client().request(req).await.expect("POST")
}

/// Reads body frames until `pred` holds on everything read so far (or the body ends).
pub async fn read_until(body: &mut hyper::body::Incoming, buf: &mut Vec<u8>, pred: impl Fn(&[u8]) -> bool) {
    while !pred(buf) {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
            _ => return,
        }
    }
}

pub fn count(haystack: &[u8], needle: &str) -> usize {
    let n = needle.as_bytes();
    haystack.windows(n.len()).filter(|w| *w == n).count()
}

/// Polls a JSON URL until `ready` holds; panics with the last value after `secs`.
pub async fn wait_for(url: &str, secs: u64, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = Value::Null;
    loop {
        if let Ok(Ok(resp)) =
            tokio::time::timeout(Duration::from_secs(2), client().get(url.parse().expect("url"))).await
        {
            if let Ok(b) = resp.into_body().collect().await {
                last = serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null);
                if ready(&last) {
                    return last;
                }
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting on {url}; last answer: {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The GGUF model tests run the embedded engine on (`COCOON_TEST_MODEL`, else fetched by
/// scripts/fetch-models.sh).
pub fn test_model() -> String {
    cocoon_engine::testing::test_model().unwrap_or_else(|e| panic!("{e}")).display().to_string()
}

/// The embedding model tests run on (`COCOON_TEST_EMBEDDING_MODEL`, else fetched by
/// scripts/fetch-models.sh).
pub fn test_embedding_model() -> String {
    cocoon_engine::testing::test_embedding_model().unwrap_or_else(|e| panic!("{e}")).display().to_string()
}

/// The contracts' Node project (the devnet runs from it).
pub fn contracts() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
}

/// Why a devnet test cannot run here, if it cannot (it is then skipped, saying why).
pub fn missing_prerequisite() -> Option<String> {
    if std::process::Command::new("node").arg("--version").output().is_err() {
        return Some("`node` is not installed".into());
    }
    let modules = contracts().join("node_modules");
    if !modules.join("tsx").is_dir() || !modules.join("@ton/sandbox").is_dir() {
        return Some(format!("{} is missing (run `npm ci` in contracts/)", modules.display()));
    }
    None
}

/// A running `cocoon up`. Dropped (a test that failed midway included), it is interrupted as
/// with Ctrl-C, so that it stops the roles it started: killing it would leave them running.
pub struct Up(Child);

impl Up {
    /// Ctrl-C: `up` stops its roles and exits; waits up to 30 s for that, and says how it went.
    pub async fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.interrupt();
        tokio::time::timeout(Duration::from_secs(30), self.0.wait()).await.ok().and_then(Result::ok)
    }

    fn interrupt(&self) {
        if let Some(pid) = self.0.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT);
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.interrupt();
    }
}

/// Starts `cocoon up` on `port` with its files in `dir` and `args` after those, and waits (up
/// to 3 minutes: the devnet, the proxy's registration and the model loads come first) for its
/// `network.json`, which it writes once the network serves.
pub async fn start_up(dir: &std::path::Path, port: u16, args: &[&str]) -> (Up, Value) {
    let up = Up(Command::new(BIN)
        .args(["up", "--client-port", &port.to_string(), "--data-dir", &dir.display().to_string()])
        .args(["--explorer-port", "0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cocoon up"));
    let net_json = dir.join("network.json");
    for _ in 0..1800 {
        if net_json.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info = serde_json::from_slice(&std::fs::read(&net_json).expect("network.json")).expect("network.json is JSON");
    (up, info)
}

/// The synthetic backend's latest completion or embeddings request body, byte for byte.
pub async fn backend_last_request(net: &Net) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("{}/last-request", net.backend);
    let req = http::Request::get(url).body(Full::new(Bytes::new())).expect("request");
    let resp = client.request(req).await.expect("GET /last-request");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

/// A number in a JSON object, or a panic naming it.
pub fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// A proxy's books (its `/stats`), checked from outside: every nanoton deposited is in exactly
/// one place, and every charge went to a worker or the commission.
pub fn assert_books_balance(stats: &Value) {
    let l = &stats["ledger"];
    assert_eq!(l["balanced"], Value::Bool(true), "{l}");
    let placed = num(l, "client_available")
        + num(l, "reserved")
        + num(l, "staked")
        + num(l, "worker_earned")
        + num(l, "commission")
        + num(l, "withdrawn");
    assert_eq!(placed, num(l, "deposited"), "books: {l}");
    assert_eq!(num(l, "charged"), num(l, "worker_earned") + num(l, "commission"), "books: {l}");
}
