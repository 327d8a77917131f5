//! `POST /v1/audio/transcriptions` and `POST /v1/audio/translations`: OpenAI's speech-to-text
//! endpoints on the client's API (a translation is English text of speech in any language).
//!
//! The app sends a multipart form (`file`, `model`, optional `language` (transcriptions only,
//! as OpenAI has it), `prompt`, `temperature`, `response_format`, and the network's
//! `max_coefficient`, `timeout`, `hardware`). The form is read here once, the request travels the network in the simpler
//! form of [`cocoon_openai::transcription`], and the worker's verbose JSON answer (with usage
//! and the network's `total_cost`) is rendered as `json`, `verbose_json`, `text`, `srt` or `vtt`.

use crate::{forward, Shared};
use axum::{
    extract::{multipart::MultipartError, Multipart, State},
    response::{IntoResponse, Response},
};
use cocoon_openai::{
    transcription::{self, ResponseFormat, Task, Transcript, TranscriptionParams},
    ApiError, Endpoint, RoutingFields,
};
use cocoon_transport::{error_response, read_limited};
use http::{header, StatusCode};
use std::sync::Arc;

/// The form, read.
struct Form {
    params: TranscriptionParams,
    audio: bytes::Bytes,
    format: ResponseFormat,
    routing: RoutingFields,
}

fn bad(code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(code.to_string(), msg)
}

fn multipart_error(e: MultipartError) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from_status(status, "body_too_large", e.body_text())
    } else {
        bad("invalid_multipart", format!("the request must be a multipart form: {}", e.body_text()))
    }
}

async fn read_form(mut form: Multipart, task: Task) -> Result<Form, ApiError> {
    let mut audio = None;
    let mut filename = None;
    let mut fields = std::collections::BTreeMap::new();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            filename = field.file_name().map(str::to_string);
            audio = Some(field.bytes().await.map_err(multipart_error)?);
            continue;
        }
        let known =
            ["model", "language", "prompt", "temperature", "response_format", "max_coefficient", "timeout", "hardware"];
        if task == Task::Translate && name == "language" {
            return Err(bad(
                "unsupported_field",
                "translations take no `language`: the spoken language is detected (as OpenAI's API has it)",
            ));
        }
        if !known.contains(&name.as_str()) {
            return Err(bad(
                "unsupported_field",
                format!("form field `{}` is not supported", name.chars().take(64).collect::<String>()),
            ));
        }
        let value = field.text().await.map_err(multipart_error)?;
        fields.insert(name, value);
    }
    let audio =
        audio.filter(|a| !a.is_empty()).ok_or_else(|| bad("missing_file", "the form needs a non-empty `file`"))?;
    let text = |k: &str| fields.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let number = |k: &str| -> Result<Option<f64>, ApiError> {
        text(k)
            .map(|s| s.parse::<f64>().map_err(|_| bad("invalid_field", format!("`{k}` must be a number"))))
            .transpose()
    };
    let params = TranscriptionParams {
        model: text("model").ok_or_else(|| bad("missing_model", "the form needs a `model`"))?,
        task,
        language: text("language"),
        prompt: text("prompt"),
        temperature: number("temperature")?.map(|t| t as f32),
        filename,
    };
    transcription::check(&params)?;
    let format = match text("response_format") {
        Some(f) => ResponseFormat::parse(&f)?,
        None => ResponseFormat::Json,
    };
    let timeout = number("timeout")?;
    if timeout.is_some_and(|t| !(t > 0.0 && t <= cocoon_openai::MAX_TIMEOUT_SECS)) {
        return Err(bad("invalid_field", "`timeout` must be in (0, 3600] seconds"));
    }
    let max_coefficient = text("max_coefficient")
        .map(|s| s.parse::<u32>().map_err(|_| bad("invalid_field", "`max_coefficient` must be a non-negative integer")))
        .transpose()?;
    let routing = RoutingFields {
        model: params.model.clone(),
        stream: false,
        max_coefficient,
        timeout,
        hardware: text("hardware"),
        max_tokens: None,
        features: Default::default(),
    };
    Ok(Form { params, audio, format, routing })
}

/// The upload as axum hands it over.
type Upload = Result<Multipart, axum::extract::multipart::MultipartRejection>;

/// `POST /v1/audio/transcriptions`: reads the multipart form, sends the audio through the network
/// and renders the transcript in the requested `response_format`.
pub async fn transcriptions(State(s): State<Arc<Shared>>, form: Upload) -> Response {
    speech_to_text(s, form, Task::Transcribe).await
}

/// `POST /v1/audio/translations`: as [`transcriptions`], the text in English.
pub async fn translations(State(s): State<Arc<Shared>>, form: Upload) -> Response {
    speech_to_text(s, form, Task::Translate).await
}

async fn speech_to_text(s: Arc<Shared>, form: Upload, task: Task) -> Response {
    let result = async {
        let form = form.map_err(|e| {
            bad("invalid_multipart", format!("the request must be a multipart form: {}", e.body_text()))
        })?;
        let form = read_form(form, task).await?;
        let body = transcription::encode(&form.params, &form.audio);
        let resp = forward::routed(&s, Endpoint::AudioTranscriptions, form.routing, body).await;
        let status = resp.status();
        if !status.is_success() {
            return Ok(resp.map(axum::body::Body::new));
        }
        let bytes = read_limited(resp.into_body(), 64 * 1024 * 1024)
            .await
            .map_err(|e| ApiError::from_status(StatusCode::BAD_GATEWAY, "proxy_failed", e.to_string()))?;
        let transcript: Transcript = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::from_status(
                StatusCode::BAD_GATEWAY,
                "malformed_output",
                format!("the worker's transcript is not valid: {e}"),
            )
        })?;
        let (content_type, body) = transcription::render(form.format, &transcript);
        Ok::<_, ApiError>(([(header::CONTENT_TYPE, content_type)], body).into_response())
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e).map(axum::body::Body::new))
}
