//! The proxy's books: client accounts, worker earnings and the commission, as a pure state
//! machine with no I/O.
//!
//! Every operation validates first and changes nothing when it fails. Reservations are held
//! in memory only: they are promises about requests in flight, and a restarted proxy has none,
//! so their money returns to the client's available balance. [`Books::audit`] checks that every
//! nanoton ever deposited is in exactly one place.
//!
//! Next to each cumulative nanoton counter the books keep the cumulative adjusted tokens it came
//! from (`charged_tokens`, `earned_tokens`): vouchers carry tokens, and the contracts multiply by
//! their price. A charge is always a whole number of tokens, so `charged = charged_tokens x price`
//! and `earned = earned_tokens x fee` hold exactly ([`Books::audit_prices`]).

use crate::prices::{Nanotons, Prices};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// An account's identity: its owner's Ed25519 public key (the key in its RA-TLS certificate).
pub type AccountId = [u8; 32];

/// Where a client account is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AccountState {
    /// In use: requests are served and money moves.
    #[default]
    Open,
    /// The client asked to close; its stake comes back at unix time `at`.
    Closing {
        /// Unix time the close delay ends.
        at: u64,
    },
    /// Closed: balance and stake went back; a new deposit reopens it.
    Closed,
}

/// One client's money at this proxy. Invariant: `deposited = balance + stake + charged + withdrawn`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccount {
    /// Everything the client ever paid in.
    pub deposited: Nanotons,
    /// Everything returned to the client (withdrawals and the refund at close).
    pub withdrawn: Nanotons,
    /// Cumulative charges for served tokens, in nanotons: `charged_tokens x price_per_token`.
    pub charged: Nanotons,
    /// Cumulative adjusted tokens charged: what its vouchers carry.
    pub charged_tokens: u64,
    /// Spendable funds; in-flight reservations are holds on this.
    pub balance: Nanotons,
    /// Collateral: not spendable, returned only at close.
    pub stake: Nanotons,
    /// Open, closing or closed.
    #[serde(flatten)]
    pub state: AccountState,
    /// Part of `charged` the chain can no longer collect: usage the proxy served but never
    /// charged on chain before the client took the money back (a forced refund, or withdrawals
    /// beyond balance and stake). Only the TON backend's sync ([`Books::sync_client`]) sets it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unpaid: Nanotons,
}

fn is_zero(n: &Nanotons) -> bool {
    *n == 0
}

/// One worker's earnings at this proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerAccount {
    /// Cumulative earnings in nanotons: `earned_tokens x worker_fee_per_token`.
    pub earned: Nanotons,
    /// Cumulative adjusted tokens earned: what its vouchers carry.
    pub earned_tokens: u64,
    /// How much of that has been paid out on settlement.
    pub paid_out: Nanotons,
}

/// Why the books refused an operation (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BooksError {
    /// The client has never deposited.
    #[error("no account for this client; deposit first")]
    UnknownAccount,
    /// Not enough available balance.
    #[error("insufficient balance: available {available} nanotons, required {required}")]
    Insufficient {
        /// What the client can spend now.
        available: Nanotons,
        /// What the operation needs.
        required: Nanotons,
    },
    /// The stake is under the network's minimum.
    #[error("stake {stake} nanotons is below the minimum {required}; deposit more")]
    StakeTooLow {
        /// The client's stake.
        stake: Nanotons,
        /// The minimum.
        required: Nanotons,
    },
    /// The account is closing.
    #[error("account is closing; it can no longer be used")]
    Closing,
    /// The account is closed.
    #[error("account is closed")]
    Closed,
    /// Finishing a close that was never asked for.
    #[error("account is not closing")]
    NotClosing,
    /// The close delay has not passed yet.
    #[error("the stake comes back at unix time {at}")]
    TooEarly {
        /// When it has.
        at: u64,
    },
    /// Requests still hold part of the balance.
    #[error("{0} request(s) still in flight")]
    InFlight(u32),
    /// A zero amount.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A counter would overflow.
    #[error("amount overflows")]
    Overflow,
    /// The request would let usage not yet charged on chain pass the client's stake
    /// (Cocoon's rule: the stake is what guarantees the proxy gets paid).
    #[error(
        "usage not yet charged on chain ({uncharged} nanotons with this request) would exceed the stake ({stake}); \
         a charge is being submitted: retry in a few seconds, or increase the stake"
    )]
    UnchargedOverStake {
        /// Uncharged usage plus holds plus this request.
        uncharged: Nanotons,
        /// The client's stake.
        stake: Nanotons,
    },
    /// The chain holds a charge for more tokens than these books ever charged: the books are
    /// older than the chain (rolled back), or the contract is not this proxy's.
    #[error("the chain charged {chain} tokens but the books only ever charged {books}; the books were rolled back")]
    ChainAhead {
        /// Tokens charged on chain.
        chain: u64,
        /// Tokens charged in the books.
        books: u64,
    },
}

