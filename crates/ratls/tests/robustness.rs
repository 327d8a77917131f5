//! Malformed input to `Policy::check` / `peer_info` must error, never panic.

mod common;

use std::time::SystemTime;

use cocoon_ratls::{peer_info, Policy, PolicyConfig, PolicyKind, Role};
use common::*;
use proptest::prelude::*;
use rustls::pki_types::CertificateDer;

fn policies() -> Vec<Policy> {
    vec![Policy::new(PolicyConfig::new(PolicyKind::Any)), Policy::new(PolicyConfig::new(PolicyKind::Dev))]
}

#[test]
fn every_truncation_is_an_error() {
    let der = dev_identity(Role::Worker).cert_der();
    let now = SystemTime::now();
    let ps = policies();
    for p in &ps {
        assert!(p.check(&der, now).is_ok());
    }
    for len in 0..der.len() {
        for p in &ps {
            assert!(p.check(&der[..len], now).is_err(), "truncated to {len} accepted");
        }
        assert!(peer_info(&[CertificateDer::from(der[..len].to_vec())]).is_err());
    }
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let der = dev_identity(Role::Worker).cert_der();
    let now = SystemTime::now();
    let p = Policy::new(PolicyConfig::new(PolicyKind::Dev));
    for i in 0..der.len() {
        let mut d = der.clone();
        d[i] ^= 0x5a;
        // The signature covers the TBS, so any flip there is fatal; the
        // outer algorithm/signature are checked byte-exactly. Nothing may panic.
        assert!(p.check(&d, now).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn empty_and_chain_inputs_to_peer_info() {
    assert!(peer_info(&[]).is_err());
    let der = plain_identity(Role::Worker).cert_der();
    let two = [CertificateDer::from(der.clone()), CertificateDer::from(der)];
    assert!(peer_info(&two).is_err());
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = Policy::new(PolicyConfig::new(PolicyKind::Dev));
        prop_assert!(p.check(&bytes, SystemTime::now()).is_err());
        prop_assert!(peer_info(&[CertificateDer::from(bytes)]).is_err());
    }

    #[test]
    fn der_prefixed_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Start like a real certificate so the parser gets further in.
        let mut bytes = vec![0x30, 0x82, 0x01, 0x20, 0x30, 0x81, 0xd3];
        bytes.extend(tail);
        let p = Policy::new(PolicyConfig::new(PolicyKind::Any));
        prop_assert!(p.check(&bytes, SystemTime::now()).is_err());
    }
}
