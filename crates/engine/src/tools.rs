//! Tool (function) calls: OpenAI's `tools` and `tool_choice` in, `tool_calls` out.
//!
//! The tools reach the model through its own chat template when the template knows tools
//! (Qwen2.5's does: it lists them and asks for `<tool_call>{"name": ..., "arguments": ...}
//! </tool_call>`); a template that does not gets the same instructions as a system message
//! ([`preamble`]). The model's answer is read back ([`parse_calls`]): each `<tool_call>` block
//! whose JSON names a tool becomes an OpenAI tool call, and the answer ends with
//! `finish_reason: "tool_calls"`. With `tool_choice` `"required"` or a named function the
//! answer is held to a grammar ([`ToolSpec::grammar`]) built from the tools' parameter schemas,
//! so even a small model calls a real tool with arguments that fit.

use cocoon_openai::ApiError;
use serde_json::{json, Value};
use std::hash::{BuildHasher, Hasher};

/// Most tools one request may declare.
pub const MAX_TOOLS: usize = 64;

/// What the model may or must do with the tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// Never call a tool (the tools are not shown).
    None,
    /// Call one or answer in text, as the model decides.
    Auto,
    /// Call a tool.
    Required,
    /// Call this function.
    Named(String),
}

/// The tools of a request and how they may be used.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The `tools` as sent: `{"type": "function", "function": {"name", "description", "parameters"}}`.
    pub tools: Vec<Value>,
    pub choice: ToolChoice,
}

fn invalid(field: &str, expected: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("`{field}` must be {expected}"))
}

impl ToolSpec {
    /// Reads `tools`, `tool_choice` and `parallel_tool_calls` (accepted; one call or several
    /// are read back either way). `None` when the request has no tools.
    pub fn parse(obj: &serde_json::Map<String, Value>) -> Result<Option<ToolSpec>, ApiError> {
        let present = |k: &str| obj.get(k).filter(|v| !v.is_null());
        let tools = match present("tools") {
            None => Vec::new(),
            Some(Value::Array(items)) if items.len() <= MAX_TOOLS && items.iter().all(is_function_tool) => items.clone(),
            Some(_) => {
                return Err(invalid(
                    "tools",
                    &format!("an array of at most {MAX_TOOLS} {{\"type\": \"function\", \"function\": {{\"name\": ...}}}} objects"),
                ))
            }
        };
        if let Some(p) = present("parallel_tool_calls") {
            p.as_bool().ok_or_else(|| invalid("parallel_tool_calls", "a boolean"))?;
        }
        let choice = match present("tool_choice") {
            None if tools.is_empty() => ToolChoice::None,
            None => ToolChoice::Auto,
            Some(Value::String(s)) => match s.as_str() {
                "none" => ToolChoice::None,
                "auto" => ToolChoice::Auto,
                "required" => ToolChoice::Required,
                _ => return Err(invalid("tool_choice", "\"none\", \"auto\", \"required\" or a named function")),
            },
            Some(v) => match v.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => return Err(invalid("tool_choice", "\"none\", \"auto\", \"required\" or a named function")),
            },
        };
        if tools.is_empty() {
            if matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) {
                return Err(invalid("tool_choice", "\"none\" or absent when there are no `tools`"));
            }
            return Ok(None);
        }
        let spec = ToolSpec { tools, choice };
        if let ToolChoice::Named(name) = &spec.choice {
            if !spec.functions().any(|f| f["name"] == name.as_str()) {
                return Err(invalid("tool_choice", &format!("a function listed in `tools` (no {name:?})")));
            }
        }
        Ok(Some(spec))
    }

    /// The `function` objects of the tools.
    pub fn functions(&self) -> impl Iterator<Item = &Value> {
        self.tools.iter().map(|t| &t["function"])
    }

    /// Whether the tools are shown to the model and its answer read for calls.
    pub fn active(&self) -> bool {
        self.choice != ToolChoice::None
    }

    /// For `"required"` or a named function: a grammar that makes the answer exactly one
    /// `<tool_call>` of an allowed tool, its arguments fitting the tool's parameter schema.
    pub fn grammar(&self) -> Result<Option<String>, ApiError> {
        let allowed: Vec<&Value> = match &self.choice {
            ToolChoice::None | ToolChoice::Auto => return Ok(None),
            ToolChoice::Required => self.functions().collect(),
            ToolChoice::Named(name) => self.functions().filter(|f| f["name"] == name.as_str()).collect(),
        };
        let calls: Vec<Value> = allowed
            .iter()
            .map(|f| {
                let params =
                    f.get("parameters").filter(|p| p.is_object()).cloned().unwrap_or(json!({"type": "object"}));
                json!({
                    "type": "object",
                    "properties": {"name": {"const": f["name"]}, "arguments": params},
                    "required": ["name", "arguments"],
                    "additionalProperties": false,
                })
            })
            .collect();
        let schema = if calls.len() == 1 { calls[0].clone() } else { json!({"anyOf": calls}) };
        let call = crate::structured::schema_grammar(&schema).map_err(|why| {
            ApiError::bad_request("invalid_field", format!("`tools` has parameters this engine cannot enforce: {why}"))
        })?;
        // The converter names its top rule `root`; ours wraps it in the call tags.
        let call = call.replacen("root ::=", "tool-call ::=", 1);
        Ok(Some(format!("root ::= \"<tool_call>\\n\" tool-call \"\\n</tool_call>\"\n{call}")))
    }
}

