//! Admitting workers: RA-TLS accept, hello, registration, status stream, and forgetting them
//! the moment their link dies.

use crate::{registry::WorkerEntry, Shared};
use bytes::BytesMut;
use cocoon_proto::{is_sha256_hex, path, EventCodec, VoucherEvent, WorkerAnnounce, CLAIM_MODEL, CLAIM_MODEL_SHA256};
use cocoon_transport::{accept, empty, full, h2_client, send_hello, Body};
use cocoon_voucher::{SignedVoucher, VoucherKind};
use http_body_util::BodyExt;
use hyper::client::conn::http2::SendRequest;
use std::{
    collections::BTreeMap,
    sync::{atomic::AtomicU64, atomic::Ordering::Relaxed, Arc, Mutex},
    time::Duration,
};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Decoder;

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The worker's model as attested in its certificate: the announced model must be the
/// attested one (claim `model`), and the announced hash the attested one (claim
/// `model_sha256`), which must be on the registry's allowlist (when not empty). Returns the hash.
pub fn check_attested_model(
    allowed: &[String],
    announce: &WorkerAnnounce,
    attested: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    if attested.get(CLAIM_MODEL) != Some(&announce.model) {
        return Err(format!(
            "announced model {:?} differs from the attested one {:?}",
            announce.model,
            attested.get(CLAIM_MODEL)
        ));
    }
    let claimed = attested.get(CLAIM_MODEL_SHA256);
    if announce.model_sha256.as_ref() != claimed {
        return Err(format!(
            "announced model hash {:?} differs from the attested one {:?}",
            announce.model_sha256, claimed
        ));
    }
    match claimed {
        Some(h) if !is_sha256_hex(h) => Err(format!("attested model hash {h:?} is not a SHA-256 in hex")),
        Some(h) if !allowed.is_empty() && !allowed.contains(h) => {
            Err(format!("model hash {h} is not in the registry's allowlist"))
        }
        None if !allowed.is_empty() => {
            Err("the worker attests no model hash and the registry allowlists model hashes".into())
        }
        other => Ok(other.cloned()),
    }
}

/// Handles one incoming worker connection for its whole life.
pub async fn serve(shared: Arc<Shared>, acceptor: TlsAcceptor, tcp: TcpStream) {
    let addr = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (tls, peer) = match accept(tcp, &acceptor, HANDSHAKE_TIMEOUT, shared.limits.pow_difficulty()).await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "worker refused at handshake");
            shared.stats.refused(format!("worker {addr}: {e}"));
            return;
        }
    };
    let (mut send, conn) = match h2_client(tls).await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "worker link: HTTP/2 handshake failed");
            return;
        }
    };
    let conn_task = tokio::spawn(conn);
    let ack = match send_hello(&mut send, "proxy", None).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "worker hello failed");
            conn_task.abort();
            return;
        }
    };
    let Some(announce) = ack.worker else {
        tracing::warn!(peer = %addr, "peer on the worker port did not announce a worker; dropping it");
        conn_task.abort();
        return;
    };
    if announce.model.is_empty() || announce.max_active == 0 || announce.status.validate().is_err() {
        tracing::warn!(peer = %addr, ?announce, "worker announced nonsense; dropping it");
        conn_task.abort();
        return;
    }
    if announce.worker_id != peer.public_key_hex() {
        tracing::warn!(peer = %addr, "worker id does not match its attested key; dropping it");
        conn_task.abort();
        return;
    }
    let model_sha256 = match check_attested_model(&shared.limits.model_hashes(), &announce, &peer.extra) {
        Ok(h) => h,
        Err(why) => {
            tracing::warn!(peer = %addr, worker = %short(&announce.worker_id), model = %announce.model, "refusing a worker: {why}");
            shared.stats.refused(format!("worker {addr}: {why}"));
            conn_task.abort();
            return;
        }
    };
    if let (Some(p), Some(v)) = (shared.payments.as_ref(), announce.voucher.as_deref()) {
        if let Err(e) = crate::hello::check_voucher(p, &peer.public_key, v) {
            tracing::error!(peer = %addr, error = %e, "refusing a worker over its voucher");
            conn_task.abort();
            return;
        }
    }
    let events = match open_events(&mut send).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "worker status stream failed");
            conn_task.abort();
            return;
        }
    };

    let entry = Arc::new(WorkerEntry {
        link_id: NEXT_LINK.fetch_add(1, Relaxed),
        worker_id: announce.worker_id.clone(),
        worker_key: peer.public_key,
        address: addr.clone(),
        model: announce.model.clone(),
        hardware: announce.hardware.clone(),
        max_active: announce.max_active,
        features: announce.features,
        image_hash: peer.image_hash.map(|h| h.to_string()),
        model_sha256,
        status: Mutex::new(announce.status.clone()),
        running: Default::default(),
        health: Default::default(),
        served: Default::default(),
        failed: Default::default(),
        send,
    });
    shared.registry.add(entry.clone());
    tracing::info!(peer = %addr, worker = %short(&entry.worker_id), model = %entry.model, hardware = %entry.hardware,
        max_active = entry.max_active, coefficient = announce.status.coefficient, features = %entry.features, version = ack.version, "worker registered");

    let vouchers = shared.payments.as_ref().map(|p| {
        let rx = p.ledger.subscribe(VoucherKind::WorkerPayout, &entry.worker_key);
        let first = p.ledger.voucher(VoucherKind::WorkerPayout, &entry.worker_key).ok().flatten();
        tokio::spawn(push_vouchers(entry.send.clone(), first, rx, short(&entry.worker_id).to_string()))
    });
    tokio::select! {
        r = follow_status(&entry, events) => tracing::warn!(worker = %short(&entry.worker_id), reason = %r, "worker status stream ended"),
        r = conn_task => tracing::warn!(worker = %short(&entry.worker_id), result = ?r.map(|r| r.map_err(|e| e.to_string())), "worker link closed"),
        // Not at `stop`: requests in flight on this worker finish during the drain.
        _ = shared.shutdown.cancelled() => {}
    }
    if let Some(task) = vouchers {
        task.abort();
    }
    shared.registry.remove(entry.link_id);
    tracing::info!(worker = %short(&entry.worker_id), model = %entry.model, "worker forgotten");
}

