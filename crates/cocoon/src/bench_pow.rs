//! `cocoon bench-pow`: what the proof of work before TLS (`cocoon_transport::pow`) costs a
//! dialer and a proxy, and how much one proxy core holds against a flood: dialers that never
//! solve are refused after one hash, while each full RA-TLS handshake costs signatures and an
//! attestation check.

use anyhow::{Context, Result};
use clap::Args;
use cocoon_ratls::{DevAttester, Identity, IdentityConfig, Measurements, Policy, PolicyConfig, PolicyKind, Role};
use cocoon_transport::pow::{Challenge, CHALLENGE_LEN};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Arguments of `cocoon bench-pow`.
#[derive(Args)]
pub struct BenchPowArgs {
    /// Difficulty (leading zero bits) to measure.
    #[arg(long, default_value_t = cocoon_transport::pow::DEFAULT_DIFFICULTY)]
    pub difficulty: u8,
    /// Challenges solved for the dialer's cost.
    #[arg(long, default_value_t = 40)]
    pub solves: usize,
    /// Seconds of each flood.
    #[arg(long, default_value_t = 5)]
    pub flood_secs: u64,
    /// Concurrent flooding dialers.
    #[arg(long, default_value_t = 64)]
    pub flooders: usize,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default()
}

fn dev_identity(role: Role) -> Result<Identity> {
    let attester = Arc::new(DevAttester::new(Measurements::dev_default()));
    Ok(Identity::new(IdentityConfig::new(role).with_attester(attester))?)
}

/// Runs `cocoon bench-pow`.
pub async fn run(a: BenchPowArgs) -> Result<()> {
    // The dialer's side: solving.
    eprintln!("solving {} challenges at {} bits...", a.solves, a.difficulty);
    let mut times = Vec::with_capacity(a.solves);
    for _ in 0..a.solves {
        let c = Challenge::new(a.difficulty);
        let t = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let n = c.solve();
            (started.elapsed(), c.verify(n))
        })
        .await?;
        anyhow::ensure!(t.1, "a solution did not verify");
        times.push(t.0);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!(
        "dialer, {} bits: solve median {:.1} ms, p90 {:.1} ms, mean {:.1} ms ({} solves)",
        a.difficulty,
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(mean),
        times.len()
    );
    // The proxy's side: checking.
    let c = Challenge::new(a.difficulty);
    let n = 200_000u64;
    let started = Instant::now();
    let ok = (0..n).filter(|i| c.verify(*i)).count();
    let per = started.elapsed() / n as u32;
    println!("proxy: one check {:.0} ns ({ok} of {n} random nonces passed)", per.as_nanos());

    let refused = flood(&a, a.difficulty, false).await?;
    println!(
        "flood of {} dialers that never solve: the proxy refused {:.0} connections per CPU-second of its one core ({:.0}/s wall)",
        a.flooders, refused.0, refused.1
    );
    let handshakes = flood(&a, 0, true).await?;
    println!(
        "for comparison, without proof of work: {:.0} full RA-TLS handshakes per CPU-second ({:.0}/s wall)",
        handshakes.0, handshakes.1
    );
    println!(
        "a flood costs the proxy {:.0}x less per connection with proof of work; each flooding connection costs its dialer ~{:.0} ms of CPU to get past it",
        refused.0 / handshakes.0.max(1e-9),
        ms(mean)
    );
    Ok(())
}

/// Runs a proxy accept path on one thread (its own runtime) under `flooders` dialers for
/// `flood_secs`: with `complete`, dialers solve (difficulty 0) and finish the TLS handshake;
/// without, they send a wrong nonce. Returns (connections per CPU-second of the proxy's thread,
/// connections per wall second).
async fn flood(a: &BenchPowArgs, difficulty: u8, complete: bool) -> Result<(f64, f64)> {
    let server_id = dev_identity(Role::Proxy)?;
    let mut accept_policy = PolicyConfig::new(PolicyKind::Dev);
    accept_policy.expected_role = Some(Role::Client);
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(server_id.server_config(Arc::new(Policy::new(accept_policy)))?));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?.to_string();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (done, stop) = (done.clone(), stop.clone());
        std::thread::spawn(move || -> Result<Duration> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                let started = thread_cpu();
                while !stop.load(Relaxed) {
                    let Ok(Ok((tcp, _))) = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await
                    else {
                        continue;
                    };
                    let (acceptor, done) = (acceptor.clone(), done.clone());
                    tokio::spawn(async move {
                        if cocoon_transport::accept(tcp, &acceptor, Duration::from_secs(5), difficulty).await.is_ok()
                            || !complete
                        {
                            done.fetch_add(1, Relaxed);
                        }
                    });
                }
                Ok(thread_cpu().saturating_sub(started))
            })
        })
    };
    let client_id = dev_identity(Role::Client)?;
    let mut connect_policy = PolicyConfig::new(PolicyKind::Dev);
    connect_policy.expected_role = Some(Role::Proxy);
    let client_cfg = Arc::new(client_id.client_config(Arc::new(Policy::new(connect_policy)))?);
    let until = Instant::now() + Duration::from_secs(a.flood_secs);
    let mut tasks = Vec::new();
    for _ in 0..a.flooders {
        let (addr, cfg) = (addr.clone(), client_cfg.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                if complete {
                    let _ = cocoon_transport::dial(&addr, cfg.clone(), Duration::from_secs(5), 0).await;
                } else if let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await {
                    let mut c = [0u8; CHALLENGE_LEN];
                    if tcp.read_exact(&mut c).await.is_ok() {
                        let _ = tcp.write_all(&[0xff; 8]).await;
                        let mut rest = Vec::new();
                        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    let wall = started.elapsed();
    stop.store(true, Relaxed);
    let cpu = server.join().map_err(|_| anyhow::anyhow!("the proxy thread panicked"))?.context("proxy thread")?;
    let n = done.load(Relaxed) as f64;
    Ok((n / cpu.as_secs_f64().max(1e-9), n / wall.as_secs_f64()))
}