fn is_function_tool(t: &Value) -> bool {
    t.get("type").and_then(Value::as_str) == Some("function")
        && t.get("function").and_then(|f| f.get("name")).is_some_and(Value::is_string)
}

/// The tool instructions for a chat template that has none of its own: the format Qwen2.5's
/// template (and the Hermes models') uses, so that answers are read back the same way.
pub fn preamble(spec: &ToolSpec) -> String {
    let mut out = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for t in &spec.tools {
        out.push('\n');
        out.push_str(&t.to_string());
    }
    out.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within \
         <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    out
}

/// One call read from the model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// `call_` and 24 hex digits, unique per call.
    pub id: String,
    pub name: String,
    /// The arguments as a JSON text, as OpenAI sends them.
    pub arguments: String,
}

impl ToolCall {
    /// The OpenAI `tool_calls` entry (with `index` for stream deltas when given).
    pub fn to_json(&self, index: Option<usize>) -> Value {
        let mut v =
            json!({"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}});
        if let Some(i) = index {
            v["index"] = json!(i);
        }
        v
    }
}

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// Splits an answer into its text (before the first call) and its calls. A call is a
/// `<tool_call>` block, or an answer that is nothing but one call's JSON (bare or in a code
/// fence, as small models often write it). A block whose JSON does not parse, or names no tool
/// of `spec`, leaves the whole answer as text: a call the app cannot run is worse than the
/// model's words.
pub fn parse_calls(text: &str, spec: &ToolSpec) -> (String, Vec<ToolCall>) {
    let Some(first) = text.find(OPEN) else {
        return match one_call(unfence(text), spec) {
            Some(call) => (String::new(), vec![call]),
            None => (text.to_string(), Vec::new()),
        };
    };
    let mut calls = Vec::new();
    let mut rest = &text[first..];
    while let Some(start) = rest.find(OPEN) {
        let body = &rest[start + OPEN.len()..];
        let (json_text, after) = match body.find(CLOSE) {
            Some(end) => (&body[..end], &body[end + CLOSE.len()..]),
            None => (body, ""),
        };
        let Some(call) = one_call(json_text, spec) else { return (text.to_string(), Vec::new()) };
        calls.push(call);
        rest = after;
    }
    (text[..first].trim().to_string(), calls)
}

/// `{"name": ..., "arguments": ...}` naming a tool of `spec`, as a call. Doubled braces are
/// undone first: Qwen2.5's template shows the format as `{{"name": ...}}`, and the model
/// sometimes copies that.
fn one_call(json_text: &str, spec: &ToolSpec) -> Option<ToolCall> {
    let t = json_text.trim();
    let v = serde_json::from_str::<Value>(t).ok().or_else(|| {
        // `{{...}}` or `{{...}` (the doubled opening brace alone, also seen).
        let inner = t.strip_prefix("{{")?;
        let inner = format!("{{{inner}");
        serde_json::from_str::<Value>(&inner)
            .ok()
            .or_else(|| serde_json::from_str::<Value>(inner.strip_suffix('}')?).ok())
    })?;
    let name = v.get("name").and_then(Value::as_str)?;
    if !spec.functions().any(|f| f["name"] == name) {
        return None;
    }
    let arguments = match v.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(a @ Value::Object(_)) => a.to_string(),
        None => "{}".into(),
        Some(_) => return None,
    };
    Some(ToolCall { id: call_id(), name: name.to_string(), arguments })
}

/// The text inside a Markdown code fence, when the whole answer is one.
fn unfence(text: &str) -> &str {
    let t = text.trim();
    let Some(inner) = t.strip_prefix("```").and_then(|r| r.strip_suffix("```")) else { return t };
    // Drop the fence's language tag (```json).
    inner
        .split_once('\n')
        .map_or(inner, |(tag, body)| if tag.trim().chars().all(char::is_alphanumeric) { body } else { inner })
}

fn call_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    let a = h.finish();
    format!("call_{a:016x}{:08x}", (a.rotate_left(17) ^ 0x9e37_79b9) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(choice: Value) -> Result<Option<ToolSpec>, ApiError> {
        let tool = json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}});
        let mut obj = serde_json::Map::new();
        obj.insert("tools".into(), json!([tool]));
        obj.insert("tool_choice".into(), choice);
        ToolSpec::parse(&obj)
    }

    #[test]
    fn choices_and_bad_ones() {
        assert_eq!(spec(json!("auto")).unwrap().unwrap().choice, ToolChoice::Auto);
        assert_eq!(spec(Value::Null).unwrap().unwrap().choice, ToolChoice::Auto);
        assert!(!spec(json!("none")).unwrap().unwrap().active());
        let named = json!({"type": "function", "function": {"name": "get_weather"}});
        assert_eq!(spec(named).unwrap().unwrap().choice, ToolChoice::Named("get_weather".into()));
        for bad in [json!("sometimes"), json!({"type": "function", "function": {"name": "nope"}}), json!(3)] {
            assert_eq!(spec(bad.clone()).unwrap_err().code, "invalid_field", "{bad}");
        }
        let mut obj = serde_json::Map::new();
        obj.insert("tools".into(), json!([{"type": "function"}]));
        assert!(ToolSpec::parse(&obj).is_err());
        assert_eq!(ToolSpec::parse(&serde_json::Map::new()).unwrap(), None);
    }

    #[test]
    fn calls_are_read_back_only_when_they_name_a_tool() {
        let s = spec(json!("auto")).unwrap().unwrap();
        let (text, calls) = parse_calls(
            "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
            &s,
        );
        assert_eq!(text, "Let me check.");
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].name.as_str(), calls[0].arguments.as_str()), ("get_weather", r#"{"city":"Paris"}"#));
        assert!(calls[0].id.starts_with("call_") && calls[0].id.len() == 29, "{}", calls[0].id);
        // Two calls; the last may lack its closing tag.
        let two = "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"A\"}}</tool_call><tool_call>{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"B\\\"}\"}";
        let (_, calls) = parse_calls(two, &s);
        assert_eq!(
            calls.iter().map(|c| c.arguments.as_str()).collect::<Vec<_>>(),
            [r#"{"city":"A"}"#, r#"{"city":"B"}"#]
        );
        for not_a_call in [
            "plain text",
            "<tool_call>{broken",
            "<tool_call>{\"name\":\"rm_rf\",\"arguments\":{}}</tool_call>",
            "{\"name\":\"get_weather\",\"arguments\":{}} and some words",
            "```json\n{\"city\": \"Paris\"}\n```",
            "{\"name\":\"get_weather\",\"arguments\":42}",
        ] {
            assert_eq!(parse_calls(not_a_call, &s), (not_a_call.to_string(), Vec::new()));
        }
        // An answer that is only a call: bare, fenced, or with Qwen's doubled braces.
        for only in [
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
            "```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\"city\": \"Paris\"}\n}\n```",
            "<tool_call>\n{{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}\n</tool_call>",
            "{{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
        ] {
            let (text, calls) = parse_calls(only, &s);
            assert_eq!((text.as_str(), calls.len()), ("", 1), "{only}");
            assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#, "{only}");
        }
    }
}
