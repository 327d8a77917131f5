//! TON smart-contract addresses in the one form vouchers use: `addr_std` without anycast.
//!
//! In TL-B (TON's `block.tlb`):
//!
//! ```text
//! addr_none$00 = MsgAddressExt;
//! addr_std$10 anycast:(Maybe Anycast) workchain_id:int8 address:bits256 = MsgAddressInt;
//! ```
//!
//! A voucher names the contract it is for (`expected_my_address`), always as `addr_std` with no
//! anycast: bits `10`, then `0`, the workchain as a signed byte, then the 256-bit account hash,
//! 267 bits in all. A message body may also carry `addr_none` (bits `00`) where an address is
//! optional (`send_excesses_to`). Anything else (anycast, `addr_var`, external addresses) is
//! refused when reading, so a parsed cell always rebuilds to the very bits it came from.
//!
//! The text form is TON's raw form, `<workchain>:<64 hex digits>` (e.g. `0:ab..`, `-1:..`); serde
//! reads and writes that string. User-friendly base64 addresses are not handled here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tycho_types::cell::{CellBuilder, CellSlice};
use tycho_types::error::Error as CellError;

use crate::error::VoucherError;

/// Bits an `addr_std` without anycast takes in a cell: tag (2), anycast flag (1), workchain (8), hash (256).
pub const ADDR_STD_BITS: usize = 2 + 1 + 8 + 256;

/// The address of a TON contract: workchain and 256-bit account hash (`addr_std`, no anycast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TonAddress {
    /// Workchain id: 0 for the basechain, -1 for the masterchain.
    pub workchain: i8,
    /// The account id within the workchain (the hash of the contract's StateInit).
    pub hash: [u8; 32],
}

fn cell_err(e: CellError) -> VoucherError {
    VoucherError::Cell(e.to_string())
}

impl TonAddress {
    /// An address on the basechain (workchain 0).
    pub const fn basechain(hash: [u8; 32]) -> Self {
        TonAddress { workchain: 0, hash }
    }

    /// Appends `addr_std$10 anycast:nothing$0 workchain_id:int8 address:bits256` (267 bits).
    pub fn store(&self, b: &mut CellBuilder) -> Result<(), VoucherError> {
        b.store_small_uint(0b10, 2)
            .and_then(|()| b.store_bit(false))
            // int8 and uint8 share their bits (two's complement); the unsigned store is exact.
            .and_then(|()| b.store_u8(self.workchain as u8))
            .and_then(|()| b.store_raw(&self.hash, 256))
            .map_err(cell_err)
    }

    /// Appends an optional address: `addr_none$00` for `None`, else [`TonAddress::store`].
    pub fn store_optional(address: Option<&TonAddress>, b: &mut CellBuilder) -> Result<(), VoucherError> {
        match address {
            Some(a) => a.store(b),
            None => b.store_small_uint(0b00, 2).map_err(cell_err),
        }
    }

    /// Reads an `addr_std` without anycast; refuses every other address form.
    pub fn load(p: &mut CellSlice<'_>) -> Result<Self, VoucherError> {
        match p.load_small_uint(2).map_err(cell_err)? {
            0b10 => Self::load_std_rest(p),
            tag => Err(Self::unsupported(tag)),
        }
    }

    /// Reads `addr_none` (as `None`) or an `addr_std` without anycast; refuses every other form.
    pub fn load_optional(p: &mut CellSlice<'_>) -> Result<Option<Self>, VoucherError> {
        match p.load_small_uint(2).map_err(cell_err)? {
            0b00 => Ok(None),
            0b10 => Self::load_std_rest(p).map(Some),
            tag => Err(Self::unsupported(tag)),
        }
    }

    /// The part of `addr_std` after its `10` tag.
    fn load_std_rest(p: &mut CellSlice<'_>) -> Result<Self, VoucherError> {
        if p.load_bit().map_err(cell_err)? {
            return Err(VoucherError::BadAddress("anycast addresses are not accepted".into()));
        }
        let workchain = p.load_u8().map_err(cell_err)? as i8;
        let mut hash = [0u8; 32];
        p.load_raw(&mut hash, 256).map_err(cell_err)?;
        Ok(TonAddress { workchain, hash })
    }

