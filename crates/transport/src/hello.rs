//! The hello exchange: the first request on every link, where the protocol version is agreed.

use crate::{body::read_limited, full, Body, TransportError};
use cocoon_proto::{negotiate, path, Hello, HelloAck, WorkerAnnounce, PROTOCOL};
use hyper::client::conn::http2::SendRequest;

/// Our software name in hello messages.
pub const SOFTWARE: &str = concat!("cocoon-rs/", env!("CARGO_PKG_VERSION"));

const MAX_HELLO: usize = 64 * 1024;

/// Sends our hello on a fresh session (with our latest voucher from this peer, if any) and
/// checks the peer's answer.
pub async fn send_hello(
    send: &mut SendRequest<Body>,
    role: &str,
    voucher: Option<String>,
) -> Result<HelloAck, TransportError> {
    let hello = Hello { role: role.to_string(), versions: PROTOCOL, software: SOFTWARE.to_string(), voucher };
    let json = serde_json::to_vec(&hello).map_err(|e| TransportError::Hello(e.to_string()))?;
    let req = http::Request::post(crate::peer_uri(path::HELLO))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full(json))
        .map_err(|e| TransportError::Hello(e.to_string()))?;
    send.ready().await?;
    let resp = send.send_request(req).await?;
    let status = resp.status();
    let body = read_limited(resp.into_body(), MAX_HELLO).await?;
    if !status.is_success() {
        return Err(TransportError::Hello(format!(
            "peer refused hello ({status}): {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let ack: HelloAck =
        serde_json::from_slice(&body).map_err(|e| TransportError::Hello(format!("malformed ack: {e}")))?;
    if ack.version < PROTOCOL.min || ack.version > PROTOCOL.max {
        return Err(TransportError::Hello(format!("peer chose version {} outside our range", ack.version)));
    }
    Ok(ack)
}

/// Serves a `HELLO` request: reads its body, negotiates, answers with the ack (carrying
/// `worker` when a worker answers). Returns the peer's hello too, when it was readable.
pub async fn hello_response<B>(body: B, worker: Option<WorkerAnnounce>) -> (Option<Hello>, http::Response<Body>)
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<crate::BoxError>,
{
    let body = match read_limited(body, MAX_HELLO).await {
        Ok(b) => b,
        Err(e) => {
            return (None, crate::error_response(&cocoon_openai::ApiError::bad_request("bad_hello", e.to_string())))
        }
    };
    answer_hello_body(&body, worker)
}

/// Like [`hello_response`], for a body already read.
pub fn answer_hello_body(body: &[u8], worker: Option<WorkerAnnounce>) -> (Option<Hello>, http::Response<Body>) {
    match answer_hello(body, worker) {
        Ok((hello, ack)) => (Some(hello), crate::json_response(&ack)),
        Err(msg) => (None, crate::error_response(&cocoon_openai::ApiError::bad_request("bad_hello", msg))),
    }
}

/// Answers a peer's hello (the body of a `HELLO` request). The error is the message to send back.
pub fn answer_hello(body: &[u8], worker: Option<WorkerAnnounce>) -> Result<(Hello, HelloAck), String> {
    let hello: Hello = serde_json::from_slice(body).map_err(|e| format!("malformed hello: {e}"))?;
    let version = negotiate(PROTOCOL, hello.versions).map_err(|e| e.to_string())?;
    Ok((hello, HelloAck { version, software: SOFTWARE.to_string(), worker }))
}
