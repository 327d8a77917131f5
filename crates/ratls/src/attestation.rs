//! The attestation abstraction.
//!
//! The transport never looks inside a quote: an [`Attester`] turns 64 bytes
//! of report data into an opaque quote, and an [`EvidenceVerifier`] turns a
//! quote back into verified [`Measurements`] plus the report data it
//! commits to. Development uses [`crate::DevAttester`]/[`crate::DevVerifier`];
//! real TDX quotes plug in later as another implementation of these traits
//! without touching certificates, policies or TLS.
//!
//! The [`Evidence`] type is the content of the evidence certificate
//! extension ([`crate::OID_EVIDENCE`]): the JSON object
//! `{"tee":"dev","quote":"<hex>"}`.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::{AttestError, RaTlsError};
use crate::measurements::Measurements;

/// Kind of trusted execution environment that produced a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeeType {
    /// Simulated attestation. **Not a TEE; provides no security.**
    Dev,
    /// Intel TDX.
    Tdx,
}

impl TeeType {
    /// Lowercase name, as used in serde and `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            TeeType::Dev => "dev",
            TeeType::Tdx => "tdx",
        }
    }
}

impl fmt::Display for TeeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TeeType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" => Ok(TeeType::Dev),
            "tdx" => Ok(TeeType::Tdx),
            other => Err(format!("unknown tee type {other:?} (expected dev or tdx)")),
        }
    }
}

/// Produces quotes binding `report_data` to the current TEE's measurements.
pub trait Attester: Send + Sync + 'static {
    /// The TEE type of the produced quotes.
    fn tee_type(&self) -> TeeType;
    /// Produce a raw quote over `report_data`. May block (hardware/IPC).
    fn attest(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, AttestError>;
}

/// Verifies quotes of one TEE type.
pub trait EvidenceVerifier: Send + Sync + 'static {
    /// The TEE type this verifier understands.
    fn tee_type(&self) -> TeeType;
    /// Verify `quote` (signature, freshness of collateral at `now`, ...) and
    /// return what it attests to.
    fn verify(&self, quote: &[u8], now: SystemTime) -> Result<VerifiedEvidence, AttestError>;
}

/// What a verified quote attests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvidence {
    /// Measurements of the attested TD.
    pub measurements: Measurements,
    /// The 64 bytes of report data the quote commits to.
    pub report_data: [u8; 64],
}

/// Content of the evidence extension: which TEE produced `quote`.
///
/// Encoded as JSON `{"tee":"dev","quote":"<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Which verifier to use.
    pub tee: TeeType,
    /// The raw quote.
    #[serde(with = "crate::hex_serde::hexvec")]
    pub quote: Vec<u8>,
}

impl Evidence {
    /// Serialize as the evidence extension content.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing a struct of an enum and a string cannot fail")
    }

    /// Parse evidence extension content.
    pub fn decode(bytes: &[u8]) -> Result<Self, RaTlsError> {
        serde_json::from_slice(bytes).map_err(|e| RaTlsError::MalformedEvidence(e.to_string()))
    }
}
