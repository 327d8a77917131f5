//! Optional OpenAI capabilities: tool calls, logprobs, logit bias and several choices (`n`).
//!
//! Not every backend has them (vLLM, SGLang, llama.cpp's server and Ollama have most; the
//! embedded engine has none yet), so they travel as part of a request's terms: the client
//! reads which ones a body uses ([`features_used`]), the proxy routes the request only to a
//! worker that announced all of them, and the worker forwards a body only when its backend
//! has what the body uses and the body uses what the terms say. A field of a capability nobody
//! declared stays a clear `unsupported_field` 400, never silently dropped.

use crate::json_object::{parse_value, Field, RawObject};
use crate::routing::preview;
use crate::ApiError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// One optional capability of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Tool (function) calls: `tools`, `tool_choice`, `parallel_tool_calls`.
    Tools,
    /// Log-probabilities of the generated tokens: `logprobs`, `top_logprobs`.
    Logprobs,
    /// Biasing tokens: `logit_bias`.
    LogitBias,
    /// More than one choice per request: `n` above 1.
    Choices,
}

/// Most choices one request may ask for (`n`).
pub const MAX_CHOICES: u32 = 16;

impl Feature {
    /// Every feature, in the order of their bits.
    pub const ALL: [Feature; 4] = [Feature::Tools, Feature::Logprobs, Feature::LogitBias, Feature::Choices];

    /// The name in configs, announcements and headers.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tools => "tools",
            Feature::Logprobs => "logprobs",
            Feature::LogitBias => "logit_bias",
            Feature::Choices => "n",
        }
    }

    /// The feature called `name`.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The body fields that belong to this feature.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Feature::Tools => &["tools", "tool_choice", "parallel_tool_calls"],
            Feature::Logprobs => &["logprobs", "top_logprobs"],
            Feature::LogitBias => &["logit_bias"],
            Feature::Choices => &["n"],
        }
    }

    /// The feature a body field belongs to, if any (`n` belongs to [`Feature::Choices`], though
    /// `n: 1` does not use it).
    pub fn of_field(key: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.fields().contains(&key))
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Feature`]s. Written as their names joined by commas (`tools,logprobs`), and in
/// JSON as a list of names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet(u8);

impl FeatureSet {
    /// No feature.
    pub const EMPTY: FeatureSet = FeatureSet(0);

    /// This set and `f`.
    pub const fn with(self, f: Feature) -> Self {
        FeatureSet(self.0 | f.bit())
    }

    pub fn contains(self, f: Feature) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The features of this set that `other` lacks.
    pub fn missing_from(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 & !other.0)
    }

    /// Whether every feature of this set is in `other`.
    pub fn is_subset(self, other: FeatureSet) -> bool {
        self.missing_from(other).is_empty()
    }

    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// Parses a comma-separated list of names; an unknown name is an error naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut set = FeatureSet::EMPTY;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let f = Feature::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                format!("unknown feature {:?} (known: {})", preview(name), known.join(", "))
            })?;
            set = set.with(f);
        }
        Ok(set)
    }
}

impl FromIterator<Feature> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = Feature>>(iter: I) -> Self {
        iter.into_iter().fold(FeatureSet::EMPTY, FeatureSet::with)
    }
}

impl fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Feature::name).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for FeatureSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Feature::name))
    }
}

impl<'de> Deserialize<'de> for FeatureSet {
    /// Names this build does not know are skipped: a newer worker's announcement stays
    /// readable, and a request is never routed on a feature the reader cannot check.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Ok(names.iter().filter_map(|n| Feature::from_name(n)).collect())
    }
}

impl FeatureSet {
    /// For configs (`#[serde(deserialize_with = ...)]`): a list of names where an unknown name
    /// is an error naming it, not skipped.
    pub fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        FeatureSet::parse(&names.join(",")).map_err(serde::de::Error::custom)
    }
}

/// What a body asks beyond plain generation: the features it uses and how many choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureUse {
    pub features: FeatureSet,
    /// `n`: choices generated (1 unless the body asks for more).
    pub choices: u32,
}

impl Default for FeatureUse {
    fn default() -> Self {
        FeatureUse { features: FeatureSet::EMPTY, choices: 1 }
    }
}

