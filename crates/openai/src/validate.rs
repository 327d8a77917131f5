//! Worker side: admission control for requests headed to the backend.
//!
//! A worker only forwards what it has agreed to serve: the configured model and
//! a whitelist of sampling fields per endpoint (as Telegram's Cocoon does).
//! The fields of an optional feature (tools, logprobs, logit bias, `n > 1`:
//! [`crate::Feature`]) pass only when the worker's backend has that feature.
//! Fields nobody serves (audio, predicted outputs, legacy functions, ...) are
//! refused with a clear error instead of being silently passed on. Streaming
//! requests are made to report usage, because usage is what the worker is paid
//! for.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::json_object::{parse_value, Field, RawObject};
use crate::routing::{opt, preview, EXTENSION_FIELDS};
use crate::{ApiError, Endpoint, FeatureSet, FeatureUse};

/// A request the worker may forward.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The body to send to the backend.
    pub body: Bytes,
    pub stream: bool,
    /// The output bound the backend is held to: the body's ([`crate::max_tokens`]), else the
    /// cap it was given.
    pub max_tokens: Option<u64>,
    /// The optional features the body uses, and its choices.
    pub features: FeatureUse,
}

const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "response_format",
    "top_k",
    "min_p",
    "repetition_penalty",
];

const COMPLETION_FIELDS: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "echo",
    "suffix",
    "top_k",
    "min_p",
    "repetition_penalty",
];

/// Fields of optional features ([`crate::Feature`]) that chat completions take (`n` is in
/// [`CHAT_FIELDS`]).
const CHAT_FEATURE_FIELDS: &[&str] =
    &["tools", "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs", "logit_bias"];

/// Fields of optional features that completions take.
const COMPLETION_FEATURE_FIELDS: &[&str] = &["logprobs", "logit_bias"];

/// Known OpenAI fields the network deliberately does not serve; named in the
/// error so users learn it is a policy, not a typo.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "functions",
    "function_call",
    "audio",
    "modalities",
    "prediction",
    "best_of",
    "store",
    "metadata",
    "service_tier",
    "reasoning_effort",
    "web_search_options",
];

/// Check `body` against what this worker serves and prepare it for the backend.
///
/// The network's own routing extensions ([`EXTENSION_FIELDS`]) are dropped if
/// still present. Error codes (all `400`): `invalid_json`, `missing_model`,
/// `model_mismatch`, `unsupported_field`, `missing_field`, `invalid_field`.
pub fn validate_for_backend(endpoint: Endpoint, body: &[u8], served_model: &str) -> Result<Validated, ApiError> {
    validate_bounded(endpoint, body, served_model, None, FeatureSet::EMPTY)
}

