//! Token usage as reported by an OpenAI-compatible backend.
//!
//! Usage is what the network charges for, so it is read in one place with one
//! set of rules, whether it arrives in a JSON response or in the last event of
//! a stream.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts of one completed request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input tokens (for a transcription, audio tokens: 50 per second of audio).
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// As reported; the sum of the other two when the backend leaves it out.
    pub total_tokens: u64,
    /// `usage.prompt_tokens_details.cached_tokens`
    pub cached_tokens: u64,
    /// `usage.completion_tokens_details.reasoning_tokens`
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Read an OpenAI `usage` object.
    ///
    /// Returns `None` unless `v` is an object carrying at least one of
    /// `prompt_tokens`, `completion_tokens` or `total_tokens` as a non-negative
    /// integer. Missing counts read as 0; a missing `total_tokens` is the sum of
    /// the other two.
    pub fn from_usage_json(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let count = |o: &serde_json::Map<String, Value>, k: &str| o.get(k).and_then(Value::as_u64);
        let prompt = count(obj, "prompt_tokens");
        let completion = count(obj, "completion_tokens");
        let total = count(obj, "total_tokens");
        if prompt.is_none() && completion.is_none() && total.is_none() {
            return None;
        }
        let prompt_tokens = prompt.unwrap_or(0);
        let completion_tokens = completion.unwrap_or(0);
        let detail = |outer: &str, inner: &str| {
            obj.get(outer).and_then(Value::as_object).and_then(|d| count(d, inner)).unwrap_or(0)
        };
        Some(Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: total.unwrap_or(prompt_tokens.saturating_add(completion_tokens)),
            cached_tokens: detail("prompt_tokens_details", "cached_tokens"),
            reasoning_tokens: detail("completion_tokens_details", "reasoning_tokens"),
        })
    }
}

/// Usage of a non-streaming JSON response (its top-level `usage` object).
pub fn usage_from_body(body: &[u8]) -> Option<Usage> {
    if !contains(body, b"\"usage\"") {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    Usage::from_usage_json(v.get("usage")?)
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

/// Index of the first occurrence of `needle` in `haystack` at or after `from`.
pub(crate) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    // memchr's SIMD substring search: JSON is full of quotes, which a first-byte scan stops at.
    memchr::memmem::find(haystack.get(from..)?, needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_details() {
        let u = Usage::from_usage_json(&json!({
            "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 3}
        }))
        .unwrap();
        assert_eq!(
            u,
            Usage { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cached_tokens: 4, reasoning_tokens: 3 }
        );
    }

    #[test]
    fn tolerates_missing_and_null() {
        let u = Usage::from_usage_json(&json!({
            "prompt_tokens": 2, "completion_tokens": 3, "prompt_tokens_details": null
        }))
        .unwrap();
        assert_eq!(u.total_tokens, 5);
        assert!(Usage::from_usage_json(&json!(null)).is_none());
        assert!(Usage::from_usage_json(&json!({})).is_none());
        assert!(Usage::from_usage_json(&json!({"prompt_tokens": -1})).is_none());
    }

    #[test]
    fn body_usage() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        assert_eq!(usage_from_body(body).unwrap().total_tokens, 3);
        assert!(usage_from_body(br#"{"usage":null}"#).is_none());
        assert!(usage_from_body(b"garbage \"usage\"").is_none());
    }

    #[test]
    fn find_works() {
        assert_eq!(find(b"abcabc", b"ca", 0), Some(2));
        assert_eq!(find(b"abcabc", b"abc", 1), Some(3));
        assert_eq!(find(b"ab", b"abc", 0), None);
        assert_eq!(find(b"abc", b"", 0), None);
        assert_eq!(find(b"abc", b"c", 5), None);
    }
}