/// A hold on a client's balance for one request in flight.
#[derive(Debug, PartialEq, Eq)]
pub struct Hold {
    /// Whose balance is held.
    pub client: AccountId,
    /// How much, in nanotons.
    pub amount: Nanotons,
}

/// What a settled request moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charge {
    /// Adjusted tokens charged (never more than the request's, nor than its hold covers).
    pub tokens: u64,
    /// Charged to the client: `tokens x price_per_token`.
    pub client: Nanotons,
    /// Credited to the worker: `tokens x worker_fee_per_token`.
    pub worker: Nanotons,
}

/// Totals over all accounts, for `/stats` and for checking the books from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Everything clients paid in.
    pub deposited: Nanotons,
    /// Everything returned to clients.
    pub withdrawn: Nanotons,
    /// Spendable client balances (not held).
    pub client_available: Nanotons,
    /// Held for requests in flight.
    pub reserved: Nanotons,
    /// Client stakes.
    pub staked: Nanotons,
    /// Cumulative charges.
    pub charged: Nanotons,
    /// Cumulative adjusted tokens charged.
    pub charged_tokens: u64,
    /// Cumulative worker earnings.
    pub worker_earned: Nanotons,
    /// Cumulative adjusted tokens workers earned.
    pub worker_earned_tokens: u64,
    /// Paid out to workers on settlement.
    pub worker_paid_out: Nanotons,
    /// The proxy's cumulative commission.
    pub commission: Nanotons,
}

#[derive(Debug, Clone, Default)]
struct Reserved {
    amount: Nanotons,
    count: u32,
}

/// The proxy's books: every client account, every worker's earnings and the commission.
#[derive(Debug, Clone, Default)]
pub struct Books {
    /// Client accounts.
    pub clients: BTreeMap<AccountId, ClientAccount>,
    /// Worker earnings.
    pub workers: BTreeMap<AccountId, WorkerAccount>,
    /// The proxy's cumulative commission.
    pub commission: Nanotons,
    reserved: HashMap<AccountId, Reserved>,
}

pub(crate) fn add(a: Nanotons, b: Nanotons) -> Result<Nanotons, BooksError> {
    a.checked_add(b).ok_or(BooksError::Overflow)
}

impl Books {
    /// Books loaded from storage (no reservations: nothing is in flight after a restart).
    pub fn from_parts(
        clients: BTreeMap<AccountId, ClientAccount>,
        workers: BTreeMap<AccountId, WorkerAccount>,
        commission: Nanotons,
    ) -> Self {
        Books { clients, workers, commission, reserved: HashMap::new() }
    }

    /// What `client` holds for in-flight requests.
    pub fn reserved(&self, client: &AccountId) -> Nanotons {
        self.reserved.get(client).map_or(0, |r| r.amount)
    }

    /// What `client` can spend or withdraw right now.
    pub fn available(&self, client: &AccountId) -> Nanotons {
        self.clients.get(client).map_or(0, |a| a.balance.saturating_sub(self.reserved(client)))
    }

