//! Error types.
//!
//! Every refusal of a peer must tell the operator *exactly* why, so each
//! failure mode of the RA-TLS check has its own variant with a precise
//! message instead of a generic "bad certificate".

use crate::attestation::TeeType;
use crate::measurements::ImageHash;
use crate::role::Role;

/// Errors produced by attestation backends ([`crate::Attester`] and
/// [`crate::EvidenceVerifier`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// The quote could not be parsed (wrong length, bad encoding, ...).
    #[error("malformed quote: {0}")]
    Malformed(String),
    /// The quote parsed but failed verification (signature, collateral, TCB, ...).
    #[error("quote verification failed: {0}")]
    Invalid(String),
    /// The attestation backend could not produce a quote.
    #[error("attestation unavailable: {0}")]
    Unavailable(String),
}

/// Errors produced while issuing certificates, building TLS configurations
/// or checking a peer certificate against a [`crate::Policy`].
#[derive(Debug, thiserror::Error)]
pub enum RaTlsError {
    /// The peer sent no certificate at all.
    #[error("peer presented no certificate")]
    NoCertificate,
    /// RA-TLS certificates are self-signed leaves; chains are refused.
    #[error("expected exactly one self-signed certificate, got {0}")]
    UnexpectedChain(usize),
    /// DER/X.509 parsing failed.
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    /// Only Ed25519 keys and signatures are accepted.
    #[error("certificate {0} is not Ed25519")]
    NotEd25519(&'static str),
    /// The certificate's self-signature does not verify with its own key.
    #[error("certificate self-signature is invalid")]
    BadSelfSignature,
    /// `now` is before the certificate's notBefore.
    #[error("certificate is not valid before {0}")]
    NotYetValid(String),
    /// `now` is after the certificate's notAfter.
    #[error("certificate expired at {0}")]
    Expired(String),
    /// A critical extension we do not understand (RFC 5280: must refuse).
    #[error("unknown critical extension {0}")]
    UnknownCriticalExtension(String),
    /// An extension appears more than once.
    #[error("duplicate extension {0}")]
    DuplicateExtension(String),
    /// The claims extension is absent.
    #[error("no claims extension in certificate")]
    MissingClaims,
    /// The claims extension could not be decoded.
    #[error("malformed claims: {0}")]
    MalformedClaims(String),
    /// The claims were produced by an incompatible version.
    #[error("unsupported claims version {0}")]
    UnsupportedClaimsVersion(u32),
    /// The claims name another key than the certificate's.
    #[error("claims public key {claims} does not match certificate key {cert}")]
    KeyMismatch {
        /// Key named in the claims (hex).
        claims: String,
        /// Key of the certificate (hex).
        cert: String,
    },
    /// The peer's role is not the one the policy expects.
    #[error("peer role {got}, expected {expected}")]
    RoleMismatch {
        /// Role the peer claims.
        got: Role,
        /// Role the policy requires.
        expected: Role,
    },
    /// The policy requires attestation evidence and there is none.
    #[error("no attestation in certificate (policy {0} requires one)")]
    MissingEvidence(String),
    /// The evidence extension could not be decoded.
    #[error("malformed evidence: {0}")]
    MalformedEvidence(String),
    /// This node cannot produce the attestation it is configured for (e.g. no TDX here).
    #[error("{0}")]
    AttesterUnavailable(String),
    /// The policy requires a real TEE and the peer presented another kind of evidence.
    #[error("policy {policy} refuses {got} attestation")]
    WrongTee {
        /// What the peer presented.
        got: TeeType,
        /// The policy kind that refused it.
        policy: String,
    },
    /// No verifier is registered for the evidence's TEE type.
    #[error("no verifier registered for tee type {0}")]
    NoVerifier(TeeType),
    /// The evidence verifier refused the quote.
    #[error("attestation verification failed: {0}")]
    Attestation(#[from] AttestError),
    /// The quote's report data is not bound to this certificate's claims.
    #[error("report data does not match SHA-512 of the certificate claims")]
    ReportDataMismatch,
    /// The attested image is not on the policy's allowlist.
    #[error("image hash {0} is not in the allowlist")]
    ImageNotAllowed(ImageHash),
    /// Key generation / loading failed.
    #[error("key error: {0}")]
    Key(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    CertificateGeneration(String),
    /// rustls refused the configuration.
    #[error("TLS configuration error: {0}")]
    Tls(#[from] rustls::Error),
}
