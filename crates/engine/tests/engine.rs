//! The engine on a real model (SmolLM2-135M-Instruct, see `cocoon_engine::testing`).
//! Needs the `llama` feature and the model file: missing, these tests fail with instructions.
#![cfg(feature = "llama")]

use cocoon_engine::{
    openai, testing::test_engine, ChatMessage, Engine, EngineError, FinishReason, GenEvent, GenRequest,
};
use cocoon_openai::Endpoint;
use serde_json::Value;
use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

const SMOL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const SMOL_SYSTEM: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

fn load(parallel: usize, queue: usize) -> Arc<Engine> {
    test_engine(1024, parallel, queue).unwrap_or_else(|e| panic!("{e}"))
}

/// One sequence at a time: every generation runs alone, so results are reproducible even
/// while other tests use the engine.
fn solo() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| load(1, 16)).clone()
}

fn chat_prompt(engine: &Engine, question: &str) -> String {
    engine.render_chat(&[ChatMessage::new("user", question)]).unwrap()
}

async fn run(engine: &Engine, req: GenRequest) -> (String, u32, u32, FinishReason) {
    let generation = engine.generate(req).unwrap();
    let announced = generation.prompt_tokens();
    let (text, end) = generation.collect_text().await;
    match end {
        GenEvent::Done { prompt_tokens, completion_tokens, finish_reason, .. } => {
            assert_eq!(prompt_tokens, announced);
            (text, prompt_tokens, completion_tokens, finish_reason)
        }
        other => panic!("generation failed: {other:?}"),
    }
}

#[tokio::test]
async fn loads_with_its_own_template_and_hash() {
    let e = solo();
    let prompt = chat_prompt(&e, "Hi");
    assert!(prompt.contains(SMOL_SYSTEM), "default system prompt missing: {prompt:?}");
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt:?}");
    assert!(e.info().own_chat_template);
    assert!(e.info().parameters > 100_000_000, "{:?}", e.info());
    if e.info().file_name == "SmolLM2-135M-Instruct.Q4_1.gguf" {
        assert_eq!(e.model_sha256(), SMOL_SHA256);
    }
    assert_eq!(e.model_sha256().len(), 64);
}

#[tokio::test]
async fn greedy_and_seeded_runs_repeat_with_exact_counts() {
    let e = solo();
    let prompt = chat_prompt(&e, "Name three colors.");
    let expected_prompt_tokens = e.token_count(&prompt).unwrap() as u32;

    let greedy = GenRequest::greedy(prompt.clone(), 8);
    let a = run(&e, greedy.clone()).await;
    let b = run(&e, greedy).await;
    assert_eq!(a, b, "greedy decoding must repeat");
    assert!(!a.0.is_empty());
    assert_eq!(a.1, expected_prompt_tokens, "prompt_tokens = tokenized prompt");
    assert_eq!((a.2, a.3), (8, FinishReason::Length), "max_tokens respected and counted exactly");

    let seeded = GenRequest { temperature: 0.9, top_p: 0.95, seed: Some(42), ..GenRequest::greedy(prompt, 24) };
    let c = run(&e, seeded.clone()).await;
    let d = run(&e, seeded).await;
    assert_eq!(c, d, "the same seed must give the same text");
    assert!(c.2 <= 24);
}

#[tokio::test]
async fn stop_string_cuts_the_output() {
    let e = solo();
    let prompt = chat_prompt(&e, "Count from one to ten in words, separated by commas.");
    let (full, _, _, _) = run(&e, GenRequest::greedy(prompt.clone(), 40)).await;
    // Stop at the first 3 characters of the answer that do not occur earlier in it (whatever
    // the model says, with or without spaces: its greedy answer depends on the CPU's SIMD).
    let at: Vec<usize> = full.char_indices().map(|(i, _)| i).chain([full.len()]).collect();
    let (cut, stop) = (1..at.len().saturating_sub(3))
        .map(|i| (at[i], full[at[i]..at[i + 3]].to_string()))
        .find(|(i, s)| full.find(s.as_str()) == Some(*i) && !s.trim().is_empty())
        .unwrap_or_else(|| panic!("answer too short to test stop strings: {full:?}"));
    let req = GenRequest { stop: vec![stop.clone(), "never-appears".into()], ..GenRequest::greedy(prompt, 40) };
    let (text, _, completion, reason) = run(&e, req).await;
    assert_eq!(text, full[..cut], "output must end right before the stop string {stop:?}");
    assert_eq!(reason, FinishReason::Stop);
    assert!(completion < 40);
}

#[tokio::test]
async fn concurrent_generations_complete() {
    let e = load(2, 4);
    let p1 = chat_prompt(&e, "Write a haiku about the sea.");
    let p2 = chat_prompt(&e, "What is two plus two?");
    let g1 = e.generate(GenRequest::greedy(p1, 24)).unwrap();
    let g2 = e.generate(GenRequest::greedy(p2, 24)).unwrap();
    let (r, w) = e.load_stats();
    assert_eq!(r + w, 2);
    let ((t1, end1), (t2, end2)) = tokio::join!(g1.collect_text(), g2.collect_text());
    for (t, end) in [(t1, end1), (t2, end2)] {
        assert!(!t.is_empty());
        assert!(matches!(end, GenEvent::Done { completion_tokens, .. } if completion_tokens > 0), "{end:?}");
    }
    assert_eq!(e.load_stats(), (0, 0));
}

