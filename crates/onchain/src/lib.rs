//! The roles' use of the TON chain, on top of `cocoon-ton` (which knows TON, not roles).
//!
//! - [`config`]: where the chain is (API endpoint and key, the root's address) and how to
//!   send (value attached, waits);
//! - [`client`]: a client's wallet messages to its client contract (top-up, stake,
//!   withdraw, close), the contract found through the root by the proxy's attested key;
//! - [`keys`]: a role's wallet is the wallet of its RA-TLS identity key, so every peer's
//!   contracts follow from the key it attested with;
//! - [`registration`]: the proxy's contract: found in the root's registry, or registered with
//!   the operator's stake at first start, remembered in the data dir;
//! - [`registry`]: the proxies a client or worker uses, read from the root;
//! - [`submit`]: sending a signed voucher to a contract exactly once per token count;
//! - [`settlement`]: [`TonSettlement`], the `ton` backend of the ledger's `Settlement` trait.

pub mod client;
pub mod config;
pub mod keys;
pub mod registration;
pub mod registry;
pub mod settlement;
pub mod submit;

pub use config::ChainConfig;
pub use settlement::TonSettlement;

/// Why talking to the chain failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// TON access failed (network, API, cells).
    #[error(transparent)]
    Ton(#[from] cocoon_ton::Error),
    /// The API failed.
    #[error(transparent)]
    Api(#[from] cocoon_ton::TonApiError),
    /// The proxy's state file could not be read or written.
    #[error("{path}: {message}")]
    State {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The chain says something this proxy cannot work with (not registered, closed, the
    /// root's params changed, not enough money in the wallet); the text says what to do.
    #[error("{0}")]
    Refused(String),
    /// Waited too long for the chain.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A voucher could not be encoded.
    #[error(transparent)]
    Voucher(#[from] cocoon_voucher::VoucherError),
}
