//! Parsing of TDX quotes into what the rest of cocoon cares about.
//!
//! A DCAP quote is a header, a TD report body and a signature blob. Policies
//! and the RA-TLS binding only need the TD's measurements (MRTD and RTMR0..3),
//! its 64 bytes of report data and its attributes, so [`TdxQuote`] extracts
//! exactly those (through dcap-qvl's parser) and keeps the raw bytes for
//! verification. Parsing proves nothing: only [`crate::verify_quote`] does.
//!
//! Supported bodies: TDX 1.0 (quote v4, or v5 body type 2), TDX 1.5 (v5 body
//! type 3) and TDX 1.5ex (v5 body type 4). SGX quotes are refused with
//! [`TdxError::NotTdx`].

use cocoon_ratls::{ImageHash, Measurements};
use dcap_qvl::quote::{Quote, Report};

use crate::error::TdxError;

/// `tee_type` of TDX quotes in the DCAP quote header.
const TEE_TYPE_TDX: u32 = 0x81;

/// Which TD report body a quote carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TdReportKind {
    /// TDX 1.0 report (584 bytes).
    Td10,
    /// TDX 1.5 report (adds TEE_TCB_SVN2 and MRSERVICETD).
    Td15,
    /// TDX 1.5ex report (adds TD id, service TD and initial TCB fields).
    Td15Ex,
}

/// The parts of a TDX quote cocoon uses, plus the raw quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxQuote {
    /// DCAP quote version (4 or 5).
    pub version: u16,
    /// MRTD and RTMR0..3.
    pub measurements: Measurements,
    /// The 64 bytes of report data the TD asked to be signed.
    pub report_data: [u8; 64],
    /// TD attributes (little-endian 64-bit bit field, TDX module ABI).
    pub td_attributes: [u8; 8],
    /// Any TUD ("TD under debug") attribute bit is set: DEBUG or one of the
    /// profiling bits. The host can then read the TD's state; such a TD
    /// proves nothing about confidentiality.
    pub debug: bool,
    /// Which TD report body the quote carries.
    pub kind: TdReportKind,
    /// The quote as received.
    pub raw: Vec<u8>,
}

impl TdxQuote {
    /// Parse a DCAP quote and extract the TD report fields. Never panics on
    /// arbitrary input; refuses SGX quotes with [`TdxError::NotTdx`].
    pub fn parse(bytes: &[u8]) -> Result<Self, TdxError> {
        let quote = Quote::parse(bytes).map_err(|e| TdxError::Parse(format!("{e:#}")))?;
        if quote.header.tee_type != TEE_TYPE_TDX {
            return Err(TdxError::NotTdx(format!(
                "quote header tee_type is {:#x} (TDX is {TEE_TYPE_TDX:#x}, SGX is 0x0)",
                quote.header.tee_type
            )));
        }
        let kind = match &quote.report {
            Report::TD10(_) => TdReportKind::Td10,
            Report::TD15(_) => TdReportKind::Td15,
            Report::TD15Ex(_) => TdReportKind::Td15Ex,
            Report::SgxEnclave(_) => {
                return Err(TdxError::NotTdx("quote carries an SGX enclave report".into()));
            }
        };
        let td = quote.report.as_td10().ok_or_else(|| TdxError::NotTdx("quote carries no TD report".into()))?;
        Ok(TdxQuote {
            version: quote.header.version,
            measurements: Measurements { mrtd: td.mr_td, rtmr: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3] },
            report_data: td.report_data,
            td_attributes: td.td_attributes,
            debug: td.td_attributes[0] != 0,
            kind,
            raw: bytes.to_vec(),
        })
    }

    /// `SHA-256(mrtd || rtmr0 || rtmr1 || rtmr2 || rtmr3)`: what allowlists name.
    pub fn image_hash(&self) -> ImageHash {
        self.measurements.image_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_inputs_are_parse_errors() {
        for len in [0usize, 1, 47, 48, 100, 631] {
            let err = TdxQuote::parse(&vec![0u8; len]).unwrap_err();
            assert!(matches!(err, TdxError::Parse(_)), "len {len}: {err}");
        }
    }

    #[test]
    fn sgx_header_is_not_tdx() {
        // A v4 header with tee_type SGX followed by zeros parses as an SGX
        // report (and then fails on the auth data) or is refused as SGX; it
        // must never be taken for TDX.
        let mut bytes = vec![0u8; 2000];
        bytes[0] = 4;
        let err = TdxQuote::parse(&bytes).unwrap_err();
        assert!(matches!(err, TdxError::Parse(_) | TdxError::NotTdx(_)), "{err}");
    }
}
