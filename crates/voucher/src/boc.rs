//! Strict bag-of-cells envelope checks, run before handing bytes to tycho-types' decoder.
//!
//! Why this exists: vouchers arrive over the network from a proxy, so many byte strings must not
//! decode to one voucher and the holder must never panic or allocate without bound on them. The
//! previous library (tonlib-core 0.26) checked almost nothing (no CRC, no lengths, unchecked
//! indices that panicked). tycho-types 0.3's `Boc::decode` (`boc/de.rs`) is much stricter; it
//! checks:
//! - the magic (it also accepts the two legacy single-root tags `68ff65f3` / `acc3a728`), cache
//!   bits only with an index, reference size 1..=4 and offset size 1..=8;
//! - at least one root (exactly one for `Boc::decode`), no absent cells, root indices in range;
//! - `tot_cells_size` within bounds derived from the cell count before anything is allocated, and
//!   equal to the bytes the cells really take, so a huge cell count cannot allocate by itself;
//! - every cell: at most 4 references, data present, the completion tag normalized (no zero last
//!   byte), reference indices in range and pointing forward (no cycles);
//! - the CRC32-C when the header has the flag (unless built with `cfg(fuzzing)`);
//! - exotic cells against their own rules, when it builds them.
//!
//! It does **not** check:
//! - trailing bytes after the cells (and after the CRC): they are ignored, so `boc || garbage`
//!   decodes to the same cell;
//! - the index table (`has_idx`): skipped, its entries never compared with the cells;
//! - the two reserved flag bits (`flags:(## 2) { flags = 0 }`): ignored;
//! - stored hashes (`with_hashes`): skipped and recomputed, never compared;
//! - it accepts exotic cells (pruned branches, Merkle proofs, library cells) and level masks.
//!
//! So this module walks the serialized structure once (TL-B `serialized_boc#b5ee9c72`, see TON's
//! `crypto/tl/boc.tlb`) and rejects anything outside a small, ordinary profile: the generic magic
//! only, one root, no absent cells, few cells, only ordinary level-0 cells without stored hashes
//! (exotic cells follow other hashing rules and never occur in a voucher), references pointing
//! strictly forward and in range, index entries that match the cells, section lengths that add up
//! exactly, a matching CRC32-C when the flag is set and nothing after it. Only then is tycho
//! allowed to decode; its own checks stay as a second line.

use crate::error::VoucherError;

/// `serialized_boc#b5ee9c72` magic.
const BOC_MAGIC: [u8; 4] = [0xb5, 0xee, 0x9c, 0x72];

/// Upper bound on cells accepted in one BOC. A signed voucher has exactly two; a little slack keeps the
/// checker generic without letting a header ask for billions of cells.
pub(crate) const MAX_CELLS: usize = 16;

fn err(msg: impl Into<String>) -> VoucherError {
    VoucherError::Boc(msg.into())
}

/// Byte cursor over the input that fails instead of panicking when the input runs out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], VoucherError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(err(format!("truncated while reading {what}"))),
        }
    }

    fn byte(&mut self, what: &str) -> Result<u8, VoucherError> {
        Ok(self.take(1, what)?[0])
    }

    /// Big-endian unsigned integer of `n <= 8` bytes.
    fn uint(&mut self, n: usize, what: &str) -> Result<usize, VoucherError> {
        let value = self.take(n, what)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        usize::try_from(value).map_err(|_| err(format!("{what} too large")))
    }
}

