//! OpenAI-style API errors.
//!
//! Every hop answers failures in the same `{"error":{...}}` shape OpenAI
//! clients already understand, so an error raised by the worker reaches the end
//! user unchanged and can be recognised again on the way back
//! ([`ApiError::from_json`]).

use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};

/// An error in OpenAI's wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status to answer with.
    pub status: StatusCode,
    /// Human readable message.
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `server_error`, ...
    pub kind: &'static str,
    /// Machine readable code, e.g. `invalid_json`.
    pub code: String,
    /// Extra integer fields of the error object, e.g. `balance` and `required` of a 402.
    pub fields: Vec<(&'static str, u64)>,
}

/// `type` values this crate knows; others read by [`ApiError::from_json`] map
/// to `api_error`.
const KNOWN_KINDS: &[&str] = &[
    "invalid_request_error",
    "server_error",
    "api_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "insufficient_quota",
    "timeout_error",
    "service_unavailable_error",
    // vLLM names
    "BadRequestError",
    "NotFoundError",
    "InternalServerError",
];

impl ApiError {
    /// A fully specified error.
    pub fn new(status: StatusCode, kind: &'static str, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), kind, code: code.into(), fields: Vec::new() }
    }

    /// Adds an integer field to the error object.
    pub fn with_field(mut self, name: &'static str, value: u64) -> Self {
        self.fields.push((name, value));
        self
    }

    /// `400 Bad Request` with type `invalid_request_error`.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message)
    }

    /// `404 Not Found` with type `invalid_request_error` (OpenAI's choice for
    /// unknown models).
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", code, message)
    }

    /// An error whose OpenAI `type` follows from its status: `invalid_request_error` for 4xx,
    /// `server_error` otherwise.
    pub fn from_status(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        let kind = if status.is_client_error() { "invalid_request_error" } else { "server_error" };
        Self::new(status, kind, code, message)
    }

    /// `500 Internal Server Error` with type `server_error`.
    pub fn internal(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", code, message)
    }

    /// The JSON body `{"error":{"message":..,"type":..,"code":..}}`.
    pub fn to_json(&self) -> Bytes {
        let mut v = json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "code": self.code,
            }
        });
        if let Some(obj) = v.get_mut("error").and_then(Value::as_object_mut) {
            for (k, n) in &self.fields {
                obj.insert((*k).to_string(), Value::from(*n));
            }
        }
        // Serialising a Value built from strings cannot fail.
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    /// Parse an error body produced by OpenAI, vLLM, SGLang or [`Self::to_json`].
    ///
    /// Accepts `{"error":{...}}`, `{"error":"message"}` and vLLM's older flat
    /// `{"object":"error","message":..}`. Returns `None` for anything else.
    pub fn from_json(status: StatusCode, body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let obj = v.as_object()?;
        let inner = match obj.get("error") {
            Some(Value::Object(inner)) => inner,
            Some(Value::String(msg)) => return Some(Self::new(status, default_kind(status), "", msg.clone())),
            _ if obj.get("object").and_then(Value::as_str) == Some("error") => obj,
            _ => return None,
        };
        let message = match inner.get("message") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let kind = inner
            .get("type")
            .and_then(Value::as_str)
            .map(|t| KNOWN_KINDS.iter().copied().find(|k| *k == t).unwrap_or("api_error"))
            .unwrap_or_else(|| default_kind(status));
        let code = match inner.get("code") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        Some(Self::new(status, kind, code, message))
    }
}

fn default_kind(status: StatusCode) -> &'static str {
    if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.status.as_u16())?;
        if !self.code.is_empty() {
            write!(f, "{}: ", self.code)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    #[test]
    fn from_status_derives_the_type() {
        assert_eq!(
            super::ApiError::from_status(http::StatusCode::PAYLOAD_TOO_LARGE, "c", "m").kind,
            "invalid_request_error"
        );
        assert_eq!(super::ApiError::from_status(http::StatusCode::BAD_GATEWAY, "c", "m").kind, "server_error");
    }

    use super::*;

    #[test]
    fn json_round_trip() {
        let e = ApiError::bad_request("invalid_json", "body is \"not\" JSON");
        let back = ApiError::from_json(e.status, &e.to_json()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.to_string(), "400 invalid_json: body is \"not\" JSON");
    }

    #[test]
    fn parses_foreign_shapes() {
        let s = StatusCode::NOT_FOUND;
        let vllm = br#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}"#;
        let e = ApiError::from_json(s, vllm).unwrap();
        assert_eq!(e.kind, "NotFoundError");
        assert_eq!(e.code, "404");
        let e = ApiError::from_json(s, br#"{"error":{"message":"m","type":"weird"}}"#).unwrap();
        assert_eq!((e.kind, e.code.as_str()), ("api_error", ""));
        let e = ApiError::from_json(StatusCode::BAD_GATEWAY, br#"{"error":"boom"}"#).unwrap();
        assert_eq!((e.kind, e.message.as_str()), ("server_error", "boom"));
        assert!(ApiError::from_json(s, b"{\"id\":1}").is_none());
        assert!(ApiError::from_json(s, b"not json").is_none());
    }
}
