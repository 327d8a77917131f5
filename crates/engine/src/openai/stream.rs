//! SSE answers: each choice's generation becomes its own stream of chunks, and the streams of
//! all choices (`n`) are merged as their tokens arrive.
//!
//! One choice streams, for chat, a first chunk carrying the assistant role, then one chunk per
//! text piece (with the log-probabilities of the tokens that made it, when asked), then a chunk
//! with its `finish_reason`. With tools a choice is held until it ends, then sent as its text,
//! one `tool_calls` delta per call and the finish chunk. When every choice has finished come the
//! usage chunk `{"choices":[],"usage":{..}}` (when `stream_options.include_usage` is set; the
//! prompt counted once, every choice's completion tokens) and `data: [DONE]`. A failure of any
//! choice ends the stream at once with `data: {"error":{..}}` (no `[DONE]`), which the worker's
//! meter reports as a failure; the other choices are cancelled.

use super::response::{event, failure, logprobs_json, usage, ByteStream, ResponseMeta, DONE};
use crate::{tools::parse_calls, GenEvent, Generation, TokenLogprob};
use bytes::Bytes;
use cocoon_openai::Endpoint;
use futures::{stream::BoxStream, StreamExt};
use serde_json::json;
use std::sync::Arc;

/// What one choice's stream yields.
enum Part {
    /// Bytes to send.
    Event(Bytes),
    /// The choice finished (its finish chunk was sent) with these token counts.
    End { prompt: u32, cached: u32, completion: u32 },
    /// The choice failed: the whole answer ends with this error.
    Failed(String),
}

/// The SSE body for a streaming answer with one choice per generation, in index order.
/// Dropping it drops the generations (cancels them).
pub fn sse(generations: Vec<Generation>, meta: ResponseMeta) -> ByteStream {
    let meta = Arc::new(meta);
    let remaining = generations.len();
    let choices = futures::stream::select_all(
        generations.into_iter().enumerate().map(|(index, generation)| choice(generation, meta.clone(), index)),
    );
    struct Merge {
        choices: futures::stream::SelectAll<BoxStream<'static, Part>>,
        meta: Arc<ResponseMeta>,
        remaining: usize,
        counts: Option<(u32, u32)>,
        completion: u32,
        over: bool,
    }
    let state = Merge { choices, meta, remaining, counts: None, completion: 0, over: remaining == 0 };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.over {
                return None;
            }
            let Some(part) = st.choices.next().await else {
                st.over = true;
                return Some((error_event("generation ended without a result"), st));
            };
            match part {
                Part::Event(bytes) => return Some((bytes, st)),
                Part::End { prompt, cached, completion } => {
                    st.counts.get_or_insert((prompt, cached));
                    st.completion = st.completion.saturating_add(completion);
                    st.remaining -= 1;
                    if st.remaining == 0 {
                        st.over = true;
                        let (prompt, cached) = st.counts.unwrap_or_default();
                        return Some((tail(&st.meta, prompt, cached, st.completion), st));
                    }
                }
                Part::Failed(message) => {
                    st.over = true;
                    return Some((error_event(&message), st));
                }
            }
        }
    }))
}

fn error_event(message: &str) -> Bytes {
    event(&json!({"error": {"message": message, "type": "server_error", "code": "engine_error"}}))
}

/// The end of the answer: the usage chunk when asked for, and `[DONE]`.
fn tail(meta: &ResponseMeta, prompt: u32, cached: u32, completion: u32) -> Bytes {
    let mut out = Vec::new();
    if meta.include_usage {
        let mut u = meta.envelope(true, json!([]));
        u["usage"] = usage(prompt, cached, completion);
        out.extend_from_slice(&event(&u));
    }
    out.extend_from_slice(DONE);
    Bytes::from(out)
}

