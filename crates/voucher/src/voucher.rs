//! The voucher itself: its TON cell layout (the one the on-chain contracts verify), hashing,
//! Ed25519 signing and verification, BOC/base64 encoding, and the message body a submitter sends.
//!
//! A voucher is the proxy's signed statement about a *cumulative* count of adjusted tokens: all a
//! client has been charged for so far, or all a worker has earned so far. The contract that
//! receives it multiplies the growth by its own price (a client contract) or fee (a worker
//! contract). Because the count only grows, the holder keeps just the latest voucher, and a lost
//! or replayed older one is worth nothing extra. In TL-B:
//!
//! ```text
//! charge_payload#bb63ff93        query_id:uint64 new_tokens:uint64 expected_my_address:MsgAddressInt = SignedPayload;
//! grant_refund_payload#efd711e1  query_id:uint64 new_tokens:uint64 expected_my_address:MsgAddressInt = SignedPayload;
//! worker_payout_payload#a040ad28 query_id:uint64 new_tokens:uint64 expected_my_address:MsgAddressInt = SignedPayload;
//!
//! held#_ signature:bits512 payload:^SignedPayload = HeldVoucher;
//! signed_msg#_ op:uint32 query_id:uint64 send_excesses_to:MsgAddress
//!     signature:bits512 payload:^SignedPayload = SignedMessage;
//! ```
//!
//! - the op (the constructor tag) is the [`VoucherKind`], so a charge is never a payout;
//! - `query_id` is free for the proxy (its commit sequence number); it is covered by the signature;
//! - `new_tokens` is the cumulative number of adjusted tokens;
//! - `expected_my_address` is the contract the voucher is for, always `addr_std` without anycast
//!   (see [`crate::address`]): a contract refuses a voucher naming another address, so a voucher
//!   for one client's contract can never be spent on another's.
//!
//! The signature is Ed25519 (ed25519-dalek, byte-identical to TON's signing) over the 32-byte
//! representation hash of the payload cell, what TVM's `check_signature(cell_hash(payload), sig,
//! key)` verifies. Holders keep the two-cell `held` form, serialized as a single-root bag of cells
//! with CRC32-C and as standard base64 in text (and in JSON through serde). The contract takes the
//! `signed_msg` form: the same signature and payload behind an op and query id that repeat the
//! payload's (so the contract can dispatch before it checks anything) and the address that gets
//! the excess of the message's TON value.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tycho_types::boc::{de::Error as BocError, ser::BocHeader, Boc};
use tycho_types::cell::{Cell, CellBuilder, CellSlice};
use tycho_types::error::Error as CellError;

use crate::address::TonAddress;
use crate::boc::check_envelope;
use crate::error::VoucherError;

/// Op of a client charge payload (`charge_payload#bb63ff93`).
pub const OP_CLIENT_CHARGE: u32 = 0xbb63_ff93;
/// Op of a grant-refund payload (`grant_refund_payload#efd711e1`): the proxy's final charge at a
/// client's close, after which the contract returns the rest to the client.
pub const OP_GRANT_REFUND: u32 = 0xefd7_11e1;
/// Op of a worker payout payload (`worker_payout_payload#a040ad28`).
pub const OP_WORKER_PAYOUT: u32 = 0xa040_ad28;

fn cell_err(e: CellError) -> VoucherError {
    VoucherError::Cell(e.to_string())
}

fn boc_err(e: BocError) -> VoucherError {
    VoucherError::Boc(e.to_string())
}

/// Bits of an Ed25519 signature stored inline (`bits512`).
const SIGNATURE_BITS: u16 = 512;

/// What a voucher is for, and so which contract takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherKind {
    /// Cumulative tokens the proxy charged a client; taken by the client's contract.
    ClientCharge,
    /// The proxy's last charge of a closing client; taken by the client's contract, which then
    /// refunds the client what is left.
    GrantRefund,
    /// Cumulative tokens the proxy owes a worker; taken by the worker's contract.
    WorkerPayout,
}

impl VoucherKind {
    /// The 32-bit op code that starts the payload cell.
    pub const fn op(self) -> u32 {
        match self {
            VoucherKind::ClientCharge => OP_CLIENT_CHARGE,
            VoucherKind::GrantRefund => OP_GRANT_REFUND,
            VoucherKind::WorkerPayout => OP_WORKER_PAYOUT,
        }
    }

    /// The kind for an op code, `None` for an unknown one.
    pub const fn from_op(op: u32) -> Option<Self> {
        match op {
            OP_CLIENT_CHARGE => Some(VoucherKind::ClientCharge),
            OP_GRANT_REFUND => Some(VoucherKind::GrantRefund),
            OP_WORKER_PAYOUT => Some(VoucherKind::WorkerPayout),
            _ => None,
        }
    }

