//! Signed cumulative payment vouchers between the proxy and its clients and workers.
//!
//! The proxy settles in TON off-chain: after serving requests it signs, for each client, a voucher with the
//! total charged so far and, for each worker, one with the total earned so far. Totals only grow, so each
//! holder keeps just the latest voucher, and a later TON smart contract can check it unchanged: the voucher
//! is a TON cell and the signature is Ed25519 over its representation hash, exactly what TVM's
//! `check_signature(cell_hash(c), sig, key)` verifies.
//!
//! - [`voucher`]: the cell layout (TL-B), signing, verification, BOC and base64 encoding;
//! - [`book`]: the holder side, keeping and persisting the latest accepted voucher per proxy;
//! - [`wallet`]: a node's books, one per proxy, shared by its links;
//! - [`error`]: the error type;
//! - `boc` (private): strict bag-of-cells envelope checks that tonlib-core's parser lacks.
//!
//! Only tonlib-core's cell builder, parser and BOC code is used, never its signing or wallet code.

mod boc;
pub mod book;
pub mod error;
pub mod voucher;
pub mod wallet;

pub use book::{Accepted, VoucherBook};
pub use error::VoucherError;
pub use voucher::{SignedVoucher, Voucher, VoucherKind, OP_CLIENT_CHARGE, OP_WORKER_PAYOUT};
pub use wallet::{Held, VoucherWallet};