    fn open_account(&self, client: &AccountId) -> Result<&ClientAccount, BooksError> {
        let a = self.clients.get(client).ok_or(BooksError::UnknownAccount)?;
        match a.state {
            AccountState::Open => Ok(a),
            AccountState::Closing { .. } => Err(BooksError::Closing),
            AccountState::Closed => Err(BooksError::Closed),
        }
    }

    /// Credits a deposit: it first tops the stake up to `min_stake`, the rest is spendable.
    /// A closed account is reopened; a closing one refuses.
    pub fn deposit(&mut self, client: AccountId, amount: Nanotons, min_stake: Nanotons) -> Result<(), BooksError> {
        if amount == 0 {
            return Err(BooksError::ZeroAmount);
        }
        let mut a = self.clients.get(&client).cloned().unwrap_or_default();
        if let AccountState::Closing { .. } = a.state {
            return Err(BooksError::Closing);
        }
        let to_stake = min_stake.saturating_sub(a.stake).min(amount);
        a.deposited = add(a.deposited, amount)?;
        a.stake = add(a.stake, to_stake)?;
        a.balance = add(a.balance, amount - to_stake)?;
        a.state = AccountState::Open;
        self.clients.insert(client, a);
        Ok(())
    }

    /// Moves spendable funds into the stake.
    pub fn stake(&mut self, client: &AccountId, amount: Nanotons) -> Result<(), BooksError> {
        self.take_available(client, amount)?;
        let a = self.clients.get_mut(client).ok_or(BooksError::UnknownAccount)?;
        a.balance -= amount;
        a.stake += amount;
        Ok(())
    }

    /// Returns spendable funds (never the stake) to the client.
    pub fn withdraw(&mut self, client: &AccountId, amount: Nanotons) -> Result<(), BooksError> {
        self.take_available(client, amount)?;
        let a = self.clients.get_mut(client).ok_or(BooksError::UnknownAccount)?;
        a.balance -= amount;
        a.withdrawn += amount;
        Ok(())
    }

    fn take_available(&self, client: &AccountId, amount: Nanotons) -> Result<(), BooksError> {
        if amount == 0 {
            return Err(BooksError::ZeroAmount);
        }
        self.open_account(client)?;
        let available = self.available(client);
        if available < amount {
            return Err(BooksError::Insufficient { available, required: amount });
        }
        Ok(())
    }

    /// Starts closing: no new requests; the stake comes back at `now + delay`.
    pub fn close(&mut self, client: &AccountId, now: u64, delay: u64) -> Result<u64, BooksError> {
        self.open_account(client)?;
        let at = now.saturating_add(delay);
        if let Some(a) = self.clients.get_mut(client) {
            a.state = AccountState::Closing { at };
        }
        Ok(at)
    }

    /// Ends a close whose delay has passed: balance and stake go back to the client.
    /// Returns the refund.
    pub fn finish_close(&mut self, client: &AccountId, now: u64) -> Result<Nanotons, BooksError> {
        let a = self.clients.get(client).ok_or(BooksError::UnknownAccount)?;
        let AccountState::Closing { at } = a.state else {
            return Err(BooksError::NotClosing);
        };
        if now < at {
            return Err(BooksError::TooEarly { at });
        }
        if let Some(r) = self.reserved.get(client).filter(|r| r.count > 0) {
            return Err(BooksError::InFlight(r.count));
        }
        let a = self.clients.get_mut(client).ok_or(BooksError::UnknownAccount)?;
        let refund = a.balance + a.stake;
        a.withdrawn += refund;
        a.balance = 0;
        a.stake = 0;
        a.state = AccountState::Closed;
        Ok(refund)
    }

    /// Holds `amount` of the client's balance for a request; refuses with the balance and the
    /// amount required when it cannot.
    pub fn reserve(&mut self, client: AccountId, amount: Nanotons, min_stake: Nanotons) -> Result<Hold, BooksError> {
        self.reserve_within(client, amount, min_stake, None)
    }

