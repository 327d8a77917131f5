//! A body that relays another body frame by frame while something watches it.
//!
//! Every hop streams a response it does not own: the worker relays its backend, the proxy
//! relays a worker, the client relays a proxy. Each needs the same things around the bytes:
//! count them, enforce the hop's deadline, turn an upstream failure into a clean ending, and
//! notice when the downstream reader goes away (dropping the relay drops the upstream body,
//! which cancels the request at the next hop). [`Relay`] does the mechanics once; each hop
//! supplies an [`Observer`] with its own accounting.

use crate::{gather::Gather, Body, BoxError};
use bytes::Bytes;
use cocoon_proto::outcome::OutcomeError;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::time::{Instant, Sleep};

/// Per-hop hooks. Dropping the observer without `on_end` having run means the reader left.
pub trait Observer: Send + Unpin + 'static {
    /// Sees every data frame on its way through.
    fn on_data(&mut self, _data: &Bytes) {}

    /// Called exactly once when the relay ends: with the upstream's trailers if it finished,
    /// or with why it did not. Returns the last frame to send downstream (trailers, or a final
    /// data frame for readers that cannot take trailers), if any.
    fn on_end(&mut self, upstream_trailers: Option<HeaderMap>, error: Option<OutcomeError>) -> Option<Frame<Bytes>>;
}

/// Most bytes merged into one outgoing frame.
pub const COALESCE_MAX: usize = 32 * 1024;

/// Relays `inner` to the reader, reporting to `O`.
///
/// Data that is already available is merged into one outgoing frame (up to [`COALESCE_MAX`]):
/// a burst of small SSE chunks then crosses each hop as one HTTP/2 frame and one TLS record
/// instead of dozens; the bytes are exactly the same. Every upstream hands over at once what it
/// has: HTTP/2 streams have their frames buffered by the connection, and the worker's backend
/// connection is driven by its own body (`cocoon_worker::backend_http`). (Yielding once before
/// sending, to let a producer task add more, was measured and gained nothing once those held.)
pub struct Relay<O: Observer> {
    inner: Body,
    observer: O,
    /// When the hop gives up, and a timer that wakes us then if we are waiting.
    deadline: Option<(Instant, Pin<Box<Sleep>>)>,
    timeout: Duration,
    trailers: Option<HeaderMap>,
    /// Data read but not yet sent.
    held: Gather,
    /// The upstream ended (with this error, if any) while data was held; finish after sending it.
    upstream_end: Option<Option<OutcomeError>>,
    done: bool,
}

impl<O: Observer> Relay<O> {
    /// Relays `inner` until it ends or `timeout` (from now) passes.
    pub fn new(inner: Body, observer: O, timeout: Option<Duration>) -> Self {
        Self {
            inner,
            observer,
            deadline: timeout.map(|t| {
                let at = Instant::now() + t;
                (at, Box::pin(tokio::time::sleep_until(at)))
            }),
            timeout: timeout.unwrap_or_default(),
            trailers: None,
            held: Gather::default(),
            upstream_end: None,
            done: false,
        }
    }

    /// This relay as the boxed [`Body`] every hop sends.
    pub fn boxed(self) -> Body {
        http_body_util::BodyExt::boxed_unsync(self)
    }

    fn timed_out(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let msg = format!("request timed out after {:.1}s", self.timeout.as_secs_f64());
        self.finish(Some(OutcomeError { code: "timeout".into(), message: msg }))
    }

    /// The upstream is done: send what is held first, then finish.
    fn end_upstream(&mut self, error: Option<OutcomeError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.held.is_empty() {
            return self.finish(error);
        }
        self.upstream_end = Some(error);
        self.send_held()
    }

    fn send_held(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(Some(Ok(Frame::data(self.held.take().unwrap_or_default()))))
    }

    fn finish(&mut self, error: Option<OutcomeError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        let trailers = self.trailers.take();
        Poll::Ready(self.observer.on_end(trailers, error).map(Ok))
    }
}

