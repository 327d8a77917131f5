//! Structured outputs on a real model (SmolLM2-135M-Instruct): `response_format` JSON and JSON
//! schema are held to a grammar, so every answer parses and fits, however small the model.
#![cfg(feature = "llama")]

use cocoon_engine::{openai, testing::test_engine, Engine};
use cocoon_openai::Endpoint;
use serde_json::{json, Value};
use std::sync::Arc;

fn engine() -> Arc<Engine> {
    test_engine(1024, 4, 128).unwrap_or_else(|e| panic!("{e}"))
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1, "maxLength": 20},
            "temperature_c": {"type": "integer", "minimum": -60, "maximum": 60},
            "sunny": {"type": "boolean"}
        },
        "required": ["city", "temperature_c", "sunny"],
        "additionalProperties": false
    })
}

/// Whether `v` fits [`schema`]: exactly its three keys, each of its type and range.
fn fits(v: &Value) -> Result<(), String> {
    let o = v.as_object().ok_or("not an object")?;
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["city", "sunny", "temperature_c"] {
        return Err(format!("keys {keys:?}"));
    }
    let city = o["city"].as_str().ok_or("city is not a string")?;
    if !(1..=20).contains(&city.chars().count()) {
        return Err(format!("city {city:?} is not 1..=20 characters"));
    }
    let t = o["temperature_c"].as_i64().ok_or("temperature_c is not an integer")?;
    if !(-60..=60).contains(&t) {
        return Err(format!("temperature_c {t} is out of range"));
    }
    o["sunny"].as_bool().ok_or("sunny is not a boolean")?;
    Ok(())
}

async fn ask(e: &Arc<Engine>, format: &Value, seed: u64) -> (String, Value) {
    let body = json!({
        "model": "smol",
        "messages": [{"role": "user", "content": "What is the weather like in Lisbon today? Answer in JSON."}],
        "max_tokens": 64,
        "temperature": 1.0,
        "seed": seed,
        "response_format": format,
    });
    let out = openai::serve_json(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = &v["choices"][0];
    (choice["finish_reason"].as_str().unwrap_or_default().to_string(), choice["message"]["content"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_fits_its_json_schema() {
    let e = engine();
    let format = json!({"type": "json_schema", "json_schema": {"name": "weather", "strict": true, "schema": schema()}});
    // 100 sampled answers (temperature 1, a seed each), four at a time.
    let mut tasks = Vec::new();
    for seed in 0..100u64 {
        let (e, format) = (e.clone(), format.clone());
        tasks.push(tokio::spawn(async move { (seed, ask(&e, &format, seed).await) }));
    }
    let mut cities = std::collections::BTreeSet::new();
    for t in tasks {
        let (seed, (finish, content)) = t.await.unwrap();
        assert_eq!(finish, "stop", "seed {seed}: {content}");
        let text = content.as_str().unwrap_or_else(|| panic!("seed {seed}: {content}"));
        let v: Value = serde_json::from_str(text).unwrap_or_else(|err| panic!("seed {seed}: {err}: {text}"));
        fits(&v).unwrap_or_else(|why| panic!("seed {seed}: {why}: {text}"));
        cities.insert(v["city"].as_str().unwrap_or_default().to_string());
    }
    // Sampled, not one fixed answer.
    assert!(cities.len() > 1, "{cities:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_answers_an_object_and_bad_formats_are_the_callers_error() {
    let e = engine();
    for seed in 0..5 {
        let (finish, content) = ask(&e, &json!({"type": "json_object"}), seed).await;
        let text = content.as_str().unwrap_or_default();
        if finish == "stop" {
            let v: Value = serde_json::from_str(text).unwrap_or_else(|err| panic!("seed {seed}: {err}: {text}"));
            assert!(v.is_object(), "{text}");
        } else {
            // Cut by max_tokens: still a prefix of an object.
            assert!(text.trim_start().starts_with('{'), "{text}");
        }
    }
    for format in [
        json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/nowhere"}}}),
        json!({"type": "xml"}),
    ] {
        let body = json!({"messages": [{"role": "user", "content": "x"}], "response_format": format});
        let err =
            openai::serve_json(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes()).await.unwrap_err();
        assert_eq!((err.status.as_u16(), err.code.as_str()), (400, "invalid_field"), "{format}: {}", err.message);
    }
}
