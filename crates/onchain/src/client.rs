//! A client's money on chain: its wallet's messages to its client contract at one proxy.
//!
//! The client finds the proxy's contract in the root's registry by the public key the proxy
//! attested with on its RA-TLS link, and derives its own client contract from the root's codes
//! and params, its wallet and that proxy contract, so neither a proxy nor anyone else can point
//! its money elsewhere.

use crate::registration::root_params;
use crate::{keys, ChainConfig, ChainError};
use cocoon_ton::contracts::{getters, messages, Codes};
use cocoon_ton::{address, client_state_init, HashBytes, SendOptions, StateInit, StdAddr, TonApi, Transfer, WalletV4};
use ed25519_dalek::SigningKey;
use serde::Serialize;

/// A client operation on its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOp {
    /// Add to the balance (deploys the contract the first time).
    TopUp(u128),
    /// Add to the stake (from the wallet).
    IncreaseStake(u128),
    /// Take balance back (never the stake).
    Withdraw(u128),
    /// Ask to close: the proxy answers with its final charge and the refund.
    RequestRefund,
    /// After the close delay, take balance and stake back without the proxy.
    ForceRefund,
}

impl ClientOp {
    /// What the wallet attaches: the amount plus the contract's fee, or the gas.
    pub fn value(self) -> u128 {
        match self {
            ClientOp::TopUp(a) | ClientOp::IncreaseStake(a) => a + messages::gas::DEPOSIT_FEE,
            ClientOp::Withdraw(_) | ClientOp::RequestRefund | ClientOp::ForceRefund => messages::gas::SIMPLE_OP,
        }
    }

    fn body(self, query_id: u64) -> Result<cocoon_ton::Cell, cocoon_ton::Error> {
        match self {
            ClientOp::TopUp(_) => messages::client_top_up(query_id),
            ClientOp::IncreaseStake(_) => messages::client_increase_stake(query_id),
            ClientOp::Withdraw(a) => messages::client_withdraw(a, query_id),
            ClientOp::RequestRefund => messages::client_request_refund(query_id),
            ClientOp::ForceRefund => messages::client_force_refund(query_id),
        }
    }
}

/// What an operation sent, for the caller to print.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// The client contract.
    pub contract: String,
    /// The wallet it was sent from.
    pub wallet: String,
    /// Nanotons attached.
    pub value: u128,
    /// The wallet transaction's hash (hex) and logical time.
    pub tx_hash: String,
    /// Logical time of the wallet transaction.
    pub tx_lt: u64,
    /// Fees of the wallet's own transaction, nanotons (the contract's are paid from `value`).
    pub wallet_fee: u128,
}

/// One client's wallet and the chain.
pub struct ClientChain {
    api: TonApi,
    wallet: WalletV4,
    root: StdAddr,
    send: SendOptions,
}

impl ClientChain {
    /// The client whose identity key is `key`, on the chain of `cfg`.
    pub fn new(cfg: &ChainConfig, key: &SigningKey) -> Result<Self, ChainError> {
        Ok(ClientChain {
            api: TonApi::new(cfg.api())?,
            wallet: keys::wallet(key)?,
            root: address::parse_std(&cfg.root)?,
            send: cfg.send_options(),
        })
    }

    /// The client's wallet address.
    pub fn wallet_address(&self) -> &StdAddr {
        self.wallet.address()
    }

    /// The wallet's balance.
    pub async fn wallet_balance(&self) -> Result<u128, ChainError> {
        Ok(self.api.get_address_balance(self.wallet.address()).await?)
    }

