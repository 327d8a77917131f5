//! Reserve: holds the most the request can cost until it is settled; a reservation that is
//! dropped unsettled (a client that went away, an error, a panic) releases itself.

use crate::billing::Billing;
use cocoon_ledger::{AccountId, Cost, Hold};
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;
use std::sync::Arc;

/// What was set aside for one request, released when dropped unless settled.
pub struct Reservation {
    billing: Arc<dyn Billing>,
    /// The ledger's hold; `None` when payments are off or once settled.
    hold: Option<Hold>,
    /// The output bound reserved for, all choices together (completion tokens are never
    /// charged above it).
    pub max_tokens: u64,
    /// Size of the request body: prompt tokens are never charged above it.
    pub body_bytes: u64,
    /// Counts the request in flight for the drain until the reservation goes.
    _running: crate::drain::Running,
}

impl Reservation {
    /// Holds the request's maximum cost for `client`, or refuses (402 with the balance and
    /// the amount required).
    pub fn take(
        billing: &Arc<dyn Billing>,
        client: &AccountId,
        meta: &InferMeta,
        body_bytes: usize,
        running: crate::drain::Running,
    ) -> Result<Self, ApiError> {
        let hold = billing.hold(client, meta, body_bytes)?;
        Ok(Reservation {
            billing: billing.clone(),
            hold,
            max_tokens: meta.terms.output_bound(0),
            body_bytes: body_bytes as u64,
            _running: running,
        })
    }

    /// Whether money is held (payments on).
    pub fn is_paid(&self) -> bool {
        self.hold.is_some()
    }

    /// Charges `usage` priced at `coefficient` to the worker `worker` and releases the rest;
    /// `None` usage releases everything. Returns what was charged.
    pub fn settle(mut self, usage: Option<&Usage>, worker: &AccountId, coefficient: u32) -> Option<Cost> {
        let hold = self.hold.take()?;
        self.billing.charge(hold, usage, worker, coefficient)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(hold) = self.hold.take() {
            self.billing.charge(hold, None, &[0; 32], 0);
        }
    }
}
