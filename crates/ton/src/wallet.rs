//! A standard wallet v4r2 ([`WalletV4`]): its StateInit and address, signed external messages
//! carrying up to four internal messages, and [`WalletV4::send`], which reads the seqno, sends,
//! and waits until the wallet's transaction is on chain.
//!
//! The signing key never appears in logs or `Debug` output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer, SigningKey};
use tycho_types::boc::Boc;
use tycho_types::cell::{Cell, CellBuilder, CellFamily, HashBytes};
use tycho_types::models::{
    CurrencyCollection, ExtInMsgInfo, IntAddr, MessageLayout, MsgInfo, OwnedMessage, OwnedRelaxedMessage,
    RelaxedIntMsgInfo, RelaxedMsgInfo, StateInit, StdAddr,
};
use tycho_types::num::Tokens;

use crate::address::raw;
use crate::api::{TonApi, Transaction, TransactionsQuery};
use crate::contracts::{address_of, state_init};
use crate::error::{Error, Result, TonApiError};

/// The wallet v4r2 code (the public BOC every TON wallet app deploys; code hash
/// `feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0`).
pub const WALLET_V4R2_CODE: &str = "te6ccgECFAEAAtQAART/APSkE/S88sgLAQIBIAIDAgFIBAUE+PKDCNcYINMf0x/THwL4I7vyZO1E0NMf0x/T//QE0VFDuvKhUVG68qIF+QFUEGT5EPKj+AAkpMjLH1JAyx9SMMv/UhD0AMntVPgPAdMHIcAAn2xRkyDXSpbTB9QC+wDoMOAhwAHjACHAAuMAAcADkTDjDQOkyMsfEssfy/8QERITAubQAdDTAyFxsJJfBOAi10nBIJJfBOAC0x8hghBwbHVnvSKCEGRzdHK9sJJfBeAD+kAwIPpEAcjKB8v/ydDtRNCBAUDXIfQEMFyBAQj0Cm+hMbOSXwfgBdM/yCWCEHBsdWe6kjgw4w0DghBkc3RyupJfBuMNBgcCASAICQB4AfoA9AQw+CdvIjBQCqEhvvLgUIIQcGx1Z4MesXCAGFAEywUmzxZY+gIZ9ADLaRfLH1Jgyz8gyYBA+wAGAIpQBIEBCPRZMO1E0IEBQNcgyAHPFvQAye1UAXKwjiOCEGRzdHKDHrFwgBhQBcsFUAPPFiP6AhPLassfyz/JgED7AJJfA+ICASAKCwBZvSQrb2omhAgKBrkPoCGEcNQICEekk30pkQzmkD6f+YN4EoAbeBAUiYcVnzGEAgFYDA0AEbjJftRNDXCx+AA9sp37UTQgQFA1yH0BDACyMoHy//J0AGBAQj0Cm+hMYAIBIA4PABmtznaiaEAga5Drhf/AABmvHfaiaEAQa5DrhY/AAG7SB/oA1NQi+QAFyMoHFcv/ydB3dIAYyMsFywIizxZQBfoCFMtrEszMyXP7AMhAFIEBCPRR8qcCAHCBAQjXGPoA0z/IVCBHgQEI9FHyp4IQbm90ZXB0gBjIywXLAlAGzxZQBPoCFMtqEssfyz/Jc/sAAgBsgQEI1xj6ANM/MFIkgQEI9Fnyp4IQZHN0cnB0gBjIywXLAlAFzxZQA/oCE8tqyx8Syz/Jc/sAAAr0AMntVA==";

/// The default subwallet id: this plus the workchain.
pub const DEFAULT_WALLET_ID: u32 = 698_983_191;

/// Send mode 3: pay forwarding fees separately, ignore errors of this message's action.
pub const SEND_MODE_DEFAULT: u8 = 3;

