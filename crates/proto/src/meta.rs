//! Per-request metadata, carried in HTTP/2 request headers: the request's [`Terms`] and how
//! it may be routed.
//!
//! The client parses the OpenAI body once and lifts out the terms (endpoint, model, stream,
//! output bound) and the routing wishes (price ceiling, timeout, hardware). Proxies route and
//! reserve on these headers without parsing the body, and add the chosen worker's
//! coefficient; the worker checks the body against the terms and refuses one that disagrees,
//! so what the proxy reserved for is what the backend runs.

use cocoon_openai::{Endpoint, Feature, FeatureSet, MAX_CHOICES};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

pub const H_REQUEST_ID: HeaderName = HeaderName::from_static("cocoon-request-id");
pub const H_ENDPOINT: HeaderName = HeaderName::from_static("cocoon-endpoint");
pub const H_MODEL: HeaderName = HeaderName::from_static("cocoon-model");
pub const H_STREAM: HeaderName = HeaderName::from_static("cocoon-stream");
pub const H_MAX_COEFFICIENT: HeaderName = HeaderName::from_static("cocoon-max-coefficient");
pub const H_TIMEOUT_MS: HeaderName = HeaderName::from_static("cocoon-timeout-ms");
pub const H_HARDWARE: HeaderName = HeaderName::from_static("cocoon-hardware");
pub const H_MAX_TOKENS: HeaderName = HeaderName::from_static("cocoon-max-tokens");
pub const H_COEFFICIENT: HeaderName = HeaderName::from_static("cocoon-coefficient");
pub const H_FEATURES: HeaderName = HeaderName::from_static("cocoon-features");
pub const H_CHOICES: HeaderName = HeaderName::from_static("cocoon-choices");

/// Longest model or hardware name we route on.
pub const MAX_NAME_LEN: usize = 256;

/// What one request is: defined once here, derived from the body by the client, reserved for
/// and priced by the proxy, and enforced by the worker (a body that disagrees is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub endpoint: Endpoint,
    pub model: String,
    /// Whether the answer is an SSE stream (must equal the body's `stream`).
    pub stream: bool,
    /// The output bound ([`cocoon_openai::max_tokens`]); the proxy fills in its default when
    /// the body sets none, and the worker holds the backend to it.
    pub max_tokens: Option<u64>,
    /// The chosen worker's price coefficient (per-mille), recorded by the proxy when it
    /// chose the worker: the request is priced at it, whatever the worker says later.
    pub coefficient: Option<u32>,
    /// The optional features the body uses (`cocoon-features`, absent when none): the proxy
    /// routes only to a worker that announced them all.
    pub features: FeatureSet,
    /// Choices generated (`n`; `cocoon-choices`, absent when 1): each may produce up to
    /// `max_tokens`.
    pub choices: u32,
}

impl Terms {
    /// The terms of a request whose body gave `routing` (a client's first look at a body).
    pub fn of(endpoint: Endpoint, routing: &cocoon_openai::RoutingFields) -> Self {
        Terms {
            endpoint,
            model: routing.model.clone(),
            stream: routing.stream,
            max_tokens: routing.max_tokens,
            coefficient: None,
            features: routing.features.features,
            choices: routing.features.choices,
        }
    }

    /// The most completion tokens the request may produce: its output bound (else `default`)
    /// for each of its choices; none for an endpoint that generates nothing (embeddings).
    pub fn output_bound(&self, default: u64) -> u64 {
        if !self.endpoint.generates() {
            return 0;
        }
        self.max_tokens.unwrap_or(default).saturating_mul(u64::from(self.choices.max(1)))
    }
}

/// Metadata of one inference request: its terms and how it may be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferMeta {
    /// Unique per request, for logs across hops.
    pub request_id: String,
    pub terms: Terms,
    /// Highest worker price coefficient the client accepts (per-mille).
    pub max_coefficient: u32,
    /// Time this hop has left for the whole request, streaming included.
    pub timeout: Duration,
    /// Optional hardware constraint ("cpu" or a GPU model).
    pub hardware: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetaError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("invalid header {name}: {why}")]
    Invalid { name: &'static str, why: String },
}

fn invalid(name: &'static str, why: impl Into<String>) -> MetaError {
    MetaError::Invalid { name, why: why.into() }
}

fn name_value(name: &'static str, s: &str) -> Result<HeaderValue, MetaError> {
    if s.is_empty() || s.len() > MAX_NAME_LEN {
        return Err(invalid(name, format!("must be 1..={MAX_NAME_LEN} bytes")));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(invalid(name, "must be visible ASCII"));
    }
    HeaderValue::from_str(s).map_err(|_| invalid(name, "must be visible ASCII"))
}

