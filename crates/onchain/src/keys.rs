//! A role's wallet is the standard wallet v4r2 of its RA-TLS identity key.
//!
//! So a proxy knows, from the key a peer attested with, which wallet owns that peer's client or
//! worker contract, and no peer can claim another's contract: owning it means holding the key.
//! The key signs TLS handshakes, vouchers (the proxy) and wallet messages; these never collide,
//! since a wallet signs a 32-byte cell hash and TLS 1.3 signs a 98-byte-plus context string.

use cocoon_ton::{StdAddr, WalletV4};
use cocoon_voucher::TonAddress;
use ed25519_dalek::SigningKey;

/// The basechain, where every cocoon contract and wallet lives.
pub const WORKCHAIN: i8 = 0;

/// The wallet owning the contracts of the peer whose identity key is `public_key`.
pub fn owner_of(public_key: &[u8; 32]) -> Result<StdAddr, cocoon_ton::Error> {
    WalletV4::address_for(public_key, WORKCHAIN)
}

/// This role's own wallet.
pub fn wallet(key: &SigningKey) -> Result<WalletV4, cocoon_ton::Error> {
    WalletV4::new(key.clone(), WORKCHAIN)
}

/// A `cocoon-ton` address as the voucher crate writes it.
pub fn to_voucher_address(a: &StdAddr) -> TonAddress {
    TonAddress { workchain: a.workchain, hash: a.address.0 }
}

/// A voucher-crate address as `cocoon-ton` writes it.
pub fn from_voucher_address(a: &TonAddress) -> StdAddr {
    StdAddr::new(a.workchain, cocoon_ton::HashBytes(a.hash))
}
