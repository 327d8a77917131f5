//! Shared helpers for the RA-TLS integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cocoon_ratls::{
    DevAttester, Identity, IdentityConfig, Measurements, Policy, PolicyConfig, PolicyKind, Role, PEER_SERVER_NAME,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `warn` and above to the test output; safe to call from every test.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
}

/// Measurements distinct from `Measurements::dev_default()`.
pub fn other_measurements() -> Measurements {
    let mut m = Measurements::dev_default();
    m.mrtd[0] ^= 0xff;
    m
}

/// An identity for `role` attested by the dev attester with the default dev measurements.
pub fn dev_identity(role: Role) -> Identity {
    dev_identity_with(role, Measurements::dev_default())
}

/// An identity for `role` attested by the dev attester with measurements `m`.
pub fn dev_identity_with(role: Role, m: Measurements) -> Identity {
    let cfg = IdentityConfig::new(role).with_attester(Arc::new(DevAttester::new(m)));
    Identity::new(cfg).expect("identity")
}

/// An identity for `role` with no attester: its certificate carries no evidence.
pub fn plain_identity(role: Role) -> Identity {
    Identity::new(IdentityConfig::new(role)).expect("identity")
}

/// A policy of `kind` with no allowlist and no role requirement.
pub fn policy(kind: PolicyKind) -> Arc<Policy> {
    Arc::new(Policy::new(PolicyConfig::new(kind)))
}

/// Peer certificates seen by each side of a successful handshake.
pub struct Handshake {
    /// What the client saw of the server.
    pub server_certs: Vec<CertificateDer<'static>>,
    /// What the server saw of the client.
    pub client_certs: Vec<CertificateDer<'static>>,
}

/// Run a full handshake plus one round trip over an in-memory pipe.
/// Errors if either side fails.
pub async fn handshake(server: rustls::ServerConfig, client: rustls::ClientConfig) -> Result<Handshake, String> {
    let (c_io, s_io) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from(PEER_SERVER_NAME).expect("server name");

    let server_side = async move {
        let mut s = acceptor.accept(s_io).await.map_err(|e| format!("server: {e}"))?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.map_err(|e| format!("server read: {e}"))?;
        s.write_all(b"pong").await.map_err(|e| format!("server write: {e}"))?;
        s.flush().await.map_err(|e| format!("server flush: {e}"))?;
        let certs = s.get_ref().1.peer_certificates().map(|c| c.to_vec()).unwrap_or_default();
        Ok::<_, String>(certs)
    };
    let client_side = async move {
        let mut c = connector.connect(name, c_io).await.map_err(|e| format!("client: {e}"))?;
        c.write_all(b"ping").await.map_err(|e| format!("client write: {e}"))?;
        c.flush().await.map_err(|e| format!("client flush: {e}"))?;
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.map_err(|e| format!("client read: {e}"))?;
        if &buf != b"pong" {
            return Err("client got wrong reply".to_owned());
        }
        let certs = c.get_ref().1.peer_certificates().map(|c| c.to_vec()).unwrap_or_default();
        Ok::<_, String>(certs)
    };
    let both = async { tokio::join!(server_side, client_side) };
    let (s, c) =
        tokio::time::timeout(Duration::from_secs(10), both).await.map_err(|_| "handshake timed out".to_owned())?;
    match (s, c) {
        (Ok(client_certs), Ok(server_certs)) => Ok(Handshake { server_certs, client_certs }),
        (s, c) => Err(format!("server: {:?}; client: {:?}", s.err(), c.err())),
    }
}
