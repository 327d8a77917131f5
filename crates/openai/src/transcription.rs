//! Speech to text (`POST /v1/audio/transcriptions`, and `POST /v1/audio/translations`: speech in
//! any language to English text): the request as it travels the network, and the answer in each
//! of OpenAI's `response_format`s. Both travel as [`crate::Endpoint::AudioTranscriptions`]; the
//! [`Task`] in the header line says which.
//!
//! Apps send a multipart form. The client parses it once and sends on a simpler body: one line
//! of JSON with the form's fields ([`TranscriptionParams`]), a `\n`, then the audio file's
//! bytes unchanged. Proxies route on headers and never look inside; workers read it with
//! [`decode`]. A worker always answers the verbose JSON form (text, segments and `usage`, which
//! is what it is paid for); the client renders what the app asked for with [`render`].
//!
//! Usage of a transcription: `prompt_tokens` are audio tokens, 50 per second of audio (the rate
//! of Whisper's encoder positions), `completion_tokens` the text tokens generated.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ApiError;

/// Longest header line (the JSON before the audio).
pub const MAX_HEADER: usize = 16 * 1024;

/// Audio tokens per second of audio, for billing.
pub const AUDIO_TOKENS_PER_SECOND: f64 = 50.0;

/// What a speech model is asked to do with the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Text in the language that is spoken (`/v1/audio/transcriptions`).
    #[default]
    Transcribe,
    /// English text, whatever language is spoken (`/v1/audio/translations`).
    Translate,
}

impl Task {
    /// `"transcribe"` or `"translate"`, as Whisper and OpenAI's `verbose_json` name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transcribe => "transcribe",
            Self::Translate => "translate",
        }
    }

    fn is_transcribe(&self) -> bool {
        *self == Self::Transcribe
    }
}

/// The form fields of a transcription request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptionParams {
    /// `model` as the app sent it: the routing name of the speech model.
    pub model: String,
    /// Transcribe (the default, left out on the wire) or translate to English.
    #[serde(default, skip_serializing_if = "Task::is_transcribe")]
    pub task: Task,
    /// ISO-639-1 language of the audio, when the caller knows it; the model detects it when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Text to guide the model's style or continue a previous segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Sampling temperature; 0 (the default) decodes with beam search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The uploaded file's name (its extension helps to recognise the format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

fn bad(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code.to_string(), message)
}

/// The body a client sends: header line, `\n`, audio.
pub fn encode(params: &TranscriptionParams, audio: &[u8]) -> Bytes {
    // Serialising plain strings and numbers cannot fail; JSON never contains a raw newline.
    let header = serde_json::to_vec(params).unwrap_or_default();
    let mut out = BytesMut::with_capacity(header.len() + 1 + audio.len());
    out.put_slice(&header);
    out.put_u8(b'\n');
    out.put_slice(audio);
    out.freeze()
}

/// Splits a body into its parameters and audio. Errors are `400`s: `invalid_request` for a
/// malformed header, `missing_file` for no audio.
pub fn decode(body: &[u8]) -> Result<(TranscriptionParams, &[u8]), ApiError> {
    let end = body
        .iter()
        .take(MAX_HEADER + 1)
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("invalid_request", "transcription body has no header line"))?;
    let params: TranscriptionParams = serde_json::from_slice(&body[..end])
        .map_err(|e| bad("invalid_request", format!("transcription header: {e}")))?;
    check(&params)?;
    let audio = &body[end + 1..];
    if audio.is_empty() {
        return Err(bad("missing_file", "the audio `file` is empty"));
    }
    Ok((params, audio))
}

/// Checks the fields (the same rules at the client and at the worker).
pub fn check(p: &TranscriptionParams) -> Result<(), ApiError> {
    if p.model.trim().is_empty() {
        return Err(bad("missing_model", "`model` is required"));
    }
    if let Some(lang) = &p.language {
        let ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
        if !ok {
            return Err(bad("invalid_field", "`language` must be an ISO-639-1 code such as `en`"));
        }
    }
    if let Some(t) = p.temperature {
        if !(0.0..=1.0).contains(&t) {
            return Err(bad("invalid_field", "`temperature` must be in [0, 1]"));
        }
    }
    if p.prompt.as_ref().is_some_and(|s| s.len() > 4096) {
        return Err(bad("invalid_field", "`prompt` must be at most 4096 bytes"));
    }
    Ok(())
}

