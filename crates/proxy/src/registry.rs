//! The live registry of connected workers.
//!
//! A worker is in the registry exactly while its link is up: added after a successful hello,
//! updated by its status stream, removed the moment its HTTP/2 session ends.

use crate::{
    health::Health,
    select::{self, Candidate, NoWorker},
};
use cocoon_openai::FeatureSet;
use cocoon_proto::{HardwareProfile, ModelList, ModelWorkerInfo, ModelsEntry, WorkerStatus};
use cocoon_transport::Body;
use hyper::client::conn::http2::SendRequest;
use rand::Rng;
use serde::Serialize;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering::Relaxed},
        Arc, Mutex, RwLock,
    },
    time::Instant,
};

/// One connected worker, as the proxy sees it.
pub struct WorkerEntry {
    /// Unique per link (a worker reconnecting gets a new one).
    pub link_id: u64,
    /// The worker's public key (hex).
    pub worker_id: String,
    /// The same key: the worker's account for earnings.
    pub worker_key: [u8; 32],
    /// The worker's TCP peer address as the proxy saw it, for logs and `/stats`.
    pub address: String,
    /// The model it serves (announced, and checked against its attested claim).
    pub model: String,
    /// The hardware it announced, matched against a request's `hardware` constraint.
    pub hardware: HardwareProfile,
    /// Most requests it takes at once, as announced in its hello.
    pub max_active: u32,
    /// The optional OpenAI features its backend has, as announced: a request that uses one
    /// goes only to workers that have it.
    pub features: FeatureSet,
    /// Hash of its attested image (hex), when its measurements are known.
    pub image_hash: Option<String>,
    /// SHA-256 of its model weights, from its attested claims.
    pub model_sha256: Option<String>,
    /// Its latest status (enabled, coefficient, reason), replaced by each frame of its status stream.
    pub status: Mutex<WorkerStatus>,
    /// Requests this proxy has on it right now; held up by [`Running`] guards.
    pub running: AtomicU32,
    /// Decayed latency and success estimates that worker selection scores it by.
    pub health: Mutex<Health>,
    /// Requests that finished without an error on this link.
    pub served: AtomicU64,
    /// Requests that failed on this link.
    pub failed: AtomicU64,
    /// The HTTP/2 handle requests and vouchers are sent to the worker on.
    pub send: SendRequest<Body>,
}

/// Workers of one model above which a choice samples rather than scoring every one.
const SAMPLE_ABOVE: usize = 32;

/// Random workers a sampled choice looks at before it scores them all.
const SAMPLE_TRIES: usize = 24;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these small locks cannot leave them inconsistent; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WorkerEntry {
    /// A copy of the worker's latest status.
    pub fn status(&self) -> WorkerStatus {
        lock(&self.status).clone()
    }
    /// Replaces the worker's status with a frame from its status stream.
    pub fn set_status(&self, s: WorkerStatus) {
        *lock(&self.status) = s;
    }
    /// Feeds a time to first byte into the worker's latency estimate.
    pub fn observe_latency(&self, rtt: std::time::Duration) {
        lock(&self.health).observe_latency(rtt, Instant::now());
    }
    /// Counts a finished request as served or failed and feeds its success rate.
    pub fn observe_outcome(&self, ok: bool) {
        if ok {
            self.served.fetch_add(1, Relaxed);
        } else {
            self.failed.fetch_add(1, Relaxed);
        }
        lock(&self.health).observe_outcome(ok);
    }
    /// What selection needs to know about it at `now` (read once per choice, not per worker).
    fn candidate(
        &self,
        hardware: Option<&str>,
        features: FeatureSet,
        excluded: Option<u64>,
        now: Instant,
    ) -> Candidate {
        let (enabled, coefficient) = {
            let s = lock(&self.status);
            (s.enabled, s.coefficient)
        };
        let (latency_ms, success) = {
            let h = lock(&self.health);
            (h.latency_ms_at(now), h.success())
        };
        Candidate {
            enabled,
            running: self.running.load(Relaxed),
            max_active: self.max_active,
            coefficient,
            latency_ms,
            success,
            hardware_ok: hardware.is_none_or(|h| self.hardware.satisfies(h)),
            features_ok: features.is_subset(self.features),
            excluded: excluded == Some(self.link_id),
        }
    }
}

/// Holds a worker's running-request count up for as long as a request uses it.
pub struct Running(Arc<WorkerEntry>);

