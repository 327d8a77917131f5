//! Pre-rendered response bytes.
//!
//! The bench backend is the reference point of a requests-per-second
//! benchmark, so it must cost next to nothing per chunk: every distinct chunk
//! of a stream is rendered once per request and then handed out as cheap
//! reference-counted [`Bytes`] clones.

use std::fmt::Write as _;

use bytes::Bytes;
use cocoon_openai::Endpoint;

/// Per-request identity of a response: everything before `"choices"`.
pub(crate) struct Meta {
    /// `"id":..,"object":..,"created":..,"model":..` (no braces).
    chunk_meta: String,
    /// The same with the non-streaming object name.
    full_meta: String,
}

impl Meta {
    /// `model_json` is the model name already encoded as a JSON string.
    pub fn new(endpoint: Endpoint, id: u64, created: u64, model_json: &str) -> Self {
        let (prefix, chunk_object, full_object) = match endpoint {
            Endpoint::ChatCompletions => ("chatcmpl", "chat.completion.chunk", "chat.completion"),
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => {
                ("cmpl", "text_completion", "text_completion")
            }
        };
        let meta = |object: &str| {
            format!(r#""id":"{prefix}-bench-{id}","object":"{object}","created":{created},"model":{model_json}"#)
        };
        Self { chunk_meta: meta(chunk_object), full_meta: meta(full_object) }
    }
}

/// The distinct SSE events of one streamed response.
pub(crate) struct StreamParts {
    /// First content chunk (chat: carries `"role":"assistant"`).
    pub first: Bytes,
    /// Every later content chunk.
    pub middle: Bytes,
    /// Empty delta with `finish_reason: "stop"`.
    pub last: Bytes,
    /// The `choices: []` usage event, when requested.
    pub usage: Option<Bytes>,
}

pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

impl StreamParts {
    /// `content` must be JSON-safe (no quotes, backslashes or control chars).
    pub fn new(endpoint: Endpoint, meta: &Meta, content: &str, usage: Option<(u64, u64)>) -> Self {
        let m = &meta.chunk_meta;
        let event = |choice: &str| Bytes::from(format!("data: {{{m},\"choices\":[{choice}]}}\n\n"));
        let (first, middle, last) = match endpoint {
            Endpoint::ChatCompletions => (
                event(&format!(
                    r#"{{"index":0,"delta":{{"role":"assistant","content":"{content}"}},"finish_reason":null}}"#
                )),
                event(&format!(r#"{{"index":0,"delta":{{"content":"{content}"}},"finish_reason":null}}"#)),
                event(r#"{"index":0,"delta":{},"finish_reason":"stop"}"#),
            ),
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => {
                let text = event(&format!(r#"{{"index":0,"text":"{content}","logprobs":null,"finish_reason":null}}"#));
                (text.clone(), text, event(r#"{"index":0,"text":"","logprobs":null,"finish_reason":"stop"}"#))
            }
        };
        let usage =
            usage.map(|(p, c)| Bytes::from(format!("data: {{{m},\"choices\":[],\"usage\":{}}}\n\n", usage_json(p, c))));
        Self { first, middle, last, usage }
    }
}

/// A complete non-streaming response body.
/// A whole (non-streamed) answer: `choices` choices of `chunks` chunks each, and usage that
/// counts every choice's tokens (as OpenAI counts `n > 1`).
pub(crate) fn full_body(
    endpoint: Endpoint,
    meta: &Meta,
    chunk: &str,
    chunks: usize,
    choices: u32,
    prompt_tokens: u64,
) -> String {
    let usage = usage_json(prompt_tokens, chunks as u64 * u64::from(choices));
    let mut out = String::with_capacity(meta.full_meta.len() + (chunk.len() * chunks + 128) * choices as usize + 128);
    out.push('{');
    out.push_str(&meta.full_meta);
    out.push_str(",\"choices\":[");
    for index in 0..choices {
        if index > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{{\"index\":{index},");
        match endpoint {
            Endpoint::ChatCompletions => out.push_str("\"message\":{\"role\":\"assistant\",\"content\":\""),
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => out.push_str("\"text\":\""),
        }
        for _ in 0..chunks {
            out.push_str(chunk);
        }
        out.push('"');
        if endpoint == Endpoint::ChatCompletions {
            out.push('}');
        } else {
            out.push_str(",\"logprobs\":null");
        }
        out.push_str(",\"finish_reason\":\"stop\"}");
    }
    let _ = write!(out, "],\"usage\":{usage}}}");
    out
}

fn usage_json(prompt: u64, completion: u64) -> String {
    format!(
        r#"{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{}}}"#,
        prompt.saturating_add(completion)
    )
}

/// `len` bytes of JSON-safe filler text.
pub(crate) fn filler(len: usize) -> String {
    const TEXT: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
    TEXT.chars().cycle().take(len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn rendered_json_is_valid() {
        for ep in [Endpoint::ChatCompletions, Endpoint::Completions] {
            let meta = Meta::new(ep, 7, 1, "\"m\\\"x\"");
            let parts = StreamParts::new(ep, &meta, &filler(10), Some((3, 4)));
            for b in [&parts.first, &parts.middle, &parts.last, parts.usage.as_ref().unwrap()] {
                let s = std::str::from_utf8(b).unwrap();
                let json = s.strip_prefix("data: ").unwrap().strip_suffix("\n\n").unwrap();
                let v: Value = serde_json::from_str(json).unwrap();
                assert_eq!(v["model"], "m\"x");
            }
            let body = full_body(ep, &meta, "ab", 3, 1, 2);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["usage"]["total_tokens"], 5);
            // Three choices: three indexed answers, all counted.
            let v: Value = serde_json::from_str(&full_body(ep, &meta, "ab", 3, 3, 2)).unwrap();
            assert_eq!(v["choices"].as_array().map(Vec::len), Some(3));
            assert_eq!(v["choices"][2]["index"], 2);
            assert_eq!(v["usage"]["completion_tokens"], 9);
            let text = match ep {
                Endpoint::ChatCompletions => &v["choices"][0]["message"]["content"],
                Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => {
                    &v["choices"][0]["text"]
                }
            };
            assert_eq!(text, "ababab");
        }
    }
}
