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
//!
//! Vouchers carry the committed cumulative *tokens* (`charged_tokens` of a client,
//! `earned_tokens` of a worker) and name the account's contract, as the settlement backend
//! addresses it ([`ContractAddressOf`], normally [`crate::settlement::Settlement::contract_address`]).

use crate::books::{AccountId, Books, BooksError, Charge, ClientAccount, Hold, Totals, WorkerAccount};
use crate::prices::{Nanotons, Prices};
use crate::store::{Batch, Store, StoreError};
use cocoon_voucher::{SignedVoucher, TonAddress, Voucher, VoucherKind};
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

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The books refused it (nothing changed).
    #[error(transparent)]
    Books(#[from] BooksError),
    /// The database failed.
    #[error("ledger storage: {0}")]
    Store(#[from] StoreError),
    /// A commit failed earlier, or a rollback was detected: the ledger is stopped.
    #[error("the ledger stopped after a failed commit; restart the proxy")]
    Stopped,
    /// A peer presented a voucher for more tokens than the database holds.
    #[error(
        "state rolled back: a voucher for {presented} tokens was presented but the database holds only {held}; refusing to serve"
    )]
    RolledBack {
        /// Tokens of the presented voucher.
        presented: u64,
        /// Tokens the database holds for that account.
        held: u64,
    },
    /// Signing or encoding a voucher failed.
    #[error("voucher: {0}")]
    Voucher(#[from] cocoon_voucher::VoucherError),
    /// The presented voucher was signed by another key.
    #[error("this voucher was not signed by this proxy")]
    ForeignVoucher,
    /// The presented voucher names another contract than the presenter's (e.g. one from
    /// another settlement backend); it says nothing about this database.
    #[error("this voucher is for contract {got}, not the presenter's {expected}")]
    OtherContract {
        /// The presenter's contract for that kind.
        expected: TonAddress,
        /// The contract the voucher names.
        got: TonAddress,
    },
}

/// A client account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientView {
    /// The account's counters.
    #[serde(flatten)]
    pub account: ClientAccount,
    /// Spendable now (balance less holds).
    pub available: Nanotons,
    /// Held for requests in flight.
    pub reserved: Nanotons,
}

/// What one anchor covers (see [`Ledger::next_anchor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorState {
    /// The anchor's number (grows by one per anchor).
    pub number: u64,
    /// The ledger's commit seqno.
    pub seqno: u64,
    /// Cumulative tokens charged to clients.
    pub charged_tokens: u64,
    /// Cumulative tokens workers earned.
    pub earned_tokens: u64,
    /// The proxy's commission.
    pub commission: Nanotons,
}

/// The latest committed voucher of one account, for whoever follows it.
type VoucherFeed = watch::Sender<Option<SignedVoucher>>;

/// The contract address of an account for a voucher kind: what vouchers name as
/// `expected_my_address`. The settlement backend decides it.
pub type ContractAddressOf = Arc<dyn Fn(VoucherKind, &AccountId) -> TonAddress + Send + Sync>;

/// Every account, for the operator.
pub struct Accounts {
    /// Client accounts with their holds.
    pub clients: Vec<(AccountId, ClientView)>,
    /// Worker earnings.
    pub workers: Vec<(AccountId, WorkerAccount)>,
}

/// Which cumulative counter a voucher kind carries: a client's charged tokens (charge and
/// grant refund alike) or a worker's earned tokens.
fn counter(kind: VoucherKind) -> VoucherKind {
    if kind.is_client() {
        VoucherKind::ClientCharge
    } else {
        VoucherKind::WorkerPayout
    }
}

/// Tokens per counter ([`counter`]) and account.
type Counters = HashMap<(VoucherKind, AccountId), u64>;

/// Raises each counter in `held` to its row's tokens; returns the rows that grew it.
fn raise(
    held: &mut Counters,
    rows: impl IntoIterator<Item = ((VoucherKind, AccountId), u64)>,
) -> Vec<((VoucherKind, AccountId), u64)> {
    let mut grown = Vec::new();
    for (key, tokens) in rows {
        let h = held.entry(key).or_insert(0);
        if tokens > *h {
            *h = tokens;
            grown.push((key, tokens));
        }
    }
    grown
}

