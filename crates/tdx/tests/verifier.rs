//! `TdxVerifier` as the RA-TLS `EvidenceVerifier`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cocoon_ratls::{AttestError, EvidenceVerifier, TeeType};
use cocoon_tdx::{
    validity, CollateralSource, FileCollateral, QuoteCollateralV3, TdxError, TdxPolicy, TdxQuote, TdxVerifier,
};
use common::{data, good, mid, sample_policy};

/// Serves fixed collateral and counts the requests.
struct Counting {
    collateral: QuoteCollateralV3,
    calls: AtomicUsize,
}

impl CollateralSource for Counting {
    fn collateral(&self, _quote: &TdxQuote, _now: u64) -> Result<QuoteCollateralV3, TdxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.collateral.clone())
    }
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

#[test]
fn returns_measurements_and_report_data_then_hits_the_cache() {
    let (raw, c) = good();
    let now = mid(&c);
    let source = Arc::new(Counting { collateral: c, calls: AtomicUsize::new(0) });
    let verifier = TdxVerifier::new(source.clone(), sample_policy());
    assert_eq!(verifier.tee_type(), TeeType::Tdx);

    let expected = TdxQuote::parse(&raw).unwrap();
    let ev = verifier.verify(&raw, at(now)).unwrap();
    assert_eq!(ev.measurements, expected.measurements);
    assert_eq!(ev.report_data, expected.report_data);
    assert_eq!(
        ev.measurements.image_hash().to_string(),
        "8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545"
    );
    assert_eq!((verifier.cache().hits(), verifier.cache().misses()), (0, 1));
    assert_eq!(source.calls.load(Ordering::SeqCst), 1);

    let again = verifier.verify(&raw, at(now + 60)).unwrap();
    assert_eq!(again, ev);
    assert_eq!((verifier.cache().hits(), verifier.cache().misses()), (1, 1));
    assert_eq!(source.calls.load(Ordering::SeqCst), 1, "a cache hit needs no collateral");
    assert_eq!(verifier.cache().len(), 1);
}

#[test]
fn cached_result_expires_with_the_collateral() {
    let (raw, c) = good();
    let (_, end) = validity(&c).unwrap();
    // Lazily loaded file collateral.
    let verifier = TdxVerifier::new(Arc::new(FileCollateral::new(data("tdx_quote_collateral.json"))), sample_policy());
    verifier.verify(&raw, at(end - 10)).unwrap();
    verifier.verify(&raw, at(end - 1)).unwrap();
    assert_eq!(verifier.cache().hits(), 1);
    let err = verifier.verify(&raw, at(end)).unwrap_err();
    assert!(matches!(&err, AttestError::Invalid(m) if m.contains("collateral expired")), "{err}");
    assert_eq!(verifier.cache().hits(), 1);
}

#[test]
fn fixed_time_replaces_the_handshake_time() {
    let (raw, c) = good();
    let now = mid(&c);
    let source = Arc::new(FileCollateral::load(data("tdx_quote_collateral.json")).unwrap());
    // The real clock is long past this collateral: without a fixed time it is expired.
    let live = TdxVerifier::new(source.clone(), sample_policy());
    let err = live.verify(&raw, SystemTime::now()).unwrap_err();
    assert!(matches!(&err, AttestError::Invalid(m) if m.contains("collateral expired")), "{err}");

    let offline = TdxVerifier::new(source, sample_policy()).with_fixed_time(now);
    let v = offline.verify_full(&raw, SystemTime::now()).unwrap();
    assert_eq!(v.tcb_status, "UpToDate");
    offline.verify(&raw, UNIX_EPOCH).unwrap();
    assert_eq!(offline.cache().hits(), 1);
}

#[test]
fn refusals_map_onto_attest_errors() {
    let (raw, c) = good();
    let now = mid(&c);
    let strict = TdxVerifier::new(
        Arc::new(FileCollateral::load(data("tdx_quote_collateral.json")).unwrap()),
        TdxPolicy::default(),
    )
    .with_fixed_time(now);
    let err = strict.verify(&raw, at(now)).unwrap_err();
    assert!(matches!(&err, AttestError::Invalid(m) if m.contains("Dynamic platform")), "{err}");
    assert_eq!(strict.cache().len(), 0, "refusals are not cached");
    let err = strict.verify(b"not a quote", at(now)).unwrap_err();
    assert!(matches!(err, AttestError::Malformed(_)), "{err}");
    let mut tampered = raw.clone();
    tampered[48 + 136] ^= 1; // MRTD
    let err = strict.verify(&tampered, at(now)).unwrap_err();
    assert!(matches!(&err, AttestError::Invalid(m) if m.contains("DCAP verification failed")), "{err}");
}

#[test]
fn invalid_policy_or_collateral_file_refuses_everything() {
    let (raw, c) = good();
    let now = mid(&c);
    let source = Arc::new(FileCollateral::load(data("tdx_quote_collateral.json")).unwrap());
    let bad = TdxPolicy { allowed_tcb_statuses: vec!["Revoked".into()], ..sample_policy() };
    assert!(matches!(bad.validate(), Err(TdxError::InvalidPolicy(_))));
    let err = TdxVerifier::new(source, bad).verify_full(&raw, at(now)).unwrap_err();
    assert!(matches!(err, TdxError::InvalidPolicy(_)), "{err}");

    assert!(FileCollateral::load(data("no_such_file.json")).is_err());
    let missing = TdxVerifier::new(Arc::new(FileCollateral::new(data("no_such_file.json"))), sample_policy());
    let err = missing.verify_full(&raw, at(now)).unwrap_err();
    assert!(matches!(&err, TdxError::Io { path, .. } if path.ends_with("no_such_file.json")), "{err}");
}
