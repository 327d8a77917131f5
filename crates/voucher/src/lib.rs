//! Signed cumulative payment vouchers between the proxy and its clients and workers, in the layout
//! the on-chain TON contracts verify.
//!
//! After serving requests the proxy signs, for each client, a voucher with the adjusted tokens
//! charged so far and, for each worker, one with the adjusted tokens earned so far. Each voucher
//! names the contract that honours it; the contract multiplies the growth by its price (or fee).
//! Counts only grow, so each holder keeps just the latest voucher, and the contract checks it
//! unchanged: the payload is a TON cell and the signature is Ed25519 over its representation hash,
//! exactly what TVM's `check_signature(cell_hash(c), sig, key)` verifies.
//!
//! - [`voucher`]: the cell layouts (TL-B), signing, verification, BOC and base64 encoding, and the
//!   message body sent to a contract;
//! - [`address`]: [`TonAddress`], the contract address a voucher names;
//! - [`book`]: the holder side, keeping and persisting the latest accepted voucher per proxy;
//! - [`wallet`]: a node's books, one per proxy, shared by its links;
//! - [`vectors`]: the test vectors shared with the contracts' own tests;
//! - [`error`]: the error type;
//! - `boc` (private): strict bag-of-cells envelope checks, run before tycho-types' decoder.
//!
//! Cells and BOCs come from tycho-types (built without default features: no block models, serde or
//! signing code); signing is ed25519-dalek.

pub mod address;
mod boc;
pub mod book;
pub mod error;
pub mod vectors;
pub mod voucher;
pub mod wallet;

pub use address::TonAddress;
pub use book::{Accepted, VoucherBook};
pub use error::VoucherError;
pub use voucher::{SignedVoucher, Voucher, VoucherKind, OP_CLIENT_CHARGE, OP_GRANT_REFUND, OP_WORKER_PAYOUT};
pub use wallet::{Held, VoucherWallet};
