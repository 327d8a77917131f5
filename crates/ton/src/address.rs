//! TON account addresses as text and in cells.
//!
//! tycho-types already parses and prints both forms (raw `wc:hex` and the 48-character
//! user-friendly base64/base64url with flags and CRC16-XMODEM); this module adds the checks it
//! leaves out (the tag byte), one entry point that accepts either form, and the `MsgAddress`
//! cell helpers the contracts use (`addr_none` or `addr_std`).

use tycho_types::cell::{Cell, CellBuilder, CellSlice, Load};
use tycho_types::models::{Base64StdAddrFlags, IntAddr, StdAddr, StdAddrFormat};

use crate::error::{Error, Result};

/// How a user-friendly address was (or is to be) written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressFlags {
    /// Bounceable (`E...`/`k...`) rather than non-bounceable (`U...`/`0...`).
    pub bounceable: bool,
    /// The testnet-only flag.
    pub testnet: bool,
    /// Written in the URL-safe alphabet (`-` and `_`).
    pub url_safe: bool,
}

/// An address parsed from text, with the flags of its user-friendly form (raw: all false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAddress {
    /// The address.
    pub address: StdAddr,
    /// `None` for the raw form, else the friendly form's flags.
    pub flags: Option<AddressFlags>,
}

fn bad(input: &str, reason: impl Into<String>) -> Error {
    Error::Address { input: input.to_owned(), reason: reason.into() }
}

/// Parses a raw (`0:<64 hex>`) or user-friendly (48 characters, either base64 alphabet)
/// address; the friendly form's CRC and tag byte are checked.
pub fn parse(input: &str) -> Result<ParsedAddress> {
    let s = input.trim();
    if s.contains(':') {
        let address: StdAddr = s.parse().map_err(|e| bad(input, format!("{e}")))?;
        return Ok(ParsedAddress { address, flags: None });
    }
    if s.len() != 48 {
        return Err(bad(input, "expected `wc:hex` or a 48-character user-friendly address"));
    }
    let format = StdAddrFormat { allow_raw: false, allow_base64: true, allow_base64_url: true };
    let (address, f) = StdAddr::from_str_ext(s, format).map_err(|e| bad(input, format!("{e}")))?;
    // tycho checks the CRC but not the tag byte (0x11 or 0x51, plus 0x80 for testnet):
    // printing it back must give the same text.
    // Without `-_+/` both alphabets read the same: call it URL-safe, as toncenter prints it.
    let url_safe = f.base64_url || !s.contains(['+', '/']);
    let flags = AddressFlags { bounceable: f.bounceable, testnet: f.testnet, url_safe };
    if friendly(&address, flags) != s {
        return Err(bad(input, "not a canonical user-friendly address (bad tag byte)"));
    }
    Ok(ParsedAddress { address, flags: Some(flags) })
}

/// Parses either form and returns the address alone.
pub fn parse_std(input: &str) -> Result<StdAddr> {
    parse(input).map(|p| p.address)
}

/// The raw form, `wc:<64 lowercase hex>`.
pub fn raw(address: &StdAddr) -> String {
    format!("{}:{}", address.workchain, hex::encode(address.address.as_array()))
}

/// The user-friendly form with `flags`.
pub fn friendly(address: &StdAddr, flags: AddressFlags) -> String {
    let mut d = address.display_base64(flags.bounceable);
    d.flags = Base64StdAddrFlags { testnet: flags.testnet, base64_url: flags.url_safe, bounceable: flags.bounceable };
    d.to_string()
}

/// The URL-safe user-friendly form toncenter prints (mainnet flag), bounceable or not.
pub fn friendly_url(address: &StdAddr, bounceable: bool) -> String {
    friendly(address, AddressFlags { bounceable, testnet: false, url_safe: true })
}

/// Reads a `MsgAddress` that must be `addr_none` or `addr_std` (no anycast): `None` for none.
pub fn load_opt_address(slice: &mut CellSlice<'_>) -> Result<Option<StdAddr>> {
    if slice.get_small_uint(0, 2)? == 0 {
        slice.skip_first(2, 0)?;
        return Ok(None);
    }
    match IntAddr::load_from(slice)? {
        IntAddr::Std(a) if a.anycast.is_none() => Ok(Some(a)),
        _ => Err(tycho_types::error::Error::InvalidTag.into()),
    }
}

/// Reads an `addr_std` (no anycast).
pub fn load_address(slice: &mut CellSlice<'_>) -> Result<StdAddr> {
    load_opt_address(slice)?.ok_or(Error::Cell(tycho_types::error::Error::InvalidTag))
}

/// Stores a `MsgAddress`: `addr_std` for `Some`, `addr_none` (two zero bits) for `None`.
pub fn store_opt_address(b: &mut CellBuilder, address: Option<&StdAddr>) -> Result<()> {
    match address {
        Some(a) => b.store_builder(&builder_of(a)?)?,
        None => b.store_zeros(2)?,
    }
    Ok(())
}

fn builder_of(address: &StdAddr) -> Result<CellBuilder> {
    let mut b = CellBuilder::new();
    b.store_small_uint(0b10, 2)?;
    b.store_bit_zero()?; // no anycast
    b.store_u8(address.workchain as u8)?;
    b.store_u256(&address.address)?;
    Ok(b)
}

/// A cell holding just the address: the `slice` argument of get-methods that take one.
pub fn address_cell(address: &StdAddr) -> Result<Cell> {
    Ok(builder_of(address)?.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "0:aa4dbbf914330e7a5d67ce0ab8adc36baae014ece957026a8732a14e99f935bc";

    #[test]
    fn raw_and_friendly_round_trip() {
        let a = parse_std(RAW).unwrap();
        assert_eq!(raw(&a), RAW);
        let nb = friendly_url(&a, false);
        assert_eq!(nb, "UQCqTbv5FDMOel1nzgq4rcNrquAU7OlXAmqHMqFOmfk1vOH8");
        let p = parse(&nb).unwrap();
        assert_eq!(p.address, a);
        assert_eq!(p.flags, Some(AddressFlags { bounceable: false, testnet: false, url_safe: true }));
        let t = friendly(&a, AddressFlags { bounceable: true, testnet: true, url_safe: true });
        assert_eq!(t, "kQCqTbv5FDMOel1nzgq4rcNrquAU7OlXAmqHMqFOmfk1vAez");
        assert_eq!(parse(&t).unwrap().flags.map(|f| (f.bounceable, f.testnet)), Some((true, true)));
        let std_alphabet = friendly(&a, AddressFlags { bounceable: true, testnet: false, url_safe: false });
        assert_eq!(parse_std(&std_alphabet).unwrap(), a);
    }

    #[test]
    fn bad_addresses_are_refused() {
        assert!(parse("").is_err());
        assert!(parse("0:1234").is_err());
        let mut s = friendly_url(&parse_std(RAW).unwrap(), true).into_bytes();
        s[10] = if s[10] == b'A' { b'B' } else { b'A' };
        assert!(parse(std::str::from_utf8(&s).unwrap()).is_err(), "CRC must catch a changed character");
    }

    #[test]
    fn msg_address_cells() {
        let a = parse_std(RAW).unwrap();
        let c = address_cell(&a).unwrap();
        assert_eq!(c.bit_len(), 267);
        assert_eq!(load_address(&mut c.as_slice().unwrap()).unwrap(), a);
        let mut b = CellBuilder::new();
        store_opt_address(&mut b, None).unwrap();
        let none = b.build().unwrap();
        assert_eq!(load_opt_address(&mut none.as_slice().unwrap()).unwrap(), None);
    }
}
