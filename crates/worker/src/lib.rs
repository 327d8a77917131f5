//! The cocoon worker: a GPU owner's node.
//!
//! It dials every configured proxy over RA-TLS (workers may sit behind NAT; proxies never dial
//! out), announces what it serves, streams its status, and executes the inference requests the
//! proxies send it on a [`backend::Backend`].
//!
//! Layout: [`config`] (TOML), [`state`] (run-time settings and counters), [`link`] (one proxy
//! connection), [`service`] (what it answers on a link), [`meter`] (concurrency slots and token
//! counting), [`monitor`] (backend health), [`admin`] (local HTTP endpoint).
//!
//! Backends: [`openai_backend`] (an OpenAI-compatible HTTP server, `backend = "http://..."`)
//! or, with the cargo feature `embedded` and an `[embedded]` config table, `embedded_backend`
//! (llama.cpp in-process, loaded before the worker dials its proxies) or, with the feature
//! `speech` and a `[speech]` table, `speech_backend` (Whisper in-process, for
//! `/v1/audio/transcriptions`), or, with `embedded` and an `[embedding]` table,
//! `embedding_backend` (an embedding model in-process, for `/v1/embeddings`).

pub mod admin;
pub mod backend;
pub mod backend_http;
pub mod config;
#[cfg(feature = "embedded")]
pub mod embedded_backend;
#[cfg(feature = "embedded")]
pub mod embedding_backend;
pub mod link;
pub mod meter;
pub mod metrics;
pub mod monitor;
pub mod openai_backend;
pub mod probe;
pub mod reload;
pub mod service;
#[cfg(feature = "speech")]
pub mod speech_backend;
pub mod speech_upstream;
pub mod state;

pub use config::WorkerConfig;

