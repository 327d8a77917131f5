//! Error type for the voucher crate.
//!
//! Every way a voucher can be malformed, forged, misdirected or stale has its own variant, so callers (the
//! client and worker books, the proxy) can tell "the proxy sent garbage" from "the proxy tried to pay me
//! less than before" from "my disk failed" without parsing messages.

use thiserror::Error;

use crate::address::TonAddress;

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
    /// An address in a voucher or message body is not the one accepted form (`addr_std`, no anycast),
    /// or its text form does not parse.
    #[error("voucher address: {0}")]
    BadAddress(String),
    /// The Ed25519 signature does not verify under the expected proxy key.
    #[error("bad voucher signature")]
    BadSignature,
    /// The 32 bytes given as a proxy key are not a valid Ed25519 public key.
    #[error("invalid proxy public key")]
    InvalidKey,
    /// A wallet was given a voucher from a proxy whose book it has not opened.
    #[error("no voucher book is open for this proxy")]
    UnknownProxy,
    /// The voucher is of another kind than the book takes (e.g. a client charge offered to a worker book).
    #[error("voucher of the wrong kind")]
    WrongKind,
    /// The voucher is for another contract than the one the book is pinned to.
    #[error("voucher for contract {got}, this book holds vouchers for {expected}")]
    WrongContract {
        /// The contract the book is pinned to.
        expected: TonAddress,
        /// The contract the rejected voucher names.
        got: TonAddress,
    },
    /// The cumulative token count went down: the proxy tried to pay (or charge) less than it already signed.
    #[error("voucher tokens not monotonic: latest {latest}, got {got}")]
    NotMonotonic {
        /// Tokens of the latest accepted voucher.
        latest: u64,
        /// Tokens of the rejected voucher.
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
