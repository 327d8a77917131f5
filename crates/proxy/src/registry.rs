//! The live registry of connected workers.
//!
//! A worker is in the registry exactly while its link is up: added after a successful hello,
//! updated by its status stream, removed the moment its HTTP/2 session ends.

use crate::{
    health::Health,
    select::{self, Candidate, NoWorker},
};
use cocoon_proto::{HardwareProfile, ModelList, ModelWorkerInfo, ModelsEntry, WorkerStatus};
use cocoon_transport::Body;
use hyper::client::conn::http2::SendRequest;
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
    pub address: String,
    pub model: String,
    pub hardware: HardwareProfile,
    pub max_active: u32,
    pub image_hash: Option<String>,
    /// SHA-256 of its model weights, from its attested claims.
    pub model_sha256: Option<String>,
    pub status: Mutex<WorkerStatus>,
    pub running: AtomicU32,
    pub health: Mutex<Health>,
    pub served: AtomicU64,
    pub failed: AtomicU64,
    pub send: SendRequest<Body>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these small locks cannot leave them inconsistent; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WorkerEntry {
    pub fn status(&self) -> WorkerStatus {
        lock(&self.status).clone()
    }
    pub fn set_status(&self, s: WorkerStatus) {
        *lock(&self.status) = s;
    }
    pub fn observe_latency(&self, rtt: std::time::Duration) {
        lock(&self.health).observe_latency(rtt, Instant::now());
    }
    pub fn observe_outcome(&self, ok: bool) {
        if ok {
            self.served.fetch_add(1, Relaxed);
        } else {
            self.failed.fetch_add(1, Relaxed);
        }
        lock(&self.health).observe_outcome(ok);
    }
    fn candidate(&self, hardware: Option<&str>, excluded: Option<u64>) -> Candidate {
        let status = self.status();
        let health = lock(&self.health).clone();
        Candidate {
            enabled: status.enabled,
            running: self.running.load(Relaxed),
            max_active: self.max_active,
            coefficient: status.coefficient,
            latency_ms: health.latency_ms_at(Instant::now()),
            success: health.success(),
            hardware_ok: hardware.is_none_or(|h| self.hardware.satisfies(h)),
            excluded: excluded == Some(self.link_id),
        }
    }
}

/// Holds a worker's running-request count up for as long as a request uses it.
pub struct Running(Arc<WorkerEntry>);

impl Running {
    pub fn new(w: Arc<WorkerEntry>) -> Self {
        w.running.fetch_add(1, Relaxed);
        Self(w)
    }
    pub fn worker(&self) -> &Arc<WorkerEntry> {
        &self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Relaxed);
    }
}

#[derive(Default)]
pub struct Registry {
    by_model: RwLock<HashMap<String, Vec<Arc<WorkerEntry>>>>,
}

#[derive(Serialize)]
pub struct WorkerView {
    pub worker_id: String,
    pub address: String,
    pub model: String,
    pub hardware: String,
    pub image_hash: Option<String>,
    pub model_sha256: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub coefficient: u32,
    pub running: u32,
    pub max_active: u32,
    pub latency_ms: f64,
    pub success_rate: f64,
    pub served: u64,
    pub failed: u64,
}

impl Registry {
    pub fn add(&self, w: Arc<WorkerEntry>) {
        let mut map = self.by_model.write().unwrap_or_else(|p| p.into_inner());
        map.entry(w.model.clone()).or_default().push(w);
    }

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
        max_coefficient: u32,
        exclude: Option<u64>,
    ) -> Result<(Arc<WorkerEntry>, u32), NoWorker> {
        let map = self.by_model.read().unwrap_or_else(|p| p.into_inner());
        let Some(ws) = map.get(model) else {
            return Err(NoWorker::UnknownModel);
        };
        let cands: Vec<Candidate> = ws.iter().map(|w| w.candidate(hardware, exclude)).collect();
        let i = select::choose(&cands, max_coefficient, &mut rand::rng())?;
        Ok((ws[i].clone(), cands[i].coefficient))
    }

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

    pub fn len(&self) -> usize {
        self.by_model.read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
