//! `/v1/embeddings` through a real network (client -> proxy -> worker -> synthetic backend):
//! the request reaches the backend byte for byte (extension fields stripped), the vectors and
//! usage come back as the backend wrote them in both encodings, the request is billed for its
//! prompt tokens alone, and bad requests are refused before anything is charged.

mod common;

use cocoon_bench_backend::embeddings::{tokens_of, vector_of};
use cocoon_openai::embeddings::decode_base64_vector;
use common::*;
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_pass_through_and_are_billed_by_prompt_tokens() {
    let net = Net::start("embeddings", NetOpts { workers: 1, payments: true, ..Default::default() }).await;
    let (status, v) =
        post_json(&format!("{}/v1/payments/deposit", net.api), &format!(r#"{{"amount":{}}}"#, 1_000_000_000u64)).await;
    assert_eq!(status, 200, "{v}");
    let url = format!("{}/v1/embeddings", net.api);
    let texts = ["The cat sits on the mat.", "Stock markets fell sharply on Monday.", "ok"];
    let input = serde_json::to_string(&texts).unwrap();
    let tokens: u64 = texts.iter().map(|t| tokens_of(t)).sum();

    // Float: the backend's vectors and usage, and the charge is for the prompt tokens only.
    let body = format!(r#"{{"model":"{MODEL}","input":{input},"encoding_format":"float"}}"#);
    let (status, v) = post_json(&url, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "list");
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(v["data"][i]["index"], i, "{v}");
        assert_eq!(floats(&v["data"][i]["embedding"]), vector_of(t), "{t}");
    }
    assert_eq!(v["usage"]["prompt_tokens"].as_u64(), Some(tokens), "{v}");
    assert_eq!(v["usage"]["total_tokens"].as_u64(), Some(tokens), "{v}");
    let cost = v["usage"]["total_cost"].as_u64().expect("total_cost");
    assert_eq!(cost, 2 * tokens, "billed for prompt tokens at the worker's price: {v}");
    assert_eq!(backend_last_request(&net).await, body, "the body must reach the backend byte for byte");

    // Base64 (what the OpenAI SDKs ask for), one string input, with a routing extension that
    // the backend never sees.
    let body = format!(r#"{{"model":"{MODEL}","input":"hello there","encoding_format":"base64","timeout":30}}"#);
    let (status, v) = post_json(&url, &body).await;
    assert_eq!(status, 200, "{v}");
    let vector = decode_base64_vector(v["data"][0]["embedding"].as_str().expect("base64 string")).expect("f32s");
    assert_eq!(vector, vector_of("hello there"));
    assert_eq!(v["usage"]["total_cost"].as_u64(), Some(2 * tokens_of("hello there")), "{v}");
    assert_eq!(
        backend_last_request(&net).await,
        format!(r#"{{"model":"{MODEL}","input":"hello there","encoding_format":"base64"}}"#)
    );

    // Refused with the field named, before any proxy is asked: nothing charged.
    let charged = get_json(&net.proxy_stats[0]).await.1["ledger"]["charged"].as_u64().expect("charged");
    assert_eq!(charged, cost + 2 * tokens_of("hello there"));
    let refusals = [
        (format!(r#"{{"model":"{MODEL}","input":[[1,2,3]]}}"#), "token ids"),
        (format!(r#"{{"model":"{MODEL}","input":"a","dimensions":64}}"#), "dimensions"),
        (format!(r#"{{"model":"{MODEL}","input":"a","stream":true}}"#), "stream"),
        (format!(r#"{{"model":"{MODEL}","input":""}}"#), "empty"),
        (format!(r#"{{"model":"{MODEL}"}}"#), "input"),
    ];
    for (body, named) in &refusals {
        let (status, v) = post_json(&url, body).await;
        assert_eq!(status, 400, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{body}: {message}");
    }
    // A model nobody serves.
    let (status, v) = post_json(&url, r#"{"model":"no-such-embedder","input":"a"}"#).await;
    assert!(status == 404 || status == 400 || status == 503, "{status}: {v}");

    let stats = wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await;
    assert_eq!(stats["ledger"]["charged"].as_u64(), Some(charged), "refusals charge nothing: {stats}");
    assert_eq!(stats["ledger"]["balanced"], true, "{stats}");
}
