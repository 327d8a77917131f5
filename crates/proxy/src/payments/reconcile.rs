//! Reconcile: brings the ledger and the embedded settlement back in step after a crash
//! between their two writes, one account at a time. An account that cannot be repaired is
//! quarantined (logged, refused service, shown in `/stats`): one client's bad state never
//! stops the proxy from starting for everybody else.

use super::{now_unix, Payments, PaymentsError};
use cocoon_ledger::{AccountId, AccountState, ClientView};
use cocoon_openai::ApiError;
use cocoon_voucher::VoucherKind;
use http::StatusCode;
use std::collections::BTreeMap;

/// Accounts refused service until an operator looks at them, with why.
#[derive(Default)]
pub struct Quarantine(std::sync::Mutex<BTreeMap<AccountId, String>>);

impl Quarantine {
    /// Refuses service to `id` from now on.
    pub fn add(&self, id: AccountId, why: String) {
        tracing::error!(client = %hex::encode(id), %why, "account QUARANTINED: refused service until an operator repairs it");
        super::lock(&self.0).insert(id, why);
    }

    /// Why `id` is quarantined, if it is.
    pub fn reason(&self, id: &AccountId) -> Option<String> {
        super::lock(&self.0).get(id).cloned()
    }

    /// Every quarantined account (hex) with why, for `/stats`.
    pub fn list(&self) -> Vec<(String, String)> {
        super::lock(&self.0).iter().map(|(id, why)| (hex::encode(id), why.clone())).collect()
    }
}

impl Payments {
    /// Repairs every account; quarantines those it cannot. Fails only when settlement itself
    /// cannot be read.
    pub(super) fn reconcile(&self) -> Result<(), PaymentsError> {
        for (id, view) in self.ledger.accounts().clients {
            if let Err(why) = self.reconcile_client(&id, &view) {
                self.quarantine.add(id, why);
            }
        }
        // Deposits that reached settlement but not the ledger.
        for (id, c) in self.settlement.clients()? {
            let known = self.ledger.client(&id).map_or(0, |v| v.account.deposited);
            if c.deposited > known {
                tracing::warn!(client = %hex::encode(id), "crediting a deposit interrupted by a crash");
                if let Err(e) = self.ledger.deposit(&id, c.deposited - known) {
                    self.quarantine.add(
                        id,
                        format!(
                            "a deposit of {} nanotons in settlement could not be credited: {e}",
                            c.deposited - known
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Finishes a withdrawal or a close that reached the ledger but not settlement.
    fn reconcile_client(&self, id: &AccountId, view: &ClientView) -> Result<(), String> {
        let contract = self.settlement.client(id).map_err(|e| format!("settlement: {e}"))?;
        let Some(contract) = contract else { return Ok(()) };
        if view.account.withdrawn > contract.withdrawn && view.account.state != AccountState::Closed {
            let missing = view.account.withdrawn - contract.withdrawn;
            tracing::warn!(client = %hex::encode(id), missing, "finishing a withdrawal interrupted by a crash");
            self.charge_latest(id);
            self.settlement.withdraw(id, missing).map_err(|e| format!("finishing a withdrawal of {missing}: {e}"))?;
        }
        if view.account.state == AccountState::Closed && contract.state != AccountState::Closed {
            let last = self.ledger.voucher(VoucherKind::GrantRefund, id).map_err(|e| e.to_string())?;
            self.settlement
                .finish_close(id, last.as_ref(), now_unix())
                .map_err(|e| format!("finishing a close: {e}"))?;
        }
        Ok(())
    }

    /// Refuses a quarantined client (HTTP 403 with why).
    pub(crate) fn admitted(&self, client: &AccountId) -> Result<(), ApiError> {
        match self.quarantine.reason(client) {
            None => Ok(()),
            Some(why) => Err(ApiError::from_status(
                StatusCode::FORBIDDEN,
                "account_quarantined",
                format!("this account is quarantined until the proxy's operator repairs it: {why}"),
            )),
        }
    }
}