#[derive(Default)]
struct State {
    books: Books,
    seqno: u64,
    dirty_clients: BTreeSet<AccountId>,
    dirty_workers: BTreeSet<AccountId>,
    dirty_meta: bool,
    /// What the database holds, in tokens, per counter ([`counter`]) and account: vouchers are
    /// signed for these values.
    committed: Counters,
    /// The last anchor number recorded.
    anchor: u64,
    /// Settlement on chain only: the tokens per counter and account that the last anchor
    /// confirmed on chain covers. Vouchers are signed for these, never for more.
    anchored: Option<Counters>,
    /// The anchor sent and not yet confirmed: its number and what it covers.
    pending_anchor: Option<(u64, Counters)>,
    /// Settlement on chain only: the tokens each client's contract was last seen charged for.
    /// Reservations keep the usage not yet charged there under the stake.
    on_chain: Option<HashMap<AccountId, u64>>,
}

/// Client accounts visited per lock hold by a scan (see `Ledger::scan_clients`).
pub const SCAN_BATCH: usize = 512;

/// The proxy's ledger (see the module doc).
pub struct Ledger {
    state: Mutex<State>,
    store: Store,
    prices: Prices,
    signer: SigningKey,
    address_of: ContractAddressOf,
    /// Serializes commits, so batches reach the disk in the order their seqnos say.
    commit_lock: Mutex<()>,
    stopped: AtomicBool,
    published: Mutex<HashMap<(VoucherKind, AccountId), VoucherFeed>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ledger {
    /// Opens the ledger database at `path` (created if missing) and loads the books. Vouchers
    /// name the contracts `address_of` gives.
    pub fn open(
        path: &Path,
        prices: Prices,
        signer: SigningKey,
        address_of: ContractAddressOf,
    ) -> Result<Self, LedgerError> {
        let store = Store::open(path)?;
        let loaded = store.load()?;
        let mut committed = HashMap::new();
        for (id, c) in &loaded.clients {
            committed.insert((VoucherKind::ClientCharge, *id), c.charged_tokens);
        }
        for (id, w) in &loaded.workers {
            committed.insert((VoucherKind::WorkerPayout, *id), w.earned_tokens);
        }
        let books = Books::from_parts(loaded.clients, loaded.workers, loaded.commission);
        if let Err(why) = books.audit() {
            tracing::error!(%why, "the ledger on disk does not balance");
        }
        if let Err(why) = books.audit_prices(&prices) {
            tracing::error!(%why, "the ledger on disk does not match the configured prices (were they changed?); \
                vouchers carry tokens, which the contracts price at their own rate");
        }
        let state = State { books, seqno: loaded.seqno, committed, anchor: loaded.anchor, ..State::default() };
        Ok(Ledger {
            state: Mutex::new(state),
            store,
            prices,
            signer,
            address_of,
            commit_lock: Mutex::new(()),
            stopped: AtomicBool::new(false),
            published: Mutex::new(HashMap::new()),
        })
    }

    /// The prices the books charge at.
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
        let mut due = Vec::new();
        self.scan_clients(|_, id, a| {
            if matches!(a.state, crate::AccountState::Closing { at } if at <= now) {
                due.push(*id);
            }
        });
        due
    }

    /// Visits every client account, [`SCAN_BATCH`] at a time, taking the lock once per batch so
    /// that a scan of many accounts never stalls the request path for long. Accounts added or
    /// changed during the scan may or may not be seen, as with any snapshot taken in parts.
    fn scan_clients(&self, mut visit: impl FnMut(&State, &AccountId, &ClientAccount)) {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut after: Option<AccountId> = None;
        loop {
            let s = lock(&self.state);
            let range = match after {
                None => s.books.clients.range::<AccountId, _>(..),
                Some(k) => s.books.clients.range((Excluded(k), Unbounded)),
            };
            let mut seen = 0;
            for (id, a) in range.take(SCAN_BATCH) {
                seen += 1;
                after = Some(*id);
                visit(&s, id, a);
            }
            if seen < SCAN_BATCH {
                return;
            }
        }
    }

    /// Holds `amount` for a request in flight (memory only). With settlement on chain
    /// ([`Ledger::settle_on_chain`]) the usage not yet charged there, plus holds, stays under the
    /// stake.
    pub fn reserve(&self, client: &AccountId, amount: Nanotons) -> Result<Hold, LedgerError> {
        self.check_running()?;
        let mut s = lock(&self.state);
        let price = self.prices.price_per_token;
        let cap = s.on_chain.as_ref().map(|m| (m.get(client).copied().unwrap_or(0), price));
        Ok(s.books.reserve_within(*client, amount, self.prices.min_client_stake, cap)?)
    }

