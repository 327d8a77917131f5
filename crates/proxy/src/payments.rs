//! Payments on the proxy: the ledger and the settlement backend behind the [`Billing`] seam,
//! plus the account operations clients ask for.
//!
//! Order of effects, chosen so that a crash at any point is repaired by [`Payments::reconcile`]
//! at the next start (the chain side is the source of truth for deposits, the ledger for usage):
//! - deposit: settlement first (money arrives in the client's contract), then the ledger;
//! - withdraw and close: the ledger first (durable), then the latest charge voucher and the
//!   payment on settlement.

use crate::billing::{Billing, Reservation};
use crate::config::PaymentsConfig;
use cocoon_ledger::settlement::{EmbeddedSettlement, Settlement, SettlementError};
use cocoon_ledger::{
    AccountId, AccountState, BooksError, ClientView, ContractAddressOf, Cost, Ledger, LedgerError, Prices, TokenCounts,
};
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;
use cocoon_voucher::VoucherKind;
use ed25519_dalek::SigningKey;
use http::StatusCode;
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("prices: {0}")]
    Prices(String),
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("settlement: {0}")]
    Settlement(#[from] SettlementError),
    #[error("signing key: {0}")]
    Key(String),
    #[error("TON: {0}")]
    Chain(#[from] cocoon_onchain::ChainError),
    #[error("ROLLBACK DETECTED: {0}")]
    RolledBack(String),
}

pub struct Payments {
    pub ledger: Arc<Ledger>,
    pub settlement: Arc<dyn Settlement>,
    /// The same backend as `settlement` when it is on TON.
    pub ton: Option<Arc<cocoon_onchain::TonSettlement>>,
    default_max_tokens: u64,
    commit_interval: Duration,
    settle_interval: Duration,
    charge_threshold: u64,
    payout_threshold: u64,
    anchor_interval: Duration,
    /// Clients refused by the stake rule: charged at the next settlement run.
    charge_now: std::sync::Mutex<std::collections::HashSet<AccountId>>,
    /// The ledger seqno the last anchor on chain covers (`u64::MAX`: none this run).
    pub(crate) last_anchored: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn data_dir(cfg: &PaymentsConfig) -> Result<(), PaymentsError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| PaymentsError::DataDir(cfg.data_dir.display().to_string(), e))
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The proxy's voucher key: the Ed25519 key of its RA-TLS identity, so vouchers are signed by
/// the same attested key clients and workers already pinned at the handshake.
pub fn signing_key(pkcs8_der: &[u8]) -> Result<SigningKey, PaymentsError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    SigningKey::from_pkcs8_der(pkcs8_der).map_err(|e| PaymentsError::Key(e.to_string()))
}

impl Payments {
    /// Opens the ledger and the embedded settlement in `cfg.data_dir` and repairs any gap a
    /// crash left between them. DEV ONLY: the embedded backend credits deposits on request.
    pub fn open(cfg: &PaymentsConfig, key: SigningKey) -> Result<Self, PaymentsError> {
        let prices = cfg.load_prices().map_err(PaymentsError::Prices)?;
        data_dir(cfg)?;
        let proxy_key = key.verifying_key().to_bytes();
        let settlement = Arc::new(EmbeddedSettlement::open(&cfg.data_dir.join("settlement.redb"), proxy_key, &prices)?);
        let p = Self::with(cfg, key, prices, settlement.clone(), None)?;
        let posted = settlement.proxy()?.own_stake_posted;
        if cfg.own_stake > posted {
            settlement.stake_proxy(cfg.own_stake - posted)?;
        }
        p.reconcile()?;
        Ok(p)
    }

