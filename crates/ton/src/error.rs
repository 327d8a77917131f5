//! The crate's errors: what the TON HTTP API can answer ([`TonApiError`]) and everything else
//! that can go wrong reading or building cells and sending through a wallet ([`Error`]).

use std::time::Duration;

/// A failed TON HTTP API v2 request, after its retries.
#[derive(Debug, thiserror::Error)]
pub enum TonApiError {
    /// The endpoint could not be reached or the connection broke (after `attempts` tries).
    #[error("TON API {method}: cannot reach {endpoint} after {attempts} attempt(s): {message}")]
    Http {
        /// The API method.
        method: String,
        /// The configured endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        message: String,
    },
    /// No answer within the per-request timeout (after `attempts` tries).
    #[error("TON API {method}: no answer from {endpoint} within {timeout:?} ({attempts} attempt(s))")]
    Timeout {
        /// The API method.
        method: String,
        /// The configured endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The per-request timeout.
        timeout: Duration,
    },
    /// The API answered with an error (`code` is the HTTP status or toncenter's `code`).
    #[error("TON API {method}: error {code}: {message}")]
    Api {
        /// The API method.
        method: String,
        /// HTTP status or the envelope's `code`.
        code: u16,
        /// The envelope's `error` (or the start of the body).
        message: String,
    },
    /// The answer was not what the method returns (bad JSON, a bad BOC, a missing field).
    #[error("TON API {method}: unexpected answer: {message}")]
    Decode {
        /// The API method.
        method: String,
        /// What was wrong.
        message: String,
    },
    /// The client configuration is unusable (bad endpoint URL, bad API key header value).
    #[error("TON API configuration: {0}")]
    Config(String),
}

impl TonApiError {
    /// The HTTP status or toncenter code of an [`TonApiError::Api`] answer.
    pub fn api_code(&self) -> Option<u16> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Anything this crate can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TON HTTP API request failed.
    #[error(transparent)]
    Api(#[from] TonApiError),
    /// A cell could not be built or read.
    #[error("cell: {0}")]
    Cell(#[from] tycho_types::error::Error),
    /// An address string is neither raw (`0:hex`) nor a valid user-friendly address.
    #[error("address {input:?}: {reason}")]
    Address {
        /// The string given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A get-method failed or returned something other than its documented stack.
    #[error("get-method {method}: {message}")]
    Getter {
        /// The get-method.
        method: String,
        /// What was wrong (exit code, stack shape).
        message: String,
    },
    /// A wallet operation could not be done or confirmed.
    #[error("wallet {address}: {message}")]
    Wallet {
        /// The wallet's address (raw form).
        address: String,
        /// What happened.
        message: String,
    },
    /// A BOC embedded at build time or given by the caller is invalid.
    #[error("BOC {what}: {message}")]
    Boc {
        /// Which BOC.
        what: String,
        /// Why it is invalid.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
