//! `cocoon bench-streams` (issue 14 item 5): one proxy under a thousand workers and ten thousand
//! concurrent long, slow streams, on one machine.
//!
//! Real processes over real sockets: a synthetic backend that answers slowly, one proxy
//! (payments on), a few clients, and the workers in two `cocoon fleet` processes (each worker
//! with its own key and RA-TLS link). Streams are opened through the clients' APIs and held.
//! While all are in flight the proxy's resident memory is sampled; then the smaller fleet is
//! killed (its workers leave at once, cutting their streams) and a new fleet joins, and every
//! stream on the other workers is watched for a stall: its longest gap between two chunks. The
//! proxy's own selection-time histogram (`/stats`) gives the time to choose a worker.

use crate::bench_scale::percentile;
use crate::network::{self, wait_json, Network};
use crate::procstat;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `cocoon bench-streams`.
#[derive(Args)]
pub struct BenchStreamsArgs {
    /// Workers connected to the proxy.
    #[arg(long, default_value_t = 1000)]
    pub workers: usize,
    /// Concurrent streams to hold.
    #[arg(long, default_value_t = 10_000)]
    pub streams: usize,
    /// Client processes the streams are spread over.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Chunks per answer.
    #[arg(long, default_value_t = 40)]
    pub chunks: usize,
    /// Delay between chunks, in milliseconds (an answer lasts chunks x delay).
    #[arg(long, default_value_t = 2000)]
    pub delay_ms: u64,
    /// Workers that leave (killed at once) and as many that join while the streams are held.
    #[arg(long, default_value_t = 50)]
    pub churn: usize,
    /// Streams opened per second while ramping up.
    #[arg(long, default_value_t = 1000)]
    pub open_rate: usize,
    /// The proxy must stay under this resident memory, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_rss_mib: u64,
    /// Where the processes keep their configs, data and logs.
    #[arg(long, default_value = "data/bench-streams")]
    pub data_dir: PathBuf,
}

/// Each fleet worker's limit of concurrent requests: 10,000 streams over 1,000 workers fit
/// with room, and a killed worker cuts at most this many streams.
const FLEET_MAX_ACTIVE: u32 = 16;

/// What one stream saw.
#[derive(Default, Clone)]
struct StreamReport {
    /// Whether it ended with `[DONE]` after a 200.
    ok: bool,
    /// Its status, or 0 when the request itself failed.
    status: u16,
    /// Longest wait between two body frames after the first.
    max_gap: Duration,
    /// Time to the first body frame.
    first_byte: Duration,
}

fn enabled_workers(stats: &Value) -> usize {
    stats["workers"].as_array().map_or(0, |ws| ws.iter().filter(|w| w["enabled"] == true).count())
}

/// Opens one stream through `api` and reads it to its end.
async fn one_stream(
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    api: String,
    body: Bytes,
) -> StreamReport {
    let mut r = StreamReport::default();
    let Ok(req) =
        http::Request::post(&api).header(http::header::CONTENT_TYPE, "application/json").body(Full::new(body))
    else {
        return r;
    };
    let started = Instant::now();
    let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(60), http.request(req)).await else { return r };
    r.status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut last: Option<Instant> = None;
    let mut tail = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(120), body.frame()).await {
            Ok(Some(Ok(frame))) => {
                let now = Instant::now();
                match last {
                    Some(t) => r.max_gap = r.max_gap.max(now - t),
                    None => r.first_byte = now - started,
                }
                last = Some(now);
                if let Some(data) = frame.data_ref() {
                    tail.extend_from_slice(data);
                    let keep = tail.len().saturating_sub(64);
                    tail.drain(..keep);
                }
            }
            Ok(None) => break,
            _ => return r,
        }
    }
    r.ok = r.status == 200 && tail.windows(6).any(|w| w == b"[DONE]");
    r
}

/// `n` free loopback ports below Linux's ephemeral range (32768 and up): with a thousand
/// workers binding `:0` listeners and dialing out, a port taken from that range now may belong
/// to one of them a moment later.
fn fixed_ports(n: usize) -> Result<Vec<u16>> {
    let out: Vec<u16> =
        (24_000..32_000u16).filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()).take(n).collect();
    if out.len() < n {
        bail!("not enough free ports below 32000");
    }
    Ok(out)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs `cocoon bench-streams`.
