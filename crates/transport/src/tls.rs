//! Dialing and accepting RA-TLS connections, with timeouts, returning the verified peer.

use crate::pow;
use crate::TransportError;
use cocoon_ratls::PeerInfo;
use rustls::pki_types::ServerName;
use std::{sync::Arc, time::Duration};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

/// The TCP stream under every TLS link, read through a buffer. rustls asks its reader for
/// 4 KiB at a time, so a 16 KiB streamed answer took four `recvfrom` calls at each hop; through
/// the buffer it takes one. Writes pass straight through.
pub type LinkTcp = BufReader<TcpStream>;

/// Bytes read from a link's socket at once (one buffer per link, for its lifetime).
pub const LINK_READ_BUFFER: usize = 32 * 1024;

/// `tcp` as a link's TLS layer reads it (see [`LinkTcp`]).
fn link_tcp(tcp: TcpStream) -> LinkTcp {
    BufReader::with_capacity(LINK_READ_BUFFER, tcp)
}

/// The server name every peer uses in its handshake; RA-TLS identities come from the attested
/// certificate, not from DNS, so the name is fixed and ignored by the verifiers.
pub const PEER_NAME: &str = "cocoon.peer";

/// The URI of a protocol path on the peer at the other end of a link.
pub fn peer_uri(path: &'static str) -> http::Uri {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(http::uri::Scheme::HTTPS);
    parts.authority = Some(http::uri::Authority::from_static(PEER_NAME));
    parts.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
    http::Uri::from_parts(parts).unwrap_or_default()
}

/// Dials proxies with a (rotating) RA-TLS client configuration.
#[derive(Clone)]
pub struct TlsDialer {
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
    max_pow: u8,
}

impl TlsDialer {
    /// A dialer using `config` for every handshake, giving up on a dial after `timeout`, and
    /// paying proxies' proof-of-work challenges up to [`pow::DEFAULT_MAX_DIFFICULTY`] bits.
    pub fn new(config: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        Self { config, timeout, max_pow: pow::DEFAULT_MAX_DIFFICULTY }
    }

    /// The highest proof-of-work difficulty this dialer pays; a proxy asking more is refused.
    pub fn with_max_pow(mut self, bits: u8) -> Self {
        self.max_pow = bits;
        self
    }

    /// Connects to `addr`, pays its proof of work and completes the RA-TLS handshake, within
    /// the dialer's timeout (see [`dial`]).
    pub async fn dial(&self, addr: &str) -> Result<(client::TlsStream<LinkTcp>, PeerInfo), TransportError> {
        dial(addr, self.config.clone(), self.timeout, self.max_pow).await
    }
}

/// Connects to `addr`, answers the proxy's proof-of-work challenge (refusing one above
/// `max_pow` bits) and completes the TLS handshake (the peer is verified by the config's
/// RA-TLS verifier). Returns the stream and what the peer's certificate attests.
pub async fn dial(
    addr: &str,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
    max_pow: u8,
) -> Result<(client::TlsStream<LinkTcp>, PeerInfo), TransportError> {
    let fut = async {
        let mut tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| TransportError::Connect { addr: addr.to_string(), source })?;
        let _ = tcp.set_nodelay(true);
        pow::answer(&mut tcp, max_pow, timeout).await?;
        let name = ServerName::try_from(PEER_NAME).map_err(|e| TransportError::Hello(e.to_string()))?;
        let tls = TlsConnector::from(config).connect(name, link_tcp(tcp)).await.map_err(tls_error)?;
        let certs = tls.get_ref().1.peer_certificates().unwrap_or(&[]);
        let peer = cocoon_ratls::peer_info(certs)?;
        Ok((tls, peer))
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| TransportError::Timeout(timeout))?
}

/// Completes the server side of the TLS handshake on an accepted TCP connection.
/// First the dialer must solve a proof-of-work challenge of `pow_difficulty` bits (one hash
/// for us to check), so a flood of dialers costs them more than us.
pub async fn accept(
    mut tcp: TcpStream,
    acceptor: &TlsAcceptor,
    timeout: Duration,
    pow_difficulty: u8,
) -> Result<(server::TlsStream<LinkTcp>, PeerInfo), TransportError> {
    let _ = tcp.set_nodelay(true);
    let fut = async {
        pow::challenge(&mut tcp, pow_difficulty, timeout).await?;
        let tls = acceptor.accept(link_tcp(tcp)).await.map_err(tls_error)?;
        let certs = tls.get_ref().1.peer_certificates().unwrap_or(&[]);
        let peer = cocoon_ratls::peer_info(certs)?;
        Ok((tls, peer))
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| TransportError::Timeout(timeout))?
}

/// Turns a failed handshake into an error that says why, in our words: when our RA-TLS
/// verifier refused the peer, its reason (e.g. "image hash ... is not in the allowlist").
fn tls_error(e: std::io::Error) -> TransportError {
    let reason = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).map(|tls| match tls {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            match other.0.downcast_ref::<cocoon_ratls::RaTlsError>() {
                Some(ours) => format!("peer certificate refused: {ours}"),
                None => tls.to_string(),
            }
        }
        other => other.to_string(),
    });
    TransportError::Tls(reason.unwrap_or_else(|| e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_uri_names_the_fixed_peer() {
        let uri = super::peer_uri(cocoon_proto::path::INFER);
        assert_eq!(uri.to_string(), "https://cocoon.peer/cocoon/v1/infer");
        assert_eq!(uri.path(), cocoon_proto::path::INFER);
    }
}
