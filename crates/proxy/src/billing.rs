//! The payment seam in the request path.
//!
//! Before a request is routed the proxy asks [`Billing::reserve`] to hold what the request can
//! cost; when it ends, [`Billing::settle`] charges what it actually used and releases the rest.
//! [`Free`] runs a network without payments; [`crate::payments::Payments`] is the real thing.

use cocoon_ledger::{AccountId, Cost, Hold};
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;

/// What was set aside for one request.
#[derive(Debug)]
pub struct Reservation {
    pub client: AccountId,
    /// The ledger's hold; `None` when payments are off.
    pub hold: Option<Hold>,
}

pub trait Billing: Send + Sync + 'static {
    /// Reserves the request's maximum cost for `client`, or refuses (HTTP 402 with the balance
    /// and the amount required). `prompt_bytes` bounds the prompt's tokens.
    fn reserve(&self, client: &AccountId, meta: &InferMeta, prompt_bytes: usize) -> Result<Reservation, ApiError>;

    /// Charges the actual usage (nothing if the request failed before any output) and releases
    /// the rest of the reservation. Returns what the client was charged.
    fn settle(
        &self,
        reservation: Reservation,
        usage: Option<&Usage>,
        worker: &AccountId,
        coefficient: u32,
    ) -> Option<Cost>;
}

/// No payments: every request is admitted and nothing is charged.
pub struct Free;

impl Billing for Free {
    fn reserve(&self, client: &AccountId, _meta: &InferMeta, _prompt_bytes: usize) -> Result<Reservation, ApiError> {
        Ok(Reservation { client: *client, hold: None })
    }

    fn settle(&self, _r: Reservation, _usage: Option<&Usage>, _worker: &AccountId, _coefficient: u32) -> Option<Cost> {
        None
    }
}
