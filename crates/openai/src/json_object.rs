//! A top-level JSON object kept as ordered `(key, raw value)` pairs.
//!
//! Request rewriting (stripping routing extensions, forcing usage reporting)
//! must not alter the fields it does not touch: re-serialising through
//! `serde_json::Value` would reorder keys and round large integers or unusual
//! float spellings. Keeping each value as its raw text avoids both. Duplicate
//! keys are rejected because different JSON parsers resolve them differently,
//! which would let a request say one thing to the network and another to the
//! backend.

use std::fmt;

use serde::de::{self, Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::ApiError;

/// One top-level field: its (unescaped) key and raw JSON value text.
pub(crate) struct Field<'a> {
    pub key: String,
    pub raw: &'a RawValue,
}

impl Field<'_> {
    /// The raw JSON text of the value.
    pub fn text(&self) -> &str {
        self.raw.get()
    }

    /// Whether the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.text() == "null"
    }
}

/// An ordered, duplicate-free top-level JSON object.
pub(crate) struct RawObject<'a> {
    pub fields: Vec<Field<'a>>,
}

impl<'a> RawObject<'a> {
    /// Parse `body`, which must be a single JSON object.
    pub fn parse(body: &'a [u8]) -> Result<Self, ApiError> {
        let invalid = |e: serde_json::Error| {
            ApiError::bad_request("invalid_json", format!("request body is not valid JSON: {e}"))
        };
        let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
        if first != Some(b'{') {
            return Err(match serde_json::from_slice::<de::IgnoredAny>(body) {
                Ok(_) => ApiError::bad_request("invalid_json", "request body must be a JSON object"),
                Err(e) => invalid(e),
            });
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let fields = (&mut de).deserialize_map(FieldsVisitor).map_err(invalid)?;
        de.end().map_err(invalid)?;
        let mut seen = std::collections::HashSet::with_capacity(fields.len());
        for f in &fields {
            if !seen.insert(f.key.as_str()) {
                return Err(ApiError::bad_request(
                    "invalid_json",
                    format!("duplicate field `{}` in request body", f.key),
                ));
            }
        }
        Ok(Self { fields })
    }

    /// The field named `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The request's output bound, by the one rule of [`crate::max_tokens`].
    pub fn max_tokens(&self) -> Result<Option<u64>, crate::ApiError> {
        crate::max_tokens(|k| self.get(k).and_then(parse_value::<serde_json::Value>))
    }

    /// Serialise back to JSON, dropping the keys for which `skip` is true.
    /// `extra` holds `(key, raw json)` pairs: each replaces the value of an
    /// existing key in place, or is appended when the key is absent.
    pub fn write(&self, skip: impl Fn(&str) -> bool, extra: &[(&str, &str)]) -> Vec<u8> {
        let cap = self.fields.iter().map(|f| f.key.len() + f.text().len() + 4).sum::<usize>()
            + extra.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>()
            + 2;
        let mut out = Vec::with_capacity(cap);
        out.push(b'{');
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, key: &str, value: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            // Serialising a &str to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        };
        for f in &self.fields {
            if skip(&f.key) {
                continue;
            }
            match extra.iter().find(|(k, _)| *k == f.key) {
                Some((_, v)) => push(&mut out, &f.key, v),
                None => push(&mut out, &f.key, f.text()),
            }
        }
        for (k, v) in extra {
            if self.get(k).is_none() {
                push(&mut out, k, v);
            }
        }
        out.push(b'}');
        out
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<Field<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<String>()? {
            let raw: &'de RawValue = map.next_value()?;
            fields.push(Field { key, raw });
        }
        Ok(fields)
    }
}

/// Helper for deserialising a raw field value into a typed one.
pub(crate) fn parse_value<'a, T: de::Deserialize<'a>>(field: &Field<'a>) -> Option<T> {
    serde_json::from_str(field.raw.get()).ok()
}
