//! End-to-end HTTP tests of the bench backend over a real socket.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use cocoon_bench_backend::{BenchBackend, Options, StatsSnapshot};
use cocoon_openai::{usage_from_body, SseUsageCounter};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::oneshot;

struct Server {
    addr: SocketAddr,
    backend: BenchBackend,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(opts: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = BenchBackend::new(opts);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(backend.clone().serve(listener, async move {
            let _ = rx.await;
        }));
        Self { addr, backend, client: Client::builder(TokioExecutor::new()).build_http(), stop: Some(tx), task }
    }

    async fn request(&self, method: Method, path: &str, body: Value) -> hyper::Response<hyper::body::Incoming> {
        let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap();
        self.client.request(req).await.unwrap()
    }

    async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, Bytes) {
        let res = self.request(method, path, body).await;
        let status = res.status();
        (status, res.into_body().collect().await.unwrap().to_bytes())
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        drop(self.client);
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("server stops").unwrap().unwrap();
    }
}

fn chat(stream: bool) -> Value {
    json!({
        "model": "bench-model",
        "messages": [{"role": "user", "content": "twelve bytes"}],
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

fn events(body: &[u8]) -> Vec<String> {
    std::str::from_utf8(body)
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data event").to_owned())
        .collect()
}

#[tokio::test]
async fn streaming_chat_has_chunks_usage_and_done() {
    let s = Server::start(Options { chunks: 7, bytes: 5, ..Options::default() }).await;
    let res = s.request(Method::POST, "/v1/chat/completions", chat(true)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let body = res.into_body().collect().await.unwrap().to_bytes();

    let ev = events(&body);
    assert_eq!(ev.len(), 7 + 1 + 1 + 1, "{ev:?}");
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let parsed: Vec<Value> = ev[..ev.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let content: Vec<&Value> = parsed.iter().filter_map(|v| v["choices"][0]["delta"].get("content")).collect();
    assert_eq!(content.len(), 7);
    assert!(content.iter().all(|c| c.as_str().unwrap().len() == 5));
    assert_eq!(parsed[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(parsed[0]["object"], "chat.completion.chunk");
    assert_eq!(parsed[7]["choices"][0]["finish_reason"], "stop");
    assert_eq!(parsed[8]["choices"], json!([]));

    let mut counter = SseUsageCounter::new();
    for piece in body.chunks(13) {
        counter.feed(piece);
    }
    let usage = counter.usage().expect("usage event");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (3, 7, 10));
    assert!(counter.saw_done());

    let st = s.backend.stats();
    assert_eq!((st.requests, st.streams_started, st.streams_completed, st.streams_cancelled), (1, 1, 1, 0));
    s.shutdown().await;
}

#[tokio::test]
async fn streaming_completions_respects_max_tokens_and_usage_opt_in() {
    let s = Server::start(Options::default()).await;
    let body = json!({"model": "bench-model", "prompt": "abcd", "stream": true, "max_tokens": 3});
    let (status, body) = s.call(Method::POST, "/v1/completions", body).await;
    assert_eq!(status, StatusCode::OK);
    let ev = events(&body);
    assert_eq!(ev.len(), 3 + 1 + 1, "no usage event without include_usage: {ev:?}");
    let first: Value = serde_json::from_str(&ev[0]).unwrap();
    assert_eq!(first["object"], "text_completion");
    assert_eq!(first["choices"][0]["text"].as_str().unwrap().len(), 128);
    s.shutdown().await;
}

#[tokio::test]
async fn non_streaming_has_usage() {
    let s = Server::start(Options { chunks: 4, bytes: 3, ..Options::default() }).await;
    let (status, body) = s.call(Method::POST, "/v1/chat/completions", chat(false)).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"].as_str().unwrap().len(), 12);
    let usage = usage_from_body(&body).unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (3, 4, 7));

    let body = json!({"model": "bench-model", "prompt": ["ab", "cd"], "max_tokens": 2});
    let (status, body) = s.call(Method::POST, "/v1/completions", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usage_from_body(&body).unwrap().completion_tokens, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn errors_models_health_and_stats() {
    let s = Server::start(Options::default()).await;
    let (status, body) = s.call(Method::POST, "/v1/chat/completions", json!({"model": "gpt-4", "messages": []})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let e = cocoon_openai::ApiError::from_json(status, &body).unwrap();
    assert_eq!(e.code, "model_not_found");
    assert!(e.message.contains("gpt-4"));

    let req = Request::post(format!("http://{}/v1/completions", s.addr))
        .body(Full::new(Bytes::from_static(b"{not json")))
        .unwrap();
    let res = s.client.request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let (status, body) = s.call(Method::GET, "/v1/models", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["data"][0]["id"], "bench-model");

    let (status, body) = s.call(Method::GET, "/health", Value::Null).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));

    let (status, body) = s.call(Method::GET, "/stats", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let st: StatsSnapshot = serde_json::from_slice(&body).unwrap();
    assert_eq!((st.requests, st.models_requests, st.streams_started), (2, 1, 0));
    s.shutdown().await;
}

#[tokio::test]
async fn dropped_stream_is_counted_as_cancelled() {
    let s = Server::start(Options { chunks: 50, delay_ms: 20, ..Options::default() }).await;
    let res = s.request(Method::POST, "/v1/chat/completions", chat(true)).await;
    let mut body = res.into_body();
    let mut received = 0;
    while received < 2 {
        let frame = body.frame().await.expect("stream open").unwrap();
        if frame.data_ref().is_some() {
            received += 1;
        }
    }
    drop(body);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let st = s.backend.stats();
        if st.streams_cancelled == 1 {
            assert_eq!((st.streams_started, st.streams_completed), (1, 0));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not cancelled: {st:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown().await;
}
