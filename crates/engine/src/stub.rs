//! The engine's backend in a build without llama.cpp: it never loads.

use crate::{admission::Load, EngineConfig, EngineError, GenRequest, Generation, ModelInfo};
use std::sync::Arc;

/// Whether this build can load models.
pub(crate) const AVAILABLE: bool = false;

/// Uninhabited: no value exists in this build.
pub(crate) enum Backend {}

pub(crate) struct Loaded {
    pub backend: Backend,
    pub template: Option<String>,
    pub bos_text: String,
    pub eos_text: String,
    pub info: ModelInfo,
}

pub(crate) fn load(_cfg: &EngineConfig, _threads: usize, _load: Arc<Load>) -> Result<Loaded, EngineError> {
    Err(EngineError::NotBuilt(crate::NOT_BUILT))
}

impl Backend {
    pub(crate) fn token_count(&self, _text: &str) -> usize {
        match *self {}
    }

    pub(crate) fn start(&self, _req: GenRequest, _context: u32, _load: &Arc<Load>) -> Result<Generation, EngineError> {
        match *self {}
    }

    pub(crate) fn is_alive(&self) -> bool {
        match *self {}
    }
}

/// Uninhabited: no embedder exists in this build.
pub(crate) enum EmbedBackend {}

pub(crate) fn load_embedder(
    _cfg: &EngineConfig,
    _threads: usize,
) -> Result<(EmbedBackend, crate::embedder::EmbedderInfo), EngineError> {
    Err(EngineError::NotBuilt(crate::NOT_BUILT))
}

impl EmbedBackend {
    pub(crate) fn is_alive(&self) -> bool {
        match *self {}
    }

    pub(crate) fn submit(
        &self,
        _inputs: Vec<String>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<crate::embedder::Embedded, EngineError>>, EngineError> {
        match *self {}
    }
}
