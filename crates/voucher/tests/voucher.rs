//! Voucher layout, hashing, signing and encoding tests.

use cocoon_voucher::{
    SignedVoucher, TonAddress, Voucher, VoucherError, VoucherKind, OP_CLIENT_CHARGE, OP_GRANT_REFUND, OP_WORKER_PAYOUT,
};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tycho_types::boc::{ser::BocHeader, Boc};
use tycho_types::cell::{Cell, CellBuilder};

/// A single-root BOC with CRC32-C, as `SignedVoucher::to_boc` writes it, for cells built by hand.
fn boc_with_crc(roots: &[Cell]) -> Vec<u8> {
    let mut header = BocHeader::<std::collections::hash_map::RandomState>::default().with_crc(true);
    for root in roots {
        header.add_root(root.as_ref());
    }
    let mut out = Vec::new();
    header.encode(&mut out);
    out
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

const CONTRACT: TonAddress = TonAddress { workchain: 0, hash: [0xab; 32] };

fn sample(kind: VoucherKind, tokens: u64) -> Voucher {
    Voucher { kind, query_id: 0x0102_0304_0506_0708, tokens, contract: CONTRACT }
}

const KINDS: [VoucherKind; 3] = [VoucherKind::ClientCharge, VoucherKind::GrantRefund, VoucherKind::WorkerPayout];

/// Minimal MSB-first bit string, written independently of tycho-types to compute expected cell hashes.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    len: usize,
}

impl Bits {
    fn push(&mut self, value: u64, n: usize) {
        for i in (0..n).rev() {
            if self.len.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 0x80 >> (self.len % 8);
            }
            self.len += 1;
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(u64::from(b), 8);
        }
    }

    /// TON representation hash of an ordinary level-0 cell with these bits and children (depth, hash).
    fn repr_hash(&self, children: &[(u16, [u8; 32])]) -> [u8; 32] {
        let d1 = children.len() as u8;
        let d2 = (self.len / 8 + self.len.div_ceil(8)) as u8;
        let mut data = self.bytes.clone();
        if !self.len.is_multiple_of(8) {
            // completion tag: a single 1 bit right after the data, then zeros
            let last = data.len() - 1;
            data[last] |= 0x80 >> (self.len % 8);
        }
        let mut h = Sha256::new();
        h.update([d1, d2]);
        h.update(&data);
        for (depth, _) in children {
            h.update(depth.to_be_bytes());
        }
        for (_, hash) in children {
            h.update(hash);
        }
        h.finalize().into()
    }
}

/// `addr_std$10 anycast:nothing$0 workchain_id:int8 address:bits256`.
fn push_address(bits: &mut Bits, a: &TonAddress) {
    bits.push(0b10, 2);
    bits.push(0, 1);
    bits.push(u64::from(a.workchain as u8), 8);
    bits.push_bytes(&a.hash);
}

fn expected_voucher_bits(v: &Voucher) -> Bits {
    let mut bits = Bits::default();
    bits.push(u64::from(v.kind.op()), 32);
    bits.push(v.query_id, 64);
    bits.push(v.tokens, 64);
    push_address(&mut bits, &v.contract);
    bits
}

#[test]
fn op_codes_are_the_contracts_tags() {
    assert_eq!(OP_CLIENT_CHARGE, 0xbb63_ff93);
    assert_eq!(OP_GRANT_REFUND, 0xefd7_11e1);
    assert_eq!(OP_WORKER_PAYOUT, 0xa040_ad28);
    for kind in KINDS {
        assert_eq!(VoucherKind::from_op(kind.op()), Some(kind));
    }
    assert_eq!(VoucherKind::from_op(0), None);
    assert!(VoucherKind::ClientCharge.is_client() && VoucherKind::GrantRefund.is_client());
    assert!(!VoucherKind::WorkerPayout.is_client());
    assert_eq!(serde_json::to_string(&VoucherKind::ClientCharge).unwrap(), "\"client_charge\"");
    assert_eq!(serde_json::to_string(&VoucherKind::GrantRefund).unwrap(), "\"grant_refund\"");
    assert_eq!(serde_json::to_string(&VoucherKind::WorkerPayout).unwrap(), "\"worker_payout\"");
}

