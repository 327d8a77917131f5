//! Sending signed vouchers to contracts, each token count at most once.
//!
//! A voucher is cumulative, so sending the same one twice can never move money twice (the
//! contract refuses tokens that do not grow); but every send costs gas, and a resend while the
//! first is still on its way is a wasted fee. The [`Submitter`] sends a voucher only if the
//! contract has not taken as many tokens yet and no send of as many is in flight. Its wallet
//! sends one message at a time (one seqno each) and waits until it is included or can no
//! longer be (`valid_until` passed): a message that failed to land is never still on its way
//! when it is sent again.

use crate::ChainError;
use cocoon_ton::contracts::messages::gas;
use cocoon_ton::{SendOptions, StateInit, StdAddr, TonApi, Transfer, WalletV4};
use cocoon_voucher::SignedVoucher;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a voucher sent and included by the wallet may take to show in the contract before
/// it is sent again (the contract's own transaction follows the wallet's within seconds).
const SEEN_WITHIN: Duration = Duration::from_secs(120);

/// What [`Submitter::submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The contract already took these tokens: nothing sent.
    AlreadyOnChain,
    /// A send of at least these tokens is on its way: nothing sent.
    InFlight,
    /// Sent, and the wallet's transaction is on chain.
    Sent,
}

/// A voucher sent to a contract, not yet seen there.
#[derive(Debug, Clone, Copy)]
struct Pending {
    tokens: u64,
    sent_at: Instant,
}

/// Sends vouchers from one wallet (the proxy's), each token count at most once.
pub struct Submitter {
    api: TonApi,
    wallet: WalletV4,
    send: SendOptions,
    /// One message at a time: the wallet's seqno.
    sending: tokio::sync::Mutex<()>,
    pending: std::sync::Mutex<HashMap<StdAddr, Pending>>,
}

impl Submitter {
    /// A submitter sending from `wallet` (which also receives the excess gas).
    pub fn new(api: TonApi, wallet: WalletV4, send: SendOptions) -> Self {
        Submitter { api, wallet, send, sending: tokio::sync::Mutex::new(()), pending: Default::default() }
    }

    /// The wallet it sends from.
    pub fn wallet(&self) -> &WalletV4 {
        &self.wallet
    }

    /// Sends `voucher` to `contract`, whose on-chain counter stands at `on_chain` tokens (a
    /// grant refund, which may repeat the count, is sent while the contract is not closed:
    /// `on_chain` is then `None`). `init` deploys the contract with the message (a worker
    /// contract's first payout).
    pub async fn submit(
        &self,
        contract: &StdAddr,
        voucher: &SignedVoucher,
        on_chain: Option<u64>,
        init: Option<StateInit>,
    ) -> Result<Submitted, ChainError> {
        let tokens = voucher.voucher.tokens;
        if on_chain.is_some_and(|t| t >= tokens) {
            self.pending_lock().remove(contract);
            return Ok(Submitted::AlreadyOnChain);
        }
        if let Some(p) = self.pending_lock().get(contract) {
            if p.tokens >= tokens && p.sent_at.elapsed() < SEEN_WITHIN {
                return Ok(Submitted::InFlight);
            }
        }
        let _one = self.sending.lock().await;
        let excesses = crate::keys::to_voucher_address(self.wallet.address());
        let body = voucher.message_body_cell(Some(&excesses))?;
        let mut transfer = Transfer::new(contract.clone(), gas::SIGNED_OP).with_body(body);
        if let Some(init) = init {
            transfer = transfer.with_state_init(init);
        }
        tracing::info!(contract = %cocoon_ton::address::raw(contract), kind = ?voucher.voucher.kind, tokens, "submitting a voucher");
        self.wallet.send(&self.api, &[transfer], self.send).await?;
        self.pending_lock().insert(contract.clone(), Pending { tokens, sent_at: Instant::now() });
        Ok(Submitted::Sent)
    }

    /// Sends one plain transfer from the wallet (an owner operation such as an anchor), in
    /// turn with the vouchers; waits until it is included.
    pub async fn send(&self, transfer: Transfer) -> Result<cocoon_ton::Transaction, ChainError> {
        let _one = self.sending.lock().await;
        Ok(self.wallet.send(&self.api, &[transfer], self.send).await?)
    }

    /// Forgets what was sent to `contract` (it has been seen there).
    pub fn seen(&self, contract: &StdAddr, tokens: u64) {
        let mut p = self.pending_lock();
        if p.get(contract).is_some_and(|x| x.tokens <= tokens) {
            p.remove(contract);
        }
    }

    fn pending_lock(&self) -> std::sync::MutexGuard<'_, HashMap<StdAddr, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}
