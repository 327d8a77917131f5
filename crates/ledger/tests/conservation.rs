//! Money is conserved to the nanoton across random histories of deposits, requests that
//! succeed, fail or stop halfway, withdrawals, closes, group commits and proxy restarts
//! (memory dropped, books reloaded from disk).

use cocoon_ledger::settlement::embedded_contract_address;
use cocoon_ledger::{AccountId, ContractAddressOf, Hold, Ledger, LedgerError, Prices, TokenCounts};
use cocoon_voucher::{SignedVoucher, VoucherKind};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const CLIENTS: u8 = 3;
const WORKERS: u8 = 2;

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        client: u8,
        amount: u64,
    },
    /// Starts a request: reserves its maximum cost.
    Begin {
        client: u8,
        max_tokens: u64,
    },
    /// Ends the oldest request in flight: `None` failed before output; `Some` produced tokens
    /// (a partial answer is just fewer tokens).
    End {
        worker: u8,
        tokens: Option<(u64, u64)>,
        coefficient: u32,
    },
    Withdraw {
        client: u8,
        amount: u64,
    },
    Stake {
        client: u8,
        amount: u64,
    },
    Close {
        client: u8,
    },
    FinishClose {
        client: u8,
    },
    Commit,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..CLIENTS, 1u64..5_000).prop_map(|(client, amount)| Op::Deposit { client, amount }),
        4 => (0..CLIENTS, 1u64..300).prop_map(|(client, max_tokens)| Op::Begin { client, max_tokens }),
        4 => (0..WORKERS, proptest::option::of((0u64..200, 0u64..300)), 500u32..2000)
            .prop_map(|(worker, tokens, coefficient)| Op::End { worker, tokens, coefficient }),
        1 => (0..CLIENTS, 1u64..3_000).prop_map(|(client, amount)| Op::Withdraw { client, amount }),
        1 => (0..CLIENTS, 1u64..500).prop_map(|(client, amount)| Op::Stake { client, amount }),
        1 => (0..CLIENTS).prop_map(|client| Op::Close { client }),
        1 => (0..CLIENTS).prop_map(|client| Op::FinishClose { client }),
        2 => Just(Op::Commit),
        1 => Just(Op::Restart),
    ]
}

fn id(kind: u8, n: u8) -> AccountId {
    let mut a = [0u8; 32];
    a[0] = kind;
    a[1] = n;
    a
}

fn open(path: &Path, key: &SigningKey) -> Ledger {
    let address_of: ContractAddressOf = Arc::new(embedded_contract_address);
    Ledger::open(path, prices(), key.clone(), address_of).unwrap()
}

/// The account a voucher is for: the one whose contract it names.
fn owner(v: &SignedVoucher) -> AccountId {
    let (kind, n) = if v.voucher.kind.is_client() { (1, CLIENTS) } else { (2, WORKERS) };
    (0..n)
        .map(|i| id(kind, i))
        .find(|a| embedded_contract_address(v.voucher.kind, a) == v.voucher.contract)
        .expect("a voucher names a known account's contract")
}

