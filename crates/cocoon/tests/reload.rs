//! SIGHUP reloads what a running proxy can change safely: here the proof-of-work difficulty
//! a new dialer is asked, read off the wire. A config that does not load changes nothing, and
//! a change that needs a restart is named in the log.

mod common;

use cocoon_transport::pow::{Challenge, CHALLENGE_LEN};
use common::*;
use std::time::Duration;
use tokio::io::AsyncReadExt;

async fn asked(port: u16) -> u8 {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut b = [0u8; CHALLENGE_LEN];
    tcp.read_exact(&mut b).await.unwrap();
    Challenge::decode(&b).unwrap().difficulty
}

fn hup(pid: u32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGHUP).unwrap();
}

async fn log_has(procs: &Procs, what: &str) {
    for _ in 0..100 {
        if procs.log("proxy").contains(what) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {what:?} in the log:\n{}", procs.log("proxy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_new_limits_and_a_broken_config_changes_nothing() {
    let mut procs = Procs::new("reload");
    let [c, w, st, other] = free_ports(4)[..] else { unreachable!() };
    let cfg = procs.dir.join("proxy.toml");
    let write = |pow: &str, stats: u16| {
        std::fs::write(
            &cfg,
            format!("client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{stats}\"\npow_difficulty = {pow}\n"),
        )
        .unwrap()
    };
    write("10", st);
    procs.spawn("proxy", &["proxy".into(), "--config".into(), cfg.display().to_string()]);
    wait_for(&format!("http://127.0.0.1:{st}/stats"), 30, |_| true).await;
    assert_eq!(asked(c).await, 10);
    let pid = procs.pid("proxy");

    // A new difficulty, and a stats port that only a restart can move.
    write("14", other);
    hup(pid);
    log_has(&procs, "config reloaded").await;
    assert_eq!(asked(c).await, 14);
    assert!(procs.log("proxy").contains("stats_listen"), "the restart-only change is named");

    // Not TOML: refused, the running limits stay.
    write("\"lots\"", st);
    hup(pid);
    log_has(&procs, "nothing changed").await;
    assert_eq!(asked(c).await, 14);
}

/// The coefficient a proxy's `/stats` shows for the worker with this stats port, once it shows `want`.
async fn proxy_sees_coefficient(net: &Net, worker_stats: &str, want: u64) {
    let (_, w) = get_json(worker_stats).await;
    let id = w["worker_id"].as_str().expect("worker_id in the worker's /stats").to_string();
    wait_for(&net.proxy_stats[0], 20, |v| {
        v["workers"].as_array().is_some_and(|ws| {
            ws.iter().any(|x| x["worker_id"].as_str() == Some(id.as_str()) && x["coefficient"].as_u64() == Some(want))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_makes_a_worker_publish_its_new_price_and_a_broken_config_changes_nothing() {
    let mut net = Net::start("reload-worker", NetOpts { workers: 1, ..Default::default() }).await;
    let cfg = net.procs.dir.join("worker-hup.toml");
    let write = |body: &str| std::fs::write(&cfg, body).unwrap();
    write("coefficient = 1000\nmax_body_bytes = 1000000\n");
    let st = free_ports(1)[0];
    net.start_worker("worker-hup", st, 4, &["--config".into(), cfg.display().to_string()]);
    let stats = format!("http://127.0.0.1:{st}/stats");
    wait_for(&stats, 30, |v| v["worker_id"].is_string()).await;
    proxy_sees_coefficient(&net, &stats, 1000).await;
    let pid = net.procs.pid("worker-hup");

    // A new price goes to the proxy at once; a new model is named as needing a restart.
    write("coefficient = 1700\nmax_body_bytes = 1000000\nhardware = \"H100\"\n");
    hup(pid);
    proxy_sees_coefficient(&net, &stats, 1700).await;
    for _ in 0..50 {
        if net.procs.log("worker-hup").contains("need a restart") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = net.procs.log("worker-hup");
    assert!(log.contains("coefficient: 1000 -> 1700"), "{log}");
    assert!(log.contains("need a restart") && log.contains("hardware"), "{log}");

    // Not a valid config: nothing changes, the worker still serves at 1700.
    write("coefficient = \"cheap\"\n");
    hup(pid);
    for _ in 0..50 {
        if net.procs.log("worker-hup").contains("nothing changed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(net.procs.log("worker-hup").contains("nothing changed"));
    proxy_sees_coefficient(&net, &stats, 1700).await;
    let (status, _) = post(&net.chat_url(), chat_body(false, "")).await;
    assert_eq!(status, 200);
}
