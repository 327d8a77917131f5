//! Claims: what a certificate says about its holder, bound into the quote.
//!
//! The claims (role, public key, free-form extras) are stored verbatim in the
//! claims extension ([`crate::OID_CLAIMS`]); the quote's report data is
//! `SHA-512(claims bytes)`. Because the claims contain the certificate's
//! public key, a quote cannot be replayed in a certificate for another key.
//! Verifiers hash the bytes *as stored*, never a re-encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::error::RaTlsError;
use crate::role::Role;

/// Current claims format version.
pub const CLAIMS_VERSION: u32 = 1;

/// Claims carried in an RA-TLS certificate.
///
/// Encoded as JSON with fields in declaration order
/// (`version`, `role`, `public_key` as hex, `extra` sorted by key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Format version; currently [`CLAIMS_VERSION`].
    pub version: u32,
    /// Role of the certificate holder.
    pub role: Role,
    /// Raw Ed25519 public key of the certificate (hex in JSON).
    #[serde(with = "crate::hex_serde::hex32")]
    pub public_key: [u8; 32],
    /// Free-form application claims (e.g. model name).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

impl Claims {
    /// Claims of the current version.
    pub fn new(role: Role, public_key: [u8; 32], extra: BTreeMap<String, String>) -> Self {
        Claims { version: CLAIMS_VERSION, role, public_key, extra }
    }

    /// Canonical encoding (JSON, fixed field order).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing claims (strings and integers) cannot fail")
    }

    /// Decode claims; rejects unknown fields and unsupported versions.
    pub fn decode(bytes: &[u8]) -> Result<Self, RaTlsError> {
        let c: Claims = serde_json::from_slice(bytes).map_err(|e| RaTlsError::MalformedClaims(e.to_string()))?;
        if c.version != CLAIMS_VERSION {
            return Err(RaTlsError::UnsupportedClaimsVersion(c.version));
        }
        Ok(c)
    }
}

/// The report data binding a quote to claims: `SHA-512(claims_bytes)`.
pub fn report_data(claims_bytes: &[u8]) -> [u8; 64] {
    Sha512::digest(claims_bytes).into()
}
