//! Policies: which peers an RA-TLS endpoint accepts.
//!
//! A [`Policy`] is the complete decision procedure run on a peer
//! certificate during the handshake: structure and self-signature, validity
//! period, claims bound to the key, role, and — depending on
//! [`PolicyKind`] — attestation evidence verified by a registered
//! [`EvidenceVerifier`] whose report data must equal `SHA-512(claims)` and
//! whose image hash must be allowlisted. Every refusal is logged with its
//! exact reason.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::attestation::{Evidence, EvidenceVerifier, TeeType};
use crate::cert::{fmt_time, parse_cert};
use crate::claims::{report_data, Claims};
use crate::dev::DevVerifier;
use crate::error::RaTlsError;
use crate::measurements::ImageHash;
use crate::peer::{build, check_key, PeerInfo};
use crate::role::Role;

/// How much attestation a policy demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Accept any well-formed RA-TLS certificate; evidence is ignored (not
    /// verified). **INSECURE**: for tests and trusted networks only.
    Any,
    /// Require evidence from a registered verifier (the dev verifier is
    /// always registered). **INSECURE** while dev quotes are accepted.
    Dev,
    /// Require a real Intel TDX quote, verified by the registered TDX verifier (DCAP); dev
    /// evidence is refused. Pin the image with `measurements` or `image_hashes`.
    Tdx,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Any => "any",
            PolicyKind::Dev => "dev",
            PolicyKind::Tdx => "tdx",
        })
    }
}

/// Serializable policy configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// What attestation is required.
    pub kind: PolicyKind,
    /// Allowed image hashes; empty = any image. Ignored under `any`.
    #[serde(default)]
    pub image_hashes: Vec<ImageHash>,
    /// Allowed measurement sets (MRTD and all four RTMRs, each set in full); a peer passes
    /// when it matches one set or one image hash. Both lists empty = any image. Pinning a
    /// single register (say RTMR3 only) is not offered: a malicious base image could forge it.
    #[serde(default)]
    pub measurements: Vec<crate::Measurements>,
    /// If set, the peer must claim this role.
    #[serde(default)]
    pub expected_role: Option<Role>,
}

impl PolicyConfig {
    /// A config of `kind` with no allowlist and no role requirement.
    pub fn new(kind: PolicyKind) -> Self {
        PolicyConfig { kind, image_hashes: Vec::new(), measurements: Vec::new(), expected_role: None }
    }
}

/// A peer-acceptance policy (see the module docs).
pub struct Policy {
    cfg: PolicyConfig,
    verifiers: BTreeMap<TeeType, Arc<dyn EvidenceVerifier>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("cfg", &self.cfg)
            .field("verifiers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Policy {
    /// Build a policy; registers [`DevVerifier`]. Warns loudly for the
    /// insecure kinds.
    pub fn new(cfg: PolicyConfig) -> Self {
        match cfg.kind {
            PolicyKind::Any => {
                tracing::warn!("INSECURE: RA-TLS policy \"any\" accepts peers without verifying attestation")
            }
            PolicyKind::Dev => tracing::warn!(
                "INSECURE: RA-TLS policy \"dev\" accepts simulated (unsigned) dev attestation, which is NOT a TEE"
            ),
            PolicyKind::Tdx if cfg.image_hashes.is_empty() && cfg.measurements.is_empty() => tracing::warn!(
                "RA-TLS policy \"tdx\" has no image_hashes or measurements: it accepts ANY TDX image, a malicious one included"
            ),
            PolicyKind::Tdx => {}
        }
        if cfg.kind == PolicyKind::Any && !(cfg.image_hashes.is_empty() && cfg.measurements.is_empty()) {
            tracing::warn!("RA-TLS policy \"any\" ignores its image_hashes and measurements allowlists");
        }
        let mut verifiers: BTreeMap<TeeType, Arc<dyn EvidenceVerifier>> = BTreeMap::new();
        verifiers.insert(TeeType::Dev, Arc::new(DevVerifier));
        Policy { cfg, verifiers }
    }

    /// Register (or replace) the verifier for `v.tee_type()`.
    pub fn with_verifier(mut self, v: Arc<dyn EvidenceVerifier>) -> Self {
        self.verifiers.insert(v.tee_type(), v);
        self
    }

    /// The configuration this policy was built from.
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Run the full check on a DER certificate at time `now`.
    ///
    /// Refusals are logged at `warn` with the peer key and the reason.
    pub fn check(&self, cert_der: &[u8], now: SystemTime) -> Result<PeerInfo, RaTlsError> {
        let mut peer_key = None;
        let res = self.check_inner(cert_der, now, &mut peer_key);
        if let Err(err) = &res {
            log_refusal(peer_key.as_ref(), err);
        }
        res
    }

    fn check_inner(
        &self,
        cert_der: &[u8],
        now: SystemTime,
        peer_key: &mut Option<[u8; 32]>,
    ) -> Result<PeerInfo, RaTlsError> {
        let parsed = parse_cert(cert_der)?;
        *peer_key = Some(parsed.public_key);
        if now < parsed.not_before {
            return Err(RaTlsError::NotYetValid(fmt_time(parsed.not_before)));
        }
        if now > parsed.not_after {
            return Err(RaTlsError::Expired(fmt_time(parsed.not_after)));
        }
        let claims_bytes = parsed.claims.as_deref().ok_or(RaTlsError::MissingClaims)?;
        let claims = Claims::decode(claims_bytes)?;
        check_key(&claims, &parsed.public_key)?;
        if let Some(expected) = self.cfg.expected_role {
            if claims.role != expected {
                return Err(RaTlsError::RoleMismatch { got: claims.role, expected });
            }
        }

        match self.cfg.kind {
            PolicyKind::Any => Ok(build(claims, None, None, parsed.not_after)),
            PolicyKind::Dev | PolicyKind::Tdx => {
                let ev_bytes =
                    parsed.evidence.as_deref().ok_or_else(|| RaTlsError::MissingEvidence(self.cfg.kind.to_string()))?;
                let ev = Evidence::decode(ev_bytes)?;
                if self.cfg.kind == PolicyKind::Tdx && ev.tee != TeeType::Tdx {
                    return Err(RaTlsError::WrongTee { got: ev.tee, policy: self.cfg.kind.to_string() });
                }
                let verifier = self.verifiers.get(&ev.tee).ok_or(RaTlsError::NoVerifier(ev.tee))?;
                let verified = verifier.verify(&ev.quote, now)?;
                if verified.report_data != report_data(claims_bytes) {
                    return Err(RaTlsError::ReportDataMismatch);
                }
                let image = verified.measurements.image_hash();
                let pinned = !(self.cfg.image_hashes.is_empty() && self.cfg.measurements.is_empty());
                if pinned
                    && !self.cfg.image_hashes.contains(&image)
                    && !self.cfg.measurements.contains(&verified.measurements)
                {
                    return Err(RaTlsError::ImageNotAllowed(image));
                }
                Ok(build(claims, Some(ev.tee), Some(verified.measurements), parsed.not_after))
            }
        }
    }
}

/// Log why a peer was refused (operators must be able to see why).
pub(crate) fn log_refusal(peer_key: Option<&[u8; 32]>, err: &RaTlsError) {
    let peer_key = peer_key.map_or_else(|| "unknown".to_owned(), hex::encode);
    tracing::warn!(peer_key = %peer_key, reason = %err, "RA-TLS peer refused");
}
