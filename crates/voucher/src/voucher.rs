//! The voucher itself: its TON cell layout, hashing, Ed25519 signing and verification, BOC/base64 encoding.
//!
//! A voucher is the proxy's signed promise about a *cumulative* total: everything a client has been charged
//! so far, or everything a worker has earned so far. Because the total only grows, the holder needs to keep
//! just the latest one, and a lost or replayed older voucher is worth nothing extra.
//!
//! The layout is a TON cell so that a smart contract can later check a voucher unchanged with
//! `check_signature(cell_hash(voucher), signature, proxy_key)`. In TL-B:
//!
//! ```text
//! voucher#_ op:uint32 query_id:uint64 account:bits256 amount:(VarUInteger 16) = Voucher;
//! signed_voucher#_ signature:bits512 voucher:^Voucher = SignedVoucher;
//! ```
//!
//! - `op` is [`OP_CLIENT_CHARGE`] (`"clch"`) or [`OP_WORKER_PAYOUT`] (`"wkpy"`), so a charge can never be
//!   replayed as a payout;
//! - `query_id` is free for the proxy (e.g. a sequence number), it is covered by the signature;
//! - `account` is the 256-bit account id of the client or worker the voucher is about;
//! - `amount` is the cumulative total in nanotons, stored minimally (`store_coins`: 4-bit byte length then
//!   the big-endian bytes, no leading zero byte).
//!
//! The signature is Ed25519 (ed25519-dalek, byte-identical to TON's signing) over the 32-byte
//! representation hash of the voucher cell. On the wire the signed cell is serialized as a single-root bag
//! of cells with CRC32-C, and as standard base64 of those bytes in text (and in JSON through serde).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use num_bigint::BigUint;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tonlib_core::cell::{ArcCell, BagOfCells, Cell, CellBuilder, CellParser, TonCellError};

use crate::boc::check_envelope;
use crate::error::VoucherError;

/// Op code of a client charge voucher: ASCII `"clch"`.
pub const OP_CLIENT_CHARGE: u32 = 0x636c_6368;
/// Op code of a worker payout voucher: ASCII `"wkpy"`.
pub const OP_WORKER_PAYOUT: u32 = 0x776b_7079;

/// Largest number of bytes an amount can take in this crate (`u64`); `VarUInteger 16` itself allows 15.
const MAX_AMOUNT_BYTES: usize = 8;

fn cell_err(e: TonCellError) -> VoucherError {
    VoucherError::Cell(e.to_string())
}

/// Which side of the proxy a voucher is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherKind {
    /// Cumulative amount the proxy charged a client.
    ClientCharge,
    /// Cumulative amount the proxy owes a worker.
    WorkerPayout,
}

impl VoucherKind {
    /// The 32-bit op code that starts the voucher cell.
    pub const fn op(self) -> u32 {
        match self {
            VoucherKind::ClientCharge => OP_CLIENT_CHARGE,
            VoucherKind::WorkerPayout => OP_WORKER_PAYOUT,
        }
    }

    /// The kind for an op code, `None` for an unknown one.
    pub const fn from_op(op: u32) -> Option<Self> {
        match op {
            OP_CLIENT_CHARGE => Some(VoucherKind::ClientCharge),
            OP_WORKER_PAYOUT => Some(VoucherKind::WorkerPayout),
            _ => None,
        }
    }
}

/// The unsigned content of a voucher (see the module doc for its cell layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voucher {
    /// Charge or payout.
    pub kind: VoucherKind,
    /// Proxy-chosen query id, covered by the signature.
    pub query_id: u64,
    /// The client or worker account the voucher is about.
    pub account: [u8; 32],
    /// Cumulative amount in nanotons.
    pub amount: u64,
}

impl Voucher {
    /// Builds the voucher cell `op:uint32 query_id:uint64 account:bits256 amount:(VarUInteger 16)`.
    pub fn to_cell(&self) -> Result<Cell, VoucherError> {
        let mut b = CellBuilder::new();
        b.store_u32(32, self.kind.op())
            .and_then(|b| b.store_u64(64, self.query_id))
            .and_then(|b| b.store_slice(&self.account))
            .and_then(|b| b.store_coins(&BigUint::from(self.amount)))
            .map_err(cell_err)?;
        b.build().map_err(cell_err)
    }

    /// Reads a voucher cell, rejecting unknown ops, non-minimal amounts, trailing bits and any reference.
    pub fn from_cell(cell: &Cell) -> Result<Self, VoucherError> {
        if cell.is_exotic() {
            return Err(VoucherError::Cell("voucher cell is exotic".into()));
        }
        let mut p = cell.parser();
        let op = p.load_u32(32).map_err(cell_err)?;
        let kind = VoucherKind::from_op(op).ok_or(VoucherError::UnknownOp(op))?;
        let query_id = p.load_u64(64).map_err(cell_err)?;
        let mut account = [0u8; 32];
        p.load_slice(&mut account).map_err(cell_err)?;
        let amount = load_amount(&mut p)?;
        ensure_consumed(&mut p, "voucher")?;
        Ok(Voucher { kind, query_id, account, amount })
    }

    /// The cell's representation hash: what TON's `cell_hash` returns and what the signature covers.
    pub fn hash(&self) -> Result<[u8; 32], VoucherError> {
        Ok(self.to_cell()?.cell_hash().into())
    }

