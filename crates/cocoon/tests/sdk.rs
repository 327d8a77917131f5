//! The official `openai` Python SDK, unchanged, against `cocoon up` (the embedded engine on
//! SmolLM2): tool calls (a round trip, and streamed), 100 structured answers that must fit a JSON
//! schema, `n` choices, `logit_bias` and embeddings (all-MiniLM-L6-v2: similar sentences closer
//! than unrelated ones) all parse in the SDK and are what was asked. The SDK is
//! installed by scripts/python-sdk.sh (scripts/test.sh runs it); the checks are in
//! tests/sdk/openai_sdk.py.

mod common;

use common::*;
use std::{path::PathBuf, time::Duration};

fn sdk_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/python-sdk");
    assert!(
        dir.join("openai").is_dir(),
        "the openai Python SDK is not in {}: run ./scripts/python-sdk.sh",
        dir.display()
    );
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_sdk_reads_every_answer() {
    let sdk = sdk_dir();
    let dir = temp_dir("sdk");
    let port = free_ports(1)[0];
    let model_file = test_model();
    let embedding_file = test_embedding_model();
    let args = [
        "--workers",
        "2",
        "--no-speech",
        "--embedded-settlement",
        "--model-file",
        &model_file,
        "--embedding-model",
        &embedding_file,
    ];
    let (mut up, info) = start_up(&dir, port, &args).await;
    let api = info["client"]["api"].as_str().unwrap().to_string();
    let model = info["model"].as_str().unwrap().to_string();
    let embedding_model = info["embedding_model"].as_str().expect("an embedding worker").to_string();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/openai_sdk.py");
    let run = tokio::process::Command::new("python3")
        .arg(&script)
        .args([&api, &model, &embedding_model])
        .env("PYTHONPATH", &sdk)
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(Duration::from_secs(600), run).await.expect("the SDK checks within 10 minutes").unwrap();
    up.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK checks failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("100 of 100 structured answers fit"), "{stdout}");
    assert!(stdout.contains("embeddings similar"), "{stdout}");
}
