//! The task endpoints through a real network. The synthetic backend answers filler text, not
//! JSON: exactly the "small model answers badly" case, which must give well-formed JSON with a
//! clear per-text error, never a crash.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translate_and_summarize_answer_well_formed_json() {
    let net = Net::start("tasks", NetOpts { workers: 1, chunks: 3, ..Default::default() }).await;
    let url = format!("{}/v1/tasks/translate", net.api);

    let (status, v) = post_json(&url, r#"{"to":"fr","texts":["Hello <b>world</b> 👋","","Good night"]}"#).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], MODEL, "the default model is the network's first");
    let t = v["translations"].as_array().unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0]["error"]["code"], "malformed_output", "{v}");
    assert_eq!(t[1]["error"]["code"], "bad_input");
    assert_eq!(t[2]["error"]["code"], "malformed_output");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let (status, v) = post_json(&url, r#"{"to":"fr","from":"fr","texts":["Bonjour"]}"#).await;
    assert_eq!(status, 200);
    assert_eq!(v["translations"][0]["error"]["code"], "same_language");

    for bad in [r#"{"to":"fr","texts":[]}"#, r#"{"texts":["x"]}"#, "not json", r#"{"to":"fr","texts":["x"],"x":1}"#] {
        let (status, v) = post_json(&url, bad).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"]["message"].as_str().is_some());
    }
    let (status, v) = post_json(&url, r#"{"to":"fr","texts":["x"],"model":"no-such-model"}"#).await;
    assert_eq!(status, 404, "{v}");

    let url = format!("{}/v1/tasks/summarize", net.api);
    let (status, v) =
        post_json(&url, r#"{"text":"It rained all day. The match was cancelled. Fans went home."}"#).await;
    assert_eq!(status, 200, "{v}");
    assert!(!v["summary"].as_str().unwrap().is_empty());
    assert_eq!(v["object"], "summary");
    let (status, _): (u16, Value) = post_json(&url, r#"{"text":"  "}"#).await;
    assert_eq!(status, 400);
}