impl InferMeta {
    /// Writes the metadata into request headers. Fails only on names that cannot be headers.
    pub fn write(&self, h: &mut HeaderMap) -> Result<(), MetaError> {
        h.insert(H_REQUEST_ID, name_value("cocoon-request-id", &self.request_id)?);
        let t = &self.terms;
        h.insert(H_ENDPOINT, HeaderValue::from_static(t.endpoint.path()));
        h.insert(H_MODEL, name_value("cocoon-model", &t.model)?);
        h.insert(H_STREAM, HeaderValue::from_static(if t.stream { "1" } else { "0" }));
        h.insert(H_MAX_COEFFICIENT, HeaderValue::from(self.max_coefficient));
        h.insert(H_TIMEOUT_MS, HeaderValue::from(self.timeout.as_millis().min(u64::MAX as u128) as u64));
        if let Some(hw) = &self.hardware {
            h.insert(H_HARDWARE, name_value("cocoon-hardware", hw)?);
        }
        if let Some(n) = t.max_tokens {
            h.insert(H_MAX_TOKENS, HeaderValue::from(n));
        }
        if let Some(c) = t.coefficient {
            h.insert(H_COEFFICIENT, HeaderValue::from(c));
        }
        if !t.features.is_empty() {
            h.insert(H_FEATURES, name_value("cocoon-features", &t.features.to_string())?);
        }
        if t.choices != 1 {
            h.insert(H_CHOICES, HeaderValue::from(t.choices));
        }
        Ok(())
    }