use cocoon_proto::{HardwareProfile, WorkerAnnounce};
use cocoon_ratls::Role;
use cocoon_transport::{build_identity, build_policy, TlsDialer};
use cocoon_voucher::{VoucherKind, VoucherWallet};
use std::{
    collections::BTreeMap,
    sync::{atomic::AtomicU32, Arc},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

/// Why a worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("attestation: {0}")]
    Attestation(#[from] cocoon_ratls::RaTlsError),
    #[error(transparent)]
    Policy(#[from] cocoon_transport::PolicyError),
    #[error(transparent)]
    Bind(#[from] cocoon_transport::BindError),
    #[error("stats server: {0}")]
    Serve(std::io::Error),
    #[error("embedded engine: {0}")]
    Engine(String),
}

/// The backend the config asks for; the embedded engine is loaded here (blocking work on a
/// blocking thread). `None` when `stop` fired during the load.
async fn make_backend(
    cfg: &WorkerConfig,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    if let Some(speech) = &cfg.speech {
        return load_speech(speech, stop).await;
    }
    if let Some(embedding) = &cfg.embedding {
        return load_embedding(embedding, stop).await;
    }
    match (&cfg.embedded, &cfg.backend) {
        (Some(engine), backend) => {
            if backend.is_some() {
                tracing::warn!(
                    "both `backend` and `[embedded]` are set: serving the embedded engine, `backend` is ignored"
                );
            }
            load_embedded(cfg, engine, stop).await
        }
        (None, Some(url)) => Ok(Some(Arc::new(openai_backend::OpenAiBackend::new(url).map_err(WorkerError::Config)?))),
        (None, None) => Err(WorkerError::Config("`backend` is required".into())),
    }
}

#[cfg(feature = "embedded")]
async fn load_embedded(
    cfg: &WorkerConfig,
    engine: &config::EmbeddedConfig,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    let capacity = engine.parallel + engine.queue;
    if cfg.max_active as usize > capacity {
        tracing::warn!(
            max_active = cfg.max_active,
            parallel = engine.parallel,
            queue = engine.queue,
            "max_active exceeds the engine's parallel + queue: requests beyond it are refused as engine_busy"
        );
    }
    unless_stopped(embedded_backend::EmbeddedBackend::load(engine.clone()), stop).await
}

#[cfg(feature = "embedded")]
async fn load_embedding(
    model: &config::EmbeddedConfig,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    unless_stopped(embedding_backend::EmbeddingBackend::load(model.clone()), stop).await
}

#[cfg(not(feature = "embedded"))]
async fn load_embedding(
    _model: &config::EmbeddedConfig,
    _stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    Err(WorkerError::Config(config::EMBEDDED_NOT_BUILT.replace("[embedded]", "[embedding]")))
}

#[cfg(feature = "speech")]
async fn load_speech(
    speech: &config::SpeechTable,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    unless_stopped(speech_backend::SpeechBackend::load(speech.clone()), stop).await
}

/// The features of an external backend that has no configured `features`: what it says of
/// itself ([`probe`]), else none.
async fn probe_features(cfg: &WorkerConfig) -> cocoon_openai::FeatureSet {
    let Some(url) = &cfg.backend else { return cocoon_openai::FeatureSet::EMPTY };
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    match probe::probe(base, &cfg.model).await {
        Some(features) => {
            tracing::info!(features = %features, "the backend (llama.cpp's server) says it has these optional features");
            features
        }
        None => {
            tracing::info!(
                "the backend cannot say which optional features it has (only llama.cpp's server can): none announced; \
                 list them in `features` to serve tools, logprobs, logit_bias or n"
            );
            cocoon_openai::FeatureSet::EMPTY
        }
    }
}

/// Waits for an in-process engine to load; `None` when `stop` fires first.
#[cfg(any(feature = "embedded", feature = "speech"))]
async fn unless_stopped<B: backend::Backend>(
    load: impl std::future::Future<Output = Result<B, String>>,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    tokio::select! {
        loaded = load => Ok(Some(Arc::new(loaded.map_err(WorkerError::Engine)?))),
        _ = stop.cancelled() => Ok(None),
    }
}

#[cfg(not(feature = "speech"))]
async fn load_speech(
    _speech: &config::SpeechTable,
    _stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    Err(WorkerError::Config(config::SPEECH_NOT_BUILT.into()))
}

#[cfg(not(feature = "embedded"))]
async fn load_embedded(
    _cfg: &WorkerConfig,
    _engine: &config::EmbeddedConfig,
    _stop: &CancellationToken,
) -> Result<Option<Arc<dyn backend::Backend>>, WorkerError> {
    Err(WorkerError::Config(config::EMBEDDED_NOT_BUILT.into()))
}

/// SHA-256 of the weights an external backend serves (`model_file`), on a blocking thread
/// (the engine's hasher: it reports progress on large files).
async fn hash_model_file(path: std::path::PathBuf) -> Result<String, WorkerError> {
    tracing::info!(file = %path.display(), "hashing the model file");
    tokio::task::spawn_blocking(move || cocoon_engine::sha256_file(&path))
        .await
        .map_err(|e| WorkerError::Config(format!("hashing `model_file`: {e}")))?
        .map_err(|e| WorkerError::Config(format!("`model_file` {e}")))
}

/// Drains at shutdown: tells the proxies the worker takes nothing new, then waits until the
/// requests running now are done or `deadline` passes.
async fn drain(state: &state::WorkerState, deadline: Duration) {
    state.start_draining();
    let started = std::time::Instant::now();
    tracing::info!(
        running = state.running(),
        deadline_secs = deadline.as_secs(),
        "draining: no new requests; finishing the running ones"
    );
    while state.running() > 0 && started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match state.running() {
        0 => tracing::info!(took_ms = started.elapsed().as_millis() as u64, "drained; worker shutting down"),
        n => tracing::warn!(running = n, "drain deadline passed; closing the links under running requests"),
    }
}

/// Runs a worker until `stop` is cancelled, then drains (see [`drain`]).
pub async fn run(cfg: WorkerConfig, stop: CancellationToken) -> Result<(), WorkerError> {
    let (_keep, reloads) = tokio::sync::mpsc::channel(1);
    run_with_reloads(cfg, stop, reloads).await
}

/// [`run`], applying each config received on `reloads` (SIGHUP) as [`reload::apply`] says.
pub async fn run_with_reloads(
    mut cfg: WorkerConfig,
    stop: CancellationToken,
    mut reloads: tokio::sync::mpsc::Receiver<WorkerConfig>,
) -> Result<(), WorkerError> {
    cfg.validate().map_err(WorkerError::Config)?;
    // What a reload is compared with: the file as loaded, before the root's proxy list and
    // allowlist are filled in below (else every reload would name them as changed).
    let as_loaded = cfg.clone();
    if let Some(chain) = cfg.chain.clone() {
        let reg = cocoon_onchain::registry::read(&chain)
            .await
            .map_err(|e| WorkerError::Config(format!("the root's registry: {e}")))?;
        if cfg.proxies.is_empty() {
            cfg.proxies = reg.proxies.iter().map(|p| p.worker_endpoint.clone()).collect();
            tracing::info!(root = %chain.root, proxies = ?cfg.proxies, "proxies from the root's registry");
            if cfg.proxies.is_empty() {
                return Err(WorkerError::Config(format!("the root {} lists no proxy yet", chain.root)));
            }
        }
        cocoon_onchain::registry::apply_root_allowlist(&mut cfg.proxy_policy, &reg).map_err(WorkerError::Config)?;
    }
    let exposure = cocoon_transport::Exposure::check(cfg.openings(&cfg.proxies), cfg.insecure_dev, "worker")
        .map_err(WorkerError::Config)?;
    let hardware = HardwareProfile::parse(&cfg.hardware).map_err(WorkerError::Config)?;
    let Some(backend) = make_backend(&cfg, &stop).await? else {
        return Ok(());
    };
    let listener = cocoon_transport::bind(cfg.stats_listen).await?;
    let admin_listener = cocoon_transport::bind(cfg.admin_listen).await?;
    let admin_addr = admin_listener.local_addr().map_err(WorkerError::Serve)?;
    let token = cocoon_transport::AccessToken::load_or_create(
        cfg.data_dir.as_deref(),
        admin::TOKEN_FILE,
        "the worker's controls (/admin/*)",
    )
    .map_err(|e| WorkerError::Config(format!("the admin token in the data_dir: {e}")))?;

    let model_sha256 = match backend.model_sha256() {
        Some(h) => Some(h),
        None => match &cfg.model_file {
            Some(path) => Some(hash_model_file(path.clone()).await?),
            None => None,
        },
    };
    let mut extra = BTreeMap::from([(cocoon_proto::CLAIM_MODEL.to_string(), cfg.model.clone())]);
    if let Some(h) = &model_sha256 {
        extra.insert(cocoon_proto::CLAIM_MODEL_SHA256.to_string(), h.clone());
    }
    let mut attestation = cfg.attestation.clone();
    if let (None, Some(dir)) = (&attestation.key_file, &cfg.data_dir) {
        attestation.key_file = Some(dir.join("key.pem"));
    }
    let identity = build_identity(Role::Worker, &attestation, extra)?;
    // Each proxy's book learns this worker's contract from the first voucher it accepts.
    let wallet = Arc::new(VoucherWallet::new(cfg.data_dir.clone(), VoucherKind::WorkerPayout));
    let rotation = identity.spawn_rotation();
    let policy = build_policy(cfg.proxy_policy.clone(), Role::Proxy)?;
    let dialer = TlsDialer::new(Arc::new(identity.client_config(policy)?), Duration::from_secs(10))
        .with_max_pow(cfg.max_pow_difficulty);
    let worker_id = identity.public_key_hex();

    let features = match backend.features() {
        Some(own) => own,
        None if !cfg.features.is_empty() => cfg.features,
        None => probe_features(&cfg).await,
    };
    let state = Arc::new(state::WorkerState::new(cfg.coefficient));
    let tunables = Arc::new(reload::Tunables::new(&cfg));
    let share = (cfg.max_active / cfg.proxies.len() as u32).max(1);
    let links: Vec<Arc<service::LinkCtx>> = cfg
        .proxies
        .iter()
        .map(|p| {
            Arc::new(service::LinkCtx {
                proxy: p.clone(),
                state: state.clone(),
                backend: backend.clone(),
                announce: WorkerAnnounce {
                    worker_id: worker_id.clone(),
                    model: cfg.model.clone(),
                    hardware: hardware.clone(),
                    max_active: share,
                    status: state.status(),
                    model_sha256: model_sha256.clone(),
                    voucher: None,
                    features,
                },
                wallet: wallet.clone(),
                proxy_key: Default::default(),
                share,
                max_active: cfg.max_active,
                tunables: tunables.clone(),
                running: Arc::new(AtomicU32::new(0)),
                connected: Default::default(),
            })
        })
        .collect();

    let admin = Arc::new(admin::Admin {
        state: state.clone(),
        links: links.clone(),
        model: cfg.model.clone(),
        hardware: hardware.to_string(),
        backend: backend.describe(),
        model_sha256: model_sha256.clone(),
        worker_id: worker_id.clone(),
        max_active: cfg.max_active,
        wallet: wallet.clone(),
        admin_addr,
        exposure,
    });
    let stats_addr = listener.local_addr().map_err(WorkerError::Serve)?;
    let (admin_stop, controls_stop) = (stop.clone(), stop.clone());
    let controls = admin::controls(admin.clone(), token);
    let controls_task = tokio::spawn(async move {
        axum::serve(admin_listener, controls).with_graceful_shutdown(controls_stop.cancelled_owned()).await
    });
    let admin_task = tokio::spawn(async move {
        axum::serve(listener, admin::router(admin)).with_graceful_shutdown(admin_stop.cancelled_owned()).await
    });
    tokio::spawn(monitor::run(
        backend.clone(),
        state.clone(),
        Duration::from_millis(cfg.backend_poll_ms.max(50)),
        stop.clone(),
    ));
    // The links outlive `stop` by the drain: they close once running requests are done.
    let links_stop = CancellationToken::new();
    let mut link_tasks = Vec::new();
    for l in &links {
        link_tasks.push(tokio::spawn(link::run(l.clone(), dialer.clone(), links_stop.clone())));
    }
    tracing::info!(model = %cfg.model, hardware = %hardware, proxies = ?cfg.proxies, stats = %format!("http://{stats_addr}/stats"),
        admin = %format!("http://{admin_addr}/admin"), worker_id = %worker_id, "worker running");

    let mut current = as_loaded.clone();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(new) = reloads.recv() => {
                match new.validate() {
                    Err(e) => tracing::warn!(error = %e, "SIGHUP: the new config is invalid; nothing changed"),
                    Ok(()) => {
                        let (changed, restart) = reload::apply(&state, &tunables, &as_loaded, &current, &new);
                        tracing::info!(?changed, "config reloaded");
                        if !restart.is_empty() {
                            tracing::warn!(fields = ?restart, "these changes need a restart; not applied");
                        }
                        current = new;
                    }
                }
            }
        }
    }
    drain(&state, tunables.drain_timeout()).await;
    links_stop.cancel();
    for t in link_tasks {
        let _ = t.await;
    }
    rotation.abort();
    let _ = controls_task.await;
    match admin_task.await {
        Ok(r) => r.map_err(WorkerError::Serve),
        Err(_) => Ok(()),
    }
}