    /// [`Books::reserve`], and with `on_chain` = (tokens the client's contract has been
    /// charged for, price per token) also refuses a request that would let the usage not yet
    /// charged on chain, plus every hold, pass the stake ([`BooksError::UnchargedOverStake`]).
    pub fn reserve_within(
        &mut self,
        client: AccountId,
        amount: Nanotons,
        min_stake: Nanotons,
        on_chain: Option<(u64, Nanotons)>,
    ) -> Result<Hold, BooksError> {
        let a = self.open_account(&client)?;
        if a.stake < min_stake {
            return Err(BooksError::StakeTooLow { stake: a.stake, required: min_stake });
        }
        let available = self.available(&client);
        if available < amount {
            return Err(BooksError::Insufficient { available, required: amount });
        }
        if let Some((on_chain, price)) = on_chain {
            let uncharged = u128::from(a.charged_tokens.saturating_sub(on_chain)) * u128::from(price)
                + u128::from(self.reserved(&client))
                + u128::from(amount);
            if uncharged > u128::from(a.stake) {
                let uncharged = Nanotons::try_from(uncharged).unwrap_or(Nanotons::MAX);
                return Err(BooksError::UnchargedOverStake { uncharged, stake: a.stake });
            }
        }
        let r = self.reserved.entry(client).or_default();
        r.amount += amount;
        r.count += 1;
        Ok(Hold { client, amount })
    }

    /// Ends a request that produced `usage` = (adjusted tokens, worker): charges whole tokens,
    /// at most as many as the hold (and the balance) pays for at `prices.price_per_token`,
    /// credits the worker the same tokens at its fee (never more than the charge), books the
    /// difference as commission and releases the rest of the hold.
    pub fn settle(&mut self, hold: Hold, usage: Option<(u64, AccountId)>, prices: &Prices) -> Charge {
        if let Some(r) = self.reserved.get_mut(&hold.client) {
            r.amount = r.amount.saturating_sub(hold.amount);
            r.count = r.count.saturating_sub(1);
            if r.count == 0 {
                self.reserved.remove(&hold.client);
            }
        }
        let Some((adjusted, worker)) = usage else { return Charge::default() };
        let Some(a) = self.clients.get_mut(&hold.client) else { return Charge::default() };
        let price = prices.price_per_token;
        // Whole tokens only, so that charged = charged_tokens x price stays exact; a price of
        // zero (refused by Prices::validate) charges nothing.
        let affordable = hold.amount.min(a.balance).checked_div(price).unwrap_or(0);
        let tokens = adjusted.min(affordable);
        if tokens == 0 {
            return Charge::default();
        }
        let client = tokens * price; // <= hold.amount: cannot overflow
        let fee =
            u64::try_from(u128::from(tokens) * u128::from(prices.worker_fee_per_token)).unwrap_or(u64::MAX).min(client);
        a.balance -= client;
        a.charged += client;
        a.charged_tokens = a.charged_tokens.saturating_add(tokens);
        let w = self.workers.entry(worker).or_default();
        w.earned += fee;
        w.earned_tokens = w.earned_tokens.saturating_add(tokens);
        self.commission += client - fee;
        Charge { tokens, client, worker: fee }
    }

