//! Embedded speech-to-text for cocoon workers: Whisper (CTranslate2 format) in-process.
//!
//! - [`audio`] turns an uploaded file (WAV, MP3, OGG/Vorbis, FLAC) into 16 kHz mono samples;
//! - [`mel`] computes Whisper's log-mel features of each 30 s window;
//! - the model (cargo feature `ct2`: CTranslate2 through ct2rs) generates tokens per window,
//!   which [`bpe`] turns back into text;
//! - [`languages`] reads which languages the model knows (multilingual models detect the spoken
//!   one when the caller does not say it);
//! - [`Transcriber`] ties them together and answers a [`Transcript`] with exact usage.
//!
//! Without the `ct2` feature everything builds and [`Transcriber::load`] returns
//! [`SpeechError::NotBuilt`].

pub mod audio;
pub mod bpe;
mod config;
mod error;
mod hash;
pub mod languages;
pub mod mel;
pub mod testing;
mod transcriber;

#[cfg(feature = "ct2")]
#[path = "whisper.rs"]
mod backend;
#[cfg(not(feature = "ct2"))]
#[path = "stub.rs"]
mod backend;

pub use cocoon_openai::transcription::{Segment, Task, Transcript, TranscriptionParams};
pub use config::SpeechConfig;
pub use error::SpeechError;
pub use transcriber::Transcriber;

/// What loading says in a build without the `ct2` feature.
pub const NOT_BUILT: &str = "this binary was built without the speech engine (cargo feature `ct2` of cocoon-speech)";

/// Whether this build contains CTranslate2.
pub const BUILT_WITH_CT2: bool = backend::AVAILABLE;
