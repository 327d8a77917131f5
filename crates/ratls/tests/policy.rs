//! `Policy::check` on hand-crafted certificates: every rejection reason.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cocoon_ratls::{
    issue_certificate, report_data, Attester, Claims, DevAttester, Evidence, Identity, IdentityConfig, Measurements,
    Policy, PolicyConfig, PolicyKind, RaTlsError, Role, TeeType, OID_CLAIMS, OID_EVIDENCE,
};
use common::*;

fn fresh_key() -> (String, [u8; 32]) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pk: [u8; 32] = kp.public_key_raw().try_into().unwrap();
    (kp.serialize_pem(), pk)
}

fn window() -> (SystemTime, SystemTime) {
    let now = SystemTime::now();
    (now - Duration::from_secs(60), now + Duration::from_secs(3600))
}

fn dev_evidence(claims_bytes: &[u8]) -> Evidence {
    let attester = DevAttester::new(Measurements::dev_default());
    Evidence { tee: TeeType::Dev, quote: attester.attest(&report_data(claims_bytes)).unwrap() }
}

fn check(kind: PolicyKind, der: &[u8]) -> Result<cocoon_ratls::PeerInfo, RaTlsError> {
    Policy::new(PolicyConfig::new(kind)).check(der, SystemTime::now())
}

#[test]
fn well_formed_crafted_cert_accepted() {
    init_tracing();
    let (pem, pk) = fresh_key();
    let mut extra = BTreeMap::new();
    extra.insert("model".to_owned(), "qwen".to_owned());
    let claims = Claims::new(Role::Worker, pk, extra.clone()).encode();
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&dev_evidence(&claims)), nb, na).unwrap();
    let info = check(PolicyKind::Dev, &der).unwrap();
    assert_eq!(info.public_key, pk);
    assert_eq!(info.extra, extra);
    assert_eq!(info.tee, Some(TeeType::Dev));
    assert_eq!(info.image_hash, Some(Measurements::dev_default().image_hash()));
}

#[test]
fn expected_role_mismatch_rejected() {
    init_tracing();
    let worker = dev_identity(Role::Worker);
    let p = Policy::new(PolicyConfig {
        kind: PolicyKind::Dev,
        image_hashes: vec![],
        measurements: vec![],
        expected_role: Some(Role::Client),
    });
    let err = p.check(&worker.cert_der(), SystemTime::now()).unwrap_err();
    assert!(matches!(err, RaTlsError::RoleMismatch { got: Role::Worker, expected: Role::Client }));
    assert_eq!(err.to_string(), "peer role worker, expected client");
    // The same policy with the right role accepts.
    let p_ok = Policy::new(PolicyConfig {
        kind: PolicyKind::Any,
        image_hashes: vec![],
        measurements: vec![],
        expected_role: Some(Role::Worker),
    });
    assert!(p_ok.check(&worker.cert_der(), SystemTime::now()).is_ok());
}

#[test]
fn claims_key_not_cert_key_rejected() {
    init_tracing();
    let (pem, _pk) = fresh_key();
    let (_, other_pk) = fresh_key();
    let claims = Claims::new(Role::Worker, other_pk, BTreeMap::new()).encode();
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&dev_evidence(&claims)), nb, na).unwrap();
    for kind in [PolicyKind::Any, PolicyKind::Dev] {
        let err = check(kind, &der).unwrap_err();
        assert!(matches!(err, RaTlsError::KeyMismatch { .. }), "{err}");
    }
}

#[test]
fn evidence_for_other_claims_rejected() {
    init_tracing();
    let (pem, pk) = fresh_key();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();
    let other_claims = Claims::new(Role::Client, pk, BTreeMap::new()).encode();
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&dev_evidence(&other_claims)), nb, na).unwrap();
    let err = check(PolicyKind::Dev, &der).unwrap_err();
    assert!(matches!(err, RaTlsError::ReportDataMismatch), "{err}");
    assert_eq!(err.to_string(), "report data does not match SHA-512 of the certificate claims");
}

#[test]
fn quote_moved_to_another_key_rejected() {
    init_tracing();
    // Take a genuine certificate's evidence and put it in a cert for a new key.
    let victim = dev_identity(Role::Worker);
    let victim_der = victim.cert_der();
    let parsed = x509_parser::parse_x509_certificate(&victim_der).unwrap().1;
    let ev_bytes =
        parsed.extensions().iter().find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.59999.7.2").unwrap().value.to_vec();
    let evidence = Evidence::decode(&ev_bytes).unwrap();
    let (pem, pk) = fresh_key();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&evidence), nb, na).unwrap();
    assert!(matches!(check(PolicyKind::Dev, &der).unwrap_err(), RaTlsError::ReportDataMismatch));
}

