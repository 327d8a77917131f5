//! HTTP/1.1 to the backend, over a pool of keep-alive connections.
//!
//! The backend is the worker's own inference server (vLLM, SGLang, llama.cpp's server, the
//! bench backend), reached over loopback or a private network. A streamed answer from it is
//! one HTTP chunk per SSE event, and relaying those events cheaply is most of what a worker
//! does per request: hyper's client decoded them one chunk and one chunk-size byte at a time
//! and handed each chunk over separately (see [`decode`]), which cost about a quarter of the
//! worker's CPU in `cocoon bench`. So the client is ours, in three pieces:
//! - [`wire`] writes the request head and parses the answer's head with `httparse` (hyper's own
//!   parser) and decides how its body is framed (RFC 9112 §6.3);
//! - [`decode`] turns framed body bytes into data, chunk sizes parsed by `httparse` too;
//! - [`body`] is the answer's body, reading its connection as it is polled.
//!
//! A connection whose answer was read to its end goes back to the pool; one whose answer was
//! dropped midway is closed, which is how HTTP/1 cancels a request (the backend sees the
//! disconnect and stops generating). Requests are never pipelined.

pub mod body;
pub mod decode;
pub mod wire;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use body::{BodyError, PooledBody};
use body::{Conn, READ_CHUNK};
use decode::BodyDecoder;
use wire::HeadError;

/// Most idle connections kept.
const MAX_IDLE: usize = 256;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Request bodies up to this size are written together with the head, in one write.
const INLINE_BODY: usize = 64 * 1024;

/// Why a request to the backend failed before its answer's head arrived.
#[derive(Debug, thiserror::Error)]
pub enum BackendHttpError {
    /// The backend URL cannot be used.
    #[error("bad backend URL {0:?}: {1}")]
    BadUrl(String, String),
    /// The TCP connect failed or timed out.
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    /// Writing the request or reading the answer failed.
    #[error("talking to the backend: {0}")]
    Io(#[from] std::io::Error),
    /// The answer's head is not usable HTTP/1.
    #[error("{0}")]
    Head(#[from] HeadError),
    /// The connection closed before the answer's head.
    #[error("the backend closed the connection before answering")]
    Closed,
}

/// A connection waiting for its next request.
struct Idle {
    conn: Conn,
    since: Instant,
}

/// One backend's address and its idle connections, most recently used last.
pub(crate) struct Pool {
    /// `host:port`, for connecting.
    authority: String,
    /// The `Host` header.
    host: HeaderValue,
    idle: Mutex<Vec<Idle>>,
}

impl Pool {
    /// The most recently used idle connection that has not expired and that the server has
    /// not closed (or written to) while it sat idle.
    fn take(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while let Some(i) = idle.pop() {
            if now.duration_since(i.since) >= IDLE_TIMEOUT {
                continue;
            }
            let mut probe = [0u8; 1];
            match i.conn.tcp.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(i.conn),
                _ => continue,
            }
        }
        None
    }

    fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
        if idle.len() < MAX_IDLE {
            idle.push(Idle { conn, since: now });
        }
    }

    async fn connect(&self) -> Result<Conn, BackendHttpError> {
        let fail = |e: String| BackendHttpError::Connect(self.authority.clone(), e);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.authority.as_str()))
            .await
            .map_err(|_| fail(format!("timed out after {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| fail(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
        Ok(Conn { tcp, buf: BytesMut::new() })
    }
}

/// HTTP/1.1 requests to one backend (`http://host:port`), over pooled keep-alive connections.
#[derive(Clone)]
pub struct BackendHttp {
    pool: Arc<Pool>,
}

impl BackendHttp {
    /// A client for the server at `base` (`http://host:port`; a path is ignored).
    pub fn new(base: &str) -> Result<Self, BackendHttpError> {
        let bad = |e: &str| BackendHttpError::BadUrl(base.to_string(), e.to_string());
        let uri: Uri = base.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// backends are supported"));
        }
        let auth = uri.authority().ok_or_else(|| bad("no host"))?;
        let authority = format!("{}:{}", auth.host(), auth.port_u16().unwrap_or(80));
        let host = HeaderValue::from_str(auth.as_str()).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { pool: Arc::new(Pool { authority, host, idle: Mutex::new(Vec::new()) }) })
    }

    /// Sends `req` (its URI's path and query are used) and waits for the answer's head; the
    /// body streams from the connection as it is read.
    pub async fn request(&self, req: Request<Full<Bytes>>) -> Result<Response<PooledBody>, BackendHttpError> {
        let (parts, body) = req.into_parts();
        let body = body.into_inner().unwrap_or_default();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = BytesMut::new();
        wire::encode_request(&parts.method, path, &self.pool.host, &parts.headers, body.len(), &mut request);
        let inline = body.len() <= INLINE_BODY;
        if inline {
            request.extend_from_slice(&body);
        }
        // A pooled connection the server closed just as it was taken fails before any of the
        // answer arrives: the server never read the request, which then goes out once more on
        // a new connection.
        let (conn, head) = loop {
            let (conn, pooled) = match self.pool.take() {
                Some(conn) => (conn, true),
                None => (self.pool.connect().await?, false),
            };
            match exchange(conn, &request, (!inline).then_some(&body), &parts.method).await {
                Ok(done) => break done,
                Err(Exchange::Unanswered(e)) if pooled => {
                    tracing::debug!(error = %e, "pooled backend connection closed; retrying on a new one");
                }
                Err(Exchange::Unanswered(e) | Exchange::Failed(e)) => return Err(e),
            }
        };
        let mut resp = Response::new(PooledBody::new(
            conn,
            BodyDecoder::new(head.framing),
            head.keep_alive,
            Arc::downgrade(&self.pool),
        ));
        *resp.status_mut() = head.status;
        *resp.version_mut() = head.version;
        *resp.headers_mut() = head.headers;
        Ok(resp)
    }
}

/// How an exchange on one connection failed.
enum Exchange {
    /// Nothing of the answer arrived: the connection was closed or reset under the request.
    Unanswered(BackendHttpError),
    /// Anything else.
    Failed(BackendHttpError),
}

/// Writes the request (`request`: its head, and its body unless that comes as `body`) and reads
/// the answer's head.
async fn exchange(
    mut conn: Conn,
    request: &[u8],
    body: Option<&Bytes>,
    method: &http::Method,
) -> Result<(Conn, wire::Head), Exchange> {
    let unanswered = |e: std::io::Error| Exchange::Unanswered(e.into());
    conn.tcp.write_all(request).await.map_err(unanswered)?;
    if let Some(body) = body {
        conn.tcp.write_all(body).await.map_err(unanswered)?;
    }
    loop {
        match wire::parse_head(&conn.buf, method) {
            Ok(Some((head, used))) => {
                conn.buf.advance(used);
                return Ok((conn, head));
            }
            Ok(None) => {}
            Err(e) => return Err(Exchange::Failed(e.into())),
        }
        conn.buf.reserve(READ_CHUNK);
        let started = !conn.buf.is_empty();
        match conn.tcp.read_buf(&mut conn.buf).await {
            Ok(0) if started => return Err(Exchange::Failed(BackendHttpError::Closed)),
            Ok(0) => return Err(Exchange::Unanswered(BackendHttpError::Closed)),
            Ok(_) => {}
            Err(e) if started => return Err(Exchange::Failed(e.into())),
            Err(e) => return Err(unanswered(e)),
        }
    }
}
