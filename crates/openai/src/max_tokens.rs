//! The one rule for a request's output bound, used by every hop that reads it: the client
//! (what the request is reserved for), the worker (what it enforces) and the embedded engine
//! (what it generates).

use serde_json::Value;

use crate::ApiError;

/// The fields that bound a request's output: OpenAI's `max_tokens` and chat's newer
/// `max_completion_tokens`.
pub const MAX_TOKENS_FIELDS: [&str; 2] = ["max_tokens", "max_completion_tokens"];

/// A request's output bound, read with `get` (which returns a field's value, if present).
///
/// `null` is absent; otherwise each field must be a positive integer; when both are set the
/// smaller wins. Error: `400 invalid_field` naming the field.
pub fn max_tokens(get: impl Fn(&str) -> Option<Value>) -> Result<Option<u64>, ApiError> {
    let mut bound: Option<u64> = None;
    for key in MAX_TOKENS_FIELDS {
        match get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                let n = v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::bad_request("invalid_field", format!("`{key}` must be a positive integer, got {v}"))
                })?;
                bound = Some(bound.map_or(n, |m| m.min(n)));
            }
        }
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(v: Value) -> Result<Option<u64>, ApiError> {
        max_tokens(|k| v.get(k).cloned())
    }

    #[test]
    fn one_rule_for_every_hop() {
        assert_eq!(of(json!({})).unwrap(), None);
        assert_eq!(of(json!({"max_tokens": null})).unwrap(), None);
        assert_eq!(of(json!({"max_tokens": 7})).unwrap(), Some(7));
        assert_eq!(of(json!({"max_completion_tokens": 9})).unwrap(), Some(9));
        assert_eq!(of(json!({"max_tokens": 7, "max_completion_tokens": 3})).unwrap(), Some(3));
        for bad in [json!(0), json!(-1), json!(1.5), json!("8"), json!(true)] {
            let e = of(json!({ "max_tokens": bad })).unwrap_err();
            assert_eq!(e.code, "invalid_field", "{bad}");
            assert!(e.message.contains("max_tokens"), "{}", e.message);
        }
    }
}
