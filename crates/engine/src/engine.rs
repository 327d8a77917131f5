//! The engine: a loaded model, its chat template and the inference thread that serves
//! generations.

use crate::{
    admission::Load, backend, chat::ChatTemplate, hash::while_hashing, ChatMessage, EngineConfig, EngineError,
    GenRequest, Generation,
};
use std::{sync::Arc, time::Instant};

/// What was loaded, for logs and descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// File name of the model (no directory).
    pub file_name: String,
    /// `general.name` from the GGUF metadata, when present.
    pub name: Option<String>,
    /// `general.architecture` from the GGUF metadata, when present.
    pub architecture: Option<String>,
    /// Parameter count.
    pub parameters: u64,
    /// Size of the weights in bytes.
    pub size_bytes: u64,
    /// Context length the model was trained with.
    pub trained_context: u32,
    /// Whether the chat template is the model's own (false: ChatML fallback).
    pub own_chat_template: bool,
}

/// A loaded model ready to generate. Cheap to share (`Arc`); every method is thread-safe.
pub struct Engine {
    config: EngineConfig,
    sha256: String,
    info: ModelInfo,
    template: ChatTemplate,
    load: Arc<Load>,
    backend: backend::Backend,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("info", &self.info).field("sha256", &self.sha256).finish_non_exhaustive()
    }
}

/// Longest prompt text accepted, in bytes (tokenizing more than this is pointless: no context
/// holds it, and llama.cpp's tokenizer takes an `i32` length).
pub const MAX_PROMPT_BYTES: usize = 64 * 1024 * 1024;

impl Engine {
    /// Loads the model (blocking: seconds to minutes for large models; call it from a blocking
    /// thread) and starts the inference thread. The file's SHA-256 is computed alongside.
    pub fn load(config: EngineConfig) -> Result<Arc<Engine>, EngineError> {
        let bytes = config.check_loadable()?;
        let path = config.model_path.clone();
        let threads = config.effective_threads();
        tracing::info!(model = %path.display(), bytes, threads, "loading model");
        let started = Instant::now();
        let load = Arc::new(Load::new(config.parallel, config.queue));
        let (loaded, sha256) = while_hashing(&path, || backend::load(&config, threads, load.clone()));
        let loaded = loaded?;
        let sha256 = sha256?;

        let arch = loaded.info.architecture.as_deref();
        let template = match loaded.template.as_deref() {
            Some(src) => ChatTemplate::new(Some(src), &loaded.bos_text, &loaded.eos_text).or_else(|e| {
                tracing::warn!(error = %e, "the model's chat template does not compile; using a fallback");
                ChatTemplate::fallback(arch, &loaded.bos_text, &loaded.eos_text)
            })?,
            None => {
                tracing::warn!(
                    architecture = arch.unwrap_or("?"),
                    "the model has no chat template; using its family's format or ChatML"
                );
                ChatTemplate::fallback(arch, &loaded.bos_text, &loaded.eos_text)?
            }
        };
        let info = ModelInfo {
            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            own_chat_template: !template.is_fallback(),
            ..loaded.info
        };
        tracing::info!(
            secs = format!("{:.2}", started.elapsed().as_secs_f64()),
            name = info.name.as_deref().unwrap_or("?"),
            architecture = info.architecture.as_deref().unwrap_or("?"),
            parameters = info.parameters,
            weights_bytes = info.size_bytes,
            trained_context = info.trained_context,
            context_per_sequence = config.context,
            parallel = config.parallel,
            queue = config.queue,
            threads,
            sha256 = %sha256,
            "model loaded"
        );
        if config.context > info.trained_context && info.trained_context > 0 {
            tracing::warn!(
                context = config.context,
                trained = info.trained_context,
                "context is longer than the model was trained for"
            );
        }
        Ok(Arc::new(Engine { config, sha256, info, template, load, backend: loaded.backend }))
    }

    /// Lowercase hex SHA-256 of the model file.
    pub fn model_sha256(&self) -> &str {
        &self.sha256
    }

    /// What was loaded.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Tokens of context per sequence (prompt + completion).
    pub fn context(&self) -> u32 {
        self.config.context
    }

    /// Renders a conversation into a prompt with the model's chat template.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.template.render(messages)
    }

    /// [`Self::render_chat`] with tools the model may call.
    pub fn render_chat_with_tools(
        &self,
        messages: &[ChatMessage],
        tools: Option<&crate::tools::ToolSpec>,
    ) -> Result<String, EngineError> {
        self.template.render_with_tools(messages, tools)
    }

    /// Number of tokens `text` becomes as a prompt (with the BOS token where the model adds
    /// one). Blocking for very long texts.
    pub fn token_count(&self, text: &str) -> Result<usize, EngineError> {
        check_prompt_size(text)?;
        Ok(self.backend.token_count(text))
    }

    /// Starts a generation. Tokenizes the prompt on the calling thread (call it from a blocking
    /// thread for long prompts); inference runs on the engine's own thread.
    ///
    /// Errors at once when the prompt is empty or too long for the context, or with
    /// [`EngineError::Busy`] when `parallel` generations run and `queue` more wait.
    pub fn generate(&self, req: GenRequest) -> Result<Generation, EngineError> {
        check_prompt_size(&req.prompt)?;
        if req.max_tokens == 0 {
            return Err(EngineError::InvalidRequest("`max_tokens` must be at least 1".into()));
        }
        if !req.temperature.is_finite() || req.temperature < 0.0 {
            return Err(EngineError::InvalidRequest("`temperature` must be a number >= 0".into()));
        }
        if !req.top_p.is_finite() || req.top_p <= 0.0 || req.top_p > 1.0 {
            return Err(EngineError::InvalidRequest("`top_p` must be in (0, 1]".into()));
        }
        self.backend.start(req, self.config.context, &self.load)
    }

    /// (running, waiting) generations.
    pub fn load_stats(&self) -> (usize, usize) {
        self.load.stats()
    }

    /// Whether the inference thread is alive.
    pub fn is_alive(&self) -> bool {
        self.backend.is_alive()
    }
}

fn check_prompt_size(text: &str) -> Result<(), EngineError> {
    if text.is_empty() {
        return Err(EngineError::InvalidRequest("the prompt is empty".into()));
    }
    if text.len() > MAX_PROMPT_BYTES {
        return Err(EngineError::InvalidRequest(format!("the prompt is over {MAX_PROMPT_BYTES} bytes")));
    }
    Ok(())
}
