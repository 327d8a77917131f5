//! `cocoon bench-engine`: prompt-processing and generation speed of the embedded engine, with
//! one stream and with N concurrent streams, measured in-process (the engine alone) and through
//! a local network (client API → proxy → worker, RA-TLS, payments on); the difference is what
//! the network costs per token. With `--peer`, llama.cpp's own `llama-server` is measured too,
//! on the same model, threads and sequences ([`crate::bench_peer`]), in the same run.
//!
//! Every run asks the same questions and measures from the caller's side: time to the first
//! generated text, time to the end, and the exact token counts the engine reports. All targets
//! are started first and then take turns round by round, never overlapping, so each has the
//! cores to itself and a slow minute of the machine falls on all of them.

use crate::{bench_peer, network};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use cocoon_engine::{ChatMessage, Engine, EngineConfig, GenEvent, GenRequest};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

/// Arguments of `cocoon bench-engine`.
#[derive(Args)]
pub struct BenchEngineArgs {
    /// The GGUF model (fetched by scripts/fetch-models.sh when it is the default one).
    #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf", env = "COCOON_MODEL_FILE")]
    pub model_file: PathBuf,
    /// Concurrent streams of the multi-stream run.
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Tokens generated per stream.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: u32,
    /// CPU threads for the engine (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Measure the engine alone, not through the network.
    #[arg(long)]
    pub in_process_only: bool,
    /// Where the benchmark network keeps its files.
    #[arg(long, default_value = "data/bench-engine")]
    pub data_dir: PathBuf,
    /// Also time speech to text with this Whisper model directory on espeak-ng speech
    /// (in-process).
    #[arg(long)]
    pub speech_model: Option<PathBuf>,
    /// Also measure llama.cpp's own server (this `llama-server` binary, built by
    /// scripts/build-llama-server.sh) on the same model, threads and sequences.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Rounds of every measurement (the targets take turns each round); medians are reported.
    #[arg(long, default_value_t = ROUNDS)]
    pub rounds: usize,
    /// Print every generation's timing as it is measured.
    #[arg(long)]
    pub verbose: bool,
}

/// One generation as the caller saw it.
struct Run {
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Submission to the first generated text.
    first: Duration,
    /// Submission to the end.
    total: Duration,
}

impl Run {
    /// Generation speed after the first token (the first includes prompt processing).
    fn gen_rate(&self) -> f64 {
        self.completion_tokens.saturating_sub(1) as f64 / (self.total - self.first).as_secs_f64().max(1e-9)
    }
}

/// What one generation asks.
#[derive(Clone)]
struct Ask {
    user: String,
    max_tokens: u32,
    temperature: f32,
    seed: u64,
}

/// Where generations run.
#[derive(Clone)]
enum Target {
    InProcess(Arc<Engine>),
    Network { api: String, model: String },
}

impl Target {
    async fn run(&self, ask: Ask) -> Result<Run> {
        match self {
            Target::InProcess(engine) => in_process(engine, ask).await,
            Target::Network { api, model } => through_network(api, model, ask).await,
        }
    }
}

async fn in_process(engine: &Arc<Engine>, ask: Ask) -> Result<Run> {
    let prompt = engine.render_chat(&[ChatMessage::new("user", ask.user)])?;
    let req = GenRequest {
        temperature: ask.temperature,
        top_p: 0.95,
        seed: Some(ask.seed),
        ..GenRequest::greedy(prompt, ask.max_tokens)
    };
    let started = Instant::now();
    let mut generation = engine.generate(req)?;
    let mut first = None;
    while let Some(ev) = generation.next_event().await {
        match ev {
            GenEvent::Logprob(_) => {}
            GenEvent::Text(_) => {
                first.get_or_insert_with(|| started.elapsed());
            }
            GenEvent::Done { prompt_tokens, completion_tokens, .. } => {
                let total = started.elapsed();
                return Ok(Run {
                    prompt_tokens: prompt_tokens.into(),
                    completion_tokens: completion_tokens.into(),
                    first: first.unwrap_or(total),
                    total,
                });
            }
            GenEvent::Error(e) => bail!("generation failed: {e}"),
        }
    }
    bail!("generation ended without a result")
}

