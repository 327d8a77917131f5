//! The explorer in headless Chromium (Debian's chromium, driven by Playwright through
//! `tests/browser/explorer.mjs`) against a running `cocoon up` on the local TON chain: the page
//! renders, its figures equal what the chain's getters and the proxies' `/stats` say at the
//! same moment, they move while load runs (without a reload), a stopped proxy is shown as
//! unreachable and comes back, and the page loads nothing from anywhere else. Screenshots go
//! to `target/tmp/explorer-*.png`.

mod common;

use cocoon_ton::contracts::getters;
use cocoon_ton::{address, TonApi};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The browser driver: one command line in, one JSON line out.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    out: tokio::io::Lines<BufReader<ChildStdout>>,
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

impl Browser {
    async fn open(url: &str) -> Self {
        let mut child = Command::new("node")
            .arg(browser_dir().join("explorer.mjs"))
            .arg(url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node explorer.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Browser { child, stdin, out }
    }

    async fn cmd(&mut self, line: &str) -> Value {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write to the driver");
        let next = tokio::time::timeout(Duration::from_secs(90), self.out.next_line()).await;
        let text = next.expect("the driver answers").expect("read").expect("a line");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(v.get("error").is_none(), "{line}: {v}");
        v
    }
}

/// The client contracts the proxies' /stats name.
async fn client_contracts(proxies: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for p in proxies {
        let (_, stats) = get_json(p["stats"].as_str().unwrap()).await;
        for c in stats["chain"]["clients"].as_array().unwrap() {
            out.push(c["contract"].as_str().unwrap().to_string());
        }
    }
    out
}

/// TVL as the test reads it from the chain itself: every listed proxy contract's stake +
/// balance + commission, and the client contracts' balances and stakes.
async fn chain_tvl(api: &TonApi, root: &str, clients: &[String]) -> u128 {
    let root = address::parse_std(root).unwrap();
    let mut sum = 0u128;
    for (hash, _) in getters::proxies(api, &root).await.unwrap() {
        let d = getters::proxy_data(api, &cocoon_ton::StdAddr::new(root.workchain, hash)).await.unwrap();
        sum += d.stake + d.balance + d.commission;
    }
    for c in clients {
        if let Ok(d) = getters::client_data(api, &address::parse_std(c).unwrap()).await {
            sum += d.balance + d.stake;
        }
    }
    sum
}

fn figure(page: &Value, name: &str) -> String {
    page["figures"][name].as_str().unwrap_or_else(|| panic!("no figure {name}: {page}")).to_string()
}

async fn load(api: String, until: Instant) -> u64 {
    let mut n = 0;
    while Instant::now() < until {
        let (status, _) = post(&format!("{api}/chat/completions"), chat_body(false, "")).await;
        assert_eq!(status, 200);
        n += 1;
    }
    n
}

fn signal(pid: u64, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("signal");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_page_shows_the_chain_and_the_proxies_live_and_a_stopped_proxy_as_unreachable() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    if !Path::new(&chromium()).exists() || !browser_dir().join("node_modules/playwright-core").is_dir() {
        eprintln!(
            "SKIPPED: needs {} and playwright-core in {} (scripts/install-deps.sh, scripts/npm-deps.sh)",
            chromium(),
            browser_dir().display()
        );
        return;
    }
    let dir = temp_dir("explorer");
    let port = free_ports(1)[0];
    let (mut up, info) = start_up(&dir, port, &["--synthetic", "--workers", "2", "--proxies", "2"]).await;
    let url = info["explorer"].as_str().expect("cocoon up started an explorer").to_string();
    let api = info["client"]["api"].as_str().unwrap().to_string();
    let chain_api = info["chain"]["api"].as_str().unwrap().to_string();
    let root = info["chain"]["root"].as_str().unwrap().to_string();
    let proxies = info["proxies"].as_array().unwrap().clone();
    let ton = TonApi::new(cocoon_ton::TonApiConfig::new(chain_api)).unwrap();

    // The public report: figures only, read-only.
    let report_url = proxies[0]["report"].as_str().unwrap();
    let (status, report) = get_json(report_url).await;
    assert_eq!(status, 200);
    assert!(report["workers"].as_array().unwrap().iter().all(|w| w.get("address").is_none()), "{report}");
    let (status, _) = post(report_url, "{}").await;
    assert_eq!(status, 405, "the report changes nothing");

    load(api.clone(), Instant::now() + Duration::from_secs(3)).await;
    let mut page = Browser::open(&url).await;

    // Quiet network: the page's figures equal the chain's getters and the proxies' /stats,
    // read between two renders that agree (settlement may move money in between: retry).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let before = page.cmd("wait-change 10000").await;
        let contracts = client_contracts(&proxies).await;
        let tvl = chain_tvl(&ton, &root, &contracts).await;
        let mut workers = 0;
        let mut clients = 0;
        for p in &proxies {
            let (_, stats) = get_json(p["stats"].as_str().unwrap()).await;
            workers += stats["workers"].as_array().unwrap().len();
            clients += stats["chain"]["clients"].as_array().unwrap().len();
        }
        let after = page.cmd("wait-change 10000").await;
        let same = figure(&before, "tvl") == figure(&after, "tvl") && figure(&after, "tvl") == tvl.to_string();
        if same {
            assert_eq!(figure(&after, "workers"), workers.to_string());
            assert_eq!(figure(&after, "clients"), clients.to_string());
            let listed = getters::proxies(&ton, &address::parse_std(&root).unwrap()).await.unwrap().len();
            assert_eq!(figure(&after, "proxies"), listed.to_string());
            assert_eq!(listed, 2);
            assert!(tvl >= 20_000_000_000, "two proxy stakes at least: {tvl}");
            for p in after["proxies"].as_object().unwrap().values() {
                assert_eq!(p["reachable"], true, "{after}");
            }
            assert_eq!(after["workers"].as_array().unwrap().len(), 4, "two workers on each of two proxies");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never agreed with the chain: page {} chain {tvl}",
            figure(&after, "tvl")
        );
    }

