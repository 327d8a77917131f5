//! `n` choices and `logit_bias` on a real model (SmolLM2-135M-Instruct).
#![cfg(feature = "llama")]

use cocoon_engine::{openai, testing::test_engine, Engine};
use cocoon_openai::Endpoint;
use serde_json::{json, Value};
use std::sync::Arc;

fn engine() -> Arc<Engine> {
    test_engine(512, 3, 16).unwrap_or_else(|e| panic!("{e}"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logprobs_are_consistent_with_the_text() {
    let e = engine();
    let body = json!({"messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 12,
                      "temperature": 0, "logprobs": true, "top_logprobs": 3});
    let out = openai::serve_json(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes()).await.unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = &v["choices"][0];
    let text = choice["message"]["content"].as_str().unwrap();
    let tokens = choice["logprobs"]["content"].as_array().expect("logprobs.content");
    // One entry per generated token (the end-of-turn token, when sampled, has none).
    let completion = v["usage"]["completion_tokens"].as_u64().unwrap() as usize;
    let eog = usize::from(choice["finish_reason"] == "stop");
    assert_eq!(tokens.len() + eog, completion, "{v}");
    // Their bytes are the text.
    let bytes: Vec<u8> =
        tokens.iter().flat_map(|t| t["bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8)).collect();
    assert_eq!(String::from_utf8(bytes).unwrap(), text);
    for t in tokens {
        let lp = t["logprob"].as_f64().unwrap();
        let top = t["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3, "{t}");
        let tops: Vec<f64> = top.iter().map(|x| x["logprob"].as_f64().unwrap()).collect();
        assert!(tops.windows(2).all(|w| w[0] >= w[1]) && tops[0] <= 0.0, "{t}");
        // Greedy: the chosen token is the most likely one.
        assert_eq!(top[0]["bytes"], t["bytes"], "{t}");
        assert!((tops[0] - lp).abs() < 1e-4, "{t}");
        // A distribution: the three most likely together never exceed 1.
        assert!(tops.iter().map(|l| l.exp()).sum::<f64>() <= 1.0 + 1e-4, "{t}");
    }
    let bad = json!({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2});
    let err = openai::serve_json(e.clone(), Endpoint::ChatCompletions, bad.to_string().as_bytes()).await.unwrap_err();
    assert_eq!(err.status.as_u16(), 400, "{bad}");

    // Completions' legacy shape: the tokens are the text, each offset where its token starts.
    let body = json!({"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0, "logprobs": 2});
    let v = complete(&e, body).await.unwrap();
    let choice = &v["choices"][0];
    let lp = &choice["logprobs"];
    let tokens: Vec<&str> = lp["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tokens.concat(), choice["text"].as_str().unwrap(), "{v}");
    let offsets: Vec<u64> = lp["text_offset"].as_array().unwrap().iter().map(|o| o.as_u64().unwrap()).collect();
    let expected: Vec<u64> = tokens
        .iter()
        .scan(0u64, |at, t| {
            let start = *at;
            *at += t.len() as u64;
            Some(start)
        })
        .collect();
    assert_eq!(offsets, expected);
    assert_eq!(lp["token_logprobs"].as_array().unwrap().len(), tokens.len());
    assert!(lp["top_logprobs"].as_array().unwrap().iter().all(|m| m.as_object().unwrap().len() == 2), "{lp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_choices_stream_with_logprobs_that_spell_their_text() {
    use futures::StreamExt;
    let e = engine();
    let body = json!({"messages": [{"role": "user", "content": "Tell me a short story."}], "max_tokens": 10,
                      "temperature": 1.0, "seed": 3, "n": 3, "stream": true, "logprobs": true,
                      "stream_options": {"include_usage": true}});
    let resp = openai::serve(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes()).await.unwrap();
    assert_eq!(resp.content_type, "text/event-stream");
    let mut raw = Vec::new();
    let mut body = resp.body;
    while let Some(chunk) = body.next().await {
        raw.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(raw).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let (mut texts, mut bytes) = (vec![String::new(); 3], vec![Vec::<u8>::new(); 3]);
    let mut usage = None;
    for e in text.split("\n\n").filter(|e| !e.is_empty() && *e != "data: [DONE]") {
        let v: Value = serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap();
        if v["usage"].is_object() {
            usage = Some(v["usage"].clone());
            continue;
        }
        let c = &v["choices"][0];
        let i = c["index"].as_u64().unwrap() as usize;
        texts[i].push_str(c["delta"]["content"].as_str().unwrap_or_default());
        for t in c["logprobs"]["content"].as_array().into_iter().flatten() {
            bytes[i].extend(t["bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8));
        }
    }
    for i in 0..3 {
        assert!(!texts[i].is_empty(), "choice {i} said nothing: {text}");
        assert_eq!(String::from_utf8(bytes[i].clone()).unwrap(), texts[i], "choice {i}");
    }
    assert!(texts[0] != texts[1] || texts[1] != texts[2], "three seeds, one story: {texts:?}");
    let usage = usage.expect("a usage chunk");
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(completion > 10 && completion <= 30, "every choice counted: {usage}");
}