fn prices() -> Prices {
    Prices {
        price_per_token: 3,
        worker_fee_per_token: 2,
        min_client_stake: 100,
        close_delay_secs: 0,
        ..Prices::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_nanoton_stays_in_exactly_one_place(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut ledger = open(&path, &key);
        let mut in_flight: Vec<Hold> = Vec::new();
        let mut acked_deposits: HashMap<AccountId, u64> = HashMap::new();
        let mut acked_withdrawals: HashMap<AccountId, u64> = HashMap::new();
        let mut vouchered: HashMap<(VoucherKind, AccountId), u64> = HashMap::new();
        let mut now = 1_000u64;

        for op in ops {
            now += 1;
            match op {
                Op::Deposit { client, amount } => {
                    if ledger.deposit(&id(1, client), amount).is_ok() {
                        *acked_deposits.entry(id(1, client)).or_default() += amount;
                    }
                }
                Op::Begin { client, max_tokens } => {
                    let before = ledger.audit().unwrap();
                    match ledger.reserve(&id(1, client), prices().max_cost(max_tokens, 2000)) {
                        Ok(h) => in_flight.push(h),
                        // A refusal changes nothing.
                        Err(_) => prop_assert_eq!(ledger.audit().unwrap(), before),
                    }
                }
                Op::End { worker, tokens, coefficient } => {
                    if !in_flight.is_empty() {
                        let hold = in_flight.remove(0);
                        let usage = tokens.map(|(prompt, completion)| {
                            let u = TokenCounts { prompt, completion, ..TokenCounts::default() };
                            (prices().cost(&u, coefficient).adjusted_tokens, id(2, worker))
                        });
                        let held = hold.amount;
                        let charge = ledger.settle(hold, usage);
                        prop_assert!(charge.client <= held && charge.worker <= charge.client);
                        // Whole tokens at the price and the fee, never more than were served.
                        prop_assert_eq!(charge.client, charge.tokens * prices().price_per_token);
                        prop_assert_eq!(charge.worker, charge.tokens * prices().worker_fee_per_token);
                        prop_assert!(charge.tokens <= usage.map_or(0, |(t, _)| t));
                    }
                }
                Op::Withdraw { client, amount } => {
                    if ledger.withdraw(&id(1, client), amount).is_ok() {
                        *acked_withdrawals.entry(id(1, client)).or_default() += amount;
                    }
                }
                Op::Stake { client, amount } => { let _ = ledger.stake(&id(1, client), amount); }
                Op::Close { client } => { let _ = ledger.close(&id(1, client), now); }
                Op::FinishClose { client } => {
                    if let Ok(refund) = ledger.finish_close(&id(1, client), now) {
                        *acked_withdrawals.entry(id(1, client)).or_default() += refund;
                    }
                }
                Op::Commit => {
                    for v in ledger.commit().unwrap() {
                        v.verify(&key.verifying_key().to_bytes()).unwrap();
                        let e = vouchered.entry((v.voucher.kind, owner(&v))).or_default();
                        prop_assert!(v.voucher.tokens > *e, "vouchers only grow");
                        *e = v.voucher.tokens;
                    }
                }
                Op::Restart => {
                    in_flight.clear();
                    drop(ledger);
                    ledger = open(&path, &key);
                }
            }
            let t = ledger.audit().map_err(TestCaseError::fail)?;
            prop_assert_eq!(t.reserved, in_flight.iter().map(|h| h.amount).sum::<u64>());
            // No acknowledged deposit or withdrawal is ever lost, restarts included.
            prop_assert_eq!(t.deposited, acked_deposits.values().sum::<u64>());
            prop_assert_eq!(t.withdrawn, acked_withdrawals.values().sum::<u64>());
            // No vouchered token is ever lost: the books hold at least what was signed.
            for ((kind, account), tokens) in &vouchered {
                let held = if kind.is_client() {
                    ledger.client(account).map_or(0, |c| c.account.charged_tokens)
                } else {
                    ledger.worker(account).map_or(0, |w| w.earned_tokens)
                };
                prop_assert!(held >= *tokens, "{kind:?} vouchered {tokens} but books hold {held}");
                // And a client or worker presenting it is not taken for a rollback.
                let v = ledger.voucher(*kind, account).unwrap().unwrap();
                prop_assert!(ledger.check_presented(account, &v).is_ok());
            }
        }
    }
}

#[test]
fn a_voucher_above_the_database_is_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let client = id(1, 0);
    let presented = {
        let ledger = open(&dir.path().join("a.redb"), &key);
        ledger.deposit(&client, 10_000).unwrap();
        let h = ledger.reserve(&client, 1_000).unwrap();
        let charge = ledger.settle(h, Some((100, id(2, 0))));
        assert_eq!((charge.tokens, charge.client, charge.worker), (100, 300, 200));
        let vs = ledger.commit().unwrap();
        assert_eq!(vs.len(), 2, "one voucher for the client, one for the worker");
        let worker = vs.iter().find(|v| v.voucher.kind == VoucherKind::WorkerPayout).unwrap();
        assert_eq!(worker.voucher.contract, embedded_contract_address(VoucherKind::WorkerPayout, &id(2, 0)));
        vs.into_iter().find(|v| v.voucher.kind == VoucherKind::ClientCharge).unwrap()
    };
    assert_eq!(presented.voucher.tokens, 100, "vouchers carry tokens, not nanotons");
    assert_eq!(presented.voucher.contract, embedded_contract_address(VoucherKind::ClientCharge, &client));
    // A proxy whose database is an older copy (here: a fresh one) must refuse.
    let older = open(&dir.path().join("b.redb"), &key);
    match older.check_presented(&client, &presented) {
        Err(LedgerError::RolledBack { presented: 100, held: 0 }) => {}
        other => panic!("expected a rollback, got {other:?}"),
    }
    // Presented by someone whose contract it does not name, it proves nothing.
    assert!(matches!(older.check_presented(&id(1, 1), &presented), Err(LedgerError::OtherContract { .. })));
    // A voucher from another proxy's key is not ours to judge.
    let other = open(&dir.path().join("c.redb"), &SigningKey::from_bytes(&[8; 32]));
    assert!(matches!(other.check_presented(&client, &presented), Err(LedgerError::ForeignVoucher)));
}

