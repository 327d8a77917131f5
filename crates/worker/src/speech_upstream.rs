//! Transcriptions through an external OpenAI-compatible speech server (faster-whisper-server,
//! vLLM's audio API, ...): the network's transcription body is turned back into OpenAI's
//! multipart form, the server is asked for `verbose_json` (at `/v1/audio/transcriptions`, or at
//! `/v1/audio/translations` for [`Task::Translate`]), and its answer becomes the network's
//! [`Transcript`] with token usage.
//!
//! Usage: audio tokens from the duration (as the embedded engine counts them); text tokens
//! from the server's `usage.output_tokens` or its segments' `tokens`, else estimated as one per
//! four bytes of text (stated in the worker's log, since the worker is paid for them).

use crate::backend::BackendResponse;
use crate::backend_http::BackendHttp;
use bytes::Bytes;
use cocoon_openai::{
    transcription::{self, Segment, Task, Transcript},
    ApiError,
};
use cocoon_transport::full;
use http::{header, HeaderValue, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

/// Largest answer read from the speech server.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

fn bad_gateway(code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::from_status(StatusCode::BAD_GATEWAY, code.to_string(), msg)
}

/// The speech server's endpoints.
pub struct SpeechUris {
    /// `<server>/v1/audio/transcriptions`
    pub transcriptions: Uri,
    /// `<server>/v1/audio/translations`
    pub translations: Uri,
}

/// Sends one transcription or translation (the network's body) to the speech server.
pub async fn transcribe(client: BackendHttp, uris: SpeechUris, body: Bytes) -> Result<BackendResponse, ApiError> {
    let (params, audio) = transcription::decode(&body)?;
    let temperature = params.temperature.map(|t| t.to_string());
    let mut fields = vec![("model", params.model.as_str()), ("response_format", "verbose_json")];
    let uri = match params.task {
        Task::Transcribe => {
            if let Some(lang) = &params.language {
                fields.push(("language", lang));
            }
            uris.transcriptions
        }
        // OpenAI's translation form has no `language`: the server detects it.
        Task::Translate => uris.translations,
    };
    if let Some(prompt) = &params.prompt {
        fields.push(("prompt", prompt));
    }
    if let Some(t) = &temperature {
        fields.push(("temperature", t));
    }
    let (content_type, form) =
        transcription::multipart_form(&fields, params.filename.as_deref().unwrap_or("audio"), audio);
    let req = http::Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(form))
        .map_err(|e| bad_gateway("backend_unreachable", e.to_string()))?;
    let resp =
        client.request(req).await.map_err(|e| bad_gateway("backend_unreachable", format!("speech server: {e}")))?;
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| bad_gateway("backend_failed", format!("reading the speech server's answer: {e}")))?
        .to_bytes();
    if !status.is_success() {
        // Its error, as it said it (the worker's service relays non-2xx answers unchanged).
        return Ok(BackendResponse { status, content_type, body: full(bytes) });
    }
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad_gateway("malformed_output", format!("the speech server's answer is not JSON: {e}")))?;
    let transcript = from_verbose_json(&answer, params.task, params.language.as_deref().unwrap_or("en"))?;
    let body = serde_json::to_vec(&transcript).map_err(|e| ApiError::internal("internal", e.to_string()))?;
    Ok(BackendResponse {
        status: StatusCode::OK,
        content_type: Some(HeaderValue::from_static("application/json")),
        body: full(body),
    })
}

/// OpenAI's `verbose_json` (or plain `json` with a duration) as the network's transcript;
/// `language` is used when the server does not say which it heard.
pub fn from_verbose_json(v: &Value, task: Task, language: &str) -> Result<Transcript, ApiError> {
    let duration = v["duration"]
        .as_f64()
        .or_else(|| v["usage"]["seconds"].as_f64())
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| bad_gateway("malformed_output", "the speech server's answer has no `duration`"))?;
    let text = v["text"].as_str().unwrap_or_default();
    let mut segments: Vec<Segment> = v["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| Segment {
            id: i as u32,
            start: s["start"].as_f64().unwrap_or(0.0),
            end: s["end"].as_f64().unwrap_or(duration),
            text: s["text"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    if segments.is_empty() && !text.trim().is_empty() {
        segments.push(Segment { id: 0, start: 0.0, end: duration, text: text.to_string() });
    }
    let from_segments: Option<u64> = v["segments"]
        .as_array()
        .filter(|a| !a.is_empty())
        .and_then(|a| a.iter().map(|s| s["tokens"].as_array().map(|t| t.len() as u64)).sum());
    let text_tokens = match (v["usage"]["output_tokens"].as_u64(), from_segments) {
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => {
            let estimate = (text.len() as u64).div_ceil(4);
            tracing::info!(estimate, "the speech server reported no token counts: text tokens estimated");
            estimate
        }
    };
    let language = v["language"].as_str().filter(|l| !l.is_empty()).unwrap_or(language);
    Ok(Transcript::new(task, language, duration, segments, text_tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verbose_json_becomes_a_billed_transcript() {
        let v = json!({"task": "transcribe", "language": "english", "duration": 2.5, "text": " Hello world.",
            "segments": [{"id": 0, "start": 0.0, "end": 2.5, "text": " Hello world.", "tokens": [50363, 2425, 995, 13]}]});
        let t = from_verbose_json(&v, Task::Transcribe, "en").unwrap();
        assert_eq!((t.text.as_str(), t.language.as_str()), ("Hello world.", "english"));
        assert_eq!(t.usage["prompt_tokens"], 125);
        assert_eq!(t.usage["completion_tokens"], 4);

        // Token usage reported by the server wins; no segments: one for the whole text.
        let v = json!({"text": "abc", "usage": {"type": "tokens", "output_tokens": 9, "seconds": 1.0}});
        let t = from_verbose_json(&v, Task::Transcribe, "en").unwrap();
        assert_eq!((t.segments.len(), t.usage["completion_tokens"].as_u64()), (1, Some(9)));
        // No token counts at all: estimated from the text.
        let t = from_verbose_json(&json!({"duration": 1, "text": "twelve bytes"}), Task::Translate, "de").unwrap();
        assert_eq!(t.usage["completion_tokens"], 3);
        assert_eq!((t.task.as_str(), t.language.as_str()), ("translate", "de"));
        // No duration: the answer cannot be billed.
        assert_eq!(
            from_verbose_json(&json!({"text": "x"}), Task::Transcribe, "en").unwrap_err().code,
            "malformed_output"
        );
    }
}
