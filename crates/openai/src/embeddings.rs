//! Embeddings (`POST /v1/embeddings`): the request every hop agrees on and the answer an
//! embedding backend writes.
//!
//! The request is strict: `model`, `input` (a string or an array of up to [`MAX_INPUTS`]
//! non-empty strings), `encoding_format` (`float` or `base64`) and `user`. Input given as token
//! ids is refused: ids from another model's tokenizer (OpenAI SDKs tokenize with tiktoken)
//! mean nothing to ours. `dimensions` is refused too: truncating a vector the model was not
//! trained to shorten silently degrades it. The answer is billed by its prompt tokens only.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::json_object::{parse_value, RawObject};
use crate::routing::preview;
use crate::ApiError;

/// Most inputs in one request (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// Fields an embeddings request may carry (besides the network's routing extensions).
const FIELDS: &[&str] = &["model", "input", "encoding_format", "user"];

/// Known OpenAI fields of the endpoint the network does not serve.
const UNSUPPORTED: &[&str] = &["dimensions"];

/// How the vectors are written in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes (what OpenAI's SDKs ask for by default).
    Base64,
}

/// A parsed embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRequest {
    /// The routing name of the model.
    pub model: String,
    /// The texts to embed, in order (a single string is one input).
    pub inputs: Vec<String>,
    pub format: EncodingFormat,
}

impl EmbeddingRequest {
    /// Parses and checks a request body. Errors (400): `invalid_json`, `missing_model`,
    /// `missing_field`, `invalid_field`, `unsupported_field`.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let obj = RawObject::parse(body)?;
        crate::validate::refuse_unknown_fields(
            &obj,
            crate::Endpoint::Embeddings,
            &[FIELDS],
            UNSUPPORTED,
            "is not supported by this network (vectors are the model's full width)",
        )?;
        let model = obj
            .get("model")
            .and_then(parse_value::<String>)
            .ok_or_else(|| ApiError::bad_request("missing_model", "request body must contain a `model` string"))?;
        let input =
            obj.get("input").ok_or_else(|| ApiError::bad_request("missing_field", "embeddings require `input`"))?;
        let inputs = match parse_value::<Value>(input) {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => texts(items)?,
            _ => return Err(invalid("`input` must be a string or an array of strings")),
        };
        if let Some(i) = inputs.iter().position(String::is_empty) {
            return Err(invalid(format!("`input[{i}]` is empty; every input must have text")));
        }
        let format = match obj.get("encoding_format").filter(|f| !f.is_null()) {
            None => EncodingFormat::Float,
            Some(f) => match parse_value::<String>(f).as_deref() {
                Some("float") => EncodingFormat::Float,
                Some("base64") => EncodingFormat::Base64,
                _ => {
                    return Err(invalid(format!(
                        "`encoding_format` must be \"float\" or \"base64\", got {}",
                        preview(f.text())
                    )))
                }
            },
        };
        if let Some(f) = obj.get("user").filter(|f| !f.is_null()) {
            if parse_value::<String>(f).is_none() {
                return Err(invalid("`user` must be a string"));
            }
        }
        Ok(Self { model, inputs, format })
    }
}

/// The strings of an `input` array, or why it is not one.
fn texts(items: Vec<Value>) -> Result<Vec<String>, ApiError> {
    if items.is_empty() {
        return Err(invalid("`input` must not be an empty array"));
    }
    if items.len() > MAX_INPUTS {
        return Err(invalid(format!("`input` has {} items; at most {MAX_INPUTS} are allowed", items.len())));
    }
    if items.iter().any(|v| v.is_number() || v.is_array()) {
        return Err(invalid(
            "`input` as token ids is not supported: ids from another tokenizer mean nothing to this model; send text",
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s),
            _ => Err(invalid(format!("`input[{i}]` must be a string"))),
        })
        .collect()
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_field", message)
}

#[derive(Serialize)]
struct Answer<'a> {
    object: &'static str,
    data: Vec<Item>,
    model: &'a str,
    usage: AnswerUsage,
}

