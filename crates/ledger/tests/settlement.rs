//! The embedded settlement backend behaves like the contracts will: vouchers are checked as a
//! contract checks them (signature, kind, its own address, growing tokens), the growth moves
//! at the price (or fee) per token, money only moves as the state machine allows, and state
//! survives a restart.

use cocoon_ledger::settlement::{embedded_contract_address, EmbeddedSettlement, Settlement, SettlementError};
use cocoon_ledger::{AccountState, Prices};
use cocoon_voucher::{SignedVoucher, Voucher, VoucherKind};
use ed25519_dalek::SigningKey;

const CLIENT: [u8; 32] = [1; 32];
const OTHER_CLIENT: [u8; 32] = [3; 32];
const WORKER: [u8; 32] = [2; 32];

fn proxy_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// 3 nanotons per token for the client, 2 for the worker; stake 100, close delay 60 s.
fn prices() -> Prices {
    Prices {
        price_per_token: 3,
        worker_fee_per_token: 2,
        min_client_stake: 100,
        close_delay_secs: 60,
        ..Prices::default()
    }
}

/// A voucher for `account`'s own contract.
fn voucher(kind: VoucherKind, account: [u8; 32], tokens: u64) -> SignedVoucher {
    let contract = embedded_contract_address(kind, &account);
    Voucher { kind, query_id: tokens, tokens, contract }.sign(&proxy_key()).unwrap()
}

fn open(dir: &tempfile::TempDir) -> EmbeddedSettlement {
    EmbeddedSettlement::open(&dir.path().join("chain.redb"), proxy_key().verifying_key().to_bytes(), &prices()).unwrap()
}

#[test]
fn contract_addresses_are_per_account_and_side() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let charge = s.contract_address(VoucherKind::ClientCharge, &CLIENT);
    assert_eq!(charge.workchain, 0);
    assert_eq!(s.contract_address(VoucherKind::GrantRefund, &CLIENT), charge, "one client contract");
    assert_ne!(s.contract_address(VoucherKind::WorkerPayout, &CLIENT), charge);
    assert_ne!(s.contract_address(VoucherKind::ClientCharge, &OTHER_CLIENT), charge);
    assert_eq!(charge, embedded_contract_address(VoucherKind::ClientCharge, &CLIENT));
}

#[test]
fn deposit_charge_payout_withdraw_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let c = s.deposit(&CLIENT, 1_000).unwrap();
    assert_eq!((c.stake, c.balance), (100, 900));
    assert_eq!(s.proxy().unwrap().client_stakes, 100);

    let c = s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 100)).unwrap();
    assert_eq!((c.charged_tokens, c.charged, c.balance), (100, 300, 600));
    // The same voucher again moves nothing; an older one is refused.
    let c = s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 100)).unwrap();
    assert_eq!((c.charged, c.balance), (300, 600));
    assert!(matches!(
        s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 60)),
        Err(SettlementError::NotMonotonic { current: 100, got: 60 })
    ));
    assert_eq!(s.client(&CLIENT).unwrap().unwrap().charged, 300);

    let w = s.payout(&WORKER, &voucher(VoucherKind::WorkerPayout, WORKER, 100)).unwrap();
    assert_eq!((w.paid_tokens, w.paid), (100, 200));
    assert_eq!(s.proxy().unwrap().earned, 100);
    assert!(matches!(
        s.payout(&WORKER, &voucher(VoucherKind::WorkerPayout, WORKER, 100)),
        Err(SettlementError::NotMonotonic { current: 100, got: 100 })
    ));

    // Withdraw: balance only, never the stake.
    assert!(matches!(s.withdraw(&CLIENT, 601), Err(SettlementError::Insufficient { available: 600, required: 601 })));
    s.withdraw(&CLIENT, 100).unwrap();

    let c = s.request_close(&CLIENT, 1_000).unwrap();
    assert_eq!(c.state, AccountState::Closing { at: 1_060 });
    assert!(matches!(s.withdraw(&CLIENT, 1), Err(SettlementError::Closing)));
    // The close takes a grant refund, not a charge voucher.
    let charge = voucher(VoucherKind::ClientCharge, CLIENT, 110);
    assert!(matches!(s.finish_close(&CLIENT, Some(&charge), 1_001), Err(SettlementError::WrongKind)));
    let c = s.finish_close(&CLIENT, Some(&voucher(VoucherKind::GrantRefund, CLIENT, 110)), 1_001).unwrap();
    assert_eq!(
        (c.charged_tokens, c.charged, c.withdrawn, c.balance, c.stake, c.state),
        (110, 330, 670, 0, 0, AccountState::Closed)
    );
    s.audit().unwrap();
}

