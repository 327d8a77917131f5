//! The worker's HTTP/1 client to its backend, against a plain TCP server that counts its
//! connections: the request on the wire, keep-alive reuse (chunked and `Content-Length`
//! answers), cancellation by closing, retry when the server closed an idle connection, and
//! clear errors for a malformed chunk, an answer cut short and a server that is not HTTP (a
//! connection that failed is never reused).

use bytes::Bytes;
use cocoon_worker::backend_http::{BackendHttp, BackendHttpError};
use http_body_util::{BodyExt, Full};
use std::sync::{
    atomic::{AtomicUsize, Ordering::SeqCst},
    Arc,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the test server does after answering one request on a connection.
#[derive(Clone, Copy)]
enum After {
    /// Keep the connection for the next request.
    KeepAlive,
    /// Close it (an idle connection the server gave up on).
    Close,
}

/// How the server answers.
#[derive(Clone, Copy)]
enum Answer {
    /// A chunked SSE-like body of `n` chunks, all written at once.
    Burst(usize),
    /// The head and one chunk, then nothing more until the client goes away.
    Stall,
    /// These exact bytes (a hostile or broken backend), then the connection stays open.
    Raw(&'static [u8]),
}

struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    /// One message per connection the client closed (end of file read by the server).
    closed: mpsc::UnboundedReceiver<()>,
    /// Every request as it arrived on the wire.
    requests: mpsc::UnboundedReceiver<Vec<u8>>,
}

async fn server(answer: Answer, after: After) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let (tx, closed) = mpsc::unbounded_channel();
    let (req_tx, requests) = mpsc::unbounded_channel();
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            count.fetch_add(1, SeqCst);
            tokio::spawn(serve_conn(sock, answer, after, tx.clone(), req_tx.clone()));
        }
    });
    Server { url, connections, closed, requests }
}

async fn serve_conn(
    mut sock: TcpStream,
    answer: Answer,
    after: After,
    closed: mpsc::UnboundedSender<()>,
    requests: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut buf = Vec::new();
    loop {
        // Read one request (head and Content-Length body).
        let mut chunk = [0u8; 4096];
        let request_end = loop {
            if let Some(end) = request_len(&buf) {
                break end;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    let _ = closed.send(());
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let _ = requests.send(buf.drain(..request_end).collect());
        let mut out =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        let event = |i: usize| format!("data: {{\"i\":{i}}}\n\n");
        match answer {
            Answer::Raw(bytes) => {
                if sock.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Answer::Burst(n) => {
                for i in 0..n {
                    let e = event(i);
                    out.extend_from_slice(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes());
                }
                out.extend_from_slice(b"0\r\n\r\n");
                if sock.write_all(&out).await.is_err() {
                    return;
                }
            }
            Answer::Stall => {
                let e = event(0);
                out.extend_from_slice(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes());
                let _ = sock.write_all(&out).await;
                // Wait for the client to go away.
                let _ = sock.read(&mut chunk).await;
                let _ = closed.send(());
                return;
            }
        }
        if let After::Close = after {
            return;
        }
    }
}

/// Length of the first complete request in `buf` (head plus Content-Length body), if any.
fn request_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_ascii_lowercase();
    let body: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap_or(0))
        .unwrap_or(0);
    (buf.len() >= head_end + body).then_some(head_end + body)
}

fn post(url: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"model\":\"m\"}")))
        .unwrap()
}