/// One internal message a wallet sends.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Destination.
    pub to: StdAddr,
    /// Value in nanotons.
    pub value: u128,
    /// Bounce back if the destination fails (set false for a plain payment to an uninit account).
    pub bounce: bool,
    /// Body (`None`: empty).
    pub body: Option<Cell>,
    /// StateInit that deploys the destination.
    pub state_init: Option<StateInit>,
}

impl Transfer {
    /// `value` to `to`, bounceable, no body, no StateInit.
    pub fn new(to: StdAddr, value: u128) -> Self {
        Self { to, value, bounce: true, body: None, state_init: None }
    }

    /// With `body`.
    pub fn with_body(mut self, body: Cell) -> Self {
        self.body = Some(body);
        self
    }

    /// With a StateInit (deploys the destination).
    pub fn with_state_init(mut self, init: StateInit) -> Self {
        self.state_init = Some(init);
        self
    }

    /// Bounceable or not.
    pub fn bounce(mut self, bounce: bool) -> Self {
        self.bounce = bounce;
        self
    }

    /// The internal message cell (`MessageRelaxed`: the wallet fills in source and lt).
    pub fn to_cell(&self) -> Result<Cell> {
        let info = RelaxedMsgInfo::Int(RelaxedIntMsgInfo {
            ihr_disabled: true,
            bounce: self.bounce,
            bounced: false,
            src: None,
            dst: IntAddr::Std(self.to.clone()),
            value: CurrencyCollection::new(self.value),
            ..Default::default()
        });
        let body = self.body.clone().unwrap_or_else(Cell::empty_cell);
        let msg = OwnedRelaxedMessage { info, init: self.state_init.clone(), body: body.into(), layout: None };
        Ok(CellBuilder::build_from(&msg)?)
    }
}

/// How [`WalletV4::send`] sends and waits.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// The send mode of every message.
    pub send_mode: u8,
    /// The message is valid this long (`valid_until` = now + ttl).
    pub ttl: Duration,
    /// Wait between polls for the transaction.
    pub poll_interval: Duration,
    /// Keep looking this long after `valid_until` (the API may lag behind the chain).
    pub grace: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            send_mode: SEND_MODE_DEFAULT,
            ttl: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            grace: Duration::from_secs(15),
        }
    }
}

/// A wallet v4r2 with its key.
pub struct WalletV4 {
    key: SigningKey,
    wallet_id: u32,
    address: StdAddr,
    init: StateInit,
}

