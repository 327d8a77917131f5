//! `POST /v1/embeddings` of the bench backend: deterministic synthetic vectors.
//!
//! Each text gets a unit vector of [`DIMENSIONS`] components derived from its bytes, the same
//! every time, and is counted as `bytes / 4` (rounded up) + 2 prompt tokens, so tests can check
//! that the network passes answers through byte for byte and bills exactly what was reported.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use cocoon_openai::embeddings::{encode_answer, EmbeddingRequest};
use cocoon_openai::ApiError;

use crate::handlers::{error_response, json_response};
use crate::Inner;

/// Width of the synthetic vectors.
pub const DIMENSIONS: usize = 8;

/// The prompt tokens the bench backend counts for `text`.
pub fn tokens_of(text: &str) -> u64 {
    text.len().div_ceil(4) as u64 + 2
}

/// The unit vector the bench backend answers for `text`.
pub fn vector_of(text: &str) -> Vec<f32> {
    // FNV-1a per component, seeded by the component's index.
    let raw: Vec<f32> = (0..DIMENSIONS as u64)
        .map(|i| {
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ i;
            for b in text.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            ((h >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    raw.into_iter().map(|x| x / norm).collect()
}

pub(crate) async fn embeddings(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    inner.stats.request();
    *inner.last_request.lock().unwrap_or_else(|p| p.into_inner()) = body.clone();
    let req = match EmbeddingRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    if req.model != inner.opts.model {
        let e = ApiError::not_found("model_not_found", format!("The model `{}` does not exist.", req.model));
        return error_response(&e);
    }
    let vectors: Vec<Vec<f32>> = req.inputs.iter().map(|t| vector_of(t)).collect();
    let tokens = req.inputs.iter().map(|t| tokens_of(t)).sum();
    json_response(StatusCode::OK, Bytes::from(encode_answer(&req.model, &vectors, req.format, tokens)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = vector_of("hello");
        assert_eq!(a, vector_of("hello"));
        assert_ne!(a, vector_of("hellp"));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(tokens_of("abcde"), 4);
    }
}
