//! The embedded settlement backend behaves like the contracts will: vouchers are checked as a
//! contract checks them, money only moves as the state machine allows, and state survives a
//! restart.

use cocoon_ledger::settlement::{EmbeddedSettlement, Settlement, SettlementError};
use cocoon_ledger::AccountState;
use cocoon_voucher::{Voucher, VoucherKind};
use ed25519_dalek::SigningKey;

const CLIENT: [u8; 32] = [1; 32];
const WORKER: [u8; 32] = [2; 32];

fn proxy_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn voucher(kind: VoucherKind, account: [u8; 32], amount: u64) -> cocoon_voucher::SignedVoucher {
    Voucher { kind, query_id: amount, account, amount }.sign(&proxy_key()).unwrap()
}

fn open(dir: &tempfile::TempDir) -> EmbeddedSettlement {
    EmbeddedSettlement::open(&dir.path().join("chain.redb"), proxy_key().verifying_key().to_bytes(), 100, 60).unwrap()
}

#[test]
fn deposit_charge_payout_withdraw_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let c = s.deposit(&CLIENT, 1_000).unwrap();
    assert_eq!((c.stake, c.balance), (100, 900));
    assert_eq!(s.proxy().unwrap().client_stakes, 100);

    let c = s.charge(&voucher(VoucherKind::ClientCharge, CLIENT, 300)).unwrap();
    assert_eq!((c.charged, c.balance), (300, 600));
    // The same voucher again, or an older one, moves nothing.
    assert!(matches!(
        s.charge(&voucher(VoucherKind::ClientCharge, CLIENT, 200)),
        Err(SettlementError::NotMonotonic { current: 300, got: 200 })
    ));
    assert_eq!(s.client(&CLIENT).unwrap().unwrap().charged, 300);

    let w = s.payout(&voucher(VoucherKind::WorkerPayout, WORKER, 250)).unwrap();
    assert_eq!(w.paid, 250);
    assert_eq!(s.proxy().unwrap().earned, 50);

    // Withdraw: balance only, never the stake.
    assert!(matches!(s.withdraw(&CLIENT, 601), Err(SettlementError::Insufficient { available: 600, required: 601 })));
    s.withdraw(&CLIENT, 100).unwrap();

    let c = s.request_close(&CLIENT, 1_000).unwrap();
    assert_eq!(c.state, AccountState::Closing { at: 1_060 });
    assert!(matches!(s.withdraw(&CLIENT, 1), Err(SettlementError::Closing)));
    let c = s.finish_close(&CLIENT, Some(&voucher(VoucherKind::ClientCharge, CLIENT, 350)), 1_001).unwrap();
    assert_eq!((c.charged, c.withdrawn, c.balance, c.stake, c.state), (350, 650, 0, 0, AccountState::Closed));
    s.audit().unwrap();
}

#[test]
fn vouchers_are_checked_like_a_contract_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.deposit(&CLIENT, 1_000).unwrap();
    let forged = Voucher { kind: VoucherKind::ClientCharge, query_id: 1, account: CLIENT, amount: 900 }
        .sign(&SigningKey::from_bytes(&[9; 32]))
        .unwrap();
    assert!(matches!(s.charge(&forged), Err(SettlementError::Voucher(_))));
    assert!(matches!(s.charge(&voucher(VoucherKind::WorkerPayout, CLIENT, 10)), Err(SettlementError::WrongKind)));
    assert!(matches!(s.payout(&voucher(VoucherKind::ClientCharge, WORKER, 10)), Err(SettlementError::WrongKind)));
    // A charge larger than balance and stake together is refused, not half-applied.
    assert!(matches!(
        s.charge(&voucher(VoucherKind::ClientCharge, CLIENT, 1_001)),
        Err(SettlementError::Insufficient { .. })
    ));
    assert_eq!(s.client(&CLIENT).unwrap().unwrap().charged, 0);
    // Usage beyond the balance is covered by the stake.
    let c = s.charge(&voucher(VoucherKind::ClientCharge, CLIENT, 950)).unwrap();
    assert_eq!((c.balance, c.stake), (0, 50));
    s.audit().unwrap();
}

#[test]
fn forced_refund_when_the_proxy_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.stake_proxy(10_000).unwrap();
    s.deposit(&CLIENT, 1_000).unwrap();
    s.request_close(&CLIENT, 1_000).unwrap();
    assert!(matches!(s.force_refund(&CLIENT, 1_059), Err(SettlementError::TooEarly { at: 1_060 })));
    let c = s.force_refund(&CLIENT, 1_060).unwrap();
    assert!(c.forced);
    assert_eq!((c.withdrawn, c.state), (1_000, AccountState::Closed));
    // The proxy had vouchered 400 to a worker for that client's usage and never charged it:
    // its own stake pays the worker.
    s.payout(&voucher(VoucherKind::WorkerPayout, WORKER, 400)).unwrap();
    let p = s.proxy().unwrap();
    assert_eq!((p.own_stake, p.paid_to_workers), (9_600, 400));
    s.audit().unwrap();
}

#[test]
fn contracts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(&dir);
        s.deposit(&CLIENT, 1_000).unwrap();
        s.charge(&voucher(VoucherKind::ClientCharge, CLIENT, 10)).unwrap();
    }
    let s = open(&dir);
    let c = s.client(&CLIENT).unwrap().unwrap();
    assert_eq!((c.deposited, c.charged, c.balance, c.stake), (1_000, 10, 890, 100));
    s.audit().unwrap();
}