    // The settlement lag is on /stats and /metrics (anchors every 10 s in `cocoon up`).
    let (_, stats) = get_json(proxies[0]["stats"].as_str().unwrap()).await;
    let anchor = &stats["anchor"];
    let behind = anchor["behind"].as_u64().expect("anchor lag on /stats");
    assert!(anchor["ledger_seqno"].as_u64().unwrap() >= behind, "{anchor}");
    let (status, text) = get_bytes(&proxies[0]["stats"].as_str().unwrap().replace("/stats", "/metrics")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(text.lines().any(|l| l.starts_with("cocoon_proxy_anchor_behind_commits ")), "{text}");

    // Under load the figures move without a reload.
    let quiet = page.cmd("read").await;
    let points = quiet["charts"]["requests_per_s"].as_u64().unwrap();
    let until = Instant::now() + Duration::from_secs(8);
    // Eight at once: a synthetic answer streams for about a second.
    let loaders: Vec<_> = (0..8).map(|_| tokio::spawn(load(api.clone(), until))).collect();
    let mut busiest = 0.0f64;
    let mut last = quiet.clone();
    while Instant::now() < until {
        last = page.cmd("wait-change 5000").await;
        busiest = busiest.max(figure(&last, "requests_per_s").parse().unwrap_or(0.0));
    }
    let mut sent = 0;
    for l in loaders {
        sent += l.await.unwrap();
    }
    assert!(sent > 10, "{sent}");
    assert!(busiest > 0.5, "requests/s rose while {sent} requests ran: {busiest}");
    assert!(last["charts"]["requests_per_s"].as_u64().unwrap() > points, "the chart grew: {last}");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = shots.join("explorer-live.png");
    page.cmd(&format!("screenshot {}", shot.display())).await;
    eprintln!("screenshot: {}", shot.display());

    // A stopped proxy is shown as unreachable, the other still answers; it comes back.
    let clients = client_contracts(&proxies).await;
    assert_eq!(clients.len(), 2, "one client contract at each proxy");
    let stopped = proxies[1]["pid"].as_u64().unwrap();
    let (_, stats) = get_json(proxies[1]["stats"].as_str().unwrap()).await;
    let stopped_id = stats["proxy_id"].as_str().unwrap().to_string();
    signal(stopped, nix::sys::signal::Signal::SIGSTOP);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Its money is still on chain: the TVL does not drop while its report is silent.
    let down = loop {
        let v = page.cmd("wait-change 10000").await;
        let tvl = chain_tvl(&ton, &root, &clients).await;
        if v["proxies"][&stopped_id]["reachable"] == false && figure(&v, "tvl") == tvl.to_string() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the stopped proxy never showed as unreachable with the TVL kept: {v}, chain {tvl}"
        );
    };
    assert_eq!(down["proxies"].as_object().unwrap().len(), 2, "the stopped proxy stays listed: {down}");
    assert!(down["proxies"][&stopped_id]["text"].as_str().unwrap().contains("UNREACHABLE"), "{down}");
    let other = down["proxies"].as_object().unwrap().iter().find(|(k, _)| **k != stopped_id).unwrap().1;
    assert_eq!(other["reachable"], true);
    let shot = shots.join("explorer-unreachable.png");
    page.cmd(&format!("screenshot {}", shot.display())).await;
    eprintln!("screenshot: {}", shot.display());
    signal(stopped, nix::sys::signal::Signal::SIGCONT);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = page.cmd("wait-change 10000").await;
        if v["proxies"][&stopped_id]["reachable"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the proxy never came back: {v}");
    }

    // Nothing came from anywhere but the explorer, and nothing failed in the page.
    let end = page.cmd("read").await;
    for r in end["requests"].as_array().unwrap() {
        assert!(r.as_str().unwrap().starts_with(&url), "the page loaded {r}");
    }
    assert_eq!(end["errors"].as_array().unwrap().len(), 0, "{end}");
    page.cmd("quit").await;
    let _ = page.child.wait().await;

    // `cocoon status --json` reads the same network.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cocoon"))
        .args(["status", "--json", "--interval-secs", "0", "--network"])
        .arg(dir.join("network.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["headline"]["proxies"]["value"], 2);
    assert_eq!(s["headline"]["workers"]["value"], 4);
    assert_eq!(s["root"]["address"].as_str().unwrap(), address::raw(&address::parse_std(&root).unwrap()));

    up.stop().await;
}