/// One choice's parts.
fn choice(generation: Generation, meta: Arc<ResponseMeta>, index: usize) -> BoxStream<'static, Part> {
    if meta.tools.is_some() && meta.endpoint == Endpoint::ChatCompletions {
        return with_tools(generation, meta, index);
    }
    let role = (meta.endpoint == Endpoint::ChatCompletions)
        .then(|| Part::Event(event(&meta.chunk(index, Some(""), true, None, None))));
    struct Plain {
        generation: Generation,
        meta: Arc<ResponseMeta>,
        index: usize,
        /// Log-probabilities of tokens whose text has not been sent yet.
        pending: Vec<TokenLogprob>,
        /// Bytes of text sent so far (completions' `text_offset`).
        offset: usize,
        ended: bool,
    }
    let state = Plain { generation, meta, index, pending: Vec::new(), offset: 0, ended: false };
    let rest = futures::stream::unfold(state, |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            match st.generation.next_event().await {
                Some(GenEvent::Logprob(l)) => st.pending.push(l),
                Some(GenEvent::Text(t)) => {
                    let tokens = std::mem::take(&mut st.pending);
                    let logprobs = st.meta.logprobs.then(|| logprobs_json(st.meta.endpoint, &tokens, st.offset));
                    st.offset += t.len();
                    let chunk = st.meta.chunk(st.index, Some(&t), false, None, logprobs);
                    return Some((vec![Part::Event(event(&chunk))], st));
                }
                Some(GenEvent::Done { prompt_tokens, cached_tokens, completion_tokens, finish_reason }) => {
                    st.ended = true;
                    let finish = st.meta.chunk(st.index, None, false, Some(finish_reason.as_str()), None);
                    let end = Part::End { prompt: prompt_tokens, cached: cached_tokens, completion: completion_tokens };
                    return Some((vec![Part::Event(event(&finish)), end], st));
                }
                Some(end) => {
                    st.ended = true;
                    return Some((vec![Part::Failed(failure(end))], st));
                }
                None => {
                    st.ended = true;
                    return Some((vec![Part::Failed("generation ended without a result".into())], st));
                }
            }
        }
    });
    futures::stream::iter(role).chain(rest.flat_map(futures::stream::iter)).boxed()
}

