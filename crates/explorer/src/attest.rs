//! Checking a proxy's attestation from its report: the explorer verifies the RA-TLS
//! certificate the report carries itself (a proxy's word about its own image is not enough),
//! then looks the image up in the root's list and compares the key with the registered one.

use crate::snapshot::AttestationView;
use base64::Engine as _;
use cocoon_ratls::{Policy, PolicyConfig, PolicyKind, Role, TeeType};
use std::sync::{Arc, Mutex};

/// Which evidence the explorer accepts as verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationMode {
    /// Real Intel TDX quotes, checked with DCAP against the root's proxy image list.
    Tdx,
    /// Simulated dev evidence (a local network): shown as verified but INSECURE.
    Dev,
}

/// Verifies report certificates; keeps the policy while the root's list stays the same.
pub struct Attestations {
    mode: AttestationMode,
    cached: Mutex<Option<(Vec<String>, Arc<Policy>)>>,
}

impl Attestations {
    /// A checker in `mode`.
    pub fn new(mode: AttestationMode) -> Self {
        Self { mode, cached: Mutex::new(None) }
    }

    fn policy(&self, root_images: &[String]) -> Result<Arc<Policy>, String> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((list, p)) = cached.as_ref() {
            if list == root_images {
                return Ok(p.clone());
            }
        }
        let policy = match self.mode {
            AttestationMode::Dev => {
                let mut cfg = PolicyConfig::new(PolicyKind::Dev);
                cfg.expected_role = Some(Role::Proxy);
                Arc::new(Policy::new(cfg))
            }
            AttestationMode::Tdx => {
                let mut cfg = cocoon_transport::PeerPolicy::new(PolicyKind::Tdx);
                cfg.image_hashes = root_images.iter().filter_map(|h| h.parse().ok()).collect();
                cocoon_transport::build_policy(cfg, Role::Proxy).map_err(|e| match e {
                    cocoon_transport::PolicyError::NoAllowlist => {
                        "the root lists no proxy image: a TDX quote cannot be judged".to_string()
                    }
                    e => e.to_string(),
                })?
            }
        };
        *cached = Some((root_images.to_vec(), policy.clone()));
        Ok(policy)
    }

    /// Checks `certificate_b64` (from a report). `root_images`: the root's proxy image list
    /// (`None`: no chain); `key`: the proxy's key (hex) as the root lists it, or as its report
    /// names it: the certificate must be that key's, or a report could borrow another
    /// proxy's attestation.
    pub fn check(&self, certificate_b64: &str, root_images: Option<&[String]>, key: &str) -> AttestationView {
        let mut view = AttestationView { insecure: true, ..Default::default() };
        let der = match base64::engine::general_purpose::STANDARD.decode(certificate_b64) {
            Ok(d) if !d.is_empty() => d,
            _ => {
                view.error = Some("the report carries no certificate".into());
                return view;
            }
        };
        // What the certificate says, before judging it.
        if let Ok(c) = cocoon_ratls::inspect_certificate(&der) {
            view.tee = c.evidence.as_ref().map(|e| e.tee.to_string());
            view.key_matches = Some(hex::encode(c.public_key) == key);
        }
        let policy = match self.policy(root_images.unwrap_or_default()) {
            Ok(p) => p,
            Err(e) => {
                view.error = Some(e);
                return view;
            }
        };
        match policy.check(&der, std::time::SystemTime::now()) {
            Ok(peer) if peer.public_key_hex() != key => {
                view.key_matches = Some(false);
                view.error = Some(format!("the certificate is key {}'s, not this proxy's", peer.public_key_hex()));
            }
            Ok(peer) => {
                view.verified = true;
                view.key_matches = Some(true);
                view.insecure = peer.tee != Some(TeeType::Tdx);
                view.tee = peer.tee.map(|t| t.to_string());
                view.image_hash = peer.image_hash.map(|h| h.to_string());
                if let (Some(list), Some(h)) = (root_images, &view.image_hash) {
                    view.on_root_list = (!list.is_empty()).then(|| list.contains(h));
                }
            }
            Err(e) => view.error = Some(e.to_string()),
        }
        view
    }
}
