//! Ledger and settlement refusals in the API's words (status, code, message and the figures
//! a client needs to act on them).

use cocoon_ledger::settlement::SettlementError;
use cocoon_ledger::{BooksError, LedgerError};
use cocoon_openai::ApiError;
use http::StatusCode;

/// A ledger refusal in the API's words.
pub fn api(e: LedgerError) -> ApiError {
    let s = |status, code: &str, msg: String| ApiError::from_status(status, code.to_string(), msg);
    match e {
        LedgerError::Books(b) => match b {
            BooksError::Insufficient { available, required } => {
                s(StatusCode::PAYMENT_REQUIRED, "insufficient_balance", b.to_string())
                    .with_field("balance", available)
                    .with_field("required", required)
            }
            BooksError::StakeTooLow { stake, required } => {
                s(StatusCode::PAYMENT_REQUIRED, "stake_too_low", b.to_string())
                    .with_field("stake", stake)
                    .with_field("required", required)
            }
            BooksError::UnknownAccount => s(StatusCode::NOT_FOUND, "no_account", b.to_string()),
            BooksError::Closing | BooksError::Closed => s(StatusCode::FORBIDDEN, "account_closed", b.to_string()),
            BooksError::ZeroAmount | BooksError::Overflow => s(StatusCode::BAD_REQUEST, "bad_amount", b.to_string()),
            BooksError::NotClosing | BooksError::TooEarly { .. } | BooksError::InFlight(_) => {
                s(StatusCode::CONFLICT, "not_yet", b.to_string())
            }
            BooksError::UnchargedOverStake { uncharged, stake } => {
                s(StatusCode::PAYMENT_REQUIRED, "charge_pending", b.to_string())
                    .with_field("uncharged", uncharged)
                    .with_field("stake", stake)
            }
            BooksError::ChainAhead { .. } => s(StatusCode::SERVICE_UNAVAILABLE, "state_rolled_back", b.to_string()),
        },
        other => {
            tracing::error!(error = %other, "ledger unavailable");
            s(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", other.to_string())
        }
    }
}

pub(crate) fn settlement_api(e: SettlementError) -> ApiError {
    match e {
        SettlementError::Store(_) => {
            ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "settlement_unavailable", e.to_string())
        }
        other => ApiError::from_status(StatusCode::BAD_REQUEST, "settlement_refused", other.to_string()),
    }
}