#[test]
fn hash_is_ton_representation_hash_of_the_layout() {
    for tokens in [0, 1, 255, 256, 1_500_000_000, u64::MAX] {
        for kind in KINDS {
            for contract in [CONTRACT, TonAddress { workchain: -1, hash: [0x5a; 32] }] {
                let v = Voucher { contract, ..sample(kind, tokens) };
                let bits = expected_voucher_bits(&v);
                assert_eq!(bits.len, 32 + 64 + 64 + 267);
                assert_eq!(usize::from(v.to_cell().unwrap().bit_len()), bits.len, "tokens {tokens}");
                assert_eq!(v.hash().unwrap(), bits.repr_hash(&[]), "tokens {tokens} kind {kind:?}");
            }
        }
    }
}

#[test]
fn message_body_repeats_op_and_query_id_before_the_signed_payload() {
    let sv = sample(VoucherKind::ClientCharge, 77).sign(&key(1)).unwrap();
    let payload = (0, sv.voucher.hash().unwrap());
    let excesses = TonAddress::basechain([0x11; 32]);
    for to in [Some(&excesses), None] {
        let mut bits = Bits::default();
        bits.push(u64::from(OP_CLIENT_CHARGE), 32);
        bits.push(sv.voucher.query_id, 64);
        match to {
            Some(a) => push_address(&mut bits, a),
            None => bits.push(0, 2),
        }
        bits.push_bytes(&sv.signature);
        let cell = sv.message_body_cell(to).unwrap();
        assert_eq!(usize::from(cell.bit_len()), bits.len);
        assert_eq!(cell.repr_hash().0, bits.repr_hash(&[payload]));
        let (back, back_to) = SignedVoucher::from_message_body(&sv.to_message_body(to).unwrap()).unwrap();
        assert_eq!((back, back_to.as_ref()), (sv.clone(), to));
    }
    // The held form is not a message body, and a body whose outer fields disagree is refused.
    assert!(SignedVoucher::from_message_body(&sv.to_boc().unwrap()).is_err());
    let mut b = CellBuilder::new();
    b.store_u32(OP_WORKER_PAYOUT).unwrap();
    b.store_u64(sv.voucher.query_id).unwrap();
    b.store_small_uint(0, 2).unwrap();
    b.store_raw(&sv.signature, 512).unwrap();
    b.store_reference(sv.voucher.to_cell().unwrap()).unwrap();
    let mismatched = boc_with_crc(&[b.build().unwrap()]);
    assert!(matches!(SignedVoucher::from_message_body(&mismatched), Err(VoucherError::Cell(_))));
}

#[test]
fn signed_cell_is_signature_then_one_reference() {
    let v = sample(VoucherKind::WorkerPayout, 123_456_789);
    let sv = v.sign(&key(1)).unwrap();
    let mut bits = Bits::default();
    bits.push_bytes(&sv.signature);
    let expected = bits.repr_hash(&[(0, v.hash().unwrap())]);
    let root = Boc::decode(sv.to_boc().unwrap()).unwrap();
    assert_eq!(root.repr_hash().0, expected);
    assert_eq!(sv.to_cell().unwrap().repr_hash().0, expected);
}

#[test]
fn signature_is_plain_ed25519_over_the_cell_hash() {
    use ed25519_dalek::{Signature, Verifier};
    let v = sample(VoucherKind::ClientCharge, 42);
    let sv = v.sign(&key(2)).unwrap();
    let sig = Signature::from_bytes(&sv.signature);
    key(2).verifying_key().verify(&v.hash().unwrap(), &sig).unwrap();
}