impl<O: Observer> HttpBody for Relay<O> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // A clock read per poll; the timer itself is only armed below, before a real wait.
        if this.deadline.as_ref().is_some_and(|(at, _)| Instant::now() >= *at) {
            return this.timed_out();
        }
        if let Some(end) = this.upstream_end.take() {
            return this.finish(end);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.observer.on_data(&data);
                        this.held.push(data);
                        if this.held.len() >= COALESCE_MAX {
                            return this.send_held();
                        }
                    }
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            this.trailers = Some(t);
                        }
                    }
                },
                Poll::Ready(Some(Err(e))) => return this.end_upstream(Some(upstream_failed(e))),
                Poll::Ready(None) => return this.end_upstream(None),
                Poll::Pending if this.held.is_empty() => {
                    if let Some((_, timer)) = this.deadline.as_mut() {
                        if timer.as_mut().poll(cx).is_ready() {
                            return this.timed_out();
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Pending => return this.send_held(),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn upstream_failed(e: BoxError) -> OutcomeError {
    OutcomeError { code: "upstream_failed".into(), message: format!("upstream failed mid-stream: {e}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::full;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    #[derive(Default, Clone)]
    struct Seen(Arc<Mutex<(usize, Option<String>, bool)>>);

    impl Observer for Seen {
        fn on_data(&mut self, d: &Bytes) {
            self.0.lock().unwrap().0 += d.len();
        }
        fn on_end(&mut self, _t: Option<HeaderMap>, e: Option<OutcomeError>) -> Option<Frame<Bytes>> {
            let mut g = self.0.lock().unwrap();
            g.1 = e.map(|e| e.code);
            g.2 = true;
            Some(Frame::data(Bytes::from_static(b"END")))
        }
    }

    #[tokio::test]
    async fn counts_and_appends_final_frame() {
        let seen = Seen::default();
        let out = Relay::new(full("hello"), seen.clone(), None).collect().await.unwrap().to_bytes();
        assert_eq!(&out[..], b"helloEND");
        let g = seen.0.lock().unwrap();
        assert_eq!((g.0, g.1.clone(), g.2), (5, None, true));
    }

    #[tokio::test]
    async fn merges_ready_frames_without_changing_bytes() {
        let parts: Vec<Result<Frame<Bytes>, BoxError>> =
            (0..50).map(|i| Ok(Frame::data(Bytes::from(format!("chunk-{i};"))))).collect();
        let expected: String = (0..50).map(|i| format!("chunk-{i};")).collect();
        let seen = Seen::default();
        let body = BodyExt::boxed_unsync(http_body_util::StreamBody::new(futures::stream::iter(parts)));
        let mut relay = Relay::new(body, seen.clone(), None);
        let mut frames = 0;
        let mut out = Vec::new();
        while let Some(f) = relay.frame().await {
            frames += 1;
            out.extend_from_slice(&f.unwrap().into_data().unwrap());
        }
        assert_eq!(String::from_utf8(out).unwrap(), format!("{expected}END"));
        assert_eq!(frames, 2, "all ready chunks merged into one frame, then the final frame");
        assert_eq!(seen.0.lock().unwrap().0, expected.len());
    }

    #[tokio::test]
    async fn an_error_after_merged_data_still_ends_the_relay() {
        let parts: Vec<Result<Frame<Bytes>, BoxError>> = vec![
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Ok(Frame::data(Bytes::from_static(b"b"))),
            Err("boom".into()),
        ];
        let seen = Seen::default();
        let body = BodyExt::boxed_unsync(http_body_util::StreamBody::new(futures::stream::iter(parts)));
        let out = Relay::new(body, seen.clone(), None).collect().await.unwrap().to_bytes();
        assert_eq!(&out[..], b"abEND");
        assert_eq!(seen.0.lock().unwrap().1.as_deref(), Some("upstream_failed"));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_ends_a_stalled_stream() {
        let stalled = http_body_util::StreamBody::new(futures::stream::pending::<Result<Frame<Bytes>, BoxError>>());
        let seen = Seen::default();
        let relay = Relay::new(BodyExt::boxed_unsync(stalled), seen.clone(), Some(Duration::from_secs(3)));
        let out = relay.collect().await.unwrap().to_bytes();
        assert_eq!(&out[..], b"END");
        assert_eq!(seen.0.lock().unwrap().1.as_deref(), Some("timeout"));
    }
}
