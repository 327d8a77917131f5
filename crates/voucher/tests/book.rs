//! Holder-side book: validation, monotonicity and persistence.

use std::path::PathBuf;

use cocoon_voucher::{Accepted, SignedVoucher, Voucher, VoucherBook, VoucherError, VoucherKind};
use ed25519_dalek::SigningKey;

const ACCOUNT: [u8; 32] = [0x11; 32];

fn proxy() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
}

fn proxy_pk() -> [u8; 32] {
    proxy().verifying_key().to_bytes()
}

fn voucher(kind: VoucherKind, account: [u8; 32], query_id: u64, amount: u64) -> SignedVoucher {
    Voucher { kind, query_id, account, amount }.sign(&proxy()).unwrap()
}

fn charge(query_id: u64, amount: u64) -> SignedVoucher {
    voucher(VoucherKind::ClientCharge, ACCOUNT, query_id, amount)
}

fn open(path: Option<PathBuf>) -> VoucherBook {
    VoucherBook::open(path, VoucherKind::ClientCharge, ACCOUNT, proxy_pk()).unwrap()
}

#[test]
fn monotonic_accept_duplicate_and_reject() {
    let mut book = open(None);
    assert_eq!(book.amount(), 0);
    assert!(book.latest().is_none());

    assert_eq!(book.accept(charge(1, 100)).unwrap(), Accepted::New { amount: 100, delta: 100 });
    assert_eq!(book.accept(charge(2, 250)).unwrap(), Accepted::New { amount: 250, delta: 150 });
    assert_eq!(book.accept(charge(3, 250)).unwrap(), Accepted::Duplicate);
    assert_eq!(book.latest().unwrap().voucher.query_id, 2, "duplicate does not replace the latest");

    match book.accept(charge(4, 249)) {
        Err(VoucherError::NotMonotonic { latest: 250, got: 249 }) => {}
        other => panic!("expected NotMonotonic, got {other:?}"),
    }
    assert_eq!(book.amount(), 250);
    assert_eq!(book.latest().unwrap(), &charge(2, 250));
}

#[test]
fn foreign_vouchers_are_rejected_and_change_nothing() {
    let mut book = open(None);
    book.accept(charge(1, 10)).unwrap();

    let other_kind = voucher(VoucherKind::WorkerPayout, ACCOUNT, 2, 20);
    assert!(matches!(book.accept(other_kind), Err(VoucherError::WrongKind)));
    let other_account = voucher(VoucherKind::ClientCharge, [0x22; 32], 2, 20);
    assert!(matches!(book.accept(other_account), Err(VoucherError::WrongAccount)));
    let other_proxy = Voucher { kind: VoucherKind::ClientCharge, query_id: 2, account: ACCOUNT, amount: 20 }
        .sign(&SigningKey::from_bytes(&[22; 32]))
        .unwrap();
    assert!(matches!(book.accept(other_proxy), Err(VoucherError::BadSignature)));
    let mut forged = charge(2, 20);
    forged.voucher.amount = 1_000_000;
    assert!(matches!(book.accept(forged), Err(VoucherError::BadSignature)));

    assert_eq!(book.amount(), 10);
    assert_eq!(book.latest().unwrap(), &charge(1, 10));
}

#[test]
fn worker_book_accepts_payouts() {
    let mut book = VoucherBook::open(None, VoucherKind::WorkerPayout, ACCOUNT, proxy_pk()).unwrap();
    assert_eq!(book.kind(), VoucherKind::WorkerPayout);
    assert!(matches!(book.accept(charge(1, 5)), Err(VoucherError::WrongKind)));
    let payout = voucher(VoucherKind::WorkerPayout, ACCOUNT, 1, 5);
    assert_eq!(book.accept(payout).unwrap(), Accepted::New { amount: 5, delta: 5 });
}

#[test]
fn persisted_book_reloads_latest() {
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
    let book = open(Some(path.clone()));
    assert_eq!(book.amount(), 300);
    assert_eq!(book.latest().unwrap(), &charge(2, 300));
    assert_eq!(book.path(), Some(path.as_path()));

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["proxy_key"], hex::encode(proxy_pk()));
    assert_eq!(json["account"], hex::encode(ACCOUNT));
    assert_eq!(json["kind"], "client_charge");
    assert_eq!(json["voucher"], charge(2, 300).to_base64().unwrap());

    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("proxy-a.json")], "no temp files left behind");
}

#[test]
fn file_for_another_proxy_account_or_kind_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.json");
    open(Some(path.clone())).accept(charge(1, 100)).unwrap();

    let other_proxy = SigningKey::from_bytes(&[23; 32]).verifying_key().to_bytes();
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, ACCOUNT, other_proxy).unwrap();
    assert!(book.latest().is_none());
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, [0x33; 32], proxy_pk()).unwrap();
    assert!(book.latest().is_none());
    let book = VoucherBook::open(Some(path.clone()), VoucherKind::WorkerPayout, ACCOUNT, proxy_pk()).unwrap();
    assert!(book.latest().is_none());
    assert_eq!(open(Some(path)).amount(), 100, "the file itself is untouched");
}

#[test]
fn corrupt_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.json");
    let write_and_open = |contents: &str| {
        std::fs::write(&path, contents).unwrap();
        VoucherBook::open(Some(path.clone()), VoucherKind::ClientCharge, ACCOUNT, proxy_pk())
    };
    assert!(matches!(write_and_open("not json"), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(""), Err(VoucherError::Corrupt(_))));

    let good = charge(1, 100).to_base64().unwrap();
    let file = |proxy_key: &str, voucher: &str| {
        format!(
            r#"{{"proxy_key":"{proxy_key}","kind":"client_charge","account":"{}","voucher":"{voucher}"}}"#,
            hex::encode(ACCOUNT)
        )
    };
    let pk_hex = hex::encode(proxy_pk());
    assert_eq!(write_and_open(&file(&pk_hex, &good)).unwrap().amount(), 100, "control: well-formed file loads");
    assert!(matches!(write_and_open(&file("zz", &good)), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(&file("abcd", &good)), Err(VoucherError::Corrupt(_))));
    assert!(matches!(write_and_open(&file(&pk_hex, "AAAA")), Err(VoucherError::Corrupt(_))));

    // a parseable voucher whose signature does not match the (matching) proxy key
    let mut forged = charge(1, 100);
    forged.voucher.amount = 1_000_000;
    let forged = forged.to_base64().unwrap();
    assert!(matches!(write_and_open(&file(&pk_hex, &forged)), Err(VoucherError::Corrupt(_))));
    // right proxy and header, but the voucher inside is for another account
    let other = voucher(VoucherKind::ClientCharge, [0x44; 32], 1, 100).to_base64().unwrap();
    assert!(matches!(write_and_open(&file(&pk_hex, &other)), Err(VoucherError::Corrupt(_))));
}

#[test]
fn failed_persist_keeps_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("book.json");
    let mut book = open(Some(path));
    assert!(matches!(book.accept(charge(1, 100)), Err(VoucherError::Io(_))));
    assert!(book.latest().is_none());
    assert_eq!(book.amount(), 0);
}

#[test]
fn invalid_proxy_key_is_refused_at_open() {
    let mut bad = [0u8; 32];
    bad[0] = 2;
    assert!(matches!(VoucherBook::open(None, VoucherKind::ClientCharge, ACCOUNT, bad), Err(VoucherError::InvalidKey)));
}
