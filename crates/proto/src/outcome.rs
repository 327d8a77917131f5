//! The outcome of a request, carried in HTTP/2 trailers after the response body.
//!
//! Bodies pass through every hop unchanged (the client gets byte-for-byte what the backend sent),
//! so anything the network itself must say about a request travels after the body: the token
//! usage the worker counted, or the error that cut the stream short.

use cocoon_openai::Usage;
use http::{HeaderMap, HeaderName, HeaderValue};

pub const T_USAGE: HeaderName = HeaderName::from_static("cocoon-usage");
pub const T_ERROR_CODE: HeaderName = HeaderName::from_static("cocoon-error-code");
pub const T_ERROR_MESSAGE: HeaderName = HeaderName::from_static("cocoon-error-message");
pub const T_COST: HeaderName = HeaderName::from_static("cocoon-cost");

/// Longest error message carried in a trailer.
const MAX_MESSAGE: usize = 512;

/// Why a request failed after its response had started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeError {
    /// Machine-readable, e.g. "worker_failed", "timeout", "backend_error".
    pub code: String,
    /// Human-readable detail (sanitised to printable ASCII and cut to 512 bytes in a trailer).
    pub message: String,
}

/// What a hop reports after the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Token usage as the worker counted it, when known.
    pub usage: Option<Usage>,
    /// Set when the request failed after the response had started.
    pub error: Option<OutcomeError>,
    /// What the proxy charged the client for the request, in nanotons (proxy -> client only).
    pub cost: Option<u64>,
}

fn sanitize(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    out.truncate(MAX_MESSAGE);
    out
}

impl Outcome {
    /// An outcome that reports only a failure (no usage, no cost).
    pub fn error(code: &str, message: &str) -> Self {
        Self { usage: None, error: Some(OutcomeError { code: code.into(), message: message.into() }), cost: None }
    }

    /// Writes the outcome as `cocoon-*` trailers; fields that are `None` are left out.
    pub fn to_trailers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        let usage = self.usage.as_ref().and_then(|u| serde_json::to_string(u).ok());
        if let Some(v) = usage.and_then(|s| HeaderValue::from_str(&s).ok()) {
            h.insert(T_USAGE, v);
        }
        if let Some(c) = self.cost {
            h.insert(T_COST, HeaderValue::from(c));
        }
        if let Some(e) = &self.error {
            if let Ok(v) = HeaderValue::from_str(&sanitize(&e.code)) {
                h.insert(T_ERROR_CODE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&sanitize(&e.message)) {
                h.insert(T_ERROR_MESSAGE, v);
            }
        }
        h
    }

    /// Reads an outcome from trailers; unreadable fields are ignored rather than trusted.
    pub fn from_trailers(h: &HeaderMap) -> Self {
        let usage = h.get(&T_USAGE).and_then(|v| v.to_str().ok()).and_then(|s| serde_json::from_str::<Usage>(s).ok());
        let error = h.get(&T_ERROR_CODE).and_then(|v| v.to_str().ok()).map(|code| OutcomeError {
            code: code.to_string(),
            message: h.get(&T_ERROR_MESSAGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        });
        let cost = h.get(&T_COST).and_then(|v| v.to_str().ok()).and_then(|s| s.parse().ok());
        Self { usage, error, cost }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_usage_and_error() {
        let o = Outcome {
            usage: Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 7,
                total_tokens: 12,
                cached_tokens: 1,
                reasoning_tokens: 2,
            }),
            error: Some(OutcomeError {
                code: "worker_failed".into(),
                message: "worker went away\nmid-stream ✗".into(),
            }),
            cost: Some(1_500_000_000),
        };
        let back = Outcome::from_trailers(&o.to_trailers());
        assert_eq!(back.usage, o.usage);
        assert_eq!(back.cost, Some(1_500_000_000));
        let e = back.error.unwrap();
        assert_eq!(e.code, "worker_failed");
        assert_eq!(e.message, "worker went away?mid-stream ?");
    }

    #[test]
    fn garbage_trailers_are_ignored() {
        let mut h = HeaderMap::new();
        h.insert(T_USAGE, HeaderValue::from_static("{not json"));
        assert_eq!(Outcome::from_trailers(&h), Outcome::default());
    }
}
