//! The cocoon contracts' get-methods (docs/CONTRACTS.md, "Storage and getters"): typed
//! results, their parsers from a [`StackReader`], and calls through a [`TonApi`].

use tycho_types::cell::Load;
use tycho_types::cell::{Cell, HashBytes};
use tycho_types::dict::Dict;
use tycho_types::models::StdAddr;
use tycho_types::num::Tokens;

use super::Params;
use crate::address::load_address;
use crate::api::{StackEntry, StackReader, TonApi};
use crate::error::{Error, Result};

/// `get_root_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootData {
    /// The governance wallet.
    pub owner: StdAddr,
    /// Bumped by every change.
    pub version: u32,
    /// The params' version.
    pub params_version: u32,
    /// The last registration seqno given out.
    pub last_proxy_seqno: u32,
    /// Proxies listed.
    pub proxy_count: u32,
}

/// `get_proxy_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyData {
    /// The operator.
    pub owner: StdAddr,
    /// The voucher-signing key.
    pub public_key: HashBytes,
    /// The root that created it.
    pub root: StdAddr,
    /// Its registration seqno.
    pub seqno: u32,
    /// 0 normal, 1 closing, 2 closed.
    pub state: u8,
    /// When closing: when the stake may be taken back.
    pub unlock_time: u32,
    /// Stake.
    pub stake: u128,
    /// Money held for workers (from client charges).
    pub balance: u128,
    /// Commission earned and not withdrawn.
    pub commission: u128,
    /// Price per token.
    pub price_per_token: u128,
    /// Worker fee per token.
    pub worker_fee_per_token: u128,
    /// Params version of its copy.
    pub params_version: u32,
}

/// `get_anchor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Only grows.
    pub seqno: u32,
    /// The saved session hash.
    pub session_hash: HashBytes,
    /// Unix time of the save.
    pub saved_at: u32,
}

/// `get_client_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    /// 0 normal, 1 closing, 2 closed.
    pub state: u8,
    /// Balance (nanotons).
    pub balance: u128,
    /// Stake (nanotons).
    pub stake: u128,
    /// Cumulative tokens charged.
    pub tokens_used: u64,
    /// When closing: when a forced refund becomes possible.
    pub unlock_time: u32,
    /// The client.
    pub owner: StdAddr,
    /// Its proxy contract.
    pub proxy: StdAddr,
    /// The proxy's voucher key.
    pub proxy_public_key: HashBytes,
    /// Price per token.
    pub price_per_token: u128,
    /// Least stake.
    pub min_client_stake: u128,
    /// Close delay (seconds).
    pub client_delay_before_close: u32,
    /// Params version of its copy.
    pub params_version: u32,
}

/// `get_worker_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerData {
    /// Cumulative tokens paid.
    pub tokens: u64,
    /// The worker.
    pub owner: StdAddr,
    /// Its proxy contract.
    pub proxy: StdAddr,
    /// The proxy's voucher key.
    pub proxy_public_key: HashBytes,
    /// Worker fee per token.
    pub worker_fee_per_token: u128,
    /// Params version of its copy.
    pub params_version: u32,
}

/// A registered proxy as the root lists it (`ProxyEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEntry {
    /// Registration seqno.
    pub seqno: u32,
    /// The operator.
    pub owner: StdAddr,
    /// The voucher-signing key.
    pub public_key: HashBytes,
    /// Stake at registration.
    pub stake: u128,
    /// Params version at registration.
    pub params_version: u32,
    /// Unix time of the registration.
    pub registered_at: u32,
    /// Where clients connect.
    pub client_endpoint: String,
    /// Where workers connect.
    pub worker_endpoint: String,
    /// The proxy's public report (HTTP), when its registration named one.
    pub report_url: Option<String>,
}

fn small<T: TryFrom<u32>>(r: &mut StackReader, what: &str) -> Result<T> {
    let v = r.next_u32()?;
    T::try_from(v).map_err(|_| Error::Getter { method: what.into(), message: format!("{v} out of range") })
}

/// Parses `get_root_data`.
pub fn parse_root_data(r: &mut StackReader) -> Result<RootData> {
    Ok(RootData {
        owner: r.next_address()?,
        version: r.next_u32()?,
        params_version: r.next_u32()?,
        last_proxy_seqno: r.next_u32()?,
        proxy_count: r.next_u32()?,
    })
}

