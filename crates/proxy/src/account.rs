//! The client's side of payments on its link: hello with the anti-rollback check, account
//! operations (view, deposit, stake, withdraw, close) and the stream of committed vouchers.

use crate::{payments::Payments, Shared};
use bytes::Bytes;
use cocoon_ledger::{AccountId, LedgerError};
use cocoon_openai::ApiError;
use cocoon_proto::{path, AmountRequest, EventCodec, VoucherEvent};
use cocoon_transport::{answer_hello_body, error_response, json_response, read_limited, Body, BoxError};
use cocoon_voucher::{SignedVoucher, VoucherKind};
use futures::StreamExt;
use http::{Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use serde_json::json;
use std::sync::Arc;

const MAX_ACCOUNT_BODY: usize = 4096;

fn payments(shared: &Shared) -> Result<&Arc<Payments>, ApiError> {
    shared
        .payments
        .as_ref()
        .ok_or_else(|| ApiError::from_status(StatusCode::NOT_FOUND, "payments_off", "this proxy runs without payments"))
}

/// Answers `client`'s hello. A client presenting a voucher for more than the ledger holds
/// proves this proxy's state was rolled back: the proxy refuses it and stops serving paid
/// requests (fail-stop).
pub async fn hello(shared: &Arc<Shared>, client: &AccountId, body: Incoming) -> Response<Body> {
    let bytes = match read_limited(body, 64 * 1024).await {
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

/// Serves one account request from `client`.
pub async fn handle(shared: &Arc<Shared>, client: AccountId, route: &str, body: Incoming) -> Response<Body> {
    let result = match route {
        path::ACCOUNT => match payments(shared) {
            // With settlement on chain this reads the client's contract first.
            Ok(p) => {
                let p = p.clone();
                match tokio::task::spawn_blocking(move || p.view_fresh(&client)).await {
                    Ok(r) => r.map(|v| json_response(&v)),
                    Err(e) => Err(ApiError::internal("internal", format!("account task failed: {e}"))),
                }
            }
            Err(e) => Err(e),
        },
        path::VOUCHERS => payments(shared).map(|p| voucher_stream(shared, p, client)),
        _ => operate(shared, client, route, body).await,
    };
    result.unwrap_or_else(|e| error_response(&e))
}

async fn operate(
    shared: &Arc<Shared>,
    client: AccountId,
    route: &str,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let p = payments(shared)?.clone();
    let bytes =
        read_limited(body, MAX_ACCOUNT_BODY).await.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
    let amount = || -> Result<u64, ApiError> {
        serde_json::from_slice::<AmountRequest>(&bytes)
            .map(|r| r.amount)
            .map_err(|e| ApiError::bad_request("bad_amount", format!("expected {{\"amount\": nanotons}}: {e}")))
    };
    let op: Box<dyn FnOnce() -> Result<cocoon_ledger::ClientView, ApiError> + Send> = match route {
        path::DEPOSIT => {
            let a = amount()?;
            Box::new(move || p.deposit(&client, a))
        }
        path::STAKE => {
            let a = amount()?;
            Box::new(move || p.stake(&client, a))
        }
        path::WITHDRAW => {
            let a = amount()?;
            Box::new(move || p.withdraw(&client, a))
        }
        path::CLOSE => Box::new(move || p.close(&client)),
        other => return Err(ApiError::not_found("not_found", format!("no such path {other}"))),
    };
    // These write to disk before they answer: keep the fsync off the async workers.
    let view = tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| ApiError::internal("internal", format!("account task failed: {e}")))??;
    tracing::info!(client = %crate::worker_link::short(&hex::encode(client)), route, available = view.available, "account updated");
    Ok(json_response(&view))
}

/// The client's committed charge vouchers: the current one, then each new one.
fn voucher_stream(shared: &Arc<Shared>, p: &Payments, client: AccountId) -> Response<Body> {
    let rx = p.ledger.subscribe(VoucherKind::ClientCharge, &client);
    let first = p.ledger.voucher(VoucherKind::ClientCharge, &client).ok().flatten();
    let stop = shared.stop.clone();
    let head = futures::stream::iter(first);
    let tail = futures::stream::unfold((rx, stop), |(mut rx, stop)| async move {
        tokio::select! {
            r = rx.changed() => r.ok()?,
            _ = stop.cancelled() => return None,
        }
        let v = rx.borrow_and_update().clone();
        Some((v, (rx, stop)))
    })
    .filter_map(|v| async move { v });
    let frames = head.chain(tail).filter_map(|v: SignedVoucher| async move {
        let event = VoucherEvent { voucher: v.to_base64().ok()? };
        EventCodec::<VoucherEvent>::frame(&event).ok().map(|b: Bytes| Ok::<_, BoxError>(Frame::data(b)))
    });
    Response::new(StreamBody::new(frames).boxed_unsync())
}

/// Payments figures for the proxy's `/stats`.
pub fn stats(shared: &Shared) -> serde_json::Value {
    match &shared.payments {
        Some(p) => p.snapshot(),
        None => json!({"payments": "off"}),
    }
}