    /// Money moves on chain: from now on deposits and withdrawals come only from
    /// [`Ledger::sync_client`], reservations respect the stake rule, and vouchers cover only
    /// anchored state ([`Ledger::confirm_anchor`]). Until a client's contract has been read,
    /// the chain is taken to have charged it nothing.
    pub fn settle_on_chain(&self) {
        let mut s = lock(&self.state);
        s.on_chain.get_or_insert_with(HashMap::new);
        s.anchored.get_or_insert_with(HashMap::new);
    }

    /// Reads `chain` (the client's contract as the chain shows it) into its account; durable
    /// before it returns when anything changed. A chain that charged more than these books
    /// ever did proves them rolled back: the ledger stops.
    pub fn sync_client(&self, client: &AccountId, chain: &crate::ChainClient) -> Result<crate::Synced, LedgerError> {
        self.check_running()?;
        let (changed, synced) = {
            let mut s = lock(&self.state);
            let before = s.books.clients.get(client).cloned();
            let synced = match s.books.sync_client(*client, chain, self.prices.price_per_token) {
                Ok(synced) => synced,
                Err(e @ BooksError::ChainAhead { .. }) => {
                    drop(s);
                    tracing::error!(client = %hex::encode(client), error = %e, "ROLLBACK DETECTED from the chain; the ledger stops");
                    self.halt();
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(m) = s.on_chain.as_mut() {
                m.insert(*client, chain.tokens_used);
            }
            let changed = s.books.clients.get(client) != before.as_ref();
            if changed {
                s.dirty_clients.insert(*client);
            }
            (changed, synced)
        };
        if changed {
            self.commit()?;
        }
        Ok(synced)
    }

    /// Commits what is pending and records the next anchor durably; returns its number and the
    /// state it covers: the commit seqno, the cumulative tokens charged and earned and the
    /// commission. The caller puts `(number, hash of that state)` on chain; the database then
    /// knows of every anchor the chain holds, so a chain anchor above [`Ledger::anchor`] proves
    /// a rolled-back database.
    pub fn next_anchor(&self) -> Result<AnchorState, LedgerError> {
        self.commit()?;
        let _serial = lock(&self.commit_lock);
        self.check_running()?;
        let state = {
            let s = lock(&self.state);
            let totals = s.books.audit().unwrap_or_default();
            AnchorState {
                number: s.anchor + 1,
                seqno: s.seqno,
                charged_tokens: totals.charged_tokens,
                earned_tokens: totals.worker_earned_tokens,
                commission: s.books.commission,
            }
        };
        self.store.write_anchor(state.number)?;
        let mut s = lock(&self.state);
        s.anchor = state.number;
        let covered = s.committed.clone();
        s.pending_anchor = Some((state.number, covered));
        Ok(state)
    }

    /// The chain holds anchor `number`: vouchers may now cover what it covers. Publishes the
    /// vouchers that grew to whoever follows them.
    pub fn confirm_anchor(&self, number: u64) -> Result<(), LedgerError> {
        let (grown, seqno) = {
            let mut s = lock(&self.state);
            let s = &mut *s;
            match (s.pending_anchor.take(), s.anchored.as_mut()) {
                (Some((n, covered)), Some(anchored)) if n == number => (raise(anchored, covered), s.seqno),
                (pending, _) => {
                    s.pending_anchor = pending;
                    return Ok(());
                }
            }
        };
        self.publish(grown, seqno).map(drop)
    }

    /// Settlement on chain: whether `client` has committed charges no anchor covers yet (its
    /// final charge must wait for the next anchor).
    pub fn unanchored(&self, client: &AccountId) -> bool {
        let s = lock(&self.state);
        let key = (VoucherKind::ClientCharge, *client);
        match &s.anchored {
            Some(a) => s.committed.get(&key).copied().unwrap_or(0) > a.get(&key).copied().unwrap_or(0),
            None => false,
        }
    }

    /// The last commit's seqno.
    pub fn seqno(&self) -> u64 {
        lock(&self.state).seqno
    }

    /// The last anchor number recorded.
    pub fn anchor(&self) -> u64 {
        lock(&self.state).anchor
    }

    /// Ends a request: charges its adjusted tokens (if it produced output: `usage` = tokens
    /// and the worker that served them) in whole tokens, at most what the hold covers, and
    /// releases the hold. In memory; the next group commit makes it durable and vouchers it.
    pub fn settle(&self, hold: Hold, usage: Option<(u64, AccountId)>) -> Charge {
        let mut s = lock(&self.state);
        let client = hold.client;
        let charged = usage.map(|(_, w)| w);
        let charge = s.books.settle(hold, usage, &self.prices);
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
    /// for the accounts whose cumulative tokens grew. Returns those vouchers.
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
        let (grown, on_chain) = {
            let mut s = lock(&self.state);
            let rows = batch
                .clients
                .iter()
                .map(|(id, a)| ((VoucherKind::ClientCharge, *id), a.charged_tokens))
                .chain(batch.workers.iter().map(|(id, w)| ((VoucherKind::WorkerPayout, *id), w.earned_tokens)));
            (raise(&mut s.committed, rows), s.anchored.is_some())
        };
        if on_chain {
            // On chain, vouchers wait for the anchor that covers them (`confirm_anchor`).
            return Ok(Vec::new());
        }
        self.publish(grown, batch.seqno)
    }

    /// Signs a voucher for `tokens` of `account`'s counter `kind`.
    fn sign(
        &self,
        kind: VoucherKind,
        account: &AccountId,
        tokens: u64,
        query_id: u64,
    ) -> Result<SignedVoucher, LedgerError> {
        let contract = (self.address_of)(kind, account);
        Ok(Voucher { kind, query_id, tokens, contract }.sign(&self.signer)?)
    }

    /// Signs the vouchers of the counters that `grown` and hands each to its followers.
    fn publish(
        &self,
        grown: Vec<((VoucherKind, AccountId), u64)>,
        query_id: u64,
    ) -> Result<Vec<SignedVoucher>, LedgerError> {
        let mut out = Vec::with_capacity(grown.len());
        for ((kind, account), tokens) in grown {
            let signed = self.sign(kind, &account, tokens, query_id)?;
            if let Some(tx) = lock(&self.published).get(&(kind, account)) {
                tx.send_replace(Some(signed.clone()));
            }
            out.push(signed);
        }
        Ok(out)
    }

    /// A voucher of `kind` for the committed cumulative tokens of `account`. A charge or payout
    /// voucher exists once the count is above zero; a grant refund (the final charge at a close)
    /// always does, zero tokens included.
    pub fn voucher(&self, kind: VoucherKind, account: &AccountId) -> Result<Option<SignedVoucher>, LedgerError> {
        let (tokens, seqno) = {
            let s = lock(&self.state);
            let held = s.anchored.as_ref().unwrap_or(&s.committed);
            (held.get(&(counter(kind), *account)).copied().unwrap_or(0), s.seqno)
        };
        if tokens == 0 && kind != VoucherKind::GrantRefund {
            return Ok(None);
        }
        Ok(Some(self.sign(kind, account, tokens, seqno)?))
    }

    /// Follows the vouchers of one account: the receiver sees each new committed voucher.
    pub fn subscribe(&self, kind: VoucherKind, account: &AccountId) -> watch::Receiver<Option<SignedVoucher>> {
        let mut published = lock(&self.published);
        published.retain(|_, tx| tx.receiver_count() > 0);
        published.entry((kind, *account)).or_insert_with(|| watch::channel(None).0).subscribe()
    }

    /// Checks a voucher the client or worker `account` presents on reconnect. One signed by
    /// this proxy, for the presenter's own contract, for more tokens than the database holds
    /// means the proxy's state was rolled back: the caller must refuse to serve (Cocoon's
    /// fail-stop rule). A voucher signed by another key or naming another contract says
    /// nothing about this database ([`LedgerError::ForeignVoucher`], [`LedgerError::OtherContract`]).
    pub fn check_presented(&self, account: &AccountId, v: &SignedVoucher) -> Result<(), LedgerError> {
        if v.verify(&self.public_key()).is_err() {
            return Err(LedgerError::ForeignVoucher);
        }
        let expected = (self.address_of)(v.voucher.kind, account);
        if v.voucher.contract != expected {
            return Err(LedgerError::OtherContract { expected, got: v.voucher.contract });
        }
        let held = lock(&self.state).committed.get(&(counter(v.voucher.kind), *account)).copied().unwrap_or(0);
        if v.voucher.tokens > held {
            return Err(LedgerError::RolledBack { presented: v.voucher.tokens, held });
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
        let mut clients = Vec::new();
        self.scan_clients(|s, id, a| {
            let view =
                ClientView { account: a.clone(), available: s.books.available(id), reserved: s.books.reserved(id) };
            clients.push((*id, view));
        });
        let workers = lock(&self.state).books.workers.iter().map(|(id, w)| (*id, w.clone())).collect();
        Accounts { clients, workers }
    }

    /// The totals, checked: an error says where the books do not balance, or where a nanoton
    /// counter is not its token counter at this ledger's prices.
    pub fn audit(&self) -> Result<Totals, String> {
        let s = lock(&self.state);
        let totals = s.books.audit()?;
        s.books.audit_prices(&self.prices)?;
        Ok(totals)
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
