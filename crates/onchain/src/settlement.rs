//! [`TonSettlement`]: the ledger's `Settlement` trait on the real contracts.
//!
//! What the proxy does on chain: submit charge, grant-refund and payout vouchers from its wallet
//! (each token count once, see [`crate::submit`]) and read contracts. What it never does: put
//! money in or take it out for a client. Top-ups, stake increases, withdrawals and refund
//! requests are the client's own messages from its wallet to its contract; the proxy reads
//! their effect with [`Settlement::observe_client`] and the ledger books it
//! (`Ledger::sync_client`), so no balance exists that no transfer paid for.
//!
//! The trait is synchronous (the ledger's callers run off the async workers); each call that
//! needs the network runs its future on a scoped thread of its own against the runtime it was
//! opened on, so it can be called from anywhere without blocking a runtime worker's reactor
//! or panicking. Getters without the network (`client`, `clients`, `worker`, `proxy`) answer
//! from what was last read.

use crate::registration::{self, ProxyContract, Registration};
use crate::submit::{Submitted, Submitter};
use crate::{keys, ChainConfig, ChainError};
use cocoon_ledger::settlement::{self as ls, Settlement, SettlementError};
use cocoon_ledger::{AccountId, AccountState, AnchorState, ChainClient, Nanotons, Prices};
use cocoon_ton::contracts::{getters, Codes, Params};
use cocoon_ton::{address, client_state_init, worker_state_init, AccountState as TonState, HashBytes, StdAddr, TonApi};
use cocoon_voucher::{SignedVoucher, TonAddress, VoucherKind};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long after a send the contract's getter is polled for its effect.
const SEE_WITHIN: Duration = Duration::from_secs(30);

/// What was last read from the chain.
#[derive(Default)]
struct Cache {
    clients: BTreeMap<AccountId, getters::ClientData>,
    workers: BTreeMap<AccountId, getters::WorkerData>,
    proxy: Option<getters::ProxyData>,
}

/// The `ton` settlement backend (see the module doc).
pub struct TonSettlement {
    api: TonApi,
    submitter: Submitter,
    root: StdAddr,
    proxy: ProxyContract,
    proxy_key: HashBytes,
    codes: &'static Codes,
    runtime: tokio::runtime::Handle,
    cache: Mutex<Cache>,
    addresses: Mutex<HashMap<(bool, AccountId), StdAddr>>,
    poll: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn chain_err(e: impl std::fmt::Display) -> SettlementError {
    SettlementError::Chain(e.to_string())
}

fn nanotons(v: u128, what: &str) -> Result<Nanotons, ChainError> {
    Nanotons::try_from(v).map_err(|_| ChainError::Refused(format!("{what} {v} does not fit in 64 bits")))
}

impl TonSettlement {
    /// Connects to the chain, finds or registers this proxy's contract (`key` is the proxy's
    /// identity key, whose wallet owns the contract) and reads its state. Call inside the
    /// tokio runtime the proxy runs on.
    pub async fn open(cfg: &ChainConfig, key: &SigningKey, reg: &Registration) -> Result<Self, ChainError> {
        let api = TonApi::new(cfg.api())?;
        let root = address::parse_std(&cfg.root)?;
        let wallet = keys::wallet(key)?;
        let send = cfg.send_options();
        tracing::info!(api = %cfg.api_url, root = %address::raw(&root), wallet = %address::friendly_url(wallet.address(), false),
            "settlement on TON");
        let proxy = registration::ensure(&api, &wallet, &root, reg, send).await?;
        tracing::info!(contract = %address::raw(&proxy.address), stake = proxy.data.stake, price = %proxy.child_params.price_per_token,
            "proxy contract ready");
        let me = TonSettlement {
            proxy_key: wallet.public_key(),
            submitter: Submitter::new(api.clone(), wallet, send),
            api,
            root,
            codes: Codes::embedded()?,
            runtime: tokio::runtime::Handle::current(),
            cache: Mutex::new(Cache { proxy: Some(proxy.data.clone()), ..Cache::default() }),
            addresses: Mutex::new(HashMap::new()),
            poll: send.poll_interval,
            proxy,
        };
        // The local derivation must agree with the contract's own.
        let probe = keys::owner_of(&[7; 32])?;
        let theirs = getters::client_address(&me.api, &me.proxy.address, &probe).await?;
        let ours = me.client_address(&[7; 32])?;
        if theirs != ours {
            return Err(ChainError::Refused(format!(
                "the proxy contract derives client contract {} where this build derives {}",
                address::raw(&theirs),
                address::raw(&ours)
            )));
        }
        Ok(me)
    }