/// [`validate_for_backend`] under the request's terms, for a backend with the optional
/// features `supported`: a body that sets no output bound is given `max_tokens = cap` (the
/// bound the proxy reserved for), so the backend never generates more than was paid for, and a
/// body whose bound is above `cap` is refused (`terms_mismatch`). A field of a feature the
/// backend lacks is `unsupported_field`, naming the feature.
pub fn validate_bounded(
    endpoint: Endpoint,
    body: &[u8],
    served_model: &str,
    cap: Option<u64>,
    supported: FeatureSet,
) -> Result<Validated, ApiError> {
    let (allowed, feature_fields) = match endpoint {
        Endpoint::ChatCompletions => (CHAT_FIELDS, CHAT_FEATURE_FIELDS),
        Endpoint::Completions => (COMPLETION_FIELDS, COMPLETION_FEATURE_FIELDS),
        Endpoint::AudioTranscriptions => return validate_transcription(body, served_model),
        Endpoint::Embeddings => return validate_embeddings(body, served_model),
    };
    let obj = RawObject::parse(body)?;
    refuse_unknown_fields(
        &obj,
        endpoint,
        &[allowed, feature_fields],
        KNOWN_UNSUPPORTED,
        "is not supported by this network",
    )?;
    let features = crate::features::features_used(&obj)?;
    if let Some(missing) = features.features.missing_from(supported).iter().next() {
        let field = obj.fields.iter().map(|f| f.key.as_str()).find(|k| missing.fields().contains(k)).unwrap_or("n");
        return Err(ApiError::bad_request(
            "unsupported_field",
            format!("`{field}` needs the `{}` feature, which this worker's backend does not have", missing.name()),
        ));
    }

    match obj.get("model") {
        None => return Err(ApiError::bad_request("missing_model", "request body must contain a `model` string")),
        Some(f) => {
            let model = parse_value::<String>(f)
                .ok_or_else(|| ApiError::bad_request("missing_model", "`model` must be a string"))?;
            if model != served_model {
                return Err(ApiError::bad_request(
                    "model_mismatch",
                    format!("requested model `{}` but this worker serves `{served_model}`", preview(&model)),
                ));
            }
        }
    }

    match endpoint {
        Endpoint::ChatCompletions => check_messages(obj.get("messages"))?,
        Endpoint::Completions => check_prompt(obj.get("prompt"))?,
        Endpoint::AudioTranscriptions | Endpoint::Embeddings => {}
    }

    for f in obj.fields.iter() {
        check_field(f)?;
    }
    let max_tokens = obj.max_tokens()?;

    let stream = match obj.get("stream") {
        Some(f) => opt::<bool>(f, "a boolean")?.unwrap_or(false),
        None => false,
    };
    let stream_options = match obj.get("stream_options") {
        Some(f) => opt::<Map<String, Value>>(f, "an object")?,
        None => None,
    };
    let cap_text = match (max_tokens, cap) {
        (None, Some(c)) => Some(c.to_string()),
        (Some(b), Some(c)) if b > c => {
            return Err(ApiError::bad_request(
                "terms_mismatch",
                format!("the body's output bound of {b} tokens is above the {c} this request was reserved for"),
            ))
        }
        _ => None,
    };
    let mut extra: Vec<(&str, &str)> = Vec::with_capacity(2);
    if let Some(c) = &cap_text {
        extra.push(("max_tokens", c.as_str()));
    }
    let so;
    let body = if stream {
        let mut options = stream_options.unwrap_or_default();
        options.insert("include_usage".to_owned(), Value::Bool(true));
        so = Value::Object(options).to_string();
        extra.push(("stream_options", so.as_str()));
        obj.write(is_extension, &extra)
    } else {
        // Backends reject stream_options on non-streaming requests.
        obj.write(|k| is_extension(k) || k == "stream_options", &extra)
    };
    Ok(Validated { body: Bytes::from(body), stream, max_tokens: max_tokens.or(cap), features })
}

/// A transcription: its header must parse and name the served model; the audio itself is the
/// backend's to judge. Answers are never streamed.
fn validate_transcription(body: &[u8], served_model: &str) -> Result<Validated, ApiError> {
    let (params, _audio) = crate::transcription::decode(body)?;
    if params.model != served_model {
        return Err(ApiError::bad_request(
            "model_mismatch",
            format!("requested model `{}` but this worker serves `{served_model}`", preview(&params.model)),
        ));
    }
    Ok(Validated {
        body: Bytes::copy_from_slice(body),
        stream: false,
        max_tokens: None,
        features: FeatureUse::default(),
    })
}

/// Refuses the first field of `obj` that is in none of `allowed` nor the network's extensions,
/// with `unsupported_field`: `why_known` for a known OpenAI field the network does not serve
/// (`known`), "is not a supported field" for anything else.
pub(crate) fn refuse_unknown_fields(
    obj: &RawObject<'_>,
    endpoint: Endpoint,
    allowed: &[&[&str]],
    known: &[&str],
    why_known: &str,
) -> Result<(), ApiError> {
    for f in &obj.fields {
        let key = f.key.as_str();
        if allowed.iter().any(|a| a.contains(&key)) || EXTENSION_FIELDS.contains(&key) {
            continue;
        }
        let why = if known.contains(&key) { why_known } else { "is not a supported field" };
        return Err(ApiError::bad_request(
            "unsupported_field",
            format!("`{}` {why} for {}", preview(key), endpoint.path()),
        ));
    }
    Ok(())
}

