//! Settlement: where money actually moves, the job TON smart contracts do in production.
//!
//! The proxy's [`crate::Ledger`] keeps the off-chain books; a [`Settlement`] backend holds the
//! funds. It models the contracts' state machine — per (client, proxy) a client contract with
//! balance and stake, per (worker, proxy) a worker contract, and the proxy's own contract with
//! its stake — so that the TON backend of a later issue can replace the [`embedded`] one
//! without the proxy changing. Every call that takes a voucher verifies it itself, exactly as
//! a contract would: signature by the proxy's key, kind, account, and cumulative growth.
//!
//! Money model (all nanotons, all cumulative counters only grow):
//! - a client deposit first fills the client's stake up to the minimum; the stake is held by
//!   the proxy contract as collateral for usage vouchered but not yet charged;
//! - charge-by-voucher moves the growth of the client's voucher to the proxy (from the client's
//!   balance, then from its stake);
//! - payout-by-voucher moves the growth of a worker's voucher from the proxy to the worker;
//! - a client withdraws balance (never stake) at once; closing returns balance and stake after
//!   the close delay. If the proxy does not answer, the client forces the refund of balance and
//!   stake once the delay has passed; usage the proxy vouchered but never charged is then lost
//!   to the proxy, and payouts it still owes its workers come out of the proxy's own stake.

pub mod embedded;

pub use embedded::EmbeddedSettlement;

use crate::books::AccountId;
use crate::prices::Nanotons;
use cocoon_voucher::SignedVoucher;
use serde::{Deserialize, Serialize};

/// A client's contract with one proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientContract {
    pub deposited: Nanotons,
    pub withdrawn: Nanotons,
    /// Cumulative amount charged by vouchers.
    pub charged: Nanotons,
    pub balance: Nanotons,
    /// The client's stake (held by the proxy contract).
    pub stake: Nanotons,
    #[serde(flatten)]
    pub state: crate::AccountState,
    /// Whether the close was forced because the proxy did not answer.
    #[serde(default)]
    pub forced: bool,
}

/// A worker's contract with one proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerContract {
    /// Cumulative amount paid by vouchers.
    pub paid: Nanotons,
}

/// The proxy's own contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyContract {
    /// The proxy operator's own stake, what is left of it.
    pub own_stake: Nanotons,
    /// Everything the operator ever staked.
    pub own_stake_posted: Nanotons,
    /// Client stakes the proxy holds.
    pub client_stakes: Nanotons,
    /// Charged from clients and not yet paid to workers: workers' pay and the commission.
    pub earned: Nanotons,
    /// Paid out to workers.
    pub paid_to_workers: Nanotons,
}

#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("no contract for this client")]
    UnknownClient,
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("insufficient funds: {available} nanotons available, {required} required")]
    Insufficient { available: Nanotons, required: Nanotons },
    #[error("bad voucher: {0}")]
    Voucher(#[from] cocoon_voucher::VoucherError),
    #[error("voucher is of the wrong kind for this operation")]
    WrongKind,
    #[error("voucher for {got} nanotons does not grow past {current}")]
    NotMonotonic { current: Nanotons, got: Nanotons },
    #[error("contract is closing")]
    Closing,
    #[error("contract is closed")]
    Closed,
    #[error("contract is not closing")]
    NotClosing,
    #[error("the close delay ends at unix time {at}")]
    TooEarly { at: u64 },
    #[error("the proxy's stake cannot cover {required} nanotons")]
    ProxyStakeShort { required: Nanotons },
    #[error("amount overflows")]
    Overflow,
    #[error("settlement storage: {0}")]
    Store(String),
}

/// The contracts' state machine, as the proxy and its peers use it.
pub trait Settlement: Send + Sync + 'static {
    /// A client tops up its contract (from its wallet).
    fn deposit(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// The proxy posts its own stake.
    fn stake_proxy(&self, amount: Nanotons) -> Result<ProxyContract, SettlementError>;
    /// Moves client balance into its stake.
    fn stake(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// Pays client balance (never stake) back to the client.
    fn withdraw(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// Charge-by-voucher: anyone may submit the proxy's latest client voucher.
    fn charge(&self, voucher: &SignedVoucher) -> Result<ClientContract, SettlementError>;
    /// Payout-by-voucher: anyone may submit the proxy's latest worker voucher.
    fn payout(&self, voucher: &SignedVoucher) -> Result<WorkerContract, SettlementError>;
    /// The client asks to close; returns the contract with the time its delay ends.
    fn request_close(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError>;
    /// The proxy ends a close: charges its final voucher and returns balance and stake.
    fn finish_close(
        &self,
        client: &AccountId,
        last: Option<&SignedVoucher>,
        now: u64,
    ) -> Result<ClientContract, SettlementError>;
    /// The client ends a close the proxy did not answer, once the delay has passed: balance
    /// and stake come back without the proxy's last charge (which its own stake then covers).
    fn force_refund(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError>;

    fn client(&self, client: &AccountId) -> Result<Option<ClientContract>, SettlementError>;
    fn clients(&self) -> Result<Vec<(AccountId, ClientContract)>, SettlementError>;
    fn worker(&self, worker: &AccountId) -> Result<Option<WorkerContract>, SettlementError>;
    fn proxy(&self) -> Result<ProxyContract, SettlementError>;
}
