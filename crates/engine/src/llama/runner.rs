//! The inference thread: continuous batching of up to `parallel` sequences in one context.
//!
//! Each step it takes new jobs from its queue, drops the sequences whose reader went away
//! (their KV cache is cleared), gives free sequence slots to waiting jobs, and builds one batch:
//! the last sampled token of every generating sequence, then prompt chunks of newly admitted
//! ones with whatever batch room is left. After one `llama_decode` it samples a token for every
//! sequence that produced logits and sends its text. A sequence's position in the batch is its
//! llama.cpp sequence id (its slot).
//!
//! A slot keeps its KV cache when its generation ends, with the tokens it holds. A new job
//! takes the free slot whose cached tokens share the longest prefix with its prompt, drops the
//! rest of that cache, and decodes only what follows the shared prefix: the instructions a
//! translation or a chat history repeats in every request are computed once, as llama.cpp's
//! server does with `cache_prompt`. The cache is cleared only when a decode fails.

use super::Job;
use crate::{
    admission::Load,
    text::{StopFilter, Utf8Buffer},
    EngineError, FinishReason, GenEvent, GenRequest, TokenLogprob,
};
use llama_cpp_2::{
    context::{params::LlamaContextParams, LlamaContext},
    llama_backend::LlamaBackend,
    llama_batch::LlamaBatch,
    model::LlamaModel,
    sampling::LlamaSampler,
    token::{logit_bias::LlamaLogitBias, LlamaToken},
};
use std::{
    collections::{hash_map::RandomState, VecDeque},
    hash::{BuildHasher, Hasher},
    num::NonZeroU32,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
};
use tokio::sync::mpsc as tmpsc;

/// Tokens decoded per step at most (also llama.cpp's physical batch).
const BATCH: usize = 512;

#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub context: u32,
    pub parallel: usize,
    pub threads: usize,
}

/// One running generation.
struct Seq {
    id: i32,
    tx: tmpsc::UnboundedSender<GenEvent>,
    prompt: Vec<LlamaToken>,
    /// Prompt tokens already decoded (or reused from the slot's cache).
    fed: usize,
    /// Prompt tokens reused from the slot's cache.
    cached: usize,
    /// Generated tokens decoded into the KV cache, in order (the cache holds
    /// `prompt[..fed]` then these).
    decoded: Vec<LlamaToken>,
    /// Tokens in this sequence's KV cache (= position of the next token).
    n_past: i32,
    /// The last sampled token, decoded in the next step.
    next: Option<LlamaToken>,
    generated: u32,
    max_tokens: u32,
    sampler: LlamaSampler,
    /// Report each token's log-probability with this many alternatives.
    logprobs: Option<u8>,
    utf8: Utf8Buffer,
    stop: StopFilter,
    /// Tokens this sequence put into the current batch.
    added: usize,
    /// Batch index of the token whose logits are sampled after this step.
    logits_at: Option<i32>,
}

impl Seq {
    /// A sequence in slot `id` whose first `cached` prompt tokens are already in its KV cache.
    fn new(id: i32, job: Job, cached: usize, sampler: LlamaSampler) -> Self {
        let stop = StopFilter::new(&job.req.stop);
        Self {
            id,
            tx: job.tx,
            prompt: job.tokens,
            fed: cached,
            cached,
            decoded: Vec::new(),
            n_past: cached as i32,
            next: None,
            generated: 0,
            max_tokens: job.max_tokens,
            sampler,
            logprobs: job.req.logprobs,
            utf8: Utf8Buffer::new(),
            stop,
            added: 0,
            logits_at: None,
        }
    }

    fn send_text(&self, text: String) {
        if !text.is_empty() {
            let _ = self.tx.send(GenEvent::Text(text));
        }
    }

    /// The tokens this sequence's KV cache holds, in position order.
    fn into_cached_tokens(mut self) -> Vec<LlamaToken> {
        self.prompt.truncate(self.fed);
        self.prompt.append(&mut self.decoded);
        self.prompt
    }
}

/// Tokens `a` and `b` share from the start.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Candidates a sampled token is drawn from at most, as llama.cpp's server and Ollama do by
/// default: the draw then works on 40 tokens instead of the whole vocabulary (measured with
/// `cocoon bench-engine --peer`: without it, softmax and top-p over SmolLM2's 49,152 tokens
/// cost 10% of one stream's speed). Tokens past the 40 most likely are almost never inside
/// top-p's nucleus anyway.
const TOP_K: i32 = 40;