/// The features `obj` uses, with each of their fields checked for type and range. Any field of
/// a feature uses it, whatever its value (`"logprobs": false` too: a backend without logprobs
/// may refuse the field itself), except `n`, which uses [`Feature::Choices`] only above 1.
///
/// Errors: `400 invalid_field` naming the field.
pub(crate) fn features_used(obj: &RawObject<'_>) -> Result<FeatureUse, ApiError> {
    let mut used = FeatureUse::default();
    for f in &obj.fields {
        let Some(feature) = Feature::of_field(&f.key) else { continue };
        let value = parse_value::<Value>(f).ok_or_else(|| invalid(f, "valid JSON"))?;
        let uses = match f.key.as_str() {
            _ if value.is_null() => f.key != "n",
            "tools" => match &value {
                Value::Array(tools) if tools.iter().all(is_tool) => true,
                _ => {
                    return Err(invalid(
                        f,
                        "an array of {\"type\": \"function\", \"function\": {\"name\": ...}} objects",
                    ))
                }
            },
            "tool_choice" => match &value {
                Value::String(s) if ["none", "auto", "required"].contains(&s.as_str()) => true,
                Value::Object(o) if o.get("type").is_some_and(Value::is_string) => true,
                _ => return Err(invalid(f, "\"none\", \"auto\", \"required\" or an object with a `type`")),
            },
            "parallel_tool_calls" => match value {
                Value::Bool(_) => true,
                _ => return Err(invalid(f, "a boolean")),
            },
            // A boolean in chat completions, a count of 0..=5 in completions.
            "logprobs" => match value {
                Value::Bool(_) => true,
                Value::Number(n) if n.as_u64().is_some_and(|n| n <= 5) => true,
                _ => return Err(invalid(f, "a boolean (chat) or an integer in 0..=5 (completions)")),
            },
            "top_logprobs" => match value {
                Value::Number(n) if n.as_u64().is_some_and(|n| n <= 20) => true,
                _ => return Err(invalid(f, "an integer in 0..=20")),
            },
            "logit_bias" => match &value {
                Value::Object(o) if o.len() <= 300 && o.iter().all(is_bias) => true,
                _ => return Err(invalid(f, "an object of at most 300 token ids mapped to numbers in [-100, 100]")),
            },
            "n" => match value.as_u64() {
                Some(n) if (1..=u64::from(MAX_CHOICES)).contains(&n) => {
                    used.choices = n as u32;
                    n > 1
                }
                _ => return Err(invalid(f, &format!("an integer in 1..={MAX_CHOICES}"))),
            },
            _ => true,
        };
        if uses {
            used.features = used.features.with(feature);
        }
    }
    Ok(used)
}

fn is_tool(t: &Value) -> bool {
    t.get("type").and_then(Value::as_str) == Some("function")
        && t.get("function").and_then(|f| f.get("name")).is_some_and(Value::is_string)
}

fn is_bias((token, bias): (&String, &Value)) -> bool {
    token.parse::<u32>().is_ok() && bias.as_f64().is_some_and(|b| (-100.0..=100.0).contains(&b))
}

fn invalid(f: &Field<'_>, expected: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("`{}` must be {expected}, got {}", f.key, preview(f.text())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(body: &str) -> Result<FeatureUse, ApiError> {
        features_used(&RawObject::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        let all: FeatureSet = Feature::ALL.into_iter().collect();
        assert_eq!(all.to_string(), "tools,logprobs,logit_bias,n");
        assert_eq!(FeatureSet::parse(&all.to_string()), Ok(all));
        assert_eq!(FeatureSet::parse(""), Ok(FeatureSet::EMPTY));
        assert!(FeatureSet::parse("tools,vision").unwrap_err().contains("vision"));
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(json, r#"["tools","logprobs","logit_bias","n"]"#);
        // A name from a newer build is skipped, not an error.
        let read: FeatureSet = serde_json::from_str(r#"["tools","vision"]"#).unwrap();
        assert_eq!(read, FeatureSet::EMPTY.with(Feature::Tools));
        let mut de = serde_json::Deserializer::from_str(r#"["tools","vision"]"#);
        assert!(FeatureSet::deserialize_strict(&mut de).unwrap_err().to_string().contains("vision"));
        let tools = FeatureSet::EMPTY.with(Feature::Tools);
        assert!(tools.is_subset(all) && !all.is_subset(tools));
        assert_eq!(all.missing_from(tools).iter().count(), 3);
    }

    #[test]
    fn a_body_uses_the_features_whose_fields_it_has() {
        let tool = r#"{"type":"function","function":{"name":"get_weather","parameters":{}}}"#;
        let u =
            used(&format!(r#"{{"model":"m","tools":[{tool}],"tool_choice":"auto","n":3,"logprobs":true}}"#)).unwrap();
        let want: FeatureSet = [Feature::Tools, Feature::Choices, Feature::Logprobs].into_iter().collect();
        assert_eq!(u, FeatureUse { features: want, choices: 3 });
        // One choice uses nothing; any field of a feature uses it, even null or false.
        assert_eq!(used(r#"{"model":"m","n":1}"#).unwrap(), FeatureUse::default());
        assert_eq!(used(r#"{"model":"m","n":null}"#).unwrap(), FeatureUse::default());
        let odd = used(r#"{"model":"m","tools":[],"tool_choice":null,"logprobs":false}"#).unwrap();
        assert_eq!(odd.features, [Feature::Tools, Feature::Logprobs].into_iter().collect());
        assert_eq!(
            used(r#"{"logit_bias":{"15339":-100}}"#).unwrap().features,
            FeatureSet::EMPTY.with(Feature::LogitBias)
        );
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for body in [
            r#"{"tools":[{"type":"function"}]}"#,
            r#"{"tools":"all"}"#,
            r#"{"tool_choice":"sometimes"}"#,
            r#"{"parallel_tool_calls":1}"#,
            r#"{"logprobs":"yes"}"#,
            r#"{"top_logprobs":21}"#,
            r#"{"logit_bias":{"hello":1}}"#,
            r#"{"logit_bias":{"1":101}}"#,
            r#"{"n":0}"#,
            r#"{"n":17}"#,
        ] {
            let e = used(body).unwrap_err();
            assert_eq!(e.code, "invalid_field", "{body}");
            let key = body.split('"').nth(1).unwrap();
            assert!(e.message.contains(&format!("`{key}`")), "{body}: {}", e.message);
        }
    }
}
