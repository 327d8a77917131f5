//! RA-TLS for cocoon: mutually authenticated TLS 1.3 whose self-signed
//! Ed25519 certificates carry remote attestation.
//!
//! * [`Identity`] owns a key and a short-lived certificate embedding
//!   [`Claims`] (role, public key, extras) and, if an [`Attester`] is set,
//!   [`Evidence`] — a quote whose report data is [`report_data`]`(claims)`,
//!   i.e. SHA-512 of the claims bytes, so the quote cannot be moved to
//!   another key.
//! * [`Policy`] decides which peers are accepted; it runs inside the rustls
//!   verifiers built by [`Identity::server_config`] / [`Identity::client_config`].
//! * [`peer_info`] tells the application who is on the other end.
//!
//! Attestation is pluggable ([`Attester`], [`EvidenceVerifier`]); only the
//! **insecure** simulated [`DevAttester`]/[`DevVerifier`] exist today.

mod attestation;
mod cert;
mod claims;
mod dev;
mod error;
mod hex_serde;
mod identity;
mod measurements;
mod peer;
mod policy;
mod role;
mod tls;

pub use attestation::{Attester, Evidence, EvidenceVerifier, TeeType, VerifiedEvidence};
pub use cert::{inspect_certificate, issue_certificate, CertContents, CLOCK_SKEW, OID_CLAIMS, OID_EVIDENCE};
pub use claims::{report_data, Claims, CLAIMS_VERSION};
pub use dev::{DevAttester, DevVerifier};
pub use error::{AttestError, RaTlsError};
pub use identity::{Identity, IdentityConfig, DEFAULT_VALIDITY, PEER_SERVER_NAME};
pub use measurements::{ImageHash, Measurements};
pub use peer::{peer_info, PeerInfo};
pub use policy::{Policy, PolicyConfig, PolicyKind};
pub use role::Role;
