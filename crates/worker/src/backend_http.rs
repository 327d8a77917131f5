//! HTTP/1 to the backend: a keep-alive pool whose connections are driven by the request that
//! uses them.
//!
//! hyper's pooled client runs each connection as a task of its own and hands the response body
//! to the reader one chunk at a time, over a channel. A streamed answer of 50 SSE events then
//! costs about a hundred task switches in the worker, which was the largest part of its CPU per
//! request in `cocoon bench`. Here a connection is polled inline: by the request's future until
//! the answer's head arrives, then by the answer's body ([`PooledBody`]). A burst of events that
//! is already in the socket is decoded and passed on within one poll.
//!
//! A connection whose answer was read to its end goes back to the pool; one whose answer was
//! dropped midway is closed, which is how HTTP/1 cancels a request (the backend sees the
//! disconnect and stops generating).

use bytes::Bytes;
use http::{header, uri::PathAndQuery, HeaderValue, Request, Response, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::{
    future::{poll_fn, Future},
    pin::Pin,
    sync::{Arc, Mutex, Weak},
    task::{Context, Poll},
    time::{Duration, Instant},
};
use tokio::net::TcpStream;

/// Most idle connections kept.
const MAX_IDLE: usize = 256;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The state machine of one HTTP/1 connection (polled by whoever uses it).
type Conn = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;
/// The handle that puts a request on a connection.
type Sender = http1::SendRequest<Full<Bytes>>;

/// Why a request to the backend failed before its answer's head arrived.
#[derive(Debug, thiserror::Error)]
pub enum BackendHttpError {
    /// The backend URL cannot be used.
    #[error("bad backend URL {0:?}: {1}")]
    BadUrl(String, String),
    /// The TCP connect failed or timed out.
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    /// HTTP/1 failed on the connection.
    #[error("{0}")]
    Http(#[from] hyper::Error),
    /// The connection closed before the answer's head.
    #[error("the backend closed the connection before answering")]
    Closed,
}

/// A live connection: the handle that sends on it and the state machine that drives it.
struct Live {
    send: Sender,
    conn: Conn,
}

/// A connection waiting for its next request.
struct Idle {
    live: Live,
    since: Instant,
}

/// One backend's address and its idle connections, most recently used last.
struct Pool {
    /// `host:port`, for connecting and for the `Host` header.
    authority: String,
    host: HeaderValue,
    idle: Mutex<Vec<Idle>>,
}

impl Pool {
    /// The most recently used idle connection that has not expired.
    fn take(&self) -> Option<Live> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT && !i.live.send.is_closed());
        idle.pop().map(|i| i.live)
    }

    fn put(&self, live: Live) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(Idle { live, since: Instant::now() });
        }
    }

    async fn connect(&self) -> Result<Live, BackendHttpError> {
        let fail = |e: String| BackendHttpError::Connect(self.authority.clone(), e);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.authority.as_str()))
            .await
            .map_err(|_| fail(format!("timed out after {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| fail(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
        let (send, conn) = http1::handshake(TokioIo::new(tcp)).await?;
        Ok(Live { send, conn })
    }
}

/// HTTP/1 requests to one backend (`http://host:port`), over pooled keep-alive connections.
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
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(path);
        parts.headers.insert(header::HOST, self.pool.host.clone());
        let mut req = Request::from_parts(parts, body);
        // A pooled connection may have been closed by the server while it sat idle: then the
        // request was not sent, and goes out once more on a new connection.
        loop {
            let (mut live, pooled) = match self.pool.take() {
                Some(live) => (live, true),
                None => (self.pool.connect().await?, false),
            };
            if let Err(e) = ready(&mut live).await {
                if pooled {
                    continue;
                }
                return Err(e);
            }
            match send(&mut live, req).await {
                Ok(resp) => {
                    let pool = Arc::downgrade(&self.pool);
                    return Ok(resp.map(|body| PooledBody { body, live: Some(live), pool }));
                }
                Err((e, Some(unsent))) if pooled => {
                    tracing::debug!(error = %e, "pooled backend connection closed; retrying on a new one");
                    req = unsent;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
}

/// Drives the connection until it can take a request.
async fn ready(live: &mut Live) -> Result<(), BackendHttpError> {
    poll_fn(|cx| {
        if let Poll::Ready(r) = live.send.poll_ready(cx) {
            return Poll::Ready(r.map_err(BackendHttpError::from));
        }
        match Pin::new(&mut live.conn).poll(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => Poll::Ready(Err(BackendHttpError::Closed)),
            Poll::Pending => live.send.poll_ready(cx).map_err(BackendHttpError::from),
        }
    })
    .await
}

/// The answer's head, or why it did not come and the request if it was never written.
type SendResult = Result<Response<Incoming>, (BackendHttpError, Option<Request<Full<Bytes>>>)>;

/// Sends `req` on the connection, driving it until the answer's head arrives.
async fn send(live: &mut Live, req: Request<Full<Bytes>>) -> SendResult {
    let Live { send, conn } = live;
    let mut answer = std::pin::pin!(send.try_send_request(req));
    let mut conn_done = false;
    poll_fn(|cx| {
        for _ in 0..2 {
            if let Poll::Ready(r) = answer.as_mut().poll(cx) {
                return Poll::Ready(r.map_err(|mut e| {
                    let unsent = e.take_message();
                    (BackendHttpError::Http(e.into_error()), unsent)
                }));
            }
            if conn_done {
                // The connection ended and hyper has not answered: it never will.
                return Poll::Ready(Err((BackendHttpError::Closed, None)));
            }
            match Pin::new(&mut *conn).poll(cx) {
                Poll::Pending => {}
                Poll::Ready(r) => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "backend connection failed");
                    }
                    conn_done = true;
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// A backend answer's body, driving its connection as it is read; the connection goes back to
/// the pool when the body has ended, and is closed if the body is dropped before.
pub struct PooledBody {
    body: Incoming,
    live: Option<Live>,
    pool: Weak<Pool>,
}

impl PooledBody {
    /// The next frame already decoded, if any; at the end the connection goes back to the
    /// pool, after a failure it is closed.
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let (Some(live), Some(pool)) = (self.live.take(), self.pool.upgrade()) {
                    pool.put(live);
                }
            }
            // The connection is in an unknown state: close it.
            Poll::Ready(Some(Err(_))) => self.live = None,
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = this.poll_body(cx) {
            return Poll::Ready(frame);
        }
        // Nothing buffered: read and decode what the socket has, then look once more (the
        // connection has registered for more when it returns Pending).
        let Some(live) = this.live.as_mut() else {
            return Poll::Pending;
        };
        if let Poll::Ready(r) = Pin::new(&mut live.conn).poll(cx) {
            if let Err(e) = r {
                tracing::debug!(error = %e, "backend connection failed mid-answer");
            }
            // Closed: the body's channel ends (or fails) and says how on this look.
            this.live = None;
        }
        this.poll_body(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