/// Parses `get_params`'s 17 entries.
pub fn parse_params(r: &mut StackReader) -> Result<Params> {
    Ok(Params {
        struct_version: small(r, "get_params")?,
        params_version: r.next_u32()?,
        unique_id: r.next_u32()?,
        is_test: r.next_bool()?,
        price_per_token: r.next_u128()?,
        worker_fee_per_token: r.next_u128()?,
        prompt_multiplier: r.next_u32()?,
        cached_multiplier: r.next_u32()?,
        completion_multiplier: r.next_u32()?,
        reasoning_multiplier: r.next_u32()?,
        proxy_delay_before_close: r.next_u32()?,
        client_delay_before_close: r.next_u32()?,
        min_proxy_stake: r.next_u128()?,
        min_client_stake: r.next_u128()?,
        proxy_code: r.next_cell_opt()?,
        worker_code: r.next_cell_opt()?,
        client_code: r.next_cell_opt()?,
    })
}

/// Parses `get_proxy_data`.
pub fn parse_proxy_data(r: &mut StackReader) -> Result<ProxyData> {
    Ok(ProxyData {
        owner: r.next_address()?,
        public_key: r.next_u256()?,
        root: r.next_address()?,
        seqno: r.next_u32()?,
        state: small(r, "get_proxy_data")?,
        unlock_time: r.next_u32()?,
        stake: r.next_u128()?,
        balance: r.next_u128()?,
        commission: r.next_u128()?,
        price_per_token: r.next_u128()?,
        worker_fee_per_token: r.next_u128()?,
        params_version: r.next_u32()?,
    })
}

/// Parses `get_anchor`.
pub fn parse_anchor(r: &mut StackReader) -> Result<Anchor> {
    Ok(Anchor { seqno: r.next_u32()?, session_hash: r.next_u256()?, saved_at: r.next_u32()? })
}

/// Parses `get_client_data`.
pub fn parse_client_data(r: &mut StackReader) -> Result<ClientData> {
    Ok(ClientData {
        state: small(r, "get_client_data")?,
        balance: r.next_u128()?,
        stake: r.next_u128()?,
        tokens_used: r.next_u64()?,
        unlock_time: r.next_u32()?,
        owner: r.next_address()?,
        proxy: r.next_address()?,
        proxy_public_key: r.next_u256()?,
        price_per_token: r.next_u128()?,
        min_client_stake: r.next_u128()?,
        client_delay_before_close: r.next_u32()?,
        params_version: r.next_u32()?,
    })
}

/// Parses `get_worker_data`.
pub fn parse_worker_data(r: &mut StackReader) -> Result<WorkerData> {
    Ok(WorkerData {
        tokens: r.next_u64()?,
        owner: r.next_address()?,
        proxy: r.next_address()?,
        proxy_public_key: r.next_u256()?,
        worker_fee_per_token: r.next_u128()?,
        params_version: r.next_u32()?,
    })
}

/// Reads a snake string (bytes in each cell, continued in its first reference).
pub fn load_snake_string(cell: &Cell) -> Result<String> {
    let mut bytes = Vec::new();
    let mut cur = cell.clone();
    for _ in 0..64 {
        let s = cur.as_slice()?;
        let bits = s.size_bits();
        if bits % 8 != 0 {
            return Err(tycho_types::error::Error::InvalidData.into());
        }
        let mut buf = vec![0u8; usize::from(bits / 8)];
        s.get_raw(0, &mut buf, bits)?;
        bytes.extend_from_slice(&buf);
        if s.size_refs() == 0 {
            return String::from_utf8(bytes).map_err(|_| tycho_types::error::Error::InvalidData.into());
        }
        cur = s.get_reference_cloned(0)?;
    }
    Err(tycho_types::error::Error::InvalidData.into())
}

/// Parses a `ProxyEntry` cell.
pub fn parse_proxy_entry(cell: &Cell) -> Result<ProxyEntry> {
    let mut s = cell.as_slice()?;
    let seqno = s.load_u32()?;
    let owner = load_address(&mut s)?;
    let public_key = s.load_u256()?;
    let stake = Tokens::load_from(&mut s)?.into_inner();
    let params_version = s.load_u32()?;
    let registered_at = s.load_u32()?;
    let endpoints = s.load_reference_cloned()?;
    let mut e = endpoints.as_slice()?;
    let client_endpoint = load_snake_string(&e.load_reference_cloned()?)?;
    let worker_endpoint = load_snake_string(&e.load_reference_cloned()?)?;
    // Registrations made before the report URL existed end here (no bit).
    let report_url = match e.size_bits() > 0 && e.load_bit()? {
        true => Some(load_snake_string(&e.load_reference_cloned()?)?),
        false => None,
    };
    Ok(ProxyEntry {
        seqno,
        owner,
        public_key,
        stake,
        params_version,
        registered_at,
        client_endpoint,
        worker_endpoint,
        report_url,
    })
}

