//! A real TDX quote inside an RA-TLS certificate: the policy verifies the quote (DCAP) and then
//! insists that its report data is SHA-512 of this certificate's claims. The recorded Intel
//! quote was made for another key, so any certificate we make around it must be refused.

use cocoon_ratls::{issue_certificate, Claims, Evidence, Policy, PolicyConfig, PolicyKind, RaTlsError, Role, TeeType};
use cocoon_tdx::{FileCollateral, TdxPolicy, TdxVerifier};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Inside the sample collateral's validity window.
const SAMPLE_NOW: u64 = 1_751_000_000;

fn tdx_policy() -> Policy {
    let verifier =
        TdxVerifier::new(Arc::new(FileCollateral::new(data("tdx_quote_collateral.json"))), TdxPolicy::cloud())
            .with_fixed_time(SAMPLE_NOW);
    Policy::new(PolicyConfig::new(PolicyKind::Tdx)).with_verifier(Arc::new(verifier))
}

fn cert_around(quote: Vec<u8>) -> Vec<u8> {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pk: [u8; 32] = kp.public_key_raw().try_into().unwrap();
    let claims = Claims::new(Role::Worker, pk, BTreeMap::new()).encode();
    let now = SystemTime::now();
    let ev = Evidence { tee: TeeType::Tdx, quote };
    issue_certificate(
        &kp.serialize_pem(),
        &claims,
        Some(&ev),
        now - Duration::from_secs(60),
        now + Duration::from_secs(3600),
    )
    .unwrap()
}

#[test]
fn a_genuine_quote_for_another_key_is_refused() {
    let quote = std::fs::read(data("tdx_quote")).unwrap();
    let err = tdx_policy().check(&cert_around(quote), SystemTime::now()).unwrap_err();
    // The quote itself verified (otherwise this would be an attestation error): what fails is
    // the binding to the certificate's key.
    assert!(matches!(err, RaTlsError::ReportDataMismatch), "{err}");
}

#[test]
fn a_tampered_quote_in_a_certificate_is_refused_before_the_binding() {
    let mut quote = std::fs::read(data("tdx_quote")).unwrap();
    quote[48 + 136] ^= 1; // one bit of MRTD
    let err = tdx_policy().check(&cert_around(quote), SystemTime::now()).unwrap_err();
    assert!(matches!(err, RaTlsError::Attestation(_)), "{err}");
}
