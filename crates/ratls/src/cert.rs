//! RA-TLS certificates: issuing and parsing.
//!
//! An RA-TLS certificate is a self-signed Ed25519 X.509 leaf with two
//! **critical** private extensions:
//!
//! * [`OID_CLAIMS`] `1.3.6.1.4.1.59999.7.1` — the exact [`crate::Claims::encode`]
//!   bytes (JSON) as the extnValue octets;
//! * [`OID_EVIDENCE`] `1.3.6.1.4.1.59999.7.2` — optional, the
//!   [`crate::Evidence`] JSON `{"tee":"dev","quote":"<hex>"}`, whose quote
//!   commits to `SHA-512(claims bytes)` as report data.
//!
//! They are critical so that generic X.509 stacks (webpki, OpenSSL) refuse
//! these certificates instead of silently ignoring the attestation; that is
//! also why this module parses with `x509-parser` rather than webpki.
//! The arc `1.3.6.1.4.1.59999` is a private-enterprise placeholder used only
//! by this project.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair, SerialNumber};
use rustls::SignatureScheme;
use x509_parser::oid_registry::{
    OID_SIG_ED25519, OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
    OID_X509_EXT_SUBJECT_ALT_NAME,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::attestation::Evidence;
use crate::error::RaTlsError;

/// OID of the claims extension: `1.3.6.1.4.1.59999.7.1`.
pub const OID_CLAIMS: &[u64] = &[1, 3, 6, 1, 4, 1, 59999, 7, 1];
/// OID of the evidence extension: `1.3.6.1.4.1.59999.7.2`.
pub const OID_EVIDENCE: &[u64] = &[1, 3, 6, 1, 4, 1, 59999, 7, 2];

/// How far back `notBefore` is set, to tolerate clock skew between peers.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Issue a self-signed RA-TLS certificate.
///
/// `key_pem` is a PKCS#8 PEM Ed25519 key; `claims_bytes` is stored verbatim
/// (normally [`crate::Claims::encode`]). Exposed mostly for tests and tools;
/// [`crate::Identity`] is the normal way to obtain certificates.
pub fn issue_certificate(
    key_pem: &str,
    claims_bytes: &[u8],
    evidence: Option<&Evidence>,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, RaTlsError> {
    let key = load_key(key_pem)?;
    issue_with_key(&key, claims_bytes, evidence, not_before, not_after)
}

/// Load a PKCS#8 PEM key and insist that it is Ed25519.
pub(crate) fn load_key(key_pem: &str) -> Result<KeyPair, RaTlsError> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| RaTlsError::Key(e.to_string()))?;
    if key.algorithm() != &rcgen::PKCS_ED25519 {
        return Err(RaTlsError::Key("key is not Ed25519".into()));
    }
    Ok(key)
}

pub(crate) fn issue_with_key(
    key: &KeyPair,
    claims_bytes: &[u8],
    evidence: Option<&Evidence>,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, RaTlsError> {
    let gen_err = |e: rcgen::Error| RaTlsError::CertificateGeneration(e.to_string());
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "cocoon ra-tls");
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    // Random serial: rcgen's default derives it from the key, which would
    // make certificates issued by rotation within one second identical.
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    params.serial_number = Some(SerialNumber::from_slice(&serial));

    let mut claims_ext = CustomExtension::from_oid_content(OID_CLAIMS, claims_bytes.to_vec());
    claims_ext.set_criticality(true);
    params.custom_extensions.push(claims_ext);
    if let Some(ev) = evidence {
        let mut ev_ext = CustomExtension::from_oid_content(OID_EVIDENCE, ev.encode());
        ev_ext.set_criticality(true);
        params.custom_extensions.push(ev_ext);
    }
    let cert = params.self_signed(key).map_err(gen_err)?;
    Ok(cert.der().to_vec())
}

/// DER of `AlgorithmIdentifier { id-Ed25519 }` + `BIT STRING` header for a
/// 64-byte signature with no unused bits.
const ED25519_SIG_TAIL: [u8; 10] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x41, 0x00];

/// The parts of an RA-TLS certificate the policy needs, after structural
/// checks (Ed25519, valid self-signature, no unknown critical extension).
#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    pub public_key: [u8; 32],
    pub spki_der: Vec<u8>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub claims: Option<Vec<u8>>,
    pub evidence: Option<Vec<u8>>,
}

/// Critical extensions that rcgen may emit and that we understand well
/// enough to accept (they only restrict key use; we do not rely on them).
fn is_known_standard_extension(oid: &x509_parser::der_parser::Oid<'_>) -> bool {
    *oid == OID_X509_EXT_KEY_USAGE
        || *oid == OID_X509_EXT_BASIC_CONSTRAINTS
        || *oid == OID_X509_EXT_SUBJECT_ALT_NAME
        || *oid == OID_X509_EXT_EXTENDED_KEY_USAGE
}

