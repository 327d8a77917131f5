//! Admitting clients: RA-TLS accept, then an HTTP/2 session on which the client sends hello,
//! model listings, account requests and inference requests. A link is bounded: at most
//! `max_streams_per_link` requests at once, a hello within [`HELLO_DEADLINE`], and closed
//! after [`IDLE_TIMEOUT`] without a request (the client redials when it needs to).

use crate::{account, hello, pipeline, Shared};
use cocoon_ledger::AccountId;
use cocoon_openai::ApiError;
use cocoon_proto::path;
use cocoon_transport::{accept, error_response, h2_server, json_response, link_io, Body};
use http::{Method, Request, Response, StatusCode};
use hyper::{body::Incoming, service::service_fn};
use std::{convert::Infallible, pin::pin, sync::atomic::Ordering::Relaxed, sync::Arc, time::Duration};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);
/// A client must say hello this soon after its handshake.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// A link with no request in flight for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// What the link watchdog needs to know about a link's use.
#[derive(Default)]
struct Activity {
    hello: std::sync::atomic::AtomicBool,
    in_flight: std::sync::atomic::AtomicU64,
    /// Milliseconds since the link opened, at its last request.
    last_ms: std::sync::atomic::AtomicU64,
}

/// Counts one request as in flight on its link.
struct InFlight(Arc<Activity>, std::time::Instant);

impl InFlight {
    fn new(a: &Arc<Activity>, opened: std::time::Instant) -> Self {
        a.in_flight.fetch_add(1, Relaxed);
        a.last_ms.store(opened.elapsed().as_millis() as u64, Relaxed);
        InFlight(a.clone(), opened)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_ms.store(self.1.elapsed().as_millis() as u64, Relaxed);
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Resolves when the link should be closed: no hello in time, or idle too long.
async fn watchdog(a: Arc<Activity>, opened: std::time::Instant) -> &'static str {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = opened.elapsed();
        if !a.hello.load(Relaxed) && now >= HELLO_DEADLINE {
            return "no hello in time";
        }
        let idle = now.saturating_sub(Duration::from_millis(a.last_ms.load(Relaxed)));
        if a.in_flight.load(Relaxed) == 0 && idle >= IDLE_TIMEOUT {
            return "idle";
        }
    }
}

/// Handles one client connection for its whole life.
pub async fn serve(shared: Arc<Shared>, acceptor: TlsAcceptor, tcp: TcpStream) {
    let addr = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (tls, peer) = match accept(tcp, &acceptor, HANDSHAKE_TIMEOUT, shared.limits.pow_difficulty()).await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "client refused at handshake");
            shared.stats.refused(format!("client {addr}: {e}"));
            return;
        }
    };
    let client = peer.public_key;
    tracing::info!(peer = %addr, client = %crate::worker_link::short(&peer.public_key_hex()), "client connected");
    shared.stats.clients_connected.fetch_add(1, Relaxed);
    let svc_shared = shared.clone();
    let (activity, opened) = (Arc::new(Activity::default()), std::time::Instant::now());
    let svc_activity = activity.clone();
    let svc = service_fn(move |req| {
        let in_flight = InFlight::new(&svc_activity, opened);
        let (shared, activity) = (svc_shared.clone(), svc_activity.clone());
        async move {
            let resp = handle(shared, &activity, client, req).await;
            drop(in_flight);
            resp
        }
    });
    let mut h2 = h2_server();
    h2.max_concurrent_streams(shared.limits.max_streams_per_link());
    let mut conn = pin!(h2.serve_connection(link_io(tls), svc));
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r { tracing::info!(peer = %addr, error = %e, "client link ended") },
        why = watchdog(activity, opened) => {
            tracing::info!(peer = %addr, why, "closing a client link");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
        // Stop: no new streams (GOAWAY); those in flight finish within the drain, then a grace.
        _ = shared.stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { shared.shutdown.cancelled().await; tokio::time::sleep(GRACE).await } => {}
            }
        }
    }
    shared.stats.clients_connected.fetch_sub(1, Relaxed);
}

async fn handle(
    shared: Arc<Shared>,
    activity: &Activity,
    client: AccountId,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path();
    if path != path::HELLO && !activity.hello.load(Relaxed) {
        return Ok(error_response(&ApiError::bad_request("no_hello", format!("say hello ({}) first", path::HELLO))));
    }
    Ok(match (req.method(), path) {
        (&Method::POST, path::INFER) => {
            shared.stats.seen(&client, crate::payments::now_unix());
            pipeline::infer(&shared, &client, req).await
        }
        (&Method::GET, path::MODELS) => json_response(&shared.registry.models()),
        (&Method::POST, path::HELLO) => {
            let resp = hello::hello(&shared, &client, req.into_body()).await;
            if resp.status().is_success() {
                activity.hello.store(true, Relaxed);
            }
            resp
        }
        (&Method::GET, p @ (path::ACCOUNT | path::VOUCHERS)) => {
            let p = p.to_string();
            account::handle(&shared, client, &p, req.into_body()).await
        }
        (&Method::POST, p @ (path::DEPOSIT | path::STAKE | path::WITHDRAW | path::CLOSE)) => {
            let p = p.to_string();
            account::handle(&shared, client, &p, req.into_body()).await
        }
        (_, p) => error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            format!("no such path {p}"),
        )),
    })
}
