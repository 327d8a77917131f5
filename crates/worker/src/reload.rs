//! The settings a running worker may change on SIGHUP without a restart: its price coefficient
//! (published to every proxy at once, as the operator's `/admin/coefficient` does), the largest
//! request body and the drain deadline. Everything else (proxies, model, backend, identity,
//! listeners, capacity) is fixed for the life of the process; [`apply`] names such changes so
//! the log says a restart is needed.

use crate::state::WorkerState;
use crate::WorkerConfig;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// The limits a running worker reads on every request (or at drain), swapped by [`apply`].
pub struct Tunables {
    max_body: AtomicUsize,
    drain_timeout_secs: AtomicU64,
}

impl Tunables {
    /// The limits of `cfg`.
    pub fn new(cfg: &WorkerConfig) -> Self {
        Self {
            max_body: AtomicUsize::new(cfg.max_body_bytes),
            drain_timeout_secs: AtomicU64::new(cfg.drain_timeout_secs),
        }
    }

    /// Largest request body accepted, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body.load(Relaxed)
    }

    /// How long running requests may take to finish once the worker is stopping.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs.load(Relaxed))
    }
}

/// Applies what can change from the reloaded `new` config, compared with `current` (the
/// config last applied), and names what differs from `started` (the config the process began
/// with) but needs a restart. Returns (what changed, what needs a restart).
///
/// The coefficient is set only when the file's value changed, so a reload does not undo a
/// coefficient the operator set through `/admin/coefficient` since.
pub fn apply(
    state: &WorkerState,
    tunables: &Tunables,
    started: &WorkerConfig,
    current: &WorkerConfig,
    new: &WorkerConfig,
) -> (Vec<String>, Vec<String>) {
    let mut changed = Vec::new();
    if new.coefficient != current.coefficient {
        changed.push(format!("coefficient: {} -> {}", current.coefficient, new.coefficient));
        state.set_coefficient(new.coefficient);
    }
    if new.max_body_bytes != tunables.max_body() {
        changed.push(format!("max_body_bytes: {} -> {}", tunables.max_body(), new.max_body_bytes));
        tunables.max_body.store(new.max_body_bytes, Relaxed);
    }
    if new.drain_timeout_secs != tunables.drain_timeout().as_secs() {
        changed.push(format!(
            "drain_timeout_secs: {} -> {}",
            tunables.drain_timeout().as_secs(),
            new.drain_timeout_secs
        ));
        tunables.drain_timeout_secs.store(new.drain_timeout_secs, Relaxed);
    }
    let mut restart = Vec::new();
    let mut differs = |what: &str, a: String, b: String| {
        if a != b {
            restart.push(what.to_string());
        }
    };
    let (s, n) = (started, new);
    differs("proxies", format!("{:?}", s.proxies), format!("{:?}", n.proxies));
    differs("chain", format!("{:?}", s.chain), format!("{:?}", n.chain));
    differs("model", s.model.clone(), n.model.clone());
    differs("backend", format!("{:?}", s.backend), format!("{:?}", n.backend));
    differs("features", format!("{:?}", s.features), format!("{:?}", n.features));
    differs("model_file", format!("{:?}", s.model_file), format!("{:?}", n.model_file));
    differs("embedded", format!("{:?}", s.embedded), format!("{:?}", n.embedded));
    differs("speech", format!("{:?}", s.speech), format!("{:?}", n.speech));
    differs("embedding", format!("{:?}", s.embedding), format!("{:?}", n.embedding));
    differs("hardware", s.hardware.clone(), n.hardware.clone());
    differs("max_active", s.max_active.to_string(), n.max_active.to_string());
    differs("stats_listen", s.stats_listen.to_string(), n.stats_listen.to_string());
    differs("admin_listen", s.admin_listen.to_string(), n.admin_listen.to_string());
    differs("insecure_dev", s.insecure_dev.to_string(), n.insecure_dev.to_string());
    differs("max_pow_difficulty", s.max_pow_difficulty.to_string(), n.max_pow_difficulty.to_string());
    differs("backend_poll_ms", s.backend_poll_ms.to_string(), n.backend_poll_ms.to_string());
    differs("attestation", format!("{:?}", s.attestation), format!("{:?}", n.attestation));
    differs("proxy_policy", format!("{:?}", s.proxy_policy), format!("{:?}", n.proxy_policy));
    differs("data_dir", format!("{:?}", s.data_dir), format!("{:?}", n.data_dir));
    (changed, restart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WorkerConfig {
        toml::from_str("model = \"m\"\nbackend = \"http://127.0.0.1:1\"\nproxies = [\"127.0.0.1:2\"]\n").unwrap()
    }

    #[test]
    fn a_reload_sets_the_price_and_limits_and_names_what_needs_a_restart() {
        let started = cfg();
        let state = WorkerState::new(started.coefficient);
        let t = Tunables::new(&started);
        let mut new = started.clone();
        new.coefficient = 1500;
        new.max_body_bytes = 4096;
        new.max_active = 3;
        new.model = "other".into();
        let (changed, restart) = apply(&state, &t, &started, &started, &new);
        assert_eq!(state.status().coefficient, 1500);
        assert_eq!(t.max_body(), 4096);
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert_eq!(restart, ["model", "max_active"]);

        // The operator sets 900 at run time; a reload that leaves the file's coefficient alone
        // keeps it.
        state.set_coefficient(900);
        let mut again = new.clone();
        again.drain_timeout_secs = 5;
        let (changed, _) = apply(&state, &t, &started, &new, &again);
        assert_eq!(changed, ["drain_timeout_secs: 30 -> 5"]);
        assert_eq!(state.status().coefficient, 900);
        assert_eq!(t.drain_timeout(), Duration::from_secs(5));
    }
}
