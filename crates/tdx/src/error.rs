//! Error type of the TDX backend.
//!
//! A refused quote must tell the operator *why* (bad signature, stale
//! collateral, an out-of-date platform, a debug TD, ...), so every failure
//! mode has its own variant; [`TdxError`] converts into
//! [`cocoon_ratls::AttestError`] for the RA-TLS traits, keeping the message.

use std::path::PathBuf;

use cocoon_ratls::AttestError;

/// Errors of TDX quote generation, parsing and verification.
#[derive(Debug, thiserror::Error)]
pub enum TdxError {
    /// The bytes are not a well-formed DCAP quote.
    #[error("malformed TDX quote: {0}")]
    Parse(String),
    /// A well-formed quote of another TEE (SGX).
    #[error("not a TDX quote: {0}")]
    NotTdx(String),
    /// DCAP verification failed (signatures, certificate chains, CRLs, QE
    /// identity, TCB matching, TD attributes); carries dcap-qvl's reason.
    #[error("DCAP verification failed: {0}")]
    Verify(String),
    /// The platform's TCB status is not on the policy's allowlist.
    #[error("TCB status {status} is not allowed by the TDX policy (allowed: {})", allowed.join(", "))]
    TcbStatusNotAllowed {
        /// Status of the quote, as Intel names it (e.g. `OutOfDate`).
        status: String,
        /// Statuses the policy allows.
        allowed: Vec<String>,
    },
    /// A policy check other than the TCB status refused the quote (dynamic
    /// platform, cached keys, SMT, ...); carries dcap-qvl's reason.
    #[error("TDX policy refused the quote: {0}")]
    PolicyRefused(String),
    /// The TD runs in debug mode (its memory is readable by the host).
    #[error("the TD is in debug mode (TD attributes TUD bits set) and the policy does not allow debug TDs")]
    DebugTd,
    /// `now` is after the end of the collateral's validity window.
    #[error("collateral expired at unix time {expired_at} (now {now}); fetch fresh collateral")]
    CollateralExpired {
        /// Earliest next-update/expiry of the collateral.
        expired_at: u64,
        /// Verification time.
        now: u64,
    },
    /// `now` is before the start of the collateral's validity window.
    #[error("collateral is not valid before unix time {valid_from} (now {now}); check the clock")]
    CollateralNotYetValid {
        /// Latest issue date of the collateral.
        valid_from: u64,
        /// Verification time.
        now: u64,
    },
    /// Collateral could not be loaded, fetched or parsed.
    #[error("TDX collateral: {0}")]
    Collateral(String),
    /// The TDX policy is invalid (unknown TCB status name, ...).
    #[error("invalid TDX policy: {0}")]
    InvalidPolicy(String),
    /// Quote generation is not possible here (no configfs-tsm, not a TDX
    /// guest, the kernel raced with another writer, ...).
    #[error("TDX attestation unavailable: {0}")]
    Unavailable(String),
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "mkdir", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl TdxError {
    /// Wrap an I/O error with the operation and path it concerns.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TdxError::Io { op, path: path.into(), source }
    }
}

impl From<TdxError> for AttestError {
    fn from(e: TdxError) -> Self {
        let msg = e.to_string();
        match e {
            TdxError::Parse(_) | TdxError::NotTdx(_) => AttestError::Malformed(msg),
            TdxError::Unavailable(_) | TdxError::Io { .. } => AttestError::Unavailable(msg),
            TdxError::Verify(_)
            | TdxError::TcbStatusNotAllowed { .. }
            | TdxError::PolicyRefused(_)
            | TdxError::DebugTd
            | TdxError::CollateralExpired { .. }
            | TdxError::CollateralNotYetValid { .. }
            | TdxError::Collateral(_)
            | TdxError::InvalidPolicy(_) => AttestError::Invalid(msg),
        }
    }
}
