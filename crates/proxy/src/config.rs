//! The proxy's configuration (TOML), every field documented; see config/proxy.example.toml.

use cocoon_ledger::Prices;
use cocoon_ratls::PolicyKind;
use cocoon_transport::AttestationConfig;
use cocoon_transport::PeerPolicy;
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, path::PathBuf};

/// The proxy's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Where clients connect (RA-TLS).
    #[serde(default = "default_client_listen")]
    pub client_listen: SocketAddr,
    /// Where workers connect (RA-TLS).
    #[serde(default = "default_worker_listen")]
    pub worker_listen: SocketAddr,
    /// Local HTTP endpoint with /health and /stats. Bind it to loopback.
    #[serde(default = "default_stats_listen")]
    pub stats_listen: SocketAddr,
    /// The public report (`GET /report`: read-only figures for explorers; no prompts, client
    /// keys or worker addresses; see `report.rs`). Off unless set; it may be public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_listen: Option<SocketAddr>,
    /// The report's URL as published in the root's registry at registration (on TON);
    /// default `http://<report_listen>/report` when `report_listen` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_url: Option<String>,
    /// Largest request body accepted from a client, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Upper bound on any request's timeout, in seconds.
    #[serde(default = "default_max_timeout")]
    pub max_timeout_secs: u64,
    /// What this proxy presents to clients and workers.
    #[serde(default)]
    pub attestation: AttestationConfig,
    /// What clients must prove. Cocoon does not require clients to run in a TEE: default "any".
    #[serde(default = "default_client_policy")]
    pub client_policy: PeerPolicy,
    /// What workers must prove (in production: TDX with an image-hash allowlist).
    #[serde(default = "default_worker_policy")]
    pub worker_policy: PeerPolicy,
    /// The registry's allowlist of model weights: the SHA-256 (hex) of every model file
    /// workers may serve. Empty: any model. When set, a worker whose attested `model_sha256`
    /// claim is missing or not listed is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_hashes: Vec<String>,
    /// Payments. Absent: every request is free and nothing is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payments: Option<PaymentsConfig>,
    /// DEVELOPMENT ONLY: start even when open to anyone on a non-loopback address (dev or no
    /// attestation, an `any`/`dev` worker policy, a free proxy, a public stats endpoint).
    /// Without it such a proxy refuses to start; with it, it warns loudly and `/stats` says so.
    #[serde(default)]
    pub insecure_dev: bool,
    /// Most connections served at once on each of the client and worker ports; further
    /// dialers wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most requests one client link may have in flight at once (HTTP/2 concurrent streams).
    #[serde(default = "default_max_streams")]
    pub max_streams_per_link: u32,
    /// On SIGTERM, how long requests in flight may take to finish (new ones are refused with
    /// 503 `draining`) before the worker links close and the last commit and anchor are made,
    /// in seconds.
    #[serde(default = "default_drain_secs")]
    pub drain_timeout_secs: u64,
    /// Proof of work a dialer must do before TLS, in leading zero bits of SHA-256 (Cocoon: about
    /// 20). The default, 21, costs a dialer about 50 ms of one core and the proxy one hash; 0
    /// turns it into a formality (dialers still answer).
    #[serde(default = "default_pow")]
    pub pow_difficulty: u8,
}

fn default_pow() -> u8 {
    cocoon_transport::pow::DEFAULT_DIFFICULTY
}

fn default_drain_secs() -> u64 {
    30
}

fn default_max_connections() -> usize {
    4096
}
fn default_max_streams() -> u32 {
    256
}

/// Prices, the ledger and settlement (`[payments]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Where the ledger (`ledger.redb`) and the embedded settlement (`settlement.redb`) live,
    /// and by default the proxy's key (`key.pem`): the key the books are kept under.
    pub data_dir: PathBuf,
    /// The network's registry configuration holding the prices (a TOML file with a `[prices]`
    /// table). Absent: the embedded registry, i.e. `prices` below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_file: Option<PathBuf>,
    /// The embedded registry's prices (default: Cocoon's test network, 2 and 1 nanotons).
    #[serde(default)]
    pub prices: Prices,
    /// How often usage is group-committed to disk, in milliseconds (at most 1000).
    #[serde(default = "default_commit_interval")]
    pub commit_interval_ms: u64,
    /// The output bound used to reserve a request that sets no `max_tokens`.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u64,
    /// The operator's own stake, posted to settlement at first start (nanotons).
    #[serde(default)]
    pub own_stake: u64,
    /// How often vouchers are submitted to settlement, in milliseconds.
    #[serde(default = "default_settle_interval")]
    pub settle_interval_ms: u64,
    /// A client's charges are submitted once this much is unsettled (Cocoon: 1 TON).
    #[serde(default = "default_charge_threshold")]
    pub charge_threshold: u64,
    /// A worker is paid out once this much is unpaid (Cocoon: 10 TON).
    #[serde(default = "default_payout_threshold")]
    pub payout_threshold: u64,
    /// Settlement on TON (`[payments.ton]`): the chain's API and root. Absent: the embedded
    /// backend, which credits deposits on request (DEV ONLY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ton: Option<cocoon_onchain::ChainConfig>,
    /// Settlement on TON: seconds between anchors of the ledger's state on chain (when it
    /// changed). Cocoon: 30-60 s.
    #[serde(default = "default_anchor_interval")]
    pub anchor_interval_secs: u64,
    /// The address clients dial, published in the registry at registration; default: `client_listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_endpoint: Option<String>,
    /// The address workers dial, published in the registry; default: `worker_listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_endpoint: Option<String>,
}

