//! The holder side: what a client or a worker keeps about one proxy.
//!
//! Since vouchers are cumulative, a holder only needs the latest valid one: it is the whole claim. The book
//! checks every incoming voucher (signature by the expected proxy key, kind, own account), refuses one whose
//! amount went down, and persists each new highest voucher atomically, so a crash never leaves a torn file
//! and never loses an accepted voucher. A rejected voucher changes nothing, in memory or on disk.
//!
//! The file is JSON, one book per file:
//!
//! ```json
//! { "proxy_key": "<hex>", "kind": "client_charge", "account": "<hex>", "voucher": "<base64 BOC>" }
//! ```
//!
//! The caller picks the path, normally one file per proxy. If an existing file belongs to another proxy
//! key, account or kind, the book starts empty (and the next accepted voucher replaces that file). A file
//! that cannot be read as a valid book is an error rather than silently dropped, since it may be the only
//! copy of money owed.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::error::VoucherError;
use crate::voucher::{SignedVoucher, VoucherKind};

/// Outcome of [`VoucherBook::accept`] for a valid voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A higher total: it is now the latest (and persisted). `delta` is the increase over the previous one.
    New {
        /// The new cumulative amount.
        amount: u64,
        /// `amount` minus the previous cumulative amount (0 before any voucher).
        delta: u64,
    },
    /// Same total as the latest one: nothing to do.
    Duplicate,
}

/// On-disk form of a book.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookFile {
    proxy_key: String,
    kind: VoucherKind,
    account: String,
    voucher: SignedVoucher,
}

/// The latest voucher a client or worker holds from one proxy, optionally persisted to a file.
#[derive(Debug)]
pub struct VoucherBook {
    kind: VoucherKind,
    account: [u8; 32],
    proxy_key: [u8; 32],
    latest: Option<SignedVoucher>,
    path: Option<PathBuf>,
}

impl VoucherBook {
    /// Opens a book, loading `path` if given and present (see the module doc for mismatching files).
    pub fn open(
        path: Option<PathBuf>,
        kind: VoucherKind,
        account: [u8; 32],
        proxy_key: [u8; 32],
    ) -> Result<Self, VoucherError> {
        VerifyingKey::from_bytes(&proxy_key).map_err(|_| VoucherError::InvalidKey)?;
        let mut book = VoucherBook { kind, account, proxy_key, latest: None, path };
        if let Some(path) = &book.path {
            book.latest = book.load(path)?;
        }
        Ok(book)
    }

    fn load(&self, path: &Path) -> Result<Option<SignedVoucher>, VoucherError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let file: BookFile =
            serde_json::from_slice(&bytes).map_err(|e| VoucherError::Corrupt(format!("{}: {e}", path.display())))?;
        let proxy_key = decode_key(&file.proxy_key, "proxy_key")?;
        let account = decode_key(&file.account, "account")?;
        if proxy_key != self.proxy_key || account != self.account || file.kind != self.kind {
            tracing::warn!(path = %path.display(), "voucher book file is for another proxy, account or kind; starting empty");
            return Ok(None);
        }
        self.check(&file.voucher)
            .map_err(|e| VoucherError::Corrupt(format!("{}: stored voucher invalid: {e}", path.display())))?;
        Ok(Some(file.voucher))
    }

    /// Checks signature, kind and account of `v` against this book.
    fn check(&self, v: &SignedVoucher) -> Result<(), VoucherError> {
        v.verify(&self.proxy_key)?;
        if v.voucher.kind != self.kind {
            return Err(VoucherError::WrongKind);
        }
        if v.voucher.account != self.account {
            return Err(VoucherError::WrongAccount);
        }
        Ok(())
    }

    /// Validates `v` and, if it raises the total, persists it and makes it the latest.
    pub fn accept(&mut self, v: SignedVoucher) -> Result<Accepted, VoucherError> {
        self.check(&v)?;
        let got = v.voucher.amount;
        let previous = match &self.latest {
            Some(latest) => {
                let latest = latest.voucher.amount;
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
        self.latest = Some(v);
        Ok(Accepted::New { amount: got, delta: got - previous })
    }

    fn persist(&self, path: &Path, v: &SignedVoucher) -> Result<(), VoucherError> {
        let file = BookFile {
            proxy_key: hex::encode(self.proxy_key),
            kind: self.kind,
            account: hex::encode(self.account),
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

    /// The latest accepted cumulative amount, 0 if none.
    pub fn amount(&self) -> u64 {
        self.latest.as_ref().map_or(0, |v| v.voucher.amount)
    }

    /// The kind of voucher this book accepts.
    pub fn kind(&self) -> VoucherKind {
        self.kind
    }

    /// The holder's own account.
    pub fn account(&self) -> &[u8; 32] {
        &self.account
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
