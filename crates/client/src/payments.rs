//! The client's side of payments: following each proxy's charge vouchers, and the local API
//! through which the app (or `cocoon client ...`) sees and moves its money.
//!
//! `GET /v1/payments/account`, `POST /v1/payments/{deposit,stake,withdraw,close}` with
//! `{"amount": nanotons}`; `?proxy=N` picks the proxy (default: the first one connected).
//! Accounts are per proxy: each proxy keeps its own books.

use crate::{pool::ProxySlot, Shared};
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    Json,
};
use bytes::{Bytes, BytesMut};
use cocoon_openai::ApiError;
use cocoon_proto::{path, EventCodec, VoucherEvent};
use cocoon_transport::{empty, full, read_limited, Body};
use cocoon_voucher::VoucherWallet;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::client::conn::http2::SendRequest;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{atomic::Ordering::Relaxed, Arc};
use tokio_util::codec::Decoder;

/// Follows one proxy's stream of committed charge vouchers until the link ends; every
/// voucher is verified (signature, kind, contract, growth) and the latest kept.
pub async fn follow_vouchers(
    mut send: SendRequest<Body>,
    wallet: Arc<VoucherWallet>,
    proxy_key: [u8; 32],
    proxy: String,
) {
    let resp = async {
        let req = http::Request::get(cocoon_transport::peer_uri(path::VOUCHERS)).body(empty()).ok()?;
        send.ready().await.ok()?;
        send.send_request(req).await.ok()
    }
    .await;
    let Some(resp) = resp else { return };
    if !resp.status().is_success() {
        // A proxy without payments answers 404: nothing to follow.
        tracing::debug!(proxy = %proxy, status = %resp.status(), "proxy has no voucher stream");
        return;
    }
    let mut body = resp.into_body();
    let mut codec = EventCodec::<VoucherEvent>::default();
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(event)) => {
                    // A bad voucher is logged loudly by the wallet and changes nothing.
                    let _ = wallet.accept(&proxy_key, &event.voucher);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(proxy = %proxy, error = %e, "PROTOCOL ERROR: malformed voucher stream");
                    return;
                }
            }
        }
    }
}

/// The `?proxy=N` query of the payment routes: the index of the proxy whose account to use
/// (default: the first one connected).
#[derive(Deserialize)]
pub struct Which {
    proxy: Option<usize>,
}

fn slot(s: &Shared, which: &Which) -> Result<Arc<ProxySlot>, ApiError> {
    let unavailable = |m: String| ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "no_proxy", m);
    match which.proxy {
        Some(i) => {
            let slot = s.pool.slots().get(i).cloned().ok_or_else(|| {
                ApiError::bad_request("bad_proxy", format!("no proxy #{i}; there are {}", s.pool.slots().len()))
            })?;
            Ok(slot.clone())
        }
        None => s
            .pool
            .slots()
            .iter()
            .find(|sl| sl.connected.load(Relaxed))
            .cloned()
            .ok_or_else(|| unavailable("no proxy connected".into())),
    }
}

/// Sends one account request to the chosen proxy and answers with the proxy's JSON plus
/// which proxy it was.
async fn call(s: &Shared, which: Which, method: http::Method, route: &'static str, body: Option<Bytes>) -> Response {
    let result = async {
        let slot = slot(s, &which)?;
        let (_, mut send, _guard) = s.pool.pick_slot(&slot).ok_or_else(|| {
            ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_proxy",
                format!("proxy {} is not connected", slot.address),
            )
        })?;
        let req = http::Request::builder()
            .method(method)
            .uri(cocoon_transport::peer_uri(route))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.map(full).unwrap_or_else(empty))
            .map_err(|e| ApiError::internal("internal", e.to_string()))?;
        let failed = |e: String| ApiError::from_status(StatusCode::BAD_GATEWAY, "proxy_failed", e);
        send.ready().await.map_err(|e| failed(e.to_string()))?;
        let resp = send.send_request(req).await.map_err(|e| failed(e.to_string()))?;
        let status = resp.status();
        let bytes = read_limited(resp.into_body(), 64 * 1024).await.map_err(|e| failed(e.to_string()))?;
        let mut v: Value =
            serde_json::from_slice(&bytes).map_err(|e| failed(format!("proxy answered non-JSON: {e}")))?;
        if status.is_success() {
            if let Some(obj) = v.as_object_mut() {
                obj.insert("proxy".into(), json!(slot.address));
                obj.insert("proxy_key".into(), json!(*slot.proxy_key.lock().unwrap_or_else(|p| p.into_inner())));
            }
        }
        Ok::<_, ApiError>((status, v))
    }
    .await;
    match result {
        Ok((status, v)) => (status, Json(v)).into_response(),
        Err(e) => (e.status, Json(serde_json::from_slice::<Value>(&e.to_json()).unwrap_or_default())).into_response(),
    }
}

/// `GET /v1/payments/account`: this client's account at the chosen proxy, as that proxy reports it.
pub async fn account(State(s): State<Arc<Shared>>, Query(which): Query<Which>) -> Response {
    call(&s, which, http::Method::GET, path::ACCOUNT, None).await
}