    /// Whether a client's contract takes this kind (a charge or a grant refund); otherwise a
    /// worker's contract does. Both client kinds count the same cumulative tokens.
    pub const fn is_client(self) -> bool {
        matches!(self, VoucherKind::ClientCharge | VoucherKind::GrantRefund)
    }
}

/// The signed payload of a voucher (see the module doc for its cell layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voucher {
    /// Charge, grant refund or payout.
    pub kind: VoucherKind,
    /// Proxy-chosen query id, covered by the signature.
    pub query_id: u64,
    /// Cumulative adjusted tokens; the contract multiplies the growth by its price or fee.
    pub tokens: u64,
    /// The contract this voucher is for (`expected_my_address`).
    pub contract: TonAddress,
}

impl Voucher {
    /// Builds the payload cell `op:uint32 query_id:uint64 new_tokens:uint64 expected_my_address:MsgAddressInt`.
    pub fn to_cell(&self) -> Result<Cell, VoucherError> {
        let mut b = CellBuilder::new();
        b.store_u32(self.kind.op())
            .and_then(|()| b.store_u64(self.query_id))
            .and_then(|()| b.store_u64(self.tokens))
            .map_err(cell_err)?;
        self.contract.store(&mut b)?;
        b.build().map_err(cell_err)
    }

    /// Reads a payload cell, rejecting unknown ops, other address forms, trailing bits and any reference.
    pub fn from_cell(cell: &Cell) -> Result<Self, VoucherError> {
        if cell.is_exotic() {
            return Err(VoucherError::Cell("voucher payload cell is exotic".into()));
        }
        let mut p = cell.as_slice().map_err(cell_err)?;
        let op = p.load_u32().map_err(cell_err)?;
        let kind = VoucherKind::from_op(op).ok_or(VoucherError::UnknownOp(op))?;
        let query_id = p.load_u64().map_err(cell_err)?;
        let tokens = p.load_u64().map_err(cell_err)?;
        let contract = TonAddress::load(&mut p)?;
        ensure_consumed(&p, "voucher payload")?;
        Ok(Voucher { kind, query_id, tokens, contract })
    }

    /// The payload cell's representation hash: what TON's `cell_hash` returns and what the signature covers.
    pub fn hash(&self) -> Result<[u8; 32], VoucherError> {
        Ok(self.to_cell()?.repr_hash().0)
    }

    /// Signs the payload's cell hash with the proxy key.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedVoucher, VoucherError> {
        let signature = key.sign(&self.hash()?).to_bytes();
        Ok(SignedVoucher { voucher: self.clone(), signature })
    }
}

/// Refuses a cell with anything left after its layout: bits and references are both checked.
fn ensure_consumed(p: &CellSlice<'_>, what: &str) -> Result<(), VoucherError> {
    let bits = p.size_bits();
    let refs = p.size_refs();
    if bits != 0 || refs != 0 {
        return Err(VoucherError::Cell(format!("{what} cell has {bits} trailing bits and {refs} extra references")));
    }
    Ok(())
}

/// Reads the payload reference and checks it is exactly the cell that gets hashed.
fn load_payload(p: &mut CellSlice<'_>) -> Result<Voucher, VoucherError> {
    let inner = p.load_reference_cloned().map_err(cell_err)?;
    let voucher = Voucher::from_cell(&inner)?;
    // Defense in depth: what gets verified must be exactly the cell a contract would hash.
    if voucher.to_cell()?.repr_hash() != inner.repr_hash() {
        return Err(VoucherError::Cell("voucher payload does not rebuild to the same hash".into()));
    }
    Ok(voucher)
}

/// Parses a strict single-root bag of cells and returns its root: our envelope check first (see
/// [`crate::boc`] for what it adds to tycho's own), then tycho's decoder, which builds the cells and
/// computes their hashes.
fn parse_root(bytes: &[u8]) -> Result<Cell, VoucherError> {
    check_envelope(bytes)?;
    Boc::decode(bytes).map_err(boc_err)
}

/// Serializes `cell` as a single-root bag of cells with CRC32-C: flags `0x40 | ref_size`, no index,
/// no cache bits, no stored hashes, the root first. Byte-identical to what tonlib-core wrote before
/// (the golden vector in `tests/voucher.rs` and `contracts/tests/vectors/vouchers.json` pin it).
fn serialize(cell: &Cell) -> Vec<u8> {
    let mut out = Vec::new();
    BocHeader::<std::collections::hash_map::RandomState>::with_root(cell.as_ref()).with_crc(true).encode(&mut out);
    out
}

