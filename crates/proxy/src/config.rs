//! The proxy's configuration (TOML), every field documented; see config/proxy.example.toml.

use cocoon_ratls::{PolicyConfig, PolicyKind};
use cocoon_transport::AttestationConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

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
    pub client_policy: PolicyConfig,
    /// What workers must prove (in production: TDX with an image-hash allowlist).
    #[serde(default = "default_worker_policy")]
    pub worker_policy: PolicyConfig,
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
fn default_client_policy() -> PolicyConfig {
    PolicyConfig { kind: PolicyKind::Any, image_hashes: vec![], expected_role: None }
}
fn default_worker_policy() -> PolicyConfig {
    PolicyConfig { kind: PolicyKind::Dev, image_hashes: vec![], expected_role: None }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            client_listen: default_client_listen(),
            worker_listen: default_worker_listen(),
            stats_listen: default_stats_listen(),
            max_body_bytes: default_max_body(),
            max_timeout_secs: default_max_timeout(),
            attestation: AttestationConfig::default(),
            client_policy: default_client_policy(),
            worker_policy: default_worker_policy(),
        }
    }
}
