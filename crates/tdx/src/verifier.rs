//! The TDX [`EvidenceVerifier`] plugged into RA-TLS policies.
//!
//! Ties the pieces together for the handshake path: look the quote up in the
//! [`VerificationCache`], otherwise get collateral from the
//! [`CollateralSource`], run [`verify_quote`] under the [`TdxPolicy`] and
//! remember the result until its collateral expires. RA-TLS then only needs
//! the measurements and the report data.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cocoon_ratls::{AttestError, EvidenceVerifier, TeeType, VerifiedEvidence};

use crate::cache::VerificationCache;
use crate::collateral::{validity, CollateralSource};
use crate::error::TdxError;
use crate::policy::TdxPolicy;
use crate::quote::TdxQuote;
use crate::verify::{verify_quote, TdxVerified};

/// Verifies TDX quotes for RA-TLS (and the CLI), with caching.
pub struct TdxVerifier {
    source: Arc<dyn CollateralSource>,
    policy: TdxPolicy,
    cache: VerificationCache,
    fixed_now: Option<u64>,
}

impl std::fmt::Debug for TdxVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdxVerifier")
            .field("policy", &self.policy)
            .field("cache", &self.cache)
            .field("fixed_now", &self.fixed_now)
            .finish_non_exhaustive()
    }
}

impl TdxVerifier {
    /// A verifier taking collateral from `source` and accepting what
    /// `policy` allows. A deserialized policy is valid; one built in code
    /// should be checked with [`TdxPolicy::validate`] first, as an invalid
    /// one makes every verification fail with [`TdxError::InvalidPolicy`].
    pub fn new(source: Arc<dyn CollateralSource>, policy: TdxPolicy) -> Self {
        TdxVerifier { source, policy, cache: VerificationCache::default(), fixed_now: None }
    }

    /// Verify at unix time `unix` instead of the time the caller passes:
    /// for offline verification of recorded quotes with the collateral of
    /// their time.
    pub fn with_fixed_time(mut self, unix: u64) -> Self {
        self.fixed_now = Some(unix);
        self
    }

    /// Replace the cache by one of `capacity` entries (0 disables caching).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = VerificationCache::new(capacity);
        self
    }

    /// The acceptance policy.
    pub fn policy(&self) -> &TdxPolicy {
        &self.policy
    }

    /// The verification cache (for its hit/miss counters).
    pub fn cache(&self) -> &VerificationCache {
        &self.cache
    }

    /// Fully verify `quote` at `now` (or the fixed time), using the cache.
    pub fn verify_full(&self, quote: &[u8], now: SystemTime) -> Result<TdxVerified, TdxError> {
        let now = match self.fixed_now {
            Some(t) => t,
            None => now
                .duration_since(UNIX_EPOCH)
                .map_err(|_| TdxError::Verify("verification time is before 1970".into()))?
                .as_secs(),
        };
        if let Some(hit) = self.cache.get(quote, now) {
            return Ok(hit);
        }
        let parsed = TdxQuote::parse(quote)?;
        let collateral = self.source.collateral(&parsed, now)?;
        let verified = verify_quote(quote, &collateral, now, &self.policy)?;
        let (_, expires_at) = validity(&collateral)?;
        self.cache.insert(quote, verified.clone(), expires_at, now);
        Ok(verified)
    }
}

impl EvidenceVerifier for TdxVerifier {
    fn tee_type(&self) -> TeeType {
        TeeType::Tdx
    }

    fn verify(&self, quote: &[u8], now: SystemTime) -> Result<VerifiedEvidence, AttestError> {
        match self.verify_full(quote, now) {
            Ok(v) => Ok(VerifiedEvidence { measurements: v.quote.measurements, report_data: v.quote.report_data }),
            Err(e) => {
                tracing::warn!(error = %e, "refusing TDX quote");
                Err(e.into())
            }
        }
    }
}
