//! The vouchers one node (a client or a worker) holds: one [`VoucherBook`] per proxy, shared by
//! the node's links, persisted under `<dir>/vouchers/<proxy key>.json`.
//!
//! A voucher that fails verification is a protocol error: it is refused, logged loudly, and
//! changes nothing.

use crate::{Accepted, SignedVoucher, VoucherBook, VoucherError, VoucherKind};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Mutex, MutexGuard},
};

pub struct VoucherWallet {
    dir: Option<PathBuf>,
    kind: VoucherKind,
    account: [u8; 32],
    books: Mutex<BTreeMap<[u8; 32], VoucherBook>>,
}

/// One proxy's latest voucher, for `/stats`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    pub proxy_key: String,
    /// Cumulative nanotons the latest voucher carries.
    pub amount: u64,
    /// The latest voucher (base64 BOC), which anyone can submit to settlement.
    pub voucher: Option<String>,
}

impl VoucherWallet {
    /// Vouchers of `kind` for `account` (this node's key); kept in memory only without a `dir`.
    pub fn new(dir: Option<PathBuf>, kind: VoucherKind, account: [u8; 32]) -> Self {
        VoucherWallet { dir, kind, account, books: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<[u8; 32], VoucherBook>> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the book for `proxy_key` (idempotent) and returns its latest voucher as base64,
    /// to present at hello.
    pub fn open(&self, proxy_key: &[u8; 32]) -> Result<Option<String>, VoucherError> {
        let mut books = self.lock();
        if !books.contains_key(proxy_key) {
            let path = self.dir.as_ref().map(|d| d.join("vouchers").join(format!("{}.json", hex::encode(proxy_key))));
            if let Some(parent) = path.as_ref().and_then(|p| p.parent()) {
                std::fs::create_dir_all(parent)?;
            }
            books.insert(*proxy_key, VoucherBook::open(path, self.kind, self.account, *proxy_key)?);
        }
        Ok(books.get(proxy_key).and_then(|b| b.latest()).and_then(|v| v.to_base64().ok()))
    }

    /// Verifies and keeps a voucher from `proxy_key` (base64 BOC).
    pub fn accept(&self, proxy_key: &[u8; 32], text: &str) -> Result<Accepted, VoucherError> {
        let result = SignedVoucher::from_base64(text).and_then(|v| {
            let mut books = self.lock();
            let book = books.get_mut(proxy_key).ok_or(VoucherError::UnknownProxy)?;
            book.accept(v)
        });
        match &result {
            Ok(Accepted::New { amount, delta }) => {
                tracing::debug!(proxy = %hex::encode(&proxy_key[..6]), amount, delta, "voucher accepted")
            }
            Ok(Accepted::Duplicate) => {}
            Err(e) => tracing::error!(proxy = %hex::encode(proxy_key), error = %e,
                "PROTOCOL ERROR: the proxy sent a voucher that does not verify; refused"),
        }
        result
    }

    /// The latest voucher amount from each proxy.
    pub fn held(&self) -> Vec<Held> {
        self.lock()
            .iter()
            .map(|(k, b)| Held {
                proxy_key: hex::encode(k),
                amount: b.amount(),
                voucher: b.latest().and_then(|v| v.to_base64().ok()),
            })
            .collect()
    }

    /// The sum of the latest amounts over all proxies.
    pub fn total(&self) -> u64 {
        self.lock().values().map(|b| b.amount()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Voucher;
    use ed25519_dalek::SigningKey;

    #[test]
    fn keeps_the_latest_per_proxy_and_refuses_bad_vouchers() {
        let dir = tempfile::tempdir().unwrap();
        let proxy = SigningKey::from_bytes(&[3; 32]);
        let pk = proxy.verifying_key().to_bytes();
        let me = [5; 32];
        let w = VoucherWallet::new(Some(dir.path().to_path_buf()), VoucherKind::WorkerPayout, me);
        assert_eq!(w.open(&pk).unwrap(), None);
        let v = |amount| {
            Voucher { kind: VoucherKind::WorkerPayout, query_id: 1, account: me, amount }
                .sign(&proxy)
                .unwrap()
                .to_base64()
                .unwrap()
        };
        assert_eq!(w.accept(&pk, &v(10)).unwrap(), Accepted::New { amount: 10, delta: 10 });
        assert!(matches!(w.accept(&pk, &v(9)), Err(VoucherError::NotMonotonic { latest: 10, got: 9 })));
        assert!(w.accept(&pk, "not a voucher").is_err());
        assert!(matches!(w.accept(&[4; 32], &v(20)), Err(VoucherError::UnknownProxy)));
        assert_eq!(w.total(), 10);
        // A restarted node presents what it held.
        let again = VoucherWallet::new(Some(dir.path().to_path_buf()), VoucherKind::WorkerPayout, me);
        assert_eq!(again.open(&pk).unwrap(), Some(v(10)));
    }
}
