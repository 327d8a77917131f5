//! The holder side: what a client or a worker keeps about one proxy.
//!
//! Since vouchers are cumulative, a holder only needs the latest valid one: it is the whole claim. The book
//! checks every incoming voucher (signature by the expected proxy key, kind, contract), refuses one whose
//! token count went down, and persists each new highest voucher atomically, so a crash never leaves a torn
//! file and never loses an accepted voucher. A rejected voucher changes nothing, in memory or on disk.
//!
//! The contract: a voucher names the contract that will honour it (`expected_my_address`). A book is
//! pinned to one contract, given at open when the holder knows it (from configuration), else learned from
//! the first voucher it accepts (or from its file). From then on a voucher for any other contract is
//! refused ([`VoucherError::WrongContract`]): a proxy cannot move a holder's claim to someone else's
//! contract.
//!
//! The file is JSON, one book per file (format version 2):
//!
//! ```json
//! { "version": 2, "proxy_key": "<hex>", "kind": "client_charge", "contract": "0:<hex>", "voucher": "<base64 BOC>" }
//! ```
//!
//! The caller picks the path, normally one file per proxy. If an existing file belongs to another proxy
//! key, kind or (pinned) contract, or is a version 1 file (the layout before on-chain vouchers, with an
//! `account` and nanoton amounts, which no contract accepts), the book starts empty with a warning, and
//! the next accepted voucher replaces that file. A file that cannot be read as a valid book is an error
//! rather than silently dropped, since it may be the only copy of money owed.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::address::TonAddress;
use crate::error::VoucherError;
use crate::voucher::{SignedVoucher, VoucherKind};

/// The book file format this crate writes.
const BOOK_VERSION: u32 = 2;

/// Outcome of [`VoucherBook::accept`] for a valid voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A higher total: it is now the latest (and persisted). `delta` is the increase over the previous one.
    New {
        /// The new cumulative token count.
        tokens: u64,
        /// `tokens` minus the previous cumulative count (0 before any voucher).
        delta: u64,
    },
    /// Same total as the latest one: nothing to do.
    Duplicate,
}

/// On-disk form of a book (version 2).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookFile {
    version: u32,
    proxy_key: String,
    kind: VoucherKind,
    contract: TonAddress,
    voucher: SignedVoucher,
}

/// The latest voucher a client or worker holds from one proxy, optionally persisted to a file.
#[derive(Debug)]
pub struct VoucherBook {
    kind: VoucherKind,
    proxy_key: [u8; 32],
    /// The contract vouchers must name; `None` until configured or learned from a first voucher.
    contract: Option<TonAddress>,
    latest: Option<SignedVoucher>,
    path: Option<PathBuf>,
}

impl VoucherBook {
    /// Opens a book, loading `path` if given and present (see the module doc for mismatching files).
    ///
    /// `contract` pins the book to a known contract; with `None` the first accepted voucher (or the
    /// file) pins it.
    pub fn open(
        path: Option<PathBuf>,
        kind: VoucherKind,
        contract: Option<TonAddress>,
        proxy_key: [u8; 32],
    ) -> Result<Self, VoucherError> {
        VerifyingKey::from_bytes(&proxy_key).map_err(|_| VoucherError::InvalidKey)?;
        let mut book = VoucherBook { kind, proxy_key, contract, latest: None, path };
        if let Some(path) = book.path.clone() {
            if let Some(file) = book.load(&path)? {
                book.contract = Some(file.contract);
                book.latest = Some(file.voucher);
            }
        }
        Ok(book)
    }

