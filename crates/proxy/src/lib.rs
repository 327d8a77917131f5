//! The cocoon proxy: admits attested clients and workers, keeps a live registry of workers,
//! picks a worker for every request and streams the answer back.
//!
//! Layout: [`config`] (TOML), [`worker_link`] (admitting workers and following their status),
//! [`client_link`] (admitting clients), [`forward`] (the request path), [`select`] and
//! [`health`] (worker choice), [`registry`] (live workers), [`billing`] (the payment seam),
//! [`stats`] and [`admin`] (observability).

pub mod account;
pub mod admin;
pub mod billing;
pub mod client_link;
pub mod config;
pub mod forward;
pub mod health;
pub mod onchain;
pub mod payments;
pub mod registry;
pub mod select;
pub mod stats;
pub mod worker_link;

pub use config::ProxyConfig;

use cocoon_ratls::Role;
use cocoon_transport::{bind, build_identity, build_policy};
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("attestation: {0}")]
    Attestation(#[from] cocoon_ratls::RaTlsError),
    #[error(transparent)]
    Bind(#[from] cocoon_transport::BindError),
    #[error("stats server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Policy(#[from] cocoon_transport::PolicyError),
    #[error("payments: {0}")]
    Payments(#[from] payments::PaymentsError),
    #[error("config: {0}")]
    Config(String),
}

/// State shared by every task of a proxy.
pub struct Shared {
    pub proxy_id: String,
    pub registry: registry::Registry,
    pub stats: stats::ProxyStats,
    pub billing: Arc<dyn billing::Billing>,
    /// Present when payments are on (the same object as `billing`).
    pub payments: Option<Arc<payments::Payments>>,
    pub max_body: usize,
    pub max_timeout: Duration,
    pub client_addr: SocketAddr,
    pub worker_addr: SocketAddr,
    pub stop: CancellationToken,
    /// Model weights workers may serve (SHA-256 hex); empty: any.
    pub model_hashes: Vec<String>,
}

/// Runs a proxy until `stop` is cancelled.
pub async fn run(cfg: ProxyConfig, stop: CancellationToken) -> Result<(), ProxyError> {
    let mut cfg = cfg;
    let mut model_hashes = cfg.model_allowlist().map_err(ProxyError::Config)?;
    if let Some(chain) = cfg.payments.as_ref().and_then(|p| p.ton.clone()) {
        // On chain the root says which worker images and models are allowed, not this file.
        let reg =
            cocoon_onchain::registry::read(&chain).await.map_err(|e| ProxyError::Config(format!("the root: {e}")))?;
        cocoon_onchain::registry::apply_worker_allowlist(&mut cfg.worker_policy, &reg).map_err(ProxyError::Config)?;
        if !reg.model_hashes.is_empty() {
            if !model_hashes.is_empty() {
                tracing::warn!("`model_hashes` in the config is replaced by the root's model allowlist");
            }
            model_hashes = reg.model_hashes.clone();
        }
        tracing::info!(
            worker_images = reg.worker_image_hashes.len(),
            models = reg.model_hashes.len(),
            "allowlists from the root"
        );
    }
    let client_l = bind(cfg.client_listen).await?;
    let worker_l = bind(cfg.worker_listen).await?;
    let stats_l = bind(cfg.stats_listen).await?;
    let local = |l: &TcpListener, fallback| l.local_addr().unwrap_or(fallback);

    let identity = build_identity(Role::Proxy, &cfg.attestation, BTreeMap::new())?;
    let rotation = identity.spawn_rotation();
    let client_tls =
        TlsAcceptor::from(Arc::new(identity.server_config(build_policy(cfg.client_policy.clone(), Role::Client)?)?));
    let worker_tls =
        TlsAcceptor::from(Arc::new(identity.server_config(build_policy(cfg.worker_policy.clone(), Role::Worker)?)?));

    let payments = match &cfg.payments {
        Some(pc) => {
            let key = payments::signing_key(&identity.key_pkcs8_der())?;
            let p = match &pc.ton {
                Some(chain) => {
                    let client_ep =
                        pc.client_endpoint.clone().unwrap_or_else(|| local(&client_l, cfg.client_listen).to_string());
                    let worker_ep =
                        pc.worker_endpoint.clone().unwrap_or_else(|| local(&worker_l, cfg.worker_listen).to_string());
                    Arc::new(payments::Payments::open_on_chain(pc, chain, key, client_ep, worker_ep).await?)
                }
                None => {
                    tracing::warn!(
                        "payments on the EMBEDDED settlement backend: deposits are credited on request, \
                        not from the chain. DEV ONLY: never with real clients"
                    );
                    // Start-up: blocking on the disk here is fine.
                    Arc::new(payments::Payments::open(pc, key)?)
                }
            };
            tracing::info!(data_dir = %pc.data_dir.display(), prices = ?p.prices(), "payments on");
            Some(p)
        }
        None => {
            tracing::info!("payments off: every request is free");
            None
        }
    };
    let billing: Arc<dyn billing::Billing> = match &payments {
        Some(p) => p.clone(),
        None => Arc::new(billing::Free),
    };
    let shared = Arc::new(Shared {
        proxy_id: identity.public_key_hex(),
        registry: Default::default(),
        stats: Default::default(),
        billing,
        payments: payments.clone(),
        max_body: cfg.max_body_bytes,
        max_timeout: Duration::from_secs(cfg.max_timeout_secs.max(1)),
        client_addr: local(&client_l, cfg.client_listen),
        worker_addr: local(&worker_l, cfg.worker_listen),
        stop: stop.clone(),
        model_hashes,
    });
    tracing::info!(clients = %shared.client_addr, workers = %shared.worker_addr, stats = %format!("http://{}/stats", local(&stats_l, cfg.stats_listen)),
        proxy_id = %shared.proxy_id, "proxy running");

    let stats_task = {
        let stop = stop.clone();
        let router = admin::router(shared.clone());
        tokio::spawn(async move { axum::serve(stats_l, router).with_graceful_shutdown(stop.cancelled_owned()).await })
    };
    let background = payments.as_ref().map(|p| p.spawn_background(stop.clone())).unwrap_or_default();
    let workers = tokio::spawn(accept_loop(shared.clone(), worker_l, worker_tls, Kind::Worker));
    let clients = tokio::spawn(accept_loop(shared.clone(), client_l, client_tls, Kind::Client));

    stop.cancelled().await;
    tracing::info!("proxy shutting down");
    let _ = tokio::join!(workers, clients);
    // The committer makes a last commit once links have drained.
    for task in background {
        let _ = task.await;
    }
    rotation.abort();
    match stats_task.await {
        Ok(r) => r.map_err(ProxyError::Serve),
        Err(_) => Ok(()),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Client,
    Worker,
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: TlsAcceptor, kind: Kind) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    let (shared, tls) = (shared.clone(), tls.clone());
                    match kind {
                        Kind::Client => conns.spawn(client_link::serve(shared, tls, tcp)),
                        Kind::Worker => conns.spawn(worker_link::serve(shared, tls, tcp)),
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Links watch `stop` themselves and drain; give them a moment.
    let _ = tokio::time::timeout(Duration::from_secs(6), async { while conns.join_next().await.is_some() {} }).await;
}
