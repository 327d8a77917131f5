//! Stand-in for the CTranslate2 backend in builds without the `ct2` feature: everything else
//! (audio decoding, features, formats) works; loading a model says what is missing.

use crate::SpeechError;
use std::path::Path;

pub(crate) const AVAILABLE: bool = false;

pub(crate) struct Model;

impl Model {
    pub(crate) fn load(_dir: &Path, _threads: usize) -> Result<Self, SpeechError> {
        Err(SpeechError::NotBuilt(crate::NOT_BUILT))
    }

    pub(crate) fn multilingual(&self) -> bool {
        false
    }

    pub(crate) fn detect_language(&self, _features: &mut [f32]) -> Result<(String, f32), SpeechError> {
        Err(SpeechError::NotBuilt(crate::NOT_BUILT))
    }

    pub(crate) fn generate(
        &self,
        _features: &mut [f32],
        _windows: usize,
        _prompt: &[String],
        _beam_size: usize,
        _temperature: f32,
    ) -> Result<Vec<Vec<String>>, SpeechError> {
        Err(SpeechError::NotBuilt(crate::NOT_BUILT))
    }
}
