//! The proxy's ledger: the [`Books`] in memory, made durable in a [`Store`], with signed
//! cumulative vouchers for what is durable.
//!
//! The request path only touches memory: [`Ledger::reserve`] and [`Ledger::settle`] take one
//! short lock and mark the rows they change. [`Ledger::commit`] writes every changed row in one
//! transaction (group commit, run by [`Ledger::spawn_committer`] at a fixed interval) and only
//! then signs vouchers, so no voucher ever covers uncommitted state. Deposits, withdrawals and
//! closes commit before they return, so they are durable before they are acknowledged.
//!
//! If a commit fails the ledger stops (fail-stop): memory may be ahead of disk, and carrying on
//! could sign for money that a restart would forget. Every later call returns
//! [`LedgerError::Stopped`].

use crate::books::{AccountId, Books, BooksError, Charge, ClientAccount, Hold, Totals, WorkerAccount};
use crate::prices::{Cost, Nanotons, Prices};
use crate::store::{Batch, Store, StoreError};
use cocoon_voucher::{SignedVoucher, Voucher, VoucherKind};
use ed25519_dalek::SigningKey;
use std::{
    collections::{BTreeSet, HashMap},
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Books(#[from] BooksError),
    #[error("ledger storage: {0}")]
    Store(#[from] StoreError),
    #[error("the ledger stopped after a failed commit; restart the proxy")]
    Stopped,
    #[error(
        "state rolled back: a voucher for {presented} nanotons was presented but the database holds only {held}; refusing to serve"
    )]
    RolledBack { presented: Nanotons, held: Nanotons },
    #[error("voucher: {0}")]
    Voucher(#[from] cocoon_voucher::VoucherError),
    #[error("this voucher was not signed by this proxy")]
    ForeignVoucher,
}

/// A client account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientView {
    #[serde(flatten)]
    pub account: ClientAccount,
    pub available: Nanotons,
    pub reserved: Nanotons,
}

/// The latest committed voucher of one account, for whoever follows it.
type VoucherFeed = watch::Sender<Option<SignedVoucher>>;

/// Every account, for the operator.
pub struct Accounts {
    pub clients: Vec<(AccountId, ClientView)>,
    pub workers: Vec<(AccountId, WorkerAccount)>,
}

#[derive(Default)]
struct State {
    books: Books,
    seqno: u64,
    dirty_clients: BTreeSet<AccountId>,
    dirty_workers: BTreeSet<AccountId>,
    dirty_meta: bool,
    /// What the database holds, per voucher account: vouchers are signed for these values.
    committed: HashMap<(VoucherKind, AccountId), Nanotons>,
}

pub struct Ledger {
    state: Mutex<State>,
    store: Store,
    prices: Prices,
    signer: SigningKey,
    /// Serializes commits, so batches reach the disk in the order their seqnos say.
    commit_lock: Mutex<()>,
    stopped: AtomicBool,
    published: Mutex<HashMap<(VoucherKind, AccountId), VoucherFeed>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ledger {
    /// Opens the ledger database at `path` (created if missing) and loads the books.
    pub fn open(path: &Path, prices: Prices, signer: SigningKey) -> Result<Self, LedgerError> {
        let store = Store::open(path)?;
        let loaded = store.load()?;
        let mut committed = HashMap::new();
        for (id, c) in &loaded.clients {
            committed.insert((VoucherKind::ClientCharge, *id), c.charged);
        }
        for (id, w) in &loaded.workers {
            committed.insert((VoucherKind::WorkerPayout, *id), w.earned);
        }
        let books = Books::from_parts(loaded.clients, loaded.workers, loaded.commission);
        if let Err(why) = books.audit() {
            tracing::error!(%why, "the ledger on disk does not balance");
        }
        let state = State { books, seqno: loaded.seqno, committed, ..State::default() };
        Ok(Ledger {
            state: Mutex::new(state),
            store,
            prices,
            signer,
            commit_lock: Mutex::new(()),
            stopped: AtomicBool::new(false),
            published: Mutex::new(HashMap::new()),
        })
    }

    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// The key vouchers are signed with.
    pub fn public_key(&self) -> [u8; 32] {
        self.signer.verifying_key().to_bytes()
    }

    /// Stops the ledger (fail-stop), e.g. when a rollback is detected.
    pub fn halt(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    fn check_running(&self) -> Result<(), LedgerError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(LedgerError::Stopped);
        }
        Ok(())
    }

