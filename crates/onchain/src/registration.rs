//! The proxy's own contract: found, or registered at first start, and remembered.
//!
//! A proxy contract is created by the root when the operator's wallet sends `register_proxy`
//! with the stake; its address follows from the root's codes and params, the owner, the
//! proxy's public key and the registration seqno the root assigns. The proxy remembers the
//! address in `ton.json` in its data dir; without the file it looks for its entry in the
//! root's registry before it registers again (a crash between the two must not cost a second
//! stake).

use crate::{keys, ChainError};
use cocoon_ton::contracts::{getters, messages, Codes, Params};
use cocoon_ton::{address, HashBytes, SendOptions, StdAddr, TonApi, Transfer, WalletV4};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to register when the proxy has no contract yet.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The stake to register with (nanotons), at least the root's `min_proxy_stake`.
    pub stake: u128,
    /// The address clients dial, published in the registry.
    pub client_endpoint: String,
    /// The address workers dial, published in the registry.
    pub worker_endpoint: String,
    /// The URL of the proxy's public report, published in the registry when set.
    pub report_url: Option<String>,
    /// Where the proxy remembers its contract (`<data_dir>/ton.json`).
    pub state_file: PathBuf,
}

/// What the proxy remembers of its contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    root: String,
    contract: String,
    seqno: u32,
}

/// The proxy's contract as this proxy uses it.
#[derive(Debug, Clone)]
pub struct ProxyContract {
    /// Its address.
    pub address: StdAddr,
    /// The params it hands to the client and worker contracts it creates (no codes).
    pub child_params: Params,
    /// Its state when it was found.
    pub data: getters::ProxyData,
}

/// The root's params, checked against the contract codes this build knows: child addresses are
/// computed locally, so they must be the root's.
pub async fn root_params(api: &TonApi, root: &StdAddr) -> Result<Params, ChainError> {
    let params = getters::params(api, root).await?;
    let codes = Codes::embedded()?;
    let same = |name: &str, theirs: &Option<cocoon_ton::Cell>, ours: &cocoon_ton::Cell| match theirs {
        Some(c) if c.repr_hash() == ours.repr_hash() => Ok(()),
        _ => Err(ChainError::Refused(format!(
            "the root {} runs a different {name} contract code than this build (contracts/build); \
             upgrade cocoon or use the root it was built for",
            address::raw(root)
        ))),
    };
    same("proxy", &params.proxy_code, &codes.proxy)?;
    same("client", &params.client_code, &codes.client)?;
    same("worker", &params.worker_code, &codes.worker)?;
    Ok(params)
}

/// Finds this proxy's contract (the state file, else the root's registry) or registers it.
pub async fn ensure(
    api: &TonApi,
    wallet: &WalletV4,
    root: &StdAddr,
    reg: &Registration,
    send: SendOptions,
) -> Result<ProxyContract, ChainError> {
    let params = root_params(api, root).await?;
    let public_key = wallet.public_key();
    let record = match read_record(&reg.state_file)? {
        Some(r) if r.root == address::raw(root) => Some(r),
        Some(r) => {
            return Err(ChainError::Refused(format!(
                "{} records a contract under root {}, but the config names root {}; \
                 move the data dir away to register under the new root",
                reg.state_file.display(),
                r.root,
                address::raw(root)
            )))
        }
        None => None,
    };
    let record = match record {
        Some(r) => r,
        None => match find_in_registry(api, root, wallet.address(), &public_key).await? {
            Some(r) => {
                tracing::info!(contract = %r.contract, seqno = r.seqno, "found this proxy's contract in the root's registry");
                r
            }
            None => register(api, wallet, root, &params, reg, send).await?,
        },
    };
    write_record(&reg.state_file, &record)?;
    let address = address::parse_std(&record.contract)?;
    let data = getters::proxy_data(api, &address).await?;
    if data.owner != *wallet.address() || data.public_key != public_key {
        return Err(ChainError::Refused(format!(
            "the proxy contract {} belongs to another owner or key",
            record.contract
        )));
    }
    if data.state != 0 {
        return Err(ChainError::Refused(format!(
            "the proxy contract {} is closing or closed (state {}); register a new one by moving {} away",
            record.contract,
            data.state,
            reg.state_file.display()
        )));
    }
    if data.params_version != params.params_version {
        return Err(ChainError::Refused(format!(
            "the root's params changed (version {} -> {}) since this proxy registered; close it and register again",
            data.params_version, params.params_version
        )));
    }
    Ok(ProxyContract { address, child_params: params.for_child(), data })
}

