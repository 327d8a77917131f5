//! DCAP verification of dcap-qvl's recorded sample quotes.

mod common;

use cocoon_tdx::{validity, verify_quote, TdReportKind, TdxError, TdxPolicy, TdxQuote};
use common::{collateral, good, mid, quote, sample_policy};
use sha2::{Digest, Sha256};

const MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const RTMR: [&str; 4] = [
    "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
    "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
    "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
];
const REPORT_DATA: &str = "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9\
                           eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20";
const IMAGE_HASH: &str = "8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545";

/// Offsets in a TDX 1.0 TD report body (Intel TDX DCAP quote layout).
const TD_ATTRIBUTES: usize = 120;
const MR_TD: usize = 136;
const RT_MR0: usize = 328;
const REPORT_DATA_OFF: usize = 520;
const TD_REPORT10_LEN: usize = 584;
/// The body starts after the 48-byte header (v4), plus a 6-byte body
/// descriptor in v5.
const BODY_V4: usize = 48;
const BODY_V5: usize = 54;

fn field(raw: &[u8], body: usize, off: usize, len: usize) -> String {
    hex::encode(&raw[body + off..body + off + len])
}

#[test]
fn good_quote_verifies_with_its_measurements() {
    let (raw, c) = good();
    let v = verify_quote(&raw, &c, mid(&c), &sample_policy()).unwrap();
    assert_eq!(v.tcb_status, "UpToDate");
    assert!(v.advisory_ids.is_empty());
    let q = &v.quote;
    assert_eq!((q.version, q.kind, q.debug), (4, TdReportKind::Td10, false));
    assert_eq!(q.raw, raw);

    // The exact values, cross-checked against the bytes at the documented
    // TD report offsets.
    assert_eq!(hex::encode(q.measurements.mrtd), MRTD);
    assert_eq!(field(&raw, BODY_V4, MR_TD, 48), MRTD);
    for (i, rtmr) in RTMR.iter().enumerate() {
        assert_eq!(hex::encode(q.measurements.rtmr[i]), *rtmr, "rtmr{i}");
        assert_eq!(field(&raw, BODY_V4, RT_MR0 + 48 * i, 48), *rtmr, "rtmr{i} bytes");
    }
    assert_eq!(hex::encode(q.report_data), REPORT_DATA);
    assert_eq!(field(&raw, BODY_V4, REPORT_DATA_OFF, 64), REPORT_DATA);
    assert_eq!(field(&raw, BODY_V4, TD_ATTRIBUTES, 8), hex::encode(q.td_attributes));

    // Image hash = SHA-256(mrtd || rtmr0..3).
    let mut h = Sha256::new();
    h.update(hex::decode(MRTD).unwrap());
    for r in RTMR {
        h.update(hex::decode(r).unwrap());
    }
    let expected = hex::encode(h.finalize());
    assert_eq!(expected, IMAGE_HASH);
    assert_eq!(q.image_hash().to_string(), IMAGE_HASH);
}

#[test]
fn parse_alone_gives_the_same_fields() {
    let (raw, _) = good();
    let q = TdxQuote::parse(&raw).unwrap();
    assert_eq!(hex::encode(q.measurements.mrtd), MRTD);
    assert_eq!(q.image_hash().to_string(), IMAGE_HASH);
}

#[test]
fn sgx_quote_is_not_tdx() {
    let err = TdxQuote::parse(&quote("sgx_quote")).unwrap_err();
    assert!(matches!(err, TdxError::NotTdx(_)), "{err}");
    let c = collateral("tdx_quote_collateral.json");
    let err = verify_quote(&quote("sgx_quote"), &c, mid(&c), &sample_policy()).unwrap_err();
    assert!(matches!(err, TdxError::NotTdx(_)), "{err}");
}

