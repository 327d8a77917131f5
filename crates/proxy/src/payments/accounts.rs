//! The account operations a client asks its proxy for (embedded settlement only; on TON the
//! client sends them from its own wallet) and the charge voucher submitted after each.
//!
//! Order of effects, chosen so that a crash at any point is repaired by reconcile at the next
//! start (settlement is the source of truth for deposits, the ledger for usage):
//! - deposit: settlement first (money arrives in the client's contract), then the ledger;
//! - withdraw and close: the ledger first (durable), then the latest charge voucher and the
//!   payment on settlement.

use super::{api, now_unix, settlement_api, Payments};
use cocoon_ledger::{AccountId, AccountState, BooksError, ClientView, LedgerError};
use cocoon_openai::ApiError;
use cocoon_voucher::VoucherKind;
use http::StatusCode;

impl Payments {
    /// Submits the client's latest committed charge voucher to settlement (idempotent).
    pub(super) fn charge_latest(&self, client: &AccountId) {
        match self.ledger.voucher(VoucherKind::ClientCharge, client) {
            Ok(Some(v)) => {
                match self.settlement.charge(client, &v) {
                    // On chain, book the contract as it is after the charge: the room it
                    // freed under the stake is usable at once.
                    Ok(_) if self.ton.is_some() => {
                        let _ = self.refresh(client);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(client = %hex::encode(client), error = %e, "charge by voucher failed"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "could not sign a charge voucher"),
        }
    }

    /// A client tops up: durable in settlement and the ledger before this returns.
    pub fn deposit(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.admitted(client)?;
        self.by_proxy(client, "a deposit")?;
        if amount == 0 {
            return Err(api(LedgerError::Books(BooksError::ZeroAmount)));
        }
        if let Some(v) = self.ledger.client(client) {
            if let AccountState::Closing { .. } = v.account.state {
                return Err(api(LedgerError::Books(BooksError::Closing)));
            }
        }
        self.settlement.deposit(client, amount).map_err(settlement_api)?;
        self.ledger.deposit(client, amount).map_err(api)?;
        self.view(client)
    }

    /// Moves spendable funds into the stake.
    pub fn stake(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.admitted(client)?;
        self.by_proxy(client, "a stake increase")?;
        self.ledger.stake(client, amount).map_err(api)?;
        self.charge_latest(client);
        if let Err(e) = self.settlement.stake(client, amount) {
            tracing::error!(client = %hex::encode(client), error = %e, "settlement stake failed after the ledger moved it");
        }
        self.view(client)
    }

    /// Returns spendable funds (never the stake) to the client.
    pub fn withdraw(&self, client: &AccountId, amount: u64) -> Result<ClientView, ApiError> {
        self.admitted(client)?;
        self.by_proxy(client, "a withdrawal")?;
        self.ledger.withdraw(client, amount).map_err(api)?;
        self.charge_latest(client);
        if let Err(e) = self.settlement.withdraw(client, amount) {
            // The ledger has it durably; reconcile pays it at the next start.
            tracing::error!(client = %hex::encode(client), error = %e, "settlement withdrawal failed; retried at restart");
        }
        self.view(client)
    }

    /// Starts closing the client's account; its stake comes back after the close delay.
    pub fn close(&self, client: &AccountId) -> Result<ClientView, ApiError> {
        self.admitted(client)?;
        self.by_proxy(client, "a close")?;
        let now = now_unix();
        self.ledger.close(client, now).map_err(api)?;
        if let Err(e) = self.settlement.request_close(client, now) {
            tracing::error!(client = %hex::encode(client), error = %e, "settlement close request failed");
        }
        self.view(client)
    }

    /// Refuses `what` when settlement is on chain, where the client sends it from its wallet.
    fn by_proxy(&self, client: &AccountId, what: &str) -> Result<(), ApiError> {
        if !self.settlement.on_chain() {
            return Ok(());
        }
        let to = self.settlement.contract_address(VoucherKind::ClientCharge, client);
        Err(ApiError::from_status(
            StatusCode::BAD_REQUEST,
            "on_chain",
            format!(
                "settlement is on TON: {what} is a message from your wallet to your client contract {to} \
                 (`cocoon client deposit|stake|withdraw|close`); this proxy credits only what it sees on chain"
            ),
        ))
    }
}