    /// Opens the ledger with settlement on TON: finds or registers the proxy contract (with
    /// `cfg.own_stake`), takes the prices from it, and from then on credits only what the
    /// chain shows.
    pub async fn open_on_chain(
        cfg: &PaymentsConfig,
        chain: &cocoon_onchain::ChainConfig,
        key: SigningKey,
        client_endpoint: String,
        worker_endpoint: String,
    ) -> Result<Self, PaymentsError> {
        data_dir(cfg)?;
        let reg = cocoon_onchain::registration::Registration {
            stake: u128::from(cfg.own_stake),
            client_endpoint,
            worker_endpoint,
            state_file: cfg.data_dir.join("ton.json"),
        };
        let ton = Arc::new(cocoon_onchain::TonSettlement::open(chain, &key, &reg).await?);
        let prices = ton.prices()?;
        prices.validate().map_err(|e| PaymentsError::Prices(format!("the proxy contract's prices: {e}")))?;
        let p = Self::with(cfg, key, prices, ton.clone(), Some(ton.clone()))?;
        // Anti-rollback: the chain's anchor can never be ahead of the database that sent it.
        let anchor = ton.read_anchor().await?;
        if u64::from(anchor.seqno) > p.ledger.anchor() {
            tracing::error!(chain = anchor.seqno, database = p.ledger.anchor(), "ROLLBACK DETECTED: refusing to serve");
            return Err(PaymentsError::RolledBack(format!(
                "the proxy contract holds anchor {} (saved at unix time {}) but this database only reached anchor {}: \
                 it was rolled back or replaced by an older copy; refusing to serve (restore the latest database)",
                anchor.seqno,
                anchor.saved_at,
                p.ledger.anchor()
            )));
        }
        p.ledger.settle_on_chain();
        Ok(p)
    }

    fn with(
        cfg: &PaymentsConfig,
        key: SigningKey,
        prices: Prices,
        settlement: Arc<dyn Settlement>,
        ton: Option<Arc<cocoon_onchain::TonSettlement>>,
    ) -> Result<Self, PaymentsError> {
        // Vouchers name the contracts the settlement backend addresses.
        let contracts = settlement.clone();
        let address_of: ContractAddressOf =
            Arc::new(move |kind: VoucherKind, account: &AccountId| contracts.contract_address(kind, account));
        let ledger = Arc::new(Ledger::open(&cfg.data_dir.join("ledger.redb"), prices, key, address_of)?);
        Ok(Payments {
            ledger,
            settlement,
            ton,
            default_max_tokens: cfg.default_max_tokens,
            commit_interval: Duration::from_millis(cfg.commit_interval_ms.clamp(1, 1000)),
            settle_interval: Duration::from_millis(cfg.settle_interval_ms.max(10)),
            charge_threshold: cfg.charge_threshold,
            payout_threshold: cfg.payout_threshold,
            anchor_interval: Duration::from_secs(cfg.anchor_interval_secs.max(1)),
            charge_now: Default::default(),
            last_anchored: std::sync::atomic::AtomicU64::new(u64::MAX),
        })
    }

    pub fn prices(&self) -> &Prices {
        self.ledger.prices()
    }

    /// Brings the ledger and settlement back in step after a crash between their two writes.
    fn reconcile(&self) -> Result<(), PaymentsError> {
        for (id, view) in self.ledger.accounts().clients {
            let Some(contract) = self.settlement.client(&id)? else { continue };
            if view.account.withdrawn > contract.withdrawn && view.account.state != AccountState::Closed {
                let missing = view.account.withdrawn - contract.withdrawn;
                tracing::warn!(client = %hex::encode(id), missing, "finishing a withdrawal interrupted by a crash");
                self.charge_latest(&id);
                self.settlement.withdraw(&id, missing)?;
            }
            if view.account.state == AccountState::Closed && contract.state != AccountState::Closed {
                let last = self.ledger.voucher(VoucherKind::GrantRefund, &id)?;
                self.settlement.finish_close(&id, last.as_ref(), now_unix())?;
            }
        }
        // Deposits that reached the chain but not the ledger.
        for (id, c) in self.settlement.clients()? {
            let known = self.ledger.client(&id).map_or(0, |v| v.account.deposited);
            if c.deposited > known {
                tracing::warn!(client = %hex::encode(id), "crediting a deposit interrupted by a crash");
                self.ledger.deposit(&id, c.deposited - known)?;
            }
        }
        Ok(())
    }

