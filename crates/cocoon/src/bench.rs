//! `cocoon bench`: Cocoon's benchmark shape, run with `hey` against the backend directly and
//! through a local network, with the ratio of the two.
//!
//! 30 concurrent connections, keep-alive off, a streaming chat request answered with 50 chunks
//! of 128 bytes. Then concurrency 1, to see the latency the network adds per request. Two shapes
//! of backend: one that writes the ready chunks together (`burst`), one that writes and flushes
//! each chunk on its own as Cocoon's benchmark server does (`flush`). The CPU time every process
//! uses in the concurrency-30 runs is read from `/proc` and reported per request and role.
//!
//! Each round runs the backend directly before and after the network, and compares the network
//! with the mean of the two: on a shared machine the speed drifts by 15% within a minute, and a
//! ratio against one direct run moved with it.

use crate::{network, procstat};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `cocoon bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Requests per run.
    #[arg(long, short = 'n', default_value_t = 20000)]
    pub requests: usize,
    /// Concurrent connections for the throughput runs.
    #[arg(long, short = 'c', default_value_t = 30)]
    pub concurrency: usize,
    /// Requests for the concurrency-1 latency runs.
    #[arg(long, default_value_t = 2000)]
    pub latency_requests: usize,
    /// Chunks per answer.
    #[arg(long, default_value_t = 50)]
    pub chunks: usize,
    /// Bytes per chunk.
    #[arg(long, default_value_t = 128)]
    pub bytes: usize,
    /// Workers in the network.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Rounds of (direct, network) runs; medians are reported, since a single run on a shared
    /// machine is noisy.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// How the backend writes its chunks; each shape gets its own network and rounds.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "burst,flush")]
    pub shapes: Vec<Shape>,
    /// Where the benchmark network keeps its files.
    #[arg(long, default_value = "data/bench")]
    pub data_dir: PathBuf,
    /// Run the network without payments (to compare; payments are on by default).
    #[arg(long)]
    pub no_payments: bool,
}

/// How the synthetic backend writes an answer's chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// The chunks that are ready go out together, as fast as the socket takes them.
    Burst,
    /// Each chunk is written and flushed on its own (Cocoon's benchmark server).
    Flush,
}

/// What `hey` reports.
#[derive(Debug, Default, Clone)]
pub struct HeyResult {
    /// Requests per second over the run.
    pub rps: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 90th-percentile latency, in milliseconds.
    pub p90_ms: f64,
    /// 99th-percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// Responses with a status other than 200.
    pub non_200: usize,
}

/// Parses hey's text summary.
pub fn parse_hey(out: &str) -> Result<HeyResult> {
    let mut r = HeyResult::default();
    let mut saw_rps = false;
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().context("Requests/sec")?;
            saw_rps = true;
        }
        for (prefix, slot) in [("50% in ", &mut r.p50_ms), ("90% in ", &mut r.p90_ms), ("99% in ", &mut r.p99_ms)] {
            if let Some(v) = line.strip_prefix(prefix) {
                let secs: f64 = v.split_whitespace().next().unwrap_or("").parse().context("latency")?;
                *slot = secs * 1000.0;
            }
        }
        if let Some(rest) = line.strip_prefix('[') {
            if let Some((code, count)) = rest.split_once(']') {
                if code != "200" {
                    r.non_200 += count.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(0);
                }
            }
        }
    }
    if !saw_rps {
        bail!("could not read hey's output:\n{out}");
    }
    Ok(r)
}

async fn hey(url: &str, n: usize, c: usize, body: &str) -> Result<HeyResult> {
    let out = tokio::process::Command::new("hey")
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-disable-keepalive",
            "-m",
            "POST",
            "-T",
            "application/json",
            "-d",
            body,
            url,
        ])
        .output()
        .await
        .context("running `hey` (install it: apt-get install hey)")?;
    if !out.status.success() {
        bail!("hey failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_hey(&String::from_utf8_lossy(&out.stdout))
}

/// CPU time per request of each kind of process in a run, in microseconds: `hey`, `backend`,
/// `client`, `proxy`, `worker` (all workers together).
type CpuPerRequest = BTreeMap<String, f64>;

/// The kinds of process, in the order they are printed.
const KINDS: [&str; 5] = ["hey", "backend", "client", "proxy", "worker"];

/// CPU time used so far by each running role, summed by kind (`proxy-0` -> `proxy`).
fn role_cpu(net: &network::Network) -> BTreeMap<String, Duration> {
    let mut by_kind = BTreeMap::new();
    for p in &net.procs {
        let kind = p.name.split('-').next().unwrap_or(&p.name).to_string();
        let used = p.child.id().and_then(procstat::cpu_time).unwrap_or_default();
        *by_kind.entry(kind).or_insert(Duration::ZERO) += used;
    }
    by_kind
}

/// Runs `hey` and says how much CPU each kind of process used per request meanwhile.
async fn measured(
    net: &network::Network,
    url: &str,
    n: usize,
    c: usize,
    body: &str,
) -> Result<(HeyResult, CpuPerRequest)> {
    let (roles0, hey0) = (role_cpu(net), procstat::reaped_children_cpu());
    let r = hey(url, n, c, body).await?;
    let (roles1, hey1) = (role_cpu(net), procstat::reaped_children_cpu());
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let mut cpu: CpuPerRequest = roles1
        .iter()
        .map(|(k, t1)| (k.clone(), per(t1.saturating_sub(roles0.get(k).copied().unwrap_or_default()))))
        .collect();
    cpu.insert("hey".into(), per(hey1.saturating_sub(hey0)));
    Ok((r, cpu))
}

/// One shape's results: the medians of the rounds and the per-round ratios.
struct ShapeResult {
    shape: Shape,
    rows: [(String, HeyResult); 4],
    ratios: Vec<f64>,
    cpu_direct: CpuPerRequest,
    cpu_network: CpuPerRequest,
    failures: usize,
}

/// Starts a network on the synthetic backend answering in `shape`, runs the rounds, stops it.
async fn run_shape(a: &BenchArgs, shape: Shape) -> Result<ShapeResult> {
    let port = network::free_ports(1)?[0];
    eprintln!(
        "starting a local network ({} workers, synthetic backend: {} chunks x {} bytes, {shape:?})...",
        a.workers, a.chunks, a.bytes
    );
    let mut net = network::Network::start(network::Spec {
        workers: a.workers,
        proxies: 1,
        backend: network::BackendSpec::Synthetic,
        model: None,
        client_port: port,
        data_dir: a.data_dir.clone(),
        max_active: 256,
        bench: cocoon_bench_backend::Options {
            chunks: a.chunks,
            bytes: a.bytes,
            flush: shape == Shape::Flush,
            ..Default::default()
        },
        deposit: (!a.no_payments).then_some(1_000 * 1_000_000_000),
        speech: None,
        embedding: None,
        chain: false,
        explorer: None,
    })
    .await?;
    let body = format!(
        r#"{{"model":"{}","stream":true,"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"benchmark"}}]}}"#,
        net.model
    );
    let direct = format!("{}/v1/chat/completions", net.backend_url);
    let through = format!("{}/chat/completions", net.api);
    let rounds = a.rounds.max(1);
    let result = async {
        let (mut d, mut t, mut d1, mut t1, mut cd, mut ct) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut after: Vec<HeyResult> = vec![];
        for r in 1..=rounds {
            let (n, c) = (a.requests, a.concurrency);
            eprintln!("[{shape:?} {r}/{rounds}] backend directly, {n} requests, concurrency {c}...");
            let (res, cpu) = measured(&net, &direct, n, c, &body).await?;
            d.push(res);
            cd.push(cpu);
            eprintln!("[{shape:?} {r}/{rounds}] through the network, {n} requests, concurrency {c}...");
            let (res, cpu) = measured(&net, &through, n, c, &body).await?;
            t.push(res);
            ct.push(cpu);
            // The backend directly once more: the round's ratio is against the mean of the runs
            // before and after, so a machine that slows down or speeds up during the round does
            // not tilt it.
            eprintln!("[{shape:?} {r}/{rounds}] backend directly again, {n} requests, concurrency {c}...");
            after.push(hey(&direct, n, c, &body).await?);
            let n1 = a.latency_requests;
            eprintln!("[{shape:?} {r}/{rounds}] concurrency 1, direct then network, {n1} requests each...");
            d1.push(hey(&direct, n1, 1, &body).await?);
            t1.push(hey(&through, n1, 1, &body).await?);
        }
        anyhow::Ok((d, t, d1, t1, cd, ct, after))
    }
    .await;
    net.stop().await;
    let (d, t, d1, t1, cd, ct, after) = result?;
    let c = a.concurrency;
    Ok(ShapeResult {
        shape,
        ratios: d.iter().zip(&after).zip(&t).map(|((d, a), t)| round_ratio(d, t, a)).collect(),
        failures: t.iter().chain(&t1).map(|r| r.non_200).sum(),
        rows: [
            // Both direct runs of every round, before and after the network's.
            (format!("direct, c={c}"), median(&[d, after].concat())),
            (format!("network, c={c}"), median(&t)),
            ("direct, c=1".into(), median(&d1)),
            ("network, c=1".into(), median(&t1)),
        ],
        cpu_direct: median_cpu(&cd),
        cpu_network: median_cpu(&ct),
    })
}

/// A round's throughput ratio: the network against the mean of the direct runs around it.
fn round_ratio(before: &HeyResult, network: &HeyResult, after: &HeyResult) -> f64 {
    network.rps / ((before.rps + after.rps) / 2.0).max(1.0)
}

/// Runs `cocoon bench`: for each shape, starts a local network on the synthetic backend, runs
/// `hey` against the backend and through the network for each round, and prints the medians,
/// their ratio and the CPU per request of each role.
pub async fn run(a: BenchArgs) -> Result<()> {
    which_hey()?;
    let mut results = Vec::new();
    for shape in &a.shapes {
        results.push(run_shape(&a, *shape).await?);
    }
    let rounds = a.rounds.max(1);
    for r in &results {
        println!(
            "cocoon bench: streaming chat, {} chunks x {} bytes, backend shape {:?}, keep-alive off, {} workers; median of {rounds} round(s)",
            a.chunks, a.bytes, r.shape, a.workers
        );
        println!("{:<28} {:>10} {:>9} {:>9} {:>9} {:>7}", "run", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-200");
        for (name, m) in &r.rows {
            println!(
                "{:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>7}",
                name, m.rps, m.p50_ms, m.p90_ms, m.p99_ms, m.non_200
            );
        }
        let per_round: Vec<String> = r.ratios.iter().map(|x| format!("{x:.2}")).collect();
        let (dm, tm, d1m, t1m) = (&r.rows[0].1, &r.rows[1].1, &r.rows[2].1, &r.rows[3].1);
        println!(
            "throughput ratio network/direct (medians): {:.2}x (target >= 0.5x); per round: {}",
            tm.rps / dm.rps.max(1.0),
            per_round.join(", ")
        );
        println!("added p50 latency at c=1 (medians): {:.3} ms (target <= 1 ms)", t1m.p50_ms - d1m.p50_ms);
        println!("CPU per request at c={} (microseconds, medians of the rounds):", a.concurrency);
        println!("{:<10} {}  {:>8}", "run", KINDS.map(|k| format!("{k:>8}")).join(" "), "total");
        for (name, cpu) in [("direct", &r.cpu_direct), ("network", &r.cpu_network)] {
            let cells: Vec<String> =
                KINDS.iter().map(|k| format!("{:>8.1}", cpu.get(*k).copied().unwrap_or(0.0))).collect();
            let total: f64 = KINDS.iter().filter_map(|k| cpu.get(*k)).sum();
            println!("{:<10} {}  {:>8.1}", name, cells.join(" "), total);
        }
        println!();
    }
    let failures: usize = results.iter().map(|r| r.failures).sum();
    if failures > 0 {
        bail!("the network answered {failures} requests with a non-200 status");
    }
    Ok(())
}

/// Kind-wise median over rounds.
fn median_cpu(runs: &[CpuPerRequest]) -> CpuPerRequest {
    let mut out = CpuPerRequest::new();
    for k in KINDS {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| r.get(k).copied()).collect();
        v.sort_by(f64::total_cmp);
        if let Some(m) = v.get(v.len() / 2) {
            out.insert(k.to_string(), *m);
        }
    }
    out
}

/// Field-wise median over rounds (each field on its own).
fn median(runs: &[HeyResult]) -> HeyResult {
    let pick = |f: fn(&HeyResult) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    HeyResult {
        rps: pick(|r| r.rps),
        p50_ms: pick(|r| r.p50_ms),
        p90_ms: pick(|r| r.p90_ms),
        p99_ms: pick(|r| r.p99_ms),
        non_200: runs.iter().map(|r| r.non_200).sum(),
    }
}

fn which_hey() -> Result<()> {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("hey").is_file()));
    if !found {
        bail!("`hey` is not installed; install it with `apt-get install hey` (Debian/Ubuntu)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hey_summary() {
        let out = "Summary:\n  Total:\t1.2 secs\n  Requests/sec:\t8123.4567\n\nLatency distribution:\n  10% in 0.0010 secs\n  50% in 0.0031 secs\n  90% in 0.0062 secs\n  99% in 0.0150 secs\n\nStatus code distribution:\n  [200]\t9990 responses\n  [502]\t10 responses\n";
        let r = parse_hey(out).unwrap();
        assert!((r.rps - 8123.4567).abs() < 1e-6);
        assert!((r.p50_ms - 3.1).abs() < 1e-9 && (r.p99_ms - 15.0).abs() < 1e-9);
        assert_eq!(r.non_200, 10);
        assert!(parse_hey("garbage").is_err());
    }

    #[test]
    fn cpu_medians_are_per_kind() {
        let run = |proxy: f64, hey: f64| CpuPerRequest::from([("proxy".into(), proxy), ("hey".into(), hey)]);
        let m = median_cpu(&[run(30.0, 5.0), run(10.0, 7.0), run(20.0, 6.0)]);
        assert_eq!((m["proxy"], m["hey"]), (20.0, 6.0));
        assert!(!m.contains_key("worker"));
    }

    #[test]
    fn a_round_compares_with_the_direct_runs_around_it() {
        let r = |rps| HeyResult { rps, ..Default::default() };
        assert!((round_ratio(&r(10_000.0), &r(4_500.0), &r(8_000.0)) - 0.5).abs() < 1e-9);
        assert_eq!(round_ratio(&r(0.0), &r(10.0), &r(0.0)), 10.0, "no division by zero");
    }

    #[test]
    fn median_is_per_field() {
        let r = |rps, p50| HeyResult { rps, p50_ms: p50, ..Default::default() };
        let m = median(&[r(10.0, 3.0), r(30.0, 1.0), r(20.0, 2.0)]);
        assert_eq!((m.rps, m.p50_ms), (20.0, 2.0));
    }
}
