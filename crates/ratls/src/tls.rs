//! rustls glue: certificate verifiers and resolvers for RA-TLS.
//!
//! webpki cannot be used anywhere on the RA-TLS path because it refuses our
//! critical private extensions. Hence:
//!
//! * [`PeerVerifier`] implements both `ServerCertVerifier` and
//!   `ClientCertVerifier` by running [`Policy::check`] (x509-parser based),
//!   and verifies the TLS 1.3 handshake signature against the raw SPKI;
//! * [`CurrentCert`] implements `ResolvesServerCert`/`ResolvesClientCert`
//!   from a `CertifiedKey` built by hand (instead of `with_single_cert`,
//!   which would parse with webpki), re-read on every handshake so
//!   [`crate::Identity::rotate`] takes effect immediately.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};

use crate::cert::parse_cert;
use crate::error::RaTlsError;
use crate::policy::{log_refusal, Policy};

/// The crypto provider used for every RA-TLS config (ring).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cert_error(err: RaTlsError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))))
}

/// Verifies peer certificates with a [`Policy`].
#[derive(Debug)]
pub(crate) struct PeerVerifier {
    policy: Arc<Policy>,
    provider: Arc<CryptoProvider>,
}

impl PeerVerifier {
    pub(crate) fn new(policy: Arc<Policy>, provider: Arc<CryptoProvider>) -> Self {
        PeerVerifier { policy, provider }
    }

    fn verify_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        if !intermediates.is_empty() {
            let err = RaTlsError::UnexpectedChain(intermediates.len() + 1);
            log_refusal(None, &err);
            return Err(cert_error(err));
        }
        let now = UNIX_EPOCH + Duration::from_secs(now.as_secs());
        self.policy.check(end_entity.as_ref(), now).map(|_| ()).map_err(cert_error)
    }

    fn verify_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        let parsed = parse_cert(cert.as_ref()).map_err(cert_error)?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(parsed.spki_der.as_slice()),
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn tls12_refused() -> rustls::Error {
        rustls::Error::General("RA-TLS never negotiates TLS 1.2".into())
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_cert(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify_cert(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The current certificate + key, swapped atomically on rotation.
#[derive(Clone)]
pub(crate) struct CurrentCert {
    slot: Arc<RwLock<Arc<CertifiedKey>>>,
}

impl fmt::Debug for CurrentCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentCert")
    }
}

impl CurrentCert {
    pub(crate) fn new(key: CertifiedKey) -> Self {
        CurrentCert { slot: Arc::new(RwLock::new(Arc::new(key))) }
    }

    pub(crate) fn get(&self) -> Arc<CertifiedKey> {
        // A poisoned lock still holds a complete Arc: keep serving it.
        self.slot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set(&self, key: CertifiedKey) {
        *self.slot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }
}

impl rustls::server::ResolvesServerCert for CurrentCert {
    fn resolve(&self, _client_hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

impl rustls::client::ResolvesClientCert for CurrentCert {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Build the RA-TLS server config (TLS 1.3 only, mandatory client auth,
/// no resumption).
pub(crate) fn server_config(current: CurrentCert, policy: Arc<Policy>) -> Result<rustls::ServerConfig, RaTlsError> {
    let provider = provider();
    let verifier = Arc::new(PeerVerifier::new(policy, provider.clone()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(current));
    // Resumption would skip the verifier (and the policy) on reconnect.
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    Ok(cfg)
}

/// Build the RA-TLS client config (TLS 1.3 only, client cert, no
/// resumption). Any server name works; the verifier ignores it.
pub(crate) fn client_config(current: CurrentCert, policy: Arc<Policy>) -> Result<rustls::ClientConfig, RaTlsError> {
    let provider = provider();
    let verifier = Arc::new(PeerVerifier::new(policy, provider.clone()));
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(current));
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(cfg)
}
