//! The inference backend seam: one trait, several implementations.
//!
//! Request validation happens before a backend is called (see `service`); a backend only
//! executes: [`crate::openai_backend::OpenAiBackend`] (any OpenAI-compatible HTTP server: vLLM,
//! SGLang, llama.cpp server, Ollama), the embedded llama.cpp engine (`embedded_backend`, cargo
//! feature `embedded`) and the embedded Whisper engine (`speech_backend`, feature `speech`).

use bytes::Bytes;
use cocoon_openai::{ApiError, Endpoint};
use cocoon_transport::Body;
use futures::future::BoxFuture;

/// A validated request, ready to execute.
pub struct BackendRequest {
    pub endpoint: Endpoint,
    /// The OpenAI JSON body (validated; `stream_options.include_usage` forced on streams).
    pub body: Bytes,
    pub stream: bool,
}

/// The start of a backend's answer; the body streams.
pub struct BackendResponse {
    pub status: http::StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: Body,
}

pub trait Backend: Send + Sync + 'static {
    /// Human-readable description for logs and stats.
    fn describe(&self) -> String;

    /// Whether the backend can serve now (for an HTTP backend: `GET /v1/models` answers).
    fn health(&self) -> BoxFuture<'static, Result<(), String>>;

    /// SHA-256 (lowercase hex) of the model weights, when the backend itself knows them (the
    /// embedded engine hashes the file it loads).
    fn model_sha256(&self) -> Option<String> {
        None
    }

    /// Executes one request. Dropping the returned future or body cancels it.
    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>>;
}
