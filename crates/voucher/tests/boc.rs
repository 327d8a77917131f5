//! Strict envelope checks: hostile or non-canonical bags of cells are rejected without panicking.

use cocoon_voucher::{SignedVoucher, TonAddress, Voucher, VoucherError, VoucherKind};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use tycho_types::boc::Boc;

fn signed() -> (SignedVoucher, [u8; 32]) {
    let k = SigningKey::from_bytes(&[11; 32]);
    let v = Voucher {
        kind: VoucherKind::WorkerPayout,
        query_id: 5,
        tokens: 1_000_000,
        contract: TonAddress::basechain([3; 32]),
    };
    (v.sign(&k).unwrap(), k.verifying_key().to_bytes())
}

fn is_boc_err<T: std::fmt::Debug>(r: Result<T, VoucherError>) -> bool {
    matches!(r, Err(VoucherError::Boc(_)))
}

#[test]
fn trailing_bytes_and_bad_crc_are_rejected() {
    let (sv, _) = signed();
    let boc = sv.to_boc().unwrap();
    let mut trailing = boc.clone();
    trailing.push(0);
    assert!(is_boc_err(SignedVoucher::from_boc(&trailing)));

    let no_crc = Boc::encode(sv.to_cell().unwrap());
    let mut trailing = no_crc.clone();
    trailing.extend_from_slice(&[1, 2, 3]);
    assert!(is_boc_err(SignedVoucher::from_boc(&trailing)));

    let mut bad_crc = boc.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    assert!(is_boc_err(SignedVoucher::from_boc(&bad_crc)));
}

#[test]
fn every_truncation_is_an_error() {
    let (sv, _) = signed();
    let boc = sv.to_boc().unwrap();
    for len in 0..boc.len() {
        assert!(SignedVoucher::from_boc(&boc[..len]).is_err(), "prefix of {len} bytes accepted");
    }
}

/// Malformed envelopes; the first three made tonlib-core 0.26's `BagOfCells::parse` (the library used before
/// tycho-types) panic (index out of bounds) or try to allocate for billions of cells if handed over unchecked.
#[test]
fn hostile_envelopes_are_errors() {
    let magic = [0xb5, 0xee, 0x9c, 0x72];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // 1 cell, 1 root, cell refers to index 5
        ("reference past the end", [&magic[..], &[0x01, 0x01, 1, 1, 0, 3, 0, 0x01, 0x00, 5]].concat()),
        // root index 5 with one cell
        ("root past the end", [&magic[..], &[0x01, 0x01, 1, 1, 0, 2, 5, 0x00, 0x00]].concat()),
        // 4-byte sizes announcing u32::MAX cells
        (
            "huge cell count",
            [&magic[..], &[0x04, 0x01], &[0xff; 4], &[0, 0, 0, 1], &[0; 4], &[2], &[0; 4], &[0, 0]].concat(),
        ),
        // exotic cells are outside the profile (different hashing rules)
        ("exotic cell", [&magic[..], &[0x01, 0x01, 1, 1, 0, 2, 0, 0x08, 0x00]].concat()),
        // backward reference (cycle)
        ("self reference", [&magic[..], &[0x01, 0x01, 1, 1, 0, 3, 0, 0x01, 0x00, 0]].concat()),
        ("absent cells", [&magic[..], &[0x01, 0x01, 1, 1, 1, 2, 0, 0x00, 0x00]].concat()),
        ("zero roots", [&magic[..], &[0x01, 0x01, 1, 0, 0, 2, 0x00, 0x00]].concat()),
        ("size 0", [&magic[..], &[0x00, 0x01, 0, 0, 0]].concat()),
        ("reserved flags", [&magic[..], &[0x19, 0x01, 1, 1, 0, 2, 0, 0x00, 0x00]].concat()),
        ("wrong total size", [&magic[..], &[0x01, 0x01, 1, 1, 0, 9, 0, 0x00, 0x00]].concat()),
        ("bad magic", vec![0x68, 0xff, 0x65, 0xf3, 0x01, 0x01, 1, 1, 0, 2, 0, 0x00, 0x00]),
    ];
    for (name, bytes) in cases {
        assert!(is_boc_err(SignedVoucher::from_boc(&bytes)), "{name}: {:?}", SignedVoucher::from_boc(&bytes));
    }
    // control: the same framing with a sane empty cell passes the envelope and fails only on the layout
    let empty_cell = [&magic[..], &[0x01, 0x01, 1, 1, 0, 2, 0, 0x00, 0x00]].concat();
    assert!(matches!(SignedVoucher::from_boc(&empty_cell), Err(VoucherError::Cell(_))));
}