impl Running {
    /// Counts one more running request on `w` until the guard is dropped.
    pub fn new(w: Arc<WorkerEntry>) -> Self {
        w.running.fetch_add(1, Relaxed);
        Self(w)
    }
    /// The worker this request is counted on.
    pub fn worker(&self) -> &Arc<WorkerEntry> {
        &self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Relaxed);
    }
}

/// The workers connected right now, grouped by the model they serve.
#[derive(Default)]
pub struct Registry {
    by_model: RwLock<HashMap<String, Vec<Arc<WorkerEntry>>>>,
}

/// One connected worker's state as listed under `workers` by `/stats`.
#[derive(Serialize)]
pub struct WorkerView {
    /// The worker's public key (hex).
    pub worker_id: String,
    /// Its TCP peer address as the proxy saw it.
    pub address: String,
    pub model: String,
    /// Its announced hardware profile, as text.
    pub hardware: String,
    /// The optional OpenAI features it announced ("tools,logprobs"; empty for none).
    pub features: String,
    /// Hash of its attested image (hex), when known.
    pub image_hash: Option<String>,
    /// SHA-256 of its model weights (hex), from its attested claims.
    pub model_sha256: Option<String>,
    /// Whether its latest status says it takes requests.
    pub enabled: bool,
    /// Why it says it is disabled, when it is and gave a reason.
    pub disabled_reason: Option<String>,
    /// Its price coefficient, per-mille (1000 = 1.0x).
    pub coefficient: u32,
    /// Requests this proxy has on it right now.
    pub running: u32,
    /// Most requests it takes at once.
    pub max_active: u32,
    /// Decayed peak latency to first byte, in milliseconds (rounded to two decimals).
    pub latency_ms: f64,
    /// Decayed success rate in [0, 1] (rounded to three decimals).
    pub success_rate: f64,
    /// Requests it finished without an error on this link.
    pub served: u64,
    /// Requests that failed on it on this link.
    pub failed: u64,
}

impl Registry {
    /// Registers a worker whose hello succeeded, under its model.
    pub fn add(&self, w: Arc<WorkerEntry>) {
        let mut map = self.by_model.write().unwrap_or_else(|p| p.into_inner());
        map.entry(w.model.clone()).or_default().push(w);
    }

    /// Forgets the worker on link `link_id` (its link ended); returns it if it was registered.
    pub fn remove(&self, link_id: u64) -> Option<Arc<WorkerEntry>> {
        let mut map = self.by_model.write().unwrap_or_else(|p| p.into_inner());
        let mut removed = None;
        map.retain(|_, ws| {
            if let Some(pos) = ws.iter().position(|w| w.link_id == link_id) {
                removed = Some(ws.swap_remove(pos));
            }
            !ws.is_empty()
        });
        removed
    }

    /// Chooses a worker for a request (see [`select::choose`]), with the coefficient it was
    /// chosen at.
    pub fn choose(
        &self,
        model: &str,
        hardware: Option<&str>,
        features: FeatureSet,
        max_coefficient: u32,
        exclude: Option<u64>,
    ) -> Result<(Arc<WorkerEntry>, u32), NoWorker> {
        let map = self.by_model.read().unwrap_or_else(|p| p.into_inner());
        let Some(ws) = map.get(model) else {
            return Err(NoWorker::UnknownModel);
        };
        let now = Instant::now();
        // Many workers: two eligible ones found by sampling are as good as two drawn from the
        // full eligible list, at a constant cost instead of one per worker.
        if ws.len() > SAMPLE_ABOVE {
            let mut rng = rand::rng();
            let mut found: Vec<(usize, Candidate)> = Vec::with_capacity(2);
            for _ in 0..SAMPLE_TRIES {
                let i = rng.random_range(0..ws.len());
                if found.first().is_some_and(|(j, _)| *j == i) {
                    continue;
                }
                let c = ws[i].candidate(hardware, features, exclude, now);
                if select::eligible(&c, max_coefficient) {
                    found.push((i, c));
                    if found.len() == 2 {
                        break;
                    }
                }
            }
            if let [(a, ca), (b, cb)] = &found[..] {
                let (i, c) = if select::score(cb) < select::score(ca) { (*b, cb) } else { (*a, ca) };
                return Ok((ws[i].clone(), c.coefficient));
            }
        }
        // Few workers, or few eligible: look at all of them (this also says why none fits).
        let cands: Vec<Candidate> = ws.iter().map(|w| w.candidate(hardware, features, exclude, now)).collect();
        let i = select::choose(&cands, max_coefficient, &mut rand::rng())?;
        Ok((ws[i].clone(), cands[i].coefficient))
    }

