//! Pieces of data gathered into one: the first kept as it is (no copy when it travels alone),
//! the next ones merged into one buffer. The relay at every hop and the worker's backend-body
//! decoder gather what is ready this way, so a burst of small chunks leaves as one frame.

use bytes::{Bytes, BytesMut};

/// Room reserved when a merge starts: a typical burst at once, not a dozen regrowths.
const MERGE_RESERVE: usize = 16 * 1024;

/// Data gathered and not yet taken (see the module docs).
#[derive(Debug, Default)]
pub struct Gather {
    /// The first piece as is...
    first: Option<Bytes>,
    /// ...and, once a second one arrives, all of them merged.
    merged: BytesMut,
}

impl Gather {
    /// Adds `data` after what is held.
    pub fn push(&mut self, data: Bytes) {
        match self.first.take() {
            None if self.merged.is_empty() => self.first = Some(data),
            first => {
                if let Some(f) = first {
                    self.merged.reserve(MERGE_RESERVE.max(f.len() + data.len()));
                    self.merged.extend_from_slice(&f);
                }
                self.merged.extend_from_slice(&data);
            }
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.merged.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All that is held, as one piece; `None` when nothing is.
    pub fn take(&mut self) -> Option<Bytes> {
        match self.first.take() {
            Some(only) => Some(only),
            None if self.merged.is_empty() => None,
            None => Some(self.merged.split().freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_piece_travels_as_is_and_several_as_one() {
        let mut g = Gather::default();
        assert_eq!(g.take(), None);
        let one = Bytes::from_static(b"alone");
        g.push(one.clone());
        let taken = g.take().unwrap();
        assert_eq!(taken.as_ptr(), one.as_ptr(), "a lone piece is not copied");
        for p in [&b"ab"[..], b"cd", b"ef"] {
            g.push(Bytes::copy_from_slice(p));
        }
        assert_eq!(g.len(), 6);
        assert_eq!(g.take().as_deref(), Some(&b"abcdef"[..]));
        assert!(g.is_empty());
        assert_eq!(g.take(), None);
    }
}
