//! Shared helpers: dcap-qvl's sample quotes and collateral (tests/data).
#![allow(dead_code)]

use std::path::PathBuf;

use cocoon_tdx::{collateral_from_file, validity, QuoteCollateralV3, TdxPolicy};

/// Path of a fixture in `tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The raw bytes of the sample quote `name` in `tests/data`.
pub fn quote(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

/// The collateral JSON `name` in `tests/data`, parsed.
pub fn collateral(name: &str) -> QuoteCollateralV3 {
    collateral_from_file(data(name)).unwrap()
}

/// The good TDX 1.0 sample and its collateral.
pub fn good() -> (Vec<u8>, QuoteCollateralV3) {
    (quote("tdx_quote"), collateral("tdx_quote_collateral.json"))
}

/// A time in the middle of `c`'s validity window.
pub fn mid(c: &QuoteCollateralV3) -> u64 {
    let (start, end) = validity(c).unwrap();
    start + (end - start) / 2
}

/// The samples come from cloud hosts: dynamic platform, cached keys, SMT.
pub fn sample_policy() -> TdxPolicy {
    TdxPolicy { allow_dynamic_platform: true, allow_cached_keys: true, allow_smt: true, ..TdxPolicy::default() }
}
