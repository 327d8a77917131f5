//! Arbitrary bytes must never panic the parser or the verifier.

mod common;

use cocoon_tdx::{verify_quote, TdxQuote};
use common::{good, mid, sample_policy};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let (_, c) = good();
        let _ = TdxQuote::parse(&bytes);
        prop_assert!(verify_quote(&bytes, &c, mid(&c), &sample_policy()).is_err());
    }

    #[test]
    fn random_header_on_random_body_never_panics(
        version in prop_oneof![Just(3u16), Just(4), Just(5), any::<u16>()],
        tee in prop_oneof![Just(0u32), Just(0x81), any::<u32>()],
        body_type in any::<u16>(),
        rest in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut bytes = Vec::new();
        bytes.extend(version.to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(tee.to_le_bytes());
        bytes.extend([0u8; 40]);
        bytes.extend(body_type.to_le_bytes());
        bytes.extend(rest);
        let _ = TdxQuote::parse(&bytes);
        let (_, c) = good();
        prop_assert!(verify_quote(&bytes, &c, mid(&c), &sample_policy()).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sample_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (raw, c) = good();
        // A v4 quote is its 632 signed bytes, a 4-byte signature-data length and that much
        // signature data; what follows is padding (the recorded quote has 70 zero bytes), which
        // no check reads, so cutting only padding leaves the same quote.
        let declared = 636 + u32::from_le_bytes([raw[632], raw[633], raw[634], raw[635]]) as usize;
        let mut bytes = raw.clone();
        let mut touched_signed = false;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            touched_signed |= i < 48 + 584 && bytes[i] != value;
            bytes[i] = value;
        }
        if let Some(at) = truncate {
            bytes.truncate(at.index(bytes.len()));
        }
        let _ = TdxQuote::parse(&bytes);
        let result = verify_quote(&bytes, &c, mid(&c), &sample_policy());
        if touched_signed || bytes.len() < declared {
            prop_assert!(result.is_err(), "a modified quote verified");
        }
    }
}

/// Cutting the recorded quote anywhere inside what it declares fails verification; cutting
/// only its trailing padding leaves the same quote (the case proptest found: it verifies).
#[test]
fn a_cut_inside_the_declared_quote_never_verifies() {
    let (raw, c) = good();
    let declared = 636 + u32::from_le_bytes([raw[632], raw[633], raw[634], raw[635]]) as usize;
    assert!(declared < raw.len() && raw[declared..].iter().all(|&b| b == 0), "the sample has zero padding");
    for cut in (0..declared).step_by(7).chain([declared - 1]) {
        assert!(verify_quote(&raw[..cut], &c, mid(&c), &sample_policy()).is_err(), "cut at {cut} verified");
    }
    assert!(verify_quote(&raw[..declared], &c, mid(&c), &sample_policy()).is_ok());
}