    /// The models served right now, each with its workers' price, load and hardware, sorted by id.
    pub fn models(&self) -> ModelList {
        let map = self.by_model.read().unwrap_or_else(|p| p.into_inner());
        let mut models: Vec<ModelsEntry> = map
            .iter()
            .map(|(id, ws)| ModelsEntry {
                id: id.clone(),
                workers: ws
                    .iter()
                    .map(|w| {
                        let s = w.status();
                        ModelWorkerInfo {
                            coefficient: s.coefficient,
                            running: w.running.load(Relaxed),
                            max_active: w.max_active,
                            enabled: s.enabled,
                            hardware: w.hardware.to_string(),
                            model_sha256: w.model_sha256.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        models.sort_by(|a, b| a.id.cmp(&b.id));
        ModelList { models }
    }

    /// Every connected worker's state, sorted by worker id, for `/stats`.
    pub fn views(&self) -> Vec<WorkerView> {
        let map = self.by_model.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<WorkerView> = map
            .values()
            .flatten()
            .map(|w| {
                let s = w.status();
                let h = lock(&w.health).clone();
                WorkerView {
                    worker_id: w.worker_id.clone(),
                    address: w.address.clone(),
                    model: w.model.clone(),
                    hardware: w.hardware.to_string(),
                    features: w.features.to_string(),
                    image_hash: w.image_hash.clone(),
                    model_sha256: w.model_sha256.clone(),
                    enabled: s.enabled,
                    disabled_reason: s.reason,
                    coefficient: s.coefficient,
                    running: w.running.load(Relaxed),
                    max_active: w.max_active,
                    latency_ms: (h.latency_ms_at(Instant::now()) * 100.0).round() / 100.0,
                    success_rate: (h.success() * 1000.0).round() / 1000.0,
                    served: w.served.load(Relaxed),
                    failed: w.failed.load(Relaxed),
                }
            })
            .collect();
        out.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        out
    }

    /// How many workers are connected, over all models.
    pub fn len(&self) -> usize {
        self.by_model.read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }

    /// Whether no worker is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn worker(
        i: u64,
        coefficient: u32,
        enabled: bool,
        pipes: &mut Vec<tokio::io::DuplexStream>,
    ) -> Arc<WorkerEntry> {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        pipes.push(theirs);
        let (send, conn) = cocoon_transport::h2_client(ours).await.unwrap();
        tokio::spawn(conn);
        Arc::new(WorkerEntry {
            link_id: i,
            worker_id: format!("w{i}"),
            worker_key: [0; 32],
            address: String::new(),
            model: "m".into(),
            hardware: HardwareProfile::parse("cpu").unwrap(),
            max_active: 4,
            features: FeatureSet::default(),
            image_hash: None,
            model_sha256: None,
            status: Mutex::new(WorkerStatus { enabled, coefficient, reason: None }),
            running: Default::default(),
            health: Default::default(),
            served: Default::default(),
            failed: Default::default(),
            send,
        })
    }

    #[tokio::test]
    async fn with_many_workers_only_eligible_ones_are_chosen_and_the_reason_is_kept() {
        let (r, mut pipes) = (Registry::default(), Vec::new());
        // 200 workers: 3 cheap enough and enabled, the rest too expensive or disabled.
        for i in 0..200u64 {
            let (coefficient, enabled) = match i {
                7 | 99 | 150 => (1000, true),
                i if i % 2 == 0 => (5000, true),
                _ => (1000, false),
            };
            r.add(worker(i, coefficient, enabled, &mut pipes).await);
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let (w, c) = r.choose("m", None, FeatureSet::default(), 2000, None).unwrap();
            assert!([7, 99, 150].contains(&w.link_id), "chose {}", w.link_id);
            assert_eq!(c, 1000);
            seen.insert(w.link_id);
        }
        // The better of two random eligible ones: the worst of three (here the last to join, whose
        // latency estimate has decayed least) always loses its pair, the other two share the rest.
        assert_eq!(seen.len(), 2, "{seen:?}");
        // None affordable: the full scan still says what the cheapest costs.
        assert_eq!(
            r.choose("m", None, FeatureSet::default(), 500, None).err(),
            Some(NoWorker::TooExpensive { cheapest: 1000 })
        );
        // All eligible ones full: busy.
        for id in [7u64, 99, 150] {
            let map = r.by_model.read().unwrap();
            let w = map["m"].iter().find(|w| w.link_id == id).unwrap();
            w.running.store(4, Relaxed);
        }
        assert_eq!(r.choose("m", None, FeatureSet::default(), 2000, None).err(), Some(NoWorker::AllBusy));
    }
}
