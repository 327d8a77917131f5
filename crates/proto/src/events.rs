//! Framing of long-lived event streams: length-delimited JSON frames.
//!
//! A worker answers the proxy's long-lived `WORKER_EVENTS` request with one [`WorkerStatus`]
//! frame per change; a proxy answers a client's `VOUCHERS` request with one
//! [`crate::VoucherEvent`] per committed voucher. The framing is tokio-util's length-delimited codec (4-byte big-endian
//! length) with a small maximum frame size, so a peer cannot make us buffer without bound.

use crate::messages::WorkerStatus;
use bytes::{Bytes, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use std::marker::PhantomData;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Largest status frame we accept.
pub const MAX_EVENT_FRAME: usize = 16 * 1024;

/// Encodes and decodes frames of `T` (by default [`WorkerStatus`]).
pub struct EventCodec<T = WorkerStatus> {
    inner: LengthDelimitedCodec,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for EventCodec<T> {
    fn default() -> Self {
        Self {
            inner: LengthDelimitedCodec::builder().max_frame_length(MAX_EVENT_FRAME).new_codec(),
            _item: PhantomData,
        }
    }
}

/// Why an event frame could not be read or written: broken framing or bad JSON.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event framing: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed event: {0}")]
    Json(#[from] serde_json::Error),
}

impl<T: Serialize> EventCodec<T> {
    /// Encodes one item as a complete frame (length prefix included).
    pub fn frame(item: &T) -> Result<Bytes, EventError> {
        let json = serde_json::to_vec(item)?;
        let mut buf = BytesMut::new();
        EventCodec::<T>::default().inner.encode(Bytes::from(json), &mut buf)?;
        Ok(buf.freeze())
    }
}

impl<T: Serialize> Encoder<T> for EventCodec<T> {
    type Error = EventError;
    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), EventError> {
        let json = serde_json::to_vec(&item)?;
        self.inner.encode(Bytes::from(json), dst)?;
        Ok(())
    }
}

impl<T: DeserializeOwned> Decoder for EventCodec<T> {
    type Item = T;
    type Error = EventError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<T>, EventError> {
        match self.inner.decode(src)? {
            Some(frame) => Ok(Some(serde_json::from_slice(&frame)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(c: u32) -> WorkerStatus {
        WorkerStatus { enabled: c.is_multiple_of(2), coefficient: c, reason: None }
    }

    #[test]
    fn round_trip_across_split_reads() {
        let mut wire = BytesMut::new();
        for c in [1000, 1500, 3] {
            wire.extend_from_slice(&EventCodec::frame(&status(c)).unwrap());
        }
        let mut codec = EventCodec::<WorkerStatus>::default();
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for b in wire.iter() {
            buf.extend_from_slice(&[*b]);
            while let Some(s) = codec.decode(&mut buf).unwrap() {
                got.push(s.coefficient);
            }
        }
        assert_eq!(got, vec![1000, 1500, 3]);
    }

    #[test]
    fn oversized_frame_is_an_error() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&((MAX_EVENT_FRAME as u32) + 1).to_be_bytes());
        assert!(EventCodec::<WorkerStatus>::default().decode(&mut buf).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let mut codec = EventCodec::<WorkerStatus>::default();
            for _ in 0..8 {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => continue,
                    _ => break,
                }
            }
        }
    }
}