#[derive(Serialize)]
struct Item {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// One vector as the answer writes it: `f32`s are written in their shortest exact form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct AnswerUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// The OpenAI answer for `vectors` (one per input, in order), with usage `prompt_tokens`.
pub fn encode_answer(model: &str, vectors: &[Vec<f32>], format: EncodingFormat, prompt_tokens: u64) -> Vec<u8> {
    let data = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| Item { object: "embedding", index, embedding: encode_vector(v, format) })
        .collect();
    let answer =
        Answer { object: "list", data, model, usage: AnswerUsage { prompt_tokens, total_tokens: prompt_tokens } };
    // Serializing plain structs of strings and finite numbers cannot fail.
    serde_json::to_vec(&answer).unwrap_or_default()
}

/// One vector in `format`. Non-finite components (never produced by a sane model) are written
/// as 0, so the JSON stays valid and the two formats agree.
pub fn encode_vector(v: &[f32], format: EncodingFormat) -> Vector {
    let finite = v.iter().map(|&x| if x.is_finite() { x } else { 0.0 });
    match format {
        EncodingFormat::Float => Vector::Float(finite.collect()),
        EncodingFormat::Base64 => {
            let bytes: Vec<u8> = finite.flat_map(f32::to_le_bytes).collect();
            Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// Decodes a `base64` vector (for tests and clients): `None` unless it is whole `f32`s.
pub fn decode_base64_vector(s: &str) -> Option<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<EmbeddingRequest, ApiError> {
        EmbeddingRequest::parse(body.as_bytes())
    }

    #[test]
    fn accepts_strings_and_formats() {
        let r = parse(r#"{"model":"m","input":"hello"}"#).unwrap();
        assert_eq!((r.model.as_str(), r.inputs, r.format), ("m", vec!["hello".to_string()], EncodingFormat::Float));
        let r = parse(r#"{"model":"m","input":["a","b"],"encoding_format":"base64","user":"u","timeout":5}"#).unwrap();
        assert_eq!((r.inputs.len(), r.format), (2, EncodingFormat::Base64));
        let r = parse(r#"{"model":"m","input":"a","encoding_format":null}"#).unwrap();
        assert_eq!(r.format, EncodingFormat::Float);
    }

    #[test]
    fn refuses_what_it_cannot_serve_naming_the_field() {
        let code = |b: &str| parse(b).unwrap_err().code;
        assert_eq!(code(r#"{"model":"m","input":"a","dimensions":256}"#), "unsupported_field");
        assert!(parse(r#"{"model":"m","input":"a","dimensions":256}"#).unwrap_err().message.contains("dimensions"));
        assert_eq!(code(r#"{"model":"m","input":"a","stream":true}"#), "unsupported_field");
        assert_eq!(code(r#"{"input":"a"}"#), "missing_model");
        assert_eq!(code(r#"{"model":"m"}"#), "missing_field");
        assert_eq!(code(r#"{"model":"m","input":[]}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":""}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":["a",""]}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":[1,2,3]}"#), "invalid_field");
        assert!(parse(r#"{"model":"m","input":[[1,2]]}"#).unwrap_err().message.contains("token ids"));
        assert_eq!(code(r#"{"model":"m","input":["a",3]}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":{"a":1}}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":"a","encoding_format":"int8"}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":"a","user":7}"#), "invalid_field");
        assert_eq!(code(r#"{"model":"m","input":"a","input":"b"}"#), "invalid_json");
        let many = format!(r#"{{"model":"m","input":[{}]}}"#, vec!["\"x\""; MAX_INPUTS + 1].join(","));
        assert_eq!(code(&many), "invalid_field");
    }

    #[test]
    fn answers_in_both_formats() {
        let v = vec![vec![0.5f32, -0.25, 1.0e-7], vec![0.0, 1.0, f32::NAN]];
        let float: Value = serde_json::from_slice(&encode_answer("m", &v, EncodingFormat::Float, 7)).unwrap();
        assert_eq!(float["object"], "list");
        assert_eq!(float["data"][1]["index"], 1);
        assert_eq!(float["data"][0]["embedding"][1], -0.25);
        assert_eq!(float["data"][1]["embedding"][2], 0.0);
        assert_eq!(float["usage"]["prompt_tokens"], 7);
        assert_eq!(float["usage"]["total_tokens"], 7);
        let b64: Value = serde_json::from_slice(&encode_answer("m", &v, EncodingFormat::Base64, 7)).unwrap();
        let back = decode_base64_vector(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
        assert_eq!(back, v[0]);
        assert_eq!(decode_base64_vector("AAA="), None);
        let usage = crate::usage_from_body(&encode_answer("m", &v, EncodingFormat::Float, 7)).unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (7, 0, 7));
    }
}
