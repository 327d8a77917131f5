//! Optional OpenAI features (tool calls, logprobs, logit bias, `n > 1`) through a real network:
//! a request that uses one goes only to a worker whose backend announced it, reaches that
//! backend byte for byte, and is billed for every choice; with no such worker it is a 400
//! naming the feature, and nothing is charged.

mod common;

use common::*;
use serde_json::Value;

const TOOL: &str = r#"{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}"#;

fn body(extra: &str) -> String {
    format!(
        r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"What is the weather in Paris?"}}],"max_tokens":8,{extra}}}"#
    )
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_requests_go_only_to_workers_that_have_them_and_pass_through_exactly() {
    let mut net = Net::start("features", NetOpts { workers: 1, payments: true, ..Default::default() }).await;
    let (status, v) =
        post_json(&format!("{}/v1/payments/deposit", net.api), &format!(r#"{{"amount":{}}}"#, 1_000_000_000u64)).await;
    assert_eq!(status, 200, "{v}");
    let url = net.chat_url();
    let tools = body(&format!(r#""tools":[{TOOL}],"tool_choice":"auto""#));

    // Only a worker whose backend has no optional features: a 400 naming the feature and its
    // fields, and nothing charged.
    let (status, v) = post_json(&url, &tools).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_feature", "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("tools") && message.contains("tool_choice"), "{message}");
    // A field of a feature with a bad value is the caller's error at the client already.
    let (status, v) = post_json(&url, &body(r#""n":99"#)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_field")), "{v}");
    let stats = get_json(&net.proxy_stats[0]).await.1;
    assert_eq!(stats["ledger"]["charged"], 0, "{stats}");

    // A worker whose backend has them all joins.
    let port = free_ports(1)[0];
    net.start_worker("worker-features", port, 32, &["--features".into(), "tools,logprobs,logit_bias,n".into()]);
    let stats = wait_for(&net.proxy_stats[0], 30, |v| enabled_workers(v) == 2).await;
    let workers = stats["workers"].as_array().expect("workers");
    let capable = |w: &&Value| w["features"] == "tools,logprobs,logit_bias,n";
    assert_eq!(workers.iter().filter(capable).count(), 1, "{stats}");

    // Every feature's fields reach the backend exactly as the app sent them, and only through
    // the capable worker.
    let bodies = [
        tools.clone(),
        body(&format!(
            r#""tools":[{TOOL}],"tool_choice":{{"type":"function","function":{{"name":"get_weather"}}}},"parallel_tool_calls":false"#
        )),
        body(r#""logprobs":true,"top_logprobs":3"#),
        body(r#""logit_bias":{"15339":-100,"50256":5.5}"#),
    ];
    for _ in 0..3 {
        for b in &bodies {
            let (status, v) = post_json(&url, b).await;
            assert_eq!(status, 200, "{b}: {v}");
            assert_eq!(backend_last_request(&net).await, *b);
        }
    }

    // Three choices: three answers, and the charge covers all three (the output bound is
    // reserved per choice; bounding by one choice's would charge a third of it).
    let (status, v) = post_json(&url, &body(r#""n":3,"logprobs":true"#)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"].as_array().map(Vec::len), Some(3), "{v}");
    let u = &v["usage"];
    assert_eq!(n(u, "completion_tokens"), 3 * 8, "{u}");
    assert_eq!(n(u, "total_cost"), 2 * (n(u, "prompt_tokens") + n(u, "completion_tokens")), "{u}");

    // Plain requests still go to either worker; the plain one never saw a feature request.
    for _ in 0..20 {
        assert_eq!(post_json(&url, &body(r#""temperature":0"#)).await.0, 200);
    }
    let stats = wait_for(&net.proxy_stats[0], 10, |v| v["ledger"]["reserved"] == 0).await;
    let workers = stats["workers"].as_array().expect("workers");
    let (features, plain): (Vec<&Value>, Vec<&Value>) = workers.iter().partition(capable);
    let (features, plain) = (n(features[0], "served"), n(plain[0], "served"));
    assert_eq!(features + plain, 3 * 4 + 1 + 20, "{stats}");
    assert!(features >= 13 && plain <= 20 && plain > 0, "features {features}, plain {plain}: {stats}");
    assert_eq!(stats["ledger"]["balanced"], true, "{stats}");
}
