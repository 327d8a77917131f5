//! Structured outputs: OpenAI's `response_format` turned into a grammar that the sampler
//! enforces token by token, so the answer always parses and, for `json_schema`, fits the schema
//! (within `max_tokens`: an answer cut by the bound ends with `finish_reason: "length"`).
//!
//! The schema is converted by llama.cpp's own JSON-schema-to-grammar converter (its `common`
//! library, the one llama.cpp's server uses); the grammar is GBNF, applied by llama.cpp's
//! grammar sampler ([`crate::llama`]).

use cocoon_openai::ApiError;
use serde_json::Value;

/// Largest schema accepted, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 32 * 1024;

/// What shape the answer must have.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON that fits `schema`.
    JsonSchema {
        /// The schema's `name`, as given.
        name: String,
        /// The JSON schema.
        schema: Value,
    },
}

fn invalid(expected: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("`response_format` must be {expected}"))
}

impl ResponseFormat {
    /// Reads `response_format`: `{"type": "text"}`, `{"type": "json_object"}` or
    /// `{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": ...}}`
    /// (the schema is always enforced, strict or not).
    pub fn parse(v: &Value) -> Result<Self, ApiError> {
        const SHAPES: &str = "{\"type\": \"text\" | \"json_object\" | \"json_schema\"}, with a `json_schema` \
                              object holding a `schema` for \"json_schema\"";
        match v.get("type").and_then(Value::as_str) {
            Some("text") => Ok(ResponseFormat::Text),
            Some("json_object") => Ok(ResponseFormat::JsonObject),
            Some("json_schema") => {
                let spec = v.get("json_schema").filter(|s| s.is_object()).ok_or_else(|| invalid(SHAPES))?;
                let name = spec.get("name").and_then(Value::as_str).unwrap_or("response").to_string();
                let schema = spec.get("schema").filter(|s| s.is_object()).ok_or_else(|| invalid(SHAPES))?;
                if schema.to_string().len() > MAX_SCHEMA_BYTES {
                    return Err(ApiError::bad_request(
                        "invalid_field",
                        format!("`response_format.json_schema.schema` is larger than {MAX_SCHEMA_BYTES} bytes"),
                    ));
                }
                Ok(ResponseFormat::JsonSchema { name, schema: schema.clone() })
            }
            _ => Err(invalid(SHAPES)),
        }
    }

    /// The schema the answer must fit, if any (`json_object`: any object).
    pub fn schema(&self) -> Option<Value> {
        match self {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(serde_json::json!({"type": "object"})),
            ResponseFormat::JsonSchema { schema, .. } => Some(schema.clone()),
        }
    }

    /// The GBNF grammar the answer is held to (`None` for free text). A schema llama.cpp's
    /// converter cannot handle is the caller's error (400 `invalid_field`).
    pub fn grammar(&self) -> Result<Option<String>, ApiError> {
        let Some(schema) = self.schema() else { return Ok(None) };
        schema_grammar(&schema).map(Some).map_err(|why| {
            ApiError::bad_request(
                "invalid_field",
                format!("`response_format` has a schema this engine cannot enforce: {why}"),
            )
        })
    }
}

/// llama.cpp's GBNF grammar for `schema` (its top rule is `root`), with compact whitespace.
#[cfg(feature = "llama")]
pub(crate) fn schema_grammar(schema: &Value) -> Result<String, String> {
    let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string()).map_err(|e| e.to_string())?;
    Ok(compact_space(&grammar))
}

/// The converter lets JSON have up to two newlines and 20 tabs or spaces between any two
/// tokens; sampled at temperature 1, SmolLM2 spent whole `max_tokens` budgets on such
/// whitespace and never closed the object. One optional space is all JSON needs.
#[cfg_attr(not(feature = "llama"), allow(dead_code))]
fn compact_space(grammar: &str) -> String {
    grammar
        .lines()
        .map(|line| if line.starts_with("space ::=") { "space ::= \" \"?" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(not(feature = "llama"))]
pub(crate) fn schema_grammar(_schema: &Value) -> Result<String, String> {
    Err("this build has no embedded engine (cargo feature `llama`)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_shapes_and_bad_ones() {
        assert_eq!(ResponseFormat::parse(&json!({"type": "text"})).unwrap(), ResponseFormat::Text);
        assert_eq!(ResponseFormat::parse(&json!({"type": "json_object"})).unwrap(), ResponseFormat::JsonObject);
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let f = ResponseFormat::parse(
            &json!({"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": true}}),
        )
        .unwrap();
        assert_eq!(f.schema(), Some(schema));
        for bad in [
            json!({"type": "yaml"}),
            json!({"type": "json_schema"}),
            json!({"type": "json_schema", "json_schema": {"name": "x"}}),
            json!({"type": "json_schema", "json_schema": {"schema": "not an object"}}),
            json!("json_object"),
        ] {
            assert_eq!(ResponseFormat::parse(&bad).unwrap_err().code, "invalid_field", "{bad}");
        }
        let huge =
            json!({"type": "json_schema", "json_schema": {"schema": {"description": "x".repeat(MAX_SCHEMA_BYTES)}}});
        assert!(ResponseFormat::parse(&huge).unwrap_err().message.contains("larger"));
        assert_eq!(ResponseFormat::Text.grammar().unwrap(), None);
    }

    #[cfg(feature = "llama")]
    #[test]
    fn schemas_become_grammars() {
        let g = ResponseFormat::JsonObject.grammar().unwrap().unwrap();
        assert!(g.contains("root"), "{g}");
        assert!(g.lines().any(|l| l == "space ::= \" \"?"), "{g}");
        assert!(!g.contains("{0,20}"), "{g}");
        let schema = json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}}, "required": ["city"]});
        let g = ResponseFormat::JsonSchema { name: "c".into(), schema }.grammar().unwrap().unwrap();
        assert!(g.contains("city"), "{g}");
        let bad = ResponseFormat::JsonSchema { name: "c".into(), schema: json!({"$ref": "#/definitions/missing"}) };
        assert_eq!(bad.grammar().unwrap_err().code, "invalid_field");
    }
}
