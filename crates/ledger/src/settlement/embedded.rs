//! The embedded settlement backend: the contracts' state machine, persistent in its own redb
//! file, standing in for the TON chain on machines (and networks) without one.
//!
//! Each operation reads the contracts it touches, applies the change to copies, writes them in
//! one durable transaction, and only then updates memory: a failed check or write changes
//! nothing. It is the default for `cocoon up` and for development; it is not a blockchain, and
//! anyone with the file can edit it.
//!
//! Vouchers are checked as the TON contracts check them: the proxy's signature, the kind, the
//! voucher's `expected_my_address` against the contract's own address, and tokens that grow;
//! the growth is then multiplied by the price per token (a charge) or the worker fee (a payout).
//!
//! **Contract addresses here are a stand-in.** A real contract's address is the hash of its
//! StateInit (code and initial data), which only the TON backend (a later issue) derives. This
//! backend names each account's contract [`embedded_contract_address`]: workchain 0 and
//! `SHA-256("cocoon-embedded-contract" || op || account)`, with `op` the 4 big-endian bytes of
//! the contract's voucher op (the client charge op for both client kinds, the payout op for a
//! worker). Vouchers signed for the embedded backend are therefore refused by real contracts,
//! and the other way round, which is as it should be.
//!
//! The file carries a format marker; a file from before token counters is refused with
//! [`SettlementError::Format`] rather than read with missing counters.

use super::{ClientContract, ProxyContract, Settlement, SettlementError, WorkerContract};
use crate::books::{AccountId, AccountState};
use crate::prices::{Nanotons, Prices};
use cocoon_voucher::{SignedVoucher, TonAddress, VoucherKind};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use sha2::{Digest, Sha256};
use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Mutex, MutexGuard},
};

const CLIENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("client_contracts");
const WORKERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("worker_contracts");
const PROXY: TableDefinition<&str, &[u8]> = TableDefinition::new("proxy_contract");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Key of the format marker in `meta`.
const FORMAT_KEY: &str = "format";
/// Format 2: contracts count tokens next to nanotons (format 1, unmarked, did not).
const FORMAT: u64 = 2;

/// The embedded backend's stand-in contract address of `account` for vouchers of `kind` (see
/// the module doc: NOT a real TON address; the TON backend derives those from StateInit).
pub fn embedded_contract_address(kind: VoucherKind, account: &AccountId) -> TonAddress {
    let contract = if kind.is_client() { VoucherKind::ClientCharge } else { VoucherKind::WorkerPayout };
    let mut h = Sha256::new();
    h.update(b"cocoon-embedded-contract");
    h.update(contract.op().to_be_bytes());
    h.update(account);
    TonAddress::basechain(h.finalize().into())
}

#[derive(Default)]
struct Chain {
    clients: BTreeMap<AccountId, ClientContract>,
    workers: BTreeMap<AccountId, WorkerContract>,
    proxy: ProxyContract,
}

/// The rows one operation works on.
struct Touch {
    client: Option<(AccountId, Option<ClientContract>)>,
    worker: Option<(AccountId, WorkerContract)>,
    proxy: ProxyContract,
}

/// The contracts of one proxy, in a local redb file (see the module doc).
pub struct EmbeddedSettlement {
    db: Database,
    chain: Mutex<Chain>,
    proxy_key: [u8; 32],
    min_stake: Nanotons,
    close_delay: u64,
    price_per_token: Nanotons,
    worker_fee_per_token: Nanotons,
}

fn store<E: std::fmt::Display>(e: E) -> SettlementError {
    SettlementError::Store(e.to_string())
}

fn add(a: Nanotons, b: Nanotons) -> Result<Nanotons, SettlementError> {
    a.checked_add(b).ok_or(SettlementError::Overflow)
}

/// `tokens x per_token` nanotons, refusing what does not fit.
fn times(tokens: u64, per_token: Nanotons) -> Result<Nanotons, SettlementError> {
    tokens.checked_mul(per_token).ok_or(SettlementError::Overflow)
}

