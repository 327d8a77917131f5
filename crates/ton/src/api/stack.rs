//! TVM stacks of `runGetMethod`, in toncenter's v2 JSON both ways, and a reader for getters.
//!
//! In (what we send), as `@ton/ton`'s `TonClient` sends it to toncenter:
//! `["num", "<decimal>"]`, `["tvm.Cell", "<boc>"]`, `["tvm.Slice", "<boc>"]`,
//! `["tvm.Builder", "<boc>"]`, `["null"]`.
//! Out (what toncenter and the devnet answer): `["num", "0x.."|"-0x.."|decimal]`,
//! `["cell"|"slice"|"builder", {"bytes": b64, ...}]` (or a bare base64 string), null as
//! `["null"]` or an empty `["list", {...}]`, tuples and lists as
//! `["tuple"|"list", {"elements": [tvm.stackEntry*]}]` with tonlib's typed nested entries.

use num_bigint::{BigInt, Sign};
use serde_json::{json, Value};
use tycho_types::boc::Boc;
use tycho_types::cell::{Cell, HashBytes};
use tycho_types::models::StdAddr;

use crate::address::load_opt_address;

/// One TVM stack entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackEntry {
    /// An integer (TVM integers are 257-bit signed).
    Num(BigInt),
    /// A cell.
    Cell(Cell),
    /// A slice (the whole cell).
    Slice(Cell),
    /// A builder (its contents as a cell).
    Builder(Cell),
    /// `null`.
    Null,
    /// A tuple (toncenter's lists too).
    Tuple(Vec<StackEntry>),
}

impl StackEntry {
    /// An integer entry.
    pub fn int(n: impl Into<BigInt>) -> Self {
        Self::Num(n.into())
    }

    /// A 256-bit unsigned integer entry (hashes, public keys).
    pub fn uint256(h: &HashBytes) -> Self {
        Self::Num(BigInt::from_bytes_be(Sign::Plus, h.as_array()))
    }

    /// A slice entry holding just `address` (get-methods taking an address).
    pub fn address(address: &StdAddr) -> crate::Result<Self> {
        Ok(Self::Slice(crate::address::address_cell(address)?))
    }

    /// The entry in toncenter's input format.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Num(n) => json!(["num", n.to_string()]),
            Self::Cell(c) => json!(["tvm.Cell", Boc::encode_base64(c)]),
            Self::Slice(c) => json!(["tvm.Slice", Boc::encode_base64(c)]),
            Self::Builder(c) => json!(["tvm.Builder", Boc::encode_base64(c)]),
            Self::Null => json!(["null"]),
            // toncenter does not take tuples as arguments; sent as the devnet would read them.
            Self::Tuple(items) => json!(["tuple", {"elements": items.iter().map(Self::to_json).collect::<Vec<_>>()}]),
        }
    }

    /// Parses one top-level entry of a `runGetMethod` answer.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let arr = v.as_array().ok_or_else(|| format!("stack entry is not [type, value]: {v}"))?;
        let kind = arr.first().and_then(Value::as_str).ok_or_else(|| format!("stack entry has no type: {v}"))?;
        let value = arr.get(1).unwrap_or(&Value::Null);
        match kind {
            "num" | "int" | "number" => parse_num(value).map(Self::Num),
            "cell" | "tvm.Cell" => cell_of(value).map(Self::Cell),
            "slice" | "tvm.Slice" => cell_of(value).map(Self::Slice),
            "builder" | "tvm.Builder" => cell_of(value).map(Self::Builder),
            "null" => Ok(Self::Null),
            "list" | "tuple" | "tvm.List" | "tvm.Tuple" => {
                let elements = value.get("elements").and_then(Value::as_array);
                let items = elements.map(|e| e.iter().map(nested).collect::<Result<Vec<_>, _>>()).transpose()?;
                match items {
                    Some(items) if !items.is_empty() || kind.ends_with("uple") => Ok(Self::Tuple(items)),
                    // pytonlib renders null as an empty list
                    _ => Ok(Self::Null),
                }
            }
            other => Err(format!("unsupported stack entry type {other:?}")),
        }
    }
}