/// Pins the wire format: a change here breaks every voucher already handed out and the contracts'
/// vectors. Checked when pinned with an independent decoder (Python): header `b5ee9c72 41` (crc32c,
/// 1-byte refs), 2 cells, root 0 = `01 80` + 64-byte signature + ref 1, cell 1 = `00 6b` (427 bits):
/// `bb63ff93`, query id 42, tokens 1 500 000 000, `10 0`, workchain 0, the hash, completion tag; the
/// CRC32-C recomputed, and the signature verified (Python `cryptography`) over SHA-256 of `00 6b` + data.
#[test]
fn golden_vector() {
    let v = Voucher { kind: VoucherKind::ClientCharge, query_id: 42, tokens: 1_500_000_000, contract: CONTRACT };
    let sv = v.sign(&key(7)).unwrap();
    assert_eq!(sv.to_base64().unwrap(), GOLDEN);
    let parsed = SignedVoucher::from_base64(GOLDEN).unwrap();
    parsed.verify(&key(7).verifying_key().to_bytes()).unwrap();
    assert_eq!(parsed, sv);
}

const GOLDEN: &str = "te6cckEBAgEAewABgAGVFsIsKRS6CMbe0mnxn2HLn2+r2J9HmaNBzJsa7v9c+tT8YRmkU89fLbYyrF+MTMSrzvxl2y6b8TS9x6vPowsBAGu7Y/+TAAAAAAAAACoAAAAAWWgvAIAVdXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXDwNEot";

#[test]
fn round_trip_boc_base64_json() {
    let k = key(3);
    let pk = k.verifying_key().to_bytes();
    let sv = sample(VoucherKind::WorkerPayout, 987_654_321).sign(&k).unwrap();
    sv.verify(&pk).unwrap();

    let boc = sv.to_boc().unwrap();
    assert_eq!(&boc[..4], &[0xb5, 0xee, 0x9c, 0x72]);
    assert_ne!(boc[4] & 0x40, 0, "crc32c flag set");
    let back = SignedVoucher::from_boc(&boc).unwrap();
    back.verify(&pk).unwrap();
    assert_eq!(back, sv);

    let b64 = sv.to_base64().unwrap();
    assert_eq!(SignedVoucher::from_base64(&b64).unwrap(), sv);
    assert_eq!(SignedVoucher::from_base64(&format!(" {b64}\n")).unwrap(), sv);

    let json = serde_json::to_string(&sv).unwrap();
    assert_eq!(json, format!("\"{b64}\""));
    let back: SignedVoucher = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sv);
    assert!(serde_json::from_str::<SignedVoucher>("\"not a voucher\"").is_err());
    assert!(serde_json::from_str::<SignedVoucher>("12").is_err());
}

#[test]
fn wrong_key_or_tampered_fields_fail() {
    let sv = sample(VoucherKind::ClientCharge, 1000).sign(&key(4)).unwrap();
    let pk = key(4).verifying_key().to_bytes();
    assert!(matches!(sv.verify(&key(5).verifying_key().to_bytes()), Err(VoucherError::BadSignature)));

    let mut t = sv.clone();
    t.voucher.tokens += 1;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.voucher.kind = VoucherKind::WorkerPayout;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.voucher.query_id ^= 1;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.voucher.contract.hash[31] ^= 1;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.voucher.contract.workchain = -1;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.voucher.kind = VoucherKind::GrantRefund;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
    let mut t = sv.clone();
    t.signature[0] ^= 1;
    assert!(matches!(t.verify(&pk), Err(VoucherError::BadSignature)));
}

#[test]
fn invalid_proxy_key_is_reported() {
    let sv = sample(VoucherKind::ClientCharge, 1).sign(&key(4)).unwrap();
    // y = 2 is not on the curve
    let mut bad = [0u8; 32];
    bad[0] = 2;
    assert!(matches!(sv.verify(&bad), Err(VoucherError::InvalidKey)));
}

fn assert_flips_never_forge(boc: &[u8], original: &SignedVoucher, pk: &[u8; 32], require_parse_failure: bool) {
    for pos in 0..boc.len() {
        for mask in [0x01u8, 0x10, 0x80, 0xff] {
            let mut bytes = boc.to_vec();
            bytes[pos] ^= mask;
            match SignedVoucher::from_boc(&bytes) {
                Err(_) => {}
                Ok(parsed) => {
                    assert!(!require_parse_failure, "flip {mask:#04x} at {pos} parsed despite crc");
                    if parsed.verify(pk).is_ok() {
                        assert_eq!(&parsed, original, "flip {mask:#04x} at {pos} verified with other fields");
                    }
                }
            }
        }
    }
}

