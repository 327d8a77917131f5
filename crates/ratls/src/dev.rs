//! Simulated ("dev") attestation for machines without a TEE.
//!
//! **INSECURE.** A dev quote is plain JSON
//! `{"mrtd":"<hex48>","rtmr":["<hex48>",x4],"report_data":"<hex64>"}` with
//! no signature, because there is no hardware root of trust to sign it.
//! Anyone can forge one. It exists so the whole RA-TLS pipeline (claims,
//! report-data binding, image-hash policies) can be exercised in
//! development and CI; production must use a real TEE verifier.

use std::sync::Once;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::attestation::{Attester, EvidenceVerifier, TeeType, VerifiedEvidence};
use crate::error::AttestError;
use crate::measurements::Measurements;

/// Wire format of a dev quote.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevQuote {
    #[serde(with = "crate::hex_serde::hex48")]
    mrtd: [u8; 48],
    #[serde(with = "crate::hex_serde::hex48x4")]
    rtmr: [[u8; 48]; 4],
    #[serde(with = "crate::hex_serde::hex64")]
    report_data: [u8; 64],
}

/// Produces unsigned, forgeable dev quotes. **NOT a TEE.**
#[derive(Debug, Clone)]
pub struct DevAttester {
    measurements: Measurements,
}

impl DevAttester {
    /// Create a dev attester claiming `m`. Logs a loud warning.
    pub fn new(m: Measurements) -> Self {
        tracing::warn!(
            image_hash = %m.image_hash(),
            "INSECURE: dev attestation in use; quotes are unsigned and forgeable, this is NOT a TEE"
        );
        DevAttester { measurements: m }
    }

    /// The measurements this attester claims.
    pub fn measurements(&self) -> &Measurements {
        &self.measurements
    }
}

impl Attester for DevAttester {
    fn tee_type(&self) -> TeeType {
        TeeType::Dev
    }

    fn attest(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, AttestError> {
        let q = DevQuote { mrtd: self.measurements.mrtd, rtmr: self.measurements.rtmr, report_data: *report_data };
        serde_json::to_vec(&q).map_err(|e| AttestError::Unavailable(e.to_string()))
    }
}

/// Parses dev quotes. It validates the format only: a dev quote has no
/// signature, so this proves **nothing** about the peer. **NOT a TEE.**
#[derive(Debug, Clone, Copy, Default)]
pub struct DevVerifier;

static DEV_VERIFY_WARNING: Once = Once::new();

impl EvidenceVerifier for DevVerifier {
    fn tee_type(&self) -> TeeType {
        TeeType::Dev
    }

    fn verify(&self, quote: &[u8], _now: SystemTime) -> Result<VerifiedEvidence, AttestError> {
        DEV_VERIFY_WARNING.call_once(|| {
            tracing::warn!(
                "INSECURE: accepting dev attestation; dev quotes carry no signature and prove nothing, this is NOT a TEE"
            );
        });
        let q: DevQuote = serde_json::from_slice(quote).map_err(|e| AttestError::Malformed(e.to_string()))?;
        Ok(VerifiedEvidence { measurements: Measurements { mrtd: q.mrtd, rtmr: q.rtmr }, report_data: q.report_data })
    }
}
