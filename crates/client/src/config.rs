//! The client's configuration (TOML), every field documented; see config/client.example.toml.

use cocoon_ratls::PolicyKind;
use cocoon_transport::PeerPolicy;
use cocoon_transport::{AttestMode, AttestationConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The client's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Where the local OpenAI-compatible API listens. Keep it on loopback: it has no auth.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Client ports of the proxies to use ("host:port"). The client keeps a connection to each,
    /// spreads requests across them and fails over when one disappears. Empty with a `[chain]`:
    /// every proxy the root's registry lists.
    #[serde(default)]
    pub proxies: Vec<String>,
    /// Default `max_coefficient` (per-mille) for requests that do not set one.
    #[serde(default = "default_max_coefficient")]
    pub default_max_coefficient: u32,
    /// Default request timeout in seconds (requests may set `timeout`).
    #[serde(default = "default_timeout")]
    pub default_timeout_secs: f64,
    /// Largest request body accepted from the app, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// What this client presents to proxies. Cocoon's clients need not run in a TEE.
    #[serde(default = "default_attestation")]
    pub attestation: AttestationConfig,
    /// What proxies must prove (in production: TDX with an image-hash allowlist).
    #[serde(default = "default_policy")]
    pub proxy_policy: PeerPolicy,
    /// Where the client keeps its identity key (its account at every proxy; unless
    /// `attestation.key_file` says otherwise) and the latest charge voucher from each proxy.
    /// Without it, every start is a new account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The TON chain (`[chain]`: API URL and key, root address): money moves by this client's
    /// own wallet messages to its contracts. Absent: account operations go to the proxy, which
    /// only a proxy on the embedded DEV settlement accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<cocoon_onchain::ChainConfig>,
    /// DEVELOPMENT ONLY: talk to proxies on non-loopback addresses under an `any` or `dev`
    /// `proxy_policy` (anyone could pose as the proxy and read the prompts). Without it such a
    /// client refuses to start; with it, it warns loudly and `/stats` says so.
    #[serde(default)]
    pub insecure_dev: bool,
    /// The most proof of work (leading zero bits of SHA-256) this node does before TLS with a
    /// proxy; a proxy asking more is refused. Default 26 (a few seconds of one core).
    #[serde(default = "default_max_pow")]
    pub max_pow_difficulty: u8,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10000))
}
fn default_max_coefficient() -> u32 {
    4000
}
fn default_timeout() -> f64 {
    120.0
}
fn default_max_body() -> usize {
    8 * 1024 * 1024
}
fn default_attestation() -> AttestationConfig {
    AttestationConfig { mode: AttestMode::None, ..Default::default() }
}
fn default_policy() -> PeerPolicy {
    PeerPolicy::new(PolicyKind::Dev)
}

impl ClientConfig {
    /// Why talking to `proxies` would expose the prompts (empty: it would not).
    pub fn openings(&self, proxies: &[String]) -> Vec<String> {
        cocoon_transport::exposure::remote_proxy_open(&self.proxy_policy, proxies).into_iter().collect()
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.proxies.is_empty() && self.chain.is_none() {
            return Err("client needs at least one proxy in `proxies`, or a `[chain]` to find them in the root".into());
        }
        if !(self.default_timeout_secs > 0.0 && self.default_timeout_secs <= cocoon_openai::MAX_TIMEOUT_SECS) {
            return Err(format!("`default_timeout_secs` must be in (0, {}]", cocoon_openai::MAX_TIMEOUT_SECS));
        }
        Ok(())
    }
}

fn default_max_pow() -> u8 {
    cocoon_transport::pow::DEFAULT_MAX_DIFFICULTY
}
