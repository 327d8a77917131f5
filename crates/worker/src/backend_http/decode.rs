//! The framing of an HTTP/1 answer's body: bytes in, body data out. No I/O here; the
//! connection ([`super::body`]) feeds what it read and passes on what comes out.
//!
//! Chunk-size lines are parsed by `httparse` (hyper's own parser). Why not hyper's decoder: it
//! takes the bytes of every chunk-size line and CRLF one at a time, each as its own `Bytes`,
//! and hands each chunk over separately. A backend's SSE stream is one chunk per event, and
//! with 50 events per answer that was about a quarter of the worker's CPU in `cocoon bench`.
//! Here everything already read is decoded in one pass, and the data of consecutive chunks
//! leaves as one piece.

use bytes::{Bytes, BytesMut};
use cocoon_transport::gather::Gather;

/// Longest chunk-size line (with extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most bytes of trailer fields accepted (they are skipped).
const MAX_TRAILERS: usize = 16 * 1024;
/// Most data put into one piece from one pass.
pub const MAX_PIECE: usize = 64 * 1024;

/// How the body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (a HEAD answer, 204, 304).
    Empty,
    /// `Content-Length`: exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("chunk size line longer than {MAX_SIZE_LINE} bytes")]
    ChunkSizeTooLong,
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    #[error("trailer fields longer than {MAX_TRAILERS} bytes")]
    TrailersTooLong,
    #[error("the connection closed before the body's end")]
    Truncated,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many bytes of the current chunk's data are still to come.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: skipping trailer fields until an empty line. Holds the bytes of
    /// trailers seen so far.
    Trailers(usize),
}

/// Decoding state of one answer's body.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

