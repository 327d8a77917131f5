//! Live connections to several proxies, so that no single proxy is a point of failure.
//!
//! One task per configured proxy keeps a link up (dial, hello, redial with backoff). Requests
//! pick among the proxies that are up with power-of-two-choices on in-flight requests, and the
//! caller fails over to another proxy when a link breaks before the request got an answer.

use cocoon_transport::{h2_client, send_hello, Body, TlsDialer};
use cocoon_voucher::VoucherWallet;
use hyper::client::conn::http2::SendRequest;
use rand::Rng;
use serde::Serialize;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio_util::sync::CancellationToken;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One configured proxy and its link.
pub struct ProxySlot {
    /// The proxy's address as configured or listed by the root (what the link dials).
    pub address: String,
    send: Mutex<Option<SendRequest<Body>>>,
    /// Whether the link is up and its hello done.
    pub connected: AtomicBool,
    /// Requests using this link right now; the pool prefers the less busy of two proxies.
    pub in_flight: AtomicU32,
    /// Inference requests routed to this proxy.
    pub requests: AtomicU64,
    /// Requests whose sending failed on this link before an answer (and failed over).
    pub failures: AtomicU64,
    /// Successful connections (hello included) to this proxy since start.
    pub connects: AtomicU64,
    /// The public key (hex) the proxy attested with on the current or last connection.
    pub proxy_key: Mutex<Option<String>>,
    /// Why the link last went down or could not connect.
    pub last_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProxySlot {
    fn new(address: String) -> Self {
        Self {
            address,
            send: Mutex::new(None),
            connected: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            proxy_key: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    fn sender(&self) -> Option<SendRequest<Body>> {
        lock(&self.send).as_ref().filter(|s| !s.is_closed()).cloned()
    }

    fn set_down(&self, why: String) {
        *lock(&self.send) = None;
        self.connected.store(false, Relaxed);
        *lock(&self.last_error) = Some(why);
    }
}

/// Keeps a proxy's in-flight count up while a request uses it.
pub struct InFlight(Arc<ProxySlot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl InFlight {
    /// The proxy this request is counted on.
    pub fn slot(&self) -> &Arc<ProxySlot> {
        &self.0
    }
}

/// The proxies this client keeps links to. Slots are only ever added (a proxy that appears in
/// the root's registry), never removed, so a slot's index stays its own.
pub struct Pool {
    wallet: Arc<VoucherWallet>,
    dialer: TlsDialer,
    stop: CancellationToken,
    slots: std::sync::RwLock<Vec<Arc<ProxySlot>>>,
}

/// One proxy link's state as listed under `proxies` by `/stats`.
#[derive(Serialize)]
pub struct SlotView {
    /// The proxy's address as dialed.
    pub address: String,
    /// Whether the link is up right now.
    pub connected: bool,
    /// The public key (hex) the proxy attested with, once connected.
    pub proxy_key: Option<String>,
    /// Requests using the link right now.
    pub in_flight: u32,
    /// Inference requests routed to this proxy.
    pub requests: u64,
    /// Requests that failed on this link before an answer.
    pub failures: u64,
    /// Successful connections since start.
    pub connects: u64,
    /// Why the link last went down or could not connect.
    pub last_error: Option<String>,
}

impl Pool {
    /// Starts one link task per proxy.
    pub fn start(
        addresses: &[String],
        dialer: TlsDialer,
        wallet: Arc<VoucherWallet>,
        stop: CancellationToken,
    ) -> Arc<Self> {
        let pool = Arc::new(Self { wallet, dialer, stop, slots: Default::default() });
        for a in addresses {
            pool.add(a);
        }
        pool
    }

    /// Adds a proxy and starts its link task, unless the pool has it already. Returns whether
    /// it was new.
    pub fn add(&self, address: &str) -> bool {
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        if slots.iter().any(|s| s.address == address) {
            return false;
        }
        let slot = Arc::new(ProxySlot::new(address.to_string()));
        slots.push(slot.clone());
        tokio::spawn(keep_linked(slot, self.dialer.clone(), self.wallet.clone(), self.stop.clone()));
        true
    }

    /// Every proxy slot, in the order they were added.
    pub fn slots(&self) -> Vec<Arc<ProxySlot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many proxies are connected right now.
    pub fn connected(&self) -> usize {
        self.slots().iter().filter(|s| s.connected.load(Relaxed)).count()
    }

    /// Picks a connected proxy not in `exclude`: the less busy of two random ones.
    pub fn pick(&self, exclude: &[usize]) -> Option<(usize, SendRequest<Body>, InFlight)> {
        let slots = self.slots();
        let up: Vec<(usize, SendRequest<Body>)> = slots
            .iter()
            .enumerate()
            .filter(|(i, _)| !exclude.contains(i))
            .filter_map(|(i, s)| s.sender().map(|send| (i, send)))
            .collect();
        let chosen = match up.len() {
            0 => return None,
            1 => 0,
            n => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let load = |k: usize| slots[up[k].0].in_flight.load(Relaxed);
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        };
        let (i, send) = up.into_iter().nth(chosen)?;
        let slot = slots[i].clone();
        slot.in_flight.fetch_add(1, Relaxed);
        slot.requests.fetch_add(1, Relaxed);
        Some((i, send, InFlight(slot)))
    }

    /// A specific proxy's link, if it is up (for requests that go to every proxy).
    pub fn pick_slot(&self, slot: &Arc<ProxySlot>) -> Option<(usize, SendRequest<Body>, InFlight)> {
        let i = self.slots().iter().position(|s| Arc::ptr_eq(s, slot))?;
        let send = slot.sender()?;
        slot.in_flight.fetch_add(1, Relaxed);
        Some((i, send, InFlight(slot.clone())))
    }

    /// Every proxy link's state, in the order they were added, for `/stats`.
    pub fn views(&self) -> Vec<SlotView> {
        self.slots()
            .iter()
            .map(|s| SlotView {
                address: s.address.clone(),
                connected: s.connected.load(Relaxed),
                proxy_key: lock(&s.proxy_key).clone(),
                in_flight: s.in_flight.load(Relaxed),
                requests: s.requests.load(Relaxed),
                failures: s.failures.load(Relaxed),
                connects: s.connects.load(Relaxed),
                last_error: lock(&s.last_error).clone(),
            })
            .collect()
    }
}

async fn keep_linked(slot: Arc<ProxySlot>, dialer: TlsDialer, wallet: Arc<VoucherWallet>, stop: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    loop {
        match connect(&slot, &dialer, &wallet).await {
            Ok(conn) => {
                backoff = MIN_BACKOFF;
                failures = 0;
                tokio::select! {
                    r = conn => {
                        let why = match r { Ok(Ok(())) => "proxy closed the link".to_string(), Ok(Err(e)) => e.to_string(), Err(e) => e.to_string() };
                        tracing::warn!(proxy = %slot.address, reason = %why, "proxy link lost; failing over to the others");
                        slot.set_down(why);
                    }
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(proxy = %slot.address, error = %e, failures, "cannot reach proxy; retrying");
                }
                slot.set_down(e);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

type ConnTask = tokio::task::JoinHandle<Result<(), hyper::Error>>;

async fn connect(slot: &ProxySlot, dialer: &TlsDialer, wallet: &Arc<VoucherWallet>) -> Result<ConnTask, String> {
    let (tls, peer) = dialer.dial(&slot.address).await.map_err(|e| e.to_string())?;
    // Our latest voucher from this proxy goes in the hello: a proxy whose books were rolled
    // back below it must refuse us (and stop) rather than charge us twice.
    let presented = wallet.open(&peer.public_key).map_err(|e| format!("voucher book: {e}"))?;
    let (mut send, conn) = h2_client(tls).await.map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    match send_hello(&mut send, "client", presented).await {
        Ok(ack) => {
            tokio::spawn(crate::payments::follow_vouchers(
                send.clone(),
                wallet.clone(),
                peer.public_key,
                slot.address.clone(),
            ));
            tracing::info!(proxy = %slot.address, proxy_key = %peer.public_key_hex(), version = ack.version, "connected to proxy");
            *lock(&slot.proxy_key) = Some(peer.public_key_hex());
            *lock(&slot.send) = Some(send);
            slot.connected.store(true, Relaxed);
            slot.connects.fetch_add(1, Relaxed);
            Ok(task)
        }
        Err(e) => {
            task.abort();
            Err(e.to_string())
        }
    }
}