#[test]
fn flipping_any_byte_fails() {
    let k = key(6);
    let pk = k.verifying_key().to_bytes();
    for tokens in [0, 77, u64::MAX] {
        let sv = sample(VoucherKind::WorkerPayout, tokens).sign(&k).unwrap();
        let boc = sv.to_boc().unwrap();
        // with crc32c every single-byte change is caught by the envelope check
        assert_flips_never_forge(&boc, &sv, &pk, true);
        // without crc some header bytes are free, but nothing with different fields may verify
        let no_crc = Boc::encode(sv.to_cell().unwrap());
        assert_eq!(SignedVoucher::from_boc(&no_crc).unwrap(), sv);
        assert_flips_never_forge(&no_crc, &sv, &pk, false);
    }
}

/// Wraps an arbitrary inner cell as if it were a voucher, signed properly, so only the layout is wrong.
fn signed_boc_of(inner: CellBuilder, k: &SigningKey) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let inner = inner.build().unwrap();
    let sig = k.sign(inner.repr_hash().as_slice()).to_bytes();
    let mut outer = CellBuilder::new();
    outer.store_raw(&sig, 512).unwrap();
    outer.store_reference(inner).unwrap();
    boc_with_crc(&[outer.build().unwrap()])
}

fn voucher_prefix(op: u32) -> CellBuilder {
    let mut b = CellBuilder::new();
    b.store_u32(op).unwrap();
    b.store_u64(9).unwrap();
    b.store_u64(5).unwrap();
    b
}

/// Appends `addr_std` with the given tag, anycast bit and hash length.
fn store_addr(b: &mut CellBuilder, tag: u8, anycast: bool, hash_len: u16) {
    b.store_small_uint(tag, 2).unwrap();
    b.store_bit(anycast).unwrap();
    b.store_u8(0).unwrap();
    b.store_raw(&vec![1; usize::from(hash_len)], hash_len * 8).unwrap();
}

fn well_formed(op: u32) -> CellBuilder {
    let mut b = voucher_prefix(op);
    store_addr(&mut b, 0b10, false, 32);
    b
}

#[test]
fn layout_violations_are_rejected() {
    let k = key(8);
    let parse = |b: CellBuilder| SignedVoucher::from_boc(&signed_boc_of(b, &k));
    assert!(matches!(parse(well_formed(0xdead_beef)), Err(VoucherError::UnknownOp(0xdead_beef))));
    // The old layout's ops are unknown now.
    assert!(matches!(parse(well_formed(0x636c_6368)), Err(VoucherError::UnknownOp(_))));

    // trailing bit after the address
    let mut b = well_formed(OP_CLIENT_CHARGE);
    b.store_bit(false).unwrap();
    assert!(matches!(parse(b), Err(VoucherError::Cell(_))));

    // extra reference in the payload cell
    let mut b = well_formed(OP_CLIENT_CHARGE);
    b.store_reference(CellBuilder::new().build().unwrap()).unwrap();
    assert!(matches!(parse(b), Err(VoucherError::Cell(_))));

    // anycast, addr_none, addr_extern and addr_var are not a contract address
    let mut b = voucher_prefix(OP_CLIENT_CHARGE);
    store_addr(&mut b, 0b10, true, 32);
    assert!(matches!(parse(b), Err(VoucherError::BadAddress(_))));
    for tag in [0b00, 0b01, 0b11] {
        let mut b = voucher_prefix(OP_WORKER_PAYOUT);
        store_addr(&mut b, tag, false, 32);
        assert!(matches!(parse(b), Err(VoucherError::BadAddress(_))), "tag {tag:#b}");
    }

    // truncated address hash, truncated tokens
    let mut b = voucher_prefix(OP_CLIENT_CHARGE);
    store_addr(&mut b, 0b10, false, 31);
    assert!(matches!(parse(b), Err(VoucherError::Cell(_))));
    let mut b = CellBuilder::new();
    b.store_u32(OP_CLIENT_CHARGE).unwrap();
    b.store_u64(9).unwrap();
    b.store_u32(5).unwrap();
    assert!(matches!(parse(b), Err(VoucherError::Cell(_))));

    // a well-formed payload passes, proving the helper itself is sound
    let sv = parse(well_formed(OP_GRANT_REFUND)).unwrap();
    let contract = TonAddress::basechain([1; 32]);
    assert_eq!(sv.voucher, Voucher { kind: VoucherKind::GrantRefund, query_id: 9, tokens: 5, contract });
    sv.verify(&k.verifying_key().to_bytes()).unwrap();
}

