//! Choose: picks a worker for the request's model, features, hardware and price ceiling
//! ([`crate::select`]), and records the coefficient it was chosen at: the request's price.

use crate::{registry::WorkerEntry, select::NoWorker, Shared};
use cocoon_openai::ApiError;
use cocoon_proto::InferMeta;
use http::StatusCode;
use std::sync::Arc;

/// The worker a request goes to, and the coefficient it is priced at.
pub struct Chosen {
    /// The worker picked for the request.
    pub worker: Arc<WorkerEntry>,
    /// Its price coefficient (per-mille) at the moment it was chosen: the price the request is charged at.
    pub coefficient: u32,
}

/// Chooses a worker, never the link `excluded` (the one that just failed).
pub fn choose(shared: &Shared, meta: &InferMeta, excluded: Option<u64>) -> Result<Chosen, NoWorker> {
    let started = std::time::Instant::now();
    let chosen = shared.registry.choose(
        &meta.terms.model,
        meta.hardware.as_deref(),
        meta.terms.features,
        meta.max_coefficient,
        excluded,
    );
    shared.stats.selection.0.record(started.elapsed());
    let (worker, coefficient) = chosen?;
    Ok(Chosen { worker, coefficient })
}

/// For this long after a proxy starts, while no worker at all is connected, a model nobody
/// serves is "not yet", not "unknown": workers are still dialing in (after a restart, say).
pub const WORKERS_RECONNECT: std::time::Duration = std::time::Duration::from_secs(15);

/// Why no worker could take the request, in the API's words. `reconnecting`: the proxy
/// started less than [`WORKERS_RECONNECT`] ago and no worker is connected yet.
pub fn no_worker_error(meta: &InferMeta, why: NoWorker, reconnecting: bool) -> ApiError {
    let m = &meta.terms.model;
    match why {
        // Just (re)started with nobody connected yet: "unknown model" would be a lie.
        NoWorker::UnknownModel if reconnecting => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "workers_reconnecting",
            format!("this proxy has just started and no worker has connected yet (model {m:?}); retry shortly"),
        ),
        NoWorker::UnknownModel => {
            ApiError::from_status(StatusCode::NOT_FOUND, "model_not_found", format!("no worker serves model {m:?}"))
        }
        NoWorker::Unsupported => ApiError::bad_request(
            "unsupported_feature",
            format!(
                "no worker for model {m:?} has every feature this request uses: {} (fields: {})",
                meta.terms.features,
                meta.terms.features.iter().flat_map(|f| f.fields().iter().copied()).collect::<Vec<_>>().join(", ")
            ),
        ),
        NoWorker::NoneEnabled => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_workers",
            format!("no enabled worker for model {m:?} right now"),
        ),
        NoWorker::NoHardware => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_matching_hardware",
            format!("no worker for model {m:?} has hardware {:?}", meta.hardware.as_deref().unwrap_or("")),
        ),
        NoWorker::TooExpensive { cheapest } => ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "coefficient_too_low",
            format!(
                "cheapest worker for model {m:?} needs coefficient {cheapest}; max_coefficient is {}",
                meta.max_coefficient
            ),
        ),
        NoWorker::AllBusy => ApiError::from_status(
            StatusCode::TOO_MANY_REQUESTS,
            "all_workers_busy",
            format!("all workers for model {m:?} are busy; retry later"),
        ),
    }
}
