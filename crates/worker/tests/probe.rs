//! The feature probe over real sockets, against a server that answers `/props` with what
//! llama.cpp's server answered (recorded) and that accepts or refuses a request with tools, as
//! llama-server does with and without `--jinja`.

use axum::{routing::get, routing::post, Router};
use cocoon_openai::Feature;
use cocoon_worker::probe::probe;
use http::StatusCode;

async fn serve(props: &'static str, tools_ok: bool) -> String {
    let app = Router::new().route("/props", get(move || async move { props })).route(
        "/v1/chat/completions",
        post(move || async move {
            if tools_ok {
                (StatusCode::OK, r#"{"choices":[]}"#)
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":{"message":"tools param requires --jinja flag"}}"#)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

const QWEN: &str = include_str!("data/llama-server-props-qwen2.5-coder-0.5b.json");
const SMOL: &str = include_str!("data/llama-server-props-smollm2-135m.json");

#[tokio::test]
async fn tools_are_announced_only_when_a_request_with_tools_is_served() {
    let with_jinja = probe(&serve(QWEN, true).await, "m").await.unwrap();
    assert_eq!(with_jinja.to_string(), "tools,logprobs,logit_bias,n");
    let without_jinja = probe(&serve(QWEN, false).await, "m").await.unwrap();
    assert!(!without_jinja.contains(Feature::Tools) && without_jinja.contains(Feature::Logprobs));
    // A template without tools is never tried.
    let smol = probe(&serve(SMOL, true).await, "m").await.unwrap();
    assert!(!smol.contains(Feature::Tools));
}

#[tokio::test]
async fn a_server_that_cannot_say_gets_no_features() {
    // A /props that is not llama.cpp's, and a server with no /props at all (vLLM: 404).
    assert_eq!(probe(&serve(r#"{"total_slots":4}"#, true).await, "m").await, None);
    let app = Router::new().route("/v1/models", get(|| async { "{}" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(probe(&format!("http://{addr}"), "m").await, None);
    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert_eq!(probe(&format!("http://127.0.0.1:{port}"), "m").await, None);
}