impl EmbeddedSettlement {
    /// Opens (or creates) the contracts of the proxy whose voucher key is `proxy_key`, with the
    /// network's `prices` (price and worker fee per token, minimum stake, close delay).
    pub fn open(path: &Path, proxy_key: [u8; 32], prices: &Prices) -> Result<Self, SettlementError> {
        let db = Database::create(path).map_err(store)?;
        let txn = db.begin_write().map_err(store)?;
        {
            let clients = txn.open_table(CLIENTS).map_err(store)?;
            let workers = txn.open_table(WORKERS).map_err(store)?;
            let proxy = txn.open_table(PROXY).map_err(store)?;
            let mut meta = txn.open_table(META).map_err(store)?;
            let format = meta.get(FORMAT_KEY).map_err(store)?.map(|v| v.value());
            let empty = clients.is_empty().map_err(store)?
                && workers.is_empty().map_err(store)?
                && proxy.is_empty().map_err(store)?;
            match format {
                Some(FORMAT) => {}
                None if empty => {
                    meta.insert(FORMAT_KEY, FORMAT).map_err(store)?;
                }
                found => return Err(format_error(path, found)),
            }
        }
        txn.commit().map_err(store)?;
        let mut chain = Chain::default();
        {
            let r = db.begin_read().map_err(store)?;
            for item in r.open_table(CLIENTS).map_err(store)?.iter().map_err(store)? {
                let (k, v) = item.map_err(store)?;
                chain.clients.insert(key(k.value())?, serde_json::from_slice(v.value()).map_err(store)?);
            }
            for item in r.open_table(WORKERS).map_err(store)?.iter().map_err(store)? {
                let (k, v) = item.map_err(store)?;
                chain.workers.insert(key(k.value())?, serde_json::from_slice(v.value()).map_err(store)?);
            }
            if let Some(v) = r.open_table(PROXY).map_err(store)?.get("proxy").map_err(store)? {
                chain.proxy = serde_json::from_slice(v.value()).map_err(store)?;
            }
        }
        Ok(EmbeddedSettlement {
            db,
            chain: Mutex::new(chain),
            proxy_key,
            min_stake: prices.min_client_stake,
            close_delay: prices.close_delay_secs,
            price_per_token: prices.price_per_token,
            worker_fee_per_token: prices.worker_fee_per_token,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on copies of the rows it names, persists them, then commits them to memory.
    fn update<R>(
        &self,
        client: Option<&AccountId>,
        worker: Option<&AccountId>,
        f: impl FnOnce(&mut Touch) -> Result<R, SettlementError>,
    ) -> Result<R, SettlementError> {
        let mut chain = self.lock();
        let mut t = Touch {
            client: client.map(|id| (*id, chain.clients.get(id).cloned())),
            worker: worker.map(|id| (*id, chain.workers.get(id).cloned().unwrap_or_default())),
            proxy: chain.proxy.clone(),
        };
        let r = f(&mut t)?;
        let txn = self.db.begin_write().map_err(store)?;
        {
            if let Some((id, Some(c))) = &t.client {
                let v = serde_json::to_vec(c).map_err(store)?;
                txn.open_table(CLIENTS).map_err(store)?.insert(id.as_slice(), v.as_slice()).map_err(store)?;
            }
            if let Some((id, w)) = &t.worker {
                let v = serde_json::to_vec(w).map_err(store)?;
                txn.open_table(WORKERS).map_err(store)?.insert(id.as_slice(), v.as_slice()).map_err(store)?;
            }
            let v = serde_json::to_vec(&t.proxy).map_err(store)?;
            txn.open_table(PROXY).map_err(store)?.insert("proxy", v.as_slice()).map_err(store)?;
        }
        txn.commit().map_err(store)?;
        if let Some((id, Some(c))) = t.client {
            chain.clients.insert(id, c);
        }
        if let Some((id, w)) = t.worker {
            chain.workers.insert(id, w);
        }
        chain.proxy = t.proxy;
        Ok(r)
    }

    /// Checks `v` as `account`'s contract for `kind` checks it: signature, kind, and that the
    /// voucher names this very contract. Growth is checked where the tokens are applied.
    fn verified(&self, v: &SignedVoucher, kind: VoucherKind, account: &AccountId) -> Result<(), SettlementError> {
        v.verify(&self.proxy_key)?;
        if v.voucher.kind != kind {
            return Err(SettlementError::WrongKind);
        }
        let expected = embedded_contract_address(kind, account);
        if v.voucher.contract != expected {
            return Err(SettlementError::WrongContract { expected, got: v.voucher.contract });
        }
        Ok(())
    }

    /// Checks that money on the chain balances: what came in (client deposits and the proxy's
    /// own stake) is what went out (withdrawals, worker pay) plus what the contracts hold.
    pub fn audit(&self) -> Result<(), String> {
        let c = self.lock();
        let deposited: u128 = c.clients.values().map(|x| x.deposited as u128).sum();
        let withdrawn: u128 = c.clients.values().map(|x| x.withdrawn as u128).sum();
        let balances: u128 = c.clients.values().map(|x| x.balance as u128).sum();
        let stakes: u128 = c.clients.values().map(|x| x.stake as u128).sum();
        let paid: u128 = c.workers.values().map(|x| x.paid as u128).sum();
        if stakes != c.proxy.client_stakes as u128 {
            return Err(format!("client stakes {stakes} but the proxy holds {}", c.proxy.client_stakes));
        }
        let charged: u128 = c.clients.values().map(|x| x.charged as u128).sum();
        let proxy_in = charged + c.proxy.own_stake_posted as u128;
        let proxy_out = c.proxy.earned as u128 + c.proxy.paid_to_workers as u128 + c.proxy.own_stake as u128;
        if proxy_in != proxy_out {
            return Err(format!("proxy took {proxy_in} (charges and own stake) but holds or paid {proxy_out}"));
        }
        if paid != c.proxy.paid_to_workers as u128 {
            return Err(format!("workers hold {paid} but the proxy paid {}", c.proxy.paid_to_workers));
        }
        for (id, x) in &c.clients {
            if x.charged as u128 != x.charged_tokens as u128 * self.price_per_token as u128 {
                return Err(format!(
                    "client {}: charged {} for {} tokens",
                    hex::encode(id),
                    x.charged,
                    x.charged_tokens
                ));
            }
        }
        for (id, x) in &c.workers {
            if x.paid as u128 != x.paid_tokens as u128 * self.worker_fee_per_token as u128 {
                return Err(format!("worker {}: paid {} for {} tokens", hex::encode(id), x.paid, x.paid_tokens));
            }
        }
        if deposited != withdrawn + balances + stakes + charged {
            return Err(format!("client deposits {deposited} != withdrawn {withdrawn} + balances {balances} + stakes {stakes} + charged {charged}"));
        }
        Ok(())
    }
}

/// Why a file of format `found` (`None`: unmarked, i.e. format 1) cannot be opened.
fn format_error(path: &Path, found: Option<u64>) -> SettlementError {
    let path = path.display();
    SettlementError::Format(match found {
        None => format!(
            "{path} was written before contracts counted tokens (format 1); this version needs format {FORMAT}. \
             It is the embedded stand-in, not a chain: move it away to start the contracts afresh"
        ),
        Some(other) => format!("{path} has format {other}, this version reads format {FORMAT}"),
    })
}

fn key(k: &[u8]) -> Result<AccountId, SettlementError> {
    k.try_into().map_err(|_| SettlementError::Store(format!("contract key of {} bytes", k.len())))
}

fn open_contract(c: &Option<ClientContract>) -> Result<&ClientContract, SettlementError> {
    let c = c.as_ref().ok_or(SettlementError::UnknownClient)?;
    match c.state {
        AccountState::Open => Ok(c),
        AccountState::Closing { .. } => Err(SettlementError::Closing),
        AccountState::Closed => Err(SettlementError::Closed),
    }
}

fn client_of(t: &mut Touch) -> Result<&mut ClientContract, SettlementError> {
    t.client.as_mut().and_then(|(_, c)| c.as_mut()).ok_or(SettlementError::UnknownClient)
}

/// Applies a client voucher's growth in tokens, times `price`: from balance first, then from
/// the stake the proxy holds. The same count again moves nothing.
fn apply_charge(t: &mut Touch, tokens: u64, price: Nanotons) -> Result<(), SettlementError> {
    let c = client_of(t)?;
    if tokens < c.charged_tokens {
        return Err(SettlementError::NotMonotonic { current: c.charged_tokens, got: tokens });
    }
    let delta = times(tokens - c.charged_tokens, price)?;
    let from_balance = delta.min(c.balance);
    let from_stake = delta - from_balance;
    if from_stake > c.stake {
        return Err(SettlementError::Insufficient { available: c.balance + c.stake, required: delta });
    }
    c.balance -= from_balance;
    c.stake -= from_stake;
    c.charged = add(c.charged, delta)?;
    c.charged_tokens = tokens;
    t.proxy.client_stakes = t.proxy.client_stakes.saturating_sub(from_stake);
    t.proxy.earned = add(t.proxy.earned, delta)?;
    Ok(())
}

impl Settlement for EmbeddedSettlement {
    fn contract_address(&self, kind: VoucherKind, account: &AccountId) -> TonAddress {
        embedded_contract_address(kind, account)
    }

    fn deposit(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError> {
        if amount == 0 {
            return Err(SettlementError::ZeroAmount);
        }
        self.update(Some(client), None, |t| {
            let (_, slot) = t.client.as_mut().ok_or(SettlementError::UnknownClient)?;
            let mut c = slot.clone().unwrap_or_default();
            if let AccountState::Closing { .. } = c.state {
                return Err(SettlementError::Closing);
            }
            let to_stake = self.min_stake.saturating_sub(c.stake).min(amount);
            c.deposited = add(c.deposited, amount)?;
            c.stake += to_stake;
            c.balance = add(c.balance, amount - to_stake)?;
            c.state = AccountState::Open;
            c.forced = false;
            t.proxy.client_stakes = add(t.proxy.client_stakes, to_stake)?;
            *slot = Some(c.clone());
            Ok(c)
        })
    }

    fn stake_proxy(&self, amount: Nanotons) -> Result<ProxyContract, SettlementError> {
        self.update(None, None, |t| {
            if amount == 0 {
                return Err(SettlementError::ZeroAmount);
            }
            t.proxy.own_stake = add(t.proxy.own_stake, amount)?;
            t.proxy.own_stake_posted = add(t.proxy.own_stake_posted, amount)?;
            Ok(t.proxy.clone())
        })
    }

    fn stake(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError> {
        self.update(Some(client), None, |t| {
            let c = open_contract(&t.client.as_ref().ok_or(SettlementError::UnknownClient)?.1)?;
            if c.balance < amount {
                return Err(SettlementError::Insufficient { available: c.balance, required: amount });
            }
            t.proxy.client_stakes = add(t.proxy.client_stakes, amount)?;
            let c = client_of(t)?;
            c.balance -= amount;
            c.stake += amount;
            Ok(c.clone())
        })
    }

    fn withdraw(&self, client: &AccountId, amount: Nanotons) -> Result<ClientContract, SettlementError> {
        if amount == 0 {
            return Err(SettlementError::ZeroAmount);
        }
        self.update(Some(client), None, |t| {
            let c = open_contract(&t.client.as_ref().ok_or(SettlementError::UnknownClient)?.1)?;
            if c.balance < amount {
                return Err(SettlementError::Insufficient { available: c.balance, required: amount });
            }
            let c = client_of(t)?;
            c.balance -= amount;
            c.withdrawn += amount;
            Ok(c.clone())
        })
    }

    fn charge(&self, client: &AccountId, voucher: &SignedVoucher) -> Result<ClientContract, SettlementError> {
        self.verified(voucher, VoucherKind::ClientCharge, client)?;
        self.update(Some(client), None, |t| {
            if t.client.as_ref().is_some_and(|(_, c)| matches!(c, Some(c) if c.state == AccountState::Closed)) {
                return Err(SettlementError::Closed);
            }
            apply_charge(t, voucher.voucher.tokens, self.price_per_token)?;
            Ok(client_of(t)?.clone())
        })
    }

    fn payout(&self, worker: &AccountId, voucher: &SignedVoucher) -> Result<WorkerContract, SettlementError> {
        self.verified(voucher, VoucherKind::WorkerPayout, worker)?;
        self.update(None, Some(worker), |t| {
            let Some((_, w)) = t.worker.as_mut() else { return Err(SettlementError::UnknownClient) };
            let tokens = voucher.voucher.tokens;
            if tokens <= w.paid_tokens {
                return Err(SettlementError::NotMonotonic { current: w.paid_tokens, got: tokens });
            }
            let delta = times(tokens - w.paid_tokens, self.worker_fee_per_token)?;
            // What the proxy charged pays its workers first; its own stake covers the rest
            // (usage it vouchered but could not charge, e.g. after a forced refund).
            let from_earned = delta.min(t.proxy.earned);
            let from_stake = delta - from_earned;
            if from_stake > t.proxy.own_stake {
                return Err(SettlementError::ProxyStakeShort { required: from_stake });
            }
            w.paid = add(w.paid, delta)?;
            w.paid_tokens = tokens;
            t.proxy.earned -= from_earned;
            t.proxy.own_stake -= from_stake;
            t.proxy.paid_to_workers = add(t.proxy.paid_to_workers, delta)?;
            Ok(w.clone())
        })
    }

    fn request_close(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError> {
        self.update(Some(client), None, |t| {
            open_contract(&t.client.as_ref().ok_or(SettlementError::UnknownClient)?.1)?;
            let c = client_of(t)?;
            c.state = AccountState::Closing { at: now.saturating_add(self.close_delay) };
            Ok(c.clone())
        })
    }

    fn finish_close(
        &self,
        client: &AccountId,
        last: Option<&SignedVoucher>,
        _now: u64,
    ) -> Result<ClientContract, SettlementError> {
        if let Some(v) = last {
            self.verified(v, VoucherKind::GrantRefund, client)?;
        }
        self.update(Some(client), None, |t| {
            let c = client_of(t)?;
            if !matches!(c.state, AccountState::Closing { .. }) {
                return Err(SettlementError::NotClosing);
            }
            if let Some(v) = last {
                apply_charge(t, v.voucher.tokens, self.price_per_token)?;
            }
            let c = client_of(t)?;
            let (balance, stake) = (c.balance, c.stake);
            c.withdrawn += balance + stake;
            c.balance = 0;
            c.stake = 0;
            c.state = AccountState::Closed;
            let c = c.clone();
            t.proxy.client_stakes = t.proxy.client_stakes.saturating_sub(stake);
            Ok(c)
        })
    }

    fn force_refund(&self, client: &AccountId, now: u64) -> Result<ClientContract, SettlementError> {
        self.update(Some(client), None, |t| {
            let c = client_of(t)?;
            let AccountState::Closing { at } = c.state else { return Err(SettlementError::NotClosing) };
            if now < at {
                return Err(SettlementError::TooEarly { at });
            }
            let stake = c.stake;
            t.proxy.client_stakes = t.proxy.client_stakes.saturating_sub(stake);
            let c = client_of(t)?;
            c.withdrawn += c.balance + stake;
            c.balance = 0;
            c.stake = 0;
            c.state = AccountState::Closed;
            c.forced = true;
            Ok(c.clone())
        })
    }

    fn client(&self, client: &AccountId) -> Result<Option<ClientContract>, SettlementError> {
        Ok(self.lock().clients.get(client).cloned())
    }

    fn clients(&self) -> Result<Vec<(AccountId, ClientContract)>, SettlementError> {
        Ok(self.lock().clients.iter().map(|(id, c)| (*id, c.clone())).collect())
    }

    fn worker(&self, worker: &AccountId) -> Result<Option<WorkerContract>, SettlementError> {
        Ok(self.lock().workers.get(worker).cloned())
    }

    fn proxy(&self) -> Result<ProxyContract, SettlementError> {
        Ok(self.lock().proxy.clone())
    }
}
