//! Faults injected into a running `cocoon up` under load: the proxy, a worker and the client
//! are each SIGKILLed at a moment the test does not line up with any request. After each, the
//! supervisor starts the role again, the others reconnect, and the network serves again
//! within seconds; no request hangs past its timeout; every failure is a clear error; no
//! deposit is lost, no voucher covers more than the proxy's books, and the books balance.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The timeout every request of the load asks for (the client's `timeout` field).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What one request of the load ended with.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    took: Duration,
    body: String,
}

async fn one(api: &str) -> Outcome {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = chat_body(false, &format!(r#""max_tokens":8,"timeout":{}"#, REQUEST_TIMEOUT.as_secs()));
    let req = http::Request::post(format!("{api}/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let started = Instant::now();
    // The test's own bound: well past the request's timeout, so a hang shows as a failure.
    let r = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(15), async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).to_string()))
    })
    .await;
    let took = started.elapsed();
    match r {
        Ok(Ok((status, body))) => Outcome { status: Some(status), took, body },
        Ok(Err(e)) => Outcome { status: None, took, body: e },
        Err(_) => Outcome { status: None, took, body: "HUNG".into() },
    }
}

fn pid(dir: &std::path::Path, pointer: &str) -> u64 {
    let info: Value = serde_json::from_slice(&std::fs::read(dir.join("network.json")).unwrap()).unwrap();
    info.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no {pointer} in network.json: {info}"))
}

fn kill(pid: u64) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
}

/// Waits until a request succeeds again; returns how long it took.
async fn serves_again(api: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let o = one(api).await;
        if o.status == Some(200) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "the network did not serve again within {within:?}: last {o:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_roles_are_restarted_and_the_network_serves_again_with_the_money_intact() {
    let dir = temp_dir("faults");
    let port = free_ports(1)[0];
    let (mut up, info) = start_up(
        &dir,
        port,
        &["--synthetic", "--workers", "2", "--embedded-settlement", "--delay-ms", "5", "--no-explorer"],
    )
    .await;
    let api = info["client"]["api"].as_str().unwrap().to_string();
    let proxy_stats = info["proxies"][0]["stats"].as_str().unwrap().to_string();
    let worker_stats: Vec<String> =
        info["workers"].as_array().unwrap().iter().map(|w| w["stats"].as_str().unwrap().to_string()).collect();
    let client_stats = info["client"]["stats"].as_str().unwrap().to_string();
    let (_, before) = get_json(&proxy_stats).await;
    let deposited = n(&before["ledger"]["deposited"]);
    assert!(deposited > 0, "{before}");

    // Load: eight loops of requests until told to stop.
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicBool::new(true));
    let loaders: Vec<_> = (0..8)
        .map(|_| {
            let (api, outcomes, running) = (api.clone(), outcomes.clone(), running.clone());
            tokio::spawn(async move {
                while running.load(Relaxed) {
                    let o = one(&api).await;
                    outcomes.lock().unwrap().push(o);
                }
            })
        })
        .collect();

    let mut recovery = Vec::new();
    for (role, pointer) in [("proxy", "/proxies/0/pid"), ("worker", "/workers/0/pid"), ("client", "/client/pid")] {
        tokio::time::sleep(Duration::from_millis(1700)).await;
        let old = pid(&dir, pointer);
        kill(old);
        let killed = Instant::now();
        while pid(&dir, pointer) == old {
            assert!(killed.elapsed() < Duration::from_secs(10), "the {role} was not started again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        serves_again(&api, Duration::from_secs(30)).await;
        recovery.push((role, killed.elapsed()));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    eprintln!("serving again after each kill: {recovery:?}");

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let ok = outcomes.iter().filter(|o| o.status == Some(200)).count();
    assert!(ok > 20, "{ok} of {} succeeded", outcomes.len());
    for o in outcomes.iter() {
        assert!(o.took < REQUEST_TIMEOUT + Duration::from_secs(5), "a request took {:?}: {o:?}", o.took);
        match o.status {
            Some(200) => {}
            // An HTTP failure says what went wrong, in OpenAI's error shape.
            Some(s) => {
                let v: Value = serde_json::from_str(&o.body).unwrap_or(Value::Null);
                assert!(s >= 500 && v["error"]["code"].is_string(), "{s}: {}", o.body);
            }
            // The client itself was killed under this request: its connection closed.
            None => assert_ne!(o.body, "HUNG", "{o:?}"),
        }
    }

    // Money: the deposit is all there, the books balance, vouchers never cover more than them.
    let (_, after) = get_json(&proxy_stats).await;
    let ledger = &after["ledger"];
    assert_eq!(ledger["balanced"], true, "{after}");
    assert_eq!(n(&ledger["deposited"]), deposited, "no deposit lost or invented");
    let (_, client) = get_json(&client_stats).await;
    let vouchered = n(&client["payments"]["charged_tokens_by_vouchers"]);
    assert!(vouchered <= n(&ledger["charged_tokens"]), "client vouchers {vouchered} vs books {ledger}");
    let mut earned = 0;
    for w in &worker_stats {
        let (_, s) = get_json(w).await;
        earned += n(&s["earnings"]["total_tokens"]);
    }
    assert!(earned <= n(&ledger["worker_earned_tokens"]), "worker vouchers {earned} vs books {ledger}");

    up.stop().await;
}
