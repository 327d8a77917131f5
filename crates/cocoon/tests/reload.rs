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
