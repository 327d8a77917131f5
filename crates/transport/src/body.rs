//! The one body type every hop uses, and small helpers to build and read bodies.

use bytes::{Bytes, BytesMut};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};

/// The error type of every [`Body`]: any boxed, thread-safe error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed streaming body (data frames and optional trailers).
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body of exactly these bytes, in one frame.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A body with no data and no trailers.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// [`read_limited`] within `timeout`: a peer that sends its body too slowly gets
/// [`crate::TransportError::Timeout`].
pub async fn read_within<B>(body: B, limit: usize, timeout: std::time::Duration) -> Result<Bytes, crate::TransportError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    tokio::time::timeout(timeout, read_limited(body, limit))
        .await
        .map_err(|_| crate::TransportError::Timeout(timeout))?
}

/// Reads a whole body into memory, failing as soon as it grows past `limit` bytes.
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, crate::TransportError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if body.size_hint().lower() > limit as u64 {
        return Err(crate::TransportError::TooLarge(limit));
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| crate::TransportError::Body(e.into()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(crate::TransportError::TooLarge(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// A JSON response (500 with an OpenAI-style error if `v` cannot be serialized).
pub fn json_response<T: serde::Serialize>(v: &T) -> http::Response<Body> {
    match serde_json::to_vec(v) {
        Ok(json) => {
            let mut resp = http::Response::new(full(json));
            resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => error_response(&cocoon_openai::ApiError::internal("internal", e.to_string())),
    }
}

/// An OpenAI-style error as an HTTP response with our body type.
pub fn error_response(e: &cocoon_openai::ApiError) -> http::Response<Body> {
    let mut resp = http::Response::new(full(e.to_json()));
    *resp.status_mut() = e.status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limit_is_enforced() {
        assert_eq!(read_limited(full("hello"), 5).await.unwrap(), Bytes::from("hello"));
        assert!(matches!(read_limited(full("hello!"), 5).await, Err(crate::TransportError::TooLarge(5))));
    }
}
