//! A party's RA-TLS identity: a long-lived Ed25519 key plus a short-lived,
//! freshly attested certificate.
//!
//! The key is the stable identity (peers may pin it); the certificate is
//! re-issued with a new quote by [`Identity::rotate`] — periodically via
//! [`Identity::spawn_rotation`] — and every TLS config built from the
//! identity picks up the new certificate on its next handshake.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rcgen::KeyPair;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SigningKey};

use crate::attestation::{Attester, Evidence};
use crate::cert::{issue_with_key, load_key, CLOCK_SKEW};
use crate::claims::{report_data, Claims};
use crate::error::RaTlsError;
use crate::policy::Policy;
use crate::role::Role;
use crate::tls::{self, CurrentCert};

/// Server name clients pass to rustls; the RA-TLS verifier ignores it.
pub const PEER_SERVER_NAME: &str = "cocoon.peer";

/// Default certificate validity.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);

/// How to build an [`Identity`].
#[derive(Clone)]
pub struct IdentityConfig {
    /// Role claimed in the certificate.
    pub role: Role,
    /// Attestation backend; `None` = no evidence (only "any" peers accept it).
    pub attester: Option<Arc<dyn Attester>>,
    /// Certificate lifetime (default 24h).
    pub validity: Duration,
    /// Extra free-form claims.
    pub extra_claims: BTreeMap<String, String>,
    /// PKCS#8 PEM Ed25519 key; `None` = generate a fresh key.
    pub key_pem: Option<String>,
}

impl IdentityConfig {
    /// Defaults: no attester, 24h validity, no extras, fresh key.
    pub fn new(role: Role) -> Self {
        IdentityConfig {
            role,
            attester: None,
            validity: DEFAULT_VALIDITY,
            extra_claims: BTreeMap::new(),
            key_pem: None,
        }
    }

    /// Set the attester.
    pub fn with_attester(mut self, attester: Arc<dyn Attester>) -> Self {
        self.attester = Some(attester);
        self
    }
}

impl fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("role", &self.role)
            .field("attester", &self.attester.as_ref().map(|a| a.tee_type()))
            .field("validity", &self.validity)
            .field("extra_claims", &self.extra_claims)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

struct Inner {
    role: Role,
    key_pair: KeyPair,
    public_key: [u8; 32],
    signing_key: Arc<dyn SigningKey>,
    attester: Option<Arc<dyn Attester>>,
    validity: Duration,
    extra: BTreeMap<String, String>,
    current: CurrentCert,
    issued_at: Mutex<Instant>,
    /// Serializes rotations so two never interleave.
    rotating: Mutex<()>,
}

/// An RA-TLS identity (cheap to clone; clones share key and certificate).
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("role", &self.inner.role)
            .field("public_key", &hex::encode(self.inner.public_key))
            .finish()
    }
}

