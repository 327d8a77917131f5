//! Closed by default: a role refuses to start when it would be open to anyone on a
//! non-loopback address (insecure attestation, an `any` or `dev` peer policy, a free proxy)
//! unless its operator wrote `insecure_dev = true`, which is then logged loudly and shown in
//! `/stats`.

use crate::{AttestMode, AttestationConfig, PeerPolicy};
use cocoon_ratls::PolicyKind;
use std::net::{IpAddr, SocketAddr};

/// Whether `addr` is reachable only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Whether a "host:port" a role dials names this machine (`localhost`, 127.0.0.0/8, ::1).
/// Anything else (another host name, a public or private address) counts as remote.
pub fn is_loopback_host(endpoint: &str) -> bool {
    let host =
        endpoint.trim_start_matches("https://").trim_start_matches("http://").split('/').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a peer policy would admit anyone, if it would: `None` for `tdx`.
pub fn open_policy(name: &str, policy: &PeerPolicy) -> Option<String> {
    match policy.kind {
        PolicyKind::Any => Some(format!("`{name}` is \"any\": peers are admitted without any attestation")),
        PolicyKind::Dev => {
            Some(format!("`{name}` is \"dev\": simulated attestation is unsigned JSON anyone can write, not a TEE"))
        }
        PolicyKind::Tdx => None,
    }
}

/// Why dialing `proxies` under `policy` (the config's `proxy_policy`) would expose the
/// prompts: an open policy and a proxy on another machine, which anyone could pose as.
pub fn remote_proxy_open(policy: &PeerPolicy, proxies: &[String]) -> Option<String> {
    let remote = proxies.iter().find(|p| !is_loopback_host(p))?;
    let open = open_policy("proxy_policy", policy)?;
    Some(format!("{open}, and the proxy {remote} is not on this machine: anyone could pose as it"))
}

/// Why this node's own attestation proves nothing to its peers, if it does not.
pub fn weak_attestation(cfg: &AttestationConfig) -> Option<String> {
    match cfg.mode {
        AttestMode::Tdx => None,
        AttestMode::Dev => Some("`[attestation] mode` is \"dev\": peers cannot tell this node runs in a TEE".into()),
        AttestMode::None => Some("`[attestation] mode` is \"none\": peers cannot tell this node runs in a TEE".into()),
    }
}

/// The verdict on a role's exposure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Everything that is open (empty: closed).
    pub reasons: Vec<String>,
    /// The operator allowed it in writing (`insecure_dev = true`).
    pub insecure_dev: bool,
}

impl Exposure {
    /// Refuses to start when something is open and the operator did not allow it; warns
    /// loudly when they did. `role` names the process in the messages.
    pub fn check(reasons: Vec<String>, insecure_dev: bool, role: &str) -> Result<Self, String> {
        if reasons.is_empty() {
            return Ok(Exposure { reasons, insecure_dev });
        }
        if !insecure_dev {
            return Err(format!(
                "refusing to start the {role} open on a non-loopback address: {}. Use `tdx` attestation and \
                 policies with allowlists, bind to 127.0.0.1, or, for a development network only, write \
                 `insecure_dev = true` in the config",
                reasons.join("; ")
            ));
        }
        for why in &reasons {
            tracing::warn!("INSECURE (insecure_dev = true): the {role} is open on a non-loopback address: {why}");
        }
        Ok(Exposure { reasons, insecure_dev })
    }

    /// The verdict for `/stats`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"insecure_dev": self.insecure_dev, "open": self.reasons})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:8801", "localhost:1", "[::1]:8802", "http://127.0.0.1:8000", "127.3.4.5"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["10.0.0.1:8801", "proxy.example:8801", "0.0.0.0:1", "[2001:db8::1]:1", "http://192.0.2.1:8000/v1"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn open_without_consent_is_refused() {
        assert!(Exposure::check(vec![], false, "proxy").is_ok());
        let e = Exposure::check(vec!["`worker_policy` is \"dev\"".into()], false, "proxy").unwrap_err();
        assert!(e.contains("insecure_dev = true") && e.contains("worker_policy"), "{e}");
        let ok = Exposure::check(vec!["x".into()], true, "proxy").unwrap();
        assert_eq!(ok.to_json()["insecure_dev"], true);
        assert!(open_policy("p", &PeerPolicy::new(PolicyKind::Tdx)).is_none());
        assert!(open_policy("p", &PeerPolicy::new(PolicyKind::Any)).is_some());
    }
}
