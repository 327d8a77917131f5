//! OpenAI-shaped answers from [`Generation`]s: one JSON document with a choice per generation
//! ([`json`]), and what every answer shares: the envelope, a streamed chunk, usage and
//! log-probabilities. Streams are in [`super::stream`].

use super::OpenAiRequest;
use crate::{
    tools::{parse_calls, ToolSpec},
    GenEvent, Generation, TokenLogprob,
};
use bytes::Bytes;
use cocoon_openai::{ApiError, Endpoint};
use futures::Stream;
use serde_json::{json, Value};
use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    pin::Pin,
    time::{SystemTime, UNIX_EPOCH},
};

/// A response body.
pub type ByteStream = Pin<Box<dyn Stream<Item = Bytes> + Send + 'static>>;

/// What every chunk of one answer repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseMeta {
    /// Which endpoint answers (decides the `object` name and the choice's shape).
    pub endpoint: Endpoint,
    /// The answer's `id` (`chatcmpl-…` or `cmpl-…`), the same in every chunk.
    pub id: String,
    /// `created`: Unix time in seconds when the answer started.
    pub created: u64,
    /// `model` as the request sent it.
    pub model: String,
    /// Whether a stream ends with a usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The request's tools, when the answer is to be read for tool calls.
    pub tools: Option<ToolSpec>,
    /// Whether each chat choice carries its tokens' log-probabilities.
    pub logprobs: bool,
}

impl ResponseMeta {
    /// Fresh id and timestamp for an answer to `req`.
    pub fn new(req: &OpenAiRequest) -> Self {
        let prefix = match req.endpoint {
            Endpoint::ChatCompletions => "chatcmpl-",
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => "cmpl-",
        };
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0);
        let a = h.finish();
        let mut h = RandomState::new().build_hasher();
        h.write_u64(1);
        let b = h.finish();
        Self {
            endpoint: req.endpoint,
            id: format!("{prefix}{a:016x}{b:08x}"),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            model: req.model.clone(),
            include_usage: req.include_usage,
            tools: req.tools.clone().filter(ToolSpec::active),
            logprobs: req.logprobs.is_some(),
        }
    }

    fn object(&self, stream: bool) -> &'static str {
        match (self.endpoint, stream) {
            (Endpoint::ChatCompletions, true) => "chat.completion.chunk",
            (Endpoint::ChatCompletions, false) => "chat.completion",
            (Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings, _) => "text_completion",
        }
    }

    pub(super) fn envelope(&self, stream: bool, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(stream),
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    /// One streamed chunk of choice `index`: `text` (None: no content, e.g. the final chunk),
    /// `role` on the first chat chunk, the `logprobs` of the tokens of `text` when asked for.
    pub(super) fn chunk(
        &self,
        index: usize,
        text: Option<&str>,
        first: bool,
        finish: Option<&str>,
        logprobs: Option<Value>,
    ) -> Value {
        let choice = match self.endpoint {
            Endpoint::ChatCompletions => {
                let mut delta = serde_json::Map::new();
                if first {
                    delta.insert("role".into(), json!("assistant"));
                }
                if let Some(t) = text {
                    delta.insert("content".into(), json!(t));
                }
                json!({"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish})
            }
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => {
                json!({"index": index, "text": text.unwrap_or(""), "logprobs": logprobs, "finish_reason": finish})
            }
        };
        self.envelope(true, json!([choice]))
    }
}

pub(super) fn usage(prompt: u32, cached: u32, completion: u32) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": u64::from(prompt) + u64::from(completion),
        "prompt_tokens_details": {"cached_tokens": cached.min(prompt)},
    })
}

pub(super) fn event(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"data: ");
    // Serialising a Value cannot fail.
    let _ = serde_json::to_writer(&mut out, v);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

pub(super) const DONE: &[u8] = b"data: [DONE]\n\n";

/// Why a generation whose last event is `end` (not `Done`) gave no answer.
pub(super) fn failure(end: GenEvent) -> String {
    match end {
        GenEvent::Error(m) => m,
        _ => "generation ended without a result".into(),
    }
}

