//! `cocoon bench`: Cocoon's benchmark shape, run with `hey` against the backend directly and
//! through a local network, with the ratio of the two.
//!
//! 30 concurrent connections, keep-alive off, a streaming chat request answered with 50 chunks
//! of 128 bytes. Then concurrency 1, to see the latency the network adds per request.

use crate::network;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

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
    /// Where the benchmark network keeps its files.
    #[arg(long, default_value = "data/bench")]
    pub data_dir: PathBuf,
    /// Run the network without payments (to compare; payments are on by default).
    #[arg(long)]
    pub no_payments: bool,
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

/// Runs `cocoon bench`: starts a local network on the synthetic backend, runs `hey` against the
/// backend and through the network for each round, and prints the medians and their ratio.
pub async fn run(a: BenchArgs) -> Result<()> {
    which_hey()?;
    let port = network::free_ports(1)?[0];
    eprintln!(
        "starting a local network ({} workers, synthetic backend: {} chunks x {} bytes)...",
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
        bench: (a.chunks, a.bytes, 0),
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
        let (mut d, mut t, mut d1, mut t1) = (vec![], vec![], vec![], vec![]);
        for r in 1..=rounds {
            eprintln!(
                "[round {r}/{rounds}] backend directly, {} requests, concurrency {}...",
                a.requests, a.concurrency
            );
            d.push(hey(&direct, a.requests, a.concurrency, &body).await?);
            eprintln!(
                "[round {r}/{rounds}] through the network, {} requests, concurrency {}...",
                a.requests, a.concurrency
            );
            t.push(hey(&through, a.requests, a.concurrency, &body).await?);
            eprintln!(
                "[round {r}/{rounds}] concurrency 1, direct then network, {} requests each...",
                a.latency_requests
            );
            d1.push(hey(&direct, a.latency_requests, 1, &body).await?);
            t1.push(hey(&through, a.latency_requests, 1, &body).await?);
        }
        anyhow::Ok((d, t, d1, t1))
    }
    .await;
    net.stop().await;
    let (d, t, d1, t1) = result?;
    println!(
        "cocoon bench: streaming chat, {} chunks x {} bytes, keep-alive off, {} workers; median of {rounds} round(s)",
        a.chunks, a.bytes, a.workers
    );
    println!("{:<28} {:>10} {:>9} {:>9} {:>9} {:>7}", "run", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-200");
    let c = a.concurrency;
    let rows = [
        (format!("direct, c={c}"), median(&d)),
        (format!("network, c={c}"), median(&t)),
        ("direct, c=1".into(), median(&d1)),
        ("network, c=1".into(), median(&t1)),
    ];
    for (name, r) in &rows {
        println!("{:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>7}", name, r.rps, r.p50_ms, r.p90_ms, r.p99_ms, r.non_200);
    }
    let ratios: Vec<String> = d.iter().zip(&t).map(|(d, t)| format!("{:.2}", t.rps / d.rps.max(1.0))).collect();
    let (dm, tm, d1m, t1m) = (&rows[0].1, &rows[1].1, &rows[2].1, &rows[3].1);
    println!(
        "throughput ratio network/direct (medians): {:.2}x (target >= 0.5x); per round: {}",
        tm.rps / dm.rps.max(1.0),
        ratios.join(", ")
    );
    println!("added p50 latency at c=1 (medians): {:.3} ms (target <= 1 ms)", t1m.p50_ms - d1m.p50_ms);
    let failures: usize = t.iter().chain(&t1).map(|r| r.non_200).sum();
    if failures > 0 {
        bail!("the network answered {failures} requests with a non-200 status");
    }
    Ok(())
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
    fn median_is_per_field() {
        let r = |rps, p50| HeyResult { rps, p50_ms: p50, ..Default::default() };
        let m = median(&[r(10.0, 3.0), r(30.0, 1.0), r(20.0, 2.0)]);
        assert_eq!((m.rps, m.p50_ms), (20.0, 2.0));
    }
}
