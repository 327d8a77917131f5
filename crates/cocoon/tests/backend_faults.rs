//! A worker's backend misbehaving, through real processes (payments on): one that stalls
//! mid-answer, one that answers bytes that are not HTTP, one that answers a stream that is not
//! SSE, one that closes the connection mid-answer. After each: the client gets a clear error
//! within the request's timeout (never a hang), the worker stays up and says what failed, the
//! next request is served, and the proxy's books balance.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the fake backend answers completions.
const HEALTHY: u8 = 0;
const STALL: u8 = 1;
const NOT_HTTP: u8 = 2;
const NOT_SSE: u8 = 3;
const CLOSE_MID_ANSWER: u8 = 4;

fn sse_chunk(text: &str) -> String {
    let event = format!(
        "data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n"
    );
    format!("{:x}\r\n{event}\r\n", event.len())
}

/// Reads one request (head and `content-length` body); `None` at EOF or on junk.
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    Some(head)
}

async fn serve(mut s: TcpStream, mode: Arc<AtomicU8>) {
    let Some(head) = read_request(&mut s).await else { return };
    const STREAM_HEAD: &str =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    if head.starts_with("GET /v1/models") {
        let body = format!(r#"{{"object":"list","data":[{{"id":"{MODEL}","object":"model"}}]}}"#);
        let _ = s
            .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
            .await;
        return;
    }
    if !head.starts_with("POST /v1/chat/completions") {
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return;
    }
    match mode.load(SeqCst) {
        STALL => {
            let _ = s.write_all(format!("{STREAM_HEAD}{}", sse_chunk("one")).as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        NOT_HTTP => {
            let _ = s.write_all(b"\x16\x03\x01\x00\xffthis is not HTTP at all\r\n\r\n\x00\x00").await;
        }
        NOT_SSE => {
            let junk = "\u{0}\u{1}<html>not an event stream</html>{{{{\n\n";
            let _ = s.write_all(format!("{STREAM_HEAD}{:x}\r\n{junk}\r\n0\r\n\r\n", junk.len()).as_bytes()).await;
        }
        CLOSE_MID_ANSWER => {
            let _ = s.write_all(format!("{STREAM_HEAD}{}{}", sse_chunk("one"), sse_chunk("two")).as_bytes()).await;
            // No terminating chunk: the connection just ends.
        }
        _ => {
            let usage = format!(
                "data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}}}\n\ndata: [DONE]\n\n"
            );
            let tail = format!("{:x}\r\n{usage}\r\n0\r\n\r\n", usage.len());
            let _ =
                s.write_all(format!("{STREAM_HEAD}{}{}{tail}", sse_chunk("one"), sse_chunk("two")).as_bytes()).await;
        }
    }
}

async fn fake_backend(mode: Arc<AtomicU8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s, mode.clone()));
        }
    });
    url
}

/// A streamed request with a 3 s timeout: its status, body, and how long it took. The test's
/// own bound is far past the timeout, so a hang fails here.
async fn stream(net: &Net) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(20),
        post(&net.chat_url(), chat_body(true, r#""max_tokens":16,"timeout":3"#)),
    )
    .await
    .expect("the request hung past its timeout");
    (status, String::from_utf8_lossy(&body).to_string(), started.elapsed())
}

/// The error a stream ended with: its last event, which must be an error, not `[DONE]`.
fn ends_with_error(body: &str) -> Value {
    let last = body.trim_end().rsplit("\n\n").next().unwrap_or_default();
    assert!(!body.contains("data: [DONE]"), "a broken answer must not end as if complete: {body}");
    let json = last.strip_prefix("data: ").unwrap_or_else(|| panic!("no error event at the end: {body}"));
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert!(v["error"]["code"].is_string(), "{v}");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_backend_gets_clear_errors_and_changes_no_money() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let mut net = Net::start("backend-faults", NetOpts { workers: 0, payments: true, ..Default::default() }).await;
    net.backend = fake_backend(mode.clone()).await;
    let st = free_ports(1)[0];
    net.start_worker("worker-0", st, 8, &[]);
    wait_for(&net.proxy_stats[0], 30, |v| enabled_workers(v) >= 1).await;
    let (status, acct) = post_json(&format!("{}/v1/payments/deposit", net.api), r#"{"amount":1000000000}"#).await;
    assert_eq!(status, 200, "{acct}");

    let (status, body, _) = stream(&net).await;
    assert_eq!(status, 200);
    assert!(body.contains("[DONE]") && body.contains("\"two\""), "{body}");

    // Stalls after its first chunk: the worker gives up at the request's timeout.
    mode.store(STALL, SeqCst);
    let (status, body, took) = stream(&net).await;
    assert_eq!(status, 200, "the first chunk had been sent: {body}");
    assert_eq!(ends_with_error(&body)["error"]["code"], "timeout");
    assert!(took < Duration::from_secs(6), "3 s timeout, took {took:?}");

    // Not HTTP: a 502 before any byte of answer, saying the backend failed.
    mode.store(NOT_HTTP, SeqCst);
    let (status, body, _) = stream(&net).await;
    assert_eq!(status, 502, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");

    // A 200 whose body is not an event stream, then the end: no usage, an error at the end.
    mode.store(NOT_SSE, SeqCst);
    let (status, body, _) = stream(&net).await;
    assert!(status == 200 || status == 502, "{status}: {body}");
    if status == 200 {
        ends_with_error(&body);
    }

    // Closes mid-answer: what was sent arrives, then an error (never a clean end).
    mode.store(CLOSE_MID_ANSWER, SeqCst);
    let (status, body, _) = stream(&net).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"one\""), "{body}");
    ends_with_error(&body);

    // The worker is still up, counted the failures, and serves again at once.
    mode.store(HEALTHY, SeqCst);
    let (status, body, _) = stream(&net).await;
    assert_eq!(status, 200);
    assert!(body.contains("[DONE]"), "{body}");
    let (_, w) = get_json(&net.worker_stats[0]).await;
    assert!(w["counters"]["failed"].as_u64().unwrap_or(0) >= 3, "{w}");
    assert_eq!(w["counters"]["succeeded"], 2, "{w}");
    let (_, p) = get_json(&net.proxy_stats[0]).await;
    assert_books_balance(&p);
    assert_eq!(p["ledger"]["reserved"], 0, "nothing stays reserved once every request has ended");
    assert!(net.procs.children.values_mut().all(|c| c.try_wait().ok().flatten().is_none()), "every role is still up");
}