#[test]
fn expired_and_not_yet_valid_rejected() {
    init_tracing();
    let mut cfg =
        IdentityConfig::new(Role::Worker).with_attester(Arc::new(DevAttester::new(Measurements::dev_default())));
    cfg.validity = Duration::from_secs(3600);
    let id = Identity::new(cfg).unwrap();
    let p = Policy::new(PolicyConfig::new(PolicyKind::Dev));
    let now = SystemTime::now();
    assert!(p.check(&id.cert_der(), now).is_ok());
    let err = p.check(&id.cert_der(), now + Duration::from_secs(2 * 3600)).unwrap_err();
    assert!(matches!(err, RaTlsError::Expired(_)), "{err}");
    assert!(err.to_string().starts_with("certificate expired at "), "{err}");
    let err = p.check(&id.cert_der(), now - Duration::from_secs(3600)).unwrap_err();
    assert!(matches!(err, RaTlsError::NotYetValid(_)), "{err}");
    // Expiry applies under "any" too.
    let any = Policy::new(PolicyConfig::new(PolicyKind::Any));
    assert!(any.check(&id.cert_der(), now + Duration::from_secs(2 * 3600)).is_err());
}

#[test]
fn no_evidence_rejected_by_dev_accepted_by_any() {
    init_tracing();
    let id = plain_identity(Role::Client);
    let err = check(PolicyKind::Dev, &id.cert_der()).unwrap_err();
    assert!(matches!(err, RaTlsError::MissingEvidence(_)), "{err}");
    assert_eq!(err.to_string(), "no attestation in certificate (policy dev requires one)");
    let info = check(PolicyKind::Any, &id.cert_der()).unwrap();
    assert_eq!(info.public_key, id.public_key());
    assert_eq!(info.tee, None);
    assert_eq!(info.measurements, None);
}

#[test]
fn any_does_not_report_unverified_measurements() {
    let id = dev_identity(Role::Worker);
    let info = check(PolicyKind::Any, &id.cert_der()).unwrap();
    assert_eq!(info.tee, None);
    assert_eq!(info.image_hash, None);
}

#[test]
fn image_allowlist_accepts_listed_hash() {
    let id = dev_identity(Role::Worker);
    let p = Policy::new(PolicyConfig {
        measurements: vec![],
        kind: PolicyKind::Dev,
        image_hashes: vec![other_measurements().image_hash(), Measurements::dev_default().image_hash()],
        expected_role: None,
    });
    assert!(p.check(&id.cert_der(), SystemTime::now()).is_ok());
}

#[test]
fn tdx_evidence_without_verifier_rejected() {
    init_tracing();
    let (pem, pk) = fresh_key();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();
    let ev = Evidence { tee: TeeType::Tdx, quote: vec![1, 2, 3] };
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&ev), nb, na).unwrap();
    let err = check(PolicyKind::Dev, &der).unwrap_err();
    assert!(matches!(err, RaTlsError::NoVerifier(TeeType::Tdx)), "{err}");
}

#[test]
fn registered_verifier_is_used() {
    struct FakeTdx;
    impl cocoon_ratls::EvidenceVerifier for FakeTdx {
        fn tee_type(&self) -> TeeType {
            TeeType::Tdx
        }
        fn verify(
            &self,
            quote: &[u8],
            _now: SystemTime,
        ) -> Result<cocoon_ratls::VerifiedEvidence, cocoon_ratls::AttestError> {
            let report_data: [u8; 64] =
                quote.try_into().map_err(|_| cocoon_ratls::AttestError::Malformed("len".into()))?;
            Ok(cocoon_ratls::VerifiedEvidence { measurements: Measurements::dev_default(), report_data })
        }
    }
    let (pem, pk) = fresh_key();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();
    let ev = Evidence { tee: TeeType::Tdx, quote: report_data(&claims).to_vec() };
    let (nb, na) = window();
    let der = issue_certificate(&pem, &claims, Some(&ev), nb, na).unwrap();
    let p = Policy::new(PolicyConfig::new(PolicyKind::Dev)).with_verifier(Arc::new(FakeTdx));
    let info = p.check(&der, SystemTime::now()).unwrap();
    assert_eq!(info.tee, Some(TeeType::Tdx));

    let bad = Evidence { tee: TeeType::Tdx, quote: vec![0; 3] };
    let der = issue_certificate(&pem, &claims, Some(&bad), nb, na).unwrap();
    assert!(matches!(p.check(&der, SystemTime::now()).unwrap_err(), RaTlsError::Attestation(_)));
}

