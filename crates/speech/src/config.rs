//! The speech engine's configuration; also the worker's `[speech]` table.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How to load and run a Whisper model in CTranslate2 format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechConfig {
    /// Directory with the model: `model.bin`, `config.json`, `vocabulary.txt` (or `.json`).
    pub model_dir: PathBuf,
    /// CPU threads per transcription (default: all cores, at most 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Beam width at temperature 0 (1 = greedy: about twice as fast, a little less accurate).
    #[serde(default = "default_beam")]
    pub beam_size: usize,
    /// Transcriptions run at once; more are refused as busy.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// Longest audio accepted, in seconds.
    #[serde(default = "default_max_seconds")]
    pub max_seconds: u32,
}

fn default_beam() -> usize {
    5
}
fn default_parallel() -> usize {
    1
}
fn default_max_seconds() -> u32 {
    600
}

impl SpeechConfig {
    /// A configuration for the model in `model_dir`, with the defaults: all cores (at most 4),
    /// beam width 5, one transcription at a time, audio up to 600 s.
    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: model_dir.into(),
            threads: None,
            beam_size: default_beam(),
            parallel: default_parallel(),
            max_seconds: default_max_seconds(),
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.model_dir.as_os_str().is_empty() {
            return Err("`model_dir` must not be empty".into());
        }
        if !(1..=16).contains(&self.beam_size) {
            return Err(format!("`beam_size` must be 1..=16, got {}", self.beam_size));
        }
        if !(1..=64).contains(&self.parallel) {
            return Err(format!("`parallel` must be 1..=64, got {}", self.parallel));
        }
        if self.threads == Some(0) {
            return Err("`threads` must be at least 1 (or left out)".into());
        }
        if self.max_seconds == 0 || self.max_seconds > 4 * 3600 {
            return Err("`max_seconds` must be 1..=14400".into());
        }
        Ok(())
    }

    /// Threads to use.
    pub fn effective_threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get().min(4)).unwrap_or(1))
    }
}
