//! Admit: what the request is (its metadata), whether the client can pay for its output
//! bound (before a byte of the body is read), then the body within its size and time limits.

use crate::Shared;
use bytes::Bytes;
use cocoon_ledger::AccountId;
use cocoon_openai::ApiError;
use cocoon_proto::InferMeta;
use cocoon_transport::{read_within, TransportError};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use std::time::Duration;
use tokio::time::Instant;

/// Longest a client may take to send a request body.
pub const MAX_BODY_READ: Duration = Duration::from_secs(60);

/// A request the proxy has agreed to route: its metadata (terms filled in) and body.
pub struct Admitted {
    /// The request's metadata: timeout capped, output bound defaulted, coefficient cleared for selection to set.
    pub meta: InferMeta,
    /// The whole request body, read within the proxy's size limit.
    pub body: Bytes,
    /// When the whole request must be over, streaming included.
    pub deadline: Instant,
}

/// Reads and checks a client's request. Bad input: a 4xx, and nothing changes.
pub async fn admit(shared: &Shared, client: &AccountId, req: Request<Incoming>) -> Result<Admitted, ApiError> {
    let started = Instant::now();
    let mut meta = InferMeta::read(req.headers())
        .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, "bad_metadata", e.to_string()))?;
    meta.timeout = meta.timeout.min(shared.limits.max_timeout());
    // The output bound the request is reserved for and the worker holds the backend to
    // (embeddings generate nothing: they are reserved and billed by their input alone).
    if meta.terms.endpoint.generates() {
        meta.terms.max_tokens.get_or_insert(shared.default_max_tokens);
    } else {
        meta.terms.max_tokens = None;
    }
    // Only the proxy names the price, at selection.
    meta.terms.coefficient = None;
    // A client that cannot pay even for the output does not get to upload a body.
    shared.billing.precheck(client, &meta)?;
    let body =
        read_within(req.into_body(), shared.limits.max_body(), meta.timeout.min(MAX_BODY_READ)).await.map_err(|e| {
            match e {
                TransportError::Timeout(_) => {
                    ApiError::from_status(StatusCode::REQUEST_TIMEOUT, "body_timeout", "request body took too long")
                }
                TransportError::TooLarge(n) => ApiError::from_status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body over {n} bytes"),
                ),
                other => ApiError::from_status(StatusCode::BAD_REQUEST, "bad_body", other.to_string()),
            }
        })?;
    Ok(Admitted { deadline: started + meta.timeout, meta, body })
}