/// `POST /v1/payments/{op}` (deposit, stake, withdraw, close): moves money at the chosen proxy,
/// through this client's wallet on chain when there is a chain.
pub async fn operate(
    State(s): State<Arc<Shared>>,
    Path(op): Path<String>,
    Query(which): Query<Which>,
    body: axum::body::Body,
) -> Response {
    if let Some(chain) = s.chain.clone() {
        return on_chain(&s, &chain, which, &op, body).await;
    }
    let route = match op.as_str() {
        "deposit" => path::DEPOSIT,
        "stake" => path::STAKE,
        "withdraw" => path::WITHDRAW,
        "close" => path::CLOSE,
        other => {
            let e = ApiError::not_found("not_found", format!("no payment operation {other:?}"));
            return (e.status, Json(serde_json::from_slice::<Value>(&e.to_json()).unwrap_or_default())).into_response();
        }
    };
    let bytes = match read_limited(body, 4096).await {
        Ok(b) if !b.is_empty() => Some(b),
        Ok(_) => Some(Bytes::from_static(b"{}")),
        Err(e) => {
            let e = ApiError::bad_request("bad_body", e.to_string());
            return (e.status, Json(serde_json::from_slice::<Value>(&e.to_json()).unwrap_or_default())).into_response();
        }
    };
    call(&s, which, http::Method::POST, route, bytes).await
}

fn error_reply(e: &ApiError) -> Response {
    (e.status, Json(serde_json::from_slice::<Value>(&e.to_json()).unwrap_or_default())).into_response()
}

/// An account operation on chain: this client's wallet sends it to its contract at the
/// chosen proxy (found through the root by the key the proxy attested with), then the proxy
/// is asked for the account, which makes it read the contract.
async fn on_chain(
    s: &Arc<Shared>,
    chain: &cocoon_onchain::client::ClientChain,
    which: Which,
    op: &str,
    body: axum::body::Body,
) -> Response {
    use cocoon_onchain::client::ClientOp;
    let result = async {
        let bytes = read_limited(body, 4096).await.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
        let amount = || -> Result<u128, ApiError> {
            serde_json::from_slice::<cocoon_proto::AmountRequest>(&bytes)
                .map(|r| u128::from(r.amount))
                .map_err(|e| ApiError::bad_request("bad_amount", format!("expected {{\"amount\": nanotons}}: {e}")))
        };
        let op = match op {
            "deposit" => ClientOp::TopUp(amount()?),
            "stake" => ClientOp::IncreaseStake(amount()?),
            "withdraw" => ClientOp::Withdraw(amount()?),
            "close" => ClientOp::RequestRefund,
            "force_refund" => ClientOp::ForceRefund,
            other => return Err(ApiError::not_found("not_found", format!("no payment operation {other:?}"))),
        };
        if matches!(op, ClientOp::TopUp(0) | ClientOp::IncreaseStake(0) | ClientOp::Withdraw(0)) {
            return Err(ApiError::bad_request("bad_amount", "amount must be positive"));
        }
        let slot = slot(s, &which)?;
        let key_hex = lock_key(&slot).ok_or_else(|| {
            ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_proxy",
                format!("proxy {} has not connected yet", slot.address),
            )
        })?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&key_hex, &mut key)
            .map_err(|e| ApiError::internal("internal", format!("proxy key {key_hex}: {e}")))?;
        let sent = chain.send(&key, op).await.map_err(|e| match e {
            cocoon_onchain::ChainError::Refused(m) => ApiError::from_status(StatusCode::BAD_REQUEST, "refused", m),
            other => ApiError::from_status(StatusCode::BAD_GATEWAY, "chain_failed", other.to_string()),
        })?;
        tracing::info!(op = ?op, contract = %sent.contract, value = sent.value, tx = %sent.tx_hash, "sent on chain");
        Ok::<_, ApiError>(sent)
    }
    .await;
    let sent = match result {
        Ok(sent) => sent,
        Err(e) => return error_reply(&e),
    };
    // The proxy reads the contract when asked for the account. The message is on chain
    // whatever the proxy answers (it may be down: a forced refund needs no proxy).
    let account = call(s, which, http::Method::GET, path::ACCOUNT, None).await;
    let ok = account.status().is_success();
    let bytes = read_limited(account.into_body(), 64 * 1024).await.unwrap_or_default();
    let account: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let key = if ok { "account" } else { "account_error" };
    (StatusCode::OK, Json(json!({ "sent": sent, key: account }))).into_response()
}

fn lock_key(slot: &ProxySlot) -> Option<String> {
    slot.proxy_key.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// What `/stats` says about money: the latest voucher from each proxy (the adjusted tokens this
/// client has been charged for, cumulatively; its contract multiplies them by the price) and
/// the cost of the requests this process made, in nanotons.
pub fn stats(s: &Shared) -> Value {
    json!({
        "charged_tokens_by_vouchers": s.wallet.total_tokens(),
        "vouchers": s.wallet.held(),
        "spent_this_run": s.stats.spent.load(Relaxed),
    })
}