fn default_settle_interval() -> u64 {
    10_000
}
fn default_charge_threshold() -> u64 {
    1_000_000_000
}
fn default_anchor_interval() -> u64 {
    45
}
fn default_payout_threshold() -> u64 {
    10_000_000_000
}

fn default_commit_interval() -> u64 {
    250
}
/// The output bound of a request that sets none (also without payments).
pub(crate) fn default_max_tokens() -> u64 {
    4096
}

/// The registry file: today only its prices.
#[derive(Debug, Deserialize)]
struct RegistryFile {
    prices: Prices,
}

impl ProxyConfig {
    /// What would leave this proxy open to anyone (empty: closed), as [`cocoon_transport::exposure`] judges it.
    pub fn openings(&self) -> Vec<String> {
        use cocoon_transport::exposure::{is_loopback, open_policy, weak_attestation};
        let (clients, workers) = (!is_loopback(&self.client_listen), !is_loopback(&self.worker_listen));
        let mut why = Vec::new();
        if clients || workers {
            why.extend(weak_attestation(&self.attestation));
        }
        if workers {
            why.extend(open_policy("worker_policy", &self.worker_policy));
        }
        if clients {
            match self.client_policy.kind {
                PolicyKind::Dev => why.extend(open_policy("client_policy", &self.client_policy)),
                PolicyKind::Any if self.payments.is_none() => why.push(
                    "`client_policy` is \"any\" and payments are off: anyone may use the workers for free".into(),
                ),
                _ => {}
            }
        }
        if !is_loopback(&self.stats_listen) {
            why.push(format!("`stats_listen` {} serves every account and worker to anyone", self.stats_listen));
        }
        why
    }

    /// The model-hash allowlist, lowercased and checked (each a 64-digit hex SHA-256).
    pub fn model_allowlist(&self) -> Result<Vec<String>, String> {
        self.model_hashes
            .iter()
            .map(|h| {
                let h = h.trim().to_ascii_lowercase();
                if cocoon_proto::is_sha256_hex(&h) {
                    Ok(h)
                } else {
                    Err(format!("`model_hashes`: {h:?} is not a SHA-256 in hex (64 digits)"))
                }
            })
            .collect()
    }
}

impl PaymentsConfig {
    /// A config with defaults storing its files in `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        PaymentsConfig {
            data_dir,
            registry_file: None,
            prices: Prices::default(),
            commit_interval_ms: default_commit_interval(),
            default_max_tokens: default_max_tokens(),
            own_stake: 0,
            settle_interval_ms: default_settle_interval(),
            charge_threshold: default_charge_threshold(),
            payout_threshold: default_payout_threshold(),
            ton: None,
            anchor_interval_secs: default_anchor_interval(),
            client_endpoint: None,
            worker_endpoint: None,
        }
    }

    /// The prices in force: from the registry file when one is named, else the embedded ones;
    /// checked (`worker_fee_per_token <= price_per_token`).
    pub fn load_prices(&self) -> Result<Prices, String> {
        let prices = match &self.registry_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str::<RegistryFile>(&text).map_err(|e| format!("{}: {e}", path.display()))?.prices
            }
            None => self.prices.clone(),
        };
        prices.validate().map_err(|e| e.to_string())?;
        Ok(prices)
    }
}

fn default_client_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8801))
}
fn default_worker_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8802))
}
fn default_stats_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8800))
}
fn default_max_body() -> usize {
    8 * 1024 * 1024
}
fn default_max_timeout() -> u64 {
    600
}
fn default_client_policy() -> PeerPolicy {
    PeerPolicy::new(PolicyKind::Any)
}
fn default_worker_policy() -> PeerPolicy {
    PeerPolicy::new(PolicyKind::Dev)
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            client_listen: default_client_listen(),
            worker_listen: default_worker_listen(),
            stats_listen: default_stats_listen(),
            report_listen: None,
            report_url: None,
            max_body_bytes: default_max_body(),
            max_timeout_secs: default_max_timeout(),
            attestation: AttestationConfig::default(),
            client_policy: default_client_policy(),
            worker_policy: default_worker_policy(),
            model_hashes: Vec::new(),
            payments: None,
            insecure_dev: false,
            max_connections: default_max_connections(),
            max_streams_per_link: default_max_streams(),
            drain_timeout_secs: default_drain_secs(),
            pow_difficulty: default_pow(),
        }
    }
}