/// Embeddings: the request must parse ([`crate::embeddings::EmbeddingRequest`]) and name the
/// served model; it is forwarded without the network's extension fields. Never streamed, no
/// output bound.
fn validate_embeddings(body: &[u8], served_model: &str) -> Result<Validated, ApiError> {
    let req = crate::embeddings::EmbeddingRequest::parse(body)?;
    if req.model != served_model {
        return Err(ApiError::bad_request(
            "model_mismatch",
            format!("requested model `{}` but this worker serves `{served_model}`", preview(&req.model)),
        ));
    }
    let obj = RawObject::parse(body)?;
    let body = if obj.fields.iter().any(|f| is_extension(&f.key)) {
        Bytes::from(obj.write(is_extension, &[]))
    } else {
        Bytes::copy_from_slice(body)
    };
    Ok(Validated { body, stream: false, max_tokens: None, features: FeatureUse::default() })
}

fn is_extension(key: &str) -> bool {
    EXTENSION_FIELDS.contains(&key)
}

fn invalid(f: &Field<'_>, expected: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("`{}` must be {expected}, got {}", f.key, preview(f.text())))
}

fn check_messages(field: Option<&Field<'_>>) -> Result<(), ApiError> {
    let f = field.ok_or_else(|| ApiError::bad_request("missing_field", "chat completions require `messages`"))?;
    let messages = parse_value::<Vec<Value>>(f)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid(f, "a non-empty array of messages"))?;
    for (i, m) in messages.iter().enumerate() {
        let ok = m.as_object().and_then(|o| o.get("role")).is_some_and(Value::is_string);
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("`messages[{i}]` must be an object with a string `role`"),
            ));
        }
    }
    Ok(())
}

fn check_prompt(field: Option<&Field<'_>>) -> Result<(), ApiError> {
    let f = field.ok_or_else(|| ApiError::bad_request("missing_field", "completions require `prompt`"))?;
    let ok = match parse_value::<Value>(f) {
        Some(Value::String(_)) => true,
        // A batch of strings, a token list, or a batch of token lists.
        Some(Value::Array(items)) => {
            !items.is_empty()
                && (items.iter().all(Value::is_string)
                    || items.iter().all(Value::is_u64)
                    || items.iter().all(|i| i.as_array().is_some_and(|t| !t.is_empty() && t.iter().all(Value::is_u64))))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(f, "a string, an array of strings or an array of token ids"))
    }
}

/// Type/range check of one whitelisted scalar field.
fn check_field(f: &Field<'_>) -> Result<(), ApiError> {
    if f.is_null() {
        return Ok(());
    }
    let in_range = |lo: f64, hi: f64| parse_value::<f64>(f).is_some_and(|x| x.is_finite() && x >= lo && x <= hi);
    let (ok, expected) = match f.key.as_str() {
        "temperature" => (in_range(0.0, 2.0), "a number in [0, 2]"),
        "top_p" | "min_p" => (in_range(0.0, 1.0), "a number in [0, 1]"),
        "presence_penalty" | "frequency_penalty" => (in_range(-2.0, 2.0), "a number in [-2, 2]"),
        "repetition_penalty" => (in_range(0.0, 2.0), "a number in [0, 2]"),
        "top_k" => (parse_value::<i64>(f).is_some_and(|k| k >= -1), "an integer >= -1"),
        "echo" => (parse_value::<bool>(f) == Some(false), "false (echo is not supported)"),
        "seed" => (parse_value::<i64>(f).is_some() || parse_value::<u64>(f).is_some(), "a 64-bit integer"),
        "user" | "suffix" => (parse_value::<String>(f).is_some(), "a string"),
        "stop" => (
            match parse_value::<Value>(f) {
                Some(Value::String(_)) => true,
                Some(Value::Array(a)) => a.len() <= 16 && a.iter().all(Value::is_string),
                _ => false,
            },
            "a string or an array of at most 16 strings",
        ),
        "response_format" => (
            parse_value::<Value>(f).as_ref().and_then(|v| v.get("type")).is_some_and(Value::is_string),
            "an object with a string `type`",
        ),
        _ => (true, ""),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(f, expected))
    }
}
