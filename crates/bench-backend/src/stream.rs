//! The body of a streamed response, and how its fate is recorded.
//!
//! A hand-written [`Stream`] walks through the pre-rendered events (no task or
//! channel per request). A guard inside it notices when the HTTP layer drops
//! the stream before the end, which is how tests observe that a cancelled
//! client request really stopped generation at the backend.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::time::Sleep;

use crate::response::{StreamParts, DONE};
use crate::stats::Stats;

/// Counts a stream as completed, or as cancelled if dropped unfinished.
struct CancelGuard {
    stats: Arc<Stats>,
    finished: bool,
}

impl CancelGuard {
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.stats.stream_completed();
        }
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.stats.stream_cancelled();
        }
    }
}

/// SSE events: `chunks` content events, the stop event, the optional usage
/// event, then `[DONE]`.
pub(crate) struct ChunkStream {
    parts: StreamParts,
    chunks: usize,
    next: usize,
    total: usize,
    delay: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Yield to the runtime between events, so the HTTP layer writes and flushes each one
    /// before the next is made (hyper flushes whenever the body is not ready).
    flush: bool,
    /// Whether the yield before event `next` has been done.
    yielded: bool,
    guard: CancelGuard,
}

impl ChunkStream {
    /// A stream of `chunks` content events, `delay` apart when set, each flushed on its own when
    /// `flush`; counts itself in `stats` as started now, and as completed or cancelled when it
    /// ends.
    pub fn new(parts: StreamParts, chunks: usize, delay: Option<Duration>, flush: bool, stats: Arc<Stats>) -> Self {
        stats.stream_started();
        let total = chunks + 2 + usize::from(parts.usage.is_some());
        Self {
            parts,
            chunks,
            next: 0,
            total,
            delay,
            sleep: None,
            flush,
            yielded: false,
            guard: CancelGuard { stats, finished: false },
        }
    }

    fn item(&self, i: usize) -> Bytes {
        match i {
            0 if self.chunks > 0 => self.parts.first.clone(),
            i if i < self.chunks => self.parts.middle.clone(),
            i if i == self.chunks => self.parts.last.clone(),
            i if i == self.chunks + 1 && self.parts.usage.is_some() => self.parts.usage.clone().unwrap_or_default(),
            _ => Bytes::from_static(DONE),
        }
    }
}

impl Stream for ChunkStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.next >= this.total {
            return Poll::Ready(None);
        }
        // Pause between content chunks, not before the first one.
        if let Some(delay) = this.delay {
            if this.next > 0 && this.next < this.chunks {
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
        }
        // Not ready once before every event but the first: the HTTP layer flushes what it has.
        if this.flush && this.next > 0 && !this.yielded {
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.yielded = false;
        let item = this.item(this.next);
        this.next += 1;
        if this.next == this.total {
            this.guard.finish();
        }
        Poll::Ready(Some(Ok(item)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.next;
        (left, Some(left))
    }
}
