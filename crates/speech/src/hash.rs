//! The identity of a speech model: the SHA-256 of its weights.

use crate::SpeechError;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The weights file of a CTranslate2 model.
pub const WEIGHTS_FILE: &str = "model.bin";

/// SHA-256 (hex) of the model's weights (`model.bin`), which is what a published checksum
/// names. The configuration files (`config.json`, `vocabulary.txt`) are small and read at load,
/// so a change in them changes behaviour but not this hash; operators pin the weights.
pub fn model_sha256(dir: &Path) -> Result<String, SpeechError> {
    let path = dir.join(WEIGHTS_FILE);
    let io = |source| SpeechError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(hex::encode(hasher.finalize()))
}
