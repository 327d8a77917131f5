//! The payment seam in the request path.
//!
//! Before a request is routed the proxy asks [`Billing::reserve`] whether the client may spend
//! what the request can cost; when it ends, [`Billing::settle`] charges what it actually used.
//! This issue ships [`Free`] (no payments); the ledger of the payments issue implements the
//! same trait, so the request path does not change.

use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;

/// What was set aside for one request.
#[derive(Debug)]
pub struct Reservation {
    pub client: String,
}

pub trait Billing: Send + Sync + 'static {
    /// Reserves the request's maximum cost for `client` (its public key, hex), or refuses
    /// (HTTP 402 with balance and required amount, once payments exist).
    fn reserve(&self, client: &str, meta: &InferMeta) -> Result<Reservation, ApiError>;

    /// Charges the actual usage (none if the request failed before any output) and releases
    /// the rest of the reservation.
    fn settle(&self, reservation: Reservation, usage: Option<&Usage>, worker_id: &str, coefficient: u32);
}

/// No payments: every request is admitted and nothing is charged.
pub struct Free;

impl Billing for Free {
    fn reserve(&self, client: &str, _meta: &InferMeta) -> Result<Reservation, ApiError> {
        Ok(Reservation { client: client.to_string() })
    }

    fn settle(&self, _reservation: Reservation, _usage: Option<&Usage>, _worker_id: &str, _coefficient: u32) {}
}