/// A voucher with the proxy's Ed25519 signature over its payload's cell hash.
///
/// Serde (de)serializes it as the base64 string of its held BOC, so it can sit in JSON as is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedVoucher {
    /// The signed payload.
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
    /// Builds the held cell `signature:bits512 payload:^SignedPayload`.
    pub fn to_cell(&self) -> Result<Cell, VoucherError> {
        let payload = self.voucher.to_cell()?;
        let mut b = CellBuilder::new();
        b.store_raw(&self.signature, SIGNATURE_BITS).and_then(|()| b.store_reference(payload)).map_err(cell_err)?;
        b.build().map_err(cell_err)
    }

    /// Reads a held cell. Does not check the signature: call [`SignedVoucher::verify`].
    pub fn from_cell(cell: &Cell) -> Result<Self, VoucherError> {
        if cell.is_exotic() {
            return Err(VoucherError::Cell("signed voucher cell is exotic".into()));
        }
        let mut p = cell.as_slice().map_err(cell_err)?;
        let mut signature = [0u8; 64];
        p.load_raw(&mut signature, SIGNATURE_BITS).map_err(cell_err)?;
        let voucher = load_payload(&mut p)?;
        ensure_consumed(&p, "signed voucher")?;
        Ok(SignedVoucher { voucher, signature })
    }

    /// Serializes the held cell as a single-root bag of cells with CRC32-C.
    pub fn to_boc(&self) -> Result<Vec<u8>, VoucherError> {
        Ok(serialize(&self.to_cell()?))
    }

    /// Parses a bag of cells holding exactly one held voucher. Does not check the signature.
    pub fn from_boc(bytes: &[u8]) -> Result<Self, VoucherError> {
        Self::from_cell(&parse_root(bytes)?)
    }

    /// Standard (padded) base64 of [`SignedVoucher::to_boc`].
    pub fn to_base64(&self) -> Result<String, VoucherError> {
        Ok(STANDARD.encode(self.to_boc()?))
    }

    /// Parses the standard base64 of a BOC (surrounding whitespace is ignored).
    pub fn from_base64(text: &str) -> Result<Self, VoucherError> {
        Self::from_boc(&STANDARD.decode(text.trim())?)
    }

    /// Checks the signature against `proxy_key` over the hash of the payload rebuilt from the fields.
    ///
    /// Uses `verify_strict`, which rejects malleable signatures and weak keys.
    pub fn verify(&self, proxy_key: &[u8; 32]) -> Result<(), VoucherError> {
        let key = VerifyingKey::from_bytes(proxy_key).map_err(|_| VoucherError::InvalidKey)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.voucher.hash()?, &signature).map_err(|_| VoucherError::BadSignature)
    }

    /// The message body cell a submitter sends to the contract:
    /// `op:uint32 query_id:uint64 send_excesses_to:MsgAddress signature:bits512 payload:^SignedPayload`,
    /// with op and query id copied from the payload and `addr_none` when `send_excesses_to` is `None`.
    pub fn message_body_cell(&self, send_excesses_to: Option<&TonAddress>) -> Result<Cell, VoucherError> {
        let payload = self.voucher.to_cell()?;
        let mut b = CellBuilder::new();
        b.store_u32(self.voucher.kind.op()).and_then(|()| b.store_u64(self.voucher.query_id)).map_err(cell_err)?;
        TonAddress::store_optional(send_excesses_to, &mut b)?;
        b.store_raw(&self.signature, SIGNATURE_BITS).and_then(|()| b.store_reference(payload)).map_err(cell_err)?;
        b.build().map_err(cell_err)
    }

    /// [`SignedVoucher::message_body_cell`] as a single-root bag of cells with CRC32-C: the body of
    /// the internal message to the contract.
    pub fn to_message_body(&self, send_excesses_to: Option<&TonAddress>) -> Result<Vec<u8>, VoucherError> {
        Ok(serialize(&self.message_body_cell(send_excesses_to)?))
    }

    /// Reads a message body back: the voucher and its `send_excesses_to`. Refuses a body whose outer
    /// op or query id differ from the payload's. Does not check the signature.
    pub fn from_message_body(bytes: &[u8]) -> Result<(Self, Option<TonAddress>), VoucherError> {
        let root = parse_root(bytes)?;
        if root.is_exotic() {
            return Err(VoucherError::Cell("message body cell is exotic".into()));
        }
        let mut p = root.as_slice().map_err(cell_err)?;
        let op = p.load_u32().map_err(cell_err)?;
        let query_id = p.load_u64().map_err(cell_err)?;
        let excesses_to = TonAddress::load_optional(&mut p)?;
        let mut signature = [0u8; 64];
        p.load_raw(&mut signature, SIGNATURE_BITS).map_err(cell_err)?;
        let voucher = load_payload(&mut p)?;
        ensure_consumed(&p, "message body")?;
        if op != voucher.kind.op() || query_id != voucher.query_id {
            return Err(VoucherError::Cell(format!(
                "message op {op:#010x} / query id {query_id} differ from the payload's {:#010x} / {}",
                voucher.kind.op(),
                voucher.query_id
            )));
        }
        Ok((SignedVoucher { voucher, signature }, excesses_to))
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
