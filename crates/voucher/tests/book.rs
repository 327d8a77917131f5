//! Holder-side book: validation, contract pinning, monotonicity and persistence.

use std::path::PathBuf;

use cocoon_voucher::{Accepted, SignedVoucher, TonAddress, Voucher, VoucherBook, VoucherError, VoucherKind};
use ed25519_dalek::SigningKey;

const CONTRACT: TonAddress = TonAddress { workchain: 0, hash: [0x11; 32] };

fn proxy() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
}

fn proxy_pk() -> [u8; 32] {
    proxy().verifying_key().to_bytes()
}

fn voucher(kind: VoucherKind, contract: TonAddress, query_id: u64, tokens: u64) -> SignedVoucher {
    Voucher { kind, query_id, tokens, contract }.sign(&proxy()).unwrap()
}

fn charge(query_id: u64, tokens: u64) -> SignedVoucher {
    voucher(VoucherKind::ClientCharge, CONTRACT, query_id, tokens)
}

fn open(path: Option<PathBuf>) -> VoucherBook {
    VoucherBook::open(path, VoucherKind::ClientCharge, None, proxy_pk()).unwrap()
}

#[test]
fn monotonic_accept_duplicate_and_reject() {
    let mut book = open(None);
    assert_eq!(book.tokens(), 0);
    assert!(book.latest().is_none());
    assert!(book.contract().is_none());

    assert_eq!(book.accept(charge(1, 100)).unwrap(), Accepted::New { tokens: 100, delta: 100 });
    assert_eq!(book.contract(), Some(&CONTRACT), "pinned by the first voucher");
    assert_eq!(book.accept(charge(2, 250)).unwrap(), Accepted::New { tokens: 250, delta: 150 });
    assert_eq!(book.accept(charge(3, 250)).unwrap(), Accepted::Duplicate);
    assert_eq!(book.latest().unwrap().voucher.query_id, 2, "duplicate does not replace the latest");

    match book.accept(charge(4, 249)) {
        Err(VoucherError::NotMonotonic { latest: 250, got: 249 }) => {}
        other => panic!("expected NotMonotonic, got {other:?}"),
    }
    assert_eq!(book.tokens(), 250);
    assert_eq!(book.latest().unwrap(), &charge(2, 250));
}

#[test]
fn foreign_vouchers_are_rejected_and_change_nothing() {
    let mut book = open(None);
    book.accept(charge(1, 10)).unwrap();

    let other_kind = voucher(VoucherKind::WorkerPayout, CONTRACT, 2, 20);
    assert!(matches!(book.accept(other_kind), Err(VoucherError::WrongKind)));
    let refund = voucher(VoucherKind::GrantRefund, CONTRACT, 2, 20);
    assert!(matches!(book.accept(refund), Err(VoucherError::WrongKind)));
    let elsewhere = TonAddress::basechain([0x22; 32]);
    match book.accept(voucher(VoucherKind::ClientCharge, elsewhere, 2, 20)) {
        Err(VoucherError::WrongContract { expected, got }) => assert_eq!((expected, got), (CONTRACT, elsewhere)),
        other => panic!("expected WrongContract, got {other:?}"),
    }
    let other_proxy = Voucher { kind: VoucherKind::ClientCharge, query_id: 2, tokens: 20, contract: CONTRACT }
        .sign(&SigningKey::from_bytes(&[22; 32]))
        .unwrap();
    assert!(matches!(book.accept(other_proxy), Err(VoucherError::BadSignature)));
    let mut forged = charge(2, 20);
    forged.voucher.tokens = 1_000_000;
    assert!(matches!(book.accept(forged), Err(VoucherError::BadSignature)));

    assert_eq!(book.tokens(), 10);
    assert_eq!(book.latest().unwrap(), &charge(1, 10));
}

#[test]
fn a_book_pinned_at_open_refuses_a_first_voucher_for_another_contract() {
    let elsewhere = TonAddress::basechain([0x22; 32]);
    let mut book = VoucherBook::open(None, VoucherKind::ClientCharge, Some(elsewhere), proxy_pk()).unwrap();
    assert!(matches!(book.accept(charge(1, 10)), Err(VoucherError::WrongContract { .. })));
    assert!(book.latest().is_none());
    let ok = voucher(VoucherKind::ClientCharge, elsewhere, 1, 10);
    assert_eq!(book.accept(ok).unwrap(), Accepted::New { tokens: 10, delta: 10 });
}

#[test]
fn worker_book_accepts_payouts() {
    let mut book = VoucherBook::open(None, VoucherKind::WorkerPayout, None, proxy_pk()).unwrap();
    assert_eq!(book.kind(), VoucherKind::WorkerPayout);
    assert!(matches!(book.accept(charge(1, 5)), Err(VoucherError::WrongKind)));
    let payout = voucher(VoucherKind::WorkerPayout, CONTRACT, 1, 5);
    assert_eq!(book.accept(payout).unwrap(), Accepted::New { tokens: 5, delta: 5 });
}

