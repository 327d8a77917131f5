//! What we learned about the peer of an RA-TLS connection.
//!
//! [`peer_info`] re-reads the peer certificate of an already established
//! connection (whose certificate the [`crate::Policy`] verified during the
//! handshake) so application code can authorize by key, role or image.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;

use crate::attestation::Evidence;
use crate::attestation::{EvidenceVerifier, TeeType};
use crate::cert::parse_cert;
use crate::claims::{report_data, Claims};
use crate::dev::DevVerifier;
use crate::error::RaTlsError;
use crate::measurements::{ImageHash, Measurements};
use crate::role::Role;

/// Identity and attestation of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Role from the peer's claims.
    pub role: Role,
    /// The peer's Ed25519 public key (its stable identity across rotations).
    pub public_key: [u8; 32],
    /// TEE type of the peer's evidence, if it was attested.
    pub tee: Option<TeeType>,
    /// Attested measurements, if known.
    pub measurements: Option<Measurements>,
    /// `measurements.image_hash()`, if known.
    pub image_hash: Option<ImageHash>,
    /// Free-form claims.
    pub extra: BTreeMap<String, String>,
    /// When the peer's certificate expires.
    pub not_after: SystemTime,
}

impl PeerInfo {
    /// The public key as lowercase hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key)
    }
}

/// Extract [`PeerInfo`] from a connection's `peer_certificates()`.
///
/// This parses and structurally checks the certificate (Ed25519,
/// self-signature, claims bound to the key) but applies **no policy** and
/// no time check: call it only on a connection whose handshake the
/// [`crate::Policy`] verified, or use [`crate::Policy::check`] instead.
///
/// Measurements are reported for `dev` evidence whose report data matches
/// the claims; for other TEE types `tee` is set but `measurements` is
/// `None` (decoding them needs the verifier — use [`crate::Policy::check`]).
pub fn peer_info(certs: &[CertificateDer<'_>]) -> Result<PeerInfo, RaTlsError> {
    let cert = match certs {
        [] => return Err(RaTlsError::NoCertificate),
        [one] => one,
        more => return Err(RaTlsError::UnexpectedChain(more.len())),
    };
    let parsed = parse_cert(cert.as_ref())?;
    let claims_bytes = parsed.claims.as_deref().ok_or(RaTlsError::MissingClaims)?;
    let claims = Claims::decode(claims_bytes)?;
    check_key(&claims, &parsed.public_key)?;

    let mut tee = None;
    let mut measurements = None;
    if let Some(ev) = parsed.evidence.as_deref() {
        let ev = Evidence::decode(ev)?;
        tee = Some(ev.tee);
        if ev.tee == TeeType::Dev {
            let verified = DevVerifier.verify(&ev.quote, UNIX_EPOCH)?;
            if verified.report_data == report_data(claims_bytes) {
                measurements = Some(verified.measurements);
            }
        }
    }
    Ok(build(claims, tee, measurements, parsed.not_after))
}

/// The claims must name the certificate's own key.
pub(crate) fn check_key(claims: &Claims, cert_key: &[u8; 32]) -> Result<(), RaTlsError> {
    if &claims.public_key != cert_key {
        return Err(RaTlsError::KeyMismatch { claims: hex::encode(claims.public_key), cert: hex::encode(cert_key) });
    }
    Ok(())
}

pub(crate) fn build(
    claims: Claims,
    tee: Option<TeeType>,
    measurements: Option<Measurements>,
    not_after: SystemTime,
) -> PeerInfo {
    PeerInfo {
        role: claims.role,
        public_key: claims.public_key,
        tee,
        image_hash: measurements.as_ref().map(Measurements::image_hash),
        measurements,
        extra: claims.extra,
        not_after,
    }
}