/// Greedy at temperature 0; otherwise the top [`TOP_K`], temperature, then top-p, then a
/// seeded draw. A request's grammar comes first: every candidate it does not allow is removed
/// before anything is drawn, so the output stays within it. Fails only on a grammar llama.cpp
/// cannot load.
fn sampler(model: &LlamaModel, req: &GenRequest) -> Result<LlamaSampler, String> {
    let mut chain = Vec::with_capacity(5);
    if let Some(g) = &req.grammar {
        chain.push(LlamaSampler::grammar(model, g, "root").map_err(|e| format!("the output grammar: {e}"))?);
    }
    if !req.logit_bias.is_empty() {
        // Token ids were checked against the vocabulary when the job was queued.
        let biases: Vec<LlamaLogitBias> =
            req.logit_bias.iter().map(|&(t, b)| LlamaLogitBias::new(LlamaToken(t as i32), b)).collect();
        chain.push(LlamaSampler::logit_bias(model.vocab().n_tokens(), &biases));
    }
    if req.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
        return Ok(LlamaSampler::chain_simple(chain));
    }
    let seed = req.seed.unwrap_or_else(|| RandomState::new().build_hasher().finish());
    let seed = (seed ^ (seed >> 32)) as u32;
    chain.extend([LlamaSampler::top_k(TOP_K), LlamaSampler::temp(req.temperature)]);
    if req.top_p < 1.0 {
        chain.push(LlamaSampler::top_p(req.top_p, 1));
    }
    chain.push(LlamaSampler::dist(seed));
    Ok(LlamaSampler::chain_simple(chain))
}

/// The log-probability of `token` at batch index `idx` under the model's raw distribution (a
/// log-softmax of the logits), and the `top` most likely tokens there, most likely first.
fn token_logprob(ctx: &LlamaContext<'_>, model: &LlamaModel, idx: i32, token: LlamaToken, top: u8) -> TokenLogprob {
    let logits = ctx.get_logits_ith(idx);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln() + max;
    let logprob = |t: usize| logits.get(t).map_or(f32::NEG_INFINITY, |l| l - log_sum);
    let piece = |t: usize| {
        let mut bytes = Vec::new();
        model.vocab().token_to_piece_into(LlamaToken(t as i32), &mut bytes, false, None);
        bytes
    };
    let k = usize::from(top).min(logits.len());
    let mut ids: Vec<usize> = Vec::new();
    if k > 0 {
        ids = (0..logits.len()).collect();
        ids.select_nth_unstable_by(k - 1, |a, b| logits[*b].total_cmp(&logits[*a]));
        ids.truncate(k);
        ids.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]));
    }
    let t = usize::try_from(token.0).unwrap_or(usize::MAX);
    TokenLogprob {
        bytes: piece(t),
        logprob: logprob(t),
        top: ids.into_iter().map(|i| (piece(i), logprob(i))).collect(),
    }
}

/// Marks the engine dead when the thread ends, however it ends.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
        tracing::debug!("inference thread stopped");
    }
}

/// The thread's body: creates the context, reports readiness, serves jobs until the engine is
/// dropped and the last generation ended.
pub(super) fn run(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    settings: Settings,
    jobs: mpsc::Receiver<Job>,
    load: Arc<Load>,
    ready: mpsc::SyncSender<Result<(), EngineError>>,
    alive: Arc<AtomicBool>,
) {
    let _guard = AliveGuard(alive);
    let n_ctx = settings.context.saturating_mul(settings.parallel as u32);
    let threads = i32::try_from(settings.threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(BATCH as u32)
        .with_n_ubatch(BATCH as u32)
        .with_n_seq_max(settings.parallel as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(EngineError::Load(format!("creating the llama.cpp context: {e}"))));
            return;
        }
    };
    if ctx.n_ctx() < n_ctx {
        let _ = ready.send(Err(EngineError::Load(format!(
            "llama.cpp gave a context of {} tokens, {} needed",
            ctx.n_ctx(),
            n_ctx
        ))));
        return;
    }
    let _ = ready.send(Ok(()));
    let mut runner = Runner {
        model: &model,
        ctx,
        batch: LlamaBatch::new(BATCH, settings.parallel as i32),
        jobs,
        open: true,
        waiting: VecDeque::new(),
        slots: (0..settings.parallel).map(|_| None).collect(),
        cache: (0..settings.parallel).map(|_| Vec::new()).collect(),
        load,
        piece: Vec::with_capacity(32),
    };
    runner.serve();
}