    fn load(&self, path: &Path) -> Result<Option<BookFile>, VoucherError> {
        let corrupt = |why: String| VoucherError::Corrupt(format!("{}: {why}", path.display()));
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        match value.get("version") {
            None if value.get("account").is_some() => {
                tracing::warn!(path = %path.display(),
                    "voucher book file has the old (version 1) layout, which no contract accepts; starting empty");
                return Ok(None);
            }
            Some(v) if v.as_u64() == Some(u64::from(BOOK_VERSION)) => {}
            other => return Err(corrupt(format!("unsupported book version {other:?}, expected {BOOK_VERSION}"))),
        }
        let file: BookFile = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        let proxy_key = decode_key(&file.proxy_key, "proxy_key")?;
        let pinned_elsewhere = self.contract.is_some_and(|c| c != file.contract);
        if proxy_key != self.proxy_key || file.kind != self.kind || pinned_elsewhere {
            tracing::warn!(path = %path.display(), "voucher book file is for another proxy, kind or contract; starting empty");
            return Ok(None);
        }
        self.check(&file.voucher, Some(&file.contract)).map_err(|e| corrupt(format!("stored voucher invalid: {e}")))?;
        Ok(Some(file))
    }

    /// Checks signature, kind and (when known) contract of `v`.
    fn check(&self, v: &SignedVoucher, contract: Option<&TonAddress>) -> Result<(), VoucherError> {
        v.verify(&self.proxy_key)?;
        if v.voucher.kind != self.kind {
            return Err(VoucherError::WrongKind);
        }
        if let Some(expected) = contract {
            if v.voucher.contract != *expected {
                return Err(VoucherError::WrongContract { expected: *expected, got: v.voucher.contract });
            }
        }
        Ok(())
    }

    /// Validates `v` and, if it raises the total, persists it and makes it the latest (pinning the
    /// book to its contract if it was not pinned yet).
    pub fn accept(&mut self, v: SignedVoucher) -> Result<Accepted, VoucherError> {
        self.check(&v, self.contract.as_ref())?;
        let got = v.voucher.tokens;
        let previous = match &self.latest {
            Some(latest) => {
                let latest = latest.voucher.tokens;
                if got < latest {
                    return Err(VoucherError::NotMonotonic { latest, got });
                }
                if got == latest {
                    return Ok(Accepted::Duplicate);
                }
                latest
            }
            None => 0,
        };
        if let Some(path) = &self.path {
            self.persist(path, &v)?;
        }
        if self.contract.is_none() {
            tracing::info!(contract = %v.voucher.contract, kind = ?self.kind, "voucher book pinned to its contract");
        }
        self.contract = Some(v.voucher.contract);
        self.latest = Some(v);
        Ok(Accepted::New { tokens: got, delta: got - previous })
    }

    fn persist(&self, path: &Path, v: &SignedVoucher) -> Result<(), VoucherError> {
        let file = BookFile {
            version: BOOK_VERSION,
            proxy_key: hex::encode(self.proxy_key),
            kind: self.kind,
            contract: v.voucher.contract,
            voucher: v.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| VoucherError::Corrupt(e.to_string()))?;
        write_atomic(path, &json)?;
        Ok(())
    }

    /// The latest accepted voucher, if any.
    pub fn latest(&self) -> Option<&SignedVoucher> {
        self.latest.as_ref()
    }

    /// The latest accepted cumulative token count, 0 if none.
    pub fn tokens(&self) -> u64 {
        self.latest.as_ref().map_or(0, |v| v.voucher.tokens)
    }

    /// The kind of voucher this book accepts.
    pub fn kind(&self) -> VoucherKind {
        self.kind
    }

    /// The contract this book is pinned to, if it is pinned yet.
    pub fn contract(&self) -> Option<&TonAddress> {
        self.contract.as_ref()
    }

    /// The proxy key vouchers must be signed with.
    pub fn proxy_key(&self) -> &[u8; 32] {
        &self.proxy_key
    }

    /// Where the book is persisted, if anywhere.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

fn decode_key(text: &str, field: &str) -> Result<[u8; 32], VoucherError> {
    let bytes = hex::decode(text).map_err(|e| VoucherError::Corrupt(format!("{field}: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| VoucherError::Corrupt(format!("{field}: expected 32 bytes, got {}", bytes.len())))
}

/// Replaces `path` with `contents` atomically: temp file in the same directory, fsync, rename, then a
/// best-effort fsync of the directory so the rename itself survives a crash.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "voucher book path has no file name"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not fsync voucher book directory");
    }
    Ok(())
}