    /// Submits the client's latest committed charge voucher to settlement (idempotent).
    fn charge_latest(&self, client: &AccountId) {
        match self.ledger.voucher(VoucherKind::ClientCharge, client) {
            Ok(Some(v)) => {
                match self.settlement.charge(client, &v) {
                    // On chain, book the contract as it is after the charge: the room it
                    // freed under the stake is usable at once.
                    Ok(_) if self.ton.is_some() => {
                        let _ = self.refresh(client);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(client = %hex::encode(client), error = %e, "charge by voucher failed"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "could not sign a charge voucher"),
        }
    }

    /// A client tops up: durable in settlement and the ledger before this returns.
    pub fn deposit(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.by_proxy(client, "a deposit")?;
        if amount == 0 {
            return Err(api(LedgerError::Books(BooksError::ZeroAmount)));
        }
        if let Some(v) = self.ledger.client(client) {
            if let AccountState::Closing { .. } = v.account.state {
                return Err(api(LedgerError::Books(BooksError::Closing)));
            }
        }
        self.settlement.deposit(client, amount).map_err(settlement_api)?;
        self.ledger.deposit(client, amount).map_err(api)?;
        self.view(client)
    }

    /// Moves spendable funds into the stake.
    pub fn stake(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.by_proxy(client, "a stake increase")?;
        self.ledger.stake(client, amount).map_err(api)?;
        self.charge_latest(client);
        if let Err(e) = self.settlement.stake(client, amount) {
            tracing::error!(client = %hex::encode(client), error = %e, "settlement stake failed after the ledger moved it");
        }
        self.view(client)
    }

    /// Returns spendable funds (never the stake) to the client.
    pub fn withdraw(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.by_proxy(client, "a withdrawal")?;
        self.ledger.withdraw(client, amount).map_err(api)?;
        self.charge_latest(client);
        if let Err(e) = self.settlement.withdraw(client, amount) {
            // The ledger has it durably; reconcile pays it at the next start.
            tracing::error!(client = %hex::encode(client), error = %e, "settlement withdrawal failed; retried at restart");
        }
        self.view(client)
    }

    /// Starts closing the client's account; its stake comes back after the close delay.
    pub fn close(&self, client: &AccountId) -> Result<ClientView, ApiError> {
        self.by_proxy(client, "a close")?;
        let now = now_unix();
        self.ledger.close(client, now).map_err(api)?;
        if let Err(e) = self.settlement.request_close(client, now) {
            tracing::error!(client = %hex::encode(client), error = %e, "settlement close request failed");
        }
        self.view(client)
    }

    /// Ends every close whose delay has passed: the ledger refunds, settlement pays.
    pub fn finish_due_closes(&self) {
        let now = now_unix();
        for client in self.ledger.closes_due(now) {
            if self.ton.is_some() && self.ledger.unanchored(&client) {
                // The final charge must cover every committed token: anchor first.
                self.anchor();
                continue;
            }
            match self.ledger.finish_close(&client, now) {
                Ok(refund) => {
                    let last = self.ledger.voucher(VoucherKind::GrantRefund, &client).ok().flatten();
                    if let Err(e) = self.settlement.finish_close(&client, last.as_ref(), now) {
                        tracing::error!(client = %hex::encode(client), error = %e, "settlement close failed");
                    }
                    tracing::info!(client = %hex::encode(client), refund, "account closed");
                }
                Err(LedgerError::Books(BooksError::InFlight(_))) => {}
                Err(e) => tracing::warn!(client = %hex::encode(client), error = %e, "could not finish a close"),
            }
        }
    }

    /// Submits vouchers to settlement where enough is unsettled: client charges above the
    /// charge threshold, worker payouts above the payout threshold (as Cocoon commits on-chain
    /// only past 1 and 10 TON, since every operation costs a fee).
    pub fn settle_on_chain(&self) {
        if self.ton.is_some() {
            self.refresh_all();
        }
        let accounts = self.ledger.accounts();
        for (id, view) in &accounts.clients {
            let on_chain = self.settlement.client(id).ok().flatten().map_or(0, |c| c.charged);
            let unsettled = view.account.charged.saturating_sub(on_chain);
            // On chain, also charge before the unpaid usage reaches half the stake, which
            // keeps the client below the stake rule's limit (Cocoon tops up at half the stake).
            let near_stake = self.ton.is_some() && unsettled > 0 && unsettled >= view.account.stake / 2;
            // A client the stake rule refused stays marked until the chain has charged
            // everything (the voucher covers only anchored state, so it may take two runs).
            let refused = {
                let mut marked = lock(&self.charge_now);
                if unsettled == 0 {
                    marked.remove(id);
                }
                marked.contains(id)
            };
            if unsettled >= self.charge_threshold.max(1) || near_stake || (refused && unsettled > 0) {
                self.charge_latest(id);
            }
        }
        if self.ton.is_some() {
            self.regrant_closes(&accounts);
        }
        for (id, w) in &accounts.workers {
            let contract = self.settlement.worker(id).ok().flatten().unwrap_or_default();
            if w.earned.saturating_sub(contract.paid) < self.payout_threshold.max(1) {
                continue;
            }
            match self.ledger.voucher(VoucherKind::WorkerPayout, id) {
                Ok(Some(v)) if v.voucher.tokens > contract.paid_tokens => match self.settlement.payout(id, &v) {
                    Ok(c) => {
                        self.ledger.record_payout(id, c.paid);
                        tracing::info!(worker = %hex::encode(id), paid = c.paid, "worker paid out by voucher");
                    }
                    Err(e) => tracing::warn!(worker = %hex::encode(id), error = %e, "payout by voucher failed"),
                },
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not sign a payout voucher"),
            }
        }
    }

    /// Refuses `what` when settlement is on chain, where the client sends it from its wallet.
    fn by_proxy(&self, client: &AccountId, what: &str) -> Result<(), ApiError> {
        if !self.settlement.on_chain() {
            return Ok(());
        }
        let to = self.settlement.contract_address(VoucherKind::ClientCharge, client);
        Err(ApiError::from_status(
            StatusCode::BAD_REQUEST,
            "on_chain",
            format!(
                "settlement is on TON: {what} is a message from your wallet to your client contract {to} \
                 (`cocoon client deposit|stake|withdraw|close`); this proxy credits only what it sees on chain"
            ),
        ))
    }

    /// The client's account as JSON for the client.
    pub fn view(&self, client: &AccountId) -> Result<ClientView, ApiError> {
        self.ledger.client(client).ok_or_else(|| api(LedgerError::Books(BooksError::UnknownAccount)))
    }

    /// Runs the group committer and the close finisher until `stop`.
    pub fn spawn_background(self: &Arc<Self>, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let committer = self.ledger.spawn_committer(self.commit_interval, stop.clone());
        let closer = self.every(Duration::from_secs(1), stop.clone(), |p| p.finish_due_closes());
        let settler = self.every(self.settle_interval, stop.clone(), |p| p.settle_on_chain());
        let mut tasks = vec![committer, closer, settler];
        if self.ton.is_some() {
            tasks.push(self.every(self.anchor_interval, stop, |p| p.anchor()));
        }
        tasks
    }

    /// Runs `job` off the async workers every `period` until `stop`.
    fn every(
        self: &Arc<Self>,
        period: Duration,
        stop: CancellationToken,
        job: fn(&Payments),
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => return,
                }
                let p = me.clone();
                let _ = tokio::task::spawn_blocking(move || job(&p)).await;
            }
        })
    }

    /// `ledger` and `prices` for `/stats`: the books' totals, checked, in nanotons.
    pub fn snapshot(&self) -> Value {
        let ledger = match self.ledger.audit() {
            Ok(t) => json!({
                "deposited": t.deposited,
                "withdrawn": t.withdrawn,
                "client_available": t.client_available,
                "reserved": t.reserved,
                "staked": t.staked,
                "charged": t.charged,
                "charged_tokens": t.charged_tokens,
                "worker_earned": t.worker_earned,
                "worker_earned_tokens": t.worker_earned_tokens,
                "commission": t.commission,
                "balanced": true,
            }),
            Err(why) => {
                tracing::error!(%why, "THE BOOKS DO NOT BALANCE");
                json!({"balanced": false, "error": why})
            }
        };
        let settlement = self.settlement.proxy().ok();
        let mut v = json!({ "ledger": ledger, "prices": self.prices(), "settlement": settlement });
        if let Some(ton) = &self.ton {
            v["chain"] = crate::onchain::snapshot(self, ton);
        }
        v
    }
}

