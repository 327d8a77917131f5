//! Attacks on a running network, each mounted over real sockets by a hand-driven peer: a
//! client that lies in its headers, hangs up before the trailers or sends a body it cannot
//! pay for; a worker that lies about its model, raises its price mid-stream or inflates its
//! usage. Each asserts the attacker gets nothing and the books balance (docs/SECURITY.md).

mod common;

use bytes::Bytes;
use cocoon_ledger::{Prices, TokenCounts};
use cocoon_openai::{Endpoint, FeatureSet};
use cocoon_proto::{EventCodec, InferMeta, Outcome, Terms, WorkerAnnounce, WorkerStatus};
use cocoon_ratls::{PolicyKind, Role};
use cocoon_transport::{
    build_identity, build_policy, full, h2_client, h2_server, hello_response, send_hello, AttestationConfig, Body,
    BoxError, PeerPolicy, TlsDialer,
};
use common::*;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, StreamBody};
use hyper::client::conn::http2::SendRequest;
use serde_json::Value;
use std::{collections::BTreeMap, sync::Arc, time::Duration};

/// An attacker's own client link to a proxy: its own key, no cocoon client in between.
struct Link {
    send: SendRequest<Body>,
}

async fn dial(proxy: &str) -> Link {
    let identity = build_identity(Role::Client, &AttestationConfig::default(), BTreeMap::new()).unwrap();
    let policy = build_policy(PeerPolicy::new(PolicyKind::Dev), Role::Proxy).unwrap();
    let dialer = TlsDialer::new(Arc::new(identity.client_config(policy).unwrap()), Duration::from_secs(5));
    let (tls, _) = dialer.dial(proxy).await.unwrap();
    let (send, conn) = h2_client(tls).await.unwrap();
    tokio::spawn(conn);
    Link { send }
}

impl Link {
    async fn hello(&mut self) {
        send_hello(&mut self.send, "client", None).await.unwrap();
    }