struct Runner<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    jobs: mpsc::Receiver<Job>,
    /// The job queue is still connected (the engine exists).
    open: bool,
    waiting: VecDeque<Job>,
    slots: Vec<Option<Seq>>,
    /// Per slot, the tokens its KV cache holds while no sequence runs in it.
    cache: Vec<Vec<LlamaToken>>,
    load: Arc<Load>,
    piece: Vec<u8>,
}

impl Runner<'_> {
    fn serve(&mut self) {
        while self.intake() {
            self.drop_cancelled();
            self.admit();
            if !self.fill_batch() {
                continue;
            }
            match self.ctx.decode(&mut self.batch) {
                Ok(()) => self.sample_all(),
                Err(e) => self.fail_batch(&e.to_string()),
            }
        }
    }

    /// Takes queued jobs; blocks while idle. False when the engine is gone and all is done.
    fn intake(&mut self) -> bool {
        let idle = self.slots.iter().all(Option::is_none) && self.waiting.is_empty();
        if idle {
            if !self.open {
                return false;
            }
            match self.jobs.recv() {
                Ok(job) => self.waiting.push_back(job),
                Err(_) => return false,
            }
        }
        while self.open {
            match self.jobs.try_recv() {
                Ok(job) => self.waiting.push_back(job),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => self.open = false,
            }
        }
        true
    }

    /// Ends the sequences and waiting jobs whose `Generation` was dropped.
    fn drop_cancelled(&mut self) {
        let before = self.waiting.len();
        self.waiting.retain(|j| !j.tx.is_closed());
        for _ in self.waiting.len()..before {
            self.load.abandoned();
        }
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|s| s.tx.is_closed()) {
                if let Some(seq) = self.slots[i].take() {
                    tracing::debug!(seq = seq.id, generated = seq.generated, "generation cancelled");
                    self.release(seq);
                }
            }
        }
    }

    /// Gives free slots to waiting jobs, oldest first, each to the free slot whose cache
    /// shares the longest prefix with its prompt.
    fn admit(&mut self) {
        while !self.waiting.is_empty() {
            let free = (0..self.slots.len()).filter(|&i| self.slots[i].is_none());
            let Some((slot, shared)) = free
                .map(|i| (i, common_prefix(&self.cache[i], &self.waiting[0].tokens)))
                .max_by_key(|&(i, shared)| (shared, std::cmp::Reverse(i)))
            else {
                return;
            };
            let Some(job) = self.waiting.pop_front() else { return };
            let sampler = match sampler(self.model, &job.req) {
                Ok(s) => s,
                Err(e) => {
                    self.load.abandoned();
                    let _ = job.tx.send(GenEvent::Error(e));
                    continue;
                }
            };
            // At least the prompt's last token is decoded: its logits give the first sample.
            let reuse = shared.min(job.tokens.len().saturating_sub(1));
            let reuse = self.truncate_cache(slot, reuse);
            self.load.started();
            tracing::trace!(slot, reuse, prompt = job.tokens.len(), "sequence admitted");
            self.slots[slot] = Some(Seq::new(slot as i32, job, reuse, sampler));
        }
    }

    /// Keeps the first `keep` cached tokens of `slot` and drops the rest; returns how many were
    /// kept (0 when llama.cpp cannot drop part of a sequence, as for recurrent models).
    fn truncate_cache(&mut self, slot: usize, keep: usize) -> usize {
        self.cache[slot].clear();
        let id = u32::try_from(slot).ok();
        let partial = u32::try_from(keep).ok().filter(|_| keep > 0);
        if let Some(p0) = partial {
            if matches!(self.ctx.clear_kv_cache_seq(id, Some(p0), None), Ok(true)) {
                return keep;
            }
        }
        let _ = self.ctx.clear_kv_cache_seq(id, None, None);
        0
    }

    /// Builds this step's batch; false when there is nothing to decode.
    fn fill_batch(&mut self) -> bool {
        self.batch.clear();
        let mut budget = BATCH;
        let mut ok = true;
        for seq in self.slots.iter_mut().flatten() {
            seq.added = 0;
            seq.logits_at = None;
            if let Some(tok) = seq.next {
                seq.logits_at = Some(self.batch.n_tokens());
                ok &= self.batch.add(tok, seq.n_past, &[seq.id], true).is_ok();
                seq.added = 1;
                budget -= 1;
            }
        }
        for seq in self.slots.iter_mut().flatten() {
            if seq.next.is_some() || seq.fed >= seq.prompt.len() || budget == 0 {
                continue;
            }
            let n = (seq.prompt.len() - seq.fed).min(budget);
            for k in 0..n {
                let at = seq.fed + k;
                let last = at + 1 == seq.prompt.len();
                if last {
                    seq.logits_at = Some(self.batch.n_tokens());
                }
                ok &= self.batch.add(seq.prompt[at], seq.n_past + k as i32, &[seq.id], last).is_ok();
            }
            seq.added = n;
            budget -= n;
        }
        if !ok {
            // Cannot happen (the budget matches the batch size); fail rather than decode garbage.
            self.fail_batch("batch overflow");
            return false;
        }
        self.batch.n_tokens() > 0
    }

    /// After a successful decode: advance every sequence in the batch and sample where due.
    fn sample_all(&mut self) {
        for i in 0..self.slots.len() {
            let Some(seq) = self.slots[i].as_mut() else { continue };
            if seq.added == 0 {
                continue;
            }
            match seq.next.take() {
                Some(token) => seq.decoded.push(token),
                None => seq.fed += seq.added,
            }
            seq.n_past += seq.added as i32;
            let Some(idx) = seq.logits_at else { continue };
            let token = seq.sampler.sample(&self.ctx, idx);
            seq.generated += 1;
            let end = if self.model.vocab().is_eog(token) {
                Some((FinishReason::Stop, false))
            } else {
                if let Some(top) = seq.logprobs {
                    let lp = token_logprob(&self.ctx, self.model, idx, token, top);
                    let _ = seq.tx.send(GenEvent::Logprob(lp));
                }
                self.piece.clear();
                self.model.vocab().token_to_piece_into(token, &mut self.piece, false, None);
                let text = seq.utf8.push(&self.piece);
                let (out, hit) = seq.stop.push(&text);
                seq.send_text(out);
                if hit {
                    Some((FinishReason::Stop, true))
                } else if seq.generated >= seq.max_tokens {
                    Some((FinishReason::Length, false))
                } else {
                    seq.next = Some(token);
                    None
                }
            };
            if let Some((reason, stopped_by_string)) = end {
                if let Some(seq) = self.slots[i].take() {
                    self.finish(seq, reason, stopped_by_string);
                }
            }
        }
    }

    /// Flushes held-back text, sends `Done` and frees the sequence.
    fn finish(&mut self, mut seq: Seq, mut reason: FinishReason, stopped_by_string: bool) {
        if !stopped_by_string {
            let tail = seq.utf8.finish();
            let (out, hit) = seq.stop.push(&tail);
            seq.send_text(out);
            if hit {
                reason = FinishReason::Stop;
            } else {
                let rest = seq.stop.finish();
                seq.send_text(rest);
            }
        }
        let done = GenEvent::Done {
            prompt_tokens: seq.prompt.len() as u32,
            cached_tokens: seq.cached as u32,
            completion_tokens: seq.generated,
            finish_reason: reason,
        };
        let tx = seq.tx.clone();
        // Free the sequence first, so whoever sees `Done` also sees the engine's load drop.
        self.release(seq);
        let _ = tx.send(done);
    }

    /// A failed decode ends every sequence that was in the batch.
    fn fail_batch(&mut self, error: &str) {
        tracing::error!(error, "llama.cpp decode failed");
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|s| s.added > 0) {
                if let Some(seq) = self.slots[i].take() {
                    // What the failed decode left in the cache is unknown: forget all of it.
                    let _ = self.ctx.clear_kv_cache_seq(u32::try_from(seq.id).ok(), None, None);
                    self.load.finished();
                    let _ = seq.tx.send(GenEvent::Error(format!("inference failed: {error}")));
                }
            }
        }
    }

    /// Frees a sequence's slot, keeping its KV cache (and the tokens it holds) for the next
    /// prompt that starts the same way, and counts it finished.
    fn release(&mut self, seq: Seq) {
        let slot = seq.id as usize;
        let tokens = seq.into_cached_tokens();
        if let Some(c) = self.cache.get_mut(slot) {
            *c = tokens;
        }
        self.load.finished();
    }
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        for _ in self.waiting.drain(..) {
            self.load.abandoned();
        }
        for _ in self.slots.iter().flatten() {
            self.load.finished();
        }
    }
}
