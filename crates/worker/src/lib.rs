//! The cocoon worker: a GPU owner's node.
//!
//! It dials every configured proxy over RA-TLS (workers may sit behind NAT; proxies never dial
//! out), announces what it serves, streams its status, and executes the inference requests the
//! proxies send it on a [`backend::Backend`].
//!
//! Layout: [`config`] (TOML), [`state`] (run-time settings and counters), [`link`] (one proxy
//! connection), [`service`] (what it answers on a link), [`meter`] (concurrency slots and token
//! counting), [`monitor`] (backend health), [`admin`] (local HTTP endpoint).

pub mod admin;
pub mod backend;
pub mod config;
pub mod link;
pub mod meter;
pub mod monitor;
pub mod openai_backend;
pub mod service;
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
}

/// Runs a worker until `stop` is cancelled.
pub async fn run(cfg: WorkerConfig, stop: CancellationToken) -> Result<(), WorkerError> {
    cfg.validate().map_err(WorkerError::Config)?;
    let hardware = HardwareProfile::parse(&cfg.hardware).map_err(WorkerError::Config)?;
    let backend: Arc<dyn backend::Backend> =
        Arc::new(openai_backend::OpenAiBackend::new(&cfg.backend).map_err(WorkerError::Config)?);
    let listener = cocoon_transport::bind(cfg.stats_listen).await?;

    let extra = BTreeMap::from([("model".to_string(), cfg.model.clone())]);
    let mut attestation = cfg.attestation.clone();
    if let (None, Some(dir)) = (&attestation.key_file, &cfg.data_dir) {
        attestation.key_file = Some(dir.join("key.pem"));
    }
    let identity = build_identity(Role::Worker, &attestation, extra)?;
    let wallet = Arc::new(VoucherWallet::new(cfg.data_dir.clone(), VoucherKind::WorkerPayout, identity.public_key()));
    let rotation = identity.spawn_rotation();
    let policy = build_policy(cfg.proxy_policy.clone(), Role::Proxy)?;
    let dialer = TlsDialer::new(Arc::new(identity.client_config(policy)?), Duration::from_secs(10));
    let worker_id = identity.public_key_hex();

    let state = Arc::new(state::WorkerState::new(cfg.coefficient));
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
                    voucher: None,
                },
                wallet: wallet.clone(),
                proxy_key: Default::default(),
                share,
                max_active: cfg.max_active,
                max_body: cfg.max_body_bytes,
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
        worker_id: worker_id.clone(),
        max_active: cfg.max_active,
        wallet: wallet.clone(),
    });
    let stats_addr = listener.local_addr().map_err(WorkerError::Serve)?;
    let admin_stop = stop.clone();
    let admin_task = tokio::spawn(async move {
        axum::serve(listener, admin::router(admin)).with_graceful_shutdown(admin_stop.cancelled_owned()).await
    });
    tokio::spawn(monitor::run(
        backend.clone(),
        state.clone(),
        Duration::from_millis(cfg.backend_poll_ms.max(50)),
        stop.clone(),
    ));
    let mut link_tasks = Vec::new();
    for l in &links {
        link_tasks.push(tokio::spawn(link::run(l.clone(), dialer.clone(), stop.clone())));
    }
    tracing::info!(model = %cfg.model, hardware = %hardware, proxies = ?cfg.proxies, stats = %format!("http://{stats_addr}/stats"), worker_id = %worker_id, "worker running");

    stop.cancelled().await;
    tracing::info!("worker shutting down");
    for t in link_tasks {
        let _ = t.await;
    }
    rotation.abort();
    match admin_task.await {
        Ok(r) => r.map_err(WorkerError::Serve),
        Err(_) => Ok(()),
    }
}
