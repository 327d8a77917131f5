//! The cocoon proxy: admits attested clients and workers, keeps a live registry of workers,
//! picks a worker for every request and streams the answer back.
//!
//! Layout: [`config`] (TOML), [`worker_link`] (admitting workers and following their status),
//! [`client_link`] (admitting clients and dispatching their requests), [`hello`] (a client's
//! hello), [`pipeline`] (the request path: admit, reserve, choose, dispatch, relay),
//! [`select`] and [`health`] (worker choice), [`registry`] (live workers), [`billing`] (the
//! payment seam), [`payments`] (ledger and settlement), [`account`] (a client's account
//! routes), [`stats`] (counters), [`stats_http`] (the local `/stats` endpoint) and [`report`]
//! (the public report explorers read).

pub mod account;
pub mod billing;
pub mod client_link;
pub mod config;
pub mod drain;
pub mod health;
pub mod hello;
pub mod limits;
pub mod metrics;
pub mod payments;
pub mod pipeline;
pub mod registry;
pub mod report;
pub mod select;
pub mod stats;
pub mod stats_http;
pub mod worker_link;

pub use config::ProxyConfig;

use cocoon_ratls::Role;
use cocoon_transport::{bind, build_identity, build_policy, Exposure};
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Why a proxy could not start.
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
    /// This proxy's public key (hex): its identity to clients and workers, and the key its books are kept under.
    pub proxy_id: String,
    /// The workers connected right now, grouped by model; requests are routed from it.
    pub registry: registry::Registry,
    /// Request and connection counters, reported by `/stats`.
    pub stats: stats::ProxyStats,
    /// Checks, holds and charges each request: the payments object when payments are on, else [`billing::Free`].
    pub billing: Arc<dyn billing::Billing>,
    /// Present when payments are on (the same object as `billing`).
    pub payments: Option<Arc<payments::Payments>>,
    /// The address the client listener is bound to (the actual port when the config said 0).
    pub client_addr: SocketAddr,
    /// The address the worker listener is bound to (the actual port when the config said 0).
    pub worker_addr: SocketAddr,
    /// Cancelled when the proxy is asked to stop: listeners stop accepting, client links stop
    /// taking streams, and the drain begins.
    pub stop: CancellationToken,
    /// Cancelled once the drain is over: worker links, the committer (its last commit), the
    /// anchorer and the local endpoints stop.
    pub shutdown: CancellationToken,
    /// The drain: refuses new requests once it begins, counts those in flight.
    pub drain: drain::Drain,
    /// The output bound a request that sets none is reserved for and held to.
    pub default_max_tokens: u64,
    /// Body and timeout caps, streams per link, proof of work, model allowlist: changed on SIGHUP.
    pub limits: limits::Limits,
    /// What is open on a non-loopback address (only with `insecure_dev`), for `/stats`.
    pub exposure: Exposure,
    /// When this proxy started (a model nobody serves yet is "reconnecting" for a while).
    pub started: std::time::Instant,
    /// This proxy's RA-TLS identity; the public report shows its current certificate.
    pub identity: cocoon_ratls::Identity,
}

/// Runs a proxy until `stop` is cancelled.
pub async fn run(cfg: ProxyConfig, stop: CancellationToken) -> Result<(), ProxyError> {
    run_with_reloads(cfg, stop, tokio::sync::mpsc::channel(1).1).await
}