/// A multipart form as OpenAI's API takes it: text `fields`, then the `file` part. Returns the
/// content type (with its boundary) and the body. For callers of the API (the CLI, tests, a
/// worker forwarding to an external speech server).
pub fn multipart_form(fields: &[(&str, &str)], file_name: &str, audio: &[u8]) -> (String, Bytes) {
    // A boundary that occurs in no part (checked, not hoped).
    let occurs =
        |b: &str| memchr::memmem::find(audio, b.as_bytes()).is_some() || fields.iter().any(|(_, v)| v.contains(b));
    let boundary = (0u64..).map(|n| format!("cocoon-form-boundary-{n:016x}")).find(|b| !occurs(b)).unwrap_or_default();
    let mut out = BytesMut::with_capacity(audio.len() + 512);
    for (name, value) in fields {
        out.put_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    let safe_name: String = file_name.chars().filter(|c| *c != '"' && *c != '\r' && *c != '\n').collect();
    out.put_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\ncontent-type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    out.put_slice(audio);
    out.put_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out.freeze())
}

/// OpenAI's `response_format` for transcriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseFormat {
    #[default]
    Json,
    VerboseJson,
    Text,
    Srt,
    Vtt,
}

impl ResponseFormat {
    /// Reads the form's `response_format` value; anything else is a `400` `invalid_field`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Ok(match s {
            "json" => Self::Json,
            "verbose_json" => Self::VerboseJson,
            "text" => Self::Text,
            "srt" => Self::Srt,
            "vtt" => Self::Vtt,
            other => {
                return Err(bad(
                    "invalid_field",
                    format!(
                        "`response_format` must be json, verbose_json, text, srt or vtt, got `{}`",
                        crate::routing::preview(other)
                    ),
                ))
            }
        })
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json | Self::VerboseJson => "application/json",
            Self::Text | Self::Srt => "text/plain; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
        }
    }
}

/// One timed piece of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Position in the transcript, from 0.
    pub id: u32,
    /// Seconds from the start of the audio.
    pub start: f64,
    /// Where the piece ends, in seconds from the start of the audio.
    pub end: f64,
    pub text: String,
}

/// The worker's answer (OpenAI's `verbose_json`, plus token `usage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// What was asked: `"transcribe"` or `"translate"` on the wire.
    pub task: Task,
    /// ISO-639-1 code of the language spoken: as the caller gave it, or as the model detected it.
    pub language: String,
    /// Seconds of audio.
    pub duration: f64,
    /// The whole transcript: the segments' texts, trimmed and joined by spaces.
    pub text: String,
    pub segments: Vec<Segment>,
    /// OpenAI-shaped `usage`: `prompt_tokens` are audio tokens (50 a second), `completion_tokens` the text tokens.
    pub usage: Value,
}

impl Transcript {
    /// Builds the answer; usage counts audio tokens for the duration and the text tokens.
    pub fn new(task: Task, language: &str, duration: f64, segments: Vec<Segment>, text_tokens: u64) -> Self {
        let text = segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
        let audio_tokens = audio_tokens(duration);
        Self {
            task,
            language: language.into(),
            duration,
            text,
            segments,
            usage: json!({
                "prompt_tokens": audio_tokens,
                "completion_tokens": text_tokens,
                "total_tokens": audio_tokens + text_tokens,
            }),
        }
    }
}

/// Audio tokens billed for `seconds` of audio (rounded up).
pub fn audio_tokens(seconds: f64) -> u64 {
    (seconds.max(0.0) * AUDIO_TOKENS_PER_SECOND).ceil() as u64
}

