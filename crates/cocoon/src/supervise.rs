//! The local network's supervisor: a role that dies is started again with backoff, as a
//! process supervisor would, and the others reconnect by themselves (workers and the client
//! redial their proxies; a proxy reopens its books and its key from its data dir). A role that
//! keeps dying soon after each start is given up on, and the network stops with its log.

use crate::network::{log_tail, start_child, Network};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A role that ran this long before dying is restarted with the shortest backoff again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Restarts in a row, each dying within [`STABLE_AFTER`], before giving up.
pub const MAX_QUICK_RESTARTS: u32 = 5;

/// The first restart waits this long; each quick one after it twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long to wait before restart number `n` (1-based) of a quickly dying role.
pub fn backoff(n: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1u32 << n.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

/// Where `network.json` keeps the pid of the role `name`.
fn pid_pointer(name: &str) -> Option<String> {
    if let Some(i) = name.strip_prefix("proxy-") {
        return Some(format!("/proxies/{i}/pid"));
    }
    if let Some(i) = name.strip_prefix("worker-") {
        return Some(format!("/workers/{i}/pid"));
    }
    match name {
        "client" => Some("/client/pid".into()),
        "backend" => Some("/backend/pid".into()),
        _ => None,
    }
}

impl Network {
    /// Watches every role and restarts those that exit; returns only when one keeps dying
    /// (the error names it and ends with its log), for the caller to stop the network.
    pub async fn supervise(&mut self) -> anyhow::Error {
        let mut due: HashMap<String, Instant> = HashMap::new();
        loop {
            for p in &mut self.procs {
                if due.contains_key(&p.name) {
                    continue;
                }
                let Ok(Some(status)) = p.child.try_wait() else { continue };
                p.quick_restarts = if p.started.elapsed() < STABLE_AFTER { p.quick_restarts + 1 } else { 1 };
                if p.quick_restarts > MAX_QUICK_RESTARTS {
                    return anyhow::anyhow!(
                        "{} exited ({status}) {} times within a minute of starting; stopping the network. Its log ends:\n{}",
                        p.name,
                        p.quick_restarts,
                        log_tail(&p.log, 10)
                    );
                }
                let wait = backoff(p.quick_restarts);
                eprintln!("{} exited ({status}); restarting it in {:.1} s", p.name, wait.as_secs_f64());
                tracing::warn!(role = %p.name, %status, "a role exited; restarting it");
                due.insert(p.name.clone(), Instant::now() + wait);
            }
            let now = Instant::now();
            let ready: Vec<String> = due.iter().filter(|(_, at)| **at <= now).map(|(n, _)| n.clone()).collect();
            for name in ready {
                due.remove(&name);
                let Some(p) = self.procs.iter_mut().find(|p| p.name == name) else { continue };
                match start_child(&p.exe, &p.args, &p.log, true) {
                    Ok(child) => {
                        p.child = child;
                        p.started = Instant::now();
                        eprintln!("{} restarted (pid {})", p.name, p.child.id().unwrap_or(0));
                        let pid = p.child.id();
                        self.record_pid(&name, pid);
                    }
                    Err(e) => {
                        p.quick_restarts += 1;
                        eprintln!("{name} could not be restarted: {e:#}");
                        due.insert(name, Instant::now() + backoff(p.quick_restarts));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Writes a restarted role's pid into `network.json`.
    fn record_pid(&mut self, name: &str, pid: Option<u32>) {
        let Some(pointer) = pid_pointer(name) else { return };
        if let Some(slot) = self.info.pointer_mut(&pointer) {
            *slot = serde_json::json!(pid);
        }
        if let Some(dir) = self.info["data_dir"].as_str() {
            let path = std::path::Path::new(dir).join("network.json");
            // Whole or not at all: scripts may be reading it.
            let tmp = path.with_extension("json.tmp");
            let written = serde_json::to_vec_pretty(&self.info)
                .map_err(std::io::Error::other)
                .and_then(|bytes| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), error = %e, "could not update network.json");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_thirty() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
        assert_eq!(pid_pointer("proxy-1").as_deref(), Some("/proxies/1/pid"));
        assert_eq!(pid_pointer("explorer"), None);
    }
}
