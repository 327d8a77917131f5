//! `cocoon up`: the whole network on loopback in one command, until Ctrl-C.

use crate::{network, shutdown};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

/// The LLM `cocoon up` serves unless told otherwise: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), the
/// best translator of the models fetched here (scripts/fetch-models.sh; README, "Translation
/// quality").
pub const DEFAULT_MODEL: &str = "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

/// Arguments of `cocoon up`.
#[derive(Args)]
pub struct UpArgs {
    /// Number of workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Number of proxies (every worker and the client use all of them).
    #[arg(long, default_value_t = 1)]
    pub proxies: usize,
    /// OpenAI-compatible backend for the workers (vLLM, SGLang, llama.cpp, Ollama) instead of
    /// the embedded engine.
    #[arg(long, conflicts_with = "synthetic")]
    pub backend: Option<String>,
    /// The GGUF model the workers' embedded engine runs (fetched by scripts/fetch-models.sh).
    /// The default translates and summarises (measured with `cocoon bench-translate`: README,
    /// "Translation quality"); `models/SmolLM2-135M-Instruct.Q4_1.gguf` is ten times faster
    /// and cannot.
    #[arg(long, default_value = DEFAULT_MODEL, env = "COCOON_MODEL_FILE")]
    pub model_file: PathBuf,
    /// The Whisper model (CTranslate2 directory) of the speech-to-text worker that `up` adds
    /// when the model is there (fetched by scripts/fetch-models.sh).
    #[arg(long, default_value = "models/whisper-base", env = "COCOON_SPEECH_MODEL")]
    pub speech_model: PathBuf,
    /// Start no speech-to-text worker.
    #[arg(long)]
    pub no_speech: bool,
    /// The GGUF embedding model of the `/v1/embeddings` worker that `up` adds when the model is
    /// there (all-MiniLM-L6-v2, fetched and converted by scripts/fetch-models.sh).
    #[arg(long, default_value = "models/all-MiniLM-L6-v2.gguf", env = "COCOON_EMBEDDING_MODEL")]
    pub embedding_model: PathBuf,
    /// Start no embedding worker.
    #[arg(long)]
    pub no_embedding: bool,
    /// Serve the synthetic bench backend (canned text) instead of a model: for benchmarks.
    #[arg(long)]
    pub synthetic: bool,
    /// Model name the workers serve (default: from the model file; "bench-model" when
    /// synthetic; "default" with --backend).
    #[arg(long)]
    pub model: Option<String>,
    /// Port of the client's OpenAI-compatible API.
    #[arg(long, default_value_t = 10000)]
    pub client_port: u16,
    /// Where configs, logs and network.json go.
    #[arg(long, default_value = "data/up")]
    pub data_dir: PathBuf,
    /// Maximum concurrent requests per worker.
    #[arg(long, default_value_t = 32)]
    pub max_active: u32,
    /// Synthetic backend only: delay between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub delay_ms: u64,
    /// The client's starting deposit at each proxy, in nanotons (topped up when under half).
    #[arg(long, default_value_t = 10_000_000_000)]
    pub deposit: u64,
    /// Run without payments (every request free).
    #[arg(long)]
    pub no_payments: bool,
    /// Settle on the embedded DEV backend (deposits credited on request, no chain) instead of
    /// a local TON chain (`cocoon devnet`, which needs Node.js and contracts/node_modules).
    #[arg(long, conflicts_with = "no_payments")]
    pub embedded_settlement: bool,
    /// Port of the network explorer's page (0: any free port).
    #[arg(long, default_value_t = 10001)]
    pub explorer_port: u16,
    /// Start no explorer.
    #[arg(long)]
    pub no_explorer: bool,
}