/// This proxy's entry in the root's registry (owner and key match), the latest if several.
async fn find_in_registry(
    api: &TonApi,
    root: &StdAddr,
    owner: &StdAddr,
    public_key: &HashBytes,
) -> Result<Option<Record>, ChainError> {
    let entries = getters::proxies(api, root).await?;
    let ours = entries
        .into_iter()
        .filter(|(_, e)| e.owner == *owner && e.public_key == *public_key)
        .max_by_key(|(_, e)| e.seqno);
    Ok(ours.map(|(hash, e)| Record {
        root: address::raw(root),
        contract: address::raw(&StdAddr::new(keys::WORKCHAIN, hash)),
        seqno: e.seqno,
    }))
}

async fn register(
    api: &TonApi,
    wallet: &WalletV4,
    root: &StdAddr,
    params: &Params,
    reg: &Registration,
    send: SendOptions,
) -> Result<Record, ChainError> {
    if reg.stake < params.min_proxy_stake {
        return Err(ChainError::Refused(format!(
            "the root wants a proxy stake of at least {} nanotons; the config stakes {}",
            params.min_proxy_stake, reg.stake
        )));
    }
    let value = reg.stake + messages::gas::REGISTER;
    let balance = api.get_address_balance(wallet.address()).await?;
    // The wallet's own fee is well under 0.05 TON.
    let needed = value + messages::gas::SIGNED_OP;
    if balance < needed {
        return Err(ChainError::Refused(format!(
            "the proxy's wallet {} holds {balance} nanotons; registering needs {needed} \
             (stake {} + 0.05 TON the root keeps for gas + fees): send TON to it",
            address::friendly_url(wallet.address(), false),
            reg.stake
        )));
    }
    let body = messages::register_proxy(
        &wallet.public_key(),
        reg.stake,
        &reg.client_endpoint,
        &reg.worker_endpoint,
        reg.report_url.as_deref(),
        0,
    )?;
    tracing::info!(root = %address::raw(root), stake = reg.stake, "registering this proxy in the root");
    wallet.send(api, &[Transfer::new(root.clone(), value).with_body(body)], send).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = find_in_registry(api, root, wallet.address(), &wallet.public_key()).await? {
            tracing::info!(contract = %r.contract, seqno = r.seqno, "registered");
            return Ok(r);
        }
        if Instant::now() > deadline {
            return Err(ChainError::Timeout(
                "the registration was sent but the root does not list this proxy after 60 s (refused? see the root's transactions)".into(),
            ));
        }
        tokio::time::sleep(send.poll_interval).await;
    }
}

fn read_record(path: &Path) -> Result<Option<Record>, ChainError> {
    let err = |message: String| ChainError::State { path: path.display().to_string(), message };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(e.to_string())),
    }
}

/// Writes the record durably (temp file, fsync, rename).
fn write_record(path: &Path, r: &Record) -> Result<(), ChainError> {
    let err = |message: String| ChainError::State { path: path.display().to_string(), message };
    if read_record(path)?.as_ref() == Some(r) {
        return Ok(());
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(r).map_err(|e| err(e.to_string()))?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| err(e.to_string()))?;
        f.write_all(&text).map_err(|e| err(e.to_string()))?;
        f.sync_all().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}