async fn read_all(client: &BackendHttp, url: &str) -> String {
    let resp = client.request(post(url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn answers_arrive_whole_and_connections_are_reused() {
    let s = server(Answer::Burst(50), After::KeepAlive).await;
    let client = BackendHttp::new(&s.url).unwrap();
    for _ in 0..5 {
        let body = read_all(&client, &s.url).await;
        assert_eq!(body.matches("data: ").count(), 50, "{body}");
        assert!(body.ends_with("data: {\"i\":49}\n\n"));
    }
    assert_eq!(s.connections.load(SeqCst), 1, "five requests, one kept-alive connection");
}

#[tokio::test]
async fn dropping_an_answer_midway_closes_its_connection() {
    let mut s = server(Answer::Stall, After::KeepAlive).await;
    let client = BackendHttp::new(&s.url).unwrap();
    let resp = client.request(post(&s.url)).await.unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(body);
    // The backend sees the disconnect (that is how it learns to stop generating).
    tokio::time::timeout(Duration::from_secs(5), s.closed.recv()).await.expect("the server saw the close").unwrap();
    // And the next request does not reuse it.
    let _resp = client.request(post(&s.url)).await.unwrap();
    assert_eq!(s.connections.load(SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced() {
    let s = server(Answer::Burst(3), After::Close).await;
    let client = BackendHttp::new(&s.url).unwrap();
    assert_eq!(read_all(&client, &s.url).await.matches("data: ").count(), 3);
    // The pooled connection is now closed by the server; the next request still succeeds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(read_all(&client, &s.url).await.matches("data: ").count(), 3);
    assert_eq!(s.connections.load(SeqCst), 2);
}

#[tokio::test]
async fn unreachable_and_bad_urls_are_clear_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = BackendHttp::new(&url).unwrap();
    match client.request(post(&url)).await {
        Err(BackendHttpError::Connect(addr, _)) => assert_eq!(addr, format!("127.0.0.1:{port}")),
        other => panic!("expected a connect error, got {:?}", other.map(|r| r.status())),
    }
    assert!(matches!(BackendHttp::new("https://127.0.0.1:1"), Err(BackendHttpError::BadUrl(..))));
    assert!(matches!(BackendHttp::new("not a url"), Err(BackendHttpError::BadUrl(..))));
}

#[tokio::test]
async fn the_request_goes_out_as_one_well_formed_message() {
    let mut s = server(Answer::Burst(1), After::KeepAlive).await;
    let client = BackendHttp::new(&s.url).unwrap();
    read_all(&client, &s.url).await;
    let req = String::from_utf8(s.requests.recv().await.unwrap()).unwrap();
    let host = s.url.trim_start_matches("http://");
    assert_eq!(
        req,
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{{\"model\":\"m\"}}"
        )
    );
}

#[tokio::test]
async fn a_content_length_answer_arrives_whole_and_its_connection_is_reused() {
    let s = server(Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"), After::KeepAlive).await;
    let client = BackendHttp::new(&s.url).unwrap();
    for _ in 0..3 {
        assert_eq!(read_all(&client, &s.url).await, "{\"ok\":true}");
    }
    assert_eq!(s.connections.load(SeqCst), 1);
}

#[tokio::test]
async fn a_malformed_chunk_fails_the_body_and_its_connection_is_not_reused() {
    let s = server(
        Answer::Raw(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"),
        After::KeepAlive,
    )
    .await;
    let client = BackendHttp::new(&s.url).unwrap();
    for round in 1..=2 {
        let resp = client.request(post(&s.url)).await.unwrap();
        let err = resp.into_body().collect().await.map(|_| ()).expect_err("a bad chunk size must fail the body");
        assert!(err.to_string().contains("chunk size"), "{err}");
        assert_eq!(s.connections.load(SeqCst), round, "a failed connection is never reused");
    }
}

#[tokio::test]
async fn a_backend_that_dies_mid_answer_or_answers_garbage_gets_a_clear_error() {
    // Half a chunk, then the connection closes.
    let s = server(Answer::Raw(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nhalf"), After::Close).await;
    let client = BackendHttp::new(&s.url).unwrap();
    let resp = client.request(post(&s.url)).await.unwrap();
    let err = resp.into_body().collect().await.map(|_| ()).expect_err("a cut answer must fail");
    assert!(err.to_string().contains("closed before the body's end"), "{err}");
    // Not HTTP at all.
    let s = server(Answer::Raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), After::KeepAlive).await;
    let client = BackendHttp::new(&s.url).unwrap();
    match client.request(post(&s.url)).await {
        Err(BackendHttpError::Head(e)) => assert!(e.to_string().contains("malformed answer head"), "{e}"),
        other => panic!("expected a head error, got {:?}", other.map(|r| r.status())),
    }
}
