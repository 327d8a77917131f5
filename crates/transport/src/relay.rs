//! A body that relays another body frame by frame while something watches it.
//!
//! Every hop streams a response it does not own: the worker relays its backend, the proxy
//! relays a worker, the client relays a proxy. Each needs the same things around the bytes:
//! count them, enforce the hop's deadline, turn an upstream failure into a clean ending, and
//! notice when the downstream reader goes away (dropping the relay drops the upstream body,
//! which cancels the request at the next hop). [`Relay`] does the mechanics once; each hop
//! supplies an [`Observer`] with its own accounting.

use crate::{Body, BoxError};
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

/// Relays `inner` to the reader, reporting to `O`.
pub struct Relay<O: Observer> {
    inner: Body,
    observer: O,
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl<O: Observer> Relay<O> {
    /// Relays `inner` until it ends or `timeout` (from now) passes.
    pub fn new(inner: Body, observer: O, timeout: Option<Duration>) -> Self {
        Self {
            inner,
            observer,
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep_until(Instant::now() + t))),
            timeout: timeout.unwrap_or_default(),
            trailers: None,
            done: false,
        }
    }

    pub fn boxed(self) -> Body {
        http_body_util::BodyExt::boxed_unsync(self)
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
        if let Some(d) = this.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                let msg = format!("request timed out after {:.1}s", this.timeout.as_secs_f64());
                return this.finish(Some(OutcomeError { code: "timeout".into(), message: msg }));
            }
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.observer.on_data(&data);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            this.trailers = Some(t);
                        }
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    let err = OutcomeError {
                        code: "upstream_failed".into(),
                        message: format!("upstream failed mid-stream: {e}"),
                    };
                    return this.finish(Some(err));
                }
                Poll::Ready(None) => return this.finish(None),
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
