//! HTTP/2 session settings shared by every link, and the two ways to start a session.
//!
//! The limits here are the protocol's safety rails: a maximum frame size, a bound on header
//! lists and concurrent streams, flow-control windows (back-pressure: a slow reader stops a fast
//! writer) and keep-alive pings that detect a dead peer even when no request is running.

use crate::{coalesce::Coalesce, Body, TransportError};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Session limits and timers.
pub struct H2;

impl H2 {
    /// Largest HTTP/2 frame payload we accept.
    pub const MAX_FRAME_SIZE: u32 = 64 * 1024;
    /// Largest header block (metadata headers are tiny; this only stops abuse).
    pub const MAX_HEADER_LIST: u32 = 16 * 1024;
    /// Concurrent requests on one link.
    pub const MAX_CONCURRENT_STREAMS: u32 = 4096;
    /// Per-stream flow-control window: how far a writer may run ahead of its reader.
    pub const STREAM_WINDOW: u32 = 256 * 1024;
    pub const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
    /// A ping every this long while connected...
    pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
    /// ...and the link is declared dead if it is not answered within this.
    pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
}

/// Starts the HTTP/2 client side of a session over `io`. The returned future drives the
/// connection and must be spawned; it ends when the link dies.
pub async fn h2_client<IO>(
    io: IO,
) -> Result<(SendRequest<Body>, impl std::future::Future<Output = Result<(), hyper::Error>> + Send), TransportError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(H2::KEEPALIVE_INTERVAL)
        .keep_alive_timeout(H2::KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .max_frame_size(H2::MAX_FRAME_SIZE)
        .max_header_list_size(H2::MAX_HEADER_LIST)
        .initial_stream_window_size(H2::STREAM_WINDOW)
        .initial_connection_window_size(H2::CONNECTION_WINDOW)
        .handshake(link_io(io))
        .await?;
    Ok((send, conn))
}

/// The HTTP/2 server side: a builder with the shared settings; call `serve_connection`.
pub fn h2_server() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .keep_alive_interval(H2::KEEPALIVE_INTERVAL)
        .keep_alive_timeout(H2::KEEPALIVE_TIMEOUT)
        .max_frame_size(H2::MAX_FRAME_SIZE)
        .max_header_list_size(H2::MAX_HEADER_LIST)
        .max_concurrent_streams(H2::MAX_CONCURRENT_STREAMS)
        .initial_stream_window_size(H2::STREAM_WINDOW)
        .initial_connection_window_size(H2::CONNECTION_WINDOW);
    b
}

/// A link's stream as the HTTP/2 session uses it: hyper's I/O traits over [`Coalesce`], so the
/// frames of one scheduler pass leave as one TLS write. Every HTTP/2 link, client or server
/// side, is built on this.
pub type LinkIo<T> = TokioIo<Coalesce<T>>;

/// Wraps a link's (TLS) stream for its HTTP/2 session; see [`LinkIo`].
pub fn link_io<T: AsyncRead + AsyncWrite + Unpin>(io: T) -> LinkIo<T> {
    TokioIo::new(Coalesce::new(io))
}
