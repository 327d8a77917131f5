//! Which genuine TDX platforms cocoon accepts.
//!
//! DCAP verification proves that a quote was produced by a real TDX platform
//! and tells its TCB status (is its firmware/microcode up to date, which
//! Intel security advisories apply) and its configuration flags. Whether
//! that is *good enough* is a policy decision, made here.

use dcap_qvl::{QuotePolicy, QuotePolicyConfig, TcbStatus};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::TdxError;

/// Acceptance policy for verified TDX quotes.
///
/// * `allowed_tcb_statuses`: the converged platform + QE TCB statuses
///   accepted, by Intel's names: `UpToDate`, `SWHardeningNeeded`,
///   `ConfigurationNeeded`, `ConfigurationAndSWHardeningNeeded`,
///   `OutOfDate`, `OutOfDateConfigurationNeeded`, `TDRelaunchAdvised`,
///   `TDRelaunchAdvisedConfigurationNeeded`. Default `["UpToDate"]`. An
///   unknown name fails at load. `Revoked` is refused unconditionally and
///   cannot be allowed. Allowing an out-of-date status accepts such
///   platforms whatever the age of their TCB level (no grace period).
/// * `allow_dynamic_platform`, `allow_cached_keys`, `allow_smt`: accept
///   platforms whose PCK certificate says the platform can be extended with
///   new packages, has its platform keys cached by Intel's registration
///   service, or has SMT (hyper-threading) enabled.
/// * `allow_debug`: accept debug TDs. Never in production: the host can
///   read a debug TD's memory.
///
/// **Real cloud TDX hosts** (multi-socket servers registered through Intel's
/// multi-package registration) report dynamic platforms, cached keys and
/// SMT, and usually a `SWHardeningNeeded` or
/// `ConfigurationAndSWHardeningNeeded` status; the strict default refuses
/// them. [`TdxPolicy::cloud`] is the usual production setting.
///
/// TDX 1.5 TDs bound to service TDs (non-zero MRSERVICETD or SERVTD_EXT),
/// migratable TDs and TDs without SEPT_VE_DISABLE are always refused.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TdxPolicy {
    /// Accepted TCB statuses (Intel's names).
    #[serde(default = "default_statuses", deserialize_with = "deserialize_statuses")]
    pub allowed_tcb_statuses: Vec<String>,
    /// Accept platforms whose PCK certificate has `dynamicPlatform` set.
    #[serde(default)]
    pub allow_dynamic_platform: bool,
    /// Accept platforms whose PCK certificate has `cachedKeys` set.
    #[serde(default)]
    pub allow_cached_keys: bool,
    /// Accept platforms whose PCK certificate has `smtEnabled` set.
    #[serde(default)]
    pub allow_smt: bool,
    /// Accept debug TDs. **Insecure.**
    #[serde(default)]
    pub allow_debug: bool,
}

fn default_statuses() -> Vec<String> {
    vec!["UpToDate".to_owned()]
}

fn deserialize_statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    parse_statuses(&names).map_err(serde::de::Error::custom)?;
    Ok(names)
}

/// Map status names onto dcap-qvl's [`TcbStatus`].
fn parse_statuses(names: &[String]) -> Result<Vec<TcbStatus>, TdxError> {
    if names.is_empty() {
        return Err(TdxError::InvalidPolicy("allowed_tcb_statuses is empty: no quote could ever be accepted".into()));
    }
    names
        .iter()
        .map(|name| {
            let status: TcbStatus = serde_json::from_value(serde_json::Value::String(name.clone())).map_err(|_| {
                TdxError::InvalidPolicy(format!(
                    "unknown TCB status {name:?} (known: UpToDate, SWHardeningNeeded, ConfigurationNeeded, \
                     ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, \
                     TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded)"
                ))
            })?;
            if status == TcbStatus::Revoked {
                return Err(TdxError::InvalidPolicy("TCB status Revoked can never be allowed".into()));
            }
            Ok(status)
        })
        .collect()
}