    fn unsupported(tag: u8) -> VoucherError {
        let what = match tag {
            0b00 => "addr_none where a contract address is required",
            0b01 => "an external address (addr_extern)",
            _ => "addr_var",
        };
        VoucherError::BadAddress(format!("{what} is not accepted"))
    }
}

impl fmt::Display for TonAddress {
    /// The raw form `<workchain>:<64 lowercase hex digits>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.workchain, hex::encode(self.hash))
    }
}

impl FromStr for TonAddress {
    type Err = VoucherError;

    /// Parses the raw form `<workchain>:<64 hex digits>` (either case).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| VoucherError::BadAddress(format!("{text:?}: {why}"));
        let (wc, hash_hex) = text.split_once(':').ok_or_else(|| bad("expected <workchain>:<64 hex digits>"))?;
        let workchain: i8 = wc.parse().map_err(|_| bad("workchain is not an 8-bit signed integer"))?;
        if hash_hex.len() != 64 {
            return Err(bad("the hash must be 64 hex digits"));
        }
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hash_hex, &mut hash).map_err(|_| bad("the hash is not hex"))?;
        Ok(TonAddress { workchain, hash })
    }
}

impl Serialize for TonAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TonAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_form_round_trips_and_rejects_garbage() {
        let a = TonAddress { workchain: -1, hash: [0xab; 32] };
        let text = a.to_string();
        assert_eq!(text, format!("-1:{}", "ab".repeat(32)));
        assert_eq!(text.parse::<TonAddress>().unwrap(), a);
        assert_eq!(text.to_uppercase().parse::<TonAddress>().unwrap(), a);
        for bad in ["", "0", "0:", "x:00", "128:00", &format!("0:{}", "0".repeat(63)), &format!("0:{}", "g".repeat(64))]
        {
            assert!(matches!(bad.parse::<TonAddress>(), Err(VoucherError::BadAddress(_))), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<TonAddress>(&format!("\"{text}\"")).unwrap(), a);
    }

    #[test]
    fn cell_form_is_267_bits_and_round_trips() {
        for a in [TonAddress::basechain([7; 32]), TonAddress { workchain: -1, hash: [0xff; 32] }] {
            let mut b = CellBuilder::new();
            a.store(&mut b).unwrap();
            TonAddress::store_optional(None, &mut b).unwrap();
            let cell = b.build().unwrap();
            assert_eq!(usize::from(cell.bit_len()), ADDR_STD_BITS + 2);
            let mut p = cell.as_slice().unwrap();
            assert_eq!(TonAddress::load(&mut p).unwrap(), a);
            assert_eq!(TonAddress::load_optional(&mut p).unwrap(), None);
            assert_eq!(p.size_bits(), 0);
        }
    }

    #[test]
    fn other_address_forms_are_refused() {
        let load = |b: CellBuilder| {
            let cell = b.build().unwrap();
            TonAddress::load(&mut cell.as_slice().unwrap())
        };
        // anycast present
        let mut b = CellBuilder::new();
        b.store_small_uint(0b10, 2).unwrap();
        b.store_bit(true).unwrap();
        b.store_u8(0).unwrap();
        b.store_raw(&[0; 32], 256).unwrap();
        assert!(matches!(load(b), Err(VoucherError::BadAddress(_))));
        // addr_none, addr_extern, addr_var where an address is required
        for tag in [0b00, 0b01, 0b11] {
            let mut b = CellBuilder::new();
            b.store_small_uint(tag, 2).unwrap();
            b.store_raw(&[0; 34], 34 * 8).unwrap();
            assert!(matches!(load(b), Err(VoucherError::BadAddress(_))), "tag {tag:#b}");
        }
        // truncated hash
        let mut b = CellBuilder::new();
        b.store_small_uint(0b10, 2).unwrap();
        b.store_bit(false).unwrap();
        b.store_u8(0).unwrap();
        b.store_raw(&[0; 31], 31 * 8).unwrap();
        assert!(matches!(load(b), Err(VoucherError::Cell(_))));
    }
}
