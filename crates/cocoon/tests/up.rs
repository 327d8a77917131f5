//! `cocoon up`: one command starts a whole network with a real model (the embedded llama.cpp
//! engine on SmolLM2, Whisper base for speech); Ctrl-C stops all of it.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn up_starts_a_network_writes_network_json_and_stops_on_ctrl_c() {
    let dir = temp_dir("up");
    let port = free_ports(1)[0];
    let (model, speech) = (test_model(), test_speech_model());
    let (mut up, info) =
        start_up(&dir, port, &["--workers", "2", "--model-file", &model, "--speech-model", &speech]).await;
    let api = info["client"]["api"].as_str().unwrap();
    assert_eq!(api, format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(info["workers"].as_array().unwrap().len(), 3, "two LLM workers and a speech worker");
    assert_eq!(info["speech_model"], "whisper-base");
    assert_eq!(info["proxies"].as_array().unwrap().len(), 1);
    let mut pids = vec![info["client"]["pid"].as_u64().unwrap()];
    for role in ["proxies", "workers"] {
        for r in info[role].as_array().unwrap() {
            pids.push(r["pid"].as_u64().unwrap());
            let (status, stats) = get_json(r["stats"].as_str().unwrap()).await;
            assert_eq!(status, 200, "{stats}");
        }
    }
    // A real model answers: text and exact usage.
    let model = info["model"].as_str().unwrap();
    assert_eq!(model, "SmolLM2-135M-Instruct");
    let body = format!(
        r#"{{"model":"{model}","temperature":0,"max_tokens":12,"messages":[{{"role":"user","content":"What is the capital of France?"}}]}}"#
    );
    let (status, body) = post(&format!("{api}/chat/completions"), body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(!v["choices"][0]["message"]["content"].as_str().unwrap().trim().is_empty(), "{v}");
    let u = &v["usage"];
    assert!(u["prompt_tokens"].as_u64().unwrap() > 5 && u["completion_tokens"].as_u64().unwrap() > 0, "{u}");
    assert!(u["total_cost"].as_u64().unwrap() > 0, "payments are on in up: {u}");
    // The embedded workers announce tools, `n` and `logit_bias`: three choices come back and
    // are all billed, a JSON schema is enforced, a required tool call arrives as one.
    let schema = r#"{"type":"json_schema","json_schema":{"name":"c","schema":{"type":"object","properties":{"capital":{"type":"string","maxLength":20}},"required":["capital"],"additionalProperties":false}}}"#;
    let body = format!(
        r#"{{"model":"{model}","temperature":1,"max_tokens":24,"n":3,"logit_bias":{{"1000":-100}},"response_format":{schema},"messages":[{{"role":"user","content":"What is the capital of France? Answer in JSON."}}]}}"#
    );
    let (status, v) = post_json(&format!("{api}/chat/completions"), &body).await;
    assert_eq!(status, 200, "{v}");
    let choices = v["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 3, "{v}");
    let u = &v["usage"];
    let completion = u["completion_tokens"].as_u64().unwrap();
    assert!((3..=3 * 24).contains(&completion), "{u}");
    for c in choices.iter().filter(|c| c["finish_reason"] == "stop") {
        let answer: serde_json::Value = serde_json::from_str(c["message"]["content"].as_str().unwrap()).unwrap();
        assert!(answer["capital"].is_string() && answer.as_object().unwrap().len() == 1, "{answer}");
    }
    let tools = r#"[{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string","maxLength":20}},"required":["zone"]}}}]"#;
    let (status, v) = post_json(
        &format!("{api}/chat/completions"),
        &format!(
            r#"{{"model":"{model}","max_tokens":100,"temperature":0,"messages":[{{"role":"user","content":"What time is it in Tokyo?"}}],"tools":{tools},"tool_choice":"required"}}"#
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_time", "{v}");
    // ... and settle on the local TON chain, where the client's money arrived by a top-up.
    if missing_prerequisite().is_none() {
        assert!(info["chain"]["root"].is_string(), "{info}");
        let (_, st) = get_json(info["proxies"][0]["stats"].as_str().unwrap()).await;
        let c = &st["chain"]["clients"][0];
        assert!(c["chain"]["balance"].as_u64().unwrap_or(0) > 0, "the client contract holds the top-up: {st}");
        assert!(c["chain"]["stake"].as_u64().unwrap_or(0) > 0, "{st}");
    }

    // Every worker attests the SHA-256 of its weights, and /v1/models shows it.
    let (status, models) = get_json(&format!("{api}/models")).await;
    assert_eq!(status, 200, "{models}");
    let workers = models["data"][0]["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{models}");
    for w in workers {
        assert_eq!(w["model_sha256"].as_str().map(str::len), Some(64), "{models}");
    }
    if test_model().ends_with("SmolLM2-135M-Instruct.Q4_1.gguf") {
        assert_eq!(workers[0]["model_sha256"], "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    }

    // Translation and summaries on the real model: well-formed JSON whatever the model says.
    let (status, v) =
        post_json(&format!("{api}/tasks/translate"), r#"{"to":"fr","texts":["Good morning!","<b>Thank you</b> 👍"]}"#)
            .await;
    assert_eq!(status, 200, "{v}");
    let translations = v["translations"].as_array().unwrap();
    assert_eq!(translations.len(), 2, "{v}");
    for t in translations {
        let ok = t["text"].as_str().is_some_and(|s| !s.trim().is_empty());
        let err = t["error"]["code"].as_str().is_some() && t["error"]["message"].as_str().is_some();
        assert!(ok ^ err, "each text gets a translation or a clear error: {t}");
    }
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");
    let text =
        "The city council met on Monday to discuss the new park. Residents asked for more trees and a playground. \
                The council agreed to publish a plan next month.";
    let (status, v) = post_json(&format!("{api}/tasks/summarize"), &format!(r#"{{"text":"{text}"}}"#)).await;
    assert_eq!(status, 200, "{v}");
    assert!(!v["summary"].as_str().unwrap().trim().is_empty(), "{v}");

    // Voice to text through the network: espeak-ng's speech, multilingual Whisper base on the
    // speech worker.
    let speech =
        models["data"].as_array().unwrap().iter().find(|m| m["id"] == "whisper-base").expect("speech model listed");
    assert_eq!(
        speech["workers"][0]["model_sha256"],
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    );
    let url = format!("{api}/audio/transcriptions");
    let wav = speak("hello world this is a test");
    let (status, body) = post_form(&url, &[("model", "whisper-base")], "hello.wav", &wav).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let text = v["text"].as_str().unwrap().to_lowercase();
    assert!(text.contains("hello") && text.contains("world"), "{v}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 50, "audio tokens billed: {v}");
    assert!(v["usage"]["total_cost"].as_u64().unwrap() > 0, "{v}");
    // The CLI: `cocoon transcribe FILE` picks the network's whisper model and prints the text.
    let wav_path = dir.join("hello.wav");
    std::fs::write(&wav_path, &wav).unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["transcribe", "--url", api, &wav_path.display().to_string()])
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(out.status.success() && printed.contains("hello"), "{printed} {}", String::from_utf8_lossy(&out.stderr));
    let (status, srt) =
        post_form(&url, &[("model", "whisper-base"), ("response_format", "srt")], "hello.wav", &wav).await;
    assert_eq!(status, 200);
    let srt = String::from_utf8_lossy(&srt);
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:0"), "{srt}");
    // Not audio, truncated audio, no file: clear 4xx.
    let (status, body) = post_form(&url, &[("model", "whisper-base")], "notes.wav", b"these are not sounds").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("invalid_audio"), "{}", String::from_utf8_lossy(&body));
    let (status, _) = post_form(&url, &[("model", "whisper-base")], "cut.wav", &wav[..40]).await;
    assert_eq!(status, 400);
    let (status, _) = post_form(&url, &[("model", "whisper-base")], "empty.wav", b"").await;
    assert_eq!(status, 400);
    // Spanish speech: its language detected and reported in verbose_json, and translated to
    // English at /v1/audio/translations (which takes no `language`, as OpenAI's does).
    let spanish = speak_at("es", 150, "Buenos días a todos. Mañana por la mañana vamos a la playa con mis amigos.");
    let form = [("model", "whisper-base"), ("response_format", "verbose_json")];
    let (status, body) = post_form(&url, &form, "hola.wav", &spanish).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((v["language"].as_str(), v["task"].as_str()), (Some("es"), Some("transcribe")), "{v}");
    assert!(v["text"].as_str().unwrap().to_lowercase().contains("playa"), "{v}");
    let translations = format!("{api}/audio/translations");
    let (status, body) = post_form(&translations, &form, "hola.wav", &spanish).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((v["language"].as_str(), v["task"].as_str()), (Some("es"), Some("translate")), "{v}");
    assert!(v["text"].as_str().unwrap().to_lowercase().contains("beach"), "{v}");
    assert!(v["usage"]["total_cost"].as_u64().unwrap() > 0, "translations are billed: {v}");
    let (status, body) =
        post_form(&translations, &[("model", "whisper-base"), ("language", "es")], "hola.wav", &spanish).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("unsupported_field"), "{}", String::from_utf8_lossy(&body));

    // Ctrl-C.
    let status = up.stop().await.expect("up stops within 30 s");
    assert!(status.success(), "{status}");
    for pid in pids {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        assert!(!alive, "child {pid} still running after up stopped");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_on_a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = temp_dir("up-busy");
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(BIN)
            .args(["up", "--synthetic", "--client-port", &port.to_string(), "--data-dir", &dir.display().to_string()])
            .output(),
    )
    .await
    .expect("fails fast, no hang")
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use") && err.contains("--client-port"), "{err}");
}