#[tokio::test]
async fn full_queue_is_busy_and_dropping_cancels() {
    let e = load(1, 1);
    let prompt = chat_prompt(&e, "Tell me a long story about a dragon.");
    let running = e.generate(GenRequest::greedy(prompt.clone(), 900)).unwrap();
    let waiting = e.generate(GenRequest::greedy(prompt.clone(), 900)).unwrap();
    match e.generate(GenRequest::greedy(prompt.clone(), 10)) {
        Err(EngineError::Busy { .. }) => {}
        other => panic!("expected Busy, got {other:?}"),
    }
    drop(waiting);
    drop(running);
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.load_stats() != (0, 0) {
        assert!(Instant::now() < deadline, "cancelled generations still counted: {:?}", e.load_stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (text, _, n, _) = run(&e, GenRequest::greedy(prompt, 4)).await;
    assert!(!text.is_empty() && n == 4);
}

#[tokio::test]
async fn rejects_prompts_beyond_the_context() {
    let e = solo();
    let long = "word ".repeat(3000);
    assert!(matches!(e.generate(GenRequest::greedy(long, 4)), Err(EngineError::PromptTooLong { .. })));
    assert!(matches!(e.generate(GenRequest::greedy("", 4)), Err(EngineError::InvalidRequest(_))));
}

fn sse_events(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.ends_with("\n\n"), "{text}");
    text.split("\n\n").filter(|e| !e.is_empty()).map(|e| e.strip_prefix("data: ").unwrap().to_string()).collect()
}

#[tokio::test]
async fn openai_stream_parses_and_carries_usage() {
    let e = solo();
    let body = br#"{"model":"smol","messages":[{"role":"user","content":"Say hello."}],
        "stream":true,"stream_options":{"include_usage":true},"max_tokens":12,"temperature":0}"#;
    let resp = openai::serve(e.clone(), Endpoint::ChatCompletions, body).await.unwrap();
    assert_eq!(resp.content_type, "text/event-stream");
    let bytes = openai::response::collect(resp.body).await;
    let events = sse_events(&bytes);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<Vec<_>>().concat();
    assert!(!content.is_empty());
    let usage = chunks.iter().find(|c| c["usage"].is_object()).expect("usage chunk");
    assert_eq!(usage["choices"], serde_json::json!([]));
    let prompt = chat_prompt(&e, "Say hello.");
    assert_eq!(usage["usage"]["prompt_tokens"], e.token_count(&prompt).unwrap() as u64);
    let mut meter = cocoon_openai::SseUsageCounter::new();
    meter.feed(&bytes);
    meter.finish();
    let u = meter.usage().expect("the worker's meter reads the usage");
    assert!(u.completion_tokens >= 1 && u.completion_tokens <= 12);
    assert_eq!(u.total_tokens, u.prompt_tokens + u.completion_tokens);

    let no_usage = br#"{"messages":[{"role":"user","content":"Hi"}],"stream":true,"max_tokens":3}"#;
    let resp = openai::serve(e.clone(), Endpoint::ChatCompletions, no_usage).await.unwrap();
    let bytes = openai::response::collect(resp.body).await;
    assert!(!String::from_utf8_lossy(&bytes).contains("\"usage\""));
}

#[tokio::test]
async fn openai_json_has_usage() {
    let e = solo();
    let body =
        br#"{"model":"smol","messages":[{"role":"user","content":"Say hello."}],"max_tokens":5,"temperature":0}"#;
    let json = openai::serve_json(e.clone(), Endpoint::ChatCompletions, body).await.unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"].as_str().unwrap().is_empty());
    let u = cocoon_openai::usage_from_body(&json).expect("usage");
    assert_eq!(u.prompt_tokens, e.token_count(&chat_prompt(&e, "Say hello.")).unwrap() as u64);
    assert!(u.completion_tokens >= 1 && u.completion_tokens <= 5);

    let body = br#"{"model":"smol","prompt":"The capital of France is","max_tokens":4,"temperature":0}"#;
    let json = openai::serve_json(e.clone(), Endpoint::Completions, body).await.unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 4);

    let err = openai::serve_json(
        e,
        Endpoint::ChatCompletions,
        br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status.as_u16(), 400);
}

/// Runs a generation to its end and returns its text and `Done` counts.
async fn run_counted(engine: &Engine, req: GenRequest) -> (String, u32, u32) {
    let (text, end) = engine.generate(req).unwrap().collect_text().await;
    match end {
        GenEvent::Done { prompt_tokens, cached_tokens, .. } => (text, prompt_tokens, cached_tokens),
        other => panic!("generation failed: {other:?}"),
    }
}

#[tokio::test]
async fn a_shared_prompt_prefix_is_decoded_once_and_changes_nothing() {
    let system = "You translate chat messages. Answer with the translation only, keep emoji, \
                  names, numbers and formatting exactly as they are.";
    let ask = |e: &Engine, text: &str| {
        let msgs = [ChatMessage::new("system", system), ChatMessage::new("user", text)];
        GenRequest::greedy(e.render_chat(&msgs).unwrap(), 8)
    };
    let warm = load(2, 4);
    let (_, _, cached) = run_counted(&warm, ask(&warm, "Good morning!")).await;
    assert_eq!(cached, 0, "nothing is cached in a fresh engine");

    // A second message with the same instructions reuses them.
    let second = ask(&warm, "The train is late.");
    let (text, prompt_tokens, cached) = run_counted(&warm, second.clone()).await;
    assert!(cached > 10, "the system prompt is reused: {cached} of {prompt_tokens}");
    assert!(cached < prompt_tokens, "the new message itself is decoded");

    // The answer is the one a fresh engine gives.
    let fresh = load(1, 1);
    let (expected, expected_prompt, fresh_cached) = run_counted(&fresh, second.clone()).await;
    assert_eq!(fresh_cached, 0);
    assert_eq!((text, prompt_tokens), (expected, expected_prompt));

    // The same prompt again reuses all but its last token.
    let (_, prompt_tokens, cached) = run_counted(&warm, second).await;
    assert_eq!(cached, prompt_tokens - 1);
}
