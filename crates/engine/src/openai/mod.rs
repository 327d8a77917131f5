//! The OpenAI layer: chat-completions and completions bodies in, OpenAI JSON or SSE out.
//!
//! [`OpenAiRequest::parse`] reads a body (pure, testable without a model);
//! [`OpenAiRequest::gen_request`] renders it for an engine; [`serve`] does both, starts the
//! generation off the async runtime, and answers with either one JSON document (exact `usage`)
//! or an SSE stream ([`stream::sse`]) whose usage chunk has the shape the worker's meter
//! (`cocoon_openai::SseUsageCounter`) reads.

mod embeddings;
mod request;
pub mod response;
pub mod stream;

pub use embeddings::serve_embeddings;

pub use request::{Input, OpenAiRequest, DEFAULT_MAX_TOKENS};
pub use response::{ByteStream, ResponseMeta};

use crate::{Engine, EngineError, GenRequest};
use bytes::Bytes;
use cocoon_openai::{ApiError, Endpoint, Feature, FeatureSet};
use std::sync::Arc;

/// The optional OpenAI features this engine serves (announced by a worker that embeds it):
/// tool calls ([`crate::tools`]), `logprobs` (chat's with `top_logprobs`, completions' legacy
/// shape), `logit_bias`, and `n` choices, streamed or not.
pub const FEATURES: FeatureSet =
    FeatureSet::EMPTY.with(Feature::Tools).with(Feature::Logprobs).with(Feature::LogitBias).with(Feature::Choices);

/// An answer ready to send: its content type and its body.
pub struct OpenAiResponse {
    /// `text/event-stream` for streams, `application/json` otherwise.
    pub content_type: &'static str,
    /// The body; for a stream it ends with `data: [DONE]`. Dropping it cancels generation.
    pub body: ByteStream,
}

impl std::fmt::Debug for OpenAiResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiResponse").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

/// Serves one OpenAI request on `engine`. Rendering and tokenizing run on a blocking thread;
/// a non-streaming answer is complete when this returns, a stream is produced as it goes.
/// Dropping the future or the body cancels the generation.
pub async fn serve(engine: Arc<Engine>, endpoint: Endpoint, body: &[u8]) -> Result<OpenAiResponse, ApiError> {
    let req = OpenAiRequest::parse(endpoint, body)?;
    let meta = ResponseMeta::new(&req);
    let stream = req.stream;
    let generations = tokio::task::spawn_blocking(move || {
        let gen_req = req.gen_request(&engine)?;
        // `n` choices: the same prompt generated `n` times, each with a seed of its own (the
        // request's seed + the choice's index, so a seeded request still repeats).
        (0..req.choices)
            .map(|i| {
                let seed = gen_req.seed.map(|s| s.wrapping_add(u64::from(i)));
                engine.generate(GenRequest { seed, ..gen_req.clone() }).map_err(ApiError::from)
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await
    .map_err(|e| EngineError::Inference(format!("request thread failed: {e}")).to_api_error())??;
    if stream {
        Ok(OpenAiResponse { content_type: "text/event-stream", body: stream::sse(generations, meta) })
    } else {
        let json = response::json(generations, &meta).await?;
        Ok(OpenAiResponse { content_type: "application/json", body: Box::pin(futures::stream::once(async { json })) })
    }
}

/// The body of a non-streaming answer, or the error (for tests and simple callers).
pub async fn serve_json(engine: Arc<Engine>, endpoint: Endpoint, body: &[u8]) -> Result<Bytes, ApiError> {
    let resp = serve(engine, endpoint, body).await?;
    Ok(response::collect(resp.body).await)
}
