//! One proxy link: dial, serve HTTP/2 on the connection until it dies, redial with backoff.

use crate::service::{handle, LinkCtx};
use cocoon_transport::{h2_server, link_io, TlsDialer};
use hyper::service::service_fn;
use std::{
    pin::pin,
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long in-flight requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(5);

/// Keeps the link to one proxy up until `stop`: dials, serves its requests, and redials with
/// backoff (up to 5 s) when the connection dies.
pub async fn run(ctx: Arc<LinkCtx>, dialer: TlsDialer, stop: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    loop {
        if stop.is_cancelled() {
            return;
        }
        match dialer.dial(&ctx.proxy).await {
            Ok((tls, peer)) => {
                tracing::info!(proxy = %ctx.proxy, proxy_key = %peer.public_key_hex(), image = ?peer.image_hash.map(|h| h.to_string()), "connected to proxy");
                backoff = MIN_BACKOFF;
                failures = 0;
                *ctx.proxy_key.lock().unwrap_or_else(|p| p.into_inner()) = Some(peer.public_key);
                if let Err(e) = ctx.wallet.open(&peer.public_key) {
                    tracing::error!(proxy = %ctx.proxy, error = %e, "cannot open this proxy's voucher book");
                }
                ctx.connected.store(true, Relaxed);
                let svc_ctx = ctx.clone();
                let svc = service_fn(move |req| handle(svc_ctx.clone(), req));
                let mut conn = pin!(h2_server().serve_connection(link_io(tls), svc));
                tokio::select! {
                    r = conn.as_mut() => match r {
                        Ok(()) => tracing::warn!(proxy = %ctx.proxy, "proxy closed the link"),
                        Err(e) => tracing::warn!(proxy = %ctx.proxy, error = %e, "proxy link failed"),
                    },
                    _ = stop.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(GRACE, conn).await;
                        ctx.connected.store(false, Relaxed);
                        return;
                    }
                }
                ctx.connected.store(false, Relaxed);
            }
            Err(e) => {
                failures += 1;
                // Say it once loudly, then quietly while it keeps failing.
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(proxy = %ctx.proxy, error = %e, failures, "cannot reach proxy; retrying");
                } else {
                    tracing::debug!(proxy = %ctx.proxy, error = %e, "cannot reach proxy; retrying");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