    /// Records that a worker has been paid up to `amount` (cumulative) on settlement.
    pub fn paid_out(&mut self, worker: &AccountId, amount: Nanotons) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.paid_out = w.paid_out.max(amount.min(w.earned));
        }
    }

    /// Sums every bucket and checks that the books balance: per client
    /// `deposited = balance + stake + charged + withdrawn` and `reserved <= balance`, and overall
    /// `charged = worker earnings + commission`. Returns the totals, or what is wrong.
    pub fn audit(&self) -> Result<Totals, String> {
        let mut t = Totals { commission: self.commission, ..Totals::default() };
        for (id, a) in &self.clients {
            let reserved = self.reserved(id);
            let held = a.balance as u128 + a.stake as u128 + a.charged as u128 + a.withdrawn as u128;
            if held != a.deposited as u128 {
                return Err(format!("client {}: deposited {} but holds {held}", hex::encode(id), a.deposited));
            }
            // Holds may pass the balance only after a withdrawal on chain (the holds then
            // charge at most what is left): count at most the balance as reserved.
            let reserved = reserved.min(a.balance);
            t.deposited += a.deposited;
            t.withdrawn += a.withdrawn;
            t.client_available += a.balance - reserved;
            t.reserved += reserved;
            t.staked += a.stake;
            t.charged += a.charged;
            t.charged_tokens = t.charged_tokens.saturating_add(a.charged_tokens);
        }
        for w in self.workers.values() {
            t.worker_earned += w.earned;
            t.worker_earned_tokens = t.worker_earned_tokens.saturating_add(w.earned_tokens);
            t.worker_paid_out += w.paid_out;
        }
        if t.charged != t.worker_earned + t.commission {
            return Err(format!(
                "charged {} != worker earnings {} + commission {}",
                t.charged, t.worker_earned, t.commission
            ));
        }
        let placed = t.client_available + t.reserved + t.staked + t.worker_earned + t.commission + t.withdrawn;
        if placed != t.deposited {
            return Err(format!("deposited {} but {placed} is accounted for", t.deposited));
        }
        Ok(t)
    }

    /// Checks that every nanoton counter is its token counter at `prices`: per client
    /// `charged = charged_tokens x price_per_token`, per worker `earned = earned_tokens x
    /// worker_fee_per_token`. The contracts multiply voucher tokens by these prices, so a
    /// mismatch (e.g. prices changed under existing books) means vouchers and books disagree.
    pub fn audit_prices(&self, prices: &Prices) -> Result<(), String> {
        let times = |tokens: u64, per: Nanotons| u128::from(tokens) * u128::from(per);
        for (id, a) in &self.clients {
            if u128::from(a.charged) != times(a.charged_tokens, prices.price_per_token) {
                return Err(format!(
                    "client {}: charged {} != {} tokens x {}",
                    hex::encode(id),
                    a.charged,
                    a.charged_tokens,
                    prices.price_per_token
                ));
            }
        }
        for (id, w) in &self.workers {
            if u128::from(w.earned) != times(w.earned_tokens, prices.worker_fee_per_token) {
                return Err(format!(
                    "worker {}: earned {} != {} tokens x {}",
                    hex::encode(id),
                    w.earned,
                    w.earned_tokens,
                    prices.worker_fee_per_token
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: AccountId = [1; 32];
    const W: AccountId = [2; 32];

    /// 20 nanotons per token to the client, 18 to the worker.
    fn prices() -> Prices {
        Prices { price_per_token: 20, worker_fee_per_token: 18, ..Prices::default() }
    }

    fn tokens(n: u64) -> Option<(u64, AccountId)> {
        Some((n, W))
    }

    #[test]
    fn deposit_fills_the_stake_first() {
        let mut b = Books::default();
        b.deposit(C, 30, 100).unwrap();
        assert_eq!((b.clients[&C].stake, b.clients[&C].balance), (30, 0));
        b.deposit(C, 500, 100).unwrap();
        assert_eq!((b.clients[&C].stake, b.clients[&C].balance), (100, 430));
        b.audit().unwrap();
    }

    #[test]
    fn reserve_refuses_with_balance_and_requirement_and_changes_nothing() {
        let mut b = Books::default();
        b.deposit(C, 150, 100).unwrap();
        let before = b.clients.clone();
        assert_eq!(b.reserve(C, 60, 100), Err(BooksError::Insufficient { available: 50, required: 60 }));
        assert_eq!(b.clients, before);
        assert_eq!(b.reserved(&C), 0);
        assert_eq!(b.reserve([9; 32], 1, 0), Err(BooksError::UnknownAccount));
        assert_eq!(b.reserve(C, 1, 200), Err(BooksError::StakeTooLow { stake: 100, required: 200 }));
    }

    #[test]
    fn settle_charges_actual_cost_and_releases_the_rest() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 500, 100).unwrap();
        assert_eq!(b.available(&C), 500);
        assert_eq!(b.settle(h, tokens(6), &prices()), Charge { tokens: 6, client: 120, worker: 108 });
        assert_eq!(b.available(&C), 880);
        assert_eq!((b.workers[&W].earned, b.workers[&W].earned_tokens, b.commission), (108, 6, 12));
        let t = b.audit().unwrap();
        assert_eq!((t.charged, t.charged_tokens, t.reserved, t.client_available), (120, 6, 0, 880));
        b.audit_prices(&prices()).unwrap();
    }

    #[test]
    fn a_charge_never_exceeds_its_hold_and_is_whole_tokens() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        // 50 nanotons hold 2 whole tokens at 20: the 10 left over are released, not charged.
        let h = b.reserve(C, 50, 100).unwrap();
        assert_eq!(b.settle(h, tokens(4), &prices()), Charge { tokens: 2, client: 40, worker: 36 });
        assert_eq!((b.clients[&C].charged, b.clients[&C].charged_tokens), (40, 2));
        assert_eq!(b.available(&C), 960);
        b.audit().unwrap();
        b.audit_prices(&prices()).unwrap();
        // A hold under one token's price charges nothing.
        let h = b.reserve(C, 19, 100).unwrap();
        assert_eq!(b.settle(h, tokens(1), &prices()), Charge::default());
    }

    #[test]
    fn audit_prices_catches_books_that_do_not_match_their_tokens() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 500, 100).unwrap();
        b.settle(h, tokens(3), &prices());
        b.audit_prices(&prices()).unwrap();
        let changed = Prices { price_per_token: 21, ..prices() };
        assert!(b.audit_prices(&changed).unwrap_err().contains("charged 60 != 3 tokens x 21"));
        let fee_changed = Prices { worker_fee_per_token: 17, ..prices() };
        assert!(b.audit_prices(&fee_changed).unwrap_err().contains("earned 54 != 3 tokens x 17"));
    }

    #[test]
    fn failed_request_costs_nothing() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 500, 100).unwrap();
        assert_eq!(b.settle(h, None, &prices()), Charge::default());
        assert_eq!(b.available(&C), 1000);
    }

    #[test]
    fn withdraw_only_above_the_stake_and_close_after_delay() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        assert_eq!(b.withdraw(&C, 1001), Err(BooksError::Insufficient { available: 1000, required: 1001 }));
        b.withdraw(&C, 400).unwrap();
        let at = b.close(&C, 1000, 60).unwrap();
        assert_eq!(b.reserve(C, 1, 0), Err(BooksError::Closing));
        assert_eq!(b.finish_close(&C, at - 1), Err(BooksError::TooEarly { at }));
        assert_eq!(b.finish_close(&C, at), Ok(700));
        let a = &b.clients[&C];
        assert_eq!((a.withdrawn, a.balance, a.stake, a.state), (1100, 0, 0, AccountState::Closed));
        b.audit().unwrap();
    }

    #[test]
    fn close_waits_for_requests_in_flight() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 10, 100).unwrap();
        b.close(&C, 0, 0).unwrap();
        assert_eq!(b.finish_close(&C, 0), Err(BooksError::InFlight(1)));
        b.settle(h, Some((1, W)), &Prices { price_per_token: 5, worker_fee_per_token: 5, ..prices() });
        assert_eq!(b.finish_close(&C, 0), Ok(1095));
        b.audit().unwrap();
    }

    #[test]
    fn audit_catches_money_out_of_place() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        b.clients.get_mut(&C).unwrap().balance += 1;
        assert!(b.audit().is_err());
    }
}
