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
        if touched_signed || bytes.len() < raw.len() {
            prop_assert!(result.is_err(), "a modified quote verified");
        }
    }
}