#[test]
fn outer_cell_violations_are_rejected() {
    let sv = sample(VoucherKind::ClientCharge, 5).sign(&key(9)).unwrap();
    let inner = sv.voucher.to_cell().unwrap();
    let boc_of = |b: CellBuilder| boc_with_crc(&[b.build().unwrap()]);

    let mut b = CellBuilder::new();
    b.store_raw(&sv.signature, 512).unwrap();
    assert!(matches!(SignedVoucher::from_boc(&boc_of(b)), Err(VoucherError::Cell(_))), "no reference");

    let mut b = CellBuilder::new();
    b.store_raw(&sv.signature, 512).unwrap();
    b.store_reference(inner.clone()).unwrap();
    b.store_reference(inner.clone()).unwrap();
    assert!(matches!(SignedVoucher::from_boc(&boc_of(b)), Err(VoucherError::Cell(_))), "two references");

    let mut b = CellBuilder::new();
    b.store_raw(&sv.signature, 512).unwrap();
    b.store_bit(true).unwrap();
    b.store_reference(inner.clone()).unwrap();
    assert!(matches!(SignedVoucher::from_boc(&boc_of(b)), Err(VoucherError::Cell(_))), "trailing bit");

    let mut b = CellBuilder::new();
    b.store_raw(&sv.signature[..63], 63 * 8).unwrap();
    b.store_reference(inner).unwrap();
    assert!(matches!(SignedVoucher::from_boc(&boc_of(b)), Err(VoucherError::Cell(_))), "short signature");

    let two_roots = boc_with_crc(&[sv.to_cell().unwrap(), sv.to_cell().unwrap()]);
    assert!(matches!(SignedVoucher::from_boc(&two_roots), Err(VoucherError::Boc(_))));

    assert!(matches!(SignedVoucher::from_base64("%%%"), Err(VoucherError::Base64(_))));
    assert!(matches!(SignedVoucher::from_boc(&[]), Err(VoucherError::Boc(_))));
}

fn kind_strategy() -> impl Strategy<Value = VoucherKind> {
    prop_oneof![Just(VoucherKind::ClientCharge), Just(VoucherKind::GrantRefund), Just(VoucherKind::WorkerPayout)]
}

proptest! {
    #[test]
    fn prop_round_trip(
        kind in kind_strategy(),
        query_id in any::<u64>(),
        workchain in any::<i8>(),
        hash in any::<[u8; 32]>(),
        tokens in prop_oneof![any::<u64>(), 0u64..1024],
        seed in any::<[u8; 32]>(),
    ) {
        let k = SigningKey::from_bytes(&seed);
        let v = Voucher { kind, query_id, tokens, contract: TonAddress { workchain, hash } };
        let sv = v.sign(&k).unwrap();
        let back = SignedVoucher::from_boc(&sv.to_boc().unwrap()).unwrap();
        prop_assert_eq!(&back, &sv);
        prop_assert!(back.verify(&k.verifying_key().to_bytes()).is_ok());
        prop_assert_eq!(back.voucher.hash().unwrap(), expected_voucher_bits(&v).repr_hash(&[]));
        let from_b64 = SignedVoucher::from_base64(&sv.to_base64().unwrap()).unwrap();
        prop_assert_eq!(&from_b64, &sv);
        let (body, to) = SignedVoucher::from_message_body(&sv.to_message_body(None).unwrap()).unwrap();
        prop_assert_eq!((body, to), (sv, None));
    }
}
