//! Streaming through the whole network: fidelity, concurrency and cancellation.

mod common;

use common::*;
use std::time::Duration;

/// The synthetic backend stamps each answer with a fresh id and time; everything else must
/// arrive byte for byte.
fn normalize(body: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(body).into_owned();
    for key in ["\"id\":", "\"created\":"] {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find(key) {
            out.push_str(&rest[..i + key.len()]);
            out.push('#');
            let v = &rest[i + key.len()..];
            rest = &v[v.find([',', '}']).unwrap_or(v.len())..];
        }
        out.push_str(rest);
        s = out;
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_is_what_the_backend_sent() {
    let net = Net::start("fidelity", NetOpts { workers: 1, ..Default::default() }).await;
    // The worker forces include_usage on streams; ask the backend the same way.
    let body = chat_body(true, r#""stream_options":{"include_usage":true},"max_tokens":20"#);
    let (s1, direct) = post(&format!("{}/v1/chat/completions", net.backend), body.clone()).await;
    let (s2, through) = post(&net.chat_url(), body).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(count(&through, "data: "), 20 + 3, "20 content chunks, stop, usage, [DONE]");
    assert_eq!(normalize(&direct), normalize(&through));
    assert_ne!(normalize(&direct), String::from_utf8_lossy(&direct), "normalization did something");

    // Non-streaming answers too.
    let body = chat_body(false, r#""max_tokens":7"#);
    let (_, direct) = post(&format!("{}/v1/chat/completions", net.backend), body.clone()).await;
    let (status, through) = post(&net.chat_url(), body).await;
    assert_eq!(status, 200);
    assert_eq!(normalize(&direct), normalize(&through));

    // The client saw the usage the worker counted from the SSE stream.
    let (_, stats) = get_json(&format!("{}/stats", net.api)).await;
    assert_eq!(stats["counters"]["tokens"]["completion"], 27, "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_streams_spread_over_two_workers() {
    let net = Net::start("spread", NetOpts { workers: 2, delay_ms: 5, chunks: 20, ..Default::default() }).await;
    let url = net.chat_url();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { post(&url, chat_body(true, "")).await })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200);
        assert!(body.ends_with(b"data: [DONE]\n\n"), "stream complete");
        assert_eq!(count(&body, "chat.completion.chunk"), 20 + 2);
    }
    let (_, stats) = get_json(&net.proxy_stats[0]).await;
    let served: Vec<u64> = stats["workers"].as_array().unwrap().iter().map(|w| w["served"].as_u64().unwrap()).collect();
    assert_eq!(served.iter().sum::<u64>(), 40, "{stats}");
    assert!(served.iter().all(|&n| n >= 8), "both workers took a fair share: {served:?}");
    assert_eq!(stats["counters"]["succeeded"], 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_hangs_up_mid_stream_leaves_the_answer_to_finish_and_be_counted() {
    let net = Net::start("cancel", NetOpts { workers: 1, delay_ms: 50, chunks: 20, ..Default::default() }).await;
    let resp = post_stream(&net.chat_url(), chat_body(true, "")).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    read_until(&mut body, &mut buf, |b| count(b, "chat.completion.chunk") >= 3).await;
    assert!(count(&buf, "chat.completion.chunk") >= 3);
    drop(body); // the app hangs up mid-stream

    // The proxy reads the worker's answer to its end in the background, so that its usage
    // is known and charged (a client must not get tokens free by hanging up before the
    // trailers); the worker is not left with a stuck slot.
    let backend = wait_for(&format!("{}/stats", net.backend), 10, |v| v["streams_completed"] == 1).await;
    assert_eq!(backend["streams_cancelled"], 0, "{backend}");
    let proxy = wait_for(&net.proxy_stats[0], 10, |v| v["counters"]["cancelled"] == 1).await;
    assert_eq!(proxy["counters"]["completion_tokens"], 20, "the whole answer was counted: {proxy}");
    let proxy = wait_for(&net.proxy_stats[0], 10, |v| v["workers"][0]["running"] == 0).await;
    assert_eq!(proxy["counters"]["succeeded"], 0, "{proxy}");
    let worker = wait_for(&net.worker_stats[0], 10, |v| v["running"] == 0).await;
    assert_eq!(worker["counters"]["cancelled"], 0, "{worker}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
