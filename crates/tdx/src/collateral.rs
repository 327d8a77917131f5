//! DCAP collateral: where it comes from and how long it is good for.
//!
//! A TDX quote is only verifiable together with Intel-signed *collateral*:
//! the TCB info for the platform's FMSPC, the TD quoting enclave identity,
//! the root CA and PCK CRLs and the certificate chains that sign them. All of
//! it is checked against the Intel root CA that dcap-qvl pins
//! ([`dcap_qvl::verify::QuoteVerifier::new_prod`]); nothing in the collateral
//! is trusted by itself, so it may come from a file, an untrusted cache or
//! any PCCS.
//!
//! Each piece has an issue date and a next-update/expiry date; [`validity`]
//! turns them into the one window in which verification can succeed, which is
//! also how long a verification result or a cached collateral may be reused.
//!
//! [`CollateralSource`] is what the verifier asks for collateral:
//! [`FileCollateral`] (a recorded JSON file, for offline verification and
//! tests) or [`crate::PccsCollateral`] (fetched from Intel PCS or a PCCS).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dcap_qvl::QuoteCollateralV3;
use serde::Deserialize;
use x509_parser::pem::Pem;

use crate::error::TdxError;
use crate::quote::TdxQuote;

/// Something that can produce collateral for a quote at a given time.
///
/// Implementations may block (network, disk); they are called from the
/// verifier on a verification-cache miss.
pub trait CollateralSource: Send + Sync {
    /// Collateral to verify `quote` at unix time `now`.
    fn collateral(&self, quote: &TdxQuote, now: u64) -> Result<QuoteCollateralV3, TdxError>;
}

/// Load collateral from a JSON file in the format of dcap-qvl's
/// `sample/*_collateral.json` (the serde form of [`QuoteCollateralV3`]:
/// PEM chains and JSON bodies as strings, CRLs and signatures as hex).
pub fn collateral_from_file(path: impl AsRef<Path>) -> Result<QuoteCollateralV3, TdxError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| TdxError::io("read collateral", path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TdxError::Collateral(format!("{}: not a DCAP collateral JSON: {e}", path.display())))
}

/// The window `(start, end)`, in unix seconds, in which `c` can verify a
/// quote: `start <= now < end`. `start` is the latest issue date (TCB info,
/// QE identity, CRL thisUpdate, certificate notBefore) and `end` the
/// earliest next-update/expiry (TCB info and QE identity nextUpdate, CRL
/// nextUpdate, certificate notAfter) over everything the collateral
/// carries. The end is exclusive because a CRL is expired at its
/// nextUpdate instant.
///
/// The PCK certificate chain embedded in a quote is not part of the
/// collateral (unless `pck_certificate_chain` is set); dcap-qvl checks its
/// dates during verification.
pub fn validity(c: &QuoteCollateralV3) -> Result<(u64, u64), TdxError> {
    let mut start = 0u64;
    let mut end = u64::MAX;
    let mut add = |issued: u64, expires: Option<u64>| {
        start = start.max(issued);
        if let Some(x) = expires {
            end = end.min(x);
        }
    };

    for (what, json) in [("TCB info", &c.tcb_info), ("QE identity", &c.qe_identity)] {
        let (issued, next) = json_dates(what, json)?;
        add(issued, Some(next));
    }
    for (what, der) in [("root CA CRL", &c.root_ca_crl), ("PCK CRL", &c.pck_crl)] {
        let (_, crl) = x509_parser::parse_x509_crl(der)
            .map_err(|e| TdxError::Collateral(format!("{what} is not a DER CRL: {e}")))?;
        let this_update = unix(what, crl.last_update().timestamp())?;
        let next_update = crl.next_update().map(|t| unix(what, t.timestamp())).transpose()?;
        add(this_update, next_update);
    }
    let chains = [
        ("TCB info issuer chain", Some(&c.tcb_info_issuer_chain)),
        ("QE identity issuer chain", Some(&c.qe_identity_issuer_chain)),
        ("PCK CRL issuer chain", Some(&c.pck_crl_issuer_chain)),
        ("PCK certificate chain", c.pck_certificate_chain.as_ref()),
    ];
    for (what, pem) in chains {
        let Some(pem) = pem else { continue };
        for (not_before, not_after) in chain_dates(what, pem)? {
            add(not_before, Some(not_after));
        }
    }

    if start > end {
        return Err(TdxError::Collateral(format!(
            "collateral has an empty validity window (latest issue {start} > earliest expiry {end})"
        )));
    }
    Ok((start, end))
}

/// `issueDate`/`nextUpdate` of a TCB info or QE identity JSON body.
fn json_dates(what: &str, json: &str) -> Result<(u64, u64), TdxError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Dates {
        issue_date: String,
        next_update: String,
    }
    let d: Dates =
        serde_json::from_str(json).map_err(|e| TdxError::Collateral(format!("{what} is not valid JSON: {e}")))?;
    Ok((rfc3339(what, &d.issue_date)?, rfc3339(what, &d.next_update)?))
}

fn rfc3339(what: &str, s: &str) -> Result<u64, TdxError> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| TdxError::Collateral(format!("{what}: bad date {s:?}: {e}")))?;
    unix(what, t.unix_timestamp())
}

fn unix(what: &str, t: i64) -> Result<u64, TdxError> {
    u64::try_from(t).map_err(|_| TdxError::Collateral(format!("{what}: date before 1970")))
}

/// `(notBefore, notAfter)` of every certificate of a PEM chain.
fn chain_dates(what: &str, pem: &str) -> Result<Vec<(u64, u64)>, TdxError> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| TdxError::Collateral(format!("{what}: bad PEM: {e}")))?;
        let cert = block.parse_x509().map_err(|e| TdxError::Collateral(format!("{what}: bad certificate: {e}")))?;
        let v = cert.validity();
        out.push((unix(what, v.not_before.timestamp())?, unix(what, v.not_after.timestamp())?));
    }
    Ok(out)
}

/// Collateral recorded in a file (see [`collateral_from_file`]), read
/// once and then served from memory for every quote.
///
/// For offline verification of recorded quotes and for tests. It does not
/// refresh: once the window of [`validity`] is over, verification fails with
/// [`TdxError::CollateralExpired`].
#[derive(Debug, Clone)]
pub struct FileCollateral {
    path: PathBuf,
    loaded: OnceLock<QuoteCollateralV3>,
}

impl FileCollateral {
    /// Collateral from `path`, read on first use (a failed read is retried
    /// on the next use). See [`FileCollateral::load`] to fail at startup.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCollateral { path: path.into(), loaded: OnceLock::new() }
    }

    /// Collateral from `path`, read and checked now.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, TdxError> {
        let source = Self::new(path);
        source.get()?;
        Ok(source)
    }

    /// The file this collateral comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The collateral, reading the file if not done yet.
    pub fn get(&self) -> Result<&QuoteCollateralV3, TdxError> {
        if let Some(c) = self.loaded.get() {
            return Ok(c);
        }
        let c = collateral_from_file(&self.path)?;
        validity(&c)?;
        // Another thread may have won the race; either value is the file's.
        let _ = self.loaded.set(c);
        self.loaded.get().ok_or_else(|| TdxError::Collateral(format!("{}: not loaded", self.path.display())))
    }
}

impl CollateralSource for FileCollateral {
    fn collateral(&self, _quote: &TdxQuote, _now: u64) -> Result<QuoteCollateralV3, TdxError> {
        self.get().cloned()
    }
}