pub async fn run(a: BenchStreamsArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating the cocoon binary")?;
    let logs = a.data_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    // The processes started: killed on drop, stopped in reverse order at the end.
    let mut procs = Network::empty();
    let spawn = |procs: &mut Network, name: &str, args: Vec<String>| -> Result<u32> {
        procs.spawn(&exe, name, args, &logs)?;
        Ok(procs.procs.last().and_then(|p| p.child.id()).unwrap_or(0))
    };
    let mut ports = network::free_ports(4)?.into_iter();
    let mut next = || ports.next().unwrap_or(0);
    let (backend_port, client_l, worker_l, stats_l) = (next(), next(), next(), next());
    let model = "bench-model";

    eprintln!(
        "backend: {} chunks, {} ms apart ({} s per answer)",
        a.chunks,
        a.delay_ms,
        a.chunks as u64 * a.delay_ms / 1000
    );
    let backend = format!("http://127.0.0.1:{backend_port}");
    let args = [
        "bench-backend",
        "--port",
        &backend_port.to_string(),
        "--chunks",
        &a.chunks.to_string(),
        "--bytes",
        "32",
        "--delay-ms",
        &a.delay_ms.to_string(),
    ];
    spawn(&mut procs, "backend", args.iter().map(|s| s.to_string()).collect())?;
    wait_json(&mut procs, &format!("{backend}/health"), Duration::from_secs(30), "the backend", |_| true).await?;

    // One proxy, payments on. Proof of work is turned down: a thousand workers dialing in from
    // one machine would otherwise spend a minute of CPU on it (it is measured by bench-pow).
    let dir = std::path::absolute(&a.data_dir)?;
    let per_client = a.streams.div_ceil(a.clients.max(1));
    let cfg = format!(
        "client_listen = \"127.0.0.1:{client_l}\"\nworker_listen = \"127.0.0.1:{worker_l}\"\nstats_listen = \"127.0.0.1:{stats_l}\"\nmax_streams_per_link = {}\nmax_connections = {}\npow_difficulty = 4\n\n[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[client_policy]\nkind = \"any\"\n\n[worker_policy]\nkind = \"dev\"\n\n[payments]\ndata_dir = {:?}\nown_stake = 10000000000\n",
        per_client + 64,
        a.workers + a.churn + a.clients + 64,
        dir.join("proxy/key.pem"),
        dir.join("proxy"),
    );
    std::fs::create_dir_all(dir.join("config"))?;
    let proxy_cfg = dir.join("config/proxy.toml");
    std::fs::write(&proxy_cfg, cfg)?;
    let proxy_pid =
        spawn(&mut procs, "proxy", vec!["proxy".into(), "--config".into(), proxy_cfg.display().to_string()])?;
    let stats = format!("http://127.0.0.1:{stats_l}/stats");
    wait_json(&mut procs, &stats, Duration::from_secs(30), "the proxy", |_| true).await?;
    let rss_empty = procstat::rss_kib(proxy_pid).unwrap_or(0);

    // The workers: most in one fleet, the ones that will leave in another.
    let fleet = |n: usize| {
        vec![
            "fleet".to_string(),
            "--proxy".into(),
            format!("127.0.0.1:{worker_l}"),
            "--backend".into(),
            backend.clone(),
            "--model".into(),
            model.into(),
            "--workers".into(),
            n.to_string(),
            "--max-active".into(),
            FLEET_MAX_ACTIVE.to_string(),
        ]
    };
    let stay = a.workers.saturating_sub(a.churn);
    eprintln!("starting {} workers in two fleets ({stay} + {})...", a.workers, a.churn);
    let started = Instant::now();
    spawn(&mut procs, "fleet-a", fleet(stay))?;
    spawn(&mut procs, "fleet-b", fleet(a.churn))?;
    let want = a.workers;
    wait_json(&mut procs, &stats, Duration::from_secs(300), "every worker to connect", |v| enabled_workers(v) >= want)
        .await?;
    eprintln!("{} workers connected in {:.1} s", a.workers, started.elapsed().as_secs_f64());
    let rss_workers = procstat::rss_kib(proxy_pid).unwrap_or(0);

    // The clients, each with a deposit.
    let mut apis = Vec::new();
    let client_ports = fixed_ports(a.clients)?;
    for (i, port) in client_ports.into_iter().enumerate() {
        let data = dir.join(format!("client-{i}"));
        let cfg = format!(
            "listen = \"127.0.0.1:{port}\"\nproxies = [\"127.0.0.1:{client_l}\"]\ndata_dir = {data:?}\n\n[attestation]\nmode = \"none\"\n\n[proxy_policy]\nkind = \"dev\"\n"
        );
        let path = dir.join(format!("config/client-{i}.toml"));
        std::fs::write(&path, cfg)?;
        spawn(
            &mut procs,
            &format!("client-{i}"),
            vec!["client".into(), "--config".into(), path.display().to_string()],
        )?;
        wait_json(&mut procs, &format!("http://127.0.0.1:{port}/health"), Duration::from_secs(30), "a client", |v| {
            v["proxies_connected"].as_u64() == Some(1)
        })
        .await?;
        let token = network::read_token(&data, cocoon_client::api_token::TOKEN_FILE)?;
        network::top_up(port, 0, 1_000_000 * 1_000_000_000, false, &token).await?;
        apis.push(format!("http://127.0.0.1:{port}/v1/chat/completions"));
    }

    // Open the streams at `open_rate` per second, spread over the clients.
    let body = Bytes::from(format!(
        r#"{{"model":"{model}","stream":true,"stream_options":{{"include_usage":true}},"max_tokens":{},"messages":[{{"role":"user","content":"a long answer"}}]}}"#,
        a.chunks + 8
    ));
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();
    eprintln!("opening {} streams at {}/s...", a.streams, a.open_rate);
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(a.streams);
    let tick = Duration::from_secs_f64(1.0 / a.open_rate.max(1) as f64);
    for i in 0..a.streams {
        tasks.push(tokio::spawn(one_stream(http.clone(), apis[i % apis.len()].clone(), body.clone())));
        let due = opening + tick * (i as u32 + 1);
        tokio::time::sleep_until(due.into()).await;
    }
    let all_open = Instant::now();
    let answer = Duration::from_millis(a.delay_ms * a.chunks as u64);

    // Hold: sample the proxy while everything is in flight.
    let held = wait_json(&mut procs, &stats, Duration::from_secs(60), "every stream to be in flight", |v| {
        v["workers"].as_array().map_or(0, |ws| ws.iter().map(|w| w["running"].as_u64().unwrap_or(0)).sum::<u64>())
            >= (a.streams as u64 * 95 / 100)
    })
    .await?;
    let in_flight: u64 =
        held["workers"].as_array().map_or(0, |ws| ws.iter().map(|w| w["running"].as_u64().unwrap_or(0)).sum());
    let mut rss_peak = 0;
    for _ in 0..5 {
        rss_peak = rss_peak.max(procstat::rss_kib(proxy_pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu_before = procstat::cpu_time(proxy_pid).unwrap_or_default();
    let cpu_t0 = Instant::now();

    // Churn: the small fleet dies at once; a new one joins.
    eprintln!("{in_flight} streams in flight; {} workers leave (killed), {} join...", a.churn, a.churn);
    let ids = |v: &Value| -> std::collections::HashSet<String> {
        v["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["worker_id"].as_str().map(String::from))
            .collect()
    };
    let before = ids(&held);
    procs.kill("fleet-b");
    let joined_at = Instant::now();
    spawn(&mut procs, "fleet-c", fleet(a.churn))?;
    let churn = a.churn;
    wait_json(&mut procs, &stats, Duration::from_secs(120), "the new workers", |v| {
        let now = ids(v);
        now.difference(&before).count() >= churn && now.len() == want && enabled_workers(v) >= want
    })
    .await?;
    let join_time = joined_at.elapsed();
    for _ in 0..10 {
        rss_peak = rss_peak.max(procstat::rss_kib(proxy_pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every stream ends within its answer's length plus the ramp.
    eprintln!("waiting for the streams to end (about {} s)...", answer.saturating_sub(all_open - opening).as_secs());
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        reports.push(t.await.unwrap_or_default());
    }
    let cpu_secs = (procstat::cpu_time(proxy_pid).unwrap_or_default().saturating_sub(cpu_before)).as_secs_f64();
    let cpu_wall = cpu_t0.elapsed().as_secs_f64();
    let final_stats = network::get_json(&stats).await.map(|(_, v)| v).unwrap_or_default();
    let sel = &final_stats["counters"]["selection"];

    let ok: Vec<&StreamReport> = reports.iter().filter(|r| r.ok).collect();
    let cut = reports.len() - ok.len();
    let mut gaps: Vec<Duration> = ok.iter().map(|r| r.max_gap).collect();
    gaps.sort();
    let mut ttfb: Vec<Duration> = ok.iter().map(|r| r.first_byte).collect();
    ttfb.sort();
    let statuses: std::collections::BTreeMap<u16, usize> =
        reports.iter().filter(|r| !r.ok).fold(Default::default(), |mut m, r| {
            *m.entry(r.status).or_default() += 1;
            m
        });
    let gap_limit = Duration::from_millis(a.delay_ms) + Duration::from_secs(1);

    println!(
        "cocoon bench-streams: one proxy, {} workers, {} concurrent streams over {} clients",
        a.workers, a.streams, a.clients
    );
    println!(
        "  answers: {} chunks, {} ms apart ({:.0} s each); opened at {}/s in {:.1} s",
        a.chunks,
        a.delay_ms,
        answer.as_secs_f64(),
        a.open_rate,
        (all_open - opening).as_secs_f64()
    );
    println!(
        "proxy resident memory (MiB): empty {:.1}, {} workers {:.1}, {} streams in flight: peak {:.1} (limit {})",
        mib(rss_empty),
        a.workers,
        mib(rss_workers),
        in_flight,
        mib(rss_peak),
        a.max_rss_mib
    );
    println!(
        "  per stream: {:.1} KiB; per worker: {:.1} KiB",
        (rss_peak.saturating_sub(rss_workers)) as f64 / in_flight.max(1) as f64,
        (rss_workers.saturating_sub(rss_empty)) as f64 / a.workers.max(1) as f64
    );
    println!("proxy CPU while holding the streams: {:.0}% of one core", 100.0 * cpu_secs / cpu_wall.max(1e-9));
    println!(
        "worker selection (proxy's own histogram, {} choices): p50 {} µs, p99 {} µs, slowest {} µs (target < 50 µs)",
        sel["count"], sel["p50_us"], sel["p99_us"], sel["max_us"]
    );
    println!(
        "churn: {} workers killed, {} joined and were all serving in {:.1} s",
        a.churn,
        a.churn,
        join_time.as_secs_f64()
    );
    println!("streams: {} ended with [DONE], {} cut (those on the killed workers: at most {}); statuses of the cut: {statuses:?}", ok.len(), cut, a.churn * FLEET_MAX_ACTIVE as usize);
    println!("  longest gap between chunks of a finished stream: p50 {} ms, p99 {} ms, max {} ms (chunks are {} ms apart; a stall is over {} ms)", percentile(&gaps, 0.5).as_millis(), percentile(&gaps, 0.99).as_millis(), gaps.last().copied().unwrap_or_default().as_millis(), a.delay_ms, gap_limit.as_millis());
    println!(
        "  time to first byte: p50 {} ms, p99 {} ms",
        percentile(&ttfb, 0.5).as_millis(),
        percentile(&ttfb, 0.99).as_millis()
    );

    procs.stop().await;

    let mut failures = Vec::new();
    if rss_peak / 1024 > a.max_rss_mib {
        failures.push(format!("the proxy used {:.0} MiB, over {} MiB", mib(rss_peak), a.max_rss_mib));
    }
    if sel["p99_us"].as_f64().is_none_or(|us| us >= 50.0) {
        failures.push(format!("selection p99 {} µs is not under 50 µs", sel["p99_us"]));
    }
    if cut > a.churn * FLEET_MAX_ACTIVE as usize {
        failures.push(format!("{cut} streams were cut, more than the killed workers held"));
    }
    if gaps.last().is_some_and(|g| *g > gap_limit) {
        failures.push(format!(
            "a stream on a surviving worker stalled for {} ms",
            gaps.last().map_or(0, |g| g.as_millis())
        ));
    }
    if in_flight < a.streams as u64 * 95 / 100 {
        failures.push(format!("only {in_flight} streams were in flight at once"));
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}
