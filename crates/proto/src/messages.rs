//! Typed messages exchanged at connection set-up and for control.
//!
//! They are JSON (serde) because they are small, rare and worth being readable in a packet dump;
//! the hot path (inference bodies) never goes through them.

use crate::version::VersionRange;
use cocoon_openai::FeatureSet;
use serde::{Deserialize, Serialize};
use std::fmt;

/// First request on every connection: who we are and which protocol versions we speak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// "client", "proxy" or "worker".
    pub role: String,
    /// The protocol versions the sender speaks; the receiver picks the highest common one.
    pub versions: VersionRange,
    /// Free-form software name and version, for logs.
    pub software: String,
    /// A client's latest charge voucher from this proxy (base64 BOC), so a proxy whose state
    /// was rolled back notices and refuses to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<String>,
}

/// Answer to [`Hello`]: the version both sides will use, and, from a worker, what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelloAck {
    /// The negotiated protocol version (the highest both ranges contain).
    pub version: u32,
    /// Free-form software name and version of the answering side, for logs.
    pub software: String,
    /// Set when a worker answers: what it serves; `None` from a proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerAnnounce>,
}

/// The attested claim (certificate `extra`) holding the SHA-256 of a worker's model weights.
pub const CLAIM_MODEL_SHA256: &str = "model_sha256";

/// The attested claim naming the model a worker serves (what it must announce).
pub const CLAIM_MODEL: &str = "model";

/// Whether `s` is a SHA-256 in lowercase hex (the form model hashes travel in).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a worker serves, sent once per proxy connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerAnnounce {
    /// Stable for the life of the worker process (its public key in hex).
    pub worker_id: String,
    /// The model's routing name (base name, as clients ask for it).
    pub model: String,
    /// What it runs on, matched against requests' hardware constraints.
    pub hardware: HardwareProfile,
    /// Maximum concurrent requests this worker accepts *through this proxy* (its share).
    pub max_active: u32,
    /// Its state at connect time; later changes arrive as status updates.
    pub status: WorkerStatus,
    /// SHA-256 (lowercase hex) of the model weights it serves, when it knows them; the same
    /// value is in its attested claims (`model_sha256`), which is what a proxy trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
    /// The worker's latest payout voucher from this proxy (base64 BOC), for the same check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<String>,
    /// The optional OpenAI features its backend has (tools, logprobs, ...): requests that use
    /// one are routed only to workers that announce it.
    #[serde(default, skip_serializing_if = "FeatureSet::is_empty")]
    pub features: FeatureSet,
}

/// The part of a worker's state that changes at run time; streamed to proxies on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerStatus {
    /// False when disabled by its operator or while its backend is down.
    pub enabled: bool,
    /// Price multiplier in per-mille (1000 = 1.0x).
    pub coefficient: u32,
    /// Why it is disabled, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Highest price coefficient a worker may ask (per-mille: 1000x).
pub const MAX_COEFFICIENT: u32 = 1_000_000;

/// Longest `reason` a worker status may carry.
pub const MAX_REASON_LEN: usize = 1024;

impl WorkerStatus {
    /// Checks a status a worker sent: a coefficient in `1..=MAX_COEFFICIENT`, a short reason.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_COEFFICIENT).contains(&self.coefficient) {
            return Err(format!("coefficient {} outside 1..={MAX_COEFFICIENT}", self.coefficient));
        }
        if self.reason.as_ref().is_some_and(|r| r.len() > MAX_REASON_LEN) {
            return Err(format!("reason longer than {MAX_REASON_LEN} bytes"));
        }
        Ok(())
    }
}

/// The hardware a worker runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HardwareProfile {
    /// GPU model, e.g. "H100"; `None` for CPU-only.
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// Number of GPUs (0 for CPU-only).
    #[serde(default)]
    pub gpu_count: u32,
    /// Memory per GPU, in MiB.
    #[serde(default)]
    pub gpu_memory_mib: u64,
}

impl HardwareProfile {
    /// The CPU-only profile (no GPU), as the config string "cpu" parses.
    pub fn cpu() -> Self {
        Self::default()
    }