fn oid_is(oid: &x509_parser::der_parser::Oid<'_>, arcs: &[u64]) -> bool {
    match oid.iter() {
        Some(it) => it.eq(arcs.iter().copied()),
        None => false,
    }
}

fn to_system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

/// Human-readable RFC 3339 time for error messages.
pub(crate) fn fmt_time(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| format!("{dt}"))
}

/// Verify a raw Ed25519 signature with the ring provider's algorithm.
pub(crate) fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let provider = rustls::crypto::ring::default_provider();
    provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == SignatureScheme::ED25519)
        .and_then(|(_, algs)| algs.first())
        .is_some_and(|alg| alg.verify_signature(public_key, message, signature).is_ok())
}

/// Parse and structurally validate an RA-TLS certificate (no time or policy
/// checks).
pub(crate) fn parse_cert(der: &[u8]) -> Result<ParsedCert, RaTlsError> {
    let malformed = |e: String| RaTlsError::MalformedCertificate(e);
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} trailing bytes", rest.len())));
    }
    let tbs = &cert.tbs_certificate;
    let spki = tbs.subject_pki.clone();
    if spki.algorithm.algorithm != OID_SIG_ED25519 || spki.algorithm.parameters.is_some() {
        return Err(RaTlsError::NotEd25519("public key"));
    }
    if cert.signature_algorithm.algorithm != OID_SIG_ED25519 || tbs.signature.algorithm != OID_SIG_ED25519 {
        return Err(RaTlsError::NotEd25519("signature"));
    }
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    let public_key: [u8; 32] =
        key_bytes.try_into().map_err(|_| malformed(format!("Ed25519 key is {} bytes, not 32", key_bytes.len())))?;
    if spki.subject_public_key.unused_bits != 0 || cert.signature_value.unused_bits != 0 {
        return Err(malformed("bit string with unused bits".into()));
    }
    // The outer signatureAlgorithm is not covered by the signature; x509-parser
    // is lenient about its encoding, so insist on the exact DER of
    // `AlgorithmIdentifier{ed25519}` followed by a 64-byte BIT STRING.
    let sig_len = cert.signature_value.data.len();
    let tail_ok = sig_len == 64
        && der.len() >= ED25519_SIG_TAIL.len() + 64
        && der[der.len() - 64 - ED25519_SIG_TAIL.len()..der.len() - 64] == ED25519_SIG_TAIL;
    if !tail_ok {
        return Err(malformed("non-canonical Ed25519 signature encoding".into()));
    }
    if !ed25519_verify(&public_key, tbs.as_ref(), &cert.signature_value.data) {
        return Err(RaTlsError::BadSelfSignature);
    }

    let mut claims = None;
    let mut evidence = None;
    let mut seen: Vec<String> = Vec::new();
    for ext in cert.extensions() {
        let id = ext.oid.to_id_string();
        if seen.contains(&id) {
            return Err(RaTlsError::DuplicateExtension(id));
        }
        seen.push(id.clone());
        if oid_is(&ext.oid, OID_CLAIMS) {
            claims = Some(ext.value.to_vec());
        } else if oid_is(&ext.oid, OID_EVIDENCE) {
            evidence = Some(ext.value.to_vec());
        } else if ext.critical && !is_known_standard_extension(&ext.oid) {
            return Err(RaTlsError::UnknownCriticalExtension(id));
        }
    }

    Ok(ParsedCert {
        public_key,
        spki_der: spki.raw.to_vec(),
        not_before: to_system_time(tbs.validity.not_before.timestamp()),
        not_after: to_system_time(tbs.validity.not_after.timestamp()),
        claims,
        evidence,
    })
}

/// What an RA-TLS certificate carries, after the structural checks only (no time, policy or
/// attestation verification): for tools that show a certificate (`cocoon attest show`).
#[derive(Debug, Clone)]
pub struct CertContents {
    /// The certificate's Ed25519 public key (the peer's TLS key).
    pub public_key: [u8; 32],
    /// Start of the certificate's validity window.
    pub not_before: SystemTime,
    /// End of the certificate's validity window.
    pub not_after: SystemTime,
    /// The claims, decoded.
    pub claims: Option<crate::claims::Claims>,
    /// The claims as signed; an attested quote's report data must be their SHA-512.
    pub claims_bytes: Option<Vec<u8>>,
    /// The attestation evidence (TEE type and quote), decoded; `None` in an unattested certificate.
    pub evidence: Option<crate::attestation::Evidence>,
}

/// Parses an RA-TLS certificate (DER) for display; see [`CertContents`].
pub fn inspect_certificate(der: &[u8]) -> Result<CertContents, RaTlsError> {
    let p = parse_cert(der)?;
    let claims = p.claims.as_deref().map(crate::claims::Claims::decode).transpose()?;
    let evidence = p.evidence.as_deref().map(crate::attestation::Evidence::decode).transpose()?;
    Ok(CertContents {
        public_key: p.public_key,
        not_before: p.not_before,
        not_after: p.not_after,
        claims,
        claims_bytes: p.claims,
        evidence,
    })
}
