//! Payments on the proxy: the ledger and the settlement backend, split by job:
//! [`billing`] (the request path's seam), [`accounts`] (what clients ask for),
//! [`reconcile`] (repairs after a crash, quarantine), [`scheduler`] (background commits,
//! closes, vouchers, anchors), [`chain`] (settlement on TON) and [`errors`] (refusals in the
//! API's words).

pub mod accounts;
pub mod billing;
pub mod chain;
pub mod errors;
pub mod reconcile;
pub mod scheduler;

pub use errors::api;
pub(crate) use errors::settlement_api;

use crate::config::PaymentsConfig;
use cocoon_ledger::settlement::{EmbeddedSettlement, Settlement, SettlementError};
use cocoon_ledger::{AccountId, BooksError, ClientView, ContractAddressOf, Ledger, LedgerError, Prices};
use cocoon_openai::ApiError;
use cocoon_voucher::VoucherKind;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};

/// Why payments could not start.
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

/// The proxy's payments: its ledger, the settlement backend, and their schedule.
pub struct Payments {
    /// The books: balances, reservations, charges and earnings, and the vouchers signed for them.
    pub ledger: Arc<Ledger>,
    /// Where deposits, charges and payouts are settled: the embedded backend or TON.
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
    /// When that anchor was saved (Unix seconds; 0: none this run).
    pub(crate) anchored_at: std::sync::atomic::AtomicU64,
    /// Accounts reconcile could not repair: refused service, shown in `/stats`.
    pub quarantine: reconcile::Quarantine,
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
        report_url: Option<String>,
    ) -> Result<Self, PaymentsError> {
        data_dir(cfg)?;
        let reg = cocoon_onchain::registration::Registration {
            stake: u128::from(cfg.own_stake),
            client_endpoint,
            worker_endpoint,
            report_url,
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
            anchored_at: std::sync::atomic::AtomicU64::new(0),
            quarantine: Default::default(),
        })
    }

    /// The price table requests are charged by.
    pub fn prices(&self) -> &Prices {
        self.ledger.prices()
    }

    /// The client's account as JSON for the client.
    pub fn view(&self, client: &AccountId) -> Result<ClientView, ApiError> {
        self.ledger.client(client).ok_or_else(|| api(LedgerError::Books(BooksError::UnknownAccount)))
    }

    /// How far the chain's anchor is behind the ledger (settlement on TON only): the ledger's
    /// commit seqno, the seqno the last anchor of this run covers, the commits between them,
    /// and when that anchor was saved.
    pub fn anchor_lag(&self) -> Option<Value> {
        use std::sync::atomic::Ordering::Relaxed;
        self.ton.as_ref()?;
        let seqno = self.ledger.seqno();
        let anchored = self.last_anchored.load(Relaxed);
        let at = self.anchored_at.load(Relaxed);
        let (anchored, behind) = match anchored {
            u64::MAX => (Value::Null, seqno),
            a => (json!(a), seqno.saturating_sub(a)),
        };
        Some(json!({
            "ledger_seqno": seqno,
            "anchored_seqno": anchored,
            "behind": behind,
            "anchored_at": if at == 0 { Value::Null } else { json!(at) },
        }))
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
        let quarantined: Vec<Value> =
            self.quarantine.list().into_iter().map(|(id, why)| json!({"client": id, "reason": why})).collect();
        let mut v =
            json!({ "ledger": ledger, "prices": self.prices(), "settlement": settlement, "quarantined": quarantined });
        if let Some(lag) = self.anchor_lag() {
            v["anchor"] = lag;
        }
        if let Some(ton) = &self.ton {
            v["chain"] = chain::snapshot(self, ton);
        }
        v
    }
}