impl Identity {
    /// Generate (or load) the key and issue the first certificate.
    pub fn new(cfg: IdentityConfig) -> Result<Self, RaTlsError> {
        let key_pair = match &cfg.key_pem {
            Some(pem) => load_key(pem)?,
            None => KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| RaTlsError::Key(e.to_string()))?,
        };
        let public_key: [u8; 32] = key_pair
            .public_key_raw()
            .try_into()
            .map_err(|_| RaTlsError::Key("Ed25519 public key is not 32 bytes".into()))?;
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let signing_key =
            tls::provider().key_provider.load_private_key(pkcs8).map_err(|e| RaTlsError::Key(e.to_string()))?;
        if cfg.validity.is_zero() {
            return Err(RaTlsError::CertificateGeneration("validity must be > 0".into()));
        }
        let cert = issue(&key_pair, cfg.role, &public_key, &cfg.extra_claims, cfg.attester.as_deref(), cfg.validity)?;
        let current = CurrentCert::new(CertifiedKey::new(vec![CertificateDer::from(cert)], signing_key.clone()));
        Ok(Identity {
            inner: Arc::new(Inner {
                role: cfg.role,
                key_pair,
                public_key,
                signing_key,
                attester: cfg.attester,
                validity: cfg.validity,
                extra: cfg.extra_claims,
                current,
                issued_at: Mutex::new(Instant::now()),
                rotating: Mutex::new(()),
            }),
        })
    }

    /// The role claimed by this identity.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// Raw Ed25519 public key (stable across rotations).
    pub fn public_key(&self) -> [u8; 32] {
        self.inner.public_key
    }

    /// The public key in hex: this node's identity in logs, stats and worker ids.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// The private key as PKCS#8 PEM (persist it to keep the identity).
    pub fn key_pem(&self) -> String {
        self.inner.key_pair.serialize_pem()
    }

    /// The private key as PKCS#8 DER, for signing with the same key outside TLS (vouchers).
    pub fn key_pkcs8_der(&self) -> Vec<u8> {
        self.inner.key_pair.serialize_der()
    }

    /// Re-issue the certificate with a fresh quote, keeping the key.
    pub fn rotate(&self) -> Result<(), RaTlsError> {
        let inner = &self.inner;
        let _guard = inner.rotating.lock().unwrap_or_else(|e| e.into_inner());
        let cert = issue(
            &inner.key_pair,
            inner.role,
            &inner.public_key,
            &inner.extra,
            inner.attester.as_deref(),
            inner.validity,
        )?;
        inner.current.set(CertifiedKey::new(vec![CertificateDer::from(cert)], inner.signing_key.clone()));
        *inner.issued_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// DER of the current certificate.
    pub fn cert_der(&self) -> Vec<u8> {
        self.inner.current.get().cert.first().map(|c| c.as_ref().to_vec()).unwrap_or_default()
    }

    /// Spawn a task (on the current tokio runtime; panics outside one) that
    /// rotates the certificate at ~2/3 of its validity, retrying failures
    /// with a short backoff and logging every error. The task keeps the
    /// identity alive and runs until the returned handle is aborted.
    pub fn spawn_rotation(&self) -> tokio::task::JoinHandle<()> {
        let id = self.clone();
        let validity = self.inner.validity;
        let period = validity.mul_f64(2.0 / 3.0).max(Duration::from_secs(1));
        let retry = (validity / 20).clamp(Duration::from_secs(1), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                let wait = if failing {
                    retry
                } else {
                    let issued = *id.inner.issued_at.lock().unwrap_or_else(|e| e.into_inner());
                    (issued + period).saturating_duration_since(Instant::now())
                };
                tokio::time::sleep(wait).await;
                let rotating = id.clone();
                match tokio::task::spawn_blocking(move || rotating.rotate()).await {
                    Ok(Ok(())) => {
                        failing = false;
                        tracing::info!(public_key = %hex::encode(id.public_key()), "RA-TLS certificate rotated");
                    }
                    Ok(Err(e)) => {
                        failing = true;
                        tracing::error!(error = %e, retry_in = ?retry, "RA-TLS certificate rotation failed");
                    }
                    Err(e) => {
                        failing = true;
                        tracing::error!(error = %e, retry_in = ?retry, "RA-TLS certificate rotation task failed");
                    }
                }
            }
        })
    }

    /// TLS 1.3 server config: presents this identity, requires a client
    /// certificate accepted by `policy`, resumption disabled.
    pub fn server_config(&self, policy: Arc<Policy>) -> Result<rustls::ServerConfig, RaTlsError> {
        tls::server_config(self.inner.current.clone(), policy)
    }

    /// TLS 1.3 client config: presents this identity, requires a server
    /// certificate accepted by `policy`, resumption disabled. Connect with
    /// any server name, e.g. [`PEER_SERVER_NAME`].
    pub fn client_config(&self, policy: Arc<Policy>) -> Result<rustls::ClientConfig, RaTlsError> {
        tls::client_config(self.inner.current.clone(), policy)
    }
}

fn issue(
    key_pair: &KeyPair,
    role: Role,
    public_key: &[u8; 32],
    extra: &BTreeMap<String, String>,
    attester: Option<&dyn Attester>,
    validity: Duration,
) -> Result<Vec<u8>, RaTlsError> {
    let claims_bytes = Claims::new(role, *public_key, extra.clone()).encode();
    let evidence = match attester {
        Some(a) => Some(Evidence { tee: a.tee_type(), quote: a.attest(&report_data(&claims_bytes))? }),
        None => None,
    };
    let now = SystemTime::now();
    issue_with_key(key_pair, &claims_bytes, evidence.as_ref(), now - CLOCK_SKEW, now + validity)
}