    /// Parses the config form: "cpu", "H100", "H100:80GiB", "2xH100:80GiB".
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("cpu") {
            return Ok(Self::cpu());
        }
        let (count, rest) = match s.split_once(['x', 'X']) {
            Some((n, rest)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                (n.parse::<u32>().map_err(|e| format!("bad GPU count in {s:?}: {e}"))?, rest)
            }
            _ => (1, s),
        };
        let (model, mem) = match rest.split_once(':') {
            Some((m, mem)) => {
                let digits = mem.trim().trim_end_matches("GiB").trim_end_matches("GB");
                let gib: u64 = digits.parse().map_err(|_| format!("bad GPU memory in {s:?}: expected e.g. 80GiB"))?;
                (m, gib * 1024)
            }
            None => (rest, 0),
        };
        if model.is_empty() || !model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!("bad GPU model in {s:?}"));
        }
        Ok(Self { gpu_model: Some(model.to_string()), gpu_count: count, gpu_memory_mib: mem })
    }

    /// Whether this hardware satisfies a request's constraint ("cpu" or a GPU model name,
    /// compared case-insensitively as a substring so "H100" matches "H100-SXM").
    pub fn satisfies(&self, constraint: &str) -> bool {
        match &self.gpu_model {
            None => constraint.eq_ignore_ascii_case("cpu"),
            Some(model) => model.to_ascii_lowercase().contains(&constraint.to_ascii_lowercase()),
        }
    }
}

impl fmt::Display for HardwareProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.gpu_model {
            None => f.write_str("cpu"),
            Some(m) => {
                if self.gpu_count > 1 {
                    write!(f, "{}x", self.gpu_count)?;
                }
                f.write_str(m)?;
                if self.gpu_memory_mib > 0 {
                    write!(f, ":{}GiB", self.gpu_memory_mib / 1024)?;
                }
                Ok(())
            }
        }
    }
}

/// The proxy's answer to a model listing: each model with its live workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModelList {
    /// One entry per model, sorted by name.
    pub models: Vec<ModelsEntry>,
}

/// One model in a [`ModelList`]: its routing name and the workers serving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelsEntry {
    /// The model's routing name (as clients ask for it).
    pub id: String,
    /// The workers serving it through this proxy.
    pub workers: Vec<ModelWorkerInfo>,
}

/// One worker serving a model, as the proxy sees it now (its model listing and admin view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelWorkerInfo {
    /// The worker's price multiplier in per-mille (1000 = 1.0x).
    pub coefficient: u32,
    /// Requests the proxy has in flight on it now.
    pub running: u32,
    /// The most concurrent requests it accepts through this proxy.
    pub max_active: u32,
    /// False when its operator disabled it or its backend is down.
    pub enabled: bool,
    /// Its hardware in config form, e.g. "cpu" or "2xH100:80GiB".
    pub hardware: String,
    /// SHA-256 of the weights the worker attested to serving, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_parse_and_display_round_trip() {
        for s in ["cpu", "H100", "H100:80GiB", "2xH100:80GiB", "RTX-4090:24GiB"] {
            let h = HardwareProfile::parse(s).unwrap();
            assert_eq!(h.to_string(), s);
        }
        assert!(HardwareProfile::parse("H100:lots").is_err());
        assert!(HardwareProfile::parse("H 100").is_err());
    }

    #[test]
    fn hardware_constraint() {
        let h = HardwareProfile::parse("H100-SXM:80GiB").unwrap();
        assert!(h.satisfies("h100"));
        assert!(!h.satisfies("A100"));
        assert!(!h.satisfies("cpu"));
        assert!(HardwareProfile::cpu().satisfies("CPU"));
        assert!(!HardwareProfile::cpu().satisfies("H100"));
    }

    #[test]
    fn hello_rejects_unknown_fields() {
        let bad = r#"{"role":"client","versions":{"min":1,"max":1},"software":"x","evil":1}"#;
        assert!(serde_json::from_str::<Hello>(bad).is_err());
    }
}
