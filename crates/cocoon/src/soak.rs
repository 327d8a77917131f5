//! `cocoon soak`: a long run through a local network on the synthetic backend (payments on),
//! with the resident memory of every role sampled as it goes. It prints the RSS curve and fails
//! when any role keeps growing after warm-up (a leak or an unbounded cache), or when a request
//! fails (no fault is injected here).

use crate::network;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `cocoon soak`.
#[derive(Args)]
pub struct SoakArgs {
    /// Requests in all.
    #[arg(long, short = 'n', default_value_t = 1_000_000)]
    pub requests: u64,
    /// Requests in flight at once.
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: usize,
    /// RSS samples over the run.
    #[arg(long, default_value_t = 20)]
    pub samples: u64,
    /// Growth after warm-up (the first sample past 20% of the run) that counts as a leak, in percent.
    #[arg(long, default_value_t = 15.0)]
    pub max_growth_percent: f64,
    /// Where the network keeps its files.
    #[arg(long, default_value = "data/soak")]
    pub data_dir: PathBuf,
}

/// Runs `cocoon soak`.
pub async fn run(a: SoakArgs) -> Result<()> {
    let port = network::free_ports(1)?[0];
    eprintln!("starting a local network (2 workers, synthetic backend: 8 chunks x 64 bytes, payments on)...");
    let mut net = network::Network::start(network::Spec {
        workers: 2,
        proxies: 1,
        backend: network::BackendSpec::Synthetic,
        model: None,
        client_port: port,
        data_dir: a.data_dir.clone(),
        max_active: 256,
        bench: cocoon_bench_backend::Options { chunks: 8, bytes: 64, delay_ms: 0, ..Default::default() },
        deposit: Some(1_000_000 * 1_000_000_000),
        speech: None,
        embedding: None,
        chain: false,
        explorer: None,
    })
    .await?;
    let result = soak(&a, &net).await;
    net.stop().await;
    result
}

async fn soak(a: &SoakArgs, net: &network::Network) -> Result<()> {
    let roles: Vec<(String, u32)> =
        net.procs.iter().filter_map(|p| p.child.id().map(|pid| (p.name.clone(), pid))).collect();
    let url: hyper::Uri = format!("{}/chat/completions", net.api).parse()?;
    let body = Bytes::from(format!(
        r#"{{"model":"{}","stream":true,"messages":[{{"role":"user","content":"soak"}}]}}"#,
        net.model
    ));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (client, url, body, sent, failed, total) =
            (client.clone(), url.clone(), body.clone(), sent.clone(), failed.clone(), a.requests);
        tasks.push(tokio::spawn(async move {
            while sent.fetch_add(1, Relaxed) < total {
                let req = http::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .expect("a request");
                let ok = match tokio::time::timeout(Duration::from_secs(60), client.request(req)).await {
                    Ok(Ok(resp)) if resp.status() == 200 => match resp.into_body().collect().await {
                        Ok(b) => b.to_bytes().windows(12).any(|w| w == b"data: [DONE]"),
                        Err(_) => false,
                    },
                    _ => false,
                };
                if !ok {
                    failed.fetch_add(1, Relaxed);
                }
            }
        }));
    }
    // The RSS curve: one row per sample.
    let mut curve: Vec<(u64, Vec<u64>)> = Vec::new();
    let every = (a.requests / a.samples.max(1)).max(1);
    let mut next = every;
    print!("{:>10} {:>8}", "requests", "req/s");
    for (name, _) in &roles {
        print!(" {name:>10}");
    }
    println!("   (RSS, MiB)");
    loop {
        let done = sent.load(Relaxed).min(a.requests);
        if done >= next || done >= a.requests {
            let rss: Vec<u64> = roles.iter().map(|(_, pid)| crate::procstat::rss_kib(*pid).unwrap_or(0)).collect();
            let rate = done as f64 / started.elapsed().as_secs_f64();
            print!("{done:>10} {rate:>8.0}");
            for r in &rss {
                print!(" {:>10.1}", *r as f64 / 1024.0);
            }
            println!();
            curve.push((done, rss));
            next = done + every;
        }
        if done >= a.requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for t in tasks {
        t.await.context("a load task")?;
    }
    let failed = failed.load(Relaxed);
    println!(
        "{} requests in {:.0} s ({:.0}/s), {failed} failed",
        a.requests,
        started.elapsed().as_secs_f64(),
        a.requests as f64 / started.elapsed().as_secs_f64()
    );
    // Flat after warm-up: the end against the first sample past 20% of the run.
    let warm = curve.iter().find(|(n, _)| *n * 5 >= a.requests).context("no sample")?;
    let last = curve.last().context("no sample")?;
    let mut leaks = Vec::new();
    for (i, (name, _)) in roles.iter().enumerate() {
        let (w, l) = (warm.1[i] as f64, last.1[i] as f64);
        let growth = if w > 0.0 { (l - w) / w * 100.0 } else { 0.0 };
        println!("{name}: {:.1} MiB after warm-up, {:.1} MiB at the end ({growth:+.1}%)", w / 1024.0, l / 1024.0);
        if growth > a.max_growth_percent {
            leaks.push(format!("{name} grew {growth:.1}%"));
        }
    }
    if failed > 0 {
        bail!("{failed} requests failed with no fault injected");
    }
    if !leaks.is_empty() {
        bail!("memory kept growing after warm-up: {}", leaks.join(", "));
    }
    Ok(())
}