/// The answer in `format`: (content type, body). JSON forms keep `usage` (with the network's
/// `total_cost` when the client added it).
pub fn render(format: ResponseFormat, t: &Transcript) -> (&'static str, Bytes) {
    let body = match format {
        ResponseFormat::Json => json!({"text": t.text, "usage": t.usage}).to_string(),
        ResponseFormat::VerboseJson => serde_json::to_string(t).unwrap_or_default(),
        ResponseFormat::Text => format!("{}\n", t.text),
        ResponseFormat::Srt => {
            let mut out = String::new();
            for (i, s) in t.segments.iter().enumerate() {
                out.push_str(&format!(
                    "{}\n{} --> {}\n{}\n\n",
                    i + 1,
                    timestamp(s.start, ','),
                    timestamp(s.end, ','),
                    s.text.trim()
                ));
            }
            out
        }
        ResponseFormat::Vtt => {
            let mut out = String::from("WEBVTT\n\n");
            for s in &t.segments {
                out.push_str(&format!(
                    "{} --> {}\n{}\n\n",
                    timestamp(s.start, '.'),
                    timestamp(s.end, '.'),
                    s.text.trim()
                ));
            }
            out
        }
    };
    (format.content_type(), Bytes::from(body))
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
fn timestamp(seconds: f64, sep: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> TranscriptionParams {
        TranscriptionParams {
            model: "whisper".into(),
            task: Task::Transcribe,
            language: Some("en".into()),
            prompt: None,
            temperature: None,
            filename: Some("a.wav".into()),
        }
    }

    #[test]
    fn body_round_trips_and_bad_bodies_are_400s() {
        let audio = b"RIFF\n\x00binary\nbytes";
        let body = encode(&params(), audio);
        let (p, a) = decode(&body).unwrap();
        assert_eq!((p, a), (params(), &audio[..]));
        // Transcribing is the default and is left out; translating is said.
        assert!(!String::from_utf8_lossy(&body).contains("task"));
        let translate = TranscriptionParams { task: Task::Translate, ..params() };
        let body = encode(&translate, audio);
        assert!(body.starts_with(br#"{"model":"whisper","task":"translate","#), "{body:?}");
        assert_eq!(decode(&body).unwrap().0, translate);

        for (bad_body, code) in [
            (&b"no newline at all"[..], "invalid_request"),
            (b"{\"model\":\"m\",\"evil\":1}\nxx", "invalid_request"),
            (b"{\"model\":\"m\"}\n", "missing_file"),
            (b"{\"model\":\"\"}\nxx", "missing_model"),
            (b"{\"model\":\"m\",\"language\":\"English\"}\nxx", "invalid_field"),
            (b"{\"model\":\"m\",\"temperature\":3}\nxx", "invalid_field"),
            (b"{\"model\":\"m\",\"task\":\"summarise\"}\nxx", "invalid_request"),
        ] {
            let e = decode(bad_body).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code.as_str()), (400, code), "{:?}", String::from_utf8_lossy(bad_body));
        }
        let huge = vec![b'x'; MAX_HEADER + 10];
        assert_eq!(decode(&huge).unwrap_err().code, "invalid_request");
    }

    #[test]
    fn formats() {
        let segs = vec![
            Segment { id: 0, start: 0.0, end: 30.0, text: " Hello world.".into() },
            Segment { id: 1, start: 30.0, end: 3725.5, text: " Bye.".into() },
        ];
        let t = Transcript::new(Task::Transcribe, "en", 3725.5, segs, 7);
        assert_eq!(t.text, "Hello world. Bye.");
        assert_eq!(t.usage["prompt_tokens"], 186_275);
        assert_eq!(t.usage["total_tokens"], 186_282);
        let usage = crate::usage_from_body(render(ResponseFormat::Json, &t).1.as_ref()).unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (186_275, 7));
        assert_eq!(render(ResponseFormat::Text, &t).1, "Hello world. Bye.\n");
        let srt = String::from_utf8(render(ResponseFormat::Srt, &t).1.to_vec()).unwrap();
        assert_eq!(srt, "1\n00:00:00,000 --> 00:00:30,000\nHello world.\n\n2\n00:00:30,000 --> 01:02:05,500\nBye.\n\n");
        let vtt = String::from_utf8(render(ResponseFormat::Vtt, &t).1.to_vec()).unwrap();
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:30.000\nHello world.\n"), "{vtt}");
        let v: Transcript = serde_json::from_slice(&render(ResponseFormat::VerboseJson, &t).1).unwrap();
        assert_eq!(v, t);
        assert_eq!(ResponseFormat::parse("srt").unwrap(), ResponseFormat::Srt);
        assert_eq!(ResponseFormat::parse("mp3").unwrap_err().code, "invalid_field");
    }
}