/// Checks that `serial` is a well-formed single-root BOC in the strict profile described in the module doc.
pub(crate) fn check_envelope(serial: &[u8]) -> Result<(), VoucherError> {
    let mut r = Reader { bytes: serial, pos: 0 };
    if r.take(4, "magic")? != BOC_MAGIC {
        return Err(err("not a generic bag of cells (bad magic)"));
    }
    // has_idx:(## 1) has_crc32c:(## 1) has_cache_bits:(## 1) flags:(## 2) { flags = 0 } size:(## 3)
    let header = r.byte("header")?;
    let has_idx = header & 0x80 != 0;
    let has_crc = header & 0x40 != 0;
    let has_cache_bits = header & 0x20 != 0;
    let size = usize::from(header & 0x07);
    if header & 0x18 != 0 {
        return Err(err("reserved flags set"));
    }
    if has_cache_bits && !has_idx {
        return Err(err("cache bits without index"));
    }
    if !(1..=4).contains(&size) {
        return Err(err(format!("reference size {size} out of 1..=4")));
    }
    let off_bytes = usize::from(r.byte("offset size")?);
    if !(1..=8).contains(&off_bytes) {
        return Err(err(format!("offset size {off_bytes} out of 1..=8")));
    }
    let cells = r.uint(size, "cell count")?;
    let roots = r.uint(size, "root count")?;
    let absent = r.uint(size, "absent count")?;
    let tot_cells_size = r.uint(off_bytes, "total cells size")?;
    if cells == 0 || cells > MAX_CELLS {
        return Err(err(format!("cell count {cells} out of 1..={MAX_CELLS}")));
    }
    if roots != 1 {
        return Err(err(format!("expected exactly one root, got {roots}")));
    }
    if absent != 0 {
        return Err(err(format!("absent cells are not supported, got {absent}")));
    }
    let root = r.uint(size, "root index")?;
    if root >= cells {
        return Err(err(format!("root index {root} out of range")));
    }
    let mut index = Vec::new();
    if has_idx {
        for _ in 0..cells {
            index.push(r.uint(off_bytes, "index entry")?);
        }
    }

    let cells_start = r.pos;
    for i in 0..cells {
        check_cell(&mut r, i, cells, size)?;
        if let Some(&entry) = index.get(i) {
            let end = r.pos - cells_start;
            let expected = if has_cache_bits { entry >> 1 } else { entry };
            if expected != end {
                return Err(err(format!("index entry {i} is {expected}, cell ends at {end}")));
            }
        }
    }
    let cells_len = r.pos - cells_start;
    if cells_len != tot_cells_size {
        return Err(err(format!("cells take {cells_len} bytes, header says {tot_cells_size}")));
    }

    if has_crc {
        let body_len = r.pos;
        let stored = r.take(4, "crc32c")?;
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let computed = crc32c::crc32c(&serial[..body_len]);
        if stored != computed {
            return Err(err(format!("crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}")));
        }
    }
    if r.pos != serial.len() {
        return Err(err(format!("{} trailing bytes", serial.len() - r.pos)));
    }
    Ok(())
}

/// Walks one serialized cell: descriptors, data, reference indices.
fn check_cell(r: &mut Reader<'_>, i: usize, cells: usize, size: usize) -> Result<(), VoucherError> {
    // d1 = refs + 8 * exotic + 16 * with_hashes + 32 * level_mask; d2 = floor(bits/8) + ceil(bits/8)
    let d1 = r.byte("cell descriptor d1")?;
    let d2 = r.byte("cell descriptor d2")?;
    let refs = usize::from(d1 & 0x07);
    if refs > 4 {
        return Err(err(format!("cell {i}: {refs} references (max 4)")));
    }
    if d1 & 0x08 != 0 {
        return Err(err(format!("cell {i}: exotic cells are not accepted")));
    }
    if d1 & 0x10 != 0 {
        return Err(err(format!("cell {i}: stored hashes are not accepted")));
    }
    if d1 >> 5 != 0 {
        return Err(err(format!("cell {i}: nonzero level mask")));
    }
    let data_len = usize::from(d2 >> 1) + usize::from(d2 & 1);
    let data = r.take(data_len, "cell data")?;
    if d2 & 1 == 1 && data.last() == Some(&0) {
        return Err(err(format!("cell {i}: missing completion tag")));
    }
    for _ in 0..refs {
        let target = r.uint(size, "reference index")?;
        if target <= i || target >= cells {
            return Err(err(format!("cell {i}: reference index {target} out of range")));
        }
    }
    Ok(())
}
