//! A client's account routes on its link: its account (read fresh from the chain on TON),
//! the operations it asks for (deposit, stake, withdraw, close; embedded settlement only) and
//! the stream of its committed charge vouchers.

use crate::{payments::Payments, Shared};
use bytes::Bytes;
use cocoon_ledger::AccountId;
use cocoon_openai::ApiError;
use cocoon_proto::{path, AmountRequest, EventCodec, VoucherEvent};
use cocoon_transport::{error_response, json_response, read_within, Body, BoxError};
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
    let bytes = read_within(body, MAX_ACCOUNT_BODY, std::time::Duration::from_secs(10))
        .await
        .map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
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
