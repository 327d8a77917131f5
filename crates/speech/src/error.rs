//! What can go wrong with speech, split by whose fault it is.

/// A speech error. [`SpeechError::BadAudio`] and [`SpeechError::InvalidRequest`] are the
/// caller's (4xx); the rest are the server's.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The upload is not audio this engine can read, or too long.
    #[error("{0}")]
    BadAudio(String),
    /// The request asks for something this model cannot do (e.g. French from an English-only model).
    #[error("{0}")]
    InvalidRequest(String),
    /// This binary has no speech engine.
    #[error("{0}")]
    NotBuilt(&'static str),
    #[error("loading the speech model: {0}")]
    Load(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("transcription failed: {0}")]
    Inference(String),
    /// Every transcription slot is taken.
    #[error("the speech engine is busy ({0} transcriptions running)")]
    Busy(usize),
}
