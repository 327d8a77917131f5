//! The engine's configuration: which model file, how much context, how many threads, how many
//! requests at once. It is also the worker's `[embedded]` table.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How to load and run a model in-process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Path of the GGUF model file. Its SHA-256 is computed at load and reported.
    pub model_path: PathBuf,
    /// Tokens of context per sequence (prompt + completion). Each of the `parallel` sequences
    /// gets this much KV cache, so memory grows with `context * parallel`.
    #[serde(default = "default_context")]
    pub context: u32,
    /// CPU threads for inference; default: the number of available cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Sequences generated at once (batched together in one llama.cpp context).
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// Requests allowed to wait for a free sequence; beyond that a request is refused as busy.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

fn default_context() -> u32 {
    2048
}
fn default_parallel() -> usize {
    2
}
fn default_queue() -> usize {
    32
}

/// Smallest accepted `context`.
pub const MIN_CONTEXT: u32 = 64;
/// Largest accepted `parallel`.
pub const MAX_PARALLEL: usize = 256;

impl EngineConfig {
    /// A configuration with the defaults for everything but the model.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            context: default_context(),
            threads: None,
            parallel: default_parallel(),
            queue: default_queue(),
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.model_path.as_os_str().is_empty() {
            return Err("`model_path` must not be empty".into());
        }
        if self.context < MIN_CONTEXT {
            return Err(format!("`context` must be at least {MIN_CONTEXT} tokens, got {}", self.context));
        }
        if self.parallel == 0 || self.parallel > MAX_PARALLEL {
            return Err(format!("`parallel` must be 1..={MAX_PARALLEL}, got {}", self.parallel));
        }
        if self.threads == Some(0) {
            return Err("`threads` must be at least 1 (or left out for all cores)".into());
        }
        if (self.context as u64) * (self.parallel as u64) > i32::MAX as u64 {
            return Err("`context` x `parallel` is too large".into());
        }
        Ok(())
    }

    /// What loading checks before it starts: this build has llama.cpp, the config is valid and
    /// `model_path` is a file. Returns the file's size in bytes.
    pub(crate) fn check_loadable(&self) -> Result<u64, crate::EngineError> {
        use crate::EngineError;
        if !crate::backend::AVAILABLE {
            return Err(EngineError::NotBuilt(crate::NOT_BUILT));
        }
        self.validate().map_err(EngineError::Config)?;
        let path = &self.model_path;
        let meta =
            std::fs::metadata(path).map_err(|source| EngineError::Io { path: path.display().to_string(), source })?;
        if !meta.is_file() {
            return Err(EngineError::Load(format!("{} is not a file", path.display())));
        }
        Ok(meta.len())
    }

    /// The thread count to use: `threads`, or the number of available cores.
    pub fn effective_threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let c: EngineConfig = toml_like(r#"{"model_path":"m.gguf"}"#).unwrap();
        assert_eq!(c, EngineConfig::new("m.gguf"));
        assert_eq!((c.context, c.parallel, c.queue, c.threads), (2048, 2, 32, None));
        assert!(toml_like(r#"{"model_path":"m.gguf","ctx":1}"#).is_err());
        assert!(c.validate().is_ok());
        assert!(EngineConfig { parallel: 0, ..c.clone() }.validate().is_err());
        assert!(EngineConfig { context: 8, ..c.clone() }.validate().is_err());
        assert!(EngineConfig { threads: Some(0), ..c }.validate().is_err());
    }

    fn toml_like(s: &str) -> Result<EngineConfig, serde_json::Error> {
        serde_json::from_str(s)
    }
}