impl Default for TdxPolicy {
    /// Strict: `UpToDate` only, no dynamic platform, cached keys, SMT or debug.
    fn default() -> Self {
        TdxPolicy {
            allowed_tcb_statuses: default_statuses(),
            allow_dynamic_platform: false,
            allow_cached_keys: false,
            allow_smt: false,
            allow_debug: false,
        }
    }
}

impl TdxPolicy {
    /// What cloud TDX hosts need: `UpToDate`, `SWHardeningNeeded`,
    /// `ConfigurationNeeded` and `ConfigurationAndSWHardeningNeeded`;
    /// dynamic platforms, cached keys and SMT allowed; no debug TDs.
    pub fn cloud() -> Self {
        TdxPolicy {
            allowed_tcb_statuses: [
                "UpToDate",
                "SWHardeningNeeded",
                "ConfigurationNeeded",
                "ConfigurationAndSWHardeningNeeded",
            ]
            .map(str::to_owned)
            .to_vec(),
            allow_dynamic_platform: true,
            allow_cached_keys: true,
            allow_smt: true,
            allow_debug: false,
        }
    }

    /// Check the status names (deserialization already does; this is for
    /// policies built in code).
    pub fn validate(&self) -> Result<(), TdxError> {
        parse_statuses(&self.allowed_tcb_statuses).map(|_| ())
    }

    /// Whether `status` (Intel's name) is allowed.
    pub fn allows_status(&self, status: &str) -> bool {
        self.allowed_tcb_statuses.iter().any(|s| s == status)
    }

    /// The equivalent dcap-qvl policy at time `now`: allowed statuses,
    /// platform flags, collateral not expired; unlimited grace periods, so
    /// that an allowed out-of-date status is accepted whatever its age.
    pub(crate) fn quote_policy(&self, now: u64) -> Result<QuotePolicy, TdxError> {
        let allowed_statuses = parse_statuses(&self.allowed_tcb_statuses)?;
        Ok(QuotePolicyConfig {
            allowed_statuses,
            rejected_advisory_ids: Vec::new(),
            platform_grace_period_secs: u64::MAX,
            qe_grace_period_secs: u64::MAX,
            min_tcb_eval_data_number: 0,
            allow_dynamic_platform: self.allow_dynamic_platform,
            allow_cached_keys: self.allow_cached_keys,
            allow_smt: self.allow_smt,
            accepted_sgx_types: None,
        }
        .into_policy(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_strict() {
        let p: TdxPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, TdxPolicy::default());
        assert_eq!(p.allowed_tcb_statuses, ["UpToDate"]);
        assert!(!p.allow_dynamic_platform && !p.allow_cached_keys && !p.allow_smt && !p.allow_debug);
    }

    #[test]
    fn unknown_status_and_field_fail_to_load() {
        let err = serde_json::from_str::<TdxPolicy>(r#"{"allowed_tcb_statuses":["UpToDate","UpToDat"]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown TCB status \"UpToDat\""), "{err}");
        assert!(serde_json::from_str::<TdxPolicy>(r#"{"allowed_tcb_statuses":["Revoked"]}"#).is_err());
        assert!(serde_json::from_str::<TdxPolicy>(r#"{"allowed_tcb_statuses":[]}"#).is_err());
        assert!(serde_json::from_str::<TdxPolicy>(r#"{"allow_smtt":true}"#).is_err());
    }

    #[test]
    fn every_known_status_loads() {
        let p = TdxPolicy {
            allowed_tcb_statuses: [
                "UpToDate",
                "SWHardeningNeeded",
                "ConfigurationNeeded",
                "ConfigurationAndSWHardeningNeeded",
                "OutOfDate",
                "OutOfDateConfigurationNeeded",
                "TDRelaunchAdvised",
                "TDRelaunchAdvisedConfigurationNeeded",
            ]
            .map(str::to_owned)
            .to_vec(),
            ..TdxPolicy::default()
        };
        p.validate().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<TdxPolicy>(&json).unwrap(), p);
        assert!(TdxPolicy::cloud().validate().is_ok());
    }
}