#[test]
fn vouchers_are_checked_like_a_contract_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.deposit(&CLIENT, 1_000).unwrap();
    s.deposit(&OTHER_CLIENT, 1_000).unwrap();
    let contract = embedded_contract_address(VoucherKind::ClientCharge, &CLIENT);
    let forged = Voucher { kind: VoucherKind::ClientCharge, query_id: 1, tokens: 300, contract }
        .sign(&SigningKey::from_bytes(&[9; 32]))
        .unwrap();
    assert!(matches!(s.charge(&CLIENT, &forged), Err(SettlementError::Voucher(_))));
    let mut tampered = voucher(VoucherKind::ClientCharge, CLIENT, 30);
    tampered.voucher.tokens = 300;
    assert!(matches!(s.charge(&CLIENT, &tampered), Err(SettlementError::Voucher(_))));
    assert!(matches!(
        s.charge(&CLIENT, &voucher(VoucherKind::WorkerPayout, CLIENT, 10)),
        Err(SettlementError::WrongKind)
    ));
    assert!(matches!(
        s.payout(&WORKER, &voucher(VoucherKind::ClientCharge, WORKER, 10)),
        Err(SettlementError::WrongKind)
    ));
    // A voucher for one client's contract sent to another's is refused, as is a grant refund
    // used as a charge.
    let theirs = voucher(VoucherKind::ClientCharge, OTHER_CLIENT, 10);
    assert!(matches!(s.charge(&CLIENT, &theirs), Err(SettlementError::WrongContract { .. })));
    assert!(matches!(
        s.charge(&CLIENT, &voucher(VoucherKind::GrantRefund, CLIENT, 10)),
        Err(SettlementError::WrongKind)
    ));
    // A charge larger than balance and stake together (334 tokens = 1002) is refused, not
    // half-applied.
    assert!(matches!(
        s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 334)),
        Err(SettlementError::Insufficient { .. })
    ));
    assert_eq!(s.client(&CLIENT).unwrap().unwrap().charged, 0);
    // Usage beyond the balance is covered by the stake: 316 tokens = 948 = 900 + 48.
    let c = s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 316)).unwrap();
    assert_eq!((c.balance, c.stake), (0, 52));
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
    // The proxy had vouchered 200 tokens (400 nanotons) to a worker for that client's usage
    // and never charged it: its own stake pays the worker.
    s.payout(&WORKER, &voucher(VoucherKind::WorkerPayout, WORKER, 200)).unwrap();
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
        s.charge(&CLIENT, &voucher(VoucherKind::ClientCharge, CLIENT, 10)).unwrap();
    }
    let s = open(&dir);
    let c = s.client(&CLIENT).unwrap().unwrap();
    assert_eq!((c.deposited, c.charged_tokens, c.charged, c.balance, c.stake), (1_000, 10, 30, 870, 100));
    s.audit().unwrap();
}

#[test]
fn a_file_from_before_token_counters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    {
        // What the previous version wrote: contracts without token counters, no format marker.
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("client_contracts");
            let row = br#"{"deposited":10,"withdrawn":0,"charged":4,"balance":6,"stake":0,"state":"open"}"#;
            txn.open_table(table).unwrap().insert(CLIENT.as_slice(), row.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let key = proxy_key().verifying_key().to_bytes();
    assert!(matches!(EmbeddedSettlement::open(&path, key, &prices()), Err(SettlementError::Format(_))));
}
