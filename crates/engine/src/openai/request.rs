//! Reading an OpenAI request body into what the engine needs.

use crate::{tools::ToolSpec, ChatMessage, Engine, EngineError, GenRequest, ResponseFormat};
use cocoon_openai::{ApiError, Endpoint};
use serde_json::{Map, Value};

/// `max_tokens` when the request gives none (then also capped by the context left).
pub const DEFAULT_MAX_TOKENS: u32 = 256;

/// The prompt of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Chat completions: the conversation, rendered with the chat template.
    Messages(Vec<ChatMessage>),
    /// Completions: the raw prompt.
    Prompt(String),
}

/// A parsed chat-completions or completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiRequest {
    /// Which endpoint the body was sent to (chat completions or completions).
    pub endpoint: Endpoint,
    /// `model` as sent (echoed in the answer).
    pub model: String,
    /// The prompt: chat messages or a raw completions prompt.
    pub input: Input,
    /// `stream`: answer as an SSE stream rather than one JSON document.
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    /// `max_tokens` / `max_completion_tokens` (the smaller when both).
    pub max_tokens: Option<u32>,
    /// `temperature`, in [0, 2]; `None` when not given.
    pub temperature: Option<f32>,
    /// `top_p` (nucleus sampling), in [0, 1]; `None` when not given.
    pub top_p: Option<f32>,
    /// `seed` of the sampler, so the same request can reproduce the same text.
    pub seed: Option<u64>,
    /// `stop` strings (at most 16): generation ends before the first one that appears.
    pub stop: Vec<String>,
    /// `response_format`: free text, or JSON held to a grammar.
    pub response_format: ResponseFormat,
    /// The grammar of `response_format`, converted when the request was read (a schema the
    /// converter refuses is the caller's 400).
    pub grammar: Option<String>,
    /// `logit_bias`: token id and the bias added to its logit, in [-100, 100].
    pub logit_bias: Vec<(u32, f32)>,
    /// `n`: choices generated, 1..=[`cocoon_openai::MAX_CHOICES`] (streamed interleaved).
    pub choices: u32,
    /// `tools` and `tool_choice` (chat completions only).
    pub tools: Option<ToolSpec>,
    /// Each token's log-probability with this many alternatives: chat's `logprobs: true` and
    /// `top_logprobs`, or completions' `logprobs: k` (0..=20 each).
    pub logprobs: Option<u8>,
}

fn bad(code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(code.to_string(), msg)
}

fn invalid(field: &str, expected: &str) -> ApiError {
    bad("invalid_field", format!("`{field}` must be {expected}"))
}

/// The field's value, with `null` read as absent.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn number(obj: &Map<String, Value>, key: &str, lo: f64, hi: f64) -> Result<Option<f32>, ApiError> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= lo && x <= hi => Ok(Some(x as f32)),
            _ => Err(invalid(key, &format!("a number in [{lo}, {hi}]"))),
        },
    }
}

