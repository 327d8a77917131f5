//! The payment seam in the request path.
//!
//! Before a body is read the proxy asks [`Billing::precheck`] whether the client could pay
//! for the request's output at all; before it is routed, [`Billing::hold`] sets aside what it
//! can cost (see [`crate::pipeline::reserve`]); when it ends, [`Billing::charge`] charges what
//! it used and releases the rest. [`Free`] runs a network without payments;
//! [`crate::payments::Payments`] is the real thing.

use cocoon_ledger::{AccountId, Cost, Hold};
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;

/// How the request path pays: checks, holds and charges.
pub trait Billing: Send + Sync + 'static {
    /// Refuses a request `client` cannot pay even its output bound for (HTTP 402), or a
    /// client that may not be served at all, before its body is read. Runs before [`Billing::hold`].
    fn precheck(&self, client: &AccountId, meta: &InferMeta) -> Result<(), ApiError>;

    /// Holds the request's maximum cost for `client` (`None` when payments are off), or
    /// refuses (HTTP 402 with the balance and the amount required). `prompt_bytes` bounds the
    /// prompt's tokens.
    fn hold(&self, client: &AccountId, meta: &InferMeta, prompt_bytes: usize) -> Result<Option<Hold>, ApiError>;

    /// Charges `usage` (nothing when `None`) priced at `coefficient`, earned by `worker`,
    /// and releases the rest of `hold`. Returns what was charged.
    fn charge(&self, hold: Hold, usage: Option<&Usage>, worker: &AccountId, coefficient: u32) -> Option<Cost>;
}

/// No payments: every request is admitted and nothing is charged.
pub struct Free;

impl Billing for Free {
    fn precheck(&self, _client: &AccountId, _meta: &InferMeta) -> Result<(), ApiError> {
        Ok(())
    }

    fn hold(&self, _client: &AccountId, _meta: &InferMeta, _prompt_bytes: usize) -> Result<Option<Hold>, ApiError> {
        Ok(None)
    }

    fn charge(&self, _hold: Hold, _usage: Option<&Usage>, _worker: &AccountId, _coefficient: u32) -> Option<Cost> {
        None
    }
}