    async fn call(&mut self, req: Request<Body>) -> (u16, Value) {
        self.send.ready().await.unwrap();
        let resp = self.send.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Deposits on the embedded (dev) settlement, which credits on request.
    async fn deposit(&mut self, amount: u64) {
        let req = Request::post(cocoon_transport::peer_uri(cocoon_proto::path::DEPOSIT))
            .body(full(format!(r#"{{"amount":{amount}}}"#)))
            .unwrap();
        let (status, v) = self.call(req).await;
        assert_eq!(status, 200, "{v}");
    }
}

fn meta(stream: bool, max_tokens: Option<u64>) -> InferMeta {
    InferMeta {
        request_id: "attack".into(),
        terms: Terms {
            endpoint: Endpoint::ChatCompletions,
            model: MODEL.into(),
            stream,
            max_tokens,
            coefficient: None,
            features: FeatureSet::EMPTY,
            choices: 1,
        },
        max_coefficient: 4000,
        timeout: Duration::from_secs(20),
        hardware: None,
    }
}

fn infer(m: &InferMeta, body: impl Into<Bytes>) -> Request<Body> {
    let mut req = Request::post(cocoon_transport::peer_uri(cocoon_proto::path::INFER)).body(full(body.into())).unwrap();
    m.write(req.headers_mut()).unwrap();
    req
}

async fn ledger(stats: &str) -> Value {
    get_json(stats).await.1["ledger"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_whose_headers_disagree_with_its_body_is_refused_and_pays_nothing() {
    let mut net =
        Net::start("attack-terms", NetOpts { workers: 1, payments: true, chunks: 30, ..Default::default() }).await;
    let mut link = dial(&net.proxy_client[0]).await;
    link.hello().await;
    link.deposit(1_000_000_000).await;
    let before = ledger(&net.proxy_stats[0]).await;

    // Reserved for 1 output token, asks the backend for 30.
    let body = chat_body(false, r#""max_tokens":30"#);
    let (status, v) = link.call(infer(&meta(false, Some(1)), body)).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "terms_mismatch", "{v}");
    // Reserved as a non-stream (so a cut-short stream would be free), streams anyway.
    let (status, v) = link.call(infer(&meta(false, Some(30)), chat_body(true, r#""max_tokens":30"#))).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "terms_mismatch", "{v}");
    // Without a bound the proxy reserves its default and the worker holds the backend to it.
    let (status, _) = link.call(infer(&meta(false, None), chat_body(false, ""))).await;
    assert_eq!(status, 200);
    // Reserved for one plain choice, asks for three with logprobs: a worker without those
    // features refuses the fields, and one whose backend has them refuses the body for not
    // being what was reserved. Neither reaches the backend.
    let body = chat_body(false, r#""max_tokens":30,"n":3,"logprobs":true"#);
    let (status, v) = link.call(infer(&meta(false, Some(30)), body.clone())).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("unsupported_field")), "{v}");
    net.start_worker("worker-features", free_ports(1)[0], 32, &["--features".into(), "logprobs,n".into()]);
    wait_for(&net.proxy_stats[0], 30, |v| enabled_workers(v) == 2).await;
    net.procs.kill("worker-0").await;
    wait_for(&net.proxy_stats[0], 30, |v| enabled_workers(v) == 1).await;
    let (status, v) = link.call(infer(&meta(false, Some(30)), body)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("terms_mismatch")), "{v}");

    let after = wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await["ledger"].clone();
    assert_eq!(after["balanced"], true, "{after}");
    let backend = get_json(&format!("{}/stats", net.backend)).await.1;
    assert_eq!(backend["requests"], 1, "the refused bodies never reached the backend: {backend}");
    assert!(after["charged"].as_u64() > before["charged"].as_u64(), "the honest request was charged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_hangs_up_before_the_trailers_pays_the_whole_answer() {
    let net =
        Net::start("attack-cancel", NetOpts { workers: 1, payments: true, chunks: 20, ..Default::default() }).await;
    let mut link = dial(&net.proxy_client[0]).await;
    link.hello().await;
    link.deposit(1_000_000_000).await;
    let body = chat_body(true, r#""max_tokens":20"#);

    // An honest request: what this answer costs.
    link.send.ready().await.unwrap();
    let resp = link.send.send_request(infer(&meta(true, Some(20)), body.clone())).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let honest = Outcome::from_trailers(collected.trailers().unwrap()).cost.expect("a cost");
    assert!(honest > 0);
    let charged_before = wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await["ledger"]["charged"]
        .as_u64()
        .unwrap();

    // The attack: read every data frame, then reset the stream before the trailers come.
    link.send.ready().await.unwrap();
    let resp = link.send.send_request(infer(&meta(true, Some(20)), body)).await.unwrap();
    let mut stream = resp.into_body();
    let mut seen = Vec::new();
    while let Some(Ok(frame)) = stream.frame().await {
        if let Ok(d) = frame.into_data() {
            seen.extend_from_slice(&d);
            if seen.ends_with(b"data: [DONE]\n\n") {
                break;
            }
        }
    }
    drop(stream);

    let after = wait_for(&net.proxy_stats[0], 10, |v| {
        v["ledger"]["reserved"] == 0 && v["ledger"]["charged"].as_u64() > Some(charged_before)
    })
    .await["ledger"]
        .clone();
    assert_eq!(
        after["charged"].as_u64().unwrap() - charged_before,
        honest,
        "the reset request paid like the honest one"
    );
    assert_eq!(after["balanced"], true, "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_cannot_pay_is_refused_before_its_body_is_read() {
    let net = Net::start("attack-body", NetOpts { workers: 1, payments: true, ..Default::default() }).await;
    let mut link = dial(&net.proxy_client[0]).await;
    // No hello: nothing but hello is answered.
    let (status, v) = link.call(infer(&meta(false, Some(5)), chat_body(false, ""))).await;
    assert_eq!((status, v["error"]["code"].clone()), (400, "no_hello".into()), "{v}");
    link.hello().await;
    // Announces megabytes and sends one chunk: the 402 comes without waiting for the rest.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, BoxError>>(1);
    tx.send(Ok(hyper::body::Frame::data(Bytes::from(vec![b' '; 1024])))).await.unwrap();
    let body: Body = StreamBody::new(tokio_stream_from(rx)).boxed_unsync();
    let mut req = Request::post(cocoon_transport::peer_uri(cocoon_proto::path::INFER)).body(body).unwrap();
    meta(false, Some(5)).write(req.headers_mut()).unwrap();
    req.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from(8_000_000u64));
    link.send.ready().await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), link.send.send_request(req))
        .await
        .expect("refused without the rest of the body")
        .unwrap();
    assert_eq!(resp.status(), 402);
    drop(tx);
    let l = ledger(&net.proxy_stats[0]).await;
    assert_eq!((l["deposited"].clone(), l["reserved"].clone()), (0.into(), 0.into()), "{l}");
}

/// A receiver as a stream of frames.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<hyper::body::Frame<Bytes>, BoxError>>,
) -> impl futures::Stream<Item = Result<hyper::body::Frame<Bytes>, BoxError>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What a malicious worker does.
#[derive(Clone, Copy)]
struct Evil {
    /// The model it attests (it always announces [`MODEL`]).
    attested_model: &'static str,
    /// The usage it reports in its trailers, whatever it produced.
    claimed_tokens: u64,
    /// The coefficient it switches to right after it is chosen.
    raise_to: u32,
}

/// Dials the proxy's worker port as a worker that serves `events` SSE events per answer and
/// behaves as `evil` says.
async fn evil_worker(proxy: &str, evil: Evil, events: usize) -> tokio::task::JoinHandle<()> {
    let claims = BTreeMap::from([(cocoon_proto::CLAIM_MODEL.to_string(), evil.attested_model.to_string())]);
    let identity = build_identity(Role::Worker, &AttestationConfig::default(), claims).unwrap();
    let policy = build_policy(PeerPolicy::new(PolicyKind::Dev), Role::Proxy).unwrap();
    let dialer = TlsDialer::new(Arc::new(identity.client_config(policy).unwrap()), Duration::from_secs(5));
    let (tls, _) = dialer.dial(proxy).await.unwrap();
    let status = tokio::sync::watch::channel(WorkerStatus { enabled: true, coefficient: 1000, reason: None });
    let (status_tx, status_rx) = (Arc::new(status.0), status.1);
    let announce = WorkerAnnounce {
        worker_id: identity.public_key_hex(),
        model: MODEL.into(),
        hardware: cocoon_proto::HardwareProfile::cpu(),
        max_active: 4,
        status: status_rx.borrow().clone(),
        model_sha256: None,
        voucher: None,
        features: FeatureSet::EMPTY,
    };
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let (announce, status_tx, mut status_rx) = (announce.clone(), status_tx.clone(), status_rx.clone());
        async move {
            let resp: http::Response<Body> = match req.uri().path() {
                cocoon_proto::path::HELLO => hello_response(req.into_body(), Some(announce)).await.1,
                cocoon_proto::path::WORKER_EVENTS => {
                    let _ = status_rx.borrow_and_update();
                    let frames = futures::stream::unfold((status_rx, true), |(mut rx, first)| async move {
                        if !first {
                            rx.changed().await.ok()?;
                        }
                        let s = rx.borrow_and_update().clone();
                        Some((Ok::<_, BoxError>(hyper::body::Frame::data(EventCodec::frame(&s).unwrap())), (rx, false)))
                    });
                    http::Response::new(StreamBody::new(frames).boxed_unsync())
                }
                cocoon_proto::path::INFER => {
                    // Chosen at 1.0x: raise the price before answering.
                    status_tx.send_modify(|s| s.coefficient = evil.raise_to);
                    let mut frames: Vec<Result<hyper::body::Frame<Bytes>, BoxError>> = (0..events)
                        .map(|i| Ok(hyper::body::Frame::data(Bytes::from(format!("data: {{\"n\":{i}}}\n\n")))))
                        .collect();
                    let usage = cocoon_openai::Usage {
                        prompt_tokens: evil.claimed_tokens,
                        completion_tokens: evil.claimed_tokens,
                        total_tokens: 2 * evil.claimed_tokens,
                        ..Default::default()
                    };
                    let outcome = Outcome { usage: Some(usage), error: None, cost: None };
                    frames.push(Ok(hyper::body::Frame::trailers(outcome.to_trailers())));
                    http::Response::new(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
                }
                _ => http::Response::new(full("")),
            };
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    tokio::spawn(async move {
        let _ = h2_server().serve_connection(cocoon_transport::link_io(tls), svc).await;
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_is_paid_the_price_it_was_chosen_at_for_what_it_could_have_produced() {
    let net = Net::start("attack-worker", NetOpts { workers: 0, payments: true, ..Default::default() }).await;
    // A worker whose certificate attests another model is not admitted.
    let liar =
        evil_worker(&net.proxy_worker[0], Evil { attested_model: "other", claimed_tokens: 1, raise_to: 1000 }, 1).await;
    let stats = wait_for(&net.proxy_stats[0], 10, |v| v["counters"]["handshakes_refused"] == 1).await;
    assert!(stats["counters"]["last_refusal"].as_str().unwrap().contains("differs from the attested"), "{stats}");
    liar.abort();

    let evil = Evil { attested_model: MODEL, claimed_tokens: 1_000_000, raise_to: 4000 };
    let _w = evil_worker(&net.proxy_worker[0], evil, 5).await;
    wait_for(&net.proxy_stats[0], 10, |v| enabled_workers(v) == 1).await;
    let mut link = dial(&net.proxy_client[0]).await;
    link.hello().await;
    link.deposit(1_000_000_000).await;
    let body = chat_body(true, r#""max_tokens":50"#);
    link.send.ready().await.unwrap();
    let resp = link.send.send_request(infer(&meta(true, Some(50)), body.clone())).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let outcome = Outcome::from_trailers(collected.trailers().unwrap());

    // Bounded: prompt by the body, completion by the 5 events relayed; priced at 1.0x.
    let usage = outcome.usage.expect("usage");
    let prompt = body.len() as u64 + cocoon_proxy::pipeline::relay::PROMPT_SLACK;
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (prompt, 5), "{usage:?}");
    let expected = Prices::default().cost(&TokenCounts { prompt, cached: 0, completion: 5, reasoning: 0 }, 1000);
    assert_eq!(outcome.cost, Some(expected.client));
    let stats = wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await;
    assert_eq!(stats["ledger"]["charged"], expected.client, "{stats}");
    assert_eq!(stats["ledger"]["balanced"], true);
    // It did raise its price, for later requests (the status frame travels on its own, so the
    // proxy may see it a moment after the request's end).
    wait_for(&net.proxy_stats[0], 10, |v| v["workers"][0]["coefficient"] == 4000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_sends_a_nonsense_status_is_dropped() {
    let net = Net::start("attack-status", NetOpts { workers: 0, ..Default::default() }).await;
    let _w = evil_worker(&net.proxy_worker[0], Evil { attested_model: MODEL, claimed_tokens: 1, raise_to: 0 }, 1).await;
    wait_for(&net.proxy_stats[0], 10, |v| enabled_workers(v) == 1).await;
    // Its first request makes it send coefficient 0: the proxy forgets it.
    let _ = post(&net.chat_url(), chat_body(false, "")).await;
    let stats = wait_for(&net.proxy_stats[0], 10, |v| v["workers"].as_array().is_some_and(Vec::is_empty)).await;
    assert_eq!(enabled_workers(&stats), 0);
}

/// Dials like [`dial`] but gives up after `secs`: `None` when the handshake did not complete.
async fn try_dial(proxy: &str, secs: u64) -> Option<Link> {
    tokio::time::timeout(Duration::from_secs(secs), dial(proxy)).await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn links_are_bounded_in_number_and_must_say_hello() {
    let mut procs = Procs::new("attack-links");
    let [c, w, st] = free_ports(3)[..] else { unreachable!() };
    let cfg = procs.dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\nmax_connections = 2\n"
        ),
    )
    .unwrap();
    procs.spawn("proxy", &["proxy".into(), "--config".into(), cfg.display().to_string()]);
    wait_for(&format!("http://127.0.0.1:{st}/stats"), 30, |_| true).await;
    let addr = format!("127.0.0.1:{c}");
    let started = std::time::Instant::now();
    let first = try_dial(&addr, 5).await.expect("first link");
    let _second = try_dial(&addr, 5).await.expect("second link");
    // A third waits in the listen queue: no handshake while two links are open.
    assert!(try_dial(&addr, 2).await.is_none(), "the cap of 2 connections held");
    // The links said nothing: closed after the hello deadline, which frees the permits.
    let mut first = first;
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while first.send.ready().await.is_ok() && !first.send.is_closed() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "a link without a hello is closed");
    assert!(started.elapsed() >= cocoon_proxy::client_link::HELLO_DEADLINE);
    let mut late = try_dial(&addr, 10).await.expect("a permit came free");
    late.hello().await;
}