/// Splices an index table (`has_idx`) into tycho's crc-less serialization of the voucher.
fn with_index(sv: &SignedVoucher, entries: [u8; 2]) -> Vec<u8> {
    let plain = Boc::encode(sv.to_cell().unwrap());
    // header: magic(4) flags(1) off_bytes(1) cells roots absent (1 each) tot(1) root(1) = 11 bytes
    assert_eq!(plain[4], 0x01);
    assert_eq!(plain[5], 0x01);
    let mut out = plain[..11].to_vec();
    out[4] = 0x81;
    out.extend_from_slice(&entries);
    out.extend_from_slice(&plain[11..]);
    out
}

#[test]
fn indexed_boc_is_accepted_when_consistent() {
    let (sv, pk) = signed();
    // cell 0: 2 descriptor bytes + 64 signature bytes + 1 reference byte; cell 1 follows
    let plain = Boc::encode(sv.to_cell().unwrap());
    let total = plain[9];
    assert_eq!(usize::from(total), plain.len() - 11);
    let parsed = SignedVoucher::from_boc(&with_index(&sv, [67, total])).unwrap();
    parsed.verify(&pk).unwrap();
    assert_eq!(parsed, sv);
    assert!(is_boc_err(SignedVoucher::from_boc(&with_index(&sv, [66, total]))));
    assert!(is_boc_err(SignedVoucher::from_boc(&with_index(&sv, [67, total - 1]))));
}

/// What `crate::boc`'s doc says tycho's decoder lets through, and so why the envelope check stays: each input
/// decodes with `Boc::decode` alone but is refused by `SignedVoucher::from_boc`.
#[test]
fn envelope_check_refuses_what_tycho_alone_accepts() {
    let (sv, pk) = signed();
    let mut trailing = sv.to_boc().unwrap();
    trailing.extend_from_slice(&[0, 1, 2]);
    let total = Boc::encode(sv.to_cell().unwrap())[9];
    let wrong_index = with_index(&sv, [1, total]);
    let mut reserved = Boc::encode(sv.to_cell().unwrap());
    reserved[4] |= 0x08;
    for (name, bytes) in [("trailing bytes", trailing), ("wrong index entry", wrong_index), ("reserved flag", reserved)]
    {
        let cell = Boc::decode(&bytes).unwrap_or_else(|e| panic!("{name}: tycho refused it ({e})"));
        assert_eq!(cell.repr_hash(), sv.to_cell().unwrap().repr_hash(), "{name}");
        assert!(is_boc_err(SignedVoucher::from_boc(&bytes)), "{name}");
    }
    // control: the canonical bytes pass both
    SignedVoucher::from_boc(&sv.to_boc().unwrap()).unwrap().verify(&pk).unwrap();
}

proptest! {
    #[test]
    fn prop_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SignedVoucher::from_boc(&bytes);
        let mut with_magic = vec![0xb5, 0xee, 0x9c, 0x72];
        with_magic.extend_from_slice(&bytes);
        let _ = SignedVoucher::from_boc(&with_magic);
    }

    #[test]
    fn prop_mutated_vouchers_never_panic_or_forge(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        crc in any::<bool>(),
    ) {
        let (sv, pk) = signed();
        let mut bytes = if crc { sv.to_boc().unwrap() } else { Boc::encode(sv.to_cell().unwrap()) };
        for (idx, value) in edits {
            let i = idx.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(parsed) = SignedVoucher::from_boc(&bytes) {
            if parsed.verify(&pk).is_ok() {
                prop_assert_eq!(parsed, sv);
            }
        }
    }
}