    /// The prices the contracts charge and pay at: the ledger must use exactly these.
    pub fn prices(&self) -> Result<Prices, ChainError> {
        prices_of(&self.proxy.child_params)
    }

    /// The proxy contract's address.
    pub fn proxy_address(&self) -> &StdAddr {
        &self.proxy.address
    }

    /// The root's address.
    pub fn root(&self) -> &StdAddr {
        &self.root
    }

    /// The proxy's wallet address.
    pub fn wallet_address(&self) -> &StdAddr {
        self.submitter.wallet().address()
    }

    /// The API client (for reading more).
    pub fn api(&self) -> &TonApi {
        &self.api
    }

    /// The client contract of the client with identity key `client`.
    pub fn client_address(&self, client: &AccountId) -> Result<StdAddr, ChainError> {
        self.child_address(true, client)
    }

    /// The worker contract of the worker with identity key `worker`.
    pub fn worker_address(&self, worker: &AccountId) -> Result<StdAddr, ChainError> {
        self.child_address(false, worker)
    }

    fn child_address(&self, client: bool, id: &AccountId) -> Result<StdAddr, ChainError> {
        if let Some(a) = lock(&self.addresses).get(&(client, *id)) {
            return Ok(a.clone());
        }
        let init = self.child_init(client, id)?;
        let a = cocoon_ton::address_of(&init, keys::WORKCHAIN)?;
        lock(&self.addresses).insert((client, *id), a.clone());
        Ok(a)
    }

    fn child_init(&self, client: bool, id: &AccountId) -> Result<cocoon_ton::StateInit, ChainError> {
        let owner = keys::owner_of(id)?;
        let p = &self.proxy.child_params;
        Ok(if client {
            client_state_init(self.codes, p, &owner, &self.proxy.address, &self.proxy_key)?
        } else {
            worker_state_init(self.codes, p, &owner, &self.proxy.address, &self.proxy_key)?
        })
    }

