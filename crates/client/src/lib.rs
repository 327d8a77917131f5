//! The cocoon client: runs next to an app's backend and gives it a local OpenAI-compatible
//! API, forwarding each request to a proxy over RA-TLS.
//!
//! Layout: [`config`] (TOML), [`pool`] (links to several proxies, failover), [`forward`] (the
//! request path), [`api`] (the HTTP API), [`stats`] and [`latency`] (observability).

pub mod api;
pub mod api_token;
pub mod config;
pub mod forward;
pub mod latency;
pub mod metrics;
pub mod payments;
pub mod pool;
pub mod serve;
pub mod stats;
pub mod tasks;
pub mod transcribe;

pub use config::ClientConfig;

use cocoon_ratls::Role;
use cocoon_transport::{build_identity, build_policy, TlsDialer};
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Why a client could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("attestation: {0}")]
    Attestation(#[from] cocoon_ratls::RaTlsError),
    #[error(transparent)]
    Policy(#[from] cocoon_transport::PolicyError),
    #[error(transparent)]
    Bind(#[from] cocoon_transport::BindError),
    #[error("API server: {0}")]
    Serve(std::io::Error),
    #[error("TON: {0}")]
    Chain(#[from] cocoon_onchain::ChainError),
}

/// State shared by the API handlers.
pub struct Shared {
    /// This client's public key (hex): its identity and its account at every proxy.
    pub client_id: String,
    /// The address the local API is bound to (the actual port when the config said 0).
    pub api_addr: SocketAddr,
    /// The links to the proxies that requests are sent over, with failover.
    pub pool: Arc<pool::Pool>,
    /// Request, token and latency counters, reported by `/stats`.
    pub stats: stats::ClientStats,
    /// Largest request body the API accepts from the app, in bytes.
    pub max_body: usize,
    /// Timeout for a request that sets no `timeout`, in seconds.
    pub default_timeout_secs: f64,
    /// Highest worker price coefficient (per-mille) accepted for a request that sets no `max_coefficient`.
    pub default_max_coefficient: u32,
    /// This client's charge vouchers, one book per proxy.
    pub wallet: Arc<cocoon_voucher::VoucherWallet>,
    /// This client's TON wallet and the chain, when money moves on chain.
    pub chain: Option<Arc<cocoon_onchain::client::ClientChain>>,
    /// What is open (only with `insecure_dev`), for `/stats`.
    pub exposure: cocoon_transport::Exposure,
}

/// With a `[chain]`: takes the proxies from the root's registry when the config lists none,
/// and the image hashes a proxy may attest from the root's allowlist.
async fn discover(cfg: &mut ClientConfig, chain: &cocoon_onchain::ChainConfig) -> Result<bool, ClientError> {
    let reg = cocoon_onchain::registry::read(chain).await?;
    let from_root = cfg.proxies.is_empty();
    if from_root {
        cfg.proxies = reg.proxies.iter().map(|p| p.client_endpoint.clone()).collect();
        tracing::info!(root = %chain.root, proxies = ?cfg.proxies, "proxies from the root's registry");
        if cfg.proxies.is_empty() {
            return Err(ClientError::Config(format!("the root {} lists no proxy yet", chain.root)));
        }
    }
    cocoon_onchain::registry::apply_root_allowlist(&mut cfg.proxy_policy, &reg).map_err(ClientError::Config)?;
    Ok(from_root)
}

/// Reads the root's registry every `registry_refresh_secs` and dials the proxies it newly
/// lists (those `allowed` admits).
fn spawn_refresh(
    pool: Arc<pool::Pool>,
    chain: cocoon_onchain::ChainConfig,
    stop: CancellationToken,
    allowed: impl Fn(&str) -> bool + Send + 'static,
) {
    tokio::spawn(async move {
        let period = Duration::from_secs(chain.registry_refresh_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.cancelled() => return,
            }
            match tokio::time::timeout(Duration::from_secs(60), cocoon_onchain::registry::read(&chain)).await {
                Ok(Ok(reg)) => {
                    for p in reg.proxies {
                        if !allowed(&p.client_endpoint) {
                            tracing::warn!(proxy = %p.client_endpoint, "the root lists a remote proxy; not dialing it under an insecure proxy_policy");
                            continue;
                        }
                        if pool.add(&p.client_endpoint) {
                            tracing::info!(proxy = %p.client_endpoint, "a new proxy in the root's registry: connecting");
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "could not read the root's registry; retried later"),
                Err(_) => tracing::warn!("reading the root's registry timed out; retried later"),
            }
        }
    });
}

/// Runs a client until `stop` is cancelled.
pub async fn run(cfg: ClientConfig, stop: CancellationToken) -> Result<(), ClientError> {
    cfg.validate().map_err(ClientError::Config)?;
    let listener = cocoon_transport::bind(cfg.listen).await?;
    let api_addr = listener.local_addr().unwrap_or(cfg.listen);

    let mut attestation = cfg.attestation.clone();
    if let (None, Some(dir)) = (&attestation.key_file, &cfg.data_dir) {
        attestation.key_file = Some(dir.join("key.pem"));
    }
    let identity = build_identity(Role::Client, &attestation, BTreeMap::new())?;
    // Each proxy's book learns this client's contract from the first voucher it accepts.
    let wallet =
        Arc::new(cocoon_voucher::VoucherWallet::new(cfg.data_dir.clone(), cocoon_voucher::VoucherKind::ClientCharge));
    let chain = match &cfg.chain {
        Some(c) => {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(&identity.key_pkcs8_der())
                .map_err(|e| ClientError::Config(format!("identity key: {e}")))?;
            let chain = cocoon_onchain::client::ClientChain::new(c, &key)?;
            tracing::info!(api = %c.api_url, root = %c.root,
                wallet = %cocoon_ton::address::friendly_url(chain.wallet_address(), false), "money on TON");
            Some(Arc::new(chain))
        }
        None => None,
    };
    let mut cfg = cfg;
    let discovered = match cfg.chain.clone() {
        Some(c) => discover(&mut cfg, &c).await?,
        None => false,
    };
    let exposure = cocoon_transport::Exposure::check(cfg.openings(&cfg.proxies), cfg.insecure_dev, "client")
        .map_err(ClientError::Config)?;
    let token = api_token::load(cfg.data_dir.as_deref())
        .map_err(|e| ClientError::Config(format!("the API token in the data_dir: {e}")))?;
    let rotation = identity.spawn_rotation();
    let policy = build_policy(cfg.proxy_policy.clone(), Role::Proxy)?;
    let dialer = TlsDialer::new(Arc::new(identity.client_config(policy)?), Duration::from_secs(10))
        .with_max_pow(cfg.max_pow_difficulty);
    let pool = pool::Pool::start(&cfg.proxies, dialer, wallet.clone(), stop.clone());
    if let (true, Some(chain)) = (discovered, cfg.chain.clone()) {
        // A proxy the root lists later is dialed only if the policy would let us dial it now.
        let (cfg, insecure) = (cfg.clone(), cfg.insecure_dev);
        let allowed = move |p: &str| insecure || cfg.openings(&[p.to_string()]).is_empty();
        spawn_refresh(pool.clone(), chain, stop.clone(), allowed);
    }
    let shared = Arc::new(Shared {
        client_id: identity.public_key_hex(),
        api_addr,
        pool,
        stats: Default::default(),
        max_body: cfg.max_body_bytes,
        default_timeout_secs: cfg.default_timeout_secs,
        default_max_coefficient: cfg.default_max_coefficient,
        wallet,
        chain,
        exposure,
    });
    tracing::info!(api = %format!("http://{api_addr}/v1"), proxies = ?cfg.proxies, "client running");
    let result = serve::serve(listener, api::router(shared, token), stop).await;
    rotation.abort();
    result.map_err(ClientError::Serve)
}
