//! The embedder: an embedding model loaded in-process, turning texts into unit vectors for
//! `/v1/embeddings` (a GGUF encoder such as all-MiniLM-L6-v2, or any GGUF model with mean
//! pooling). It takes the same configuration as the generating [`crate::Engine`]: `context` is
//! the most tokens one text may have, `parallel` the texts decoded together, `queue` the
//! requests allowed to wait.

use crate::{hash::while_hashing, EngineConfig, EngineError};
use std::{sync::Arc, time::Instant};

/// What was loaded, for logs and descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderInfo {
    /// `general.name` from the GGUF metadata, when present.
    pub name: Option<String>,
    /// `general.architecture` from the GGUF metadata, when present.
    pub architecture: Option<String>,
    /// Components of each vector.
    pub dimensions: usize,
    /// How token states become one vector: `mean`, `cls`, `last`.
    pub pooling: &'static str,
    /// Context length the model was trained with.
    pub trained_context: u32,
}

/// The vectors of one request's texts and the tokens they were.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One L2-normalised vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens of all inputs together (special tokens included): what the request is billed.
    pub prompt_tokens: u64,
}

/// A loaded embedding model. Cheap to share (`Arc`); every method is thread-safe.
pub struct Embedder {
    config: EngineConfig,
    sha256: String,
    file_name: String,
    info: EmbedderInfo,
    backend: crate::backend::EmbedBackend,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("info", &self.info).field("sha256", &self.sha256).finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model (blocking; call it from a blocking thread) and starts its thread. The
    /// file's SHA-256 is computed alongside.
    pub fn load(config: EngineConfig) -> Result<Arc<Embedder>, EngineError> {
        let bytes = config.check_loadable()?;
        let path = config.model_path.clone();
        let threads = config.effective_threads();
        tracing::info!(model = %path.display(), bytes, threads, "loading embedding model");
        let started = Instant::now();
        let (loaded, sha256) = while_hashing(&path, || crate::backend::load_embedder(&config, threads));
        let (backend, info) = loaded?;
        let sha256 = sha256?;
        tracing::info!(
            secs = format!("{:.2}", started.elapsed().as_secs_f64()),
            name = info.name.as_deref().unwrap_or("?"),
            architecture = info.architecture.as_deref().unwrap_or("?"),
            dimensions = info.dimensions,
            pooling = info.pooling,
            tokens_per_input = config.context,
            parallel = config.parallel,
            sha256 = %sha256,
            "embedding model loaded"
        );
        if config.context > info.trained_context && info.trained_context > 0 {
            return Err(EngineError::Config(format!(
                "`context` is {} tokens but the model was trained for {}: positions past it do not exist",
                config.context, info.trained_context
            )));
        }
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Arc::new(Embedder { config, sha256, file_name, info, backend }))
    }

    /// Lowercase hex SHA-256 of the model file.
    pub fn model_sha256(&self) -> &str {
        &self.sha256
    }

    /// File name of the model (no directory).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// What was loaded.
    pub fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    /// The configuration the embedder runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether the embedding thread is alive.
    pub fn is_alive(&self) -> bool {
        self.backend.is_alive()
    }

    /// Embeds `inputs` (non-empty texts), in order. Errors: an input with more than `context`
    /// tokens or none ([`EngineError::InvalidRequest`]), a full queue ([`EngineError::Busy`]).
    /// Dropping the future stops the work after the batch in progress.
    pub async fn embed(&self, inputs: Vec<String>) -> Result<Embedded, EngineError> {
        if inputs.is_empty() {
            return Err(EngineError::InvalidRequest("no input to embed".into()));
        }
        if let Some(i) = inputs.iter().position(|t| t.is_empty() || t.len() > crate::MAX_PROMPT_BYTES) {
            return Err(EngineError::InvalidRequest(format!(
                "`input[{i}]` must have 1..={} bytes",
                crate::MAX_PROMPT_BYTES
            )));
        }
        let rx = self.backend.submit(inputs)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }
}
