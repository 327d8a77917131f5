//! The embedding thread: an embedding model (BERT-like encoders, or a decoder with pooling)
//! in one llama.cpp context with embeddings on.
//!
//! A job is one request's texts. The thread tokenizes them, packs up to `parallel` of them
//! (and at most `context × parallel` tokens) into one batch, each text its own sequence,
//! decodes, and reads each sequence's pooled vector, L2-normalised as OpenAI's are. Between
//! batches it clears the context's memory and checks whether the caller is still waiting.
//! Jobs wait in a bounded queue; a full queue is [`EngineError::Busy`].

use super::{llama_backend, load_model};
use crate::embedder::{Embedded, EmbedderInfo};
use crate::{EngineConfig, EngineError};
use llama_cpp_2::{
    context::params::{LlamaContextParams, LlamaPoolingType},
    llama_batch::LlamaBatch,
    model::LlamaModel,
    token::LlamaToken,
};
use std::{
    num::NonZeroU32,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
};
use tokio::sync::oneshot;

/// One request's texts and where its answer goes.
struct Job {
    inputs: Vec<String>,
    reply: oneshot::Sender<Result<Embedded, EngineError>>,
}

/// The handle the embedder keeps: the thread's bounded queue.
pub(crate) struct EmbedBackend {
    jobs: mpsc::SyncSender<Job>,
    alive: Arc<AtomicBool>,
    queue: usize,
}