/// Reads a whole body into memory.
pub async fn collect(mut body: ByteStream) -> Bytes {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk);
    }
    Bytes::from(out)
}

/// OpenAI's `logprobs` of `tokens`: for chat `{"content": [{token, logprob, bytes,
/// top_logprobs}]}`, for completions `{tokens, token_logprobs, top_logprobs, text_offset}`
/// with offsets counted from `offset` (the bytes of text before these tokens).
pub(super) fn logprobs_json(endpoint: Endpoint, tokens: &[TokenLogprob], offset: usize) -> Value {
    if endpoint != Endpoint::ChatCompletions {
        return completion_logprobs(tokens, offset);
    }
    let entry = |bytes: &[u8], logprob: f32| json!({"token": String::from_utf8_lossy(bytes), "logprob": logprob, "bytes": bytes});
    let content: Vec<Value> = tokens
        .iter()
        .map(|t| {
            let mut v = entry(&t.bytes, t.logprob);
            v["top_logprobs"] = t.top.iter().map(|(b, l)| entry(b, *l)).collect();
            v
        })
        .collect();
    json!({"content": content, "refusal": null})
}

/// The legacy completions shape: parallel arrays, and each token's alternatives as a map.
fn completion_logprobs(tokens: &[TokenLogprob], mut offset: usize) -> Value {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut offsets = Vec::with_capacity(tokens.len());
    for t in tokens {
        offsets.push(offset);
        offset += t.bytes.len();
    }
    json!({
        "tokens": tokens.iter().map(|t| text(&t.bytes)).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": tokens
            .iter()
            .map(|t| t.top.iter().map(|(b, l)| (text(b), json!(l))).collect::<serde_json::Map<_, _>>())
            .collect::<Vec<_>>(),
        "text_offset": offsets,
    })
}

