//! The few request fields the synthetic backend looks at.
//!
//! Real validation is the worker's job (`cocoon_openai::validate_for_backend`);
//! the bench backend only checks what it needs to shape its answer, and does so
//! with one typed parse so it stays cheap under load.

use cocoon_openai::{ApiError, Endpoint};
use serde::Deserialize;
use serde_json::Value;

/// What a completion request asks of the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BenchRequest {
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u64>,
    /// Rough prompt size in tokens (bytes / 4, rounded up, at least 1).
    pub prompt_tokens: u64,
    /// Choices of a whole answer (`n`, 1..=16; streams always carry one).
    pub choices: u32,
}

#[derive(Deserialize)]
struct Raw {
    model: Option<String>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    n: Option<u64>,
    messages: Option<Vec<Message>>,
    prompt: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<Value>,
}

impl BenchRequest {
    /// Parse and check a request for `endpoint` against the served `model`.
    pub fn parse(endpoint: Endpoint, body: &[u8], model: &str) -> Result<Self, ApiError> {
        if endpoint == Endpoint::AudioTranscriptions {
            return Err(ApiError::bad_request(
                "unsupported_endpoint",
                "the synthetic backend does not transcribe audio",
            ));
        }
        let raw: Raw = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid request body: {e}")))?;
        let requested =
            raw.model.ok_or_else(|| ApiError::bad_request("missing_model", "request body must contain `model`"))?;
        if requested != model {
            return Err(ApiError::not_found("model_not_found", format!("The model `{requested}` does not exist.")));
        }
        let prompt_bytes = match endpoint {
            Endpoint::ChatCompletions => {
                let messages =
                    raw.messages.ok_or_else(|| ApiError::bad_request("missing_field", "`messages` is required"))?;
                messages.iter().map(|m| m.content.as_ref().map_or(0, content_bytes)).sum()
            }
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => {
                let prompt =
                    raw.prompt.ok_or_else(|| ApiError::bad_request("missing_field", "`prompt` is required"))?;
                content_bytes(&prompt)
            }
        };
        let max_tokens = match (raw.max_tokens, raw.max_completion_tokens) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Self {
            stream: raw.stream.unwrap_or(false),
            include_usage: raw.stream_options.and_then(|o| o.include_usage).unwrap_or(false),
            max_tokens,
            prompt_tokens: (prompt_bytes as u64).div_ceil(4).max(1),
            choices: raw.n.unwrap_or(1).clamp(1, 16) as u32,
        })
    }
}

/// Text bytes of a message content or prompt: strings count their length,
/// token ids count 4 bytes each, arrays and `{"text": ..}` parts recurse.
fn content_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Number(_) => 4,
        Value::Array(items) => items.iter().map(content_bytes).sum(),
        Value::Object(o) => o.get("text").map_or(0, content_bytes),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_estimates() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"12345"},{"role":"user","content":[{"type":"text","text":"abc"}]}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":9}"#;
        let r = BenchRequest::parse(Endpoint::ChatCompletions, body, "m").unwrap();
        assert_eq!(
            r,
            BenchRequest { stream: true, include_usage: true, max_tokens: Some(9), prompt_tokens: 2, choices: 1 }
        );
        let r = BenchRequest::parse(Endpoint::Completions, br#"{"model":"m","prompt":""}"#, "m").unwrap();
        assert_eq!(r.prompt_tokens, 1);
    }

    #[test]
    fn errors() {
        let e = BenchRequest::parse(Endpoint::ChatCompletions, br#"{"model":"x","messages":[]}"#, "m").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (404, "model_not_found"));
        let e = BenchRequest::parse(Endpoint::ChatCompletions, b"{", "m").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        let e = BenchRequest::parse(Endpoint::Completions, br#"{"model":"m"}"#, "m").unwrap_err();
        assert_eq!(e.code, "missing_field");
    }
}
