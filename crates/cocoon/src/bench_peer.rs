//! llama.cpp's own `llama-server` as the peer of `cocoon bench-engine --peer`: started on the
//! same model with the same threads, sequences and context as the embedded engine, measured
//! through its OpenAI-compatible API, stopped when dropped. It is a benchmark peer only
//! (scripts/build-llama-server.sh builds it); nothing of the network depends on it.

use anyhow::{bail, Context, Result};
use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

/// How long the peer may take to load the model and answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `llama-server`; killed when dropped.
pub struct Peer {
    child: tokio::process::Child,
    /// Its OpenAI API base, `http://127.0.0.1:PORT/v1`.
    pub api: String,
}

/// What the peer is started with: the embedded engine's own settings.
pub struct PeerSettings<'a> {
    /// The `llama-server` binary.
    pub binary: &'a Path,
    /// The GGUF model.
    pub model: &'a Path,
    /// CPU threads (generation and prompt processing).
    pub threads: usize,
    /// Sequences served at once (`-np`).
    pub parallel: usize,
    /// Context per sequence; the server gets `context * parallel` in all, as the engine does.
    pub context: u32,
}

impl Peer {
    /// Starts `llama-server` on a free loopback port and waits until `/health` answers 200.
    pub async fn start(s: PeerSettings<'_>) -> Result<Peer> {
        if !s.binary.is_file() {
            bail!("no llama-server at {} (build it: ./scripts/build-llama-server.sh)", s.binary.display());
        }
        let port = crate::network::free_ports(1)?[0];
        let total_ctx = u64::from(s.context) * s.parallel as u64;
        let child = tokio::process::Command::new(s.binary)
            .arg("-m")
            .arg(s.model)
            .args(["-t", &s.threads.to_string(), "-tb", &s.threads.to_string()])
            .args(["-np", &s.parallel.to_string(), "-c", &total_ctx.to_string()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--no-webui"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", s.binary.display()))?;
        let mut peer = Peer { child, api: format!("http://127.0.0.1:{port}/v1") };
        let health = format!("http://127.0.0.1:{port}/health");
        let started = Instant::now();
        loop {
            if let Some(status) = peer.child.try_wait()? {
                bail!("llama-server exited before it was ready ({status})");
            }
            if let Ok(Ok((200, _))) =
                tokio::time::timeout(Duration::from_secs(2), crate::network::get_json(&health)).await
            {
                return Ok(peer);
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("llama-server did not answer /health within {} s", READY_TIMEOUT.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
