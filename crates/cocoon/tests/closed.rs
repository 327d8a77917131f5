//! Closed by default: roles that would be open on a non-loopback address refuse to start,
//! the proxy's books stay tied to its key, and a web page cannot spend or switch a worker off
//! (docs/SECURITY.md).

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// Runs `cocoon <args>` and waits for it to exit (it must refuse to start): its log.
async fn refused(procs: &mut Procs, name: &str, args: &[String]) -> String {
    procs.spawn(name, args);
    for _ in 0..100 {
        let log = procs.log(name);
        if log.contains("Error") || log.contains("error") {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return procs.log(name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} did not refuse to start:\n{}", procs.log(name));
}

fn s(x: impl ToString) -> String {
    x.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_refuse_to_start_open_on_a_public_address() {
    let mut procs = Procs::new("closed-start");
    let [c, w, st] = free_ports(3)[..] else { unreachable!() };
    // A proxy on all interfaces with dev attestation and a dev worker policy (the defaults).
    let log = refused(
        &mut procs,
        "proxy",
        &[
            s("proxy"),
            s("--client-listen"),
            format!("0.0.0.0:{c}"),
            s("--worker-listen"),
            format!("0.0.0.0:{w}"),
            s("--stats-listen"),
            format!("127.0.0.1:{st}"),
        ],
    )
    .await;
    assert!(log.contains("insecure_dev = true") && log.contains("worker_policy"), "{log}");
    assert!(std::net::TcpListener::bind(("0.0.0.0", w)).is_ok(), "it never listened");

    // A dev worker told to dial a proxy on another machine.
    let log = refused(
        &mut procs,
        "worker",
        &[
            s("worker"),
            s("--proxy"),
            s("192.0.2.10:8802"),
            s("--model"),
            s(MODEL),
            s("--backend"),
            s("http://127.0.0.1:9"),
            s("--stats-listen"),
            s("127.0.0.1:0"),
        ],
    )
    .await;
    assert!(log.contains("proxy_policy") && log.contains("192.0.2.10"), "{log}");

    // A client likewise.
    let log = refused(
        &mut procs,
        "client",
        &[s("client"), s("--proxy"), s("192.0.2.10:8801"), s("--listen"), s("127.0.0.1:0")],
    )
    .await;
    assert!(log.contains("proxy_policy"), "{log}");

    // A tdx policy that lists no image admits any TDX image: refused even on loopback.
    let cfg = procs.dir.join("tdx-open.toml");
    std::fs::write(&cfg, format!("client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\n\n[worker_policy]\nkind = \"tdx\"\n")).unwrap();
    let log = refused(&mut procs, "proxy-tdx", &[s("proxy"), s("--config"), cfg.display().to_string()]).await;
    assert!(log.contains("would admit ANY TDX image"), "{log}");

    // Written consent: it starts, says so loudly, and /stats shows it.
    let cfg = procs.dir.join("insecure.toml");
    std::fs::write(&cfg, format!("client_listen = \"0.0.0.0:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\ninsecure_dev = true\n")).unwrap();
    procs.spawn("proxy-insecure", &[s("proxy"), s("--config"), cfg.display().to_string()]);
    let stats = wait_for(&format!("http://127.0.0.1:{st}/stats"), 30, |_| true).await;
    assert_eq!(stats["security"]["insecure_dev"], true, "{stats}");
    assert!(!stats["security"]["open"].as_array().unwrap().is_empty(), "{stats}");
    assert!(procs.log("proxy-insecure").contains("INSECURE"), "warned loudly");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_books_stay_tied_to_the_proxy_key() {
    let mut procs = Procs::new("closed-key");
    let [c, w, st] = free_ports(3)[..] else { unreachable!() };
    let data = procs.dir.join("proxy");
    let cfg = procs.dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!("client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\n\n[payments]\ndata_dir = {data:?}\n"),
    )
    .unwrap();
    let args = [s("proxy"), s("--config"), cfg.display().to_string()];
    let stats = format!("http://127.0.0.1:{st}/stats");
    procs.spawn("proxy", &args);
    let first = wait_for(&stats, 30, |_| true).await["proxy_id"].clone();
    assert!(data.join("key.pem").exists(), "with payments on the key lives in the data dir");
    procs.kill("proxy").await;
    procs.spawn("proxy", &args);
    let again = wait_for(&stats, 30, |_| true).await["proxy_id"].clone();
    assert_eq!(first, again, "same key, same books");
    procs.kill("proxy").await;

    // The key is lost: a clear error, never a silent new identity over old books.
    std::fs::remove_file(data.join("key.pem")).unwrap();
    let log = refused(&mut procs, "proxy-nokey", &args).await;
    assert!(log.contains("is missing but") && log.contains("restore the key"), "{log}");
    assert!(!data.join("key.pem").exists());
    // Another key over these books: refused too.
    let other = procs.dir.join("other.pem");
    let made = cocoon_transport::AttestationConfig { key_file: Some(other.clone()), ..Default::default() };
    cocoon_transport::build_identity(cocoon_ratls::Role::Proxy, &made, Default::default()).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[attestation]\nmode = \"dev\"\nkey_file = {other:?}\n")).unwrap();
    let log = refused(&mut procs, "proxy-otherkey", &args).await;
    assert!(log.contains("are kept under key"), "{log}");
}

/// A request as a web page on another origin would send it: no token, a simple content type.
async fn from_a_page(method: &str, url: &str, content_type: &str, body: &str) -> (u16, http::HeaderMap) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("origin", "http://evil.example")
        .header("content-type", content_type)
        .header("access-control-request-method", "POST")
        .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let _ = body.collect().await;
    (parts.status.as_u16(), parts.headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_page_cannot_spend_withdraw_or_switch_a_worker_off() {
    let net = Net::start("closed-browser", NetOpts { workers: 1, payments: true, ..Default::default() }).await;
    let (status, v) = post_json(&format!("{}/v1/payments/deposit", net.api), r#"{"amount":1000000000}"#).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["available"], 900_000_000, "a tenth is the stake: {v}");
    let pay = |op: &str| format!("{}/v1/payments/{op}", net.api);

    // Cross-origin form posts without the token: refused, and no CORS header lets a page read anything.
    for (op, body) in [("withdraw", r#"{"amount":5000000}"#), ("close", "{}")] {
        let (status, headers) = from_a_page("POST", &pay(op), "text/plain", body).await;
        assert_eq!(status, 401, "{op}");
        assert!(headers.get("access-control-allow-origin").is_none(), "{op}: {headers:?}");
    }
    let (_, headers) = from_a_page("OPTIONS", &pay("withdraw"), "application/json", "").await;
    assert!(headers.get("access-control-allow-origin").is_none(), "no preflight for money: {headers:?}");
    // The token alone is not enough without JSON (what a page could send).
    let token = std::fs::read_to_string(net.procs.dir.join("client").join("api-token")).unwrap();
    let req = http::Request::post(pay("withdraw"))
        .header("content-type", "text/plain")
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(http_body_util::Full::new(bytes::Bytes::from(r#"{"amount":1}"#)))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    assert_eq!(client.request(req).await.unwrap().status(), 415);
    let (_, acct) = get_json(&pay("account")).await;
    assert_eq!(acct["available"], 900_000_000, "nothing moved: {acct}");
    // Inference stays usable from a page, as with any local OpenAI-compatible server.
    let (_, headers) = from_a_page("OPTIONS", &net.chat_url(), "application/json", "").await;
    assert!(headers.get("access-control-allow-origin").is_some(), "{headers:?}");

    // The worker: no controls on its stats port, and none without the token on its own.
    let (_, stats) = get_json(&net.worker_stats[0]).await;
    let (status, _) =
        from_a_page("POST", &net.worker_stats[0].replace("/stats", "/admin/disable"), "text/plain", "").await;
    assert!(status == 404 || status == 405, "{status}");
    let admin = stats["admin"].as_str().unwrap();
    let (status, _) = from_a_page("POST", &format!("{admin}/disable"), "text/plain", "").await;
    assert_eq!(status, 401);
    let (_, after) = get_json(&net.worker_stats[0]).await;
    assert_eq!(after["enabled"], Value::Bool(true), "still serving");
    // Its operator, with the token and JSON, can.
    assert_eq!(worker_control(&net, 0, "disable", "{}").await.0, 200);
}
