//! The CI smoke run of the fuzz targets: every committed corpus file (`fuzz/corpus/<target>/`)
//! goes through its target, which must not panic. Seeds are real data (a dev RA-TLS
//! certificate, Intel-signed TDX quotes, signed vouchers, a proxy report, a challenge, real
//! request bodies and headers); the rest is what `scripts/fuzz.sh` found worth keeping.
//! `WRITE_FUZZ_SEEDS=1 cargo test -p cocoon-fuzz-targets --test corpus -- --ignored` writes the seeds.

use std::path::{Path, PathBuf};

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_corpus_file_goes_through_its_target_without_a_panic() {
    let root = corpus_root();
    let mut files = 0;
    for target in cocoon_fuzz_targets::TARGETS {
        let dir = root.join(target);
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target has seeds)", dir.display()))
            .filter_map(Result::ok)
            .collect();
        assert!(!entries.is_empty(), "{} is empty", dir.display());
        for e in entries {
            let data = std::fs::read(e.path()).unwrap();
            assert!(cocoon_fuzz_targets::run(target, &data));
            files += 1;
        }
    }
    assert!(!cocoon_fuzz_targets::run("no-such-target", b""));
    eprintln!("{files} corpus files replayed");
}

#[test]
#[ignore = "writes the seed corpora; run once with WRITE_FUZZ_SEEDS=1"]
fn write_seeds() {
    if std::env::var("WRITE_FUZZ_SEEDS").is_err() {
        return;
    }
    let root = corpus_root();
    let put = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    put(
        "infer_meta",
        "chat",
        b"cocoon-request-id: 0123456789abcdef\ncocoon-endpoint: chat\ncocoon-model: m\ncocoon-stream: true\ncocoon-max-coefficient: 2000\ncocoon-timeout-ms: 30000\ncocoon-max-tokens: 64\ncocoon-coefficient: 1000\ncocoon-features: tools,logprobs\ncocoon-choices: 2\ncocoon-hardware: h100\n",
    );
    let frame = |json: &str| {
        let mut v = (json.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(json.as_bytes());
        v
    };
    let mut frames = frame(r#"{"enabled":true,"coefficient":1000,"reason":null}"#);
    frames.extend(frame(r#"{"enabled":false,"coefficient":1500,"reason":"disabled by operator"}"#));
    put("status_frames", "two", &frames);
    put(
        "sse_usage",
        "stream",
        b"\x07data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8}}\n\ndata: [DONE]\n\n",
    );
    put("sse_usage", "error", b"\x03data: {\"error\":{\"message\":\"boom\",\"code\":\"x\"}}\n\n");
    put(
        "openai_bodies",
        "chat",
        br#"{"model":"m","stream":true,"max_tokens":8,"n":2,"logprobs":true,"top_logprobs":2,"messages":[{"role":"user","content":"hello"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}"#,
    );
    put("openai_bodies", "embeddings", br#"{"model":"e","input":["a","b"],"encoding_format":"base64"}"#);
    put("openai_bodies", "usage", br#"{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#);
    let id =
        cocoon_ratls::Identity::new(cocoon_ratls::IdentityConfig::new(cocoon_ratls::Role::Proxy).with_attester(
            std::sync::Arc::new(cocoon_ratls::DevAttester::new(cocoon_ratls::Measurements::dev_default())),
        ))
        .unwrap();
    put("ratls_cert", "dev-proxy.der", &id.cert_der());
    for q in ["tdx_quote", "tdx_quote_td15ex"] {
        put("tdx_quote", q, &std::fs::read(ws.join("crates/tdx/tests/data").join(q)).unwrap());
    }
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("contracts/tests/vectors/vouchers.json")).unwrap()).unwrap();
    for case in vectors["cases"].as_array().unwrap().iter().take(3) {
        let name = case["name"].as_str().unwrap();
        for (k, v) in case.as_object().unwrap() {
            if let Some(b64) = v.as_str().filter(|_| k.ends_with("_b64")) {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
                put("voucher", &format!("{name}-{k}"), &bytes);
            }
        }
    }
    let mut tbody = br#"{"task":"transcribe","response_format":"json","language":"en","temperature":0}"#.to_vec();
    tbody.push(b'\n');
    tbody.extend_from_slice(
        b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\0\0\0",
    );
    put("transcription", "wav", &tbody);
    put("config", "proxy", &std::fs::read(ws.join("config/proxy.example.toml")).unwrap());
    put("config", "worker", &std::fs::read(ws.join("config/worker.example.toml")).unwrap());
    put("config", "client", &std::fs::read(ws.join("config/client.example.toml")).unwrap());
    let key = "ab".repeat(32);
    put(
        "explorer_report",
        "report",
        format!(r#"{{"version":1,"proxy_id":"{key}","software":"cocoon/0.1.0","read_at":1,"certificate":"","chain":null,"clients":{{"connected":1,"active_24h":1,"known":1,"contracts":["0:{key}"]}},"requests":{{"total":3,"succeeded":3,"failed":0}},"tokens":{{"prompt":1,"completion":2}},"workers":[{{"worker_id":"w","model":"m","hardware":"cpu","coefficient":1000,"enabled":true,"running":0,"max_active":4,"success_rate":1.0,"latency_ms":2.5,"served":3,"earned_tokens":9,"earned":"9"}}],"books":{{"charged":"18","commission":"9","balanced":true}},"anchor":{{"behind":0}}}}"#)
            .as_bytes(),
    );
    put("pow_challenge", "challenge", &cocoon_transport::pow::Challenge::new(19).encode());
}
