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
    /// Write each chunk on its own and flush it before making the next, as a server that
    /// awaits every write does (Cocoon's benchmark server); otherwise the chunks that are ready
    /// go out together in one write, as fast as the socket takes them.
    pub flush: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { model: "bench-model".to_owned(), chunks: 50, bytes: 128, delay_ms: 0, flush: false }
    }
}
