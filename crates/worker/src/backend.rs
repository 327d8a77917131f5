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
    /// Which OpenAI endpoint the request is for (chat, completions, transcriptions, ...).
    pub endpoint: Endpoint,
    /// The OpenAI JSON body (validated; `stream_options.include_usage` forced on streams).
    pub body: Bytes,
    /// Whether the client asked for a streamed (SSE) answer.
    pub stream: bool,
}

/// The start of a backend's answer; the body streams.
pub struct BackendResponse {
    /// The backend's HTTP status; anything but 2xx is passed back as the backend's refusal.
    pub status: http::StatusCode,
    /// The backend's `content-type`, copied onto the answer when present.
    pub content_type: Option<http::HeaderValue>,
    /// The answer body, streamed as the backend produces it.
    pub body: Body,
}

/// What executes inference requests for the worker: an HTTP server, or an engine run in-process.
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

    /// The optional OpenAI features the backend itself knows it has (the embedded engine);
    /// `None`: the worker's configured `features` (an external server cannot be asked).
    fn features(&self) -> Option<cocoon_openai::FeatureSet> {
        None
    }

    /// Executes one request. Dropping the returned future or body cancels it.
    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>>;
}
