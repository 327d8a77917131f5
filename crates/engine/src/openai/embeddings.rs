//! `/v1/embeddings` on an [`Embedder`]: the request parsed by `cocoon_openai::embeddings`, the
//! answer in the format it asked for, with the tokens of its inputs as usage.

use crate::Embedder;
use bytes::Bytes;
use cocoon_openai::embeddings::{encode_answer, EmbeddingRequest};
use cocoon_openai::ApiError;
use std::sync::Arc;

/// Serves one embeddings request; the answer is one JSON document.
pub async fn serve_embeddings(embedder: Arc<Embedder>, body: &[u8]) -> Result<Bytes, ApiError> {
    let req = EmbeddingRequest::parse(body)?;
    let out = embedder.embed(req.inputs).await?;
    Ok(Bytes::from(encode_answer(&req.model, &out.vectors, req.format, out.prompt_tokens)))
}
