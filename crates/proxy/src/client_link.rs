//! Admitting clients: RA-TLS accept, then an HTTP/2 session on which the client sends hello,
//! model listings and inference requests.

use crate::{account, forward, Shared};
use cocoon_ledger::AccountId;
use cocoon_openai::ApiError;
use cocoon_proto::path;
use cocoon_transport::{accept, conn::Io, error_response, h2_server, json_response, Body};
use http::{Method, Request, Response, StatusCode};
use hyper::{body::Incoming, service::service_fn};
use std::{convert::Infallible, pin::pin, sync::atomic::Ordering::Relaxed, sync::Arc, time::Duration};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);

/// Handles one client connection for its whole life.
pub async fn serve(shared: Arc<Shared>, acceptor: TlsAcceptor, tcp: TcpStream) {
    let addr = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (tls, peer) = match accept(tcp, &acceptor, HANDSHAKE_TIMEOUT).await {
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
    let svc = service_fn(move |req| handle(svc_shared.clone(), client, req));
    let mut conn = pin!(h2_server().serve_connection(Io::new(tls), svc));
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r { tracing::info!(peer = %addr, error = %e, "client link ended") },
        _ = shared.stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
    }
    shared.stats.clients_connected.fetch_sub(1, Relaxed);
}

async fn handle(shared: Arc<Shared>, client: AccountId, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, path::INFER) => forward::infer(&shared, &client, req).await,
        (&Method::GET, path::MODELS) => json_response(&shared.registry.models()),
        (&Method::POST, path::HELLO) => account::hello(&shared, &client, req.into_body()).await,
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
