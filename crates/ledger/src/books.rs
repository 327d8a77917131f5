//! The proxy's books: client accounts, worker earnings and the commission, as a pure state
//! machine with no I/O.
//!
//! Every operation validates first and changes nothing when it fails. Reservations are held
//! in memory only: they are promises about requests in flight, and a restarted proxy has none,
//! so their money returns to the client's available balance. [`Books::audit`] checks that every
//! nanoton ever deposited is in exactly one place.

use crate::prices::{Cost, Nanotons};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// An account's identity: its owner's Ed25519 public key (the key in its RA-TLS certificate).
pub type AccountId = [u8; 32];

/// Where a client account is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AccountState {
    #[default]
    Open,
    /// The client asked to close; its stake comes back at unix time `at`.
    Closing {
        at: u64,
    },
    Closed,
}

/// One client's money at this proxy. Invariant: `deposited = balance + stake + charged + withdrawn`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccount {
    /// Everything the client ever paid in.
    pub deposited: Nanotons,
    /// Everything returned to the client (withdrawals and the refund at close).
    pub withdrawn: Nanotons,
    /// Cumulative charges for served tokens: the amount its vouchers carry.
    pub charged: Nanotons,
    /// Spendable funds; in-flight reservations are holds on this.
    pub balance: Nanotons,
    /// Collateral: not spendable, returned only at close.
    pub stake: Nanotons,
    #[serde(flatten)]
    pub state: AccountState,
}

/// One worker's earnings at this proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerAccount {
    /// Cumulative earnings: the amount its vouchers carry.
    pub earned: Nanotons,
    /// How much of that has been paid out on settlement.
    pub paid_out: Nanotons,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BooksError {
    #[error("no account for this client; deposit first")]
    UnknownAccount,
    #[error("insufficient balance: available {available} nanotons, required {required}")]
    Insufficient { available: Nanotons, required: Nanotons },
    #[error("stake {stake} nanotons is below the minimum {required}; deposit more")]
    StakeTooLow { stake: Nanotons, required: Nanotons },
    #[error("account is closing; it can no longer be used")]
    Closing,
    #[error("account is closed")]
    Closed,
    #[error("account is not closing")]
    NotClosing,
    #[error("the stake comes back at unix time {at}")]
    TooEarly { at: u64 },
    #[error("{0} request(s) still in flight")]
    InFlight(u32),
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("amount overflows")]
    Overflow,
}

/// A hold on a client's balance for one request in flight.
#[derive(Debug, PartialEq, Eq)]
pub struct Hold {
    pub client: AccountId,
    pub amount: Nanotons,
}

/// What a settled request moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charge {
    pub client: Nanotons,
    pub worker: Nanotons,
}

/// Totals over all accounts, for `/stats` and for checking the books from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub deposited: Nanotons,
    pub withdrawn: Nanotons,
    pub client_available: Nanotons,
    pub reserved: Nanotons,
    pub staked: Nanotons,
    pub charged: Nanotons,
    pub worker_earned: Nanotons,
    pub worker_paid_out: Nanotons,
    pub commission: Nanotons,
}

#[derive(Debug, Clone, Default)]
struct Reserved {
    amount: Nanotons,
    count: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Books {
    pub clients: BTreeMap<AccountId, ClientAccount>,
    pub workers: BTreeMap<AccountId, WorkerAccount>,
    pub commission: Nanotons,
    reserved: HashMap<AccountId, Reserved>,
}

fn add(a: Nanotons, b: Nanotons) -> Result<Nanotons, BooksError> {
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
        self.clients.get(client).map_or(0, |a| a.balance - self.reserved(client))
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
        let a = self.open_account(&client)?;
        if a.stake < min_stake {
            return Err(BooksError::StakeTooLow { stake: a.stake, required: min_stake });
        }
        let available = self.available(&client);
        if available < amount {
            return Err(BooksError::Insufficient { available, required: amount });
        }
        let r = self.reserved.entry(client).or_default();
        r.amount += amount;
        r.count += 1;
        Ok(Hold { client, amount })
    }

    /// Ends a request: charges at most what was held, credits the worker its fee (never more
    /// than the charge), books the difference as commission and releases the rest of the hold.
    pub fn settle(&mut self, hold: Hold, cost: Option<(Cost, AccountId)>) -> Charge {
        if let Some(r) = self.reserved.get_mut(&hold.client) {
            r.amount = r.amount.saturating_sub(hold.amount);
            r.count = r.count.saturating_sub(1);
            if r.count == 0 {
                self.reserved.remove(&hold.client);
            }
        }
        let Some((cost, worker)) = cost else { return Charge::default() };
        let Some(a) = self.clients.get_mut(&hold.client) else { return Charge::default() };
        let client = cost.client.min(hold.amount).min(a.balance);
        let fee = cost.worker.min(client);
        a.balance -= client;
        a.charged += client;
        self.workers.entry(worker).or_default().earned += fee;
        self.commission += client - fee;
        Charge { client, worker: fee }
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
            if reserved > a.balance {
                return Err(format!("client {}: reserved {reserved} over balance {}", hex::encode(id), a.balance));
            }
            t.deposited += a.deposited;
            t.withdrawn += a.withdrawn;
            t.client_available += a.balance - reserved;
            t.reserved += reserved;
            t.staked += a.stake;
            t.charged += a.charged;
        }
        for w in self.workers.values() {
            t.worker_earned += w.earned;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: AccountId = [1; 32];
    const W: AccountId = [2; 32];

    fn cost(client: u64, worker: u64) -> Option<(Cost, AccountId)> {
        Some((Cost { adjusted_tokens: client, client, worker }, W))
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
        assert_eq!(b.settle(h, cost(120, 100)), Charge { client: 120, worker: 100 });
        assert_eq!(b.available(&C), 880);
        assert_eq!((b.workers[&W].earned, b.commission), (100, 20));
        let t = b.audit().unwrap();
        assert_eq!((t.charged, t.reserved, t.client_available), (120, 0, 880));
    }

    #[test]
    fn a_charge_never_exceeds_its_hold() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 50, 100).unwrap();
        assert_eq!(b.settle(h, cost(80, 70)), Charge { client: 50, worker: 50 });
        b.audit().unwrap();
    }

    #[test]
    fn failed_request_costs_nothing() {
        let mut b = Books::default();
        b.deposit(C, 1100, 100).unwrap();
        let h = b.reserve(C, 500, 100).unwrap();
        assert_eq!(b.settle(h, None), Charge::default());
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
        b.settle(h, cost(5, 5));
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