impl OpenAiRequest {
    /// Parses a body for `endpoint`. Errors are OpenAI `400`s: `invalid_json`,
    /// `missing_field`, `invalid_field`, `unsupported_field`.
    pub fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad("invalid_json", format!("request body is not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(bad("invalid_json", "request body must be a JSON object"));
        };
        let model = match field(&obj, "model") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(invalid("model", "a string")),
        };
        let input = match endpoint {
            Endpoint::ChatCompletions => Input::Messages(parse_messages(&obj)?),
            Endpoint::Completions => Input::Prompt(parse_prompt(&obj)?),
            Endpoint::AudioTranscriptions => {
                return Err(bad("unsupported_endpoint", "this model is a language model: it does not transcribe audio"))
            }
            Endpoint::Embeddings => {
                return Err(bad(
                    "unsupported_endpoint",
                    "this model is a language model: embeddings are served by an embedding model",
                ))
            }
        };
        let stream = match field(&obj, "stream") {
            None => false,
            Some(v) => v.as_bool().ok_or_else(|| invalid("stream", "a boolean"))?,
        };
        let include_usage = match field(&obj, "stream_options") {
            None => false,
            Some(Value::Object(o)) => match field(o, "include_usage") {
                None => false,
                Some(v) => v.as_bool().ok_or_else(|| invalid("stream_options.include_usage", "a boolean"))?,
            },
            Some(_) => return Err(invalid("stream_options", "an object")),
        };
        let max_tokens =
            cocoon_openai::max_tokens(|k| obj.get(k).cloned())?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let seed = match field(&obj, "seed") {
            None => None,
            Some(v) => {
                Some(v.as_u64().or_else(|| v.as_i64().map(|i| i as u64)).ok_or_else(|| invalid("seed", "an integer"))?)
            }
        };
        let stop = match field(&obj, "stop") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) if items.len() <= 16 => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("stop", "a string or an array of at most 16 strings"))?,
            Some(_) => return Err(invalid("stop", "a string or an array of at most 16 strings")),
        };
        let max_choices = u64::from(cocoon_openai::MAX_CHOICES);
        let choices = match field(&obj, "n") {
            None => 1,
            Some(n) => match n.as_u64() {
                Some(n) if (1..=max_choices).contains(&n) => n as u32,
                _ => return Err(invalid("n", &format!("an integer in 1..={max_choices}"))),
            },
        };
        // Chat: `logprobs: true` and `top_logprobs: k`; completions: `logprobs: k` alone.
        let (wants_logprobs, completion_top) = match field(&obj, "logprobs") {
            None | Some(Value::Null) => (false, None),
            Some(Value::Bool(b)) if endpoint == Endpoint::ChatCompletions => (*b, None),
            Some(_) if endpoint == Endpoint::ChatCompletions => return Err(invalid("logprobs", "a boolean")),
            Some(v) => match v.as_u64() {
                Some(k) if k <= 20 => (true, Some(k as u8)),
                _ => return Err(invalid("logprobs", "an integer in 0..=20")),
            },
        };
        let top_logprobs = match field(&obj, "top_logprobs") {
            _ if endpoint == Endpoint::Completions => completion_top,
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n <= 20 => Some(n as u8),
                _ => return Err(invalid("top_logprobs", "an integer in 0..=20")),
            },
        };
        if top_logprobs.is_some() && !wants_logprobs && endpoint == Endpoint::ChatCompletions {
            return Err(invalid("logprobs", "true when `top_logprobs` is given"));
        }
        let logprobs = wants_logprobs.then_some(top_logprobs.unwrap_or(0));
        let logit_bias = match field(&obj, "logit_bias") {
            None => Vec::new(),
            Some(Value::Object(o)) if o.len() <= 300 => o
                .iter()
                .map(|(k, v)| {
                    Some((k.parse::<u32>().ok()?, v.as_f64().filter(|b| (-100.0..=100.0).contains(b))? as f32))
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("logit_bias", "an object of token ids mapped to numbers in [-100, 100]"))?,
            Some(_) => {
                return Err(invalid(
                    "logit_bias",
                    "an object of at most 300 token ids mapped to numbers in [-100, 100]",
                ))
            }
        };
        if field(&obj, "echo").and_then(Value::as_bool) == Some(true) {
            return Err(bad("unsupported_field", "`echo` is not supported by the embedded engine"));
        }
        if field(&obj, "suffix").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
            return Err(bad("unsupported_field", "`suffix` is not supported by the embedded engine"));
        }
        let response_format = match field(&obj, "response_format") {
            None => ResponseFormat::Text,
            Some(rf) => ResponseFormat::parse(rf)?,
        };
        let tools = match endpoint {
            Endpoint::ChatCompletions => ToolSpec::parse(&obj)?,
            _ => None,
        };
        let tool_grammar = match &tools {
            Some(t) => t.grammar()?,
            None => None,
        };
        let grammar = match (response_format.grammar()?, tool_grammar) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "unsupported_field",
                    "`response_format` cannot be combined with a required tool call (`tool_choice`)",
                ))
            }
            (g, None) | (None, g) => g,
        };
        Ok(Self {
            endpoint,
            model,
            input,
            stream,
            include_usage,
            max_tokens,
            temperature: number(&obj, "temperature", 0.0, 2.0)?,
            top_p: number(&obj, "top_p", 0.0, 1.0)?,
            seed,
            stop,
            response_format,
            grammar,
            logit_bias,
            choices,
            tools,
            logprobs,
        })
    }

    /// The generation for `engine`: the prompt rendered, `max_tokens` defaulted (and capped by
    /// the context at generation time), temperature 1.0 and top-p 1.0 unless given.
    pub fn gen_request(&self, engine: &Engine) -> Result<GenRequest, EngineError> {
        let prompt = match &self.input {
            Input::Messages(m) => engine.render_chat_with_tools(m, self.tools.as_ref())?,
            Input::Prompt(p) => p.clone(),
        };
        Ok(self.gen_request_for(prompt, engine.context()))
    }

    /// [`Self::gen_request`] with an already rendered prompt.
    pub fn gen_request_for(&self, prompt: String, context: u32) -> GenRequest {
        let mut temperature = self.temperature.unwrap_or(1.0);
        let mut top_p = self.top_p.unwrap_or(1.0);
        if top_p <= 0.0 {
            // Nothing but the most likely token survives: that is greedy decoding.
            temperature = 0.0;
            top_p = 1.0;
        }
        GenRequest {
            prompt,
            max_tokens: self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).min(context),
            temperature,
            top_p,
            seed: self.seed,
            stop: self.stop.clone(),
            grammar: self.grammar.clone(),
            logit_bias: self.logit_bias.clone(),
            logprobs: self.logprobs,
        }
    }
}

