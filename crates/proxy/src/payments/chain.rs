//! The proxy's payments when settlement is on TON: reading client contracts into the ledger,
//! re-sending refunds that did not land, and the chain's figures for `/stats`.
//!
//! Money enters and leaves only on chain, by the client's own messages; the proxy learns of it
//! here: when a client connects, when it asks for its account, and at every settlement run.

use super::{api, Payments};
use cocoon_ledger::{AccountId, AccountState, Accounts, ClientView, Synced};
use cocoon_onchain::TonSettlement;
use cocoon_openai::ApiError;
use cocoon_ton::address;
use cocoon_voucher::VoucherKind;
use http::StatusCode;
use serde_json::{json, Value};

impl Payments {
    /// Reads `client`'s contract and books what changed (durable before it returns). Blocks
    /// on the network: call it off the async workers. A no-op with embedded settlement.
    pub fn refresh(&self, client: &AccountId) -> Result<Synced, ApiError> {
        let chain = self.settlement.observe_client(client).map_err(|e| {
            tracing::warn!(client = %hex::encode(client), error = %e, "could not read the client's contract");
            ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "chain_unavailable", e.to_string())
        })?;
        let Some(chain) = chain else { return Ok(Synced::default()) };
        let synced = self.ledger.sync_client(client, &chain).map_err(api)?;
        if synced != Synced::default() {
            tracing::info!(client = %hex::encode(client), credited = synced.credited, returned = synced.returned,
                unpaid = synced.unpaid, "client contract changed on chain");
        }
        Ok(synced)
    }

    /// The client's account after reading its contract: what `GET /cocoon/v1/account` answers.
    pub fn view_fresh(&self, client: &AccountId) -> Result<ClientView, ApiError> {
        if self.ton.is_some() {
            self.refresh(client)?;
        }
        self.view(client)
    }

    /// Anchors the ledger's state on chain when it changed since the last anchor: the anchor
    /// number is durable in the database before the message leaves.
    pub(crate) fn anchor(&self) {
        let Some(ton) = &self.ton else { return };
        let seqno = self.ledger.seqno();
        if self.last_anchored.load(std::sync::atomic::Ordering::Relaxed) == seqno {
            return;
        }
        let state = match self.ledger.next_anchor() {
            Ok(s) => s,
            Err(e) => return tracing::error!(error = %e, "could not record an anchor"),
        };
        match ton.save_anchor(&state) {
            Ok(hash) => {
                self.last_anchored.store(state.seqno, std::sync::atomic::Ordering::Relaxed);
                self.anchored_at.store(crate::payments::now_unix(), std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = self.ledger.confirm_anchor(state.number) {
                    tracing::error!(error = %e, "could not sign the vouchers an anchor covers");
                }
                tracing::info!(anchor = state.number, seqno = state.seqno, hash = %hash, "ledger anchored on chain");
            }
            Err(e) => {
                tracing::warn!(anchor = state.number, error = %e, "anchor not saved on chain; the next one will be")
            }
        }
    }

    /// Reads every known client's contract (a settlement run).
    pub(crate) fn refresh_all(&self) {
        for (id, view) in self.ledger.accounts().clients {
            if view.account.state == AccountState::Closed
                && self.settlement.client(&id).ok().flatten().is_some_and(|c| c.state == AccountState::Closed)
            {
                continue;
            }
            let _ = self.refresh(&id);
        }
    }

    /// Sends the grant refund again to closed accounts whose contract is not closed yet (the
    /// first send did not land); each token count is sent once while it is in flight.
    pub(crate) fn regrant_closes(&self, accounts: &Accounts) {
        for (id, view) in &accounts.clients {
            if view.account.state != AccountState::Closed {
                continue;
            }
            let chain = self.settlement.client(id).ok().flatten();
            if chain.is_none_or(|c| c.state == AccountState::Closed) {
                continue;
            }
            match self.ledger.voucher(VoucherKind::GrantRefund, id) {
                Ok(last) => {
                    if let Err(e) = self.settlement.finish_close(id, last.as_ref(), crate::payments::now_unix()) {
                        tracing::warn!(client = %hex::encode(id), error = %e, "grant refund not on chain yet; retried");
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not sign a grant refund"),
            }
        }
    }
}

/// The chain's side for `/stats`: addresses, the proxy contract, and per client its contract
/// beside the ledger's account.
pub fn snapshot(p: &Payments, ton: &TonSettlement) -> Value {
    let proxy = p.settlement.proxy().ok();
    let accounts = p.ledger.accounts();
    let clients: Vec<Value> = accounts
        .clients
        .iter()
        .map(|(id, view)| {
            let contract = ton.client_address(id).map(|a| address::raw(&a)).unwrap_or_default();
            let chain = p.settlement.client(id).ok().flatten();
            json!({
                "client": hex::encode(id),
                "contract": contract,
                "ledger": { "balance": view.account.balance, "stake": view.account.stake,
                            "charged_tokens": view.account.charged_tokens, "unpaid": view.account.unpaid },
                "chain": chain.map(|c| json!({ "balance": c.balance, "stake": c.stake, "tokens_used": c.charged_tokens })),
            })
        })
        .collect();
    let workers: Vec<Value> = accounts
        .workers
        .iter()
        .map(|(id, w)| {
            let contract = ton.worker_address(id).map(|a| address::raw(&a)).unwrap_or_default();
            let chain = p.settlement.worker(id).ok().flatten();
            json!({
                "worker": hex::encode(id),
                "contract": contract,
                "ledger": { "earned_tokens": w.earned_tokens, "earned": w.earned, "paid_out": w.paid_out },
                "chain": chain.map(|c| json!({ "paid_tokens": c.paid_tokens, "paid": c.paid })),
            })
        })
        .collect();
    json!({
        "network": "ton",
        "workers": workers,
        "root": address::raw(ton.root()),
        "proxy_contract": address::raw(ton.proxy_address()),
        "wallet": address::raw(ton.wallet_address()),
        "proxy": proxy,
        "clients": clients,
    })
}
