//! Intel TDX attestation for cocoon's RA-TLS.
//!
//! RA-TLS (`cocoon-ratls`) embeds a quote in each certificate and asks an
//! [`cocoon_ratls::Attester`] / [`cocoon_ratls::EvidenceVerifier`] pair to
//! produce and check it. This crate is the real-TEE pair for
//! [`cocoon_ratls::TeeType::Tdx`]:
//!
//! * [`TdxAttester`] (`attester.rs`): quotes from inside a TDX guest through
//!   Linux configfs-tsm; fails, never falls back, where that is missing.
//! * [`TdxQuote`] (`quote.rs`): the parsed quote: MRTD + RTMR0..3 as
//!   [`cocoon_ratls::Measurements`], report data, TD attributes.
//! * [`verify_quote`] (`verify.rs`): full DCAP verification with dcap-qvl
//!   against its pinned Intel root CA, then a [`TdxPolicy`] (`policy.rs`):
//!   allowed TCB statuses, platform flags, debug TDs.
//! * Collateral (`collateral.rs`, `pccs.rs`): what verification needs from
//!   Intel (TCB info, QE identity, CRLs), from a recorded file
//!   ([`FileCollateral`]) or Intel PCS / a PCCS ([`PccsCollateral`], cached
//!   on disk until it expires); [`validity`] is the window in which it can
//!   verify anything.
//! * [`TdxVerifier`] (`verifier.rs`): the [`cocoon_ratls::EvidenceVerifier`],
//!   with a bounded [`VerificationCache`] (`cache.rs`) of results valid until
//!   their collateral expires.

mod attester;
mod cache;
mod collateral;
mod error;
mod pccs;
mod policy;
mod quote;
mod verifier;
mod verify;

pub use attester::{TdxAttester, DEFAULT_TSM_REPORT_ROOT, TDX_PROVIDER};
pub use cache::{VerificationCache, DEFAULT_CACHE_CAPACITY};
pub use collateral::{collateral_from_file, validity, CollateralSource, FileCollateral};
pub use dcap_qvl::QuoteCollateralV3;
pub use error::TdxError;
pub use pccs::{fmspc_and_ca, PccsCollateral, DEFAULT_PCCS_TIMEOUT, INTEL_PCS_URL};
pub use policy::TdxPolicy;
pub use quote::{TdReportKind, TdxQuote};
pub use verifier::TdxVerifier;
pub use verify::{verify_quote, TdxVerified};
