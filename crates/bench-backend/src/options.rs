//! How the synthetic backend shapes its answers.
//!
//! Kept separate from the server so configs and CLIs can build it without
//! pulling in the HTTP machinery.

use serde::{Deserialize, Serialize};

/// Shape of every generated response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// The only model served; requests naming another get a 404.
    pub model: String,
    /// Content chunks per response (one "token" each), before `max_tokens`.
    pub chunks: usize,
    /// Content bytes per chunk.
    pub bytes: usize,
    /// Delay between chunks, in milliseconds (0: none).
    pub delay_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { model: "bench-model".to_owned(), chunks: 50, bytes: 128, delay_ms: 0 }
    }
}