/// Where a body is: the framing with what is left of it, or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Close,
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size),
            Framing::Close => State::Close,
        };
        Self { state }
    }

    /// Whether the body has ended.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of data still to come, when the framing says so.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Decodes what `buf` holds, removing what it used: returns the data found (consecutive
    /// chunks in one piece of at most [`MAX_PIECE`] bytes), or `None` when more input is
    /// needed or the body has ended. Call again until it returns `None`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        let mut out = Gather::default();
        loop {
            if out.len() >= MAX_PIECE {
                break;
            }
            match self.state {
                State::Done => break,
                State::Close => {
                    if buf.is_empty() {
                        break;
                    }
                    let take = buf.len().min(MAX_PIECE - out.len());
                    out.push(buf.split_to(take).freeze());
                }
                State::Length(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len()).min(MAX_PIECE - out.len());
                    if take == 0 {
                        break;
                    }
                    out.push(buf.split_to(take).freeze());
                    let left = left - take as u64;
                    self.state = if left == 0 { State::Done } else { State::Length(left) };
                }
                State::Chunked(chunk) => match self.chunked(chunk, buf, &mut out)? {
                    Some(next) => self.state = next,
                    None => break,
                },
            }
        }
        Ok(out.take())
    }

    /// One step of a chunked body: the next state, or `None` when more input is needed.
    fn chunked(&mut self, chunk: Chunk, buf: &mut BytesMut, out: &mut Gather) -> Result<Option<State>, DecodeError> {
        Ok(Some(match chunk {
            Chunk::Size => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    let _ = buf.split_to(used);
                    State::Chunked(if size == 0 { Chunk::Trailers(0) } else { Chunk::Data(size) })
                }
                Ok(httparse::Status::Partial) if buf.len() > MAX_SIZE_LINE => {
                    return Err(DecodeError::ChunkSizeTooLong);
                }
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(_) => return Err(DecodeError::ChunkSize),
            },
            Chunk::Data(left) => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len()).min(MAX_PIECE - out.len());
                if take == 0 {
                    return Ok(None);
                }
                out.push(buf.split_to(take).freeze());
                let left = left - take as u64;
                State::Chunked(if left == 0 { Chunk::DataEnd } else { Chunk::Data(left) })
            }
            Chunk::DataEnd => {
                if buf.len() < 2 {
                    return Ok(None);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(DecodeError::ChunkEnd);
                }
                let _ = buf.split_to(2);
                State::Chunked(Chunk::Size)
            }
            Chunk::Trailers(seen) => {
                let Some(end) = memchr::memmem::find(buf, b"\r\n") else {
                    if seen + buf.len() > MAX_TRAILERS {
                        return Err(DecodeError::TrailersTooLong);
                    }
                    return Ok(None);
                };
                let line = buf.split_to(end + 2);
                if end == 0 {
                    State::Done
                } else if seen + line.len() > MAX_TRAILERS {
                    return Err(DecodeError::TrailersTooLong);
                } else {
                    State::Chunked(Chunk::Trailers(seen + line.len()))
                }
            }
        }))
    }

    /// The connection closed: fine for a body delimited by the close, an error otherwise.
    pub fn eof(&mut self) -> Result<(), DecodeError> {
        match self.state {
            State::Close => {
                self.state = State::Done;
                Ok(())
            }
            State::Done => Ok(()),
            _ => Err(DecodeError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the data and whether the body ended.
    fn run(framing: Framing, input: &[u8], step: usize) -> Result<(Vec<u8>, bool), DecodeError> {
        let mut d = BodyDecoder::new(framing);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for part in input.chunks(step.max(1)) {
            buf.extend_from_slice(part);
            while let Some(data) = d.decode(&mut buf)? {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, d.is_done()))
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_reads() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in [1, 2, 3, 7, 64] {
            let (data, done) = run(Framing::Chunked, body, step).unwrap();
            assert_eq!(data, b"hello, world0123456789", "step {step}");
            assert!(done, "step {step}");
        }
    }

    #[test]
    fn consecutive_chunks_leave_as_one_piece() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n"[..]);
        assert_eq!(d.decode(&mut buf).unwrap().as_deref(), Some(&b"abcdefghi"[..]));
        assert!(d.is_done());
        assert_eq!(d.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn bytes_after_the_end_are_left_in_the_buffer() {
        let mut d = BodyDecoder::new(Framing::Length(3));
        let mut buf = BytesMut::from(&b"abcHTTP/1.1"[..]);
        assert_eq!(d.decode(&mut buf).unwrap().as_deref(), Some(&b"abc"[..]));
        assert!(d.is_done());
        assert_eq!(&buf[..], b"HTTP/1.1");
    }

    #[test]
    fn malformed_chunked_bodies_are_refused() {
        assert_eq!(run(Framing::Chunked, b"zz\r\n", 64).unwrap_err(), DecodeError::ChunkSize);
        assert_eq!(run(Framing::Chunked, b"3\r\nabcXY", 64).unwrap_err(), DecodeError::ChunkEnd);
        // A size that overflows 64 bits.
        assert_eq!(run(Framing::Chunked, b"fffffffffffffffff\r\n", 64).unwrap_err(), DecodeError::ChunkSize);
        let long = vec![b'1'; MAX_SIZE_LINE + 1];
        assert!(run(Framing::Chunked, &long, 64).is_err());
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b"x: y\r\n".as_slice(), MAX_TRAILERS / 6 + 2).flatten());
        assert_eq!(run(Framing::Chunked, &trailers, 100).unwrap_err(), DecodeError::TrailersTooLong);
    }

    #[test]
    fn a_huge_chunk_streams_in_bounded_pieces() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&b"ffffffff\r\n"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&vec![7u8; 3 * MAX_PIECE]);
        let mut got = 0;
        while let Some(p) = d.decode(&mut buf).unwrap() {
            assert!(p.len() <= MAX_PIECE);
            got += p.len();
        }
        assert_eq!(got, 3 * MAX_PIECE);
        assert!(!d.is_done());
    }

    #[test]
    fn the_end_of_the_connection_ends_only_a_close_delimited_body() {
        let mut d = BodyDecoder::new(Framing::Close);
        let mut buf = BytesMut::from(&b"all of it"[..]);
        assert_eq!(d.decode(&mut buf).unwrap().as_deref(), Some(&b"all of it"[..]));
        assert!(d.eof().is_ok());
        assert!(d.is_done());
        let mut d = BodyDecoder::new(Framing::Length(10));
        assert_eq!(d.eof(), Err(DecodeError::Truncated));
        let mut d = BodyDecoder::new(Framing::Chunked);
        assert_eq!(d.eof(), Err(DecodeError::Truncated));
        assert!(BodyDecoder::new(Framing::Empty).is_done());
        assert!(BodyDecoder::new(Framing::Length(0)).is_done());
    }
}
