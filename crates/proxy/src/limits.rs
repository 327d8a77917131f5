//! The settings a running proxy may change on SIGHUP without a restart: body and timeout
//! caps, requests per link, the proof-of-work difficulty and (when no chain sets it) the model
//! allowlist. Read on every request or connection; [`Limits::apply`] swaps them in from a
//! reloaded config and says what changed and what would need a restart.

use crate::ProxyConfig;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::RwLock;
use std::time::Duration;

/// The proxy's run-time limits.
pub struct Limits {
    max_body: AtomicUsize,
    max_timeout_ms: AtomicU64,
    max_streams_per_link: AtomicU32,
    pow_difficulty: AtomicU8,
    /// Model weights workers may serve (SHA-256 hex); empty: any.
    model_hashes: RwLock<Vec<String>>,
    /// Whether the root's allowlist sets the models (then a file's list is ignored).
    models_from_chain: bool,
}

impl Limits {
    /// The limits of `cfg`, with `model_hashes` as decided at start (file or chain).
    pub fn new(cfg: &ProxyConfig, model_hashes: Vec<String>, models_from_chain: bool) -> Self {
        let l = Self {
            max_body: AtomicUsize::new(0),
            max_timeout_ms: AtomicU64::new(0),
            max_streams_per_link: AtomicU32::new(0),
            pow_difficulty: AtomicU8::new(0),
            model_hashes: RwLock::new(model_hashes),
            models_from_chain,
        };
        l.store(cfg);
        l
    }

    fn store(&self, cfg: &ProxyConfig) {
        self.max_body.store(cfg.max_body_bytes, Relaxed);
        self.max_timeout_ms.store(cfg.max_timeout_secs.max(1).saturating_mul(1000), Relaxed);
        self.max_streams_per_link.store(cfg.max_streams_per_link.max(1), Relaxed);
        self.pow_difficulty.store(cfg.pow_difficulty.min(cocoon_transport::pow::MAX_DIFFICULTY), Relaxed);
    }

    /// Largest request body a client may send, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body.load(Relaxed)
    }

    /// Upper bound applied to every request's own timeout.
    pub fn max_timeout(&self) -> Duration {
        Duration::from_millis(self.max_timeout_ms.load(Relaxed))
    }

    /// Most requests one client link may have in flight (new links).
    pub fn max_streams_per_link(&self) -> u32 {
        self.max_streams_per_link.load(Relaxed)
    }

    /// Proof-of-work bits a dialer must solve before TLS (new connections).
    pub fn pow_difficulty(&self) -> u8 {
        self.pow_difficulty.load(Relaxed)
    }

    /// The model allowlist (new workers).
    pub fn model_hashes(&self) -> Vec<String> {
        self.model_hashes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes what can change from a reloaded `new` config; returns what changed, and notes
    /// for what differs but only applies after a restart. `old` is the config started with.
    pub fn apply(&self, old: &ProxyConfig, new: &ProxyConfig) -> Result<(Vec<String>, Vec<String>), String> {
        let mut changed = Vec::new();
        let mut restart = Vec::new();
        let mut note = |what: &str, a: String, b: String| {
            if a != b {
                changed.push(format!("{what}: {a} -> {b}"));
            }
        };
        note("max_body_bytes", self.max_body().to_string(), new.max_body_bytes.to_string());
        note("max_timeout_secs", (self.max_timeout().as_secs()).to_string(), new.max_timeout_secs.max(1).to_string());
        note(
            "max_streams_per_link",
            self.max_streams_per_link().to_string(),
            new.max_streams_per_link.max(1).to_string(),
        );
        note("pow_difficulty", self.pow_difficulty().to_string(), new.pow_difficulty.to_string());
        let models = new.model_allowlist()?;
        if !self.models_from_chain && models != self.model_hashes() {
            changed.push(format!("model_hashes: {} -> {} entries", self.model_hashes().len(), models.len()));
            *self.model_hashes.write().unwrap_or_else(|p| p.into_inner()) = models;
        }
        self.store(new);
        let differs = |a: String, b: String, what: &str, restart: &mut Vec<String>| {
            if a != b {
                restart.push(what.to_string());
            }
        };
        differs(old.client_listen.to_string(), new.client_listen.to_string(), "client_listen", &mut restart);
        differs(old.worker_listen.to_string(), new.worker_listen.to_string(), "worker_listen", &mut restart);
        differs(old.stats_listen.to_string(), new.stats_listen.to_string(), "stats_listen", &mut restart);
        differs(format!("{:?}", old.report_listen), format!("{:?}", new.report_listen), "report_listen", &mut restart);
        differs(format!("{:?}", old.attestation), format!("{:?}", new.attestation), "attestation", &mut restart);
        differs(format!("{:?}", old.client_policy), format!("{:?}", new.client_policy), "client_policy", &mut restart);
        differs(format!("{:?}", old.worker_policy), format!("{:?}", new.worker_policy), "worker_policy", &mut restart);
        differs(format!("{:?}", old.payments), format!("{:?}", new.payments), "payments", &mut restart);
        differs(old.max_connections.to_string(), new.max_connections.to_string(), "max_connections", &mut restart);
        Ok((changed, restart))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_changes_the_limits_and_names_what_needs_a_restart() {
        let old = ProxyConfig::default();
        let l = Limits::new(&old, Vec::new(), false);
        let mut new = old.clone();
        new.max_body_bytes = 1024;
        new.pow_difficulty = 22;
        new.model_hashes = vec!["ab".repeat(32)];
        new.stats_listen = "127.0.0.1:1".parse().unwrap();
        let (changed, restart) = l.apply(&old, &new).unwrap();
        assert_eq!(l.max_body(), 1024);
        assert_eq!(l.pow_difficulty(), 22);
        assert_eq!(l.model_hashes(), vec!["ab".repeat(32)]);
        assert_eq!(changed.len(), 3, "{changed:?}");
        assert_eq!(restart, ["stats_listen"]);
        // A bad allowlist changes nothing.
        let mut bad = new.clone();
        bad.model_hashes = vec!["zz".into()];
        bad.max_body_bytes = 7;
        assert!(l.apply(&old, &bad).is_err());
        assert_eq!(l.max_body(), 1024);
        // From the chain, a file's list is ignored.
        let chain = Limits::new(&old, vec!["cd".repeat(32)], true);
        chain.apply(&old, &new).unwrap();
        assert_eq!(chain.model_hashes(), vec!["cd".repeat(32)]);
    }
}
