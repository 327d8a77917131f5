//! Settlement: where money actually moves, the job TON smart contracts do in production.
//!
//! The proxy's [`crate::Ledger`] keeps the off-chain books; a [`Settlement`] backend holds the
//! funds. It models the contracts' state machine — per (client, proxy) a client contract with
//! balance and stake, per (worker, proxy) a worker contract, and the proxy's own contract with
//! its stake — so that the TON backend of a later issue can replace the [`embedded`] one
//! without the proxy changing. Every call that takes a voucher is addressed to one account's
//! contract (as a message is sent to one contract address) and verifies the voucher itself,
//! exactly as a contract would: signature by the proxy's key, kind, the voucher's
//! `expected_my_address` against the contract's own address
//! ([`Settlement::contract_address`]), and growth of the cumulative token count. The contract
//! moves the growth times its price (a client contract) or fee (a worker contract).
//!
//! Money model (all nanotons, all cumulative counters only grow):
//! - a client deposit first fills the client's stake up to the minimum; the stake is held by
//!   the proxy contract as collateral for usage vouchered but not yet charged;
//! - charge-by-voucher moves the growth of the client's voucher, times the price per token, to
//!   the proxy (from the client's balance, then from its stake);
//! - payout-by-voucher moves the growth of a worker's voucher, times the worker fee per token,
//!   from the proxy to the worker;
//! - a client withdraws balance (never stake) at once; closing returns balance and stake after
//!   the close delay. If the proxy does not answer, the client forces the refund of balance and
//!   stake once the delay has passed; usage the proxy vouchered but never charged is then lost
//!   to the proxy, and payouts it still owes its workers come out of the proxy's own stake.

pub mod embedded;

pub use embedded::{embedded_contract_address, EmbeddedSettlement};

use crate::books::AccountId;
use crate::prices::Nanotons;
use cocoon_voucher::{SignedVoucher, TonAddress, VoucherKind};
use serde::{Deserialize, Serialize};

/// A client's contract with one proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientContract {
    /// Everything the client paid in.
    pub deposited: Nanotons,
    /// Everything paid back to the client.
    pub withdrawn: Nanotons,
    /// Cumulative amount charged by vouchers: `charged_tokens x price_per_token`.
    pub charged: Nanotons,
    /// The token count of the latest voucher charged.
    pub charged_tokens: u64,
    /// The client's spendable funds in the contract.
    pub balance: Nanotons,
    /// The client's stake (held by the proxy contract).
    pub stake: Nanotons,
    /// Open, closing or closed.
    #[serde(flatten)]
    pub state: crate::AccountState,
    /// Whether the close was forced because the proxy did not answer.
    #[serde(default)]
    pub forced: bool,
}

/// A worker's contract with one proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerContract {
    /// Cumulative amount paid by vouchers: `paid_tokens x worker_fee_per_token`.
    pub paid: Nanotons,
    /// The token count of the latest voucher paid.
    pub paid_tokens: u64,
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

/// Why a settlement operation was refused (nothing moved).
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    /// The client has no contract.
    #[error("no contract for this client")]
    UnknownClient,
    /// A zero amount.
    #[error("amount must be positive")]
    ZeroAmount,
    /// Not enough funds for the operation.
    #[error("insufficient funds: {available} nanotons available, {required} required")]
    Insufficient {
        /// What there is.
        available: Nanotons,
        /// What the operation needs.
        required: Nanotons,
    },
    /// The voucher does not verify (signature, or a malformed voucher).
    #[error("bad voucher: {0}")]
    Voucher(#[from] cocoon_voucher::VoucherError),
    /// The voucher's kind is not the one this operation takes.
    #[error("voucher is of the wrong kind for this operation")]
    WrongKind,
    /// The voucher names another contract than the one it was sent to.
    #[error("voucher is for contract {got}, sent to {expected}")]
    WrongContract {
        /// The address of the contract the voucher was sent to.
        expected: TonAddress,
        /// The voucher's `expected_my_address`.
        got: TonAddress,
    },
    /// The voucher's tokens do not grow past what the contract already took.
    #[error("voucher for {got} tokens does not grow past {current}")]
    NotMonotonic {
        /// Tokens the contract already took.
        current: u64,
        /// Tokens of the voucher.
        got: u64,
    },
    /// The contract is closing.
    #[error("contract is closing")]
    Closing,
    /// The contract is closed.
    #[error("contract is closed")]
    Closed,
    /// Finishing a close that was never asked for.
    #[error("contract is not closing")]
    NotClosing,
    /// The close delay has not passed.
    #[error("the close delay ends at unix time {at}")]
    TooEarly {
        /// When it does.
        at: u64,
    },
    /// The proxy's own stake cannot cover a payout.
    #[error("the proxy's stake cannot cover {required} nanotons")]
    ProxyStakeShort {
        /// What is missing.
        required: Nanotons,
    },
    /// A counter would overflow.
    #[error("amount overflows")]
    Overflow,
    /// The backend's storage failed.
    #[error("settlement storage: {0}")]
    Store(String),
    /// The backend's storage was written by an incompatible version.
    #[error("settlement storage format: {0}")]
    Format(String),
    /// On chain this is the client's (or operator's) own message from its wallet, not
    /// something the proxy does for it; the text says what to send where.
    #[error("{0}")]
    NotByProxy(String),
    /// The chain could not be reached, or did not take the message in time (retried later).
    #[error("chain: {0}")]
    Chain(String),
}