/// Runs `cocoon up`: starts the whole network on loopback, prints where it is, and runs until
/// Ctrl-C, restarting a role that dies (`supervise.rs`) until one keeps dying.
pub async fn run(a: UpArgs) -> Result<()> {
    let backend = match (&a.backend, a.synthetic) {
        (Some(url), _) => network::BackendSpec::Url(url.clone()),
        (None, true) => {
            eprintln!("note: --synthetic: the workers serve the SYNTHETIC bench backend (canned text, not a model).");
            network::BackendSpec::Synthetic
        }
        (None, false) => {
            ensure_model(&a.model_file)?;
            // Workers share the machine: its cores split between them, two sequences each.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let threads = (cores / a.workers.max(1)).max(1);
            network::BackendSpec::Embedded { model_file: a.model_file.clone(), threads, parallel: 2 }
        }
    };
    // Speech to text: one more worker, when this binary has the engine and the model is here.
    let speech = (!a.no_speech && !a.synthetic && a.backend.is_none() && a.speech_model.join("model.bin").is_file())
        .then(|| a.speech_model.clone());
    if speech.is_none() && !a.no_speech && !a.synthetic && a.backend.is_none() {
        eprintln!(
            "note: no speech model at {}: no transcription worker (fetch it with scripts/fetch-models.sh)",
            a.speech_model.display()
        );
    }
    // Embeddings: one more worker, when the model is here.
    let wants_embedding = !a.no_embedding && !a.synthetic && a.backend.is_none();
    let embedding = (wants_embedding && a.embedding_model.is_file()).then(|| a.embedding_model.clone());
    if wants_embedding && embedding.is_none() {
        eprintln!(
            "note: no embedding model at {}: no embeddings worker (fetch it with scripts/fetch-models.sh)",
            a.embedding_model.display()
        );
    }
    eprintln!(
        "starting {} proxy(ies), {} worker(s) and a client (dev attestation: NOT SECURE, for local use only)...",
        a.proxies, a.workers
    );
    let stop = shutdown::on_signal();
    let spec = network::Spec {
        workers: a.workers,
        proxies: a.proxies,
        backend,
        model: a.model,
        client_port: a.client_port,
        data_dir: a.data_dir.clone(),
        max_active: a.max_active,
        bench: cocoon_bench_backend::Options { chunks: 50, bytes: 128, delay_ms: a.delay_ms, ..Default::default() },
        deposit: (!a.no_payments).then_some(a.deposit),
        speech,
        embedding,
        chain: !a.embedded_settlement,
        explorer: (!a.no_explorer).then_some(a.explorer_port),
    };
    let mut net = tokio::select! {
        r = network::Network::start(spec) => r?,
        _ = stop.cancelled() => return Ok(()),
    };
    println!("cocoon network is up");
    println!("  client API:   {}", net.api);
    println!("  model:        {}", net.model);
    if net.backend_url.is_empty() {
        println!("  engine:       embedded llama.cpp, {}", a.model_file.display());
    } else {
        println!("  backend:      {}", net.backend_url);
    }
    if let Some(url) = net.info["explorer"].as_str() {
        println!("  explorer:     {url}   (also: cargo run --release -p cocoon -- status)");
    }
    println!("  network.json: {}", a.data_dir.join("network.json").display());
    println!("  logs:         {}", a.data_dir.join("logs").display());
    if let Some(f) = net.info["client"]["token_file"].as_str() {
        println!("  money token:  {f} (the client's /v1/payments/* routes; `cocoon client balance` reads it)");
    }
    println!();
    println!("try:  curl -s {}/chat/completions -H 'content-type: application/json' \\", net.api);
    println!(
        "        -d '{{\"model\":\"{}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}],\"max_tokens\":5}}'",
        net.model
    );
    if let Some(speech) = net.info["speech_model"].as_str() {
        println!("speech: {speech}, e.g.  cocoon transcribe --model {speech} recording.wav");
    }
    if let Some(embedding) = net.info["embedding_model"].as_str() {
        println!(
            "embeddings: {embedding}, e.g.  curl -s {}/embeddings -H 'content-type: application/json' -d '{{\"model\":\"{embedding}\",\"input\":\"hello\"}}'",
            net.api
        );
    }
    if let Some(chain) = &net.chain {
        println!("payments: on a local TON chain (DEVNET: its coins are worthless)");
        println!("  TON API:  {}/api/v2/   root: {}", chain.api, chain.root);
        println!("  the client topped up its client contract from its wallet; the proxy credits what the chain shows");
        println!("  balance:  {}", balance_command(a.client_port, &a.data_dir));
    } else if !a.no_payments {
        println!("payments: on (embedded settlement, NOT a blockchain); the client has a deposit at each proxy");
        println!("  balance:  {}", balance_command(a.client_port, &a.data_dir));
    }
    println!("press Ctrl-C to stop");

    let result = tokio::select! {
        _ = stop.cancelled() => Ok(()),
        // A role that dies is restarted (with backoff); one that keeps dying stops the network.
        e = net.supervise() => Err(e),
    };
    if !a.no_payments {
        print_books(&net).await;
    }
    eprintln!("stopping...");
    net.stop().await;
    eprintln!("stopped");
    result
}