/// tonlib's typed nested entries (inside tuples and lists).
fn nested(v: &Value) -> Result<StackEntry, String> {
    if v.is_array() {
        return StackEntry::from_json(v);
    }
    let ty = v.get("@type").and_then(Value::as_str).unwrap_or("");
    match ty {
        "tvm.stackEntryNumber" => {
            let n = v.get("number").and_then(|n| n.get("number")).ok_or("number entry without number")?;
            parse_num(n).map(StackEntry::Num)
        }
        "tvm.stackEntryCell" => cell_of(v.get("cell").unwrap_or(&Value::Null)).map(StackEntry::Cell),
        "tvm.stackEntrySlice" => cell_of(v.get("slice").unwrap_or(&Value::Null)).map(StackEntry::Slice),
        "tvm.stackEntryTuple" | "tvm.stackEntryList" => {
            let inner = v.get("tuple").or_else(|| v.get("list")).ok_or("tuple entry without elements")?;
            let items = inner
                .get("elements")
                .and_then(Value::as_array)
                .map(|e| e.iter().map(nested).collect::<Result<Vec<_>, _>>());
            match items.transpose()? {
                Some(items) if !items.is_empty() || ty.ends_with("Tuple") => Ok(StackEntry::Tuple(items)),
                _ => Ok(StackEntry::Null),
            }
        }
        "tvm.stackEntryNull" | "tvm.stackEntryUnsupported" => Ok(StackEntry::Null),
        other => Err(format!("unsupported nested stack entry {other:?}")),
    }
}

fn parse_num(v: &Value) -> Result<BigInt, String> {
    if let Some(i) = v.as_i64() {
        return Ok(BigInt::from(i));
    }
    let s = v.as_str().ok_or_else(|| format!("not an integer: {v}"))?.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let n = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => BigInt::parse_bytes(hex.as_bytes(), 16),
        None => BigInt::parse_bytes(body.as_bytes(), 10),
    }
    .ok_or_else(|| format!("not an integer: {s:?}"))?;
    Ok(if neg { -n } else { n })
}

fn cell_of(v: &Value) -> Result<Cell, String> {
    let b64 =
        v.as_str().or_else(|| v.get("bytes").and_then(Value::as_str)).ok_or_else(|| format!("expected a BOC: {v}"))?;
    Boc::decode_base64(b64).map_err(|e| format!("bad BOC in stack: {e}"))
}

/// Reads a getter's stack entry by entry, with the getter's name in every error.
#[derive(Debug)]
pub struct StackReader {
    method: String,
    items: std::vec::IntoIter<StackEntry>,
    index: usize,
}

impl StackReader {
    /// A reader over `stack`, the result of get-method `method`.
    pub fn new(method: &str, stack: Vec<StackEntry>) -> Self {
        Self { method: method.to_owned(), items: stack.into_iter(), index: 0 }
    }

    fn err(&self, what: &str) -> crate::Error {
        crate::Error::Getter { method: self.method.clone(), message: format!("stack entry {}: {what}", self.index) }
    }

    /// The next entry.
    pub fn next_entry(&mut self) -> crate::Result<StackEntry> {
        let e = self.items.next().ok_or_else(|| self.err("missing"))?;
        self.index += 1;
        Ok(e)
    }

    /// The next entry as an integer.
    pub fn next_int(&mut self) -> crate::Result<BigInt> {
        match self.next_entry()? {
            StackEntry::Num(n) => Ok(n),
            other => Err(self.err(&format!("expected an integer, got {other:?}"))),
        }
    }

    fn next_unsigned(&mut self, bits: u64) -> crate::Result<BigInt> {
        let n = self.next_int()?;
        if n.sign() == Sign::Minus || n.bits() > bits {
            return Err(self.err(&format!("{n} is not a {bits}-bit unsigned integer")));
        }
        Ok(n)
    }

    /// The next entry as a u32.
    pub fn next_u32(&mut self) -> crate::Result<u32> {
        let n = self.next_unsigned(32)?;
        u32::try_from(&n).map_err(|_| self.err("not a u32"))
    }

    /// The next entry as a u64.
    pub fn next_u64(&mut self) -> crate::Result<u64> {
        let n = self.next_unsigned(64)?;
        u64::try_from(&n).map_err(|_| self.err("not a u64"))
    }

    /// The next entry as a u128 (coins).
    pub fn next_u128(&mut self) -> crate::Result<u128> {
        let n = self.next_unsigned(128)?;
        u128::try_from(&n).map_err(|_| self.err("not a u128"))
    }

