//! Client side: the network's routing extensions to an OpenAI request.
//!
//! Users may add a few fields to an otherwise standard request body to steer
//! how the network serves it (price ceiling, timeout, hardware class). They are
//! meaningful only to the client and proxy, so the client takes them out before
//! the request leaves, and the backend never sees them. Untouched fields are
//! forwarded byte-for-byte.

use bytes::Bytes;
use http::StatusCode;

use crate::json_object::{parse_value, Field, RawObject};
use crate::ApiError;

/// Fields the network understands and strips before forwarding.
pub const EXTENSION_FIELDS: &[&str] = &["max_coefficient", "timeout", "hardware", "request_guid", "enable_debug"];

/// Largest accepted `timeout`, in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 3600.0;

/// What the client needs to route a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoutingFields {
    pub model: String,
    pub stream: bool,
    /// Highest price coefficient the user accepts.
    pub max_coefficient: Option<u32>,
    /// Overall request timeout in seconds, in `(0, 3600]`.
    pub timeout: Option<f64>,
    /// Required hardware class.
    pub hardware: Option<String>,
    /// The output bound ([`crate::max_tokens`]). Left in the forwarded body.
    pub max_tokens: Option<u64>,
    /// The optional features the body uses and its number of choices; routed on.
    pub features: crate::FeatureUse,
}

/// Split a request body into its routing fields and the body to forward.
///
/// Errors: `413 body_too_large` when `body` exceeds `max_body` bytes;
/// `400 invalid_json` when it is not a JSON object; `400 missing_model` when
/// `model` is absent or not a string; `400 invalid_field` when a field the
/// network reads (its own, the output bound, an optional feature's) has the
/// wrong type or range.
pub fn extract_routing(body: &[u8], max_body: usize) -> Result<(RoutingFields, Bytes), ApiError> {
    if body.len() > max_body {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "body_too_large",
            format!("request body is {} bytes, the limit is {max_body}", body.len()),
        ));
    }
    let obj = RawObject::parse(body)?;
    let model = match obj.get("model") {
        None => return Err(ApiError::bad_request("missing_model", "request body must contain a `model` string")),
        Some(f) => parse_value::<String>(f)
            .ok_or_else(|| ApiError::bad_request("missing_model", "`model` must be a string"))?,
    };
    let mut fields = RoutingFields { model, ..RoutingFields::default() };
    if let Some(f) = obj.get("stream") {
        fields.stream = opt(f, "a boolean")?.unwrap_or(false);
    }
    if let Some(f) = obj.get("max_coefficient") {
        fields.max_coefficient = opt(f, "a non-negative integer below 2^32")?;
    }
    if let Some(f) = obj.get("timeout") {
        fields.timeout = opt::<f64>(f, "a number of seconds")?;
        if let Some(t) = fields.timeout {
            if !(t > 0.0 && t <= MAX_TIMEOUT_SECS) {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("`timeout` must be in (0, {MAX_TIMEOUT_SECS}] seconds, got {t}"),
                ));
            }
        }
    }
    if let Some(f) = obj.get("hardware") {
        fields.hardware = opt(f, "a string")?;
    }
    fields.max_tokens = obj.max_tokens()?;
    fields.features = crate::features::features_used(&obj)?;
    let forwarded = if obj.fields.iter().any(|f| is_extension(&f.key)) {
        Bytes::from(obj.write(is_extension, &[]))
    } else {
        Bytes::copy_from_slice(body)
    };
    Ok((fields, forwarded))
}

fn is_extension(key: &str) -> bool {
    EXTENSION_FIELDS.contains(&key)
}

/// Parse an optional (`null` allowed) field, or fail with `invalid_field`.
pub(crate) fn opt<'a, T: serde::Deserialize<'a>>(f: &Field<'a>, expected: &str) -> Result<Option<T>, ApiError> {
    if f.is_null() {
        return Ok(None);
    }
    parse_value::<T>(f).map(Some).ok_or_else(|| {
        ApiError::bad_request("invalid_field", format!("`{}` must be {expected}, got {}", f.key, preview(f.text())))
    })
}

/// A short excerpt of a raw value for error messages.
pub(crate) fn preview(raw: &str) -> String {
    const MAX: usize = 40;
    if raw.len() <= MAX {
        return raw.to_owned();
    }
    let mut end = MAX;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &raw[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_cuts_on_char_boundary() {
        let s = "é".repeat(40);
        let p = preview(&s);
        assert!(p.ends_with("...") && p.len() <= 43);
    }
}