/// Prints the client's balance and each proxy's books before the network stops.
async fn print_books(net: &network::Network) {
    use crate::money::ton;
    let api = net.api.trim_end_matches("/v1");
    let proxies = net.info["proxies"].as_array().cloned().unwrap_or_default();
    let token = net.info["client"]["token_file"].as_str().and_then(|f| std::fs::read_to_string(f).ok());
    let token = token.as_deref().map(str::trim);
    for (i, p) in proxies.iter().enumerate() {
        if let Ok((200, a)) = network::get_json_with(&format!("{api}/v1/payments/account?proxy={i}"), token).await {
            let n = |k: &str| a[k].as_u64().unwrap_or(0);
            println!("proxy {i}: client available {}, charged {}", ton(n("available")), ton(n("charged")));
        }
        if let Ok((200, s)) = network::get_json(p["stats"].as_str().unwrap_or_default()).await {
            let l = &s["ledger"];
            let n = |k: &str| l[k].as_u64().unwrap_or(0);
            println!(
                "proxy {i}: workers earned {}, commission {}, books balanced: {}",
                ton(n("worker_earned")),
                ton(n("commission")),
                l["balanced"]
            );
            // On chain: each account's contract beside the ledger.
            let chain = &s["chain"];
            for c in chain["clients"].as_array().into_iter().flatten() {
                let (l, ch) = (&c["ledger"], &c["chain"]);
                let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or(0);
                println!(
                    "proxy {i}: client contract {}: on chain balance {} stake {} tokens {}; ledger balance {} stake {} tokens {}",
                    c["contract"].as_str().unwrap_or("?"),
                    ton(n(ch, "balance")),
                    ton(n(ch, "stake")),
                    n(ch, "tokens_used"),
                    ton(n(l, "balance")),
                    ton(n(l, "stake")),
                    n(l, "charged_tokens")
                );
            }
            for w in chain["workers"].as_array().into_iter().flatten() {
                let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or(0);
                println!(
                    "proxy {i}: worker contract {}: paid on chain {} tokens; ledger earned {} tokens",
                    w["contract"].as_str().unwrap_or("?"),
                    n(&w["chain"], "paid_tokens"),
                    n(&w["ledger"], "earned_tokens")
                );
            }
        }
    }
}

/// The model file, fetched with scripts/fetch-models.sh when it is missing.
pub(crate) fn ensure_model(path: &std::path::Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let script = std::path::Path::new("scripts/fetch-models.sh");
    if !script.exists() {
        bail!(
            "model file {} not found; fetch it with scripts/fetch-models.sh from the source tree, or pass --model-file, --backend URL or --synthetic",
            path.display()
        );
    }
    eprintln!("model file {} not found: fetching it...", path.display());
    let status = std::process::Command::new(script).status()?;
    if !status.success() || !path.exists() {
        bail!("fetching the model failed ({status}); see the output above");
    }
    Ok(())
}

/// The command that shows the client's balance in this network (with its token file unless
/// it is where `cocoon client` looks by default).
fn balance_command(client_port: u16, data_dir: &std::path::Path) -> String {
    let mut cmd = format!("cargo run --release -p cocoon -- client balance --url http://127.0.0.1:{client_port}");
    let token = data_dir.join("client").join(cocoon_client::api_token::TOKEN_FILE);
    if token != std::path::Path::new("data/up/client/api-token") {
        cmd.push_str(&format!(" --token-file {}", token.display()));
    }
    cmd
}
