//! A loaded speech model and what it answers: audio in, [`Transcript`] out.

use crate::{audio, backend, bpe, hash, languages, mel, SpeechConfig, SpeechError};
use cocoon_openai::transcription::{Segment, Task, Transcript, TranscriptionParams};
use std::collections::BTreeSet;
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use std::time::Instant;

/// A Whisper model ready to transcribe. Share it in an `Arc`; [`Transcriber::transcribe`] is
/// blocking (seconds per 30 s of audio on a CPU): call it from a blocking thread.
pub struct Transcriber {
    config: SpeechConfig,
    sha256: String,
    model: backend::Model,
    /// The language codes the model knows (only `en` for English-only models).
    languages: BTreeSet<String>,
    filters: Vec<Vec<f32>>,
    running: AtomicUsize,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber").field("model_dir", &self.config.model_dir).field("sha256", &self.sha256).finish()
    }
}

/// Counts a running transcription for as long as it lives.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Transcriber {
    /// Loads the model (blocking) and hashes its weights.
    pub fn load(config: SpeechConfig) -> Result<Arc<Self>, SpeechError> {
        if !backend::AVAILABLE {
            return Err(SpeechError::NotBuilt(crate::NOT_BUILT));
        }
        config.validate().map_err(SpeechError::Load)?;
        let started = Instant::now();
        let threads = config.effective_threads();
        tracing::info!(model = %config.model_dir.display(), threads, "loading speech model");
        let sha256 = hash::model_sha256(&config.model_dir)?;
        let model = backend::Model::load(&config.model_dir, threads)?;
        let mut languages = languages::read(&config.model_dir)?;
        if !model.multilingual() {
            languages = BTreeSet::from(["en".to_string()]);
        } else if languages.is_empty() {
            return Err(SpeechError::Load("a multilingual model whose vocabulary has no language tokens".into()));
        }
        tracing::info!(
            secs = format!("{:.2}", started.elapsed().as_secs_f64()),
            multilingual = model.multilingual(),
            languages = languages.len(),
            sha256 = %sha256,
            "speech model loaded"
        );
        Ok(Arc::new(Self {
            config,
            sha256,
            model,
            languages,
            filters: mel::filters(audio::SAMPLE_RATE as f32),
            running: AtomicUsize::new(0),
        }))
    }

    /// SHA-256 (hex) of the model's weights (`model.bin`).
    pub fn model_sha256(&self) -> &str {
        &self.sha256
    }

    /// The configuration the model was loaded with.
    pub fn config(&self) -> &SpeechConfig {
        &self.config
    }

    /// The ISO-639-1 codes of the languages the model transcribes (99 for multilingual
    /// Whisper, `en` alone for the `.en` models).
    pub fn languages(&self) -> &BTreeSet<String> {
        &self.languages
    }

    /// Whether the model knows languages other than English (and so can detect the spoken one
    /// and translate it).
    pub fn multilingual(&self) -> bool {
        self.model.multilingual()
    }

    /// Transcriptions running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Transcribes (or, for [`Task::Translate`], translates to English) an uploaded file. The
    /// language is the caller's `language` when given, else detected from the first 30 s (the
    /// answer's `language` says which). Errors: [`SpeechError::BadAudio`] and
    /// [`SpeechError::InvalidRequest`] for the caller's mistakes, [`SpeechError::Busy`] when
    /// `parallel` transcriptions run.
    pub fn transcribe(&self, file: Vec<u8>, params: &TranscriptionParams) -> Result<Transcript, SpeechError> {
        self.check(params)?;
        let _slot = self.take_slot()?;
        let started = Instant::now();
        let samples = audio::decode(file, params.filename.as_deref(), self.config.max_seconds)?;
        let duration = samples.len() as f64 / f64::from(audio::SAMPLE_RATE);
        let (mut features, windows) = mel::log_mel(&samples, &self.filters);
        drop(samples);
        let language = match &params.language {
            Some(given) => given.clone(),
            None if self.multilingual() => {
                // Whisper's own rule: the language of the first window is the language of all.
                let (code, probability) = self.model.detect_language(&mut features[..mel::N_MELS * mel::FRAMES])?;
                tracing::debug!(language = %code, probability = format!("{probability:.2}"), "language detected");
                code
            }
            None => "en".to_string(),
        };
        // The language and task tokens even for English-only models: measured on espeak-ng
        // speech, tiny.en hears "hello world" as "the low world" without them (faster-whisper
        // leaves them out for `.en` models; ct2rs puts them in). No timestamps: one segment
        // per 30 s window.
        let prompt = [
            "<|startoftranscript|>".to_string(),
            format!("<|{language}|>"),
            format!("<|{}|>", params.task.as_str()),
            "<|notimestamps|>".into(),
        ];
        let temperature = params.temperature.unwrap_or(0.0);
        let outputs = self.model.generate(&mut features, windows, &prompt, self.config.beam_size, temperature)?;

        let mut segments = Vec::new();
        let mut text_tokens = 0u64;
        for (i, tokens) in outputs.iter().enumerate() {
            text_tokens += tokens.iter().filter(|t| !bpe::is_special(t)).count() as u64;
            let text = bpe::decode(tokens);
            if text.trim().is_empty() {
                continue;
            }
            let start = i as f64 * 30.0;
            segments.push(Segment { id: segments.len() as u32, start, end: (start + 30.0).min(duration), text });
        }
        tracing::debug!(
            seconds = format!("{duration:.1}"),
            windows,
            text_tokens,
            task = params.task.as_str(),
            %language,
            secs = format!("{:.2}", started.elapsed().as_secs_f64()),
            "transcribed"
        );
        Ok(Transcript::new(params.task, &language, duration, segments, text_tokens))
    }

    /// What this model cannot do, refused before any audio is decoded.
    fn check(&self, params: &TranscriptionParams) -> Result<(), SpeechError> {
        if params.prompt.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(SpeechError::InvalidRequest("`prompt` is not supported by the embedded speech engine".into()));
        }
        if !self.multilingual() && params.task == Task::Translate {
            return Err(SpeechError::InvalidRequest(
                "this model transcribes English only and cannot translate; use a multilingual Whisper model".into(),
            ));
        }
        if let Some(language) = &params.language {
            if !self.languages.contains(language) {
                return Err(SpeechError::InvalidRequest(if self.multilingual() {
                    format!(
                        "`language` {language:?} is not one of the {} languages this model knows",
                        self.languages.len()
                    )
                } else {
                    format!("this model transcribes English only; `language` {language:?} is not available")
                }));
            }
        }
        Ok(())
    }

    fn take_slot(&self) -> Result<Running<'_>, SpeechError> {
        let limit = self.config.parallel;
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .map_err(SpeechError::Busy)?;
        Ok(Running(&self.running))
    }
}
