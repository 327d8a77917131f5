//! TON access for cocoon: one crate with one job.
//!
//! - [`api`]: [`TonApi`], a client of the TON HTTP API v2 (toncenter, or `cocoon devnet`),
//!   with timeouts, bounded retries and typed answers;
//! - [`address`]: raw and user-friendly addresses, `MsgAddress` in cells;
//! - [`contracts`]: the cocoon contracts' codes, [`Params`], StateInits and addresses exactly as
//!   the contracts compute them, message bodies ([`contracts::messages`]) and getters
//!   ([`contracts::getters`]);
//! - [`wallet`]: a wallet v4r2 that signs, sends and waits for its transaction.
//!
//! Cells, BOCs and addresses are tycho-types' ([`Cell`], [`StdAddr`], [`StateInit`]).

pub mod address;
pub mod api;
pub mod contracts;
pub mod error;
pub mod wallet;

pub use api::{
    AccountInfo, AccountState, GetMethodResult, StackEntry, StackReader, TonApi, TonApiConfig, Transaction,
    TransactionId, TransactionsQuery, TxMessage, TxOutcome, WalletInfo,
};
pub use contracts::{
    address_of, client_state_init, proxy_state_init, root_state_init, worker_state_init, Codes, Params, RootConfig,
};
pub use error::{Error, Result, TonApiError};
pub use wallet::{SendOptions, Transfer, WalletV4};

pub use tycho_types;
pub use tycho_types::cell::{Cell, HashBytes};
pub use tycho_types::models::{StateInit, StdAddr};

/// Nanotons in one TON.
pub const NANOTON: u128 = 1_000_000_000;
