//! Arbitrary input must never panic any parser in this crate.

use cocoon_openai::{extract_routing, usage_from_body, validate_for_backend, ApiError, Endpoint, SseUsageCounter};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
        let mut c = SseUsageCounter::new();
        let split = split.min(data.len());
        c.feed(&data[..split]);
        c.feed(&data[split..]);
        c.finish();
        let _ = (c.usage(), c.saw_done(), c.events(), c.error());
        for e in Endpoint::ALL {
            let _ = validate_for_backend(e, &data, "m");
        }
        let _ = extract_routing(&data, 256);
        let _ = usage_from_body(&data);
        let _ = ApiError::from_json(http::StatusCode::BAD_REQUEST, &data);
    }

    #[test]
    fn sse_like_input_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("data: ".to_owned()), Just("data:".to_owned()), Just("\n".to_owned()),
            Just("\r\n".to_owned()), Just("\r".to_owned()), Just(": c\n".to_owned()),
            Just("[DONE]".to_owned()), Just("{\"usage\":{\"prompt_tokens\":1}}".to_owned()),
            Just("{\"error\":{\"message\":\"m\"}}".to_owned()), "\\PC{0,8}",
        ], 0..40)) {
        let s = parts.concat();
        let mut c = SseUsageCounter::new();
        for ch in s.as_bytes().chunks(3) {
            c.feed(ch);
        }
        let _ = c.usage();
    }

    #[test]
    fn json_objects_never_panic(v in json_value()) {
        let body = serde_json::to_vec(&serde_json::json!({"model": "m", "x": v.clone(), "messages": [v.clone()], "prompt": v.clone(), "stop": v})).unwrap();
        let _ = validate_for_backend(Endpoint::ChatCompletions, &body, "m");
        let _ = validate_for_backend(Endpoint::Completions, &body, "m");
        let _ = extract_routing(&body, 1 << 20);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "\\PC{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