impl Billing for Payments {
    fn reserve(&self, client: &AccountId, meta: &InferMeta, prompt_bytes: usize) -> Result<Reservation, ApiError> {
        let tokens = meta.max_tokens.unwrap_or(self.default_max_tokens).saturating_add(prompt_bytes as u64);
        let amount = self.prices().max_cost(tokens, meta.max_coefficient);
        let hold = self.ledger.reserve(client, amount).map_err(|e| match e {
            LedgerError::Books(BooksError::UnknownAccount) => ApiError::from_status(
                StatusCode::PAYMENT_REQUIRED,
                "no_account",
                format!(
                    "no account at this proxy: balance 0 nanotons, this request needs up to {amount}; deposit first"
                ),
            )
            .with_field("balance", 0)
            .with_field("required", amount),
            LedgerError::Books(e @ BooksError::UnchargedOverStake { .. }) => {
                // Charge this client at the next settlement run, whatever the threshold.
                lock(&self.charge_now).insert(*client);
                api(LedgerError::Books(e))
            }
            other => api(other),
        })?;
        Ok(Reservation { client: *client, hold: Some(hold) })
    }

    fn settle(&self, r: Reservation, usage: Option<&Usage>, worker: &AccountId, coefficient: u32) -> Option<Cost> {
        let hold = r.hold?;
        let tokens = usage.map(|u| {
            let counts = TokenCounts {
                prompt: u.prompt_tokens,
                cached: u.cached_tokens,
                completion: u.completion_tokens,
                reasoning: u.reasoning_tokens,
            };
            self.prices().cost(&counts, coefficient).adjusted_tokens
        });
        // The ledger charges whole tokens, at most what the hold covers: report what it took.
        let charge = self.ledger.settle(hold, tokens.map(|t| (t, *worker)));
        tokens.map(|_| Cost { adjusted_tokens: charge.tokens, client: charge.client, worker: charge.worker })
    }
}

