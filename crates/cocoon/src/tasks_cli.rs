//! `cocoon translate`, `cocoon summarize` and `cocoon chat`: the network's uses from a terminal,
//! talking to a running client's API (`cocoon up` starts one).

use crate::network::post_json;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};

/// Which running client the task commands talk to, the model, and whether to print JSON.
#[derive(Args)]
pub struct Api {
    /// The client's local API.
    #[arg(long, default_value = "http://127.0.0.1:10000", env = "COCOON_CLIENT_URL")]
    pub url: String,
    /// Model (default: the first one the network offers).
    #[arg(long)]
    pub model: Option<String>,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cocoon translate`.
#[derive(Args)]
pub struct TranslateArgs {
    /// Target language, e.g. fr or French.
    #[arg(long)]
    pub to: String,
    /// Source language, if known.
    #[arg(long)]
    pub from: Option<String>,
    /// Texts to translate; "-" reads one text per line from stdin.
    #[arg(required = true)]
    pub texts: Vec<String>,
    /// The client API and model to use.
    #[command(flatten)]
    pub api: Api,
}

/// Arguments of `cocoon summarize`.
#[derive(Args)]
pub struct SummarizeArgs {
    /// A file, or "-" for stdin.
    pub file: String,
    /// Language of the summary.
    #[arg(long)]
    pub language: Option<String>,
    /// The client API and model to use.
    #[command(flatten)]
    pub api: Api,
}

/// Arguments of `cocoon transcribe`.
#[derive(Args)]
pub struct TranscribeArgs {
    /// The audio file (WAV, MP3, OGG/Vorbis or FLAC).
    pub file: std::path::PathBuf,
    /// Language of the speech (ISO-639-1), when known (detected when not).
    #[arg(long, conflicts_with = "translate")]
    pub language: Option<String>,
    /// English text of speech in any language (`POST /v1/audio/translations`).
    #[arg(long)]
    pub translate: bool,
    /// Output: text, json, verbose_json, srt or vtt.
    #[arg(long, default_value = "text")]
    pub format: String,
    /// The client API and model to use.
    #[command(flatten)]
    pub api: Api,
}

/// Arguments of `cocoon chat`.
#[derive(Args)]
pub struct ChatArgs {
    /// A system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// The client API and model to use.
    #[command(flatten)]
    pub api: Api,
}

fn base(api: &Api) -> String {
    api.url.trim_end_matches('/').trim_end_matches("/v1").to_string()
}

fn fail(status: u16, v: &Value) -> Result<()> {
    if status != 200 {
        let msg = v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        bail!("{msg} (HTTP {status})");
    }
    Ok(())
}

/// Runs `cocoon translate` through the client's `/v1/tasks/translate`: prints one translation (or error) per line.
pub async fn translate(a: TranslateArgs) -> Result<()> {
    let texts: Vec<String> = if a.texts == ["-"] {
        std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>()?.into_iter().filter(|l| !l.is_empty()).collect()
    } else {
        a.texts
    };
    let body = json!({"to": a.to, "from": a.from, "texts": texts, "model": a.api.model});
    let (status, v) = post_json(&format!("{}/v1/tasks/translate", base(&a.api)), &body).await?;
    if a.api.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    fail(status, &v)?;
    if !a.api.json {
        for t in v["translations"].as_array().into_iter().flatten() {
            match t["text"].as_str() {
                Some(text) => println!("{text}"),
                None => println!(
                    "[error {}: {}]",
                    t["error"]["code"].as_str().unwrap_or("?"),
                    t["error"]["message"].as_str().unwrap_or("")
                ),
            }
        }
    }
    Ok(())
}

/// Runs `cocoon summarize` through the client's `/v1/tasks/summarize` and prints the summary.
pub async fn summarize(a: SummarizeArgs) -> Result<()> {
    let text = if a.file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file))?
    };
    let body = json!({"text": text, "language": a.language, "model": a.api.model});
    let (status, v) = post_json(&format!("{}/v1/tasks/summarize", base(&a.api)), &body).await?;
    if a.api.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    fail(status, &v)?;
    if !a.api.json {
        println!("{}", v["summary"].as_str().unwrap_or_default());
    }
    Ok(())
}

/// A conversation on the terminal: each line is a user turn; answers stream as they come.
pub async fn chat(a: ChatArgs) -> Result<()> {
    let mut messages: Vec<Value> = a.system.iter().map(|s| json!({"role": "system", "content": s})).collect();
    let url = format!("{}/v1/chat/completions", base(&a.api));
    let model = match &a.api.model {
        Some(m) => m.clone(),
        None => {
            let (_, v) = crate::network::get_json(&format!("{}/v1/models", base(&a.api))).await?;
            v["data"][0]["id"].as_str().map(str::to_string).context("the network offers no model")?
        }
    };
    eprintln!("chatting with {model} (Ctrl-D to end)");
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        messages.push(json!({"role": "user", "content": line.trim()}));
        let body = json!({"model": model, "messages": messages, "stream": true, "max_tokens": a.max_tokens});
        let answer = stream_answer(&url, &body).await?;
        println!();
        messages.push(json!({"role": "assistant", "content": answer}));
    }
}

/// POSTs a streaming chat request and prints content deltas as they arrive.
async fn stream_answer(url: &str, body: &Value) -> Result<String> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    let resp = client.request(req).await?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        fail(status, &serde_json::from_slice(&bytes).unwrap_or(Value::Null))?;
        bail!("HTTP {status}");
    }
    let mut body = resp.into_body();
    let (mut buf, mut answer) = (Vec::new(), String::new());
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        buf.extend_from_slice(&data);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&event);
            let Some(payload) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
            if payload == "[DONE]" {
                return Ok(answer);
            }
            let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            if let Some(e) = v.get("error") {
                bail!("{}", e["message"].as_str().unwrap_or("error"));
            }
            if let Some(piece) = v.pointer("/choices/0/delta/content").and_then(Value::as_str) {
                print!("{piece}");
                out.flush()?;
                answer.push_str(piece);
            }
        }
    }
    Ok(answer)
}

/// Transcribes an audio file through a running client (`POST /v1/audio/transcriptions`), or
/// translates its speech to English (`POST /v1/audio/translations`).
pub async fn transcribe(a: TranscribeArgs) -> Result<()> {
    let audio = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let model = match &a.api.model {
        Some(m) => m.clone(),
        None => {
            let (_, v) = crate::network::get_json(&format!("{}/v1/models", base(&a.api))).await?;
            v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .find(|id| id.to_ascii_lowercase().contains("whisper"))
                .map(str::to_string)
                .context("the network offers no speech model (none named *whisper*); pass --model")?
        }
    };
    let format = if a.api.json { "verbose_json" } else { a.format.as_str() };
    let mut fields = vec![("model", model.as_str()), ("response_format", format)];
    if let Some(lang) = &a.language {
        fields.push(("language", lang.as_str()));
    }
    let name = a.file.file_name().and_then(|n| n.to_str()).unwrap_or("audio");
    let (content_type, body) = cocoon_openai::transcription::multipart_form(&fields, name, &audio);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let route = if a.translate { "translations" } else { "transcriptions" };
    let req = http::Request::post(format!("{}/v1/audio/{route}", base(&a.api)))
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body))?;
    let resp = client.request(req).await.context("the client API is not reachable (is `cocoon up` running?)")?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    if status != 200 {
        fail(status, &serde_json::from_slice(&bytes).unwrap_or(Value::Null))?;
    }
    print!("{}", String::from_utf8_lossy(&bytes));
    if !bytes.ends_with(b"\n") {
        println!();
    }
    Ok(())
}