    /// Applies `f` to the books and commits before returning.
    fn durably<R>(
        &self,
        client: &AccountId,
        f: impl FnOnce(&mut Books) -> Result<R, BooksError>,
    ) -> Result<R, LedgerError> {
        self.check_running()?;
        let r = {
            let mut s = lock(&self.state);
            let r = f(&mut s.books)?;
            s.dirty_clients.insert(*client);
            r
        };
        self.commit()?;
        Ok(r)
    }

    /// Credits a deposit (durable when this returns).
    pub fn deposit(&self, client: &AccountId, amount: Nanotons) -> Result<(), LedgerError> {
        self.durably(client, |b| b.deposit(*client, amount, self.prices.min_client_stake))
    }

    /// Moves spendable funds into the stake (durable when this returns).
    pub fn stake(&self, client: &AccountId, amount: Nanotons) -> Result<(), LedgerError> {
        self.durably(client, |b| b.stake(client, amount))
    }

    /// Returns spendable funds to the client (durable when this returns).
    pub fn withdraw(&self, client: &AccountId, amount: Nanotons) -> Result<(), LedgerError> {
        self.durably(client, |b| b.withdraw(client, amount))
    }

    /// Starts closing; returns when the stake comes back (unix seconds).
    pub fn close(&self, client: &AccountId, now: u64) -> Result<u64, LedgerError> {
        self.durably(client, |b| b.close(client, now, self.prices.close_delay_secs))
    }

    /// Ends a close whose delay has passed; returns the refund.
    pub fn finish_close(&self, client: &AccountId, now: u64) -> Result<Nanotons, LedgerError> {
        self.durably(client, |b| b.finish_close(client, now))
    }

