//! Test support: where the test models are, and an engine or embedder on them.

use std::path::PathBuf;

/// The model tests run on, unless `COCOON_TEST_MODEL` names another.
pub const DEFAULT_TEST_MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The embedding model tests run on, unless `COCOON_TEST_EMBEDDING_MODEL` names another.
pub const DEFAULT_TEST_EMBEDDING_MODEL: &str = "models/all-MiniLM-L6-v2.gguf";

/// The test model's path: `COCOON_TEST_MODEL`, or [`DEFAULT_TEST_MODEL`]; relative paths are
/// taken from the workspace root. An error (saying how to get the model) when the file is
/// missing: tests that need it must fail, not skip.
pub fn test_model() -> Result<PathBuf, String> {
    model_file("COCOON_TEST_MODEL", DEFAULT_TEST_MODEL)
}

/// The embedding test model's path: `COCOON_TEST_EMBEDDING_MODEL`, or
/// [`DEFAULT_TEST_EMBEDDING_MODEL`], as [`test_model`] finds its.
pub fn test_embedding_model() -> Result<PathBuf, String> {
    model_file("COCOON_TEST_EMBEDDING_MODEL", DEFAULT_TEST_EMBEDDING_MODEL)
}

fn model_file(var: &str, default: &str) -> Result<PathBuf, String> {
    // The crate's directory as cargo runs the tests (a test binary built elsewhere, e.g. in a
    // shared target directory, keeps the build-time path); every crate sits at crates/NAME.
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let root = PathBuf::from(crate_dir).join("../..");
    let named = std::env::var(var).unwrap_or_else(|_| default.to_string());
    let path = if PathBuf::from(&named).is_absolute() { PathBuf::from(&named) } else { root.join(&named) };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "test model {} not found: run ./scripts/fetch-models.sh (or set {var} to a GGUF file)",
            path.display()
        ))
    }
}

/// The test model loaded with `context` tokens per sequence, `parallel` sequences and `queue`
/// waiting requests; the error says what is missing or what failed.
pub fn test_engine(context: u32, parallel: usize, queue: usize) -> Result<std::sync::Arc<crate::Engine>, String> {
    let cfg = crate::EngineConfig { context, parallel, queue, ..crate::EngineConfig::new(test_model()?) };
    crate::Engine::load(cfg).map_err(|e| format!("loading the test model: {e}"))
}

/// The embedding test model with `context` tokens per input, `parallel` inputs per batch and
/// `queue` waiting requests.
pub fn test_embedder(context: u32, parallel: usize, queue: usize) -> Result<std::sync::Arc<crate::Embedder>, String> {
    let cfg = crate::EngineConfig { context, parallel, queue, ..crate::EngineConfig::new(test_embedding_model()?) };
    crate::Embedder::load(cfg).map_err(|e| format!("loading the embedding test model: {e}"))
}
