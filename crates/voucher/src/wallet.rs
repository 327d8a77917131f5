//! The vouchers one node (a client or a worker) holds: one [`VoucherBook`] per proxy, shared by
//! the node's links, persisted under `<dir>/vouchers/<proxy key>.json`.
//!
//! Each book learns the contract its vouchers are for from the first voucher it accepts (unless
//! the node knows it and opens the book pinned with [`VoucherWallet::open_pinned`]); from then on
//! it refuses vouchers for any other contract. A voucher that fails verification is a protocol
//! error: it is refused, logged loudly, and changes nothing.

use crate::{Accepted, SignedVoucher, TonAddress, VoucherBook, VoucherError, VoucherKind};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Mutex, MutexGuard},
};

/// A node's voucher books, one per proxy, all of one kind.
pub struct VoucherWallet {
    dir: Option<PathBuf>,
    kind: VoucherKind,
    books: Mutex<BTreeMap<[u8; 32], VoucherBook>>,
}

/// One proxy's latest voucher, for `/stats`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    /// The proxy's key (hex).
    pub proxy_key: String,
    /// Cumulative adjusted tokens the latest voucher carries.
    pub tokens: u64,
    /// The contract the vouchers are for (raw form), once known.
    pub contract: Option<String>,
    /// The latest voucher (base64 BOC), which anyone can submit to its contract.
    pub voucher: Option<String>,
}

impl VoucherWallet {
    /// Vouchers of `kind`; kept in memory only without a `dir`.
    pub fn new(dir: Option<PathBuf>, kind: VoucherKind) -> Self {
        VoucherWallet { dir, kind, books: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<[u8; 32], VoucherBook>> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the book for `proxy_key` (idempotent) and returns its latest voucher as base64,
    /// to present at hello. The book learns its contract from its file or first voucher.
    pub fn open(&self, proxy_key: &[u8; 32]) -> Result<Option<String>, VoucherError> {
        self.open_pinned(proxy_key, None)
    }

    /// Like [`VoucherWallet::open`], pinning a newly opened book to `contract` when given.
    pub fn open_pinned(
        &self,
        proxy_key: &[u8; 32],
        contract: Option<TonAddress>,
    ) -> Result<Option<String>, VoucherError> {
        let mut books = self.lock();
        if !books.contains_key(proxy_key) {
            let path = self.dir.as_ref().map(|d| d.join("vouchers").join(format!("{}.json", hex::encode(proxy_key))));
            if let Some(parent) = path.as_ref().and_then(|p| p.parent()) {
                std::fs::create_dir_all(parent)?;
            }
            books.insert(*proxy_key, VoucherBook::open(path, self.kind, contract, *proxy_key)?);
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
            Ok(Accepted::New { tokens, delta }) => {
                tracing::debug!(proxy = %hex::encode(&proxy_key[..6]), tokens, delta, "voucher accepted")
            }
            Ok(Accepted::Duplicate) => {}
            Err(e) => tracing::error!(proxy = %hex::encode(proxy_key), error = %e,
                "PROTOCOL ERROR: the proxy sent a voucher that does not verify; refused"),
        }
        result
    }

    /// The latest voucher from each proxy.
    pub fn held(&self) -> Vec<Held> {
        self.lock()
            .iter()
            .map(|(k, b)| Held {
                proxy_key: hex::encode(k),
                tokens: b.tokens(),
                contract: b.contract().map(ToString::to_string),
                voucher: b.latest().and_then(|v| v.to_base64().ok()),
            })
            .collect()
    }

    /// The sum of the latest token counts over all proxies.
    pub fn total_tokens(&self) -> u64 {
        self.lock().values().map(|b| b.tokens()).sum()
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
        let mine = TonAddress::basechain([5; 32]);
        let w = VoucherWallet::new(Some(dir.path().to_path_buf()), VoucherKind::WorkerPayout);
        assert_eq!(w.open(&pk).unwrap(), None);
        let v = |tokens, contract| {
            Voucher { kind: VoucherKind::WorkerPayout, query_id: 1, tokens, contract }
                .sign(&proxy)
                .unwrap()
                .to_base64()
                .unwrap()
        };
        assert_eq!(w.accept(&pk, &v(10, mine)).unwrap(), Accepted::New { tokens: 10, delta: 10 });
        assert!(matches!(w.accept(&pk, &v(9, mine)), Err(VoucherError::NotMonotonic { latest: 10, got: 9 })));
        // Pinned by the first voucher: another contract is refused.
        let other = TonAddress::basechain([6; 32]);
        assert!(matches!(w.accept(&pk, &v(20, other)), Err(VoucherError::WrongContract { .. })));
        assert!(w.accept(&pk, "not a voucher").is_err());
        assert!(matches!(w.accept(&[4; 32], &v(20, mine)), Err(VoucherError::UnknownProxy)));
        assert_eq!(w.total_tokens(), 10);
        assert_eq!(w.held()[0].contract.as_deref(), Some(mine.to_string().as_str()));
        // A restarted node presents what it held, and is still pinned.
        let again = VoucherWallet::new(Some(dir.path().to_path_buf()), VoucherKind::WorkerPayout);
        assert_eq!(again.open(&pk).unwrap(), Some(v(10, mine)));
        assert!(matches!(again.accept(&pk, &v(20, other)), Err(VoucherError::WrongContract { .. })));
        // A wallet that knows its contract refuses a first voucher for another one.
        let pinned = VoucherWallet::new(None, VoucherKind::WorkerPayout);
        pinned.open_pinned(&pk, Some(other)).unwrap();
        assert!(matches!(pinned.accept(&pk, &v(5, mine)), Err(VoucherError::WrongContract { .. })));
    }
}
