//! Discovery: the proxies a client or worker uses come from the root's registry, not a file.
//!
//! The root lists every registered proxy with its endpoints and public key, and the image
//! hashes a proxy may attest. A client or worker reads it at start ([`read`]), dials the
//! listed endpoints, and accepts a proxy only if its attested image hash is on the root's list
//! ([`RootRegistry::proxy_image_hashes`]); a root with an empty list (a devnet) accepts what
//! the node's own policy accepts. The client pays only a proxy the root lists with the key it
//! attested ([`crate::client`]).

use crate::{ChainConfig, ChainError};
use cocoon_ton::contracts::getters;
use cocoon_ton::{address, TonApi};

/// One registered proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProxy {
    /// Where clients dial it.
    pub client_endpoint: String,
    /// Where workers dial it.
    pub worker_endpoint: String,
    /// Its public key (the one its RA-TLS certificate must carry).
    pub public_key: [u8; 32],
    /// Its stake, nanotons.
    pub stake: u128,
    /// Its public report (figures for explorers), when its registration names one.
    pub report_url: Option<String>,
}

/// What the root says about proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootRegistry {
    /// Registered proxies, newest registration of each key only.
    pub proxies: Vec<ListedProxy>,
    /// Image hashes a proxy may attest (hex); empty: the root sets none.
    pub proxy_image_hashes: Vec<String>,
    /// Image hashes a worker may attest (hex).
    pub worker_image_hashes: Vec<String>,
    /// Model weight hashes (SHA-256 hex) workers may serve.
    pub model_hashes: Vec<String>,
    /// Whether the root's params say this is a test network.
    pub is_test: bool,
}

fn hexes(v: &[cocoon_ton::HashBytes]) -> Vec<String> {
    v.iter().map(|h| hex::encode(h.as_array())).collect()
}

/// Reads the root's registry.
pub async fn read(cfg: &ChainConfig) -> Result<RootRegistry, ChainError> {
    let api = TonApi::new(cfg.api())?;
    let root = address::parse_std(&cfg.root)?;
    let params = getters::params(&api, &root).await?;
    let lists = getters::allowlists(&api, &root).await?;
    let mut entries = getters::proxies(&api, &root).await?;
    entries.sort_by_key(|(_, e)| std::cmp::Reverse(e.seqno));
    let mut proxies: Vec<ListedProxy> = Vec::new();
    for (_, e) in entries {
        if proxies.iter().any(|p| p.public_key == e.public_key.0) {
            continue;
        }
        proxies.push(ListedProxy {
            client_endpoint: e.client_endpoint,
            worker_endpoint: e.worker_endpoint,
            public_key: e.public_key.0,
            stake: e.stake,
            report_url: e.report_url,
        });
    }
    Ok(RootRegistry {
        proxies,
        proxy_image_hashes: hexes(&lists.proxy_image_hashes),
        worker_image_hashes: hexes(&lists.worker_image_hashes),
        model_hashes: hexes(&lists.model_hashes),
        is_test: params.is_test,
    })
}

/// Restricts `policy` (a client's or worker's view of proxies) to the root's proxy image
/// hashes. A root without a list accepts what the policy accepts, but a dev (simulated)
/// attestation or none only on a test network.
pub fn apply_root_allowlist(policy: &mut cocoon_transport::PeerPolicy, reg: &RootRegistry) -> Result<(), String> {
    restrict(policy, &reg.proxy_image_hashes, reg.is_test, "proxy")
}

/// Restricts the proxy's worker policy to the root's worker image hashes (same rules).
pub fn apply_worker_allowlist(policy: &mut cocoon_transport::PeerPolicy, reg: &RootRegistry) -> Result<(), String> {
    restrict(policy, &reg.worker_image_hashes, reg.is_test, "worker")
}

fn restrict(
    policy: &mut cocoon_transport::PeerPolicy,
    hashes: &[String],
    is_test: bool,
    who: &str,
) -> Result<(), String> {
    use cocoon_ratls::PolicyKind;
    if hashes.is_empty() {
        if !is_test && matches!(policy.kind, PolicyKind::Dev | PolicyKind::Any) {
            return Err(format!(
                "the root is not a test network and lists no {who} image: refusing dev or unattested {who}s"
            ));
        }
        return Ok(());
    }
    if matches!(policy.kind, PolicyKind::Any) {
        return Err(format!(
            "the root lists {who} images, which policy \"any\" cannot check: use \"tdx\" (or \"dev\" on a devnet)"
        ));
    }
    let listed: Vec<cocoon_ratls::ImageHash> = hashes.iter().filter_map(|h| h.parse().ok()).collect();
    if policy.image_hashes.is_empty() {
        policy.image_hashes = listed;
    } else {
        policy.image_hashes.retain(|h| listed.contains(h));
        if policy.image_hashes.is_empty() {
            return Err(format!("none of the configured {who} image hashes is on the root's list"));
        }
    }
    // The root's list is of image hashes: measurement sets are not on it.
    policy.measurements.clear();
    Ok(())
}