fn parse_messages(obj: &Map<String, Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let Some(v) = field(obj, "messages") else {
        return Err(bad("missing_field", "chat completions require `messages`"));
    };
    let Value::Array(items) = v else {
        return Err(invalid("messages", "a non-empty array of messages"));
    };
    if items.is_empty() {
        return Err(invalid("messages", "a non-empty array of messages"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, m) in items.iter().enumerate() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("invalid_field", format!("`messages[{i}]` must be an object with a string `role`")))?;
        let tool_call_id = match m.get("tool_call_id").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| bad("invalid_field", format!("`messages[{i}].tool_call_id` must be a string")))?
                    .to_string(),
            ),
        };
        let msg = ChatMessage {
            role: role.to_string(),
            content: m.get("content").cloned().unwrap_or(Value::Null),
            tool_calls: m.get("tool_calls").filter(|v| !v.is_null()).cloned(),
            tool_call_id,
        };
        // Check the content now so the error names the message.
        msg.text().map_err(|e| bad("invalid_field", format!("`messages[{i}]`: {e}")))?;
        out.push(msg);
    }
    Ok(out)
}

fn parse_prompt(obj: &Map<String, Value>) -> Result<String, ApiError> {
    match field(obj, "prompt") {
        None => Err(bad("missing_field", "completions require `prompt`")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] => Ok(s.clone()),
            [] => Err(invalid("prompt", "a string")),
            [Value::String(_), ..] => {
                Err(bad("unsupported_field", "a batch of prompts is not supported: send one prompt per request"))
            }
            _ => Err(bad("unsupported_field", "prompts as token ids are not supported: send the prompt as a string")),
        },
        Some(_) => Err(invalid("prompt", "a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<OpenAiRequest, ApiError> {
        OpenAiRequest::parse(Endpoint::ChatCompletions, body.as_bytes())
    }

    #[test]
    fn bad_json_and_missing_fields() {
        let e = chat("{not json").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "invalid_json"));
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        assert_eq!(chat("[1]").unwrap_err().code, "invalid_json");
        let e = chat(r#"{"model":"m"}"#).unwrap_err();
        assert_eq!(e.code, "missing_field");
        assert!(e.message.contains("messages"), "{}", e.message);
        assert_eq!(chat(r#"{"messages":[]}"#).unwrap_err().code, "invalid_field");
        assert!(chat(r#"{"messages":[{"content":"x"}]}"#).unwrap_err().message.contains("messages[0]"));
        let e = OpenAiRequest::parse(Endpoint::Completions, br#"{"model":"m"}"#).unwrap_err();
        assert!(e.message.contains("prompt"), "{}", e.message);
    }

    #[test]
    fn reads_the_sampling_fields() {
        let r = chat(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
               "max_tokens":50,"max_completion_tokens":20,"temperature":0,"top_p":0.9,"seed":-1,
               "stop":["a","b"],"stream":true,"stream_options":{"include_usage":true},"n":1,"user":"u"}"#,
        )
        .unwrap();
        assert_eq!(r.model, "m");
        assert!(r.stream && r.include_usage);
        assert_eq!(r.max_tokens, Some(20));
        assert_eq!(r.temperature, Some(0.0));
        assert_eq!(r.seed, Some(u64::MAX));
        assert_eq!(r.stop, vec!["a".to_string(), "b".to_string()]);
        let g = r.gen_request_for("p".into(), 10);
        assert_eq!((g.max_tokens, g.temperature, g.top_p), (10, 0.0, 0.9));

        let r = chat(r#"{"messages":[{"role":"user","content":"x"}],"stop":"\n","max_tokens":null}"#).unwrap();
        assert_eq!(r.stop, vec!["\n".to_string()]);
        let g = r.gen_request_for("p".into(), 2048);
        assert_eq!((g.max_tokens, g.temperature, g.top_p, g.seed), (DEFAULT_MAX_TOKENS, 1.0, 1.0, None));
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        for (body, code) in [
            (r#"{"messages":[{"role":"user","content":"x"}],"n":17}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"logprobs":2}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"top_logprobs":21,"logprobs":true}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"logit_bias":{"a":1}}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"logit_bias":{"1":-101}}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"stop":[1]}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}"#, "invalid_field"),
            (r#"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}"#, "invalid_field"),
        ] {
            assert_eq!(chat(body).unwrap_err().code, code, "{body}");
        }
        let comp = |b: &str| OpenAiRequest::parse(Endpoint::Completions, b.as_bytes());
        assert_eq!(comp(r#"{"prompt":["a"]}"#).unwrap().input, Input::Prompt("a".into()));
        assert_eq!(comp(r#"{"prompt":["a","b"]}"#).unwrap_err().code, "unsupported_field");
        assert_eq!(comp(r#"{"prompt":[1,2]}"#).unwrap_err().code, "unsupported_field");
        assert_eq!(comp(r#"{"prompt":"a","echo":true}"#).unwrap_err().code, "unsupported_field");
        assert_eq!(comp(r#"{"prompt":"a","logprobs":3}"#).unwrap().logprobs, Some(3));
        assert_eq!(comp(r#"{"prompt":"a","logprobs":0}"#).unwrap().logprobs, Some(0));
        assert_eq!(comp(r#"{"prompt":"a","logprobs":null}"#).unwrap().logprobs, None);
        assert_eq!(comp(r#"{"prompt":"a","logprobs":true}"#).unwrap_err().code, "invalid_field");
        assert_eq!(comp(r#"{"prompt":"a","logprobs":21}"#).unwrap_err().code, "invalid_field");
        let streamed = chat(r#"{"messages":[{"role":"user","content":"x"}],"n":2,"stream":true,"logprobs":true}"#);
        let streamed = streamed.unwrap();
        assert_eq!((streamed.choices, streamed.stream, streamed.logprobs), (2, true, Some(0)));
    }
}
