//! Framing of the worker's status stream: length-delimited JSON frames.
//!
//! A worker answers the proxy's long-lived `WORKER_EVENTS` request with one [`WorkerStatus`]
//! frame per change. The framing is tokio-util's length-delimited codec (4-byte big-endian
//! length) with a small maximum frame size, so a peer cannot make us buffer without bound.

use crate::messages::WorkerStatus;
use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Largest status frame we accept.
pub const MAX_EVENT_FRAME: usize = 16 * 1024;

/// Encodes and decodes [`WorkerStatus`] frames.
pub struct EventCodec {
    inner: LengthDelimitedCodec,
}

impl Default for EventCodec {
    fn default() -> Self {
        Self { inner: LengthDelimitedCodec::builder().max_frame_length(MAX_EVENT_FRAME).new_codec() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event framing: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed worker status event: {0}")]
    Json(#[from] serde_json::Error),
}

impl EventCodec {
    /// Encodes one status as a complete frame (length prefix included).
    pub fn frame(status: &WorkerStatus) -> Result<Bytes, EventError> {
        let mut buf = BytesMut::new();
        EventCodec::default().encode(status.clone(), &mut buf)?;
        Ok(buf.freeze())
    }
}

impl Encoder<WorkerStatus> for EventCodec {
    type Error = EventError;
    fn encode(&mut self, item: WorkerStatus, dst: &mut BytesMut) -> Result<(), EventError> {
        let json = serde_json::to_vec(&item)?;
        self.inner.encode(Bytes::from(json), dst)?;
        Ok(())
    }
}

impl Decoder for EventCodec {
    type Item = WorkerStatus;
    type Error = EventError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<WorkerStatus>, EventError> {
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
        let mut codec = EventCodec::default();
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
        assert!(EventCodec::default().decode(&mut buf).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let mut codec = EventCodec::default();
            for _ in 0..8 {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => continue,
                    _ => break,
                }
            }
        }
    }
}
