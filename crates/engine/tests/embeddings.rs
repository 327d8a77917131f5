//! The embedder on a real embedding model (all-MiniLM-L6-v2, converted by
//! scripts/convert_embedding.py): meaning, batching, usage and the OpenAI answer.
#![cfg(feature = "llama")]

use cocoon_engine::{openai, testing::test_embedder, Embedder};
use cocoon_openai::embeddings::decode_base64_vector;
use serde_json::{json, Value};
use std::sync::Arc;

fn embedder(parallel: usize) -> Arc<Embedder> {
    test_embedder(128, parallel, 4).unwrap_or_else(|e| panic!("{e}"))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

async fn one(e: &Embedder, text: &str) -> Vec<f32> {
    e.embed(vec![text.to_string()]).await.unwrap().vectors.remove(0)
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let e = embedder(4);
    assert_eq!(e.info().dimensions, 384);
    assert_eq!(e.info().pooling, "mean");
    let pairs = [
        ("The cat sits on the mat.", "A cat is sitting on a rug.", "Stock markets fell sharply on Monday."),
        ("How do I reset my password?", "I forgot my password, how can I change it?", "The recipe needs two eggs."),
        (
            "The train to Berlin is delayed.",
            "Our train to Berlin will arrive late.",
            "She plays the violin beautifully.",
        ),
    ];
    for (a, similar, unrelated) in pairs {
        let (va, vs, vu) = (one(&e, a).await, one(&e, similar).await, one(&e, unrelated).await);
        for v in [&va, &vs, &vu] {
            let norm: f32 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4, "not a unit vector: {norm}");
        }
        let (close, far) = (cosine(&va, &vs), cosine(&va, &vu));
        assert!(close > far + 0.3, "{a:?}: similar {close}, unrelated {far}");
    }
}

#[tokio::test]
async fn a_batch_gives_each_text_its_own_vector_in_order() {
    // Two texts per decode, seven texts: four batches, and no text may see another's tokens.
    let e = embedder(2);
    let texts: Vec<String> = ["one", "two words", "a somewhat longer third text", "4", "fifth", "sixth one", "7th"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let batch = e.embed(texts.clone()).await.unwrap();
    assert_eq!(batch.vectors.len(), texts.len());
    let mut tokens = 0;
    for (i, t) in texts.iter().enumerate() {
        let single = e.embed(vec![t.clone()]).await.unwrap();
        tokens += single.prompt_tokens;
        let c = cosine(&single.vectors[0], &batch.vectors[i]);
        assert!(c > 0.9999, "text {i} differs in a batch: cosine {c}");
    }
    assert_eq!(batch.prompt_tokens, tokens);
    // [CLS] hello [SEP]
    assert_eq!(e.embed(vec!["hello".into()]).await.unwrap().prompt_tokens, 3);
}

#[tokio::test]
async fn bad_input_is_refused_and_the_embedder_goes_on() {
    let e = embedder(2);
    let long = "word ".repeat(300);
    let err = e.embed(vec!["fine".into(), long]).await.unwrap_err();
    assert!(err.to_string().contains("input[1]"), "{err}");
    assert_eq!(err.to_api_error().status, 400);
    assert!(e.embed(vec![String::new()]).await.is_err());
    assert!(e.embed(vec![]).await.is_err());
    // A text that spells a special token is text, not that token.
    let spelled = e.embed(vec!["[SEP] [CLS]".into()]).await.unwrap();
    assert!(spelled.prompt_tokens > 4, "{}", spelled.prompt_tokens);
    assert_eq!(one(&e, "still works").await.len(), 384);
}

#[tokio::test]
async fn the_openai_answer_in_float_and_base64() {
    let e = embedder(2);
    let body = json!({"model": "minilm", "input": ["first text", "second text"]});
    let float: Value =
        serde_json::from_slice(&openai::serve_embeddings(e.clone(), body.to_string().as_bytes()).await.unwrap())
            .unwrap();
    assert_eq!(float["object"], "list");
    assert_eq!(float["model"], "minilm");
    assert_eq!(float["data"].as_array().unwrap().len(), 2);
    let tokens = float["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(tokens, 8); // [CLS] first text [SEP] twice
    assert_eq!(float["usage"]["total_tokens"].as_u64(), Some(tokens));
    let body = json!({"model": "minilm", "input": ["first text", "second text"], "encoding_format": "base64"});
    let b64: Value =
        serde_json::from_slice(&openai::serve_embeddings(e.clone(), body.to_string().as_bytes()).await.unwrap())
            .unwrap();
    for i in 0..2 {
        let f: Vec<f32> =
            float["data"][i]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let b = decode_base64_vector(b64["data"][i]["embedding"].as_str().unwrap()).unwrap();
        assert_eq!(f, b, "float and base64 must be the same numbers");
    }
    let bad = json!({"model": "minilm", "input": [[1, 2, 3]]});
    let err = openai::serve_embeddings(e, bad.to_string().as_bytes()).await.unwrap_err();
    assert_eq!((err.status.as_u16(), err.code.as_str()), (400, "invalid_field"));
}
