//! Error type for the voucher crate.
//!
//! Every way a voucher can be malformed, forged, misdirected or stale has its own variant, so callers (the
//! client and worker books, the proxy) can tell "the proxy sent garbage" from "the proxy tried to pay me
//! less than before" from "my disk failed" without parsing messages.

use thiserror::Error;

/// Everything that can go wrong building, parsing, verifying or storing a voucher.
#[derive(Debug, Error)]
pub enum VoucherError {
    /// Building or reading a TON cell failed (layout does not match, wrong sizes, trailing data...).
    #[error("voucher cell: {0}")]
    Cell(String),
    /// The bag of cells envelope is malformed (bad magic, checksum, lengths, indices...).
    #[error("voucher bag of cells: {0}")]
    Boc(String),
    /// The voucher's first 32 bits are not one of the known op codes.
    #[error("unknown voucher op {0:#010x}")]
    UnknownOp(u32),
    /// The amount does not fit the range this crate handles (u64 nanotons).
    #[error("voucher amount out of range: {0}")]
    AmountOutOfRange(String),
    /// The Ed25519 signature does not verify under the expected proxy key.
    #[error("bad voucher signature")]
    BadSignature,
    /// The 32 bytes given as a proxy key are not a valid Ed25519 public key.
    #[error("invalid proxy public key")]
    InvalidKey,

    #[error("no voucher book is open for this proxy")]
    UnknownProxy,
    /// The voucher is of the other kind (a client charge offered to a worker book or vice versa).
    #[error("voucher of the wrong kind")]
    WrongKind,
    /// The voucher names another account than the book's own.
    #[error("voucher for another account")]
    WrongAccount,
    /// The cumulative amount went down: the proxy tried to pay less (or charge less) than it already signed.
    #[error("voucher amount not monotonic: latest {latest}, got {got}")]
    NotMonotonic {
        /// Amount of the latest accepted voucher.
        latest: u64,
        /// Amount of the rejected voucher.
        got: u64,
    },
    /// Reading or writing the book file failed.
    #[error("voucher book i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The book file exists but its content is not a valid book.
    #[error("corrupt voucher book: {0}")]
    Corrupt(String),
    /// The base64 text of a voucher does not decode.
    #[error("voucher base64: {0}")]
    Base64(#[from] base64::DecodeError),
}
