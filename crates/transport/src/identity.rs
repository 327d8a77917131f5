//! Each role's own attestation settings, shared by the three role configs.
//!
//! Builds the role's RA-TLS [`Identity`] (key, certificate, attestation) and the policy it
//! applies to peers. Dev mode works anywhere and is loudly insecure; real TDX plugs in here.

use cocoon_ratls::{DevAttester, Identity, IdentityConfig, Measurements, Role};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

/// What this node presents to its peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationConfig {
    /// "none" (no attestation: only peers with policy `any` accept us), "dev" (a simulated,
    /// INSECURE attestation with declared measurements, for machines without TDX) or "tdx" (a
    /// real quote from the TDX guest through configfs-tsm; fails at start where there is
    /// none, never falls back). Required when the table is present (each role has its own
    /// default when the table is absent).
    pub mode: AttestMode,
    /// Dev mode only: the simulated measurements; default: fixed dev values.
    #[serde(default)]
    pub dev_measurements: Option<Measurements>,
    /// Certificate lifetime in seconds; certificates are re-issued at 2/3 of it.
    #[serde(default = "default_validity")]
    pub cert_validity_secs: u64,
    /// Where the node's Ed25519 key lives (PKCS#8 PEM, created on first start, mode 0600).
    /// The key is the node's identity: its account at proxies and the key vouchers are signed
    /// or addressed with. Without a file, every start is a new identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

/// Which attestation a node puts in its certificate: none, simulated (dev) or a real TDX
/// quote; see [`AttestationConfig::mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestMode {
    None,
    Dev,
    Tdx,
}

fn default_mode() -> AttestMode {
    AttestMode::Dev
}

fn default_validity() -> u64 {
    24 * 3600
}

impl Default for AttestationConfig {
    fn default() -> Self {
        Self { mode: default_mode(), dev_measurements: None, cert_validity_secs: default_validity(), key_file: None }
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
        AttestMode::Tdx => {
            let attester = cocoon_tdx::TdxAttester::new()
                .map_err(|e| cocoon_ratls::RaTlsError::AttesterUnavailable(e.to_string()))?;
            Some(Arc::new(attester))
        }
    };
    let key_pem = match &cfg.key_file {
        Some(path) if path.exists() => Some(
            std::fs::read_to_string(path)
                .map_err(|e| cocoon_ratls::RaTlsError::Key(format!("reading {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    let identity = Identity::new(IdentityConfig {
        role,
        attester,
        validity: Duration::from_secs(cfg.cert_validity_secs.max(60)),
        extra_claims: extra,
        key_pem: key_pem.clone(),
    })?;
    if let (Some(path), None) = (&cfg.key_file, key_pem) {
        save_key(path, &identity.key_pem())
            .map_err(|e| cocoon_ratls::RaTlsError::Key(format!("writing {}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "created a new identity key");
    }
    Ok(identity)
}

/// Writes a new key file readable only by its owner, atomically.
fn save_key(path: &std::path::Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
