//! Payments behind the request path's [`Billing`] seam: the balance check before a body is
//! read, the hold before a request is routed, the charge when it ends.

use super::{api, lock, Payments};
use crate::billing::Billing;
use cocoon_ledger::{AccountId, BooksError, Cost, Hold, LedgerError, TokenCounts};
use cocoon_openai::{ApiError, Usage};
use cocoon_proto::InferMeta;
use http::StatusCode;

impl Payments {
    /// The output bound a request is reserved for: its own, else the configured default, for
    /// each of its choices.
    fn output_bound(&self, meta: &InferMeta) -> u64 {
        meta.terms.output_bound(self.default_max_tokens)
    }
}

/// The refusal for a client without an account.
fn no_account(amount: u64) -> ApiError {
    ApiError::from_status(
        StatusCode::PAYMENT_REQUIRED,
        "no_account",
        format!("no account at this proxy: balance 0 nanotons, this request needs up to {amount}; deposit first"),
    )
    .with_field("balance", 0)
    .with_field("required", amount)
}

impl Billing for Payments {
    fn precheck(&self, client: &AccountId, meta: &InferMeta) -> Result<(), ApiError> {
        self.admitted(client)?;
        let amount = self.prices().max_cost(self.output_bound(meta), meta.max_coefficient);
        match self.ledger.client(client) {
            None => Err(no_account(amount)),
            Some(v) if v.available < amount => {
                Err(api(LedgerError::Books(BooksError::Insufficient { available: v.available, required: amount })))
            }
            Some(_) => Ok(()),
        }
    }

    /// Runs after [`Billing::precheck`], which refused a quarantined client already.
    fn hold(&self, client: &AccountId, meta: &InferMeta, prompt_bytes: usize) -> Result<Option<Hold>, ApiError> {
        let tokens = self.output_bound(meta).saturating_add(prompt_bytes as u64);
        let amount = self.prices().max_cost(tokens, meta.max_coefficient);
        let hold = self.ledger.reserve(client, amount).map_err(|e| match e {
            LedgerError::Books(BooksError::UnknownAccount) => no_account(amount),
            LedgerError::Books(e @ BooksError::UnchargedOverStake { .. }) => {
                // Charge this client at the next settlement run, whatever the threshold.
                lock(&self.charge_now).insert(*client);
                api(LedgerError::Books(e))
            }
            other => api(other),
        })?;
        Ok(Some(hold))
    }

    fn charge(&self, hold: Hold, usage: Option<&Usage>, worker: &AccountId, coefficient: u32) -> Option<Cost> {
        let tokens = usage.map(|u| {
            let counts = TokenCounts {
                prompt: u.prompt_tokens,
                cached: u.cached_tokens,
                completion: u.completion_tokens,
                reasoning: u.reasoning_tokens,
            };
            self.prices().cost(&counts, coefficient).adjusted_tokens
        });
        // The ledger charges whole tokens, at most what the hold covers: report what it took.
        let charge = self.ledger.settle(hold, tokens.map(|t| (t, *worker)));
        tokens.map(|_| Cost { adjusted_tokens: charge.tokens, client: charge.client, worker: charge.worker })
    }
}
