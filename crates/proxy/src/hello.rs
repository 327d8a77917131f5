//! A client's hello: version negotiation, a chain read for a client that topped up before it
//! connected, and the anti-rollback check of the voucher it presents (also used for workers).

use crate::{payments::Payments, Shared};
use cocoon_ledger::{AccountId, LedgerError};
use cocoon_openai::ApiError;
use cocoon_transport::{answer_hello_body, error_response, read_within, Body};
use cocoon_voucher::SignedVoucher;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use std::{sync::Arc, time::Duration};

/// Longest a peer may take to send its hello body.
const HELLO_READ: Duration = Duration::from_secs(10);

/// Answers `client`'s hello. A client presenting a voucher for more than the ledger holds
/// proves this proxy's state was rolled back: the proxy refuses it and stops serving paid
/// requests (fail-stop).
pub async fn hello(shared: &Arc<Shared>, client: &AccountId, body: Incoming) -> Response<Body> {
    let bytes = match read_within(body, 64 * 1024, HELLO_READ).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request("bad_hello", e.to_string())),
    };
    let (hello, resp) = answer_hello_body(&bytes, None);
    if let Some(p) = shared.payments.as_ref().filter(|p| p.ton.is_some()) {
        // A client that topped up before it connected is credited without asking.
        let (p, client) = (p.clone(), *client);
        tokio::task::spawn_blocking(move || p.refresh(&client));
    }
    let (Some(hello), Some(p)) = (hello, shared.payments.as_ref()) else { return resp };
    let Some(text) = hello.voucher else { return resp };
    match check_voucher(p, client, &text) {
        Ok(()) => resp,
        Err(e) => error_response(&e),
    }
}

/// Checks a voucher the peer `account` presents at hello (see [`hello`]); used for workers too.
/// A voucher for another contract (e.g. from another settlement backend) proves nothing here.
pub fn check_voucher(p: &Payments, account: &AccountId, text: &str) -> Result<(), ApiError> {
    let v = SignedVoucher::from_base64(text)
        .map_err(|e| ApiError::bad_request("bad_voucher", format!("presented voucher: {e}")))?;
    match p.ledger.check_presented(account, &v) {
        Ok(()) | Err(LedgerError::ForeignVoucher) => Ok(()),
        Err(e @ LedgerError::OtherContract { .. }) => {
            tracing::warn!(account = %hex::encode(account), error = %e, "a peer presented a voucher for another contract; ignored");
            Ok(())
        }
        Err(e @ LedgerError::RolledBack { .. }) => {
            tracing::error!(account = %hex::encode(account), error = %e,
                "ROLLBACK DETECTED: a peer holds a voucher above this proxy's database; refusing to serve");
            p.ledger.halt();
            Err(ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "state_rolled_back", e.to_string()))
        }
        Err(e) => Err(crate::payments::api(e)),
    }
}