/// Sends the worker each committed payout voucher (the current one first).
async fn push_vouchers(
    mut send: SendRequest<Body>,
    first: Option<SignedVoucher>,
    mut rx: watch::Receiver<Option<SignedVoucher>>,
    worker: String,
) {
    let mut next = first;
    loop {
        if let Some(v) = next.take() {
            if let Err(e) = post_voucher(&mut send, &v).await {
                tracing::warn!(worker = %worker, error = %e, "could not deliver a voucher");
                if send.is_closed() {
                    return;
                }
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
        next = rx.borrow_and_update().clone();
    }
}

async fn post_voucher(send: &mut SendRequest<Body>, v: &SignedVoucher) -> Result<(), String> {
    let event = VoucherEvent { voucher: v.to_base64().map_err(|e| e.to_string())? };
    let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
    let req = http::Request::post(cocoon_transport::peer_uri(path::WORKER_VOUCHER))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .map_err(|e| e.to_string())?;
    send.ready().await.map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        let body = cocoon_transport::read_limited(resp.into_body(), 4096).await.unwrap_or_default();
        return Err(format!("worker refused the voucher: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

async fn open_events(send: &mut SendRequest<Body>) -> Result<hyper::body::Incoming, String> {
    let req =
        http::Request::get(cocoon_transport::peer_uri(path::WORKER_EVENTS)).body(empty()).map_err(|e| e.to_string())?;
    send.ready().await.map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("worker answered {}", resp.status()));
    }
    Ok(resp.into_body())
}

/// Applies status frames until the stream ends; returns why it ended.
async fn follow_status(entry: &WorkerEntry, mut body: hyper::body::Incoming) -> String {
    let mut codec = EventCodec::<cocoon_proto::WorkerStatus>::default();
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => return "end of stream".into(),
            Some(Err(e)) => return e.to_string(),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
                loop {
                    match codec.decode(&mut buf) {
                        Ok(Some(status)) => {
                            if let Err(why) = status.validate() {
                                return format!("invalid status frame: {why}");
                            }
                            tracing::info!(worker = %short(&entry.worker_id), enabled = status.enabled, coefficient = status.coefficient,
                                reason = ?status.reason, "worker status");
                            entry.set_status(status);
                        }
                        Ok(None) => break,
                        Err(e) => return format!("malformed status frame: {e}"),
                    }
                }
            }
        }
    }
}

pub(crate) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use cocoon_proto::{HardwareProfile, WorkerStatus};

    const A: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
    const B: &str = "8ef444fd0000000000000000000000000000000000000000000000000000aaaa";

    fn announce(hash: Option<&str>) -> WorkerAnnounce {
        WorkerAnnounce {
            worker_id: "w".into(),
            model: "m".into(),
            hardware: HardwareProfile::cpu(),
            max_active: 1,
            status: WorkerStatus { enabled: true, coefficient: 1000, reason: None },
            model_sha256: hash.map(str::to_string),
            voucher: None,
            features: Default::default(),
        }
    }

    fn claims(hash: Option<&str>) -> BTreeMap<String, String> {
        let mut c = BTreeMap::from([(CLAIM_MODEL.to_string(), "m".to_string())]);
        if let Some(h) = hash {
            c.insert(CLAIM_MODEL_SHA256.to_string(), h.to_string());
        }
        c
    }

    #[test]
    fn model_and_hash_must_match_the_claims_and_the_allowlist() {
        // The announced model must be the attested one.
        let mut other = claims(None);
        other.insert(CLAIM_MODEL.to_string(), "other".to_string());
        let e = check_attested_model(&[], &announce(None), &other).unwrap_err();
        assert!(e.contains("announced model \"m\" differs from the attested one"), "{e}");
        assert!(check_attested_model(&[], &announce(None), &BTreeMap::new()).is_err());
        // No allowlist: any model, with or without a hash.
        assert_eq!(check_attested_model(&[], &announce(None), &claims(None)), Ok(None));
        assert_eq!(check_attested_model(&[], &announce(Some(A)), &claims(Some(A))), Ok(Some(A.to_string())));
        // The announcement must say what the certificate attests.
        let e = check_attested_model(&[], &announce(Some(A)), &claims(Some(B))).unwrap_err();
        assert!(e.contains("differs from the attested"), "{e}");
        assert!(check_attested_model(&[], &announce(Some(A)), &claims(None)).is_err());
        assert!(check_attested_model(&[], &announce(Some("xyz")), &claims(Some("xyz"))).is_err());
        // With an allowlist: listed hashes only, and a hash is required.
        let allowed = vec![A.to_string()];
        assert_eq!(check_attested_model(&allowed, &announce(Some(A)), &claims(Some(A))), Ok(Some(A.to_string())));
        let e = check_attested_model(&allowed, &announce(Some(B)), &claims(Some(B))).unwrap_err();
        assert!(e.contains("not in the registry's allowlist"), "{e}");
        let e = check_attested_model(&allowed, &announce(None), &claims(None)).unwrap_err();
        assert!(e.contains("attests no model hash"), "{e}");
    }
}