    /// Reads and validates the metadata from request headers.
    pub fn read(h: &HeaderMap) -> Result<Self, MetaError> {
        fn text<'a>(h: &'a HeaderMap, n: &HeaderName, name: &'static str) -> Result<Option<&'a str>, MetaError> {
            match h.get(n) {
                None => Ok(None),
                Some(v) => v.to_str().map(Some).map_err(|_| invalid(name, "must be visible ASCII")),
            }
        }
        fn req<'a>(h: &'a HeaderMap, n: &HeaderName, name: &'static str) -> Result<&'a str, MetaError> {
            text(h, n, name)?.ok_or(MetaError::Missing(name))
        }
        fn num<T: std::str::FromStr>(s: &str, name: &'static str) -> Result<T, MetaError> {
            s.parse().map_err(|_| invalid(name, format!("{s:?} is not a number")))
        }

        let request_id = req(h, &H_REQUEST_ID, "cocoon-request-id")?.to_string();
        let endpoint_s = req(h, &H_ENDPOINT, "cocoon-endpoint")?;
        let endpoint = Endpoint::from_path(endpoint_s)
            .ok_or_else(|| invalid("cocoon-endpoint", format!("unknown endpoint {endpoint_s:?}")))?;
        let model = req(h, &H_MODEL, "cocoon-model")?.to_string();
        if model.is_empty() || model.len() > MAX_NAME_LEN {
            return Err(invalid("cocoon-model", format!("must be 1..={MAX_NAME_LEN} bytes")));
        }
        let stream = match req(h, &H_STREAM, "cocoon-stream")? {
            "1" => true,
            "0" => false,
            other => return Err(invalid("cocoon-stream", format!("{other:?} is not 0 or 1"))),
        };
        let max_coefficient = num(req(h, &H_MAX_COEFFICIENT, "cocoon-max-coefficient")?, "cocoon-max-coefficient")?;
        let timeout_ms: u64 = num(req(h, &H_TIMEOUT_MS, "cocoon-timeout-ms")?, "cocoon-timeout-ms")?;
        if timeout_ms == 0 {
            return Err(invalid("cocoon-timeout-ms", "must be positive"));
        }
        let hardware = text(h, &H_HARDWARE, "cocoon-hardware")?.map(str::to_string);
        let max_tokens =
            text(h, &H_MAX_TOKENS, "cocoon-max-tokens")?.map(|s| num::<u64>(s, "cocoon-max-tokens")).transpose()?;
        if max_tokens == Some(0) {
            return Err(invalid("cocoon-max-tokens", "must be positive"));
        }
        let coefficient =
            text(h, &H_COEFFICIENT, "cocoon-coefficient")?.map(|s| num::<u32>(s, "cocoon-coefficient")).transpose()?;
        if coefficient == Some(0) {
            return Err(invalid("cocoon-coefficient", "must be positive"));
        }
        let features = match text(h, &H_FEATURES, "cocoon-features")? {
            None => FeatureSet::EMPTY,
            Some(list) => FeatureSet::parse(list).map_err(|why| invalid("cocoon-features", why))?,
        };
        let choices =
            text(h, &H_CHOICES, "cocoon-choices")?.map(|s| num::<u32>(s, "cocoon-choices")).transpose()?.unwrap_or(1);
        if !(1..=MAX_CHOICES).contains(&choices) {
            return Err(invalid("cocoon-choices", format!("must be 1..={MAX_CHOICES}")));
        }
        if (choices > 1) != features.contains(Feature::Choices) {
            return Err(invalid("cocoon-choices", "disagrees with the `n` feature of cocoon-features"));
        }
        Ok(Self {
            request_id,
            terms: Terms { endpoint, model, stream, max_tokens, coefficient, features, choices },
            max_coefficient,
            timeout: Duration::from_millis(timeout_ms),
            hardware,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InferMeta {
        InferMeta {
            request_id: "r-1".into(),
            terms: Terms {
                endpoint: Endpoint::ChatCompletions,
                model: "qwen3-8b".into(),
                stream: true,
                max_tokens: Some(256),
                coefficient: Some(1500),
                features: [Feature::Tools, Feature::Choices].into_iter().collect(),
                choices: 2,
            },
            max_coefficient: 4000,
            timeout: Duration::from_millis(114_000),
            hardware: Some("H100".into()),
        }
    }

    #[test]
    fn round_trip() {
        let mut h = HeaderMap::new();
        sample().write(&mut h).unwrap();
        assert_eq!(InferMeta::read(&h).unwrap(), sample());
    }

    #[test]
    fn rejects_bad_values() {
        let mut h = HeaderMap::new();
        sample().write(&mut h).unwrap();
        let mut bad = h.clone();
        bad.insert(H_TIMEOUT_MS, HeaderValue::from_static("soon"));
        assert!(matches!(InferMeta::read(&bad), Err(MetaError::Invalid { name: "cocoon-timeout-ms", .. })));
        let mut bad = h.clone();
        bad.remove(H_MODEL);
        assert_eq!(InferMeta::read(&bad), Err(MetaError::Missing("cocoon-model")));
        let mut bad = h.clone();
        bad.insert(H_ENDPOINT, HeaderValue::from_static("/v1/images/generations"));
        assert!(InferMeta::read(&bad).is_err());
        let mut embeddings = h.clone();
        embeddings.insert(H_ENDPOINT, HeaderValue::from_static("/v1/embeddings"));
        let terms = InferMeta::read(&embeddings).unwrap().terms;
        assert_eq!(terms.endpoint, Endpoint::Embeddings);
        assert_eq!(terms.output_bound(512), 0, "embeddings generate nothing: no output is reserved");
        for (h_name, zero) in [(H_MAX_TOKENS, "0"), (H_COEFFICIENT, "0"), (H_COEFFICIENT, "-5")] {
            let mut bad = h.clone();
            bad.insert(h_name, HeaderValue::from_static(zero));
            assert!(InferMeta::read(&bad).is_err(), "{zero}");
        }
        let mut m = sample();
        m.terms.model = "модель".into();
        assert!(m.write(&mut HeaderMap::new()).is_err());
        // Features: unknown names, choices out of range or disagreeing with the `n` feature.
        for (h_name, value) in
            [(H_FEATURES, "tools,vision"), (H_CHOICES, "0"), (H_CHOICES, "17"), (H_CHOICES, "1"), (H_FEATURES, "tools")]
        {
            let mut bad = h.clone();
            bad.insert(h_name, HeaderValue::from_static(value));
            assert!(InferMeta::read(&bad).is_err(), "{value}");
        }
    }

    #[test]
    fn a_plain_request_sends_no_feature_headers_and_bounds_its_output_once() {
        let mut m = sample();
        m.terms.features = FeatureSet::EMPTY;
        m.terms.choices = 1;
        let mut h = HeaderMap::new();
        m.write(&mut h).unwrap();
        assert!(h.get(H_FEATURES).is_none() && h.get(H_CHOICES).is_none());
        assert_eq!(InferMeta::read(&h).unwrap(), m);
        assert_eq!(m.terms.output_bound(16), 256);
        assert_eq!(sample().terms.output_bound(16), 512);
        m.terms.max_tokens = None;
        assert_eq!(m.terms.output_bound(16), 16);
    }
}
