//! Money is conserved to the nanoton across random histories of deposits, requests that
//! succeed, fail or stop halfway, withdrawals, closes, group commits and proxy restarts
//! (memory dropped, books reloaded from disk).

use cocoon_ledger::{AccountId, Cost, Hold, Ledger, LedgerError, Prices, TokenCounts};
use cocoon_voucher::VoucherKind;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use std::collections::HashMap;

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
        let mut ledger = Ledger::open(&path, prices(), key.clone()).unwrap();
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
                        let cost = tokens.map(|(prompt, completion)| {
                            let u = TokenCounts { prompt, completion, ..TokenCounts::default() };
                            (prices().cost(&u, coefficient), id(2, worker))
                        });
                        let held = hold.amount;
                        let charge = ledger.settle(hold, cost);
                        prop_assert!(charge.client <= held && charge.worker <= charge.client);
                        if cost.is_none() {
                            prop_assert_eq!(charge.client, 0);
                        }
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
                        let e = vouchered.entry((v.voucher.kind, v.voucher.account)).or_default();
                        prop_assert!(v.voucher.amount > *e, "vouchers only grow");
                        *e = v.voucher.amount;
                    }
                }
                Op::Restart => {
                    in_flight.clear();
                    drop(ledger);
                    ledger = Ledger::open(&path, prices(), key.clone()).unwrap();
                }
            }
            let t = ledger.audit().map_err(TestCaseError::fail)?;
            prop_assert_eq!(t.reserved, in_flight.iter().map(|h| h.amount).sum::<u64>());
            // No acknowledged deposit or withdrawal is ever lost, restarts included.
            prop_assert_eq!(t.deposited, acked_deposits.values().sum::<u64>());
            prop_assert_eq!(t.withdrawn, acked_withdrawals.values().sum::<u64>());
            // No vouchered amount is ever lost: the books hold at least what was signed.
            for ((kind, account), amount) in &vouchered {
                let held = match kind {
                    VoucherKind::ClientCharge => ledger.client(account).map_or(0, |c| c.account.charged),
                    VoucherKind::WorkerPayout => ledger.worker(account).map_or(0, |w| w.earned),
                };
                prop_assert!(held >= *amount, "{kind:?} vouchered {amount} but books hold {held}");
                // And a client or worker presenting it is not taken for a rollback.
                let v = ledger.voucher(*kind, account).unwrap().unwrap();
                prop_assert!(ledger.check_presented(&v).is_ok());
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
        let ledger = Ledger::open(&dir.path().join("a.redb"), prices(), key.clone()).unwrap();
        ledger.deposit(&client, 10_000).unwrap();
        let h = ledger.reserve(&client, 1_000).unwrap();
        let cost = Cost { adjusted_tokens: 100, client: 300, worker: 200 };
        ledger.settle(h, Some((cost, id(2, 0))));
        let vs = ledger.commit().unwrap();
        assert_eq!(vs.len(), 2, "one voucher for the client, one for the worker");
        vs.into_iter().find(|v| v.voucher.kind == VoucherKind::ClientCharge).unwrap()
    };
    assert_eq!(presented.voucher.amount, 300);
    // A proxy whose database is an older copy (here: a fresh one) must refuse.
    let older = Ledger::open(&dir.path().join("b.redb"), prices(), key.clone()).unwrap();
    match older.check_presented(&presented) {
        Err(LedgerError::RolledBack { presented: 300, held: 0 }) => {}
        other => panic!("expected a rollback, got {other:?}"),
    }
    // A voucher from another proxy's key is not ours to judge.
    let other = Ledger::open(&dir.path().join("c.redb"), prices(), SigningKey::from_bytes(&[8; 32])).unwrap();
    assert!(matches!(other.check_presented(&presented), Err(LedgerError::ForeignVoucher)));
}

#[test]
fn uncommitted_usage_is_never_vouchered() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let ledger = Ledger::open(&dir.path().join("a.redb"), prices(), key).unwrap();
    let client = id(1, 0);
    ledger.deposit(&client, 10_000).unwrap();
    let mut rx = ledger.subscribe(VoucherKind::ClientCharge, &client);
    let h = ledger.reserve(&client, 1_000).unwrap();
    ledger.settle(h, Some((Cost { adjusted_tokens: 10, client: 30, worker: 20 }, id(2, 0))));
    assert_eq!(ledger.voucher(VoucherKind::ClientCharge, &client).unwrap(), None);
    assert!(!rx.has_changed().unwrap());
    ledger.commit().unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().as_ref().map(|v| v.voucher.amount), Some(30));
}