/// The JSON body of a non-streaming answer, once every choice's generation is complete: one
/// choice per generation, in order; usage counts the prompt once (as OpenAI does for `n`) and
/// the completion tokens of every choice.
pub async fn json(generations: Vec<Generation>, meta: &ResponseMeta) -> Result<Bytes, ApiError> {
    let ends = futures::future::join_all(generations.into_iter().map(Generation::collect)).await;
    let mut choices = Vec::with_capacity(ends.len());
    let (mut prompt, mut cached, mut completion) = (0, 0, 0u32);
    for (index, (text, logprobs, end)) in ends.into_iter().enumerate() {
        let GenEvent::Done { prompt_tokens, cached_tokens, completion_tokens, finish_reason } = end else {
            return Err(ApiError::internal("engine_error", failure(end)));
        };
        if index == 0 {
            (prompt, cached) = (prompt_tokens, cached_tokens);
        }
        completion = completion.saturating_add(completion_tokens);
        let calls = meta.tools.as_ref().map(|spec| parse_calls(&text, spec)).filter(|(_, calls)| !calls.is_empty());
        choices.push(match meta.endpoint {
            Endpoint::ChatCompletions if calls.is_some() => {
                let (content, calls) = calls.unwrap_or_default();
                let calls: Vec<Value> = calls.iter().map(|c| c.to_json(None)).collect();
                json!({
                    "index": index,
                    "message": {"role": "assistant", "content": (!content.is_empty()).then_some(content), "tool_calls": calls},
                    "logprobs": null,
                    "finish_reason": "tool_calls",
                })
            }
            Endpoint::ChatCompletions => json!({
                "index": index,
                "message": {"role": "assistant", "content": text},
                "logprobs": meta.logprobs.then(|| logprobs_json(meta.endpoint, &logprobs, 0)),
                "finish_reason": finish_reason.as_str(),
            }),
            Endpoint::Completions | Endpoint::AudioTranscriptions | Endpoint::Embeddings => json!({
                "index": index,
                "text": text,
                "logprobs": meta.logprobs.then(|| logprobs_json(meta.endpoint, &logprobs, 0)),
                "finish_reason": finish_reason.as_str(),
            }),
        });
    }
    let mut v = meta.envelope(false, Value::Array(choices));
    v["usage"] = usage(prompt, cached, completion);
    Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FinishReason;
    use tokio::sync::mpsc;

    trait CollectBody {
        async fn collect_body(self) -> Bytes;
    }
    impl CollectBody for ByteStream {
        async fn collect_body(self) -> Bytes {
            collect(self).await
        }
    }

    fn sse(generation: Generation, meta: ResponseMeta) -> ByteStream {
        super::super::stream::sse(vec![generation], meta)
    }

    fn meta(endpoint: Endpoint, include_usage: bool) -> ResponseMeta {
        ResponseMeta {
            endpoint,
            id: "x".into(),
            created: 1,
            model: "m".into(),
            include_usage,
            tools: None,
            logprobs: false,
        }
    }

    fn scripted(events: Vec<GenEvent>) -> Generation {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            tx.send(e).unwrap();
        }
        Generation::new(rx, 3)
    }

    fn done() -> GenEvent {
        GenEvent::Done { prompt_tokens: 3, cached_tokens: 0, completion_tokens: 2, finish_reason: FinishReason::Length }
    }

    #[tokio::test]
    async fn sse_shape_and_usage_for_the_meter() {
        let generation = scripted(vec![GenEvent::Text("Hel".into()), GenEvent::Text("lo".into()), done()]);
        let body: Vec<u8> = sse(generation, meta(Endpoint::ChatCompletions, true)).collect_body().await.to_vec();
        let text = String::from_utf8(body.clone()).unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 6, "{text}");
        assert_eq!(*events.last().unwrap(), "data: [DONE]");
        let parsed: Vec<Value> =
            events[..5].iter().map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap()).collect();
        assert_eq!(parsed[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(parsed[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(parsed[3]["choices"][0]["finish_reason"], "length");
        assert_eq!(parsed[4]["choices"], json!([]));
        let mut counter = cocoon_openai::SseUsageCounter::new();
        counter.feed(&body);
        counter.finish();
        let u = counter.usage().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (3, 2, 5));
        assert!(counter.saw_done() && counter.error().is_none());
    }

    #[tokio::test]
    async fn completions_stream_without_usage_and_errors() {
        let generation = scripted(vec![GenEvent::Text("a".into()), done()]);
        let text = sse(generation, meta(Endpoint::Completions, false)).collect_body().await;
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(!text.contains("usage") && text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(text.contains(r#""object":"text_completion""#));

        let generation = scripted(vec![GenEvent::Text("a".into()), GenEvent::Error("boom".into())]);
        let body = sse(generation, meta(Endpoint::ChatCompletions, true)).collect_body().await;
        let mut counter = cocoon_openai::SseUsageCounter::new();
        counter.feed(&body);
        counter.finish();
        assert_eq!(counter.error(), Some("boom"));
        assert!(!counter.saw_done());
    }

    #[tokio::test]
    async fn json_body_has_usage() {
        let generation = scripted(vec![GenEvent::Text("Hi".into()), done()]);
        let body = json(vec![generation], &meta(Endpoint::ChatCompletions, false)).await.unwrap();
        let u = cocoon_openai::usage_from_body(&body).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (3, 2, 5));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi");
        assert_eq!(v["object"], "chat.completion");

        let failed = scripted(vec![GenEvent::Error("boom".into())]);
        assert_eq!(json(vec![failed], &meta(Endpoint::Completions, false)).await.unwrap_err().code, "engine_error");
        let cut = scripted(vec![GenEvent::Text("x".into())]);
        assert!(json(vec![cut], &meta(Endpoint::Completions, false)).await.is_err());

        // Three choices: indexed in order, the prompt counted once, every completion counted.
        let three = (0..3).map(|i| scripted(vec![GenEvent::Text(format!("c{i}")), done()])).collect();
        let body = json(three, &meta(Endpoint::Completions, false)).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["choices"][2]["index"], 2);
        assert_eq!(v["choices"][2]["text"], "c2");
        let u = cocoon_openai::usage_from_body(&body).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (3, 6));
    }
}
