//! A network partition between the proxy and a worker, in a network namespace the test creates
//! (`ip netns`, a veth pair): the worker and its backend run inside it, the proxy, a second
//! worker and the client outside. The link goes down under load (packets vanish, no reset),
//! then comes back. While it is down every request ends within its timeout, with an answer or
//! a clear error; the proxy drops the silent worker after its keep-alive timeout and serves
//! from the other; once the link is back the worker reconnects by itself; the books balance.
//!
//! Needs root (CAP_NET_ADMIN) and `ip`: elsewhere the test says so and does nothing.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

/// A namespace and veth pair, removed when dropped.
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = StdCommand::new("ip").args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Netns {
    fn create() -> Result<Self, String> {
        let id = std::process::id() % 10_000;
        let (name, host_if, ns_if) = (format!("cocoon-w{id}"), format!("cwh{id}"), format!("cwn{id}"));
        let (a, b) = ((id / 250) % 250, id % 250);
        let host_ip = format!("10.{}.{}.1", 100 + a, b);
        let ns_ip = format!("10.{}.{}.2", 100 + a, b);
        let _ = ip(&["netns", "del", &name]);
        let _ = ip(&["link", "del", &host_if]);
        ip(&["netns", "add", &name])?;
        let ns = Self { name: name.clone(), host_if: host_if.clone(), host_ip: host_ip.clone() };
        ip(&["link", "add", &host_if, "type", "veth", "peer", "name", &ns_if])?;
        ip(&["link", "set", &ns_if, "netns", &name])?;
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&["netns", "exec", &name, "ip", "addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Cuts (or restores) the link: packets are dropped silently, as in a real partition.
    fn link(&self, up: bool) {
        ip(&["link", "set", &self.host_if, if up { "up" } else { "down" }]).expect("ip link set");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// One request with a 3 s timeout: its status (0: no answer), and how long it took. The test's
/// own bound is far past the timeout, so a hang fails here.
async fn one(chat: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r =
        tokio::time::timeout(Duration::from_secs(20), post(chat, chat_body(false, r#""max_tokens":8,"timeout":3"#)))
            .await
            .expect("a request hung past its timeout");
    (r.0, started.elapsed())
}

fn workers_in(stats: &Value) -> usize {
    stats["workers"].as_array().map_or(0, |w| w.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_worker_is_dropped_then_rejoins_and_no_request_hangs() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED: this test creates a network namespace and needs root and `ip` ({e})");
            return;
        }
    };
    let mut procs = Procs::new("partition");
    let [backend_in, backend_out, worker_l, client_l, stats_l, api, w_in, w_out] = free_ports(8)[..] else {
        unreachable!()
    };
    let dir = procs.dir.clone();

    // Backends: one inside the namespace (on its own loopback), one outside.
    let backend = |port: u16| vec![s("bench-backend"), s("--port"), s(port), s("--chunks"), s(8)];
    procs.spawn_in(Some(&ns.name), "backend-in", &backend(backend_in));
    procs.spawn("backend-out", &backend(backend_out));

    // The proxy's worker port is on the veth address: reachable from inside the namespace (a
    // non-loopback, dev-policy port, so it is allowed in writing: insecure_dev).
    let proxy_cfg = dir.join("proxy.toml");
    std::fs::write(
        &proxy_cfg,
        format!(
            "client_listen = \"127.0.0.1:{client_l}\"\nworker_listen = \"{}:{worker_l}\"\nstats_listen = \"127.0.0.1:{stats_l}\"\ninsecure_dev = true\npow_difficulty = 8\n\n[attestation]\nmode = \"dev\"\nkey_file = {:?}\n\n[worker_policy]\nkind = \"dev\"\n\n[payments]\ndata_dir = {:?}\ncommit_interval_ms = 50\nown_stake = 1000000000\nsettle_interval_ms = 100\n",
            ns.host_ip,
            dir.join("proxy/key.pem"),
            dir.join("proxy")
        ),
    )
    .unwrap();
    procs.spawn("proxy", &[s("proxy"), s("--config"), proxy_cfg.display().to_string()]);
    let stats = format!("http://127.0.0.1:{stats_l}/stats");
    wait_for(&stats, 30, |_| true).await;

    let worker = |name: &str, backend: u16, st: u16| {
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "proxies = [\"{}:{worker_l}\"]\nmodel = \"{MODEL}\"\nbackend = \"http://127.0.0.1:{backend}\"\nstats_listen = \"127.0.0.1:{st}\"\nadmin_listen = \"127.0.0.1:0\"\ninsecure_dev = true\ndata_dir = {:?}\n\n[attestation]\nmode = \"dev\"\n\n[proxy_policy]\nkind = \"dev\"\n",
                ns.host_ip,
                dir.join(name)
            ),
        )
        .unwrap();
        vec![s("worker"), s("--config"), cfg.display().to_string()]
    };
    procs.spawn_in(Some(&ns.name), "worker-in", &worker("worker-in", backend_in, w_in));
    procs.spawn("worker-out", &worker("worker-out", backend_out, w_out));
    wait_for(&stats, 30, |v| enabled_workers(v) == 2).await;

    procs.spawn("client", &client_args(api, client_l, &dir.join("client")));
    let api = format!("http://127.0.0.1:{api}");
    wait_for(&format!("{api}/health"), 30, |v| v["proxies_connected"] == 1).await;
    remember_client(&api, &dir.join("client"));
    let (status, acct) = post_json(&format!("{api}/v1/payments/deposit"), r#"{"amount":1000000000}"#).await;
    assert_eq!(status, 200, "{acct}");
    let chat = format!("{api}/v1/chat/completions");

    // Both workers serve.
    for _ in 0..10 {
        assert_eq!(one(&chat).await.0, 200);
    }

    // Partition, under load: four requests at a time for 25 s.
    ns.link(false);
    let cut_at = Instant::now();
    let mut outcomes = Vec::new();
    let mut dropped_after = None;
    while cut_at.elapsed() < Duration::from_secs(25) {
        let batch: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn({
                    let chat = chat.clone();
                    async move { one(&chat).await }
                })
            })
            .collect();
        for t in batch {
            outcomes.push(t.await.unwrap());
        }
        if dropped_after.is_none() && workers_in(&get_json(&stats).await.1) == 1 {
            dropped_after = Some(cut_at.elapsed());
        }
    }
    let dropped_after = dropped_after.expect("the proxy never dropped the partitioned worker");
    assert!(dropped_after < Duration::from_secs(20), "dropped after {dropped_after:?} (keep-alive: 5 s + 10 s)");
    for (status, took) in &outcomes {
        assert!(took < &Duration::from_secs(5), "a request took {took:?} against a 3 s timeout");
        assert!([200, 502, 503, 504].contains(status), "unclear answer {status}");
    }
    // Once the worker is dropped, everything is served by the other.
    for _ in 0..10 {
        assert_eq!(one(&chat).await.0, 200, "served by the worker outside");
    }

    // Heal: the worker notices its dead link, dials again and is back within seconds.
    ns.link(true);
    let healed = Instant::now();
    wait_for(&stats, 40, |v| enabled_workers(v) == 2).await;
    let rejoined = healed.elapsed();
    for _ in 0..10 {
        assert_eq!(one(&chat).await.0, 200);
    }
    let (_, p) = get_json(&stats).await;
    assert_books_balance(&p);
    let failed = outcomes.iter().filter(|(s, _)| *s != 200).count();
    eprintln!(
        "partition: {} requests while cut, {failed} clear errors, the rest served; worker dropped after {:.1} s, rejoined {:.1} s after the link came back",
        outcomes.len(),
        dropped_after.as_secs_f64(),
        rejoined.as_secs_f64()
    );
}