#[test]
fn uncommitted_usage_is_never_vouchered() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let ledger = open(&dir.path().join("a.redb"), &key);
    let client = id(1, 0);
    ledger.deposit(&client, 10_000).unwrap();
    let mut rx = ledger.subscribe(VoucherKind::ClientCharge, &client);
    let h = ledger.reserve(&client, 1_000).unwrap();
    ledger.settle(h, Some((10, id(2, 0))));
    assert_eq!(ledger.voucher(VoucherKind::ClientCharge, &client).unwrap(), None);
    assert!(!rx.has_changed().unwrap());
    ledger.commit().unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().as_ref().map(|v| v.voucher.tokens), Some(10));
}

#[test]
fn a_grant_refund_voucher_carries_the_charged_tokens_for_the_client_contract() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let ledger = open(&dir.path().join("a.redb"), &key);
    let client = id(1, 0);
    ledger.deposit(&client, 10_000).unwrap();
    // Even with nothing charged, the close needs its (zero-token) grant refund.
    let zero = ledger.voucher(VoucherKind::GrantRefund, &client).unwrap().unwrap();
    assert_eq!(zero.voucher.tokens, 0);
    let h = ledger.reserve(&client, 1_000).unwrap();
    ledger.settle(h, Some((7, id(2, 0))));
    ledger.commit().unwrap();
    let refund = ledger.voucher(VoucherKind::GrantRefund, &client).unwrap().unwrap();
    let charge = ledger.voucher(VoucherKind::ClientCharge, &client).unwrap().unwrap();
    assert_eq!((refund.voucher.kind, refund.voucher.tokens), (VoucherKind::GrantRefund, 7));
    assert_eq!(refund.voucher.contract, charge.voucher.contract, "one client contract takes both");
    ledger.check_presented(&client, &refund).unwrap();
}

#[test]
fn scans_of_many_accounts_see_every_account_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(&dir.path().join("ledger.redb"), &SigningKey::from_bytes(&[3; 32]));
    let n = 2 * cocoon_ledger::ledger::SCAN_BATCH + 7;
    let mut closing = Vec::new();
    for i in 0..n {
        let mut a = [0u8; 32];
        a[..8].copy_from_slice(&(i as u64).to_be_bytes());
        ledger.deposit(&a, 1_000).unwrap();
        if i % 300 == 0 {
            ledger.close(&a, 5).unwrap();
            closing.push(a);
        }
    }
    assert_eq!(ledger.accounts().clients.len(), n);
    let mut due = ledger.closes_due(10);
    due.sort();
    assert_eq!(due, closing, "every due close, across batch boundaries");
    assert!(ledger.closes_due(4).is_empty(), "none before its time");
}
