//! An embedded LLM engine for cocoon workers: llama.cpp in-process, behind an
//! OpenAI-compatible layer.
//!
//! - [`Engine::load`] loads a GGUF model (and computes its SHA-256), starts one inference
//!   thread, and serves generations: up to `parallel` sequences decoded together in one batch,
//!   up to `queue` more waiting, the rest refused as [`EngineError::Busy`].
//! - [`Engine::render_chat`] renders messages with the model's own chat template ([`chat`]).
//! - [`Engine::generate`] returns a [`Generation`]: a stream of UTF-8-safe text pieces (stop
//!   strings cut, [`text`]) and a final event with exact token counts. Dropping it cancels.
//! - [`openai`] turns OpenAI chat-completions/completions bodies into generations and
//!   generations into OpenAI JSON or SSE, with the usage the network bills for.
//! - [`structured`]: `response_format` (JSON, JSON schema) as a grammar the sampler enforces.
//! - [`Embedder`]: an embedding model on a thread of its own, texts to unit vectors, served as
//!   `/v1/embeddings` by [`openai::serve_embeddings`].
//!
//! llama.cpp is compiled only with the cargo feature `llama`; without it everything builds and
//! [`Engine::load`] returns [`EngineError::NotBuilt`].

// Admission is driven by the llama.cpp backend; the stub build only reports the counts.
#[cfg_attr(not(feature = "llama"), allow(dead_code))]
mod admission;
pub mod chat;
mod config;
mod embedder;
mod engine;
mod error;
mod generation;
mod hash;
pub mod openai;
pub mod structured;
pub mod testing;
pub mod text;
pub mod tools;

#[cfg(feature = "llama")]
#[path = "llama/mod.rs"]
mod backend;
#[cfg(not(feature = "llama"))]
#[path = "stub.rs"]
mod backend;

pub use chat::{ChatMessage, ChatTemplate};
pub use config::EngineConfig;
pub use embedder::{Embedded, Embedder, EmbedderInfo};
pub use engine::{Engine, ModelInfo, MAX_PROMPT_BYTES};
pub use error::EngineError;
pub use generation::{FinishReason, GenEvent, GenRequest, Generation, TokenLogprob};
pub use hash::sha256_file;
pub use structured::ResponseFormat;

/// What [`Engine::load`] says in a build without the `llama` feature.
pub const NOT_BUILT: &str = "this binary was built without the embedded engine (cargo feature `llama`)";

/// Whether this build contains llama.cpp (the `llama` feature).
pub const BUILT_WITH_LLAMA: bool = cfg!(feature = "llama");
