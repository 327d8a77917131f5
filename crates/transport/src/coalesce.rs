//! Writes of one scheduler pass, sent together: the layer between HTTP/2 and TLS on every link.
//!
//! The h2 crate flushes its connection after each large DATA frame and at the end of every
//! poll. A streamed answer then crossed each hop as three TLS records and three `writev`
//! calls: its HEADERS, its DATA and its trailers, each the moment it was ready. [`Coalesce`]
//! keeps what is written in one buffer, and the first flush of a batch does not write:
//! it wakes the task and returns, so that frames readied in the same pass of the scheduler
//! (the trailers after the data, other streams' frames) join the batch. The next flush, from
//! the same poll or the next one, writes the batch as one. That costs one pass of the run
//! queue, never a timer.
//!
//! A batch is bounded: past [`MAX_BATCH`] bytes a write first sends what is held, so a fast
//! writer is held back by the socket as before.
//!
//! Only for a driver that flushes on every poll, as h2's connection does: a flush put off
//! counts on the next poll to flush again. A caller that flushed once and then only waited to
//! read would wait forever.

use std::{
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::page_offset_buf::PageOffsetBuf;

/// Most bytes held before a write must first send them.
pub const MAX_BATCH: usize = 64 * 1024;

/// Buffer capacity kept between batches; a larger one is freed once sent (an idle link then
/// holds no more than this).
const KEEP_CAPACITY: usize = 64 * 1024;

/// An I/O stream whose writes are gathered and sent once per scheduler pass (see the module
/// docs). Reads pass straight through.
pub struct Coalesce<T> {
    inner: T,
    /// The batch. rustls copies it into its records: its alignment matters (see
    /// [`PageOffsetBuf`]).
    buf: PageOffsetBuf,
    /// Bytes of `buf` already sent.
    sent: usize,
    /// Whether a flush of the current batch has already been put off once.
    deferred: bool,
}

impl<T> Coalesce<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self { inner, buf: PageOffsetBuf::default(), sent: 0, deferred: false }
    }
}

impl<T: AsyncWrite + Unpin> Coalesce<T> {
    /// Sends everything held.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf.as_slice()[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.sent = 0;
        self.deferred = false;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf.release();
        } else {
            self.buf.clear();
        }
        Poll::Ready(Ok(()))
    }

    /// Makes room for a write: sends the batch first when it is full.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.buf.len() >= MAX_BATCH {
            return self.poll_send(cx);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesce<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesce<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_room(cx))?;
        let n = data.len().min(MAX_BATCH - this.buf.len());
        this.buf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_room(cx))?;
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(MAX_BATCH - this.buf.len());
            this.buf.extend_from_slice(&b[..take]);
            n += take;
            if take < b.len() {
                break;
            }
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.buf.len() > this.sent {
            if !this.deferred {
                // Put the batch off for one pass: the task runs again right after the others.
                this.deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_send(cx))?;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    /// A writer that records every write it is given and can refuse to take more.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        full: Arc<Mutex<bool>>,
        shut: Arc<Mutex<bool>>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            if *self.full.lock().unwrap() {
                return Poll::Pending;
            }
            self.writes.lock().unwrap().push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            *self.shut.lock().unwrap() = true;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_second_flush_of_a_batch_sends_it_as_one_write() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        io.write_all(b"HEADERS").await.unwrap();
        io.write_all(b"DATA").await.unwrap();
        io.flush().await.unwrap();
        assert!(rec.writes.lock().unwrap().is_empty(), "the first flush is put off");
        io.write_all(b"TRAILERS").await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(*rec.writes.lock().unwrap(), vec![b"HEADERSDATATRAILERS".to_vec()]);
        // An empty batch writes nothing.
        io.flush().await.unwrap();
        assert_eq!(rec.writes.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_put_off_flush_wakes_its_task() {
        let mut io = Coalesce::new(Recorder::default());
        io.write_all(b"x").await.unwrap();
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = waker_fn(woken.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        assert!(woken.load(std::sync::atomic::Ordering::SeqCst), "the driver must come back to flush");
    }

    #[tokio::test]
    async fn a_full_batch_is_sent_before_more_is_taken() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        let big = vec![7u8; MAX_BATCH];
        io.write_all(&big).await.unwrap();
        assert!(rec.writes.lock().unwrap().is_empty());
        *rec.full.lock().unwrap() = true;
        // The socket takes nothing: the next write waits instead of growing the batch.
        let more = poll_fn(|cx| Poll::Ready(Pin::new(&mut io).poll_write(cx, b"more"))).await;
        assert!(more.is_pending());
        *rec.full.lock().unwrap() = false;
        io.write_all(b"more").await.unwrap();
        assert_eq!(rec.writes.lock().unwrap().concat().len(), MAX_BATCH);
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_held_first() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        io.write_all(b"GOAWAY").await.unwrap();
        io.shutdown().await.unwrap();
        assert_eq!(*rec.writes.lock().unwrap(), vec![b"GOAWAY".to_vec()]);
        assert!(*rec.shut.lock().unwrap());
    }

    fn waker_fn(flag: Arc<std::sync::atomic::AtomicBool>) -> std::task::Waker {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        std::task::Waker::from(Arc::new(Flag(flag)))
    }
}