/// Build a cert with rcgen directly (as an attacker could).
fn rcgen_cert(kp: &rcgen::KeyPair, exts: Vec<(Vec<u64>, Vec<u8>, bool)>) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::default();
    let (nb, na) = window();
    params.not_before = nb.into();
    params.not_after = na.into();
    for (oid, content, critical) in exts {
        let mut e = rcgen::CustomExtension::from_oid_content(&oid, content);
        e.set_criticality(critical);
        params.custom_extensions.push(e);
    }
    params.self_signed(kp).unwrap().der().to_vec()
}

#[test]
fn unknown_critical_extension_rejected_noncritical_ignored() {
    init_tracing();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pk: [u8; 32] = kp.public_key_raw().try_into().unwrap();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();

    let der = rcgen_cert(&kp, vec![(OID_CLAIMS.to_vec(), claims.clone(), true), (vec![1, 2, 3], vec![5], true)]);
    let err = check(PolicyKind::Any, &der).unwrap_err();
    assert_eq!(err.to_string(), "unknown critical extension 1.2.3");

    let der = rcgen_cert(&kp, vec![(OID_CLAIMS.to_vec(), claims.clone(), true), (vec![1, 2, 3], vec![5], false)]);
    assert!(check(PolicyKind::Any, &der).is_ok());

    // Claims missing entirely.
    let der = rcgen_cert(&kp, vec![]);
    assert!(matches!(check(PolicyKind::Any, &der).unwrap_err(), RaTlsError::MissingClaims));

    // Malformed evidence under dev.
    let der = rcgen_cert(&kp, vec![(OID_CLAIMS.to_vec(), claims, true), (OID_EVIDENCE.to_vec(), b"{".to_vec(), true)]);
    assert!(matches!(check(PolicyKind::Dev, &der).unwrap_err(), RaTlsError::MalformedEvidence(_)));
}

#[test]
fn non_ed25519_cert_rejected() {
    init_tracing();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let der = rcgen_cert(&kp, vec![(OID_CLAIMS.to_vec(), b"{}".to_vec(), true)]);
    assert!(matches!(check(PolicyKind::Any, &der).unwrap_err(), RaTlsError::NotEd25519(_)));
}

#[test]
fn tampered_signature_rejected() {
    init_tracing();
    let id = plain_identity(Role::Worker);
    let mut der = id.cert_der();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert!(matches!(check(PolicyKind::Any, &der).unwrap_err(), RaTlsError::BadSelfSignature));
}

#[test]
fn tdx_policy_refuses_dev_evidence() {
    init_tracing();
    let id = dev_identity(Role::Worker);
    let err = check(PolicyKind::Tdx, &id.cert_der()).unwrap_err();
    assert!(matches!(err, RaTlsError::WrongTee { got: TeeType::Dev, .. }), "{err}");
    assert_eq!(err.to_string(), "policy tdx refuses dev attestation");
    // The same certificate passes a dev policy: only the kind differs.
    assert!(check(PolicyKind::Dev, &id.cert_der()).is_ok());
}

#[test]
fn measurement_allowlist_pins_the_full_set() {
    init_tracing();
    let id = dev_identity(Role::Worker);
    let with = |sets: Vec<Measurements>| {
        Policy::new(PolicyConfig {
            kind: PolicyKind::Dev,
            image_hashes: vec![],
            measurements: sets,
            expected_role: None,
        })
        .check(&id.cert_der(), SystemTime::now())
    };
    assert!(with(vec![Measurements::dev_default()]).is_ok());
    // Same MRTD and RTMR0..2, another RTMR3: refused (every register is pinned).
    let mut rtmr3_differs = Measurements::dev_default();
    rtmr3_differs.rtmr[3][0] ^= 1;
    let err = with(vec![rtmr3_differs, other_measurements()]).unwrap_err();
    assert!(matches!(err, RaTlsError::ImageNotAllowed(_)), "{err}");
}