/// A streaming chat completion through the client's API; text and usage read from the SSE.
async fn through_network(api: &str, model: &str, ask: Ask) -> Result<Run> {
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": ask.user}],
        "max_tokens": ask.max_tokens,
        "temperature": ask.temperature,
        "top_p": 0.95,
        "seed": ask.seed,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::post(format!("{api}/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let started = Instant::now();
    let resp = client.request(req).await.context("request to the client API")?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut first = None;
    let mut meter = cocoon_openai::SseUsageCounter::new();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        meter.feed(&data);
        if first.is_none() {
            pending.extend_from_slice(&data);
            if has_content(&pending) {
                first = Some(started.elapsed());
            }
        }
    }
    let total = started.elapsed();
    meter.finish();
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&pending));
    }
    if let Some(e) = meter.error() {
        bail!("the stream failed: {e}");
    }
    let usage = meter.usage().context("the stream carried no usage")?;
    Ok(Run {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        first: first.unwrap_or(total),
        total,
    })
}

/// Whether the SSE read so far holds a chunk with non-empty generated text.
fn has_content(sse: &[u8]) -> bool {
    String::from_utf8_lossy(sse).split("\n\n").filter_map(|e| e.strip_prefix("data: ")).any(|e| {
        serde_json::from_str::<Value>(e)
            .ok()
            .and_then(|v| v["choices"][0]["delta"]["content"].as_str().map(|s| !s.is_empty()))
            .unwrap_or(false)
    })
}

/// The measurements of one target.
struct Report {
    prompt_tokens: u64,
    pp_rate: f64,
    one: Run,
    streams: usize,
    multi_tokens: u64,
    multi_wall: f64,
    multi_per_stream: f64,
}

/// A long prompt that starts differently for each `run`, so that no engine answers it from a
/// cached prefix (both the embedded engine and llama-server reuse the KV cache of a prompt
/// they saw).
fn long_prompt(run: usize) -> String {
    let filler = "The quick brown fox jumps over the lazy dog while the cat watches from the fence. ".repeat(30);
    format!("Text number {run}, by author {}.\n{filler}\nSummarise the text above.", run * 7919 % 1000)
}

fn story(i: usize, max_tokens: u32) -> Ask {
    // Sampled (not greedy) so a story does not loop; the seed keeps runs comparable.
    Ask { user: format!("Write a long story about dragon number {i}."), max_tokens, temperature: 0.8, seed: i as u64 }
}

/// What one round measures on one target.
struct Round {
    /// Prompt tokens per second of an uncached long prompt with one token out.
    pp_rate: f64,
    prompt_tokens: u64,
    one: Run,
    /// All streams' tokens, wall time, and the mean of their own generation speeds.
    multi: (u64, f64, f64),
}

/// One round on one target: an uncached long prompt, one story alone, then `streams` stories at
/// once. Every target gets the same prompts and seeds in the same round.
async fn round(target: &Target, round: usize, streams: usize, max_tokens: u32, verbose: bool) -> Result<Round> {
    let r = target.run(Ask { user: long_prompt(round), max_tokens: 1, temperature: 0.0, seed: 0 }).await?;
    let pp_rate = r.prompt_tokens as f64 / r.total.as_secs_f64().max(1e-9);
    let one = target.run(story(round * 100, max_tokens)).await?;
    let started = Instant::now();
    let stories = (0..streams).map(|i| target.run(story(round * 100 + i + 1, max_tokens)));
    let runs = futures::future::try_join_all(stories).await?;
    let wall = started.elapsed().as_secs_f64();
    let tokens: u64 = runs.iter().map(|r| r.completion_tokens).sum();
    let per_stream = runs.iter().map(Run::gen_rate).sum::<f64>() / runs.len().max(1) as f64;
    if verbose {
        let show = |r: &Run| {
            format!(
                "{} tokens, first at {:.0} ms, done at {:.0} ms",
                r.completion_tokens,
                r.first.as_secs_f64() * 1e3,
                r.total.as_secs_f64() * 1e3
            )
        };
        eprintln!("    one stream: {}", show(&one));
        for r in &runs {
            eprintln!("    of {streams} streams: {}", show(r));
        }
    }
    Ok(Round { pp_rate, prompt_tokens: r.prompt_tokens, one, multi: (tokens, wall, per_stream) })
}