/// Parses `get_proxies`' dictionary (root cell or null): entries keyed by the proxy contract's
/// address hash, in key order.
pub fn parse_proxies(dict_root: Option<Cell>) -> Result<Vec<(HashBytes, ProxyEntry)>> {
    let dict: Dict<HashBytes, Cell> = Dict::from_raw(dict_root);
    let mut out = Vec::new();
    for item in dict.iter() {
        let (key, cell) = item?;
        out.push((key, parse_proxy_entry(&cell)?));
    }
    Ok(out)
}

/// The root's three allowlists (`get_allowlists`): proxy image hashes, worker image hashes,
/// model hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlists {
    /// Image hashes a proxy may attest.
    pub proxy_image_hashes: Vec<HashBytes>,
    /// Image hashes a worker may attest.
    pub worker_image_hashes: Vec<HashBytes>,
    /// Model weight hashes workers may serve.
    pub model_hashes: Vec<HashBytes>,
}

/// The keys of a hash set (a `HashmapE 256 Bool` root cell, or null).
pub fn parse_hash_set(dict_root: Option<Cell>) -> Result<Vec<HashBytes>> {
    let dict: Dict<HashBytes, bool> = Dict::from_raw(dict_root);
    let mut out = Vec::new();
    for item in dict.iter() {
        let (key, present) = item?;
        if present {
            out.push(key);
        }
    }
    Ok(out)
}

/// Runs `get_allowlists` on `root`.
pub async fn allowlists(api: &TonApi, root: &StdAddr) -> Result<Allowlists> {
    let mut r = call(api, root, "get_allowlists", &[]).await?;
    Ok(Allowlists {
        proxy_image_hashes: parse_hash_set(r.next_cell_opt()?)?,
        worker_image_hashes: parse_hash_set(r.next_cell_opt()?)?,
        model_hashes: parse_hash_set(r.next_cell_opt()?)?,
    })
}

async fn call(api: &TonApi, address: &StdAddr, method: &str, args: &[StackEntry]) -> Result<StackReader> {
    api.run_get_method_ok(address, method, args).await
}

/// Runs `get_root_data` on `root`.
pub async fn root_data(api: &TonApi, root: &StdAddr) -> Result<RootData> {
    parse_root_data(&mut call(api, root, "get_root_data", &[]).await?)
}

/// Runs `get_params` on `root`.
pub async fn params(api: &TonApi, root: &StdAddr) -> Result<Params> {
    parse_params(&mut call(api, root, "get_params", &[]).await?)
}

/// Runs `get_proxies` on `root`.
pub async fn proxies(api: &TonApi, root: &StdAddr) -> Result<Vec<(HashBytes, ProxyEntry)>> {
    parse_proxies(call(api, root, "get_proxies", &[]).await?.next_cell_opt()?)
}

/// Runs `get_proxy_address(owner, public_key, seqno)` on `root`.
pub async fn proxy_address(
    api: &TonApi,
    root: &StdAddr,
    owner: &StdAddr,
    public_key: &HashBytes,
    seqno: u32,
) -> Result<StdAddr> {
    let args = [StackEntry::address(owner)?, StackEntry::uint256(public_key), StackEntry::int(seqno)];
    call(api, root, "get_proxy_address", &args).await?.next_address()
}

/// Runs `get_client_address(owner)` on a proxy contract: that owner's client contract.
pub async fn client_address(api: &TonApi, proxy: &StdAddr, owner: &StdAddr) -> Result<StdAddr> {
    call(api, proxy, "get_client_address", &[StackEntry::address(owner)?]).await?.next_address()
}

/// Runs `get_worker_address(owner)` on a proxy contract: that owner's worker contract.
pub async fn worker_address(api: &TonApi, proxy: &StdAddr, owner: &StdAddr) -> Result<StdAddr> {
    call(api, proxy, "get_worker_address", &[StackEntry::address(owner)?]).await?.next_address()
}

/// Runs `get_proxy_data` on a proxy contract.
pub async fn proxy_data(api: &TonApi, proxy: &StdAddr) -> Result<ProxyData> {
    parse_proxy_data(&mut call(api, proxy, "get_proxy_data", &[]).await?)
}

/// Runs `get_anchor` on a proxy contract.
pub async fn anchor(api: &TonApi, proxy: &StdAddr) -> Result<Anchor> {
    parse_anchor(&mut call(api, proxy, "get_anchor", &[]).await?)
}

/// Runs `get_client_data` on a client contract.
pub async fn client_data(api: &TonApi, client: &StdAddr) -> Result<ClientData> {
    parse_client_data(&mut call(api, client, "get_client_data", &[]).await?)
}

/// Runs `get_worker_data` on a worker contract.
pub async fn worker_data(api: &TonApi, worker: &StdAddr) -> Result<WorkerData> {
    parse_worker_data(&mut call(api, worker, "get_worker_data", &[]).await?)
}
