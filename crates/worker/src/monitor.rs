//! Watches the backend and disables the worker while it is down.

use crate::{backend::Backend, state::WorkerState};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Checks the backend's health every `every` (each check given at least 2 s) and marks the worker
/// enabled or disabled to match, until `stop`.
pub async fn run(backend: Arc<dyn Backend>, state: Arc<WorkerState>, every: Duration, stop: CancellationToken) {
    let timeout = every.max(Duration::from_secs(2));
    loop {
        let result = match tokio::time::timeout(timeout, backend.health()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        let up = result.is_ok();
        if state.set_backend_up(up) {
            match result {
                Ok(()) => tracing::info!(backend = %backend.describe(), "backend is up: worker enabled"),
                Err(e) => {
                    tracing::warn!(backend = %backend.describe(), error = %e, "backend is down: worker reports itself disabled")
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
