//! A backend that transcribes speech in-process: Whisper on CTranslate2 (`cocoon-speech`).
//!
//! It serves `/v1/audio/transcriptions` only. The answer is always the verbose JSON transcript
//! with token `usage` (audio tokens and text tokens), which the worker's meter bills like any
//! other non-streaming answer; the client renders the format the app asked for.

use crate::backend::{Backend, BackendRequest, BackendResponse};
use cocoon_openai::{transcription, ApiError, Endpoint};
use cocoon_speech::{SpeechConfig, SpeechError, Transcriber};
use cocoon_transport::full;
use futures::future::BoxFuture;
use http::{HeaderValue, StatusCode};
use std::sync::Arc;

/// A [`Backend`] that transcribes audio in-process with Whisper; it serves `/v1/audio/transcriptions` only.
pub struct SpeechBackend {
    transcriber: Arc<Transcriber>,
}

impl SpeechBackend {
    /// Loads the model on a blocking thread.
    pub async fn load(cfg: SpeechConfig) -> Result<Self, String> {
        let transcriber = tokio::task::spawn_blocking(move || Transcriber::load(cfg))
            .await
            .map_err(|e| format!("speech loading thread failed: {e}"))?
            .map_err(|e| e.to_string())?;
        Ok(Self { transcriber })
    }
}

/// The HTTP error for a speech error: the caller's mistakes are 4xx.
fn api_error(e: SpeechError) -> ApiError {
    match e {
        SpeechError::BadAudio(m) => ApiError::bad_request("invalid_audio", m),
        SpeechError::InvalidRequest(m) => ApiError::bad_request("invalid_request", m),
        SpeechError::Busy(_) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "server_error", "engine_busy", e.to_string())
        }
        other => ApiError::internal("engine_error", other.to_string()),
    }
}

impl Backend for SpeechBackend {
    fn describe(&self) -> String {
        let sha = self.transcriber.model_sha256();
        format!(
            "embedded whisper (CTranslate2): {} (sha256 {})",
            self.transcriber.config().model_dir.display(),
            &sha[..sha.len().min(16)]
        )
    }

    fn model_sha256(&self) -> Option<String> {
        Some(self.transcriber.model_sha256().to_string())
    }

    fn health(&self) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>> {
        let transcriber = self.transcriber.clone();
        Box::pin(async move {
            if req.endpoint != Endpoint::AudioTranscriptions {
                return Err(ApiError::bad_request(
                    "unsupported_endpoint",
                    format!("this worker serves speech to text ({}) only", Endpoint::AudioTranscriptions.path()),
                ));
            }
            let transcript = tokio::task::spawn_blocking(move || {
                let (params, audio) = transcription::decode(&req.body)?;
                transcriber.transcribe(audio.to_vec(), &params).map_err(api_error)
            })
            .await
            .map_err(|e| ApiError::internal("engine_error", format!("transcription thread failed: {e}")))??;
            let body =
                serde_json::to_vec(&transcript).map_err(|e| ApiError::internal("engine_error", e.to_string()))?;
            Ok(BackendResponse {
                status: StatusCode::OK,
                content_type: Some(HeaderValue::from_static("application/json")),
                body: full(body),
            })
        })
    }
}