    /// The proxy contract registered in the root with `proxy_key`, and this client's contract
    /// there (address and StateInit). Refused if the root lists no such proxy.
    pub async fn contract(&self, proxy_key: &[u8; 32]) -> Result<(StdAddr, StdAddr, StateInit), ChainError> {
        let params = root_params(&self.api, &self.root).await?;
        let key = HashBytes(*proxy_key);
        let entry = getters::proxies(&self.api, &self.root)
            .await?
            .into_iter()
            .filter(|(_, e)| e.public_key == key)
            .max_by_key(|(_, e)| e.seqno)
            .ok_or_else(|| {
                ChainError::Refused(format!(
                    "the root {} lists no proxy with key {}: refusing to pay it",
                    address::raw(&self.root),
                    hex::encode(proxy_key)
                ))
            })?;
        if entry.1.params_version != params.params_version {
            return Err(ChainError::Refused(format!(
                "the proxy registered under params version {}, the root is at {}: it must re-register",
                entry.1.params_version, params.params_version
            )));
        }
        let proxy = StdAddr::new(keys::WORKCHAIN, entry.0);
        let init = client_state_init(Codes::embedded()?, &params.for_child(), self.wallet.address(), &proxy, &key)?;
        let contract = cocoon_ton::address_of(&init, keys::WORKCHAIN)?;
        Ok((proxy, contract, init))
    }

    /// Refuses, before anything is sent, what the contract would refuse (its value would only
    /// bounce back less the fees): the contract's own state decides.
    async fn check(&self, contract: &StdAddr, op: ClientOp) -> Result<(), ChainError> {
        let deployed = self.api.get_address_state(contract).await? == cocoon_ton::AccountState::Active;
        let refuse = |m: String| Err(ChainError::Refused(m));
        if !deployed {
            return match op {
                ClientOp::TopUp(_) | ClientOp::IncreaseStake(_) => Ok(()),
                _ => refuse("the client contract does not exist yet: top up first".into()),
            };
        }
        let d = getters::client_data(&self.api, contract).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        match (op, d.state) {
            (_, 2) => refuse("the client contract is closed".into()),
            (ClientOp::ForceRefund, 1) if now < u64::from(d.unlock_time) => refuse(format!(
                "the close delay ends at unix time {} ({} s from now)",
                d.unlock_time,
                u64::from(d.unlock_time) - now
            )),
            (ClientOp::ForceRefund, 1) => Ok(()),
            (ClientOp::ForceRefund, _) => {
                refuse("ask to close first (the forced refund comes after the close delay)".into())
            }
            (_, 1) => refuse("the client contract is closing".into()),
            (ClientOp::Withdraw(a), _) if a > d.balance => {
                refuse(format!("the contract's balance is {} nanotons; the stake comes back only at close", d.balance))
            }
            _ => Ok(()),
        }
    }

    /// Sends `op` to this client's contract at the proxy with key `proxy_key` and waits until
    /// the wallet's transaction is on chain.
    pub async fn send(&self, proxy_key: &[u8; 32], op: ClientOp) -> Result<Sent, ChainError> {
        let (_, contract, init) = self.contract(proxy_key).await?;
        self.check(&contract, op).await?;
        let value = op.value();
        let balance = self.wallet_balance().await?;
        // The wallet's own fee is well under 0.01 TON.
        if balance < value + 10_000_000 {
            return Err(ChainError::Refused(format!(
                "the wallet {} holds {balance} nanotons; this needs {value} plus about 0.01 TON of fees: send TON to it",
                address::friendly_url(self.wallet.address(), false)
            )));
        }
        let mut t = Transfer::new(contract.clone(), value).with_body(op.body(0)?);
        if matches!(op, ClientOp::TopUp(_) | ClientOp::IncreaseStake(_)) {
            // Deploys the contract with the first top-up; ignored once it exists.
            t = t.with_state_init(init);
        }
        let tx = self.wallet.send(&self.api, &[t], self.send).await?;
        Ok(Sent {
            contract: address::raw(&contract),
            wallet: address::raw(self.wallet.address()),
            value,
            tx_hash: hex::encode(tx.id.hash.as_array()),
            tx_lt: tx.id.lt,
            wallet_fee: tx.fee,
        })
    }
}
