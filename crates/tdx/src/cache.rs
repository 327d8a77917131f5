//! Memoized quote verifications.
//!
//! Every RA-TLS handshake verifies the peer's quote, and a peer presents the
//! same quote (embedded in its certificate) for the certificate's lifetime.
//! Full DCAP verification costs several ECDSA verifications and certificate
//! path builds, so results are cached by SHA-256 of the raw quote until the
//! end of the window in which their collateral is valid (after which the
//! verdict must be re-derived from fresh collateral). The cache is bounded:
//! when full, expired entries go first, then those expiring soonest.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::verify::TdxVerified;

/// Default number of cached verifications.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

type Key = [u8; 32];

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, (TdxVerified, u64)>,
    /// `(expires_at, key)` of every entry, to find the next to evict.
    by_expiry: BTreeSet<(u64, Key)>,
    hits: u64,
    misses: u64,
}

impl Inner {
    fn remove(&mut self, key: &Key) {
        if let Some((_, expires_at)) = self.entries.remove(key) {
            self.by_expiry.remove(&(expires_at, *key));
        }
    }

    fn pop_first(&mut self) {
        if let Some((_, key)) = self.by_expiry.pop_first() {
            self.entries.remove(&key);
        }
    }
}

/// Thread-safe, bounded cache of successful verifications.
pub struct VerificationCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl Default for VerificationCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_CAPACITY)
    }
}

impl VerificationCache {
    /// A cache holding at most `capacity` verifications (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        VerificationCache { capacity, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters more than losing a cache entry.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached verification of `raw_quote`, if any is still valid at
    /// unix time `now` (an expired one is dropped).
    pub fn get(&self, raw_quote: &[u8], now: u64) -> Option<TdxVerified> {
        let key: Key = Sha256::digest(raw_quote).into();
        let mut inner = self.lock();
        match inner.entries.get(&key) {
            Some((v, expires_at)) if now < *expires_at => {
                let v = v.clone();
                inner.hits += 1;
                Some(v)
            }
            Some(_) => {
                inner.remove(&key);
                inner.misses += 1;
                None
            }
            None => {
                inner.misses += 1;
                None
            }
        }
    }

    /// Remember that `raw_quote` verified as `verified`, valid while unix
    /// time is before `expires_at`. `now` is used to evict expired entries.
    pub fn insert(&self, raw_quote: &[u8], verified: TdxVerified, expires_at: u64, now: u64) {
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        let key: Key = Sha256::digest(raw_quote).into();
        let mut inner = self.lock();
        inner.remove(&key);
        if inner.entries.len() >= self.capacity {
            while inner.by_expiry.first().is_some_and(|(t, _)| *t <= now) {
                inner.pop_first();
            }
        }
        while inner.entries.len() >= self.capacity {
            inner.pop_first();
        }
        inner.by_expiry.insert((expires_at, key));
        inner.entries.insert(key, (verified, expires_at));
    }

    /// Number of cached verifications (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    /// Lookups not answered from the cache (absent or expired).
    pub fn misses(&self) -> u64 {
        self.lock().misses
    }

    /// Maximum number of entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use cocoon_ratls::Measurements;

    use super::*;
    use crate::quote::{TdReportKind, TdxQuote};

    fn verified(tag: u8) -> TdxVerified {
        TdxVerified {
            quote: TdxQuote {
                version: 4,
                measurements: Measurements { mrtd: [tag; 48], rtmr: [[tag; 48]; 4] },
                report_data: [tag; 64],
                td_attributes: [0; 8],
                debug: false,
                kind: TdReportKind::Td10,
                raw: vec![tag],
            },
            tcb_status: "UpToDate".into(),
            advisory_ids: vec![],
        }
    }

    #[test]
    fn hit_until_expiry() {
        let c = VerificationCache::new(4);
        assert!(c.get(b"q1", 100).is_none());
        c.insert(b"q1", verified(1), 200, 100);
        assert_eq!(c.get(b"q1", 150), Some(verified(1)));
        assert_eq!(c.get(b"q1", 199), Some(verified(1)));
        assert!(c.get(b"q2", 150).is_none());
        assert_eq!((c.hits(), c.misses()), (2, 2));
        assert!(c.get(b"q1", 200).is_none(), "expired entry must not be served");
        assert_eq!(c.len(), 0, "expired entry is dropped on lookup");
    }

    #[test]
    fn bounded_evicts_expired_then_soonest() {
        let c = VerificationCache::new(3);
        c.insert(b"a", verified(1), 50, 10); // expires first
        c.insert(b"b", verified(2), 300, 10);
        c.insert(b"c", verified(3), 200, 10);
        // At t=100 "a" is expired: it is the one evicted.
        c.insert(b"d", verified(4), 400, 100);
        assert_eq!(c.len(), 3);
        assert!(c.get(b"a", 40).is_none());
        // Nothing expired at t=100: "c" (expiring soonest) goes.
        c.insert(b"e", verified(5), 500, 100);
        assert_eq!(c.len(), 3);
        assert!(c.get(b"c", 100).is_none());
        for (k, t) in [(&b"b"[..], 2), (b"d", 4), (b"e", 5)] {
            assert_eq!(c.get(k, 100), Some(verified(t)));
        }
    }

    #[test]
    fn never_exceeds_capacity_and_reinsert_replaces() {
        let c = VerificationCache::new(8);
        for i in 0..100u8 {
            c.insert(&[i], verified(i), 1000 + u64::from(i), 0);
            assert!(c.len() <= 8);
        }
        c.insert(&[99], verified(7), 5000, 0);
        assert_eq!(c.len(), 8);
        assert_eq!(c.get(&[99], 4000), Some(verified(7)));
        let zero = VerificationCache::new(0);
        zero.insert(b"x", verified(1), 100, 0);
        assert!(zero.is_empty());
    }
}
