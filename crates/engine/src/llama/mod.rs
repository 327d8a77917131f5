//! The llama.cpp backend: loading the model, tokenizing, and handing generations to the
//! inference thread ([`runner`]).
//!
//! The model is shared (`Arc<LlamaModel>`: llama.cpp's tokenizer is read-only and thread-safe),
//! so prompts are tokenized on the caller's thread and the inference thread only decodes and
//! samples. The thread owns the one llama.cpp context, in which up to `parallel` sequences are
//! decoded together in one batch per step.

mod embed;
mod logs;
mod runner;

pub(crate) use embed::{load as load_embedder, EmbedBackend};

use crate::{admission::Load, EngineConfig, EngineError, GenEvent, GenRequest, Generation, ModelInfo};
use llama_cpp_2::{
    llama_backend::LlamaBackend,
    model::{params::LlamaModelParams, LlamaModel},
    token::LlamaToken,
};
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, OnceLock,
    },
    time::Instant,
};
use tokio::sync::mpsc as tmpsc;

/// Whether this build can load models.
pub(crate) const AVAILABLE: bool = true;

/// llama.cpp's global state, initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn llama_backend() -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            logs::install();
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Load(format!("llama.cpp backend: {e}")))
}

/// A generation handed to the inference thread.
pub(crate) struct Job {
    pub tokens: Vec<LlamaToken>,
    pub req: GenRequest,
    /// `req.max_tokens` capped by the context left after the prompt.
    pub max_tokens: u32,
    pub tx: tmpsc::UnboundedSender<GenEvent>,
}

/// The handle the engine keeps: the shared model and the inference thread's queue.
pub(crate) struct Backend {
    model: Arc<LlamaModel>,
    jobs: mpsc::Sender<Job>,
    alive: Arc<AtomicBool>,
    bos_text: String,
}

pub(crate) struct Loaded {
    pub backend: Backend,
    pub template: Option<String>,
    pub bos_text: String,
    pub eos_text: String,
    pub info: ModelInfo,
}

/// Loads a GGUF model's weights (blocking), logging progress each quarter after the first second.
fn load_model(path: &std::path::Path) -> Result<Arc<LlamaModel>, EngineError> {
    let backend = llama_backend()?;
    let started = Instant::now();
    let mut next_quarter = 1u32;
    let params = LlamaModelParams::default().with_progress_callback(move |p: f32| {
        if p * 4.0 >= next_quarter as f32 && next_quarter < 4 {
            if started.elapsed().as_secs() >= 1 {
                tracing::info!(percent = next_quarter * 25, "loading model");
            }
            next_quarter += 1;
        }
        true
    });
    let model = LlamaModel::load_from_file(backend, path, &params)
        .map_err(|e| EngineError::Load(format!("{}: {e}", path.display())))?;
    Ok(Arc::new(model))
}

/// Loads the model and starts the inference thread (blocking until its context exists).
pub(crate) fn load(cfg: &EngineConfig, threads: usize, load: Arc<Load>) -> Result<Loaded, EngineError> {
    let backend = llama_backend()?;
    let model = load_model(&cfg.model_path)?;

    let vocab = model.vocab();
    let special_text = |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let bos = vocab.bos();
    let bos_text = if bos.0 >= 0 { special_text(bos) } else { String::new() };
    let eos = vocab.eos();
    let eos_text = if eos.0 >= 0 { special_text(eos) } else { String::new() };
    // The template is `tokenizer.chat_template`; read in full (the metadata API grows its buffer).
    let template = model.meta_val_str("tokenizer.chat_template").ok().filter(|t| !t.trim().is_empty());
    let info = ModelInfo {
        file_name: String::new(),
        name: model.meta_val_str("general.name").ok(),
        architecture: model.meta_val_str("general.architecture").ok(),
        parameters: model.n_params(),
        size_bytes: model.size(),
        trained_context: model.n_ctx_train(),
        own_chat_template: template.is_some(),
    };
    let add_bos = vocab.should_add_bos();

    let alive = Arc::new(AtomicBool::new(true));
    let (jobs, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let settings = runner::Settings { context: cfg.context, parallel: cfg.parallel, threads };
    let thread_model = model.clone();
    let thread_alive = alive.clone();
    std::thread::Builder::new()
        .name("cocoon-engine".into())
        .spawn(move || runner::run(backend, thread_model, settings, rx, load, ready_tx, thread_alive))
        .map_err(|e| EngineError::Load(format!("cannot start the inference thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(EngineError::Load("the inference thread died while creating its context".into())),
    }
    let bos_prefix = if add_bos { bos_text.clone() } else { String::new() };
    Ok(Loaded { backend: Backend { model, jobs, alive, bos_text: bos_prefix }, template, bos_text, eos_text, info })
}

impl Backend {
    /// Tokens of a prompt: special tokens in the text are parsed, and BOS is added where the
    /// model wants one unless the text already starts with it (chat templates often write it).
    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let add_special = self.bos_text.is_empty() || !text.starts_with(&self.bos_text);
        self.model.vocab().tokenize(text.as_bytes(), add_special, true)
    }

    pub(crate) fn token_count(&self, text: &str) -> usize {
        self.tokenize(text).len()
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    pub(crate) fn start(&self, req: GenRequest, context: u32, load: &Arc<Load>) -> Result<Generation, EngineError> {
        let n_vocab = self.model.vocab().n_tokens();
        if let Some(&(t, _)) = req.logit_bias.iter().find(|(t, _)| i64::from(*t) >= i64::from(n_vocab)) {
            return Err(EngineError::InvalidRequest(format!(
                "`logit_bias` names token {t}, but the model's vocabulary has {n_vocab} tokens"
            )));
        }
        let tokens = self.tokenize(&req.prompt);
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest("the prompt has no tokens".into()));
        }
        let n = tokens.len();
        if n >= context as usize {
            return Err(EngineError::PromptTooLong { tokens: n, context });
        }
        let prompt_tokens = n as u32;
        let max_tokens = req.max_tokens.min(context - prompt_tokens);
        if !self.is_alive() {
            return Err(EngineError::Stopped);
        }
        load.try_enqueue().map_err(|(running, waiting)| EngineError::Busy { running, waiting })?;
        let (tx, rx) = tmpsc::unbounded_channel();
        if self.jobs.send(Job { tokens, req, max_tokens, tx }).is_err() {
            load.abandoned();
            return Err(EngineError::Stopped);
        }
        Ok(Generation::new(rx, prompt_tokens))
    }
}
