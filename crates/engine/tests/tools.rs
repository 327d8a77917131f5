//! Tool calls on a real model (SmolLM2-135M-Instruct, whose template has no tools: they reach
//! it as a system message). With `tool_choice` `required` or a named function the answer is
//! held to a grammar, so even this small model calls a real tool with arguments that fit.
#![cfg(feature = "llama")]

use cocoon_engine::{openai, testing::test_engine, ChatMessage, Engine};
use cocoon_openai::Endpoint;
use serde_json::{json, Value};
use std::sync::Arc;

fn engine() -> Arc<Engine> {
    test_engine(1024, 4, 64).unwrap_or_else(|e| panic!("{e}"))
}

fn tools() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}},
                "required": ["city", "unit"],
                "additionalProperties": false
            }
        }
    }])
}

async fn chat(e: &Arc<Engine>, body: Value) -> Value {
    let out = openai::serve_json(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    serde_json::from_slice(&out).unwrap()
}

fn question() -> Value {
    json!({"role": "user", "content": "What is the weather in Paris?"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_call_names_a_tool_with_arguments_that_fit_and_the_result_goes_back() {
    let e = engine();
    let mut tasks = Vec::new();
    for seed in 0..20u64 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"messages": [question()], "tools": tools(), "tool_choice": "required",
                              "temperature": 0.8, "seed": seed, "max_tokens": 60});
            (seed, chat(&e, body).await)
        }));
    }
    let mut first_call = None;
    for t in tasks {
        let (seed, v) = t.await.unwrap();
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "seed {seed}: {v}");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["type"], "function", "{v}");
        assert!(call["id"].as_str().is_some_and(|id| id.starts_with("call_")), "{v}");
        assert_eq!(call["function"]["name"], "get_weather", "{v}");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["city"].is_string(), "seed {seed}: {args}");
        assert!(args["unit"] == "celsius" || args["unit"] == "fahrenheit", "seed {seed}: {args}");
        assert_eq!(args.as_object().map(|o| o.len()), Some(2), "{args}");
        first_call.get_or_insert_with(|| call.clone());
    }

    // The app runs the tool and sends the result back; the model answers.
    let call = first_call.unwrap();
    let messages = json!([
        question(),
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 degrees and sunny"}
    ]);
    let parsed: Vec<ChatMessage> = serde_json::from_value(messages.clone()).unwrap();
    let spec = cocoon_engine::tools::ToolSpec::parse(json!({"tools": tools()}).as_object().unwrap()).unwrap();
    let prompt = e.render_chat_with_tools(&parsed, spec.as_ref()).unwrap();
    assert!(prompt.contains("<tools>") && prompt.contains("\"get_weather\""), "{prompt}");
    assert!(
        prompt.contains("<tool_call>") && prompt.contains("<tool_response>\n18 degrees and sunny\n</tool_response>"),
        "{prompt}"
    );
    let v = chat(&e, json!({"messages": messages, "tools": tools(), "temperature": 0, "max_tokens": 30})).await;
    let choice = &v["choices"][0];
    let answered = choice["message"]["content"].as_str().is_some_and(|c| !c.trim().is_empty());
    assert!(answered || choice["finish_reason"] == "tool_calls", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_call_arrives_as_a_tool_call_delta() {
    let e = engine();
    let body = json!({"messages": [question()], "tools": tools(), "stream": true, "stream_options": {"include_usage": true},
                      "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "temperature": 0, "max_tokens": 60});
    let resp = openai::serve(e, Endpoint::ChatCompletions, body.to_string().as_bytes()).await.unwrap();
    let bytes = openai::response::collect(resp.body).await;
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> =
        events.iter().filter(|e| **e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant", "{text}");
    let call = chunks.iter().find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).expect("a tool_calls delta");
    assert_eq!((call["index"].as_u64(), call["function"]["name"].as_str()), (Some(0), Some("get_weather")), "{call}");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string(), "{args}");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"), "{text}");
    let mut usage = cocoon_openai::SseUsageCounter::new();
    usage.feed(&bytes);
    usage.finish();
    assert!(usage.usage().is_some_and(|u| u.completion_tokens > 5), "{text}");
}

#[tokio::test]
async fn bad_tools_are_the_callers_error() {
    let e = engine();
    for body in [
        json!({"messages": [question()], "tools": [{"type": "function"}]}),
        json!({"messages": [question()], "tools": tools(), "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
        json!({"messages": [question()], "tool_choice": "required"}),
        json!({"messages": [question()], "tools": tools(), "tool_choice": "required", "response_format": {"type": "json_object"}}),
    ] {
        let err =
            openai::serve_json(e.clone(), Endpoint::ChatCompletions, body.to_string().as_bytes()).await.unwrap_err();
        assert_eq!(err.status.as_u16(), 400, "{body}: {}", err.message);
    }
}
