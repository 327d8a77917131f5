//! Full DCAP verification of one TDX quote against given collateral.
//!
//! This is the single place where a quote becomes trusted: dcap-qvl checks
//! the whole chain (collateral signatures and certificate chains to its
//! pinned Intel root CA, CRLs, QE report signed by the PCK, QE identity, TD
//! report signed by the attestation key the QE vouches for, TCB level
//! matching, TD attributes) at the given time, then [`TdxPolicy`] decides
//! whether the platform's TCB status and configuration are acceptable.

use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::{Policy, QuoteCollateralV3, QuotePolicy};

use crate::collateral::validity;
use crate::error::TdxError;
use crate::policy::TdxPolicy;
use crate::quote::TdxQuote;

/// A quote that passed [`verify_quote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxVerified {
    /// The quote's contents.
    pub quote: TdxQuote,
    /// Converged platform + QE TCB status (Intel's name, e.g. `UpToDate`).
    pub tcb_status: String,
    /// Intel security advisories that apply to the platform.
    pub advisory_ids: Vec<String>,
}

/// Verify `raw` with `collateral` at unix time `now_unix` and apply `policy`.
///
/// In order: parse (SGX quotes are refused), the collateral window of
/// [`validity`] must contain `now_unix`, full DCAP verification against
/// dcap-qvl's built-in Intel root (never one from the collateral), the TCB
/// status must be allowed, the platform flags must be allowed, and a debug
/// TD is refused unless `policy.allow_debug`.
pub fn verify_quote(
    raw: &[u8],
    collateral: &QuoteCollateralV3,
    now_unix: u64,
    policy: &TdxPolicy,
) -> Result<TdxVerified, TdxError> {
    let quote = TdxQuote::parse(raw)?;
    let quote_policy = policy.quote_policy(now_unix)?;

    let (start, end) = validity(collateral)?;
    if now_unix < start {
        return Err(TdxError::CollateralNotYetValid { valid_from: start, now: now_unix });
    }
    if now_unix >= end {
        return Err(TdxError::CollateralExpired { expired_at: end, now: now_unix });
    }

    // Debug TDs are let through dcap-qvl and refused below with their own
    // error, after the quote has been shown genuine.
    let claims = QuoteVerifier::new_prod()
        .allow_debug(true)
        .verify_with_policy(raw, collateral.clone(), now_unix, &QuotePolicy::claims_only(now_unix))
        .map_err(|e| TdxError::Verify(format!("{e:#}")))?;

    let tcb_status = claims.tcb.status.to_string();
    if !policy.allows_status(&tcb_status) {
        return Err(TdxError::TcbStatusNotAllowed { status: tcb_status, allowed: policy.allowed_tcb_statuses.clone() });
    }
    quote_policy.validate(&claims).map_err(|e| TdxError::PolicyRefused(format!("{e:#}")))?;
    refuse_debug(&quote, policy)?;

    tracing::debug!(
        image_hash = %quote.image_hash(),
        tcb_status = %tcb_status,
        advisories = ?claims.tcb.advisory_ids,
        "TDX quote verified"
    );
    Ok(TdxVerified { quote, tcb_status, advisory_ids: claims.tcb.advisory_ids })
}

/// A debug TD's memory is readable by the host: refused unless allowed.
fn refuse_debug(quote: &TdxQuote, policy: &TdxPolicy) -> Result<(), TdxError> {
    if quote.debug && !policy.allow_debug {
        return Err(TdxError::DebugTd);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_td_is_refused_unless_allowed() {
        // No genuine debug-TD quote is available (changing the attribute
        // breaks the signature), so the last step is checked on its own.
        let sample = include_bytes!("../tests/data/tdx_quote");
        let mut quote = TdxQuote::parse(sample).unwrap();
        assert!(!quote.debug);
        refuse_debug(&quote, &TdxPolicy::default()).unwrap();

        let mut raw = sample.to_vec();
        raw[48 + 120] |= 1; // TD attributes, TUD.DEBUG
        quote = TdxQuote::parse(&raw).unwrap();
        assert!(quote.debug);
        assert!(matches!(refuse_debug(&quote, &TdxPolicy::default()), Err(TdxError::DebugTd)));
        refuse_debug(&quote, &TdxPolicy { allow_debug: true, ..TdxPolicy::default() }).unwrap();
    }
}