#[test]
fn any_flipped_bit_in_the_signed_parts_is_rejected() {
    let (raw, c) = good();
    let now = mid(&c);
    let policy = sample_policy();
    verify_quote(&raw, &c, now, &policy).unwrap();

    let signed = BODY_V4 + TD_REPORT10_LEN; // header + TD report: signed by the attestation key
    let sig = signed + 4; // after the u32 auth data length: ECDSA signature (64), attestation key (64)
    let mut positions: Vec<usize> = (0..signed).step_by(19).collect(); // 34 positions over header and body
    positions.extend([3, 47, BODY_V4 + MR_TD, BODY_V4 + RT_MR0 + 100, BODY_V4 + REPORT_DATA_OFF + 63, signed - 1]);
    positions.extend((sig..sig + 128).step_by(9)); // signature and attestation key
    assert!(positions.len() > 40);
    for pos in positions {
        for bit in [0u8, 5] {
            let mut bad = raw.clone();
            bad[pos] ^= 1 << bit;
            assert!(verify_quote(&bad, &c, now, &policy).is_err(), "flip of bit {bit} at byte {pos} was accepted");
        }
    }
}

#[test]
fn time_outside_the_collateral_window_is_rejected() {
    let (raw, c) = good();
    let (start, end) = validity(&c).unwrap();
    assert_eq!((start, end), (1_750_329_147, 1_752_919_235)); // 2025-06-19T10:32:27Z .. 2025-07-19T10:00:35Z
    let policy = sample_policy();
    verify_quote(&raw, &c, start, &policy).unwrap();
    verify_quote(&raw, &c, end - 1, &policy).unwrap();
    match verify_quote(&raw, &c, start - 1, &policy) {
        Err(TdxError::CollateralNotYetValid { valid_from, now }) => assert_eq!((valid_from, now), (start, start - 1)),
        other => panic!("expected CollateralNotYetValid, got {other:?}"),
    }
    for t in [end, end + 1, end + 86_400 * 365] {
        match verify_quote(&raw, &c, t, &policy) {
            Err(TdxError::CollateralExpired { expired_at, now }) => assert_eq!((expired_at, now), (end, t)),
            other => panic!("expected CollateralExpired at {t}, got {other:?}"),
        }
    }
}

#[test]
fn strict_default_policy_refuses_the_cloud_sample() {
    let (raw, c) = good();
    let err = verify_quote(&raw, &c, mid(&c), &TdxPolicy::default()).unwrap_err();
    assert!(matches!(&err, TdxError::PolicyRefused(m) if m.contains("Dynamic platform")), "{err}");
    let only_dynamic = TdxPolicy { allow_dynamic_platform: true, ..TdxPolicy::default() };
    let err = verify_quote(&raw, &c, mid(&c), &only_dynamic).unwrap_err();
    assert!(matches!(&err, TdxError::PolicyRefused(m) if m.contains("Cached keys")), "{err}");
    verify_quote(&raw, &c, mid(&c), &TdxPolicy::cloud()).unwrap();
}

#[test]
fn td15ex_quote_verifies() {
    let raw = quote("tdx_quote_td15ex");
    let c = collateral("tdx_quote_td15ex_collateral.json");
    assert_eq!(validity(&c).unwrap(), (1_791_419_306, 1_794_008_711));
    let v = verify_quote(&raw, &c, mid(&c), &sample_policy()).unwrap();
    assert_eq!(v.tcb_status, "UpToDate");
    assert_eq!((v.quote.version, v.quote.kind), (5, TdReportKind::Td15Ex));
    assert_eq!(hex::encode(v.quote.measurements.mrtd), field(&raw, BODY_V5, MR_TD, 48));
    assert_eq!(hex::encode(v.quote.measurements.rtmr[3]), field(&raw, BODY_V5, RT_MR0 + 3 * 48, 48));
    assert_eq!(hex::encode(v.quote.report_data), field(&raw, BODY_V5, REPORT_DATA_OFF, 64));
}

