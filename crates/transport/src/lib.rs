//! HTTP/2 over RA-TLS: how cocoon roles reach each other.
//!
//! Every link in the network is one TLS 1.3 connection (mutually attested, see `cocoon-ratls`)
//! carrying one HTTP/2 session. HTTP/2 gives us multiplexed streams, per-stream cancellation,
//! flow-control back-pressure, keep-alive pings and frame-size limits from a mature
//! implementation (hyper/h2) instead of a hand-rolled framing layer.
//!
//! The TCP direction and the HTTP/2 direction are independent: workers *dial* proxies (they
//! may sit behind NAT) but *serve* HTTP/2 on that connection, because the proxy is the one
//! sending them requests.

pub mod bind;
pub mod body;
pub mod coalesce;
pub mod conn;
pub mod exposure;
pub mod gather;
pub mod hello;
pub mod identity;
pub mod page_offset_buf;
pub mod policy;
pub mod pow;
pub mod relay;
pub mod tls;
pub mod token;

pub use bind::{bind, BindError};
pub use body::{empty, error_response, full, json_response, read_limited, read_within, Body, BoxError};
pub use conn::{h2_client, h2_server, link_io, LinkIo, H2};
pub use exposure::{is_loopback, is_loopback_host, Exposure};
pub use hello::{answer_hello, answer_hello_body, hello_response, send_hello, SOFTWARE};
pub use identity::{build_identity, AttestMode, AttestationConfig};
pub use policy::{build_policy, CollateralConfig, PeerPolicy, PolicyError, INTEL_PCS_URL};
pub use relay::{Observer, Relay};
pub use tls::{accept, dial, peer_uri, TlsDialer, PEER_NAME};
pub use token::{is_json, AccessToken};

/// Everything that can go wrong setting up or using a link.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("TLS handshake: {0}")]
    Tls(String),
    #[error("peer certificate: {0}")]
    Peer(#[from] cocoon_ratls::RaTlsError),
    #[error("HTTP/2: {0}")]
    Http(#[from] hyper::Error),
    #[error("hello: {0}")]
    Hello(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("body: {0}")]
    Body(BoxError),
    #[error(transparent)]
    Pow(#[from] pow::PowError),
}