/// Measures every target `rounds` times, taking turns round by round (the order rotating), so
/// that whatever else the machine does in the meantime falls on all of them alike; each figure
/// is the median of its rounds.
async fn measure(targets: &[(&str, Target)], a: &BenchEngineArgs) -> Result<Vec<Report>> {
    let (rounds, streams) = (a.rounds, a.streams);
    for (name, target) in targets {
        target
            .run(Ask { user: "Hello".into(), max_tokens: 4, temperature: 0.0, seed: 0 })
            .await
            .with_context(|| format!("warming up {name}"))?;
    }
    let mut all: Vec<Vec<Round>> = targets.iter().map(|_| Vec::new()).collect();
    for r in 0..rounds {
        eprintln!("  round {}/{rounds}", r + 1);
        for k in 0..targets.len() {
            let t = (r + k) % targets.len();
            let (name, target) = &targets[t];
            if a.verbose {
                eprintln!("  {name}:");
            }
            all[t].push(
                round(target, r, streams, a.max_tokens, a.verbose)
                    .await
                    .with_context(|| format!("measuring {name}"))?,
            );
        }
    }
    Ok(all.into_iter().map(|rs| Report::median(rs, streams)).collect())
}

/// Rounds of each measurement by default; the median is reported.
const ROUNDS: usize = 5;

fn print_row(name: &str, r: &Report) {
    println!(
        "{:<22} {:>12.0} {:>14.1} {:>10.0} {:>16.1} {:>14.1}",
        name,
        r.pp_rate,
        r.one.gen_rate(),
        r.one.first.as_secs_f64() * 1000.0,
        r.multi_rate(),
        r.multi_per_stream,
    );
}

impl Report {
    /// Per figure, the median of the rounds (one stream by generation speed, the streams by
    /// their aggregate rate).
    fn median(mut rounds: Vec<Round>, streams: usize) -> Report {
        let mid = rounds.len() / 2;
        let mut pp: Vec<f64> = rounds.iter().map(|r| r.pp_rate).collect();
        pp.sort_by(f64::total_cmp);
        let prompt_tokens = rounds.first().map_or(0, |r| r.prompt_tokens);
        let mut multis: Vec<(u64, f64, f64)> = rounds.iter().map(|r| r.multi).collect();
        multis.sort_by(|a, b| (a.0 as f64 / a.1).total_cmp(&(b.0 as f64 / b.1)));
        let (multi_tokens, multi_wall, multi_per_stream) = multis[mid];
        rounds.sort_by(|a, b| a.one.gen_rate().total_cmp(&b.one.gen_rate()));
        let mut ttft: Vec<Duration> = rounds.iter().map(|r| r.one.first).collect();
        ttft.sort();
        let mut one = rounds.swap_remove(mid).one;
        // The first-token time is a figure of its own: its median, not the fastest stream's.
        one.first = ttft[mid];
        Report { prompt_tokens, pp_rate: pp[mid], one, streams, multi_tokens, multi_wall, multi_per_stream }
    }

    /// Tokens per second of all streams together.
    fn multi_rate(&self) -> f64 {
        self.multi_tokens as f64 / self.multi_wall.max(1e-9)
    }
}

