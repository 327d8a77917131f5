//! What a role demands of its peers, as configured: the RA-TLS policy plus, for TDX, how quotes
//! are verified (TCB policy and where the collateral comes from).
//!
//! `kind = "tdx"` registers a DCAP verifier (`cocoon-tdx`) whose collateral comes from a
//! PCCS/PCS URL (cached on disk) or a file, with Intel's root CA pinned. A policy should pin
//! the image: `measurements` (MRTD and RTMR0..3, every one) or `image_hashes`.

use cocoon_ratls::{ImageHash, Measurements, Policy, PolicyConfig, PolicyKind, Role};
use cocoon_tdx::{CollateralSource, FileCollateral, PccsCollateral, TdxPolicy, TdxVerifier, DEFAULT_PCCS_TIMEOUT};
use serde::{Deserialize, Serialize};
use std::{path::PathBuf, sync::Arc};

pub use cocoon_tdx::INTEL_PCS_URL;

/// A role's peer policy, as written in its config (`[worker_policy]`, `[proxy_policy]`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerPolicy {
    /// "any" (no attestation check, INSECURE), "dev" (simulated attestation, INSECURE) or
    /// "tdx" (a real Intel TDX quote, verified with DCAP).
    pub kind: PolicyKind,
    /// Allowed image hashes (SHA-256 over MRTD and RTMR0..3); see `measurements`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_hashes: Vec<ImageHash>,
    /// Allowed measurement sets, each MRTD and all four RTMRs. A peer passes when it matches
    /// one set or one image hash; both empty: any image (logged as a warning under "tdx").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurements>,
    /// The role the peer must claim (default: set by the port or link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_role: Option<Role>,
    /// TDX only: which TCB statuses and platform properties are accepted.
    #[serde(default)]
    pub tdx: TdxPolicy,
    /// TDX only: where quote collateral comes from (default: Intel's PCS, no disk cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral: Option<CollateralConfig>,
}

/// Where TDX collateral comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollateralConfig {
    /// A PCCS or Intel PCS base URL. Default: Intel's PCS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pccs_url: Option<String>,
    /// A collateral file (dcap-qvl's JSON), instead of a URL: for offline or pinned setups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Where fetched collateral is cached (reused until it expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
}

/// Why a peer policy could not be built: conflicting collateral sources or invalid TDX settings.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy: collateral: set either pccs_url or file, not both")]
    BothSources,
    #[error("policy: tdx: {0}")]
    Tdx(String),
    #[error(
        "policy: kind \"tdx\" with no `image_hashes` or `measurements` would admit ANY TDX image, a malicious \
         one included: list the images you trust"
    )]
    NoAllowlist,
}

impl PeerPolicy {
    /// A policy of `kind` with no allowlists and default TDX settings.
    pub fn new(kind: PolicyKind) -> Self {
        PeerPolicy {
            kind,
            image_hashes: Vec::new(),
            measurements: Vec::new(),
            expected_role: None,
            tdx: TdxPolicy::default(),
            collateral: None,
        }
    }

    /// The RA-TLS part of the policy.
    pub fn ratls(&self) -> PolicyConfig {
        PolicyConfig {
            kind: self.kind,
            image_hashes: self.image_hashes.clone(),
            measurements: self.measurements.clone(),
            expected_role: self.expected_role,
        }
    }

    /// The collateral source this policy names.
    pub fn collateral_source(&self) -> Result<Arc<dyn CollateralSource>, PolicyError> {
        let c = self.collateral.clone().unwrap_or(CollateralConfig { pccs_url: None, file: None, cache_dir: None });
        match (c.pccs_url, c.file) {
            (Some(_), Some(_)) => Err(PolicyError::BothSources),
            (None, Some(file)) => Ok(Arc::new(FileCollateral::new(file))),
            (url, None) => Ok(Arc::new(PccsCollateral::new(
                url.unwrap_or_else(|| INTEL_PCS_URL.to_string()),
                c.cache_dir,
                DEFAULT_PCCS_TIMEOUT,
            ))),
        }
    }
}

/// Builds the policy applied to peers of `role` (their claimed role is required to be `role`
/// unless the config says otherwise). Under "tdx" a DCAP verifier is registered, and a
/// policy without an allowlist is refused.
pub fn build_policy(cfg: PeerPolicy, role: Role) -> Result<Arc<Policy>, PolicyError> {
    let mut ratls = cfg.ratls();
    if ratls.expected_role.is_none() {
        ratls.expected_role = Some(role);
    }
    let mut policy = Policy::new(ratls);
    if cfg.kind == PolicyKind::Tdx {
        if cfg.image_hashes.is_empty() && cfg.measurements.is_empty() {
            return Err(PolicyError::NoAllowlist);
        }
        cfg.tdx.validate().map_err(|e| PolicyError::Tdx(e.to_string()))?;
        let verifier = TdxVerifier::new(cfg.collateral_source()?, cfg.tdx.clone());
        policy = policy.with_verifier(Arc::new(verifier));
    }
    Ok(Arc::new(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TDX: &str = r#"
kind = "tdx"
measurements = [{ mrtd = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7", rtmr = [
  "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
  "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
  "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
] }]

[tdx]
allowed_tcb_statuses = ["UpToDate", "SWHardeningNeeded"]
allow_dynamic_platform = true
allow_cached_keys = true
allow_smt = true

[collateral]
file = "collateral.json"
"#;

    #[test]
    fn a_tdx_policy_reads_from_toml_and_builds() {
        let p: PeerPolicy = toml::from_str(TDX).unwrap();
        assert_eq!(p.kind, PolicyKind::Tdx);
        assert_eq!(p.measurements.len(), 1);
        assert!(p.tdx.allow_smt && p.tdx.allows_status("SWHardeningNeeded") && !p.tdx.allows_status("OutOfDate"));
        let built = build_policy(p, Role::Worker).unwrap();
        assert_eq!(built.config().expected_role, Some(Role::Worker));
    }

    #[test]
    fn bad_tdx_settings_are_refused_at_load() {
        let both = TDX.replace("file = \"collateral.json\"", "file = \"c.json\"\npccs_url = \"https://pccs.example\"");
        let p: PeerPolicy = toml::from_str(&both).unwrap();
        assert!(matches!(build_policy(p, Role::Worker), Err(PolicyError::BothSources)));
        let unknown = TDX.replace("\"SWHardeningNeeded\"", "\"MostlyFine\"");
        assert!(toml::from_str::<PeerPolicy>(&unknown).is_err());
        let typo = TDX.replace("allow_smt", "allow_smtp");
        assert!(toml::from_str::<PeerPolicy>(&typo).is_err());
        let mut open: PeerPolicy = toml::from_str(TDX).unwrap();
        open.measurements.clear();
        assert!(matches!(build_policy(open, Role::Worker), Err(PolicyError::NoAllowlist)));
    }
}
