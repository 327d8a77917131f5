//! Chat messages and the chat template that turns them into a prompt.
//!
//! The template is the model's own (`tokenizer.chat_template` in the GGUF metadata), rendered
//! with minijinja the way Hugging Face's `apply_chat_template` renders it (`trim_blocks`,
//! `lstrip_blocks`, Python string methods, `raise_exception`, `strftime_now`,
//! `add_generation_prompt = true`, `tools = none`). llama.cpp's built-in matcher only
//! recognises known template families and renders them from its own C++ code, which for
//! example drops SmolLM2's default system prompt; rendering the file's template ourselves keeps
//! the model's exact behaviour. A model without a template gets ChatML.

use crate::{tools::ToolSpec, EngineError};
use minijinja::{syntax::SyntaxConfig, value::Serde, Environment, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message of a conversation, as in OpenAI's `messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer` (read as `system`), `user` or `assistant`.
    pub role: String,
    /// A string, an array of content parts (only `text` parts are served) or null.
    #[serde(default)]
    pub content: Value,
    /// An assistant message's `tool_calls` (OpenAI's shape), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    /// A `tool` message's `tool_call_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with plain text content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: Value::String(content.into()), tool_calls: None, tool_call_id: None }
    }

    /// The role as the template sees it.
    fn template_role(&self) -> Result<&str, EngineError> {
        match self.role.as_str() {
            "system" | "user" | "assistant" | "tool" => Ok(&self.role),
            "developer" => Ok("system"),
            other => Err(EngineError::InvalidRequest(format!(
                "message role `{}` is not supported (system, developer, user, assistant, tool)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }

    /// The content as one string: text parts are joined with newlines.
    pub fn text(&self) -> Result<String, EngineError> {
        match &self.content {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s.clone()),
            Value::Array(parts) => {
                let mut texts = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let kind = part.get("type").and_then(Value::as_str);
                    match (kind, part.get("text").and_then(Value::as_str)) {
                        (Some("text"), Some(t)) => texts.push(t),
                        (Some("text"), None) => {
                            return Err(EngineError::InvalidRequest(format!(
                                "content part {i} of type `text` needs a string `text`"
                            )))
                        }
                        (Some(other), _) => {
                            return Err(EngineError::InvalidRequest(format!(
                                "content part type `{}` is not supported (text only)",
                                other.chars().take(32).collect::<String>()
                            )))
                        }
                        (None, _) => {
                            return Err(EngineError::InvalidRequest(format!(
                                "content part {i} must be an object with a string `type`"
                            )))
                        }
                    }
                }
                Ok(texts.join("\n"))
            }
            _ => Err(EngineError::InvalidRequest(
                "message `content` must be a string, an array of content parts or null".into(),
            )),
        }
    }
}

/// ChatML, for models whose file carries no template.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Gemma's turn format (a system message joins the first user turn), for Gemma files that carry
/// no template: ChatML would make such a model continue the conversation on its own.
const GEMMA: &str = "{{ bos_token }}{% if messages[0].role == 'system' %}{% set prefix = messages[0].content + '\n\n' %}{% set loop_messages = messages[1:] %}{% else %}{% set prefix = '' %}{% set loop_messages = messages %}{% endif %}{% for message in loop_messages %}{% if message.role == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message.role %}{% endif %}{{ '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') + message.content | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

const NAME: &str = "chat";

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    fallback: bool,
    /// The template renders `tools` itself (else they go in a system message).
    knows_tools: bool,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source` (the model's template), or ChatML when `None`. `bos_token` and
    /// `eos_token` are the texts of the model's special tokens, which templates may use.
    pub fn new(source: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self, EngineError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| EngineError::Template(e.to_string()))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        env.add_template_owned(NAME, source.unwrap_or(CHATML).to_string())
            .map_err(|e| EngineError::Template(format!("{e:#}")))?;
        Ok(Self {
            env,
            fallback: source.is_none(),
            knows_tools: source.is_some_and(|s| s.contains("tools") && s.contains("tool_calls")),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// The template for a model whose file carries none: its family's format where known
    /// (`general.architecture` `gemma*`), else ChatML.
    pub fn fallback(architecture: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self, EngineError> {
        let mut t = match architecture {
            Some(a) if a.starts_with("gemma") => Self::new(Some(GEMMA), bos_token, eos_token)?,
            _ => Self::new(None, bos_token, eos_token)?,
        };
        t.fallback = true;
        Ok(t)
    }

    /// Whether this is a fallback rather than the model's own template.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// Renders the conversation, ending with the assistant's turn opened.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.render_with_tools(messages, None)
    }

    /// [`Self::render`] with the tools the model may call ([`crate::tools`]): through the
    /// template when it knows tools, else as a system message; earlier tool calls and tool
    /// results in the conversation likewise.
    pub fn render_with_tools(&self, messages: &[ChatMessage], tools: Option<&ToolSpec>) -> Result<String, EngineError> {
        if messages.is_empty() {
            return Err(EngineError::InvalidRequest("`messages` must not be empty".into()));
        }
        let tools = tools.filter(|t| t.active());
        let mut msgs = Vec::with_capacity(messages.len() + 1);
        for m in messages {
            msgs.push(self.template_message(m)?);
        }
        if let (Some(spec), false) = (tools, self.knows_tools) {
            let preamble = crate::tools::preamble(spec);
            match msgs.first_mut() {
                Some(first) if first["role"] == "system" => {
                    let text = first["content"].as_str().unwrap_or_default();
                    first["content"] = Value::String(format!("{text}\n\n{preamble}"));
                }
                _ => msgs.insert(0, serde_json::json!({"role": "system", "content": preamble})),
            }
        }
        let tools_value = match (tools, self.knows_tools) {
            (Some(spec), true) => Some(spec.tools.clone()),
            _ => None,
        };
        let tmpl = self.env.get_template(NAME).map_err(|e| EngineError::Template(e.to_string()))?;
        let ctx = minijinja::context! {
            messages => Serde(&msgs),
            add_generation_prompt => true,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
            tools => Serde(&tools_value),
            documents => (),
        };
        tmpl.render(ctx).map_err(|e| match e.kind() {
            ErrorKind::InvalidOperation => EngineError::Template(e.detail().unwrap_or("rejected").to_string()),
            _ => EngineError::Template(format!("{e:#}")),
        })
    }
}

impl ChatTemplate {
    /// One message as the template sees it. Tool calls get their arguments as JSON objects (as
    /// templates print them with `tojson`); for a template without tools, calls and results
    /// become text in the format [`crate::tools::preamble`] describes.
    fn template_message(&self, m: &ChatMessage) -> Result<Value, EngineError> {
        let role = m.template_role()?;
        let text = m.text()?;
        let calls: Vec<(String, Value)> = match &m.tool_calls {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(calls)) if role == "assistant" => calls
                .iter()
                .map(|c| {
                    let f = &c["function"];
                    let name = f["name"].as_str()?.to_string();
                    let args = match &f["arguments"] {
                        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
                        other => other.clone(),
                    };
                    Some((name, args))
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| EngineError::InvalidRequest("`tool_calls` entries need `function.name`".into()))?,
            Some(_) => {
                return Err(EngineError::InvalidRequest(
                    "`tool_calls` must be an array, on an assistant message".into(),
                ))
            }
        };
        if self.knows_tools {
            let mut v = serde_json::json!({"role": role, "content": text});
            if !calls.is_empty() {
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|(n, a)| serde_json::json!({"type": "function", "function": {"name": n, "arguments": a}}))
                    .collect();
                v["tool_calls"] = Value::Array(calls);
            }
            if let Some(id) = &m.tool_call_id {
                v["tool_call_id"] = Value::String(id.clone());
            }
            return Ok(v);
        }
        if role == "tool" {
            return Ok(
                serde_json::json!({"role": "user", "content": format!("<tool_response>\n{text}\n</tool_response>")}),
            );
        }
        let mut content = text;
        for (name, args) in &calls {
            // Written out so the order is the preamble's, whatever serde_json's map keeps.
            let name = Value::String(name.clone());
            content.push_str(&format!("\n<tool_call>\n{{\"name\": {name}, \"arguments\": {args}}}\n</tool_call>"));
        }
        Ok(serde_json::json!({"role": role, "content": content.trim_start()}))
    }
}

/// `strftime_now(format)` of HF templates (UTC): `%Y %m %d %e %B %b %H %M %S %j %A %a %%`.
fn strftime_now(fmt: &str) -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    strftime(fmt, secs)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn strftime(fmt: &str, unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let month = MONTHS[(m - 1) as usize];
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('e') => out.push_str(&format!("{d:2}")),
            Some('B') => out.push_str(month),
            Some('b') => out.push_str(&month[..3]),
            Some('A') => out.push_str(DAYS[weekday]),
            Some('a') => out.push_str(&DAYS[weekday][..3]),
            Some('H') => out.push_str(&format!("{:02}", secs / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs % 60)),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-Instruct's template, as in its GGUF.
    const SMOL: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn smollm_default_system_prompt() {
        let t = ChatTemplate::new(Some(SMOL), "<|im_start|>", "<|im_end|>").unwrap();
        let out = t.render(&[ChatMessage::new("user", "Hi")]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let out = t.render(&[ChatMessage::new("developer", "Be brief."), ChatMessage::new("user", "Hi")]).unwrap();
        assert!(out.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"), "{out}");
    }

    #[test]
    fn chatml_fallback_and_parts() {
        let t = ChatTemplate::new(None, "", "").unwrap();
        assert!(t.is_fallback());
        let parts = ChatMessage {
            content: serde_json::json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
            ..ChatMessage::new("user", "")
        };
        assert_eq!(t.render(&[parts]).unwrap(), "<|im_start|>user\na\nb<|im_end|>\n<|im_start|>assistant\n");
        let image = ChatMessage { content: serde_json::json!([{"type": "image_url"}]), ..ChatMessage::new("user", "") };
        assert!(matches!(t.render(&[image]), Err(EngineError::InvalidRequest(m)) if m.contains("image_url")));
        assert!(matches!(t.render(&[ChatMessage::new("narrator", "x")]), Err(EngineError::InvalidRequest(_))));
        assert!(t.render(&[]).is_err());
    }

    #[test]
    fn gemma_fallback() {
        let t = ChatTemplate::fallback(Some("gemma3"), "<bos>", "<eos>").unwrap();
        assert!(t.is_fallback());
        let msgs = [
            ChatMessage::new("system", "Be brief."),
            ChatMessage::new("user", " Hi "),
            ChatMessage::new("assistant", "Hello"),
            ChatMessage::new("user", "Bye"),
        ];
        assert_eq!(
            t.render(&msgs).unwrap(),
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
        );
        let chatml = ChatTemplate::fallback(Some("llama"), "", "").unwrap();
        assert!(chatml.render(&[ChatMessage::new("user", "x")]).unwrap().starts_with("<|im_start|>user"));
    }

    #[test]
    fn hf_template_features() {
        let src = "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content.strip().upper() }}{% endfor %}{{ bos_token }}{{ tools is none }}";
        let t = ChatTemplate::new(Some(src), "<s>", "</s>").unwrap();
        assert_eq!(t.render(&[ChatMessage::new("user", "  hi ")]).unwrap(), "HI<s>True");
        let err = t.render(&[ChatMessage::new("assistant", "x")]).unwrap_err();
        assert!(err.to_string().contains("user first"), "{err}");
        assert!(ChatTemplate::new(Some("{% for %}"), "", "").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(strftime("%d %b %Y %H:%M:%S %A %j %%", 0), "01 Jan 1970 00:00:00 Thursday 001 %");
        assert_eq!(strftime("%Y-%m-%d %a", 1_709_164_800), "2024-02-29 Thu");
        assert_eq!(civil_from_days(days_from_civil(2000, 3, 1)), (2000, 3, 1));
    }

    #[test]
    fn tools_go_through_a_template_that_knows_them_and_into_a_system_message_otherwise() {
        use crate::tools::ToolSpec;
        let tools =
            serde_json::json!({"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]});
        let spec = ToolSpec::parse(tools.as_object().unwrap()).unwrap();
        let call = serde_json::json!([{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]);
        let msgs = [
            ChatMessage::new("user", "weather?"),
            ChatMessage { tool_calls: Some(call), ..ChatMessage::new("assistant", "") },
            ChatMessage { tool_call_id: Some("call_1".into()), ..ChatMessage::new("tool", "18 C") },
        ];
        let native = "{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }};{% endfor %}\n{% endif %}{% for m in messages %}{{ m.role }}:{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}[{{ c.function.name }} {{ c.function.arguments.city }}]{% endfor %}{% endif %}\n{% endfor %}";
        let t = ChatTemplate::new(Some(native), "", "").unwrap();
        let out = t.render_with_tools(&msgs, spec.as_ref()).unwrap();
        // (trim_blocks eats the newline after each block tag.)
        assert_eq!(out, "TOOLS:get_weather;user:weather?assistant:[get_weather Paris]tool:18 C");
        // Without tools the template gets none.
        assert!(!t.render(&msgs[..1]).unwrap().contains("TOOLS"));
        // ChatML knows no tools: instructions in a system message, calls and results as text.
        let chatml = ChatTemplate::new(None, "", "").unwrap();
        let out = chatml.render_with_tools(&msgs, spec.as_ref()).unwrap();
        assert!(out.starts_with("<|im_start|>system\n# Tools"), "{out}");
        assert!(
            out.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"),
            "{out}"
        );
        assert!(out.contains("<|im_start|>user\n<tool_response>\n18 C\n</tool_response>"), "{out}");
    }
}
