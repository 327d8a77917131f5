//! One generation: what is asked ([`GenRequest`]) and what comes back ([`Generation`], a
//! stream of [`GenEvent`]s).
//!
//! The stream is fed by the inference thread through an unbounded channel (a generation
//! produces at most `max_tokens` small events, so the thread never waits for a slow reader).
//! Dropping the [`Generation`] closes the channel; the inference thread notices before its
//! next step and frees the sequence, so generation stops within one decode step.

use futures::Stream;
use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
};
use tokio::sync::mpsc;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    /// The full prompt text (already rendered through the chat template for chat requests).
    /// Special tokens written in it (e.g. `<|im_end|>`) are parsed as such.
    pub prompt: String,
    /// Most tokens to generate; also capped by the context left after the prompt.
    pub max_tokens: u32,
    /// 0 = greedy (always the most likely token).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f32,
    /// Seed of the sampler; the same seed and request give the same text when the request runs
    /// alone (batched with others, floating-point differences can change the result).
    pub seed: Option<u64>,
    /// Generation ends before any of these strings; they are not part of the output.
    pub stop: Vec<String>,
    /// A GBNF grammar every generated token must keep the output within ([`crate::structured`]).
    pub grammar: Option<String>,
    /// Added to these tokens' logits before sampling (`logit_bias`; -100 bans a token).
    pub logit_bias: Vec<(u32, f32)>,
    /// Report each sampled token's log-probability and this many most likely alternatives
    /// ([`GenEvent::Logprob`]); `None`: none.
    pub logprobs: Option<u8>,
}

impl GenRequest {
    /// A greedy request with no stop strings.
    pub fn greedy(prompt: impl Into<String>, max_tokens: u32) -> Self {
        Self {
            prompt: prompt.into(),
            max_tokens,
            temperature: 0.0,
            top_p: 1.0,
            seed: None,
            stop: Vec::new(),
            grammar: None,
            logit_bias: Vec::new(),
            logprobs: None,
        }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its answer or a stop string was reached.
    Stop,
    /// `max_tokens` (or the context) was exhausted.
    Length,
}

impl FinishReason {
    /// OpenAI's `finish_reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a generation.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    /// Generated text: whole UTF-8 characters, never part of a stop string.
    Text(String),
    /// A sampled token and its log-probability, before its text (only when asked for).
    Logprob(TokenLogprob),
    /// The end. `completion_tokens` counts every token sampled, including the end-of-turn
    /// token when the model stopped by itself. `cached_tokens` counts the prompt tokens whose
    /// KV cache was reused from an earlier generation instead of being computed again.
    Done { prompt_tokens: u32, cached_tokens: u32, completion_tokens: u32, finish_reason: FinishReason },
    /// Inference failed; nothing follows.
    Error(String),
}

/// One sampled token's log-probability under the model (its raw distribution, before
/// temperature or any other sampling step), with the most likely alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's bytes (a token may hold part of a UTF-8 character).
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// The most likely tokens at this position, most likely first.
    pub top: Vec<(Vec<u8>, f32)>,
}

/// The stream of a running generation. Dropping it cancels the generation.
pub struct Generation {
    rx: mpsc::UnboundedReceiver<GenEvent>,
    prompt_tokens: u32,
    ended: bool,
}

impl Generation {
    // Made by the llama.cpp backend (and the tests); unused in the stub build.
    #[cfg_attr(not(any(feature = "llama", test)), allow(dead_code))]
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<GenEvent>, prompt_tokens: u32) -> Self {
        Self { rx, prompt_tokens, ended: false }
    }

    /// Tokens in the prompt, known before the first event.
    pub fn prompt_tokens(&self) -> u32 {
        self.prompt_tokens
    }

    /// The next event; `None` after `Done`/`Error` (or if the inference thread went away, which
    /// is reported as an `Error` first).
    pub async fn next_event(&mut self) -> Option<GenEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<GenEvent>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(ev)) => {
                if matches!(ev, GenEvent::Done { .. } | GenEvent::Error(_)) {
                    self.ended = true;
                }
                Poll::Ready(Some(ev))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(GenEvent::Error("the inference thread stopped mid-generation".into())))
            }
        }
    }

    /// Collects the whole generation: its text and final event.
    pub async fn collect_text(self) -> (String, GenEvent) {
        let (text, _, end) = self.collect().await;
        (text, end)
    }

    /// Collects the whole generation: its text, the tokens' log-probabilities (when asked
    /// for) and the final event.
    pub async fn collect(mut self) -> (String, Vec<TokenLogprob>, GenEvent) {
        let mut text = String::new();
        let mut logprobs = Vec::new();
        while let Some(ev) = self.next_event().await {
            match ev {
                GenEvent::Text(t) => text.push_str(&t),
                GenEvent::Logprob(l) => logprobs.push(l),
                end => return (text, logprobs, end),
            }
        }
        (text, logprobs, GenEvent::Error("generation ended without a result".into()))
    }
}

impl Stream for Generation {
    type Item = GenEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<GenEvent>> {
        self.get_mut().poll_event(cx)
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generation").field("prompt_tokens", &self.prompt_tokens).finish_non_exhaustive()
    }
}
