//! The CTranslate2 backend (cargo feature `ct2`): Whisper through ct2rs's low-level API.
//!
//! The low-level API because the high-level one needs a `preprocessor_config.json` the model
//! package does not ship and pulls in tokenizer crates we do not need: features come from
//! [`crate::mel`], text from [`crate::bpe`], the prompt from [`crate::Transcriber`].

use crate::SpeechError;
use ct2rs::sys::{StorageView, Whisper, WhisperOptions};
use ct2rs::{ComputeType, Config, Device};
use std::path::Path;

/// Whether this build can load models.
pub(crate) const AVAILABLE: bool = true;

/// A loaded model (Send + Sync: CTranslate2 serialises access internally).
pub(crate) struct Model {
    whisper: Whisper,
}

impl Model {
    pub(crate) fn load(dir: &Path, threads: usize) -> Result<Self, SpeechError> {
        let config = Config {
            device: Device::CPU,
            // The weights are stored as float16; int8 is the fast CPU path (and what
            // CTranslate2's own `auto` picks on CPU).
            compute_type: ComputeType::INT8,
            num_threads_per_replica: threads,
            ..Default::default()
        };
        let whisper = Whisper::new(dir, config).map_err(|e| SpeechError::Load(format!("{}: {e}", dir.display())))?;
        if whisper.n_mels() != crate::mel::N_MELS {
            return Err(SpeechError::Load(format!("the model expects {} mel bands, not 80", whisper.n_mels())));
        }
        Ok(Self { whisper })
    }

    pub(crate) fn multilingual(&self) -> bool {
        self.whisper.is_multilingual()
    }

    /// The language spoken in the 30 s window `features` (`80 x 3000`): its code (`"en"`) and
    /// the model's probability for it.
    pub(crate) fn detect_language(&self, features: &mut [f32]) -> Result<(String, f32), SpeechError> {
        let view = StorageView::new(&[1, crate::mel::N_MELS, crate::mel::FRAMES], features, Device::CPU)
            .map_err(|e| SpeechError::Inference(e.to_string()))?;
        let results = self.whisper.detect_language(&view).map_err(|e| SpeechError::Inference(e.to_string()))?;
        let best = results
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| SpeechError::Inference("language detection gave no result".into()))?;
        let code = best.language.trim_start_matches("<|").trim_end_matches("|>").to_string();
        Ok((code, best.probability))
    }

    /// Decodes every 30 s window of `features` (`windows x 80 x 3000`) after `prompt`; the
    /// generated tokens of each window.
    pub(crate) fn generate(
        &self,
        features: &mut [f32],
        windows: usize,
        prompt: &[String],
        beam_size: usize,
        temperature: f32,
    ) -> Result<Vec<Vec<String>>, SpeechError> {
        let view = StorageView::new(&[windows, crate::mel::N_MELS, crate::mel::FRAMES], features, Device::CPU)
            .map_err(|e| SpeechError::Inference(e.to_string()))?;
        let prompts = vec![prompt.to_vec(); windows];
        let options = if temperature > 0.0 {
            WhisperOptions { beam_size: 1, sampling_topk: 0, sampling_temperature: temperature, ..Default::default() }
        } else {
            WhisperOptions { beam_size, ..Default::default() }
        };
        let results =
            self.whisper.generate(&view, &prompts, &options).map_err(|e| SpeechError::Inference(e.to_string()))?;
        Ok(results.into_iter().map(|r| r.sequences.into_iter().next().unwrap_or_default()).collect())
    }
}
