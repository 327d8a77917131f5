//! What can go wrong in the engine, and how each error reads as an OpenAI error.

use cocoon_openai::ApiError;
use http::StatusCode;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The binary has no inference engine compiled in.
    #[error("{0}")]
    NotBuilt(&'static str),
    /// The configuration is unusable.
    #[error("invalid engine config: {0}")]
    Config(String),
    /// The model file could not be read.
    #[error("model file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// llama.cpp refused to load the model or to create its context.
    #[error("loading the model failed: {0}")]
    Load(String),
    /// The chat template could not be rendered for these messages.
    #[error("chat template: {0}")]
    Template(String),
    /// The request is malformed for the engine (empty prompt, bad message).
    #[error("{0}")]
    InvalidRequest(String),
    /// The prompt does not leave room for a single generated token.
    #[error("prompt is {tokens} tokens, but the context holds {context} (prompt + completion)")]
    PromptTooLong { tokens: usize, context: u32 },
    /// Every sequence is busy and the waiting queue is full.
    #[error("engine busy: {running} running and {waiting} waiting (queue limit reached)")]
    Busy { running: usize, waiting: usize },
    /// The inference thread is gone.
    #[error("the inference thread has stopped")]
    Stopped,
    /// llama.cpp failed while generating.
    #[error("inference failed: {0}")]
    Inference(String),
}

impl EngineError {
    /// The OpenAI-shaped error a client receives for this failure.
    pub fn to_api_error(&self) -> ApiError {
        let msg = self.to_string();
        match self {
            EngineError::InvalidRequest(_) => ApiError::bad_request("invalid_request", msg),
            EngineError::Template(_) => ApiError::bad_request("chat_template_error", msg),
            EngineError::PromptTooLong { .. } => ApiError::bad_request("context_length_exceeded", msg),
            EngineError::Busy { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "server_error", "engine_busy", msg)
            }
            EngineError::NotBuilt(_) | EngineError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", "engine_unavailable", msg)
            }
            EngineError::Config(_) | EngineError::Io { .. } | EngineError::Load(_) | EngineError::Inference(_) => {
                ApiError::internal("engine_error", msg)
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        e.to_api_error()
    }
}
