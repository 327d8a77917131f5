//! The identity of a speech model: SHA-256 over its files.

use crate::SpeechError;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The files that make a CTranslate2 Whisper model, hashed in this order.
pub const MODEL_FILES: &[&str] = &["model.bin", "config.json", "vocabulary.txt"];

/// SHA-256 (hex) of the model: of `model.bin` alone when it is the only weights file, which is
/// what a published checksum names. The configuration files are small and read at load, so a
/// change in them changes behaviour but not this hash; operators pin the weights.
pub fn model_sha256(dir: &Path) -> Result<String, SpeechError> {
    let path = dir.join(MODEL_FILES[0]);
    let io = |source| SpeechError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(hex::encode(hasher.finalize()))
}