/// Runs `cocoon bench-engine`: starts every target (llama-server with `--peer`, the engine
/// in-process, the engine through a local network unless `--in-process-only`), measures them
/// in turns, and prints the table and the ratios.
pub async fn run(a: BenchEngineArgs) -> Result<()> {
    if a.streams == 0 || a.max_tokens < 2 || a.rounds == 0 {
        bail!("--streams and --rounds must be at least 1 and --max-tokens at least 2");
    }
    crate::up::ensure_model(&a.model_file)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));

    let cfg = EngineConfig { threads: Some(threads), parallel: a.streams, ..EngineConfig::new(&a.model_file) };
    let mut targets: Vec<(&str, Target)> = Vec::new();
    let peer = match &a.peer {
        None => None,
        Some(binary) => {
            eprintln!("llama-server (peer): starting {} ...", binary.display());
            let settings = bench_peer::PeerSettings {
                binary,
                model: &a.model_file,
                threads,
                parallel: a.streams,
                context: cfg.context,
            };
            let server = bench_peer::Peer::start(settings).await?;
            targets.push(("llama-server (peer)", Target::Network { api: server.api.clone(), model: "peer".into() }));
            Some(server)
        }
    };

    eprintln!("in-process: loading {} ({threads} threads, {} sequences)...", a.model_file.display(), a.streams);
    let engine = tokio::task::spawn_blocking(move || Engine::load(cfg)).await??;
    targets.push(("in-process", Target::InProcess(engine.clone())));

    let mut net = None;
    if !a.in_process_only {
        eprintln!("through a local network (client -> proxy -> worker): starting it...");
        let port = network::free_ports(1)?[0];
        let n = network::Network::start(network::Spec {
            workers: 1,
            proxies: 1,
            backend: network::BackendSpec::Embedded { model_file: a.model_file.clone(), threads, parallel: a.streams },
            model: None,
            client_port: port,
            data_dir: a.data_dir.clone(),
            max_active: 64,
            bench: Default::default(),
            deposit: Some(1_000 * 1_000_000_000),
            speech: None,
            embedding: None,
            chain: false,
            explorer: None,
        })
        .await?;
        targets.push(("through the network", Target::Network { api: n.api.clone(), model: n.model.clone() }));
        net = Some(n);
    }

    eprintln!("measuring {} targets in turns, {} rounds...", targets.len(), a.rounds);
    let measured = measure(&targets, &a).await;
    drop(peer);
    drop(engine);
    if let Some(mut n) = net {
        n.stop().await;
    }
    let reports = measured?;
    let find = |name: &str| targets.iter().position(|(n, _)| *n == name).map(|i| &reports[i]);
    let (peer, remote) = (find("llama-server (peer)"), find("through the network"));
    let Some(local) = find("in-process") else { bail!("the in-process engine was not measured") };

    println!(
        "cocoon bench-engine: {} ({} prompt tokens for prompt processing, {} tokens per stream, {threads} threads, median of {} rounds)",
        a.model_file.display(),
        local.prompt_tokens,
        a.max_tokens,
        a.rounds
    );
    println!(
        "{:<22} {:>12} {:>14} {:>10} {:>16} {:>14}",
        "run",
        "pp tok/s",
        "1 stream tok/s",
        "TTFT ms",
        format!("{} streams tok/s", local.streams),
        "per stream"
    );
    for ((name, _), report) in targets.iter().zip(&reports) {
        print_row(name, report);
    }
    if let Some(p) = peer {
        println!(
            "embedded / llama-server: prompt {:.2}x, 1 stream {:.2}x, TTFT {:+.0} ms, {} streams {:.2}x",
            local.pp_rate / p.pp_rate.max(1e-9),
            local.one.gen_rate() / p.one.gen_rate().max(1e-9),
            (local.one.first.as_secs_f64() - p.one.first.as_secs_f64()) * 1000.0,
            local.streams,
            local.multi_rate() / p.multi_rate().max(1e-9),
        );
    }
    if let Some(r) = remote {
        println!(
            "the network adds: {:+.1}% to 1-stream tok/s, {:+.0} ms to the first token",
            (r.one.gen_rate() / local.one.gen_rate().max(1e-9) - 1.0) * 100.0,
            (r.one.first.as_secs_f64() - local.one.first.as_secs_f64()) * 1000.0,
        );
    }
    if let Some(dir) = &a.speech_model {
        speech(dir, threads).await?;
    }
    Ok(())
}

/// Speech to text in-process: ~30 s of espeak-ng speech, transcribed 3 times; the median time
/// and the real-time factor.
async fn speech(dir: &std::path::Path, threads: usize) -> Result<()> {
    use cocoon_speech::{testing::speak, SpeechConfig, Transcriber, TranscriptionParams};
    let sentence = "The quick brown fox jumps over the lazy dog near the river bank. ";
    let wav = speak(&sentence.repeat(6)).map_err(anyhow::Error::msg)?;
    let cfg = SpeechConfig { threads: Some(threads), ..SpeechConfig::new(dir) };
    let t = tokio::task::spawn_blocking(move || Transcriber::load(cfg)).await??;
    let params = TranscriptionParams {
        model: "bench".into(),
        task: Default::default(),
        language: None,
        prompt: None,
        temperature: None,
        filename: None,
    };
    let mut times = Vec::new();
    let mut duration = 0.0;
    for _ in 0..3 {
        let (t, wav, params) = (t.clone(), wav.clone(), params.clone());
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || t.transcribe(wav, &params)).await??;
        times.push(started.elapsed().as_secs_f64());
        duration = out.duration;
    }
    times.sort_by(f64::total_cmp);
    let median = times[1];
    println!(
        "speech to text (in-process, {}): {duration:.1} s of audio in {median:.2} s = {:.1}x real time (beam 5, int8, {threads} threads)",
        dir.display(),
        duration / median.max(1e-9)
    );
    Ok(())
}