/// Marks the thread dead when it ends, however it ends.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Loads the model and starts the embedding thread (blocking until its context exists).
pub(crate) fn load(cfg: &EngineConfig, threads: usize) -> Result<(EmbedBackend, EmbedderInfo), EngineError> {
    let backend = llama_backend()?;
    let model = load_model(&cfg.model_path)?;
    let arch = model.meta_val_str("general.architecture").ok();
    // A model converted for embeddings names its pooling; a plain decoder has none: mean.
    let own_pooling = arch
        .as_deref()
        .and_then(|a| model.meta_val_str(&format!("{a}.pooling_type")).ok())
        .and_then(|p| p.parse::<i32>().ok())
        .filter(|&p| p > 0);
    let pooling = match own_pooling {
        Some(_) => LlamaPoolingType::Unspecified,
        None => LlamaPoolingType::Mean,
    };
    let info = EmbedderInfo {
        name: model.meta_val_str("general.name").ok(),
        architecture: arch,
        dimensions: usize::try_from(model.n_embd_out()).unwrap_or(0),
        pooling: match own_pooling {
            Some(1) | None => "mean",
            Some(2) => "cls",
            Some(3) => "last",
            Some(_) => "model's own",
        },
        trained_context: model.n_ctx_train(),
    };
    if info.dimensions == 0 {
        return Err(EngineError::Load("the model reports no embedding width".into()));
    }
    let n_ctx = cfg.context.saturating_mul(cfg.parallel as u32);
    let threads = i32::try_from(threads).unwrap_or(i32::MAX);
    // Non-causal models need a whole batch in one micro-batch: n_ubatch = n_batch = n_ctx.
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_seq_max(cfg.parallel as u32)
        .with_embeddings(true)
        .with_pooling_type(pooling)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);

    let alive = Arc::new(AtomicBool::new(true));
    let (jobs, rx) = mpsc::sync_channel::<Job>(cfg.queue);
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let settings = Settings { context: cfg.context as usize, parallel: cfg.parallel, dimensions: info.dimensions };
    let thread_alive = alive.clone();
    std::thread::Builder::new()
        .name("cocoon-embed".into())
        .spawn(move || {
            let _guard = AliveGuard(thread_alive);
            let ctx = match model.new_context(backend, params) {
                Ok(ctx) => ctx,
                Err(e) => {
                    let _ = ready_tx.send(Err(EngineError::Load(format!("creating the llama.cpp context: {e}"))));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut runner = Runner { model: &model, ctx, settings };
            while let Ok(job) = rx.recv() {
                if job.reply.is_closed() {
                    continue;
                }
                let answer = runner.embed(&job.inputs, &job.reply);
                let _ = job.reply.send(answer);
            }
        })
        .map_err(|e| EngineError::Load(format!("cannot start the embedding thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(EngineError::Load("the embedding thread died while creating its context".into())),
    }
    Ok((EmbedBackend { jobs, alive, queue: cfg.queue }, info))
}

impl EmbedBackend {
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// Queues `inputs`; the answer arrives on the returned receiver.
    pub(crate) fn submit(
        &self,
        inputs: Vec<String>,
    ) -> Result<oneshot::Receiver<Result<Embedded, EngineError>>, EngineError> {
        if !self.is_alive() {
            return Err(EngineError::Stopped);
        }
        let (reply, rx) = oneshot::channel();
        match self.jobs.try_send(Job { inputs, reply }) {
            Ok(()) => Ok(rx),
            Err(mpsc::TrySendError::Full(_)) => Err(EngineError::Busy { running: 1, waiting: self.queue }),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(EngineError::Stopped),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    /// Tokens one text may have.
    context: usize,
    /// Texts decoded together.
    parallel: usize,
    dimensions: usize,
}

struct Runner<'m> {
    model: &'m LlamaModel,
    ctx: llama_cpp_2::context::LlamaContext<'m>,
    settings: Settings,
}

impl Runner<'_> {
    fn embed(
        &mut self,
        inputs: &[String],
        reply: &oneshot::Sender<Result<Embedded, EngineError>>,
    ) -> Result<Embedded, EngineError> {
        let mut tokenized: Vec<Vec<LlamaToken>> = Vec::with_capacity(inputs.len());
        for (i, text) in inputs.iter().enumerate() {
            // The model's special tokens are added ([CLS] ... [SEP]); text that spells one is text.
            let tokens = self.model.vocab().tokenize(text.as_bytes(), true, false);
            if tokens.is_empty() {
                return Err(EngineError::InvalidRequest(format!("`input[{i}]` has no tokens")));
            }
            if tokens.len() > self.settings.context {
                return Err(EngineError::InvalidRequest(format!(
                    "`input[{i}]` is {} tokens; this model embeds at most {} tokens per input",
                    tokens.len(),
                    self.settings.context
                )));
            }
            tokenized.push(tokens);
        }
        let prompt_tokens = tokenized.iter().map(|t| t.len() as u64).sum();
        let budget = self.settings.context * self.settings.parallel;
        let mut vectors = Vec::with_capacity(inputs.len());
        let mut batch = LlamaBatch::new(budget, 1);
        let mut next = 0;
        while next < tokenized.len() {
            if reply.is_closed() {
                return Err(EngineError::Stopped);
            }
            // Pack texts until a sequence slot or the token budget runs out.
            let first = next;
            let mut used = 0;
            batch.clear();
            while next < tokenized.len() && next - first < self.settings.parallel {
                let tokens = &tokenized[next];
                if used + tokens.len() > budget {
                    break;
                }
                let seq = (next - first) as i32;
                for (pos, &t) in tokens.iter().enumerate() {
                    batch
                        .add(t, pos as i32, &[seq], true)
                        .map_err(|e| EngineError::Inference(format!("building the batch: {e}")))?;
                }
                used += tokens.len();
                next += 1;
            }
            self.ctx.clear_kv_cache();
            self.ctx.decode(&mut batch).map_err(|e| EngineError::Inference(format!("decoding: {e}")))?;
            for seq in 0..(next - first) as i32 {
                let v = self
                    .ctx
                    .embeddings_seq_ith(seq)
                    .map_err(|e| EngineError::Inference(format!("reading the pooled embedding: {e}")))?;
                vectors.push(normalized(&v[..self.settings.dimensions.min(v.len())]));
            }
        }
        self.ctx.clear_kv_cache();
        Ok(Embedded { vectors, prompt_tokens })
    }
}

/// `v` scaled to unit length (a zero vector stays zero).
fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}
