//! Client-side extraction of routing extensions.

use cocoon_openai::{extract_routing, RoutingFields};
use serde_json::{json, Value};

#[test]
fn strips_extensions_and_keeps_the_rest() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"hi \u00e9"}],"stream":true,
        "max_coefficient":4000,"timeout":12.5,"hardware":"H100","request_guid":"g","enable_debug":true,
        "max_tokens":100,"temperature":0.1000000000000000055511151231257827,"big":123456789012345678901234567890}"#;
    let (r, out) = extract_routing(body, 1 << 20).unwrap();
    assert_eq!(
        r,
        RoutingFields {
            model: "m".into(),
            stream: true,
            max_coefficient: Some(4000),
            timeout: Some(12.5),
            hardware: Some("H100".into()),
            max_tokens: Some(100),
            features: Default::default(),
        }
    );
    let s = std::str::from_utf8(&out).unwrap();
    for gone in ["max_coefficient", "timeout", "hardware", "request_guid", "enable_debug"] {
        assert!(!s.contains(gone), "{gone} left in {s}");
    }
    // Untouched values survive byte-for-byte, including ones serde would round.
    assert!(s.contains(r#""messages":[{"role":"user","content":"hi \u00e9"}]"#), "{s}");
    assert!(s.contains("0.1000000000000000055511151231257827"), "{s}");
    assert!(s.contains("123456789012345678901234567890"), "{s}");

    // The optional features a body uses are read, and stay in the body.
    let body = br#"{"model":"m","messages":[],"n":2,"logit_bias":{"3":1}}"#;
    let (r, out) = extract_routing(body, 1 << 20).unwrap();
    assert_eq!(r.features.choices, 2);
    assert_eq!(r.features.features.to_string(), "logit_bias,n");
    assert_eq!(&out[..], &body[..]);
    // And the whole is equivalent JSON minus the extensions.
    let mut expected: Value = serde_json::from_slice(body).unwrap();
    for k in ["max_coefficient", "timeout", "hardware", "request_guid", "enable_debug"] {
        expected.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), expected);
}

#[test]
fn body_without_extensions_is_unchanged() {
    let body = b"{ \"model\" : \"m\",\n \"prompt\": \"x\" }";
    let (r, out) = extract_routing(body, 1024).unwrap();
    assert_eq!(&out[..], &body[..]);
    assert_eq!(r.model, "m");
    assert!(!r.stream && r.max_tokens.is_none() && r.timeout.is_none());
}

#[test]
fn errors() {
    let err = |body: &[u8]| extract_routing(body, 1024).unwrap_err();
    assert_eq!(err(b"nope").code, "invalid_json");
    assert_eq!(err(b"\"str\"").code, "invalid_json");
    assert_eq!(err(b"{}").code, "missing_model");
    assert_eq!(err(br#"{"model":1}"#).code, "missing_model");
    assert_eq!(err(br#"{"model":"m","stream":1}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","max_coefficient":-1}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","max_coefficient":1e20}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","timeout":0}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","timeout":3601}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","timeout":"5"}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","hardware":5}"#).code, "invalid_field");
    assert_eq!(err(br#"{"model":"m","max_tokens":1.5}"#).code, "invalid_field");
    let e = extract_routing(&[b' '; 2000], 1024).unwrap_err();
    assert_eq!((e.status.as_u16(), e.code.as_str()), (413, "body_too_large"));
}

#[test]
fn nulls_mean_absent() {
    let body = serde_json::to_vec(&json!({"model":"m","timeout":null,"stream":null,"max_coefficient":null})).unwrap();
    let (r, out) = extract_routing(&body, 1024).unwrap();
    assert_eq!((r.timeout, r.stream, r.max_coefficient), (None, false, None));
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), json!({"model":"m","stream":null}));
}
