//! A backend answer's body, read and decoded from its connection as it is polled.

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::{
    pin::Pin,
    sync::Weak,
    task::{Context, Poll},
};
use tokio::net::TcpStream;

use super::decode::{BodyDecoder, DecodeError};
use super::Pool;

/// Bytes read from the socket at a time (at least).
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// An open connection to the backend and what was read on it and not yet used.
pub(super) struct Conn {
    pub tcp: TcpStream,
    pub buf: BytesMut,
}

/// Why an answer's body failed midway.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("backend answer: {0}")]
    Decode(#[from] DecodeError),
    #[error("reading the backend's answer: {0}")]
    Io(std::io::Error),
}

/// A backend answer's body. Each poll decodes what the connection already holds and reads
/// more only when that is not enough; the data of consecutive chunks leaves as one frame.
/// Read to its end, the connection goes back to the pool (when the answer allows it);
/// dropped before, it is closed, which is how HTTP/1 cancels a request.
pub struct PooledBody {
    conn: Option<Conn>,
    decoder: BodyDecoder,
    keep_alive: bool,
    pool: Weak<Pool>,
}

impl PooledBody {
    pub(super) fn new(conn: Conn, decoder: BodyDecoder, keep_alive: bool, pool: Weak<Pool>) -> Self {
        let mut body = Self { conn: Some(conn), decoder, keep_alive, pool };
        if body.decoder.is_done() {
            body.release();
        }
        body
    }

    /// The body has ended: the connection goes back to the pool if it may carry another
    /// request (nothing unexpected after the answer), else it is closed.
    fn release(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.keep_alive && conn.buf.is_empty() {
            if let Some(pool) = self.pool.upgrade() {
                pool.put(conn);
            }
        }
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(e)))
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut conn.buf) {
                Err(e) => return this.fail(e.into()),
                Ok(Some(data)) => {
                    if this.decoder.is_done() {
                        this.release();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(None) if this.decoder.is_done() => {
                    this.release();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            conn.buf.reserve(READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut conn.tcp), cx, &mut conn.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return this.fail(BodyError::Io(e)),
                Poll::Ready(Ok(0)) => {
                    // A body delimited by the close ends here; any other is cut short.
                    this.conn = None;
                    return match this.decoder.eof() {
                        Ok(()) => Poll::Ready(None),
                        Err(e) => Poll::Ready(Some(Err(e.into()))),
                    };
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