    /// Signs the voucher's cell hash with the proxy key.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedVoucher, VoucherError> {
        let signature = key.sign(&self.hash()?).to_bytes();
        Ok(SignedVoucher { voucher: self.clone(), signature })
    }
}

/// Reads `VarUInteger 16` as a `u64`, requiring the minimal encoding `store_coins` produces, so that the
/// parsed voucher rebuilds to the very cell that was signed.
fn load_amount(p: &mut CellParser<'_>) -> Result<u64, VoucherError> {
    let len = usize::from(p.load_u8(4).map_err(cell_err)?);
    let bytes = p.load_bytes(len).map_err(cell_err)?;
    if bytes.first() == Some(&0) {
        return Err(VoucherError::Cell("amount has a leading zero byte (non-minimal encoding)".into()));
    }
    if len > MAX_AMOUNT_BYTES {
        return Err(VoucherError::AmountOutOfRange(format!("{len} bytes, max {MAX_AMOUNT_BYTES}")));
    }
    Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// tonlib's `ensure_empty` ignores references (see its source), so both are checked here.
fn ensure_consumed(p: &mut CellParser<'_>, what: &str) -> Result<(), VoucherError> {
    let bits = p.remaining_bits();
    let refs = p.remaining_refs();
    if bits != 0 || refs != 0 {
        return Err(VoucherError::Cell(format!("{what} cell has {bits} trailing bits and {refs} extra references")));
    }
    Ok(())
}

/// A voucher with the proxy's Ed25519 signature over its cell hash.
///
/// Serde (de)serializes it as the base64 string of its BOC, so it can sit in JSON as is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedVoucher {
    /// The signed content.
    pub voucher: Voucher,
    /// Ed25519 signature of `voucher.hash()`.
    pub signature: [u8; 64],
}

impl fmt::Debug for SignedVoucher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedVoucher")
            .field("voucher", &self.voucher)
            .field("signature", &hex::encode(self.signature))
            .finish()
    }
}

impl SignedVoucher {
    /// Builds the signed cell `signature:bits512 ^Voucher`.
    pub fn to_cell(&self) -> Result<Cell, VoucherError> {
        let voucher: ArcCell = self.voucher.to_cell()?.to_arc();
        let mut b = CellBuilder::new();
        b.store_slice(&self.signature).and_then(|b| b.store_reference(&voucher)).map_err(cell_err)?;
        b.build().map_err(cell_err)
    }

    /// Reads a signed cell. Does not check the signature: call [`SignedVoucher::verify`].
    pub fn from_cell(cell: &Cell) -> Result<Self, VoucherError> {
        if cell.is_exotic() {
            return Err(VoucherError::Cell("signed voucher cell is exotic".into()));
        }
        let mut p = cell.parser();
        let mut signature = [0u8; 64];
        p.load_slice(&mut signature).map_err(cell_err)?;
        let inner = p.next_reference().map_err(cell_err)?;
        ensure_consumed(&mut p, "signed voucher")?;
        let voucher = Voucher::from_cell(&inner)?;
        // Defense in depth: what gets verified must be exactly the cell a contract would hash.
        if voucher.to_cell()?.cell_hash() != inner.cell_hash() {
            return Err(VoucherError::Cell("voucher cell does not rebuild to the same hash".into()));
        }
        Ok(SignedVoucher { voucher, signature })
    }

    /// Serializes the signed cell as a single-root bag of cells with CRC32-C.
    pub fn to_boc(&self) -> Result<Vec<u8>, VoucherError> {
        BagOfCells::from_root(self.to_cell()?).serialize(true).map_err(|e| VoucherError::Boc(e.to_string()))
    }

    /// Parses a bag of cells holding exactly one signed voucher. Does not check the signature.
    pub fn from_boc(bytes: &[u8]) -> Result<Self, VoucherError> {
        check_envelope(bytes)?;
        let boc_err = |e: TonCellError| VoucherError::Boc(e.to_string());
        let root = BagOfCells::parse(bytes).map_err(boc_err)?.single_root().map_err(boc_err)?;
        Self::from_cell(&root)
    }

    /// Standard (padded) base64 of [`SignedVoucher::to_boc`].
    pub fn to_base64(&self) -> Result<String, VoucherError> {
        Ok(STANDARD.encode(self.to_boc()?))
    }

    /// Parses the standard base64 of a BOC (surrounding whitespace is ignored).
    pub fn from_base64(text: &str) -> Result<Self, VoucherError> {
        Self::from_boc(&STANDARD.decode(text.trim())?)
    }

    /// Checks the signature against `proxy_key` over the hash of the cell rebuilt from the fields.
    ///
    /// Uses `verify_strict`, which rejects malleable signatures and weak keys.
    pub fn verify(&self, proxy_key: &[u8; 32]) -> Result<(), VoucherError> {
        let key = VerifyingKey::from_bytes(proxy_key).map_err(|_| VoucherError::InvalidKey)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.voucher.hash()?, &signature).map_err(|_| VoucherError::BadSignature)
    }
}

impl Serialize for SignedVoucher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64().map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for SignedVoucher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SignedVoucher::from_base64(&text).map_err(serde::de::Error::custom)
    }
}
