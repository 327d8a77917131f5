//! The request path through the proxy: a short pipeline of named steps, each in its own
//! module.
//!
//! 1. [`admit`]: the metadata, a balance check, then the body within its limits (bad input:
//!    a 4xx, nothing changes);
//! 2. [`reserve`]: holds the request's maximum cost; a [`reserve::Reservation`] dropped
//!    unsettled releases itself;
//! 3. [`choose`]: a worker for the model, hardware and price ceiling, and the coefficient the
//!    request is priced at;
//! 4. [`dispatch`]: sends the request under its terms and waits for the first byte; a worker
//!    that fails before it is marked and the request tried once more elsewhere;
//! 5. [`relay`]: streams the answer back and settles: usage bounded by the request, priced at
//!    the recorded coefficient, collected even when the client went away.
//!
//! The whole pipeline runs on its own task, so a client that resets its stream never
//! cancels a request a worker has started: its answer is still read and charged.

pub mod admit;
pub mod choose;
pub mod dispatch;
pub mod relay;
pub mod reserve;

use crate::Shared;
use cocoon_ledger::AccountId;
use cocoon_openai::ApiError;
use cocoon_transport::{error_response, Body};
use dispatch::Attempt;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use reserve::Reservation;
use std::sync::{atomic::Ordering::Relaxed, Arc};
use tokio::time::Instant;

/// Serves one inference request from `client`.
pub async fn infer(shared: &Arc<Shared>, client: &AccountId, req: Request<Incoming>) -> Response<Body> {
    shared.stats.requests.fetch_add(1, Relaxed);
    let (s, c) = (shared.clone(), *client);
    let result = match tokio::spawn(async move { route(&s, &c, req).await }).await {
        Ok(r) => r,
        Err(e) => Err(ApiError::internal("internal", format!("request task failed: {e}"))),
    };
    result.unwrap_or_else(|e| {
        let refused = e.status.is_client_error()
            && e.status != StatusCode::TOO_MANY_REQUESTS
            && e.status != StatusCode::NOT_FOUND;
        let counter = if refused { &shared.stats.rejected_invalid } else { &shared.stats.failed };
        counter.fetch_add(1, Relaxed);
        error_response(&e)
    })
}

/// admit -> reserve -> choose -> dispatch (-> choose -> dispatch once more) -> relay.
async fn route(shared: &Arc<Shared>, client: &AccountId, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    // Counted in flight until its reservation settles (the drain waits for it).
    let running = shared.drain.admit()?;
    let admitted = admit::admit(shared, client, req).await?;
    let meta = &admitted.meta;
    let reservation = Reservation::take(&shared.billing, client, meta, admitted.body.len(), running)?;
    let mut excluded = None;
    let mut first_failure: Option<ApiError> = None;
    for attempt in 0..2 {
        let chosen = match choose::choose(shared, meta, excluded) {
            Ok(c) => c,
            // After a failed first attempt, that failure is the news, not the lack of a spare.
            Err(why) => {
                return Err(first_failure.unwrap_or_else(|| {
                    shared.stats.no_worker.fetch_add(1, Relaxed);
                    let reconnecting =
                        shared.started.elapsed() < choose::WORKERS_RECONNECT && shared.registry.is_empty();
                    choose::no_worker_error(meta, why, reconnecting)
                }))
            }
        };
        if attempt > 0 {
            shared.stats.retried.fetch_add(1, Relaxed);
        }
        let remaining = admitted.deadline.saturating_duration_since(Instant::now());
        match dispatch::dispatch(&chosen, meta, admitted.body.clone(), remaining).await {
            Attempt::Streaming(answer) => {
                let (id, stream) = (&meta.request_id, meta.terms.stream);
                return Ok(relay::relay(
                    shared,
                    answer,
                    chosen.coefficient,
                    id,
                    stream,
                    reservation,
                    admitted.deadline,
                ));
            }
            Attempt::Refused(resp) => return Ok(resp),
            Attempt::Failed(e) => {
                tracing::warn!(request_id = %meta.request_id, worker = %crate::worker_link::short(&chosen.worker.worker_id), error = %e.message, attempt, "worker failed before the first byte");
                excluded = Some(chosen.worker.link_id);
                if e.status == StatusCode::GATEWAY_TIMEOUT {
                    return Err(e);
                }
                first_failure.get_or_insert(e);
            }
        }
    }
    Err(first_failure
        .unwrap_or_else(|| ApiError::from_status(StatusCode::BAD_GATEWAY, "worker_failed", "worker failed")))
}
