//! The embedded backend on the real test model (cargo feature `embedded`; the model file must
//! exist, see `cocoon_engine::testing`).
#![cfg(feature = "embedded")]

use bytes::Bytes;
use cocoon_engine::{testing::test_model, EngineConfig};
use cocoon_openai::{validate_for_backend, Endpoint, SseUsageCounter};
use cocoon_worker::{
    backend::{Backend, BackendRequest},
    embedded_backend::EmbeddedBackend,
};
use http_body_util::BodyExt;

async fn backend() -> EmbeddedBackend {
    let path = test_model().unwrap_or_else(|e| panic!("{e}"));
    let cfg = EngineConfig { context: 1024, ..EngineConfig::new(path) };
    EmbeddedBackend::load(cfg).await.unwrap_or_else(|e| panic!("loading the test model: {e}"))
}

async fn body_of(b: cocoon_transport::Body) -> Bytes {
    b.collect().await.expect("body").to_bytes()
}

#[tokio::test]
async fn answers_chat_with_text_and_usage() {
    let b = backend().await;
    assert!(b.describe().starts_with("embedded llama.cpp: "), "{}", b.describe());
    assert!(b.describe().contains("(sha256 "));
    b.health().await.unwrap();

    // As the worker's service does: validate (forces include_usage on streams), then infer.
    let raw = br#"{"model":"smol","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16,"stream":true}"#;
    let v = validate_for_backend(Endpoint::ChatCompletions, raw, "smol").unwrap();
    let resp =
        b.infer(BackendRequest { endpoint: Endpoint::ChatCompletions, body: v.body, stream: v.stream }).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type.unwrap(), "text/event-stream");
    let bytes = body_of(resp.body).await;
    let mut meter = SseUsageCounter::new();
    meter.feed(&bytes);
    meter.finish();
    let usage = meter.usage().expect("usage chunk in the stream");
    assert!(usage.prompt_tokens > 10 && usage.completion_tokens >= 1, "{usage:?}");
    assert!(meter.saw_done());
    let text = String::from_utf8_lossy(&bytes);
    // The first chunk carries the role (and empty content, as OpenAI's do); later ones the text.
    assert!(text.split("\"content\":\"").skip(1).any(|rest| !rest.starts_with('"')), "no generated text: {text}");

    let raw = br#"{"model":"smol","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}"#;
    let v = validate_for_backend(Endpoint::ChatCompletions, raw, "smol").unwrap();
    let resp =
        b.infer(BackendRequest { endpoint: Endpoint::ChatCompletions, body: v.body, stream: false }).await.unwrap();
    let bytes = body_of(resp.body).await;
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(!json["choices"][0]["message"]["content"].as_str().unwrap_or_default().is_empty(), "{json}");
    let usage = cocoon_openai::usage_from_body(&bytes).expect("usage in the JSON");
    assert!(usage.completion_tokens >= 1 && usage.completion_tokens <= 8);

    let bad = b
        .infer(BackendRequest {
            endpoint: Endpoint::ChatCompletions,
            body: Bytes::from_static(br#"{"messages":[{"role":"narrator","content":"x"}]}"#),
            stream: false,
        })
        .await;
    assert_eq!(bad.err().map(|e| e.status.as_u16()), Some(400));
}
