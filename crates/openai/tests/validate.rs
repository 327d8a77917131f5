//! Worker-side request validation.

use cocoon_openai::{validate_bounded, validate_for_backend, Endpoint, Feature, FeatureSet};
use serde_json::{json, Value};

const MODEL: &str = "Qwen/Qwen3-0.6B";

fn chat(extra: Value) -> Vec<u8> {
    let mut v = json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::to_vec(&v).unwrap()
}

fn code(endpoint: Endpoint, body: &[u8]) -> String {
    let e = validate_for_backend(endpoint, body, MODEL).expect_err("should be rejected");
    assert_eq!(e.status, 400, "{e}");
    e.code
}

#[test]
fn accepts_plain_chat() {
    let body = chat(json!({"max_tokens": 16, "temperature": 0.5, "stop": ["\n"], "seed": 1}));
    let v = validate_for_backend(Endpoint::ChatCompletions, &body, MODEL).unwrap();
    assert!(!v.stream);
    assert_eq!(v.max_tokens, Some(16));
    let a: Value = serde_json::from_slice(&v.body).unwrap();
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(a, b);
}

#[test]
fn rejects_with_right_codes() {
    let c = Endpoint::ChatCompletions;
    assert_eq!(code(c, &chat(json!({"tools": []}))), "unsupported_field");
    assert_eq!(code(c, &chat(json!({"logprobs": true}))), "unsupported_field");
    assert_eq!(code(c, &chat(json!({"whatever": 1}))), "unsupported_field");
    assert_eq!(code(c, &chat(json!({"model": "other"}))), "model_mismatch");
    assert_eq!(code(c, &chat(json!({"model": 5}))), "missing_model");
    assert_eq!(code(c, &chat(json!({"n": 2}))), "unsupported_field");
    assert_eq!(code(c, &chat(json!({"n": 0}))), "invalid_field");
    assert_eq!(code(c, &chat(json!({"messages": []}))), "invalid_field");
    assert_eq!(code(c, &chat(json!({"temperature": "hot"}))), "invalid_field");
    assert_eq!(code(c, &chat(json!({"max_tokens": -1}))), "invalid_field");
    assert_eq!(code(c, &chat(json!({"stream": "yes"}))), "invalid_field");
    assert_eq!(code(c, b"[1,2]"), "invalid_json");
    assert_eq!(code(c, b"{\"model\":"), "invalid_json");
    assert_eq!(code(c, b"{} trailing"), "invalid_json");
    assert_eq!(code(c, &format!("{{\"model\":\"{MODEL}\",\"model\":\"x\"}}").into_bytes()), "invalid_json");
    assert_eq!(code(c, format!("{{\"model\":\"{MODEL}\"}}").as_bytes()), "missing_field");

    let e = validate_for_backend(c, &chat(json!({"model": "other"})), MODEL).unwrap_err();
    assert!(e.message.contains("other") && e.message.contains(MODEL), "{e}");
    let e = validate_for_backend(c, &chat(json!({"tool_choice": "auto"})), MODEL).unwrap_err();
    assert!(e.message.contains("tool_choice"), "{e}");
}

#[test]
fn a_backend_with_a_feature_gets_its_fields_untouched() {
    let all: FeatureSet = Feature::ALL.into_iter().collect();
    let c = Endpoint::ChatCompletions;
    let tool = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let body = chat(
        json!({"max_tokens": 8, "tools": tool, "tool_choice": "required", "n": 2, "logprobs": true, "top_logprobs": 2, "logit_bias": {"7": -100}}),
    );
    let v = validate_bounded(c, &body, MODEL, Some(8), all).unwrap();
    assert_eq!(v.body, body, "forwarded byte for byte");
    assert_eq!(v.features.choices, 2);
    assert_eq!(v.features.features, all);
    // Only the features the backend has: the first missing one is named with its field.
    let tools_only = FeatureSet::EMPTY.with(Feature::Tools);
    let e = validate_bounded(c, &body, MODEL, Some(8), tools_only).unwrap_err();
    assert_eq!(e.code, "unsupported_field");
    assert!(e.message.contains("`logprobs`"), "{e}");
    let just_tools = chat(json!({"tools": tool}));
    assert!(validate_bounded(c, &just_tools, MODEL, None, tools_only).is_ok());
    // Completions take no tools, whatever the backend has.
    let p = Endpoint::Completions;
    let prompt = |extra: Value| {
        let mut v = json!({"model": MODEL, "prompt": "hi"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::to_vec(&v).unwrap()
    };
    let e = validate_bounded(p, &prompt(json!({"tools": tool})), MODEL, None, all).unwrap_err();
    assert!(e.message.contains("not a supported field"), "{e}");
    let v = validate_bounded(p, &prompt(json!({"logprobs": 2, "n": 3})), MODEL, None, all).unwrap();
    assert_eq!(v.features.choices, 3);
}

#[test]
fn completions_rules() {
    let p = Endpoint::Completions;
    let ok = json!({"model": MODEL, "prompt": "Once upon", "echo": false, "suffix": "end"});
    assert!(validate_for_backend(p, &serde_json::to_vec(&ok).unwrap(), MODEL).is_ok());
    let tokens = json!({"model": MODEL, "prompt": [1, 2, 3]});
    assert!(validate_for_backend(p, &serde_json::to_vec(&tokens).unwrap(), MODEL).is_ok());
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    assert_eq!(code(p, &body(json!({"model": MODEL}))), "missing_field");
    assert_eq!(code(p, &body(json!({"model": MODEL, "prompt": "x", "echo": true}))), "invalid_field");
    assert_eq!(code(p, &body(json!({"model": MODEL, "prompt": "x", "best_of": 2}))), "unsupported_field");
    // chat-only field on the completions endpoint
    assert_eq!(code(p, &body(json!({"model": MODEL, "prompt": "x", "messages": []}))), "unsupported_field");
}

#[test]
fn streaming_forces_include_usage() {
    let body = chat(json!({"stream": true}));
    let v = validate_for_backend(Endpoint::ChatCompletions, &body, MODEL).unwrap();
    assert!(v.stream);
    let out: Value = serde_json::from_slice(&v.body).unwrap();
    assert_eq!(out["stream_options"], json!({"include_usage": true}));

    let body =
        chat(json!({"stream": true, "stream_options": {"include_usage": false, "continuous_usage_stats": true}}));
    let v = validate_for_backend(Endpoint::ChatCompletions, &body, MODEL).unwrap();
    let out: Value = serde_json::from_slice(&v.body).unwrap();
    assert_eq!(out["stream_options"], json!({"include_usage": true, "continuous_usage_stats": true}));
    assert_eq!(out["messages"], json!([{"role": "user", "content": "hi"}]));

    // Dropped when not streaming: backends reject it there.
    let body = chat(json!({"stream": false, "stream_options": {"include_usage": true}}));
    let v = validate_for_backend(Endpoint::ChatCompletions, &body, MODEL).unwrap();
    let out: Value = serde_json::from_slice(&v.body).unwrap();
    assert!(out.get("stream_options").is_none());
}

#[test]
fn strips_network_extensions_and_keeps_raw_values() {
    let body = format!(
        r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"x"}}],"timeout":5,"max_coefficient":3,"seed":18446744073709551615,"temperature":0.70000000000000001}}"#
    );
    let v = validate_for_backend(Endpoint::ChatCompletions, body.as_bytes(), MODEL).unwrap();
    let s = std::str::from_utf8(&v.body).unwrap();
    assert!(!s.contains("timeout") && !s.contains("max_coefficient"), "{s}");
    assert!(s.contains("0.70000000000000001"), "{s}");
}