/// Runs a proxy until `stop` is cancelled, taking each config from `reloads` (the binary sends
/// one on SIGHUP) for what can change while running ([`limits::Limits::apply`]).
pub async fn run_with_reloads(
    cfg: ProxyConfig,
    stop: CancellationToken,
    mut reloads: tokio::sync::mpsc::Receiver<ProxyConfig>,
) -> Result<(), ProxyError> {
    let mut cfg = cfg;
    // What a reload is compared with: the file as loaded, before the chain's allowlists and the
    // default key file are filled in below (else every reload would name them as changed).
    let started_with = cfg.clone();
    let mut model_hashes = cfg.model_allowlist().map_err(ProxyError::Config)?;
    let mut models_from_chain = false;
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
            models_from_chain = true;
        }
        tracing::info!(
            worker_images = reg.worker_image_hashes.len(),
            models = reg.model_hashes.len(),
            "allowlists from the root"
        );
    }
    let exposure = Exposure::check(cfg.openings(), cfg.insecure_dev, "proxy").map_err(ProxyError::Config)?;
    if let Some(pc) = &cfg.payments {
        // The books are kept under the proxy's key: it must survive restarts.
        let key_file = cfg.attestation.key_file.get_or_insert_with(|| pc.data_dir.join("key.pem")).clone();
        if !key_file.exists() && pc.data_dir.join("ledger.redb").exists() {
            return Err(ProxyError::Config(format!(
                "the key file {} is missing but {} holds a ledger kept under it: restore the key (a new key \
                 would make every client's vouchers foreign and turn off rollback detection)",
                key_file.display(),
                pc.data_dir.display()
            )));
        }
    }
    let client_l = bind(cfg.client_listen).await?;
    let worker_l = bind(cfg.worker_listen).await?;
    let stats_l = bind(cfg.stats_listen).await?;
    let report_l = match cfg.report_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let local = |l: &TcpListener, fallback| l.local_addr().unwrap_or(fallback);
    let report_url = cfg
        .report_url
        .clone()
        .or_else(|| report_l.as_ref().and_then(|l| l.local_addr().ok()).map(|a| format!("http://{a}/report")));

    let shutdown = CancellationToken::new();
    let identity = build_identity(Role::Proxy, &cfg.attestation, BTreeMap::new())?;
    let rotation = identity.spawn_rotation();
    let client_tls =
        TlsAcceptor::from(Arc::new(identity.server_config(build_policy(cfg.client_policy.clone(), Role::Client)?)?));
    let worker_tls =
        TlsAcceptor::from(Arc::new(identity.server_config(build_policy(cfg.worker_policy.clone(), Role::Worker)?)?));

    let payments = match &cfg.payments {
        Some(pc) => {
            check_books_key(&pc.data_dir, &identity.public_key_hex())?;
            let key = payments::signing_key(&identity.key_pkcs8_der())?;
            let p = match &pc.ton {
                Some(chain) => {
                    let client_ep =
                        pc.client_endpoint.clone().unwrap_or_else(|| local(&client_l, cfg.client_listen).to_string());
                    let worker_ep =
                        pc.worker_endpoint.clone().unwrap_or_else(|| local(&worker_l, cfg.worker_listen).to_string());
                    Arc::new(
                        payments::Payments::open_on_chain(pc, chain, key, client_ep, worker_ep, report_url.clone())
                            .await?,
                    )
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
        client_addr: local(&client_l, cfg.client_listen),
        worker_addr: local(&worker_l, cfg.worker_listen),
        stop: stop.clone(),
        shutdown: shutdown.clone(),
        drain: Default::default(),
        default_max_tokens: cfg
            .payments
            .as_ref()
            .map_or_else(config::default_max_tokens, |p| p.default_max_tokens.max(1)),
        exposure,
        identity: identity.clone(),
        started: std::time::Instant::now(),
        limits: limits::Limits::new(&cfg, model_hashes, models_from_chain),
    });
    tracing::info!(clients = %shared.client_addr, workers = %shared.worker_addr, stats = %format!("http://{}/stats", local(&stats_l, cfg.stats_listen)),
        proxy_id = %shared.proxy_id, "proxy running");

    let stats_task = {
        let stop = shutdown.clone();
        let router = stats_http::router(shared.clone());
        tokio::spawn(async move { axum::serve(stats_l, router).with_graceful_shutdown(stop.cancelled_owned()).await })
    };
    let report_task = report_l.map(|l| {
        tracing::info!(url = %report_url.clone().unwrap_or_default(), "public report on");
        let stop = shutdown.clone();
        let router = report::router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, router).with_graceful_shutdown(stop.cancelled_owned()).await {
                tracing::warn!(error = %e, "the public report stopped");
            }
        })
    });
    let background = payments.as_ref().map(|p| p.spawn_background(shutdown.clone())).unwrap_or_default();
    let cap = cfg.max_connections.max(1);
    let workers = tokio::spawn(accept_loop(shared.clone(), worker_l, worker_tls, Kind::Worker, cap));
    let clients = tokio::spawn(accept_loop(shared.clone(), client_l, client_tls, Kind::Client, cap));

    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(new) = reloads.recv() => match shared.limits.apply(&started_with, &new) {
                Ok((changed, restart)) => tracing::info!(?changed, needs_restart = ?restart, "config reloaded"),
                Err(e) => tracing::warn!(error = %e, "config reload refused; nothing changed"),
            },
        }
    }
    shared.drain.run(Duration::from_secs(cfg.drain_timeout_secs)).await;
    tracing::info!("proxy shutting down");
    shutdown.cancel();
    let _ = tokio::join!(workers, clients);
    // The committer makes its last commit now that nothing runs; then a last anchor.
    for task in background {
        let _ = task.await;
    }
    if let Some(p) = payments.clone() {
        let _ = tokio::task::spawn_blocking(move || p.anchor()).await;
    }
    rotation.abort();
    if let Some(t) = report_task {
        let _ = t.await;
    }
    match stats_task.await {
        Ok(r) => r.map_err(ProxyError::Serve),
        Err(_) => Ok(()),
    }
}

/// The books in `data_dir` belong to one key: a proxy started with another is refused
/// (its vouchers would be foreign to every client and worker).
fn check_books_key(data_dir: &std::path::Path, public_key_hex: &str) -> Result<(), ProxyError> {
    let path = data_dir.join("proxy-key.pub");
    let cfg_err = |e: std::io::Error| ProxyError::Config(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(kept) if kept.trim() == public_key_hex => Ok(()),
        Ok(kept) => Err(ProxyError::Config(format!(
            "the books in {} are kept under key {} but this proxy's key is {public_key_hex}: start it with the \
             key it used before (`[attestation] key_file`)",
            data_dir.display(),
            kept.trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(cfg_err)?;
            std::fs::write(&path, format!("{public_key_hex}\n")).map_err(cfg_err)
        }
        Err(e) => Err(cfg_err(e)),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Client,
    Worker,
}

/// Accepts connections while fewer than `cap` are open (as mini-redis does: a permit is
/// taken before each accept, so excess dialers wait in the kernel's listen queue).
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: TlsAcceptor, kind: Kind, cap: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shared.stop.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        tokio::select! {
            _ = shared.stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    let (shared, tls) = (shared.clone(), tls.clone());
                    match kind {
                        Kind::Client => conns.spawn(async move { client_link::serve(shared, tls, tcp).await; drop(permit) }),
                        Kind::Worker => conns.spawn(async move { worker_link::serve(shared, tls, tcp).await; drop(permit) }),
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
    // Links end by themselves once their requests are done (clients were told to go away);
    // after the drain, they get a moment more.
    tokio::select! {
        _ = async { while conns.join_next().await.is_some() {} } => {}
        _ = async {
            shared.shutdown.cancelled().await;
            tokio::time::sleep(Duration::from_secs(6)).await;
        } => {}
    }
}