    /// Runs `fut` to completion on the runtime this backend was opened on, from any thread.
    fn block<T: Send>(&self, fut: impl Future<Output = T> + Send) -> T {
        std::thread::scope(|s| {
            let h = s.spawn(|| self.runtime.block_on(fut));
            match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Reads a client contract; `None` while it does not exist.
    pub async fn read_client(&self, id: &AccountId) -> Result<Option<getters::ClientData>, ChainError> {
        let a = self.client_address(id)?;
        if self.api.get_address_state(&a).await? != TonState::Active {
            return Ok(None);
        }
        let d = getters::client_data(&self.api, &a).await?;
        lock(&self.cache).clients.insert(*id, d.clone());
        Ok(Some(d))
    }

    /// Reads a worker contract; `None` while it does not exist (before its first payout).
    pub async fn read_worker(&self, id: &AccountId) -> Result<Option<getters::WorkerData>, ChainError> {
        let a = self.worker_address(id)?;
        if self.api.get_address_state(&a).await? != TonState::Active {
            return Ok(None);
        }
        let d = getters::worker_data(&self.api, &a).await?;
        lock(&self.cache).workers.insert(*id, d.clone());
        Ok(Some(d))
    }

    /// Reads the proxy contract.
    pub async fn read_proxy(&self) -> Result<getters::ProxyData, ChainError> {
        let d = getters::proxy_data(&self.api, &self.proxy.address).await?;
        lock(&self.cache).proxy = Some(d.clone());
        Ok(d)
    }

    /// The anchor the proxy contract holds.
    pub async fn read_anchor(&self) -> Result<getters::Anchor, ChainError> {
        Ok(getters::anchor(&self.api, &self.proxy.address).await?)
    }

    /// Puts `state` on chain as the proxy contract's anchor (`proxy_save_state`): its number and
    /// the hash of what it covers. Blocks until the wallet's message is included; call it off
    /// the async workers.
    pub fn save_anchor(&self, state: &AnchorState) -> Result<HashBytes, ChainError> {
        let number = u32::try_from(state.number)
            .map_err(|_| ChainError::Refused(format!("anchor number {} passed 32 bits", state.number)))?;
        let hash = anchor_hash(state)?;
        let body = cocoon_ton::contracts::messages::proxy_save_state(number, &hash, state.seqno)?;
        let t = cocoon_ton::Transfer::new(self.proxy.address.clone(), cocoon_ton::contracts::messages::gas::SIMPLE_OP)
            .with_body(body);
        self.block(async {
            self.submitter.send(t).await?;
            // Included by the wallet is not taken by the contract: read it back.
            let seen = self.see(|| async { self.read_anchor().await.map(Some) }, |a| a.seqno >= number).await?;
            match seen {
                Some(a) if a.seqno >= number => Ok(()),
                other => Err(ChainError::Refused(format!(
                    "the proxy contract did not take anchor {number} (it holds {})",
                    other.map_or(0, |a| a.seqno)
                ))),
            }
        })?;
        Ok(hash)
    }

    /// Polls `read` until `done` holds (or [`SEE_WITHIN`] passes): the contract's transaction
    /// follows the wallet's.
    async fn see<T, F: Future<Output = Result<Option<T>, ChainError>>>(
        &self,
        mut read: impl FnMut() -> F,
        done: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, ChainError> {
        let deadline = Instant::now() + SEE_WITHIN;
        loop {
            let v = read().await?;
            if v.as_ref().is_some_and(&done) || Instant::now() > deadline {
                return Ok(v);
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn charge_async(
        &self,
        client: &AccountId,
        v: &SignedVoucher,
        grant: bool,
    ) -> Result<getters::ClientData, SettlementError> {
        let addr = self.client_address(client).map_err(chain_err)?;
        check_contract(v, &addr)?;
        let now = self.read_client(client).await.map_err(chain_err)?.ok_or(SettlementError::UnknownClient)?;
        let tokens = v.voucher.tokens;
        let on_chain = if grant {
            if now.state == 2 {
                return Ok(now);
            }
            None
        } else {
            if now.state == 2 {
                return Err(SettlementError::Closed);
            }
            Some(now.tokens_used)
        };
        if self.submitter.submit(&addr, v, on_chain, None).await.map_err(chain_err)? != Submitted::Sent {
            return Ok(now);
        }
        let seen = self
            .see(|| self.read_client(client), |d| if grant { d.state == 2 } else { d.tokens_used >= tokens })
            .await
            .map_err(chain_err)?
            .ok_or(SettlementError::UnknownClient)?;
        if seen.tokens_used >= tokens {
            self.submitter.seen(&addr, seen.tokens_used);
        }
        Ok(seen)
    }

    async fn payout_async(
        &self,
        worker: &AccountId,
        v: &SignedVoucher,
    ) -> Result<getters::WorkerData, SettlementError> {
        let addr = self.worker_address(worker).map_err(chain_err)?;
        check_contract(v, &addr)?;
        let now = self.read_worker(worker).await.map_err(chain_err)?;
        let init = match &now {
            Some(_) => None,
            None => Some(self.child_init(false, worker).map_err(chain_err)?),
        };
        let on_chain = now.as_ref().map_or(0, |d| d.tokens);
        let tokens = v.voucher.tokens;
        if tokens > on_chain {
            // The proxy contract pays out only what clients were charged: a payout above what
            // it holds would bounce (and cost a fee). Charges first.
            let proxy = self.read_proxy().await.map_err(chain_err)?;
            let required = u128::from(tokens - on_chain) * proxy.price_per_token;
            if required > proxy.balance {
                let n = |v: u128| Nanotons::try_from(v).unwrap_or(Nanotons::MAX);
                return Err(SettlementError::Insufficient { available: n(proxy.balance), required: n(required) });
            }
        }
        let sent = self.submitter.submit(&addr, v, Some(on_chain), init).await.map_err(chain_err)?;
        let seen = if sent == Submitted::Sent {
            self.see(|| self.read_worker(worker), |d| d.tokens >= tokens).await.map_err(chain_err)?
        } else {
            now
        };
        let seen = seen.unwrap_or_else(|| self.empty_worker(worker));
        if seen.tokens >= tokens {
            self.submitter.seen(&addr, seen.tokens);
        }
        Ok(seen)
    }

    fn empty_worker(&self, worker: &AccountId) -> getters::WorkerData {
        getters::WorkerData {
            tokens: 0,
            owner: keys::owner_of(worker).unwrap_or_else(|_| self.proxy.address.clone()),
            proxy: self.proxy.address.clone(),
            proxy_public_key: self.proxy_key,
            worker_fee_per_token: self.proxy.child_params.worker_fee_per_token,
            params_version: self.proxy.child_params.params_version,
        }
    }

    fn not_by_proxy(&self, client: &AccountId, what: &str) -> SettlementError {
        let to = self.client_address(client).map(|a| address::friendly_url(&a, true)).unwrap_or_default();
        SettlementError::NotByProxy(format!(
            "settlement is on TON: {what} is a message from the client's own wallet to its client contract {to} \
             (`cocoon client deposit|stake|withdraw|close`); the proxy credits what it sees there"
        ))
    }
}

/// The session hash an anchor carries: the representation hash of the cell
/// `number:uint64 seqno:uint64 charged_tokens:uint64 earned_tokens:uint64 commission:uint64`.
pub fn anchor_hash(s: &AnchorState) -> Result<HashBytes, ChainError> {
    let mut b = cocoon_ton::tycho_types::cell::CellBuilder::new();
    let store =
        |b: &mut cocoon_ton::tycho_types::cell::CellBuilder, v: u64| b.store_u64(v).map_err(cocoon_ton::Error::from);
    for v in [s.number, s.seqno, s.charged_tokens, s.earned_tokens, s.commission] {
        store(&mut b, v)?;
    }
    Ok(*b.build().map_err(cocoon_ton::Error::from)?.repr_hash())
}

/// The ledger's prices from the params a proxy contract hands its children.
pub fn prices_of(p: &Params) -> Result<Prices, ChainError> {
    Ok(Prices {
        price_per_token: nanotons(p.price_per_token, "price_per_token")?,
        worker_fee_per_token: nanotons(p.worker_fee_per_token, "worker_fee_per_token")?,
        prompt_multiplier: p.prompt_multiplier,
        cached_multiplier: p.cached_multiplier,
        completion_multiplier: p.completion_multiplier,
        reasoning_multiplier: p.reasoning_multiplier,
        min_client_stake: nanotons(p.min_client_stake, "min_client_stake")?,
        close_delay_secs: u64::from(p.client_delay_before_close),
    })
}

fn check_contract(v: &SignedVoucher, addr: &StdAddr) -> Result<(), SettlementError> {
    let expected = keys::to_voucher_address(addr);
    if v.voucher.contract != expected {
        return Err(SettlementError::WrongContract { expected, got: v.voucher.contract });
    }
    Ok(())
}

/// The books' view of a client contract's state. On chain the proxy answers a refund request
/// at once (a grant refund), so a closing contract is due for its close now (`at: 0`); the
/// contract's own unlock time only matters to a forced refund.
fn state_of(d: &getters::ClientData) -> AccountState {
    match d.state {
        0 => AccountState::Open,
        1 => AccountState::Closing { at: 0 },
        _ => AccountState::Closed,
    }
}

fn client_contract(d: &getters::ClientData) -> ls::ClientContract {
    let balance = Nanotons::try_from(d.balance).unwrap_or(Nanotons::MAX);
    let stake = Nanotons::try_from(d.stake).unwrap_or(Nanotons::MAX);
    let price = Nanotons::try_from(d.price_per_token).unwrap_or(Nanotons::MAX);
    ls::ClientContract {
        // The chain keeps no running totals of money in and out: the ledger does.
        deposited: 0,
        withdrawn: 0,
        charged: d.tokens_used.saturating_mul(price),
        charged_tokens: d.tokens_used,
        balance,
        stake,
        state: match d.state {
            0 => AccountState::Open,
            1 => AccountState::Closing { at: u64::from(d.unlock_time) },
            _ => AccountState::Closed,
        },
        forced: false,
    }
}

fn worker_contract(d: &getters::WorkerData) -> ls::WorkerContract {
    let fee = Nanotons::try_from(d.worker_fee_per_token).unwrap_or(Nanotons::MAX);
    ls::WorkerContract { paid: d.tokens.saturating_mul(fee), paid_tokens: d.tokens }
}

impl Settlement for TonSettlement {
    fn contract_address(&self, kind: VoucherKind, account: &AccountId) -> TonAddress {
        let a = if kind.is_client() { self.client_address(account) } else { self.worker_address(account) };
        match a {
            Ok(a) => keys::to_voucher_address(&a),
            Err(e) => {
                // Derivation only fails on a broken build (embedded codes); a voucher for the
                // zero address is refused by every contract.
                tracing::error!(error = %e, "cannot derive a contract address");
                TonAddress::basechain([0; 32])
            }
        }
    }

    fn on_chain(&self) -> bool {
        true
    }

    fn observe_client(&self, client: &AccountId) -> Result<Option<ChainClient>, SettlementError> {
        let d = self.block(self.read_client(client)).map_err(chain_err)?;
        Ok(d.map(|d| ChainClient {
            balance: Nanotons::try_from(d.balance).unwrap_or(Nanotons::MAX),
            stake: Nanotons::try_from(d.stake).unwrap_or(Nanotons::MAX),
            tokens_used: d.tokens_used,
            state: state_of(&d),
        }))
    }

    fn deposit(&self, client: &AccountId, _amount: Nanotons) -> Result<ls::ClientContract, SettlementError> {
        Err(self.not_by_proxy(client, "a deposit (top-up)"))
    }

    fn stake_proxy(&self, _amount: Nanotons) -> Result<ls::ProxyContract, SettlementError> {
        Err(SettlementError::NotByProxy(format!(
            "settlement is on TON: the operator adds stake to the proxy contract {} from its wallet",
            address::raw(&self.proxy.address)
        )))
    }

    fn stake(&self, client: &AccountId, _amount: Nanotons) -> Result<ls::ClientContract, SettlementError> {
        Err(self.not_by_proxy(client, "a stake increase"))
    }

    fn withdraw(&self, client: &AccountId, _amount: Nanotons) -> Result<ls::ClientContract, SettlementError> {
        Err(self.not_by_proxy(client, "a withdrawal"))
    }

    fn charge(&self, client: &AccountId, voucher: &SignedVoucher) -> Result<ls::ClientContract, SettlementError> {
        if voucher.voucher.kind != VoucherKind::ClientCharge {
            return Err(SettlementError::WrongKind);
        }
        self.block(self.charge_async(client, voucher, false)).map(|d| client_contract(&d))
    }

    fn payout(&self, worker: &AccountId, voucher: &SignedVoucher) -> Result<ls::WorkerContract, SettlementError> {
        if voucher.voucher.kind != VoucherKind::WorkerPayout {
            return Err(SettlementError::WrongKind);
        }
        self.block(self.payout_async(worker, voucher)).map(|d| worker_contract(&d))
    }

    fn request_close(&self, client: &AccountId, _now: u64) -> Result<ls::ClientContract, SettlementError> {
        Err(self.not_by_proxy(client, "a refund request (close)"))
    }

    fn finish_close(
        &self,
        client: &AccountId,
        last: Option<&SignedVoucher>,
        _now: u64,
    ) -> Result<ls::ClientContract, SettlementError> {
        let Some(v) = last else {
            return Err(SettlementError::NotByProxy("no final voucher to grant the refund with".into()));
        };
        if v.voucher.kind != VoucherKind::GrantRefund {
            return Err(SettlementError::WrongKind);
        }
        self.block(self.charge_async(client, v, true)).map(|d| client_contract(&d))
    }

    fn force_refund(&self, client: &AccountId, _now: u64) -> Result<ls::ClientContract, SettlementError> {
        Err(self.not_by_proxy(client, "a forced refund"))
    }

    fn client(&self, client: &AccountId) -> Result<Option<ls::ClientContract>, SettlementError> {
        Ok(lock(&self.cache).clients.get(client).map(client_contract))
    }

    fn clients(&self) -> Result<Vec<(AccountId, ls::ClientContract)>, SettlementError> {
        Ok(lock(&self.cache).clients.iter().map(|(id, d)| (*id, client_contract(d))).collect())
    }

    fn worker(&self, worker: &AccountId) -> Result<Option<ls::WorkerContract>, SettlementError> {
        Ok(lock(&self.cache).workers.get(worker).map(worker_contract))
    }

    fn proxy(&self) -> Result<ls::ProxyContract, SettlementError> {
        let c = lock(&self.cache);
        let d = c.proxy.as_ref().unwrap_or(&self.proxy.data);
        let n = |v: u128| Nanotons::try_from(v).unwrap_or(Nanotons::MAX);
        Ok(ls::ProxyContract {
            own_stake: n(d.stake),
            own_stake_posted: n(d.stake),
            client_stakes: c.clients.values().map(|x| n(x.stake)).sum(),
            earned: n(d.balance),
            paid_to_workers: c.workers.values().map(|w| worker_contract(w).paid).sum(),
        })
    }
}
