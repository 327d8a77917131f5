//! The worker's configuration (TOML), every field documented; see config/worker.example.toml.

use cocoon_ratls::PolicyKind;
use cocoon_transport::AttestationConfig;
use cocoon_transport::PeerPolicy;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Worker ports of the proxies to serve through ("host:port"). The worker dials each one
    /// (it may sit behind NAT) and splits `max_active` among them.
    pub proxies: Vec<String>,
    /// Routing name of the model served (what clients put in `model`).
    pub model: String,
    /// Base URL of the OpenAI-compatible backend (vLLM, SGLang, llama.cpp server, Ollama),
    /// e.g. "http://127.0.0.1:8000". Requests go to `<backend>/v1/chat/completions` etc.
    pub backend: String,
    /// Hardware profile: "cpu", "H100", "H100:80GiB" or "2xH100:80GiB".
    #[serde(default = "default_hardware")]
    pub hardware: String,
    /// Price multiplier in per-mille (1000 = 1.0x). Changeable at run time.
    #[serde(default = "default_coefficient")]
    pub coefficient: u32,
    /// Maximum concurrent requests, over all proxies together.
    #[serde(default = "default_max_active")]
    pub max_active: u32,
    /// Address of the HTTP endpoint with /health, /stats and the admin actions.
    #[serde(default = "default_stats_listen")]
    pub stats_listen: SocketAddr,
    /// How often to check the backend (`GET /v1/models`), in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub backend_poll_ms: u64,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// What this worker presents to proxies.
    #[serde(default)]
    pub attestation: AttestationConfig,
    /// What proxies must prove to this worker.
    #[serde(default = "default_policy")]
    pub proxy_policy: PeerPolicy,
    /// Where the worker keeps its identity key (unless `attestation.key_file` says otherwise)
    /// and the latest payout voucher from each proxy. Without it both live only in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<std::path::PathBuf>,
}

fn default_hardware() -> String {
    "cpu".into()
}
fn default_coefficient() -> u32 {
    1000
}
fn default_max_active() -> u32 {
    16
}
fn default_stats_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9200))
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_max_body() -> usize {
    8 * 1024 * 1024
}
pub(crate) fn default_policy() -> PeerPolicy {
    PeerPolicy::new(PolicyKind::Dev)
}

/// Limits on run-time settings.
pub const MAX_COEFFICIENT: u32 = 1_000_000;

impl WorkerConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.proxies.is_empty() {
            return Err("worker needs at least one proxy in `proxies`".into());
        }
        if self.model.trim().is_empty() {
            return Err("`model` must not be empty".into());
        }
        if self.max_active == 0 {
            return Err("`max_active` must be at least 1".into());
        }
        if self.coefficient == 0 || self.coefficient > MAX_COEFFICIENT {
            return Err(format!("`coefficient` must be 1..={MAX_COEFFICIENT}"));
        }
        cocoon_proto::HardwareProfile::parse(&self.hardware)?;
        if !self.backend.starts_with("http://") {
            return Err(format!("`backend` must be an http:// URL, got {:?}", self.backend));
        }
        Ok(())
    }
}