    /// Clients whose close delay has passed by `now`.
    pub fn closes_due(&self, now: u64) -> Vec<AccountId> {
        let s = lock(&self.state);
        s.books
            .clients
            .iter()
            .filter(|(_, a)| matches!(a.state, crate::AccountState::Closing { at } if at <= now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Holds `amount` for a request in flight (memory only).
    pub fn reserve(&self, client: &AccountId, amount: Nanotons) -> Result<Hold, LedgerError> {
        self.check_running()?;
        Ok(lock(&self.state).books.reserve(*client, amount, self.prices.min_client_stake)?)
    }

    /// Ends a request: charges its cost (if it produced output) and releases the hold. In
    /// memory; the next group commit makes it durable and vouchers it.
    pub fn settle(&self, hold: Hold, cost: Option<(Cost, AccountId)>) -> Charge {
        let mut s = lock(&self.state);
        let client = hold.client;
        let charged = cost.map(|(_, w)| w);
        let charge = s.books.settle(hold, cost);
        if charge.client > 0 {
            s.dirty_clients.insert(client);
            s.dirty_meta = true;
            if let Some(w) = charged {
                s.dirty_workers.insert(w);
            }
        }
        charge
    }

    /// Records that settlement has paid `worker` up to `amount` (cumulative); durable at the
    /// next commit.
    pub fn record_payout(&self, worker: &AccountId, amount: Nanotons) {
        let mut s = lock(&self.state);
        s.books.paid_out(worker, amount);
        s.dirty_workers.insert(*worker);
    }

    /// Writes every changed row in one durable transaction, then signs and publishes vouchers
    /// for the accounts whose cumulative amounts grew. Returns those vouchers.
    pub fn commit(&self) -> Result<Vec<SignedVoucher>, LedgerError> {
        let _serial = lock(&self.commit_lock);
        self.check_running()?;
        let batch = {
            let mut s = lock(&self.state);
            if s.dirty_clients.is_empty() && s.dirty_workers.is_empty() && !s.dirty_meta {
                return Ok(Vec::new());
            }
            s.seqno += 1;
            let clients = std::mem::take(&mut s.dirty_clients);
            let workers = std::mem::take(&mut s.dirty_workers);
            s.dirty_meta = false;
            Batch {
                seqno: s.seqno,
                commission: s.books.commission,
                clients: clients.iter().filter_map(|id| s.books.clients.get(id).map(|a| (*id, a.clone()))).collect(),
                workers: workers.iter().filter_map(|id| s.books.workers.get(id).map(|w| (*id, w.clone()))).collect(),
            }
        };
        if let Err(e) = self.store.write(&batch) {
            self.stopped.store(true, Ordering::Release);
            tracing::error!(error = %e, "ledger commit failed; the ledger stops (fail-stop)");
            return Err(e.into());
        }
        let grown: Vec<Voucher> = {
            let mut s = lock(&self.state);
            let rows = batch
                .clients
                .iter()
                .map(|(id, a)| (VoucherKind::ClientCharge, *id, a.charged))
                .chain(batch.workers.iter().map(|(id, w)| (VoucherKind::WorkerPayout, *id, w.earned)));
            let mut grown = Vec::new();
            for (kind, account, amount) in rows {
                let held = s.committed.entry((kind, account)).or_insert(0);
                if amount > *held {
                    *held = amount;
                    grown.push(Voucher { kind, query_id: batch.seqno, account, amount });
                }
            }
            grown
        };
        let mut out = Vec::with_capacity(grown.len());
        for v in grown {
            let signed = v.sign(&self.signer)?;
            if let Some(tx) = lock(&self.published).get(&(v.kind, v.account)) {
                tx.send_replace(Some(signed.clone()));
            }
            out.push(signed);
        }
        Ok(out)
    }

    /// A voucher for the committed cumulative amount of `account`, if it has one above zero.
    pub fn voucher(&self, kind: VoucherKind, account: &AccountId) -> Result<Option<SignedVoucher>, LedgerError> {
        let (amount, seqno) = {
            let s = lock(&self.state);
            (s.committed.get(&(kind, *account)).copied().unwrap_or(0), s.seqno)
        };
        if amount == 0 {
            return Ok(None);
        }
        Ok(Some(Voucher { kind, query_id: seqno, account: *account, amount }.sign(&self.signer)?))
    }

    /// Follows the vouchers of one account: the receiver sees each new committed voucher.
    pub fn subscribe(&self, kind: VoucherKind, account: &AccountId) -> watch::Receiver<Option<SignedVoucher>> {
        let mut published = lock(&self.published);
        published.retain(|_, tx| tx.receiver_count() > 0);
        published.entry((kind, *account)).or_insert_with(|| watch::channel(None).0).subscribe()
    }

    /// Checks a voucher a client or worker presents on reconnect. One signed by this proxy
    /// for more than the database holds means the proxy's state was rolled back: the caller
    /// must refuse to serve (Cocoon's fail-stop rule).
    pub fn check_presented(&self, v: &SignedVoucher) -> Result<(), LedgerError> {
        if v.verify(&self.public_key()).is_err() {
            return Err(LedgerError::ForeignVoucher);
        }
        let held = lock(&self.state).committed.get(&(v.voucher.kind, v.voucher.account)).copied().unwrap_or(0);
        if v.voucher.amount > held {
            return Err(LedgerError::RolledBack { presented: v.voucher.amount, held });
        }
        Ok(())
    }

    /// A client's account, if it has one.
    pub fn client(&self, id: &AccountId) -> Option<ClientView> {
        let s = lock(&self.state);
        s.books.clients.get(id).map(|a| ClientView {
            account: a.clone(),
            available: s.books.available(id),
            reserved: s.books.reserved(id),
        })
    }

    /// A worker's earnings, if it has any.
    pub fn worker(&self, id: &AccountId) -> Option<WorkerAccount> {
        lock(&self.state).books.workers.get(id).cloned()
    }

    /// Every account, for the operator.
    pub fn accounts(&self) -> Accounts {
        let s = lock(&self.state);
        let clients = s
            .books
            .clients
            .iter()
            .map(|(id, a)| {
                let view =
                    ClientView { account: a.clone(), available: s.books.available(id), reserved: s.books.reserved(id) };
                (*id, view)
            })
            .collect();
        let workers = s.books.workers.iter().map(|(id, w)| (*id, w.clone())).collect();
        Accounts { clients, workers }
    }

    /// The totals, checked: an error says where the books do not balance.
    pub fn audit(&self) -> Result<Totals, String> {
        lock(&self.state).books.audit()
    }

    /// Runs [`Ledger::commit`] every `interval` until `stop` fires, then once more.
    pub fn spawn_committer(
        self: &Arc<Self>,
        interval: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let ledger = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let last = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stop.cancelled() => true,
                };
                let l = ledger.clone();
                match tokio::task::spawn_blocking(move || l.commit()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(LedgerError::Stopped)) | Err(_) => return,
                    Ok(Err(e)) => tracing::error!(error = %e, "group commit failed"),
                }
                if last {
                    return;
                }
            }
        })
    }
}