impl std::fmt::Debug for WalletV4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletV4")
            .field("address", &raw(&self.address))
            .field("wallet_id", &self.wallet_id)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl WalletV4 {
    /// The wallet of `key` in `workchain` with the default subwallet id.
    pub fn new(key: SigningKey, workchain: i8) -> Result<Self> {
        Self::with_wallet_id(key, workchain, DEFAULT_WALLET_ID.wrapping_add(workchain as i32 as u32))
    }

    /// The wallet of `key` in `workchain` with subwallet `wallet_id`.
    pub fn with_wallet_id(key: SigningKey, workchain: i8, wallet_id: u32) -> Result<Self> {
        let init = Self::init_for(key.verifying_key().as_bytes(), wallet_id)?;
        let address = address_of(&init, workchain)?;
        Ok(Self { key, wallet_id, address, init })
    }

    /// The address of the wallet of `public_key` in `workchain` with the default subwallet id,
    /// without its key: how a proxy finds the wallet that owns a peer's contracts (a role's
    /// wallet key is its RA-TLS identity key).
    pub fn address_for(public_key: &[u8; 32], workchain: i8) -> Result<StdAddr> {
        let init = Self::init_for(public_key, DEFAULT_WALLET_ID.wrapping_add(workchain as i32 as u32))?;
        address_of(&init, workchain)
    }

    fn init_for(public_key: &[u8; 32], wallet_id: u32) -> Result<StateInit> {
        let code = Boc::decode_base64(WALLET_V4R2_CODE)
            .map_err(|e| Error::Boc { what: "wallet v4r2 code".into(), message: e.to_string() })?;
        let mut data = CellBuilder::new();
        data.store_u32(0)?; // seqno
        data.store_u32(wallet_id)?;
        data.store_raw(public_key, 256)?;
        data.store_bit_zero()?; // no plugins
        Ok(state_init(code, data.build()?))
    }

    /// The wallet's address.
    pub fn address(&self) -> &StdAddr {
        &self.address
    }

    /// The subwallet id.
    pub fn wallet_id(&self) -> u32 {
        self.wallet_id
    }

    /// The public key.
    pub fn public_key(&self) -> HashBytes {
        HashBytes(self.key.verifying_key().to_bytes())
    }

    /// The StateInit that deploys it (sent with the first message, seqno 0).
    pub fn state_init(&self) -> &StateInit {
        &self.init
    }

    /// The signed body: `signature subwallet_id valid_until seqno op=0 (mode ^message)*`.
    pub fn signed_body(&self, seqno: u32, valid_until: u32, send_mode: u8, transfers: &[Transfer]) -> Result<Cell> {
        if transfers.len() > 4 {
            return Err(self.err(format!("a v4 wallet sends at most 4 messages at once, not {}", transfers.len())));
        }
        let mut signing = CellBuilder::new();
        signing.store_u32(self.wallet_id)?;
        signing.store_u32(valid_until)?;
        signing.store_u32(seqno)?;
        signing.store_u8(0)?; // simple send
        for t in transfers {
            signing.store_u8(send_mode)?;
            signing.store_reference(t.to_cell()?)?;
        }
        let hash = *signing.clone().build()?.repr_hash();
        let signature = self.key.sign(hash.as_array());
        let mut body = CellBuilder::new();
        body.store_raw(&signature.to_bytes(), 512)?;
        body.store_builder(&signing)?;
        Ok(body.build()?)
    }

    /// The external message carrying `body`, with the StateInit when `seqno` is 0.
    pub fn external_message(&self, seqno: u32, body: Cell) -> Result<Cell> {
        let info = MsgInfo::ExtIn(ExtInMsgInfo {
            src: None,
            dst: IntAddr::Std(self.address.clone()),
            import_fee: Tokens::ZERO,
        });
        let init = (seqno == 0).then(|| self.init.clone());
        let msg = OwnedMessage {
            info,
            init,
            body: body.into(),
            layout: Some(MessageLayout { init_to_cell: true, body_to_cell: true }),
        };
        Ok(CellBuilder::build_from(&msg)?)
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Wallet { address: raw(&self.address), message: message.into() }
    }

    /// The current seqno (0 while not deployed).
    pub async fn seqno(&self, api: &TonApi) -> Result<u32> {
        let info = api.get_wallet_information(&self.address).await?;
        if info.state != crate::api::AccountState::Active {
            return Ok(0);
        }
        match info.seqno {
            Some(s) => Ok(s),
            None => api.run_get_method_ok(&self.address, "seqno", &[]).await?.next_u32(),
        }
    }

    /// Sends `transfers` and waits until the wallet's transaction is on chain; returns it.
    /// Fails if the API refuses the message, or if it is not included before
    /// `valid_until + grace` (then it never will be).
    pub async fn send(&self, api: &TonApi, transfers: &[Transfer], opts: SendOptions) -> Result<Transaction> {
        let info = api.get_wallet_information(&self.address).await?;
        let seqno = if info.state == crate::api::AccountState::Active { self.seqno(api).await? } else { 0 };
        let since_lt = info.last_transaction.map(|t| t.lt);
        let valid_until = u32::try_from(now_secs() + opts.ttl.as_secs()).map_err(|_| self.err("clock out of range"))?;
        let body = self.signed_body(seqno, valid_until, opts.send_mode, transfers)?;
        let body_hash = *body.repr_hash();
        let message = self.external_message(seqno, body)?;
        let address = raw(&self.address);
        tracing::info!(wallet = %address, seqno, messages = transfers.len(), valid_until, "TON wallet: sending");
        match api.send_boc_return_hash(&message).await {
            Ok(h) => tracing::debug!(wallet = %address, hash = %h.hash, "TON wallet: message accepted by the API"),
            // Maybe delivered: look for it all the same.
            Err(e @ (TonApiError::Http { .. } | TonApiError::Timeout { .. })) => {
                tracing::warn!(wallet = %address, error = %e, "TON wallet: send failed in transit; looking for the transaction anyway")
            }
            Err(e) => return Err(e.into()),
        }
        let deadline = u64::from(valid_until) + opts.grace.as_secs();
        let mut polls = 0u32;
        loop {
            tokio::time::sleep(opts.poll_interval).await;
            polls += 1;
            match self.find(api, since_lt, &body_hash, 16).await {
                Ok(Some(tx)) => return Ok(self.included(tx, seqno)),
                Ok(None) => {}
                Err(e) => tracing::debug!(wallet = %address, error = %e, "TON wallet: poll failed"),
            }
            if let Ok(now_seqno) = self.seqno(api).await {
                if now_seqno > seqno {
                    // Included, or another message took the seqno: look deeper once.
                    if let Some(tx) = self.find(api, since_lt, &body_hash, 100).await? {
                        return Ok(self.included(tx, seqno));
                    }
                    return Err(self.err(format!(
                        "seqno moved from {seqno} to {now_seqno} without our message (sent elsewhere too?)"
                    )));
                }
            }
            tracing::debug!(wallet = %address, seqno, polls, "TON wallet: waiting for the transaction");
            if now_secs() > deadline {
                return Err(self.err(format!(
                    "message with seqno {seqno} not included before valid_until {valid_until} (+{}s)",
                    opts.grace.as_secs()
                )));
            }
        }
    }

    fn included(&self, tx: Transaction, seqno: u32) -> Transaction {
        let ok = tx.outcome().map(|o| o.is_success()).unwrap_or(false);
        if ok {
            tracing::info!(wallet = %raw(&self.address), seqno, lt = tx.id.lt, hash = %tx.id.hash, "TON wallet: included");
        } else {
            tracing::warn!(wallet = %raw(&self.address), seqno, lt = tx.id.lt, hash = %tx.id.hash, "TON wallet: included, but the transaction did not fully succeed");
        }
        tx
    }

    /// The wallet's transaction (after `since_lt`) whose inbound external message has `body_hash`.
    async fn find(
        &self,
        api: &TonApi,
        since_lt: Option<u64>,
        body_hash: &HashBytes,
        limit: u32,
    ) -> Result<Option<Transaction>> {
        let q = TransactionsQuery { limit, to_lt: since_lt, ..Default::default() };
        let txs = api.get_transactions(&self.address, &q).await?;
        Ok(txs.into_iter().find(|tx| {
            tx.in_msg.as_ref().is_some_and(|m| {
                m.source.is_none()
                    && (m.body_hash.as_ref() == Some(body_hash)
                        || m.body.as_ref().is_some_and(|b| b.repr_hash() == body_hash))
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hash_is_v4r2() {
        let code = Boc::decode_base64(WALLET_V4R2_CODE).unwrap();
        assert_eq!(
            hex::encode(code.repr_hash().as_array()),
            "feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0"
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let w = WalletV4::new(SigningKey::from_bytes(&[0x42; 32]), 0).unwrap();
        let d = format!("{w:?}");
        assert!(d.contains("WalletV4") && !d.contains("4242"));
        assert!(w.signed_body(0, 0, 3, &vec![Transfer::new(w.address().clone(), 1); 5]).is_err());
    }

    #[test]
    fn address_for_a_public_key_is_the_wallets() {
        let key = SigningKey::from_bytes(&[0x42; 32]);
        let w = WalletV4::new(key.clone(), 0).unwrap();
        assert_eq!(&WalletV4::address_for(key.verifying_key().as_bytes(), 0).unwrap(), w.address());
        assert_ne!(&WalletV4::address_for(&[0x43; 32], 0).unwrap(), w.address());
    }
}