/// A choice whose answer may be tool calls: the role chunk at once, the rest when it ends.
fn with_tools(generation: Generation, meta: Arc<ResponseMeta>, index: usize) -> BoxStream<'static, Part> {
    let first = Part::Event(event(&meta.chunk(index, Some(""), true, None, None)));
    let rest = futures::stream::once(async move {
        let (text, _, end) = generation.collect().await;
        let GenEvent::Done { prompt_tokens, cached_tokens, completion_tokens, finish_reason } = end else {
            return vec![Part::Failed(failure(end))];
        };
        let (content, calls) = match &meta.tools {
            Some(spec) => parse_calls(&text, spec),
            None => (text, Vec::new()),
        };
        let mut parts = Vec::new();
        if !content.is_empty() {
            parts.push(Part::Event(event(&meta.chunk(index, Some(&content), false, None, None))));
        }
        for (i, call) in calls.iter().enumerate() {
            let delta = json!({"index": index, "delta": {"tool_calls": [call.to_json(Some(i))]}, "logprobs": null, "finish_reason": null});
            parts.push(Part::Event(event(&meta.envelope(true, json!([delta])))));
        }
        let finish = if calls.is_empty() { finish_reason.as_str() } else { "tool_calls" };
        parts.push(Part::Event(event(&meta.chunk(index, None, false, Some(finish), None))));
        parts.push(Part::End { prompt: prompt_tokens, cached: cached_tokens, completion: completion_tokens });
        parts
    });
    futures::stream::once(std::future::ready(first)).chain(rest.flat_map(futures::stream::iter)).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FinishReason;
    use serde_json::Value;
    use tokio::sync::mpsc;

    fn meta(endpoint: Endpoint, logprobs: bool) -> ResponseMeta {
        ResponseMeta {
            endpoint,
            id: "x".into(),
            created: 1,
            model: "m".into(),
            include_usage: true,
            tools: None,
            logprobs,
        }
    }

    fn scripted(events: Vec<GenEvent>) -> Generation {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            tx.send(e).unwrap();
        }
        Generation::new(rx, 3)
    }

    fn done(completion: u32) -> GenEvent {
        GenEvent::Done {
            prompt_tokens: 3,
            cached_tokens: 1,
            completion_tokens: completion,
            finish_reason: FinishReason::Stop,
        }
    }

    fn lp(text: &str, logprob: f32) -> GenEvent {
        GenEvent::Logprob(TokenLogprob {
            bytes: text.as_bytes().to_vec(),
            logprob,
            top: vec![(text.as_bytes().to_vec(), logprob)],
        })
    }

    async fn parse(body: ByteStream) -> (Vec<Value>, bool) {
        let bytes = super::super::response::collect(body).await;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut done = false;
        let mut out = Vec::new();
        for e in text.split("\n\n").filter(|e| !e.is_empty()) {
            let data = e.strip_prefix("data: ").unwrap();
            if data == "[DONE]" {
                done = true;
            } else {
                out.push(serde_json::from_str(data).unwrap());
            }
        }
        (out, done)
    }

    #[tokio::test]
    async fn several_choices_stream_with_their_index_and_usage_counts_them_all() {
        let a = scripted(vec![GenEvent::Text("a1".into()), GenEvent::Text("a2".into()), done(2)]);
        let b = scripted(vec![GenEvent::Text("b1".into()), done(5)]);
        let (events, done) = parse(sse(vec![a, b], meta(Endpoint::ChatCompletions, false))).await;
        assert!(done);
        let mut text = [String::new(), String::new()];
        let mut roles = [0, 0];
        let mut finishes = [0, 0];
        for e in &events[..events.len() - 1] {
            let c = &e["choices"][0];
            let i = c["index"].as_u64().unwrap() as usize;
            text[i].push_str(c["delta"]["content"].as_str().unwrap_or_default());
            roles[i] += usize::from(c["delta"]["role"] == "assistant");
            finishes[i] += usize::from(c["finish_reason"] == "stop");
        }
        assert_eq!(text, ["a1a2".to_string(), "b1".to_string()]);
        assert_eq!((roles, finishes), ([1, 1], [1, 1]));
        let usage = &events.last().unwrap()["usage"];
        assert_eq!((usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64()), (Some(3), Some(7)));
    }

    #[tokio::test]
    async fn logprobs_ride_with_the_text_of_their_tokens() {
        // Two tokens make the first piece (a character split across them), one the second.
        let g = scripted(vec![
            lp("H", -0.5),
            lp("é", -0.25),
            GenEvent::Text("Hé".into()),
            lp("y", -1.0),
            GenEvent::Text("y".into()),
            done(3),
        ]);
        let (events, _) = parse(sse(vec![g], meta(Endpoint::ChatCompletions, true))).await;
        let pieces: Vec<&Value> = events
            .iter()
            .filter(|e| e["choices"][0]["delta"]["content"].as_str().is_some_and(|t| !t.is_empty()))
            .collect();
        assert_eq!(pieces.len(), 2);
        let content = &pieces[0]["choices"][0]["logprobs"]["content"];
        assert_eq!(content.as_array().unwrap().len(), 2);
        assert_eq!((content[1]["token"].as_str(), content[1]["logprob"].as_f64()), (Some("é"), Some(-0.25)));
        assert_eq!(pieces[1]["choices"][0]["logprobs"]["content"][0]["token"], "y");

        // Completions: the legacy arrays, offsets counted over the whole text.
        let g = scripted(vec![
            lp("ab", -0.5),
            GenEvent::Text("ab".into()),
            lp("c", -1.0),
            GenEvent::Text("c".into()),
            done(2),
        ]);
        let (events, _) = parse(sse(vec![g], meta(Endpoint::Completions, true))).await;
        assert_eq!(events[0]["choices"][0]["logprobs"]["text_offset"], serde_json::json!([0]));
        assert_eq!(events[1]["choices"][0]["logprobs"]["tokens"], serde_json::json!(["c"]));
        assert_eq!(events[1]["choices"][0]["logprobs"]["text_offset"], serde_json::json!([2]));
        assert_eq!(events[1]["choices"][0]["logprobs"]["top_logprobs"][0]["c"], -1.0);
    }

    #[tokio::test]
    async fn a_failed_choice_ends_the_answer_with_an_error_and_no_done() {
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(GenEvent::Text("still going".into())).unwrap();
        // `tx` stays open: this choice never ends on its own.
        let slow = Generation::new(rx, 3);
        let failed = scripted(vec![GenEvent::Error("boom".into())]);
        let (events, done) = parse(sse(vec![slow, failed], meta(Endpoint::Completions, false))).await;
        assert!(!done);
        assert_eq!(events.last().unwrap()["error"]["message"], "boom");
        drop(tx);
    }
}