/// The contracts' state machine, as the proxy and its peers use it.
pub trait Settlement: Send + Sync + 'static {
    /// The address of `account`'s contract for vouchers of `kind`: the `expected_my_address`
    /// a voucher for it must carry. Both client kinds (charge, grant refund) name the client's
    /// one contract.
    fn contract_address(&self, kind: VoucherKind, account: &AccountId) -> TonAddress;
    /// A client tops up its contract (from its wallet).
    fn deposit(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// The proxy posts its own stake.
    fn stake_proxy(&self, amount: Nanotons) -> Result<ProxyContract, SettlementError>;
    /// Moves client balance into its stake.
    fn stake(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// Pays client balance (never stake) back to the client.
    fn withdraw(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError>;
    /// Charge-by-voucher: anyone may send the proxy's latest charge voucher to `client`'s contract.
    fn charge(&self, client: &AccountId, voucher: &SignedVoucher) -> Result<ClientContract, SettlementError>;
    /// Payout-by-voucher: anyone may send the proxy's latest payout voucher to `worker`'s contract.
    fn payout(&self, worker: &AccountId, voucher: &SignedVoucher) -> Result<WorkerContract, SettlementError>;
    /// The client asks to close; returns the contract with the time its delay ends.
    fn request_close(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError>;
    /// The proxy ends a close: charges its final (grant-refund) voucher and returns balance and
    /// stake.
    fn finish_close(
        &self,
        client: &AccountId,
        last: Option<&SignedVoucher>,
        now: u64,
    ) -> Result<ClientContract, SettlementError>;
    /// The client ends a close the proxy did not answer, once the delay has passed: balance
    /// and stake come back without the proxy's last charge (which its own stake then covers).
    fn force_refund(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError>;

    /// Settlement on chain only: `client`'s contract as the chain shows it now (one read), for
    /// [`crate::Ledger::sync_client`]; `Ok(None)` where the contract does not exist yet. The
    /// embedded backend answers `Ok(None)` always: there the ledger's own deposits are the truth.
    /// May block on the network: call it off the async workers.
    fn observe_client(&self, _client: &AccountId) -> Result<Option<crate::ChainClient>, SettlementError> {
        Ok(None)
    }

    /// Whether money enters and leaves on chain, by the client's own messages: then the proxy
    /// never credits a deposit on request, and reads contracts with [`Settlement::observe_client`].
    fn on_chain(&self) -> bool {
        false
    }

    /// One client's contract, if it has one.
    fn client(&self, client: &AccountId) -> Result<Option<ClientContract>, SettlementError>;
    /// Every client contract.
    fn clients(&self) -> Result<Vec<(AccountId, ClientContract)>, SettlementError>;
    /// One worker's contract, if it was ever paid.
    fn worker(&self, worker: &AccountId) -> Result<Option<WorkerContract>, SettlementError>;
    /// The proxy's own contract.
    fn proxy(&self) -> Result<ProxyContract, SettlementError>;
}