/// A ledger refusal in the API's words.
pub fn api(e: LedgerError) -> ApiError {
    let s = |status, code: &str, msg: String| ApiError::from_status(status, code.to_string(), msg);
    match e {
        LedgerError::Books(b) => match b {
            BooksError::Insufficient { available, required } => {
                s(StatusCode::PAYMENT_REQUIRED, "insufficient_balance", b.to_string())
                    .with_field("balance", available)
                    .with_field("required", required)
            }
            BooksError::StakeTooLow { stake, required } => {
                s(StatusCode::PAYMENT_REQUIRED, "stake_too_low", b.to_string())
                    .with_field("stake", stake)
                    .with_field("required", required)
            }
            BooksError::UnknownAccount => s(StatusCode::NOT_FOUND, "no_account", b.to_string()),
            BooksError::Closing | BooksError::Closed => s(StatusCode::FORBIDDEN, "account_closed", b.to_string()),
            BooksError::ZeroAmount | BooksError::Overflow => s(StatusCode::BAD_REQUEST, "bad_amount", b.to_string()),
            BooksError::NotClosing | BooksError::TooEarly { .. } | BooksError::InFlight(_) => {
                s(StatusCode::CONFLICT, "not_yet", b.to_string())
            }
            BooksError::UnchargedOverStake { uncharged, stake } => {
                s(StatusCode::PAYMENT_REQUIRED, "charge_pending", b.to_string())
                    .with_field("uncharged", uncharged)
                    .with_field("stake", stake)
            }
            BooksError::ChainAhead { .. } => s(StatusCode::SERVICE_UNAVAILABLE, "state_rolled_back", b.to_string()),
        },
        other => {
            tracing::error!(error = %other, "ledger unavailable");
            s(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", other.to_string())
        }
    }
}

fn settlement_api(e: SettlementError) -> ApiError {
    match e {
        SettlementError::Store(_) => {
            ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "settlement_unavailable", e.to_string())
        }
        other => ApiError::from_status(StatusCode::BAD_REQUEST, "settlement_refused", other.to_string()),
    }
}