#[test]
fn persisted_book_reloads_latest_and_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy-a.json");
    {
        let mut book = open(Some(path.clone()));
        assert!(!path.exists(), "opening does not create the file");
        book.accept(charge(1, 100)).unwrap();
        book.accept(charge(2, 300)).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(book.accept(charge(3, 200)).is_err());
        assert_eq!(book.accept(charge(4, 300)).unwrap(), Accepted::Duplicate);
        assert_eq!(std::fs::read(&path).unwrap(), before, "rejected and duplicate vouchers do not touch the file");
    }
    let mut book = open(Some(path.clone()));
    assert_eq!(book.tokens(), 300);
    assert_eq!(book.latest().unwrap(), &charge(2, 300));
    assert_eq!(book.path(), Some(path.as_path()));
    assert_eq!(book.contract(), Some(&CONTRACT), "the pin survives a restart");
    let elsewhere = voucher(VoucherKind::ClientCharge, TonAddress::basechain([0x22; 32]), 5, 400);
    assert!(matches!(book.accept(elsewhere), Err(VoucherError::WrongContract { .. })));

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["version"], 2);
    assert_eq!(json["proxy_key"], hex::encode(proxy_pk()));
    assert_eq!(json["contract"], CONTRACT.to_string());
    assert_eq!(json["kind"], "client_charge");
    assert_eq!(json["voucher"], charge(2, 300).to_base64().unwrap());

    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("proxy-a.json")], "no temp files left behind");
}

#[test]
fn file_for_another_proxy_kind_or_contract_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.json");
    open(Some(path.clone())).accept(charge(1, 100)).unwrap();

    let other_proxy = SigningKey::from_bytes(&[23; 32]).verifying_key().to_bytes();
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, None, other_proxy).unwrap();
    assert!(book.latest().is_none());
    let elsewhere = Some(TonAddress::basechain([0x33; 32]));
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, elsewhere, proxy_pk()).unwrap();
    assert!(book.latest().is_none());
    assert_eq!(book.contract(), elsewhere.as_ref(), "the configured pin wins over the file's");
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::WorkerPayout, None, proxy_pk()).unwrap();
    assert!(book.latest().is_none());
    assert_eq!(open(Some(path)).tokens(), 100, "the file itself is untouched");
}

#[test]
fn a_version_1_file_starts_the_book_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.json");
    let old = format!(
        r#"{{"proxy_key":"{}","kind":"client_charge","account":"{}","voucher":"te6cckEBAgEAdgAB"}}"#,
        hex::encode(proxy_pk()),
        hex::encode([0x11; 32])
    );
    std::fs::write(&path, old).unwrap();
    let mut book = open(Some(path.clone()));
    assert!(book.latest().is_none());
    book.accept(charge(1, 7)).unwrap();
    assert_eq!(open(Some(path)).tokens(), 7, "the first new voucher replaces the old file");
}

#[test]
fn corrupt_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.json");
    let write_and_open = |contents: &str| {
        std::fs::write(&path, contents).unwrap();
        VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, None, proxy_pk())
    };
    assert!(matches!(write_and_open("not json"), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(""), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open("{}"), Err(VoucherError::Corrupt(_))));

    let good = charge(1, 100).to_base64().unwrap();
    let file = |version: u32, proxy_key: &str, contract: &str, voucher: &str| {
        format!(
            r#"{{"version":{version},"proxy_key":"{proxy_key}","kind":"client_charge","contract":"{contract}","voucher":"{voucher}"}}"#
        )
    };
    let (pk, c) = (hex::encode(proxy_pk()), CONTRACT.to_string());
    assert_eq!(write_and_open(&file(2, &pk, &c, &good)).unwrap().tokens(), 100, "control: well-formed file loads");
    assert!(matches!(write_and_open(&file(3, &pk, &c, &good)), Err(VoucherError::Corrupt(_))), "unknown version");
    assert!(matches!(write_and_open(&file(2, "zz", &c, &good)), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(&file(2, "abcd", &c, &good)), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(&file(2, &pk, "0:zz", &good)), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(&file(2, &pk, &c, "AAAA")), Err(VoucherError::Corrupt(_))));

    // a parseable voucher whose signature does not match the (matching) proxy key
    let mut forged = charge(1, 100);
    forged.voucher.tokens = 1_000_000;
    let forged = forged.to_base64().unwrap();
    assert!(matches!(write_and_open(&file(2, &pk, &c, &forged)), Err(VoucherError::Corrupt(_))));
    // right proxy and header, but the voucher inside is for another contract than the file says
    let other = voucher(VoucherKind::ClientCharge, TonAddress::basechain([0x44; 32]), 1, 100).to_base64().unwrap();
    assert!(matches!(write_and_open(&file(2, &pk, &c, &other)), Err(VoucherError::Corrupt(_))));
}

#[test]
fn failed_persist_keeps_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("book.json");
    let mut book = open(Some(path));
    assert!(matches!(book.accept(charge(1, 100)), Err(VoucherError::Io(_))));
    assert!(book.latest().is_none());
    assert_eq!(book.tokens(), 0);
    assert!(book.contract().is_none(), "a voucher that was not kept does not pin the book");
}

#[test]
fn invalid_proxy_key_is_refused_at_open() {
    let mut bad = [0u8; 32];
    bad[0] = 2;
    assert!(matches!(VoucherBook::open(None, VoucherKind::ClientCharge, None, bad), Err(VoucherError::InvalidKey)));
}
