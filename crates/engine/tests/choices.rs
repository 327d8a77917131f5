//! `n` choices and `logit_bias` on a real model (SmolLM2-135M-Instruct).
#![cfg(feature = "llama")]

use cocoon_engine::{openai, testing::test_model, Engine, EngineConfig};
use cocoon_openai::Endpoint;
use serde_json::{json, Value};
use std::sync::Arc;

fn engine() -> Arc<Engine> {
    let path = test_model().unwrap_or_else(|e| panic!("{e}"));
    let cfg = EngineConfig { context: 512, parallel: 3, queue: 16, ..EngineConfig::new(path) };
    Engine::load(cfg).unwrap_or_else(|e| panic!("loading the test model: {e}"))
}

async fn complete(e: &Arc<Engine>, body: Value) -> Result<Value, cocoon_openai::ApiError> {
    let out = openai::serve_json(e.clone(), Endpoint::Completions, body.to_string().as_bytes()).await?;
    Ok(serde_json::from_slice(&out).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_choices_are_generated_and_all_counted() {
    let e = engine();
    let body = json!({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 1.0, "seed": 7, "n": 3});
    let v = complete(&e, body).await.unwrap();
    let choices = v["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 3, "{v}");
    let texts: Vec<&str> = choices.iter().map(|c| c["text"].as_str().unwrap_or_default()).collect();
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["finish_reason"], "length", "{v}");
    }
    // Each choice has a seed of its own: not three copies of one answer.
    assert!(texts[0] != texts[1] || texts[1] != texts[2], "{texts:?}");
    // Every choice ran to its bound, and usage counts all of them (the prompt once).
    assert_eq!(v["usage"]["completion_tokens"], 3 * 12, "{v}");
    let one = complete(&e, json!({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 1.0})).await.unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], one["usage"]["prompt_tokens"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logit_bias_moves_the_answer_and_bad_ids_are_the_callers_error() {
    let e = engine();
    let ask = |bias: Value| json!({"prompt": "The capital of France is", "max_tokens": 5, "temperature": 0, "logit_bias": bias});
    let plain =
        complete(&e, ask(json!({}))).await.unwrap()["choices"][0]["text"].as_str().unwrap_or_default().to_string();
    // +100 on one ordinary token: greedy decoding repeats it.
    let forced = complete(&e, ask(json!({"1000": 100}))).await.unwrap();
    let text = forced["choices"][0]["text"].as_str().unwrap_or_default().to_string();
    assert_eq!(forced["usage"]["completion_tokens"], 5, "{forced}");
    assert!(!text.is_empty() && text != plain, "{text:?} vs {plain:?}");
    let chars: Vec<char> = text.chars().collect();
    let piece = chars.len() / 5;
    assert!(piece > 0 && chars.chunks(piece).all(|c| c == &chars[..piece]), "{text:?}");
    // -100 on that token: it never appears.
    let banned = complete(&e, json!({"prompt": text, "max_tokens": 5, "temperature": 0, "logit_bias": {"1000": -100}}))
        .await
        .unwrap();
    let again = banned["choices"][0]["text"].as_str().unwrap_or_default();
    let unit: String = chars[..piece].iter().collect();
    assert!(!again.contains(&unit), "{again:?} still has {unit:?}");
    // A token the vocabulary does not have.
    let err = complete(&e, ask(json!({"10000000": 1}))).await.unwrap_err();
    assert_eq!(err.status.as_u16(), 400, "{}", err.message);
    assert!(err.message.contains("10000000"), "{}", err.message);
}