    /// The next entry as a 256-bit unsigned integer (hashes, public keys).
    pub fn next_u256(&mut self) -> crate::Result<HashBytes> {
        let n = self.next_unsigned(256)?;
        let (_, bytes) = n.to_bytes_be();
        let mut out = [0u8; 32];
        out[32 - bytes.len()..].copy_from_slice(&bytes);
        Ok(HashBytes(out))
    }

    /// The next entry as a TVM boolean (0 false, -1 true; any non-zero is true).
    pub fn next_bool(&mut self) -> crate::Result<bool> {
        Ok(self.next_int()? != BigInt::from(0))
    }

    /// The next entry as a cell, slice or builder; `None` for null.
    pub fn next_cell_opt(&mut self) -> crate::Result<Option<Cell>> {
        match self.next_entry()? {
            StackEntry::Cell(c) | StackEntry::Slice(c) | StackEntry::Builder(c) => Ok(Some(c)),
            StackEntry::Null => Ok(None),
            other => Err(self.err(&format!("expected a cell or null, got {other:?}"))),
        }
    }

    /// The next entry as a cell (null refused).
    pub fn next_cell(&mut self) -> crate::Result<Cell> {
        self.next_cell_opt()?.ok_or_else(|| self.err("expected a cell, got null"))
    }

    /// The next entry as a slice holding a `MsgAddress` (`None` for `addr_none`).
    pub fn next_address_opt(&mut self) -> crate::Result<Option<StdAddr>> {
        let cell = self.next_cell()?;
        let mut s = cell.as_slice().map_err(|e| self.err(&format!("{e}")))?;
        load_opt_address(&mut s).map_err(|e| self.err(&format!("not an address: {e}")))
    }

    /// The next entry as a slice holding an `addr_std`.
    pub fn next_address(&mut self) -> crate::Result<StdAddr> {
        self.next_address_opt()?.ok_or_else(|| self.err("expected an address, got addr_none"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toncenter_and_devnet_entries() {
        let cell = tycho_types::cell::CellBuilder::build_from(5u32).unwrap();
        let b64 = Boc::encode_base64(&cell);
        let stack = json!([
            ["num", "0x1f"],
            ["num", "-0x10"],
            ["num", "12"],
            ["num", 7],
            ["cell", {"bytes": b64, "object": {}}],
            ["slice", b64],
            ["list", {"@type": "tvm.list", "elements": []}],
            ["null"],
            ["tuple", {"@type": "tvm.tuple", "elements": [
                {"@type": "tvm.stackEntryNumber", "number": {"@type": "tvm.numberDecimal", "number": "-3"}},
                {"@type": "tvm.stackEntryCell", "cell": {"@type": "tvm.cell", "bytes": b64}}
            ]}],
        ]);
        let parsed: Vec<StackEntry> =
            stack.as_array().unwrap().iter().map(|e| StackEntry::from_json(e).unwrap()).collect();
        assert_eq!(parsed[0], StackEntry::int(31));
        assert_eq!(parsed[1], StackEntry::int(-16));
        assert_eq!(parsed[2], StackEntry::int(12));
        assert_eq!(parsed[3], StackEntry::int(7));
        assert_eq!(parsed[4], StackEntry::Cell(cell.clone()));
        assert_eq!(parsed[5], StackEntry::Slice(cell.clone()));
        assert_eq!(parsed[6], StackEntry::Null);
        assert_eq!(parsed[7], StackEntry::Null);
        assert_eq!(parsed[8], StackEntry::Tuple(vec![StackEntry::int(-3), StackEntry::Cell(cell)]));
        assert!(StackEntry::from_json(&json!(["num", "0xzz"])).is_err());
        assert!(StackEntry::from_json(&json!(["weird", 1])).is_err());
    }

    #[test]
    fn reader_checks_ranges() {
        let mut r = StackReader::new("m", vec![StackEntry::int(-1), StackEntry::int(1u64 << 40), StackEntry::int(-1)]);
        assert!(r.next_bool().unwrap());
        assert!(r.next_u32().is_err());
        assert!(r.next_u64().is_err());
        assert!(r.next_entry().is_err());
        let key = HashBytes([0xab; 32]);
        let mut r = StackReader::new("m", vec![StackEntry::uint256(&key)]);
        assert_eq!(r.next_u256().unwrap(), key);
    }
}
