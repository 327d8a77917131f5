//! Asking an external backend which optional OpenAI features it has, when the operator did not
//! configure them.
//!
//! Of the servers a worker fronts, only llama.cpp's server can say: `GET /props` answers its
//! slot count and its chat template's capabilities. It always serves `logprobs`/`top_logprobs`
//! and `logit_bias`, and `n` up to its slot count (announced when it has two or more slots).
//! Its template may support tools while the server refuses them (started without `--jinja`:
//! "tools param requires --jinja flag"), so tools are announced only after a one-token request
//! with a tool succeeds. vLLM, SGLang and Ollama have no such endpoint: configure their
//! `features`.

use bytes::Bytes;
use cocoon_openai::{Feature, FeatureSet};
use http::{header, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

/// How long each probe request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest probe answer read.
const MAX_ANSWER: usize = 1 << 20;

/// What llama.cpp's server says about itself in `GET /props`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlamaServerProps {
    /// Parallel slots (`--parallel`): the most choices one request may ask for.
    pub slots: u64,
    /// The chat template renders tools (`chat_template_caps.supports_tools` and
    /// `supports_tool_calls`).
    pub template_tools: bool,
}

impl LlamaServerProps {
    /// Reads a `/props` answer; `None` unless it is llama.cpp's (it has `build_info` and
    /// `total_slots`).
    pub fn parse(v: &Value) -> Option<Self> {
        v.get("build_info")?.as_str()?;
        let slots = v.get("total_slots")?.as_u64()?;
        let caps = v.get("chat_template_caps");
        let cap = |name: &str| caps.and_then(|c| c.get(name)).and_then(Value::as_bool).unwrap_or(false);
        Some(Self { slots, template_tools: cap("supports_tools") && cap("supports_tool_calls") })
    }

    /// The features these props promise, tools aside (those need a trial).
    pub fn features(&self) -> FeatureSet {
        let mut set = FeatureSet::EMPTY.with(Feature::Logprobs).with(Feature::LogitBias);
        if self.slots >= 2 {
            set = set.with(Feature::Choices);
        }
        set
    }
}

/// The features of the OpenAI-compatible server at `base` (e.g. "http://127.0.0.1:8080"), or
/// `None` when it cannot say (not llama.cpp's server, or unreachable).
pub async fn probe(base: &str, model: &str) -> Option<FeatureSet> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let (status, props) = call(&client, Method::GET, &format!("{base}/props"), Bytes::new()).await?;
    if !status.is_success() {
        return None;
    }
    let props = LlamaServerProps::parse(&serde_json::from_slice(&props).ok()?)?;
    let mut features = props.features();
    if props.template_tools {
        let trial = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "probe", "parameters": {"type": "object", "properties": {}}}}],
            "max_tokens": 1,
        });
        let url = format!("{base}/v1/chat/completions");
        match call(&client, Method::POST, &url, Bytes::from(trial.to_string())).await {
            Some((status, _)) if status.is_success() => features = features.with(Feature::Tools),
            Some((status, body)) => tracing::info!(
                %status,
                answer = %String::from_utf8_lossy(&body[..body.len().min(200)]),
                "the backend's template has tools but a request with a tool was refused (llama-server without --jinja?): tools not announced"
            ),
            None => {}
        }
    }
    Some(features)
}

/// One request with a timeout and a bounded answer; `None` when it fails.
async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    url: &str,
    body: Bytes,
) -> Option<(http::StatusCode, Bytes)> {
    let uri: Uri = url.parse().ok()?;
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .ok()?;
    let answer = async {
        let resp = client.request(req).await.ok()?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_ANSWER).collect().await.ok()?.to_bytes();
        Some((status, body))
    };
    tokio::time::timeout(PROBE_TIMEOUT, answer).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(name: &str) -> Value {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn reads_what_llama_server_says() {
        // Recorded from llama-server b71 (`--jinja -np 4`) on two models.
        let smol = LlamaServerProps::parse(&recorded("llama-server-props-smollm2-135m.json")).unwrap();
        assert_eq!(smol, LlamaServerProps { slots: 4, template_tools: false });
        let qwen = LlamaServerProps::parse(&recorded("llama-server-props-qwen2.5-coder-0.5b.json")).unwrap();
        assert_eq!(qwen, LlamaServerProps { slots: 4, template_tools: true });
        assert_eq!(qwen.features().to_string(), "logprobs,logit_bias,n");
        let one_slot = LlamaServerProps { slots: 1, template_tools: true };
        assert!(!one_slot.features().contains(Feature::Choices));
        // Not llama.cpp's server: no claim.
        assert_eq!(LlamaServerProps::parse(&serde_json::json!({"total_slots": 4})), None);
        assert_eq!(LlamaServerProps::parse(&serde_json::json!({"object": "list", "data": []})), None);
    }
}
