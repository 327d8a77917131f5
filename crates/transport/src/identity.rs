//! Each role's own attestation settings, shared by the three role configs.
//!
//! Builds the role's RA-TLS [`Identity`] (key, certificate, attestation) and the policy it
//! applies to peers. Dev mode works anywhere and is loudly insecure; real TDX plugs in here.

use cocoon_ratls::{DevAttester, Identity, IdentityConfig, Measurements, Policy, PolicyConfig, Role};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

/// What this node presents to its peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationConfig {
    /// "none" (no attestation: only peers with policy `any` accept us) or "dev" (a simulated,
    /// INSECURE attestation with declared measurements, for machines without TDX). Required
    /// when the table is present (each role has its own default when the table is absent).
    pub mode: AttestMode,
    /// Dev mode only: the simulated measurements; default: fixed dev values.
    #[serde(default)]
    pub dev_measurements: Option<Measurements>,
    /// Certificate lifetime in seconds; certificates are re-issued at 2/3 of it.
    #[serde(default = "default_validity")]
    pub cert_validity_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestMode {
    None,
    Dev,
}

fn default_mode() -> AttestMode {
    AttestMode::Dev
}

fn default_validity() -> u64 {
    24 * 3600
}

impl Default for AttestationConfig {
    fn default() -> Self {
        Self { mode: default_mode(), dev_measurements: None, cert_validity_secs: default_validity() }
    }
}

/// Builds this node's identity; `extra` goes into its attested claims.
pub fn build_identity(
    role: Role,
    cfg: &AttestationConfig,
    extra: BTreeMap<String, String>,
) -> Result<Identity, cocoon_ratls::RaTlsError> {
    let attester: Option<Arc<dyn cocoon_ratls::Attester>> = match cfg.mode {
        AttestMode::None => None,
        AttestMode::Dev => {
            let m = cfg.dev_measurements.clone().unwrap_or_else(Measurements::dev_default);
            Some(Arc::new(DevAttester::new(m)))
        }
    };
    Identity::new(IdentityConfig {
        role,
        attester,
        validity: Duration::from_secs(cfg.cert_validity_secs.max(60)),
        extra_claims: extra,
        key_pem: None,
    })
}

/// The policy applied to peers of `role`.
pub fn build_policy(mut cfg: PolicyConfig, role: Role) -> Arc<Policy> {
    if cfg.expected_role.is_none() {
        cfg.expected_role = Some(role);
    }
    Arc::new(Policy::new(cfg))
}