/// The good platform (FMSPC B0C06F000000) judged by the newer TCB
/// evaluation data (number 20) of the td15ex collateral is out of date.
/// That collateral carries the td15ex platform's PCK chain, which dcap-qvl
/// prefers over the quote's own, so it is dropped first.
fn outdated_case() -> (Vec<u8>, cocoon_tdx::QuoteCollateralV3) {
    let mut c = collateral("tdx_quote_td15ex_collateral.json");
    assert!(c.pck_certificate_chain.is_some());
    c.pck_certificate_chain = None;
    (quote("tdx_quote"), c)
}

#[test]
fn outdated_platform_is_refused_by_default_and_named() {
    let (raw, c) = outdated_case();
    let err = verify_quote(&raw, &c, mid(&c), &sample_policy()).unwrap_err();
    match &err {
        TdxError::TcbStatusNotAllowed { status, allowed } => {
            assert_eq!(status, "OutOfDate");
            assert_eq!(allowed, &["UpToDate"]);
        }
        other => panic!("expected TcbStatusNotAllowed, got {other:?}"),
    }
    assert!(err.to_string().contains("TCB status OutOfDate is not allowed"), "{err}");

    let allow = TdxPolicy { allowed_tcb_statuses: vec!["UpToDate".into(), "OutOfDate".into()], ..sample_policy() };
    let v = verify_quote(&raw, &c, mid(&c), &allow).unwrap();
    assert_eq!(v.tcb_status, "OutOfDate");
    assert_eq!(v.advisory_ids, ["INTEL-SA-01192", "INTEL-SA-01245", "INTEL-SA-01312", "INTEL-SA-01313"]);
    assert_eq!(hex::encode(v.quote.measurements.mrtd), MRTD);
}

#[test]
fn collateral_pck_chain_of_another_platform_is_rejected() {
    let c = collateral("tdx_quote_td15ex_collateral.json");
    let err = verify_quote(&quote("tdx_quote"), &c, mid(&c), &TdxPolicy::cloud()).unwrap_err();
    assert!(matches!(&err, TdxError::Verify(m) if m.contains("qe_report")), "{err}");
}

#[test]
fn outdated_sample_matches_no_tcb_level() {
    // dcap-qvl's "outdated" sample has CPUSVN component 7 = 3 where every
    // TCB level of its collateral needs 5: no level matches, which no policy
    // can allow.
    let raw = quote("tdx_quote_outdated");
    let c = collateral("tdx_quote_outdated_collateral.json");
    assert_eq!(validity(&c).unwrap(), (1_771_412_331, 1_774_003_275));
    let q = TdxQuote::parse(&raw).unwrap();
    assert_eq!((q.version, q.kind), (5, TdReportKind::Td15));
    let everything = TdxPolicy {
        allowed_tcb_statuses: ["UpToDate", "OutOfDate", "OutOfDateConfigurationNeeded", "TDRelaunchAdvised"]
            .map(String::from)
            .to_vec(),
        ..TdxPolicy::cloud()
    };
    let err = verify_quote(&raw, &c, mid(&c), &everything).unwrap_err();
    assert!(matches!(&err, TdxError::Verify(m) if m.contains("No matching TCB level")), "{err}");
}

#[test]
fn unknown_tcb_status_fails_to_load_and_to_verify() {
    let err = serde_json::from_str::<TdxPolicy>(r#"{"allowed_tcb_statuses": ["UpToDate", "Fine"]}"#).unwrap_err();
    assert!(err.to_string().contains("unknown TCB status \"Fine\""), "{err}");
    let bad = TdxPolicy { allowed_tcb_statuses: vec!["Fine".into()], ..TdxPolicy::default() };
    assert!(matches!(bad.validate(), Err(TdxError::InvalidPolicy(_))));
    let (raw, c) = good();
    assert!(matches!(verify_quote(&raw, &c, mid(&c), &bad), Err(TdxError::InvalidPolicy(_))));
}
