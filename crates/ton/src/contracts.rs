//! The cocoon contracts (contracts/src/*.tolk) from Rust: their compiled code, the network
//! [`Params`], and each contract's StateInit and address, computed exactly as the root and the
//! proxy contract compute them on chain (and as contracts/wrappers/{root,children}.ts do).
//!
//! Message bodies are in [`messages`], getter parsers in [`getters`].

pub mod getters;
pub mod messages;

use std::sync::OnceLock;

use tycho_types::boc::Boc;
use tycho_types::cell::{Cell, CellBuilder, CellFamily, HashBytes, Load, Store};
use tycho_types::dict::Dict;
use tycho_types::models::{StateInit, StdAddr};
use tycho_types::num::Tokens;

use crate::address::store_opt_address;
use crate::error::{Error, Result};

/// The compiled code of the four contracts (contracts/build/*.json, embedded at build time).
#[derive(Debug, Clone)]
pub struct Codes {
    /// The root (registry).
    pub root: Cell,
    /// A proxy contract.
    pub proxy: Cell,
    /// A client contract.
    pub client: Cell,
    /// A worker contract.
    pub worker: Cell,
}

const BUILD: [(&str, &str); 4] = [
    ("root", include_str!("../../../contracts/build/root.json")),
    ("proxy", include_str!("../../../contracts/build/proxy.json")),
    ("client", include_str!("../../../contracts/build/client.json")),
    ("worker", include_str!("../../../contracts/build/worker.json")),
];

/// One build/<name>.json: its code cell, checked against the recorded hash.
fn load_build(name: &str, text: &str) -> Result<Cell> {
    let bad = |message: String| Error::Boc { what: format!("contracts/build/{name}.json"), message };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let b64 = v.get("codeBoc64").and_then(|x| x.as_str()).ok_or_else(|| bad("no codeBoc64".into()))?;
    let hash = v.get("codeHashHex").and_then(|x| x.as_str()).ok_or_else(|| bad("no codeHashHex".into()))?;
    let cell = Boc::decode_base64(b64).map_err(|e| bad(e.to_string()))?;
    if hex::encode(cell.repr_hash().as_array()) != hash.to_ascii_lowercase() {
        return Err(bad(format!("code hashes to {}, the file says {hash}", cell.repr_hash())));
    }
    Ok(cell)
}

impl Codes {
    /// The codes committed in contracts/build (parsed once).
    pub fn embedded() -> Result<&'static Codes> {
        static CODES: OnceLock<std::result::Result<Codes, String>> = OnceLock::new();
        let r = CODES.get_or_init(|| {
            let mut cells = Vec::with_capacity(4);
            for (name, text) in BUILD {
                cells.push(load_build(name, text).map_err(|e| e.to_string())?);
            }
            let [root, proxy, client, worker]: [Cell; 4] = cells.try_into().map_err(|_| "four codes".to_owned())?;
            Ok(Codes { root, proxy, client, worker })
        });
        r.as_ref().map_err(|message| Error::Boc { what: "contracts/build".into(), message: message.clone() })
    }
}

/// The current layout version of [`Params`] (`PARAMS_STRUCT_VERSION` in params.tolk).
pub const PARAMS_STRUCT_VERSION: u8 = 1;

/// The network parameters (`Params` in contracts/src/params.tolk). The root's copy holds all
/// three child codes, a proxy contract's the worker and client codes, children's none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Layout version (1).
    pub struct_version: u8,
    /// Bumped by the root on every change.
    pub params_version: u32,
    /// Tells networks apart.
    pub unique_id: u32,
    /// A test network.
    pub is_test: bool,
    /// What a client pays per adjusted token (nanotons).
    pub price_per_token: u128,
    /// What a worker earns per adjusted token (nanotons, at most the price).
    pub worker_fee_per_token: u128,
    /// Prompt token multiplier (1/10000).
    pub prompt_multiplier: u32,
    /// Cached prompt token multiplier (1/10000).
    pub cached_multiplier: u32,
    /// Completion token multiplier (1/10000).
    pub completion_multiplier: u32,
    /// Reasoning token multiplier (1/10000).
    pub reasoning_multiplier: u32,
    /// Seconds between a proxy's close request and its stake coming back.
    pub proxy_delay_before_close: u32,
    /// Seconds a client waits for the final charge before it may force a refund.
    pub client_delay_before_close: u32,
    /// Least stake a proxy registers with (nanotons).
    pub min_proxy_stake: u128,
    /// Least stake of a client (nanotons).
    pub min_client_stake: u128,
    /// Proxy contract code (root's copy only).
    pub proxy_code: Option<Cell>,
    /// Worker contract code (root's and proxies' copies).
    pub worker_code: Option<Cell>,
    /// Client contract code (root's and proxies' copies).
    pub client_code: Option<Cell>,
}

impl Default for Params {
    /// `defaultParams()` of contracts/wrappers/params.ts: Cocoon's test prices (2 and 1 nanotons
    /// per token), one-day close delays, 10 TON proxy and 0.1 TON client minimum stakes; no codes.
    fn default() -> Self {
        Self {
            struct_version: PARAMS_STRUCT_VERSION,
            params_version: 1,
            unique_id: 0,
            is_test: true,
            price_per_token: 2,
            worker_fee_per_token: 1,
            prompt_multiplier: 10_000,
            cached_multiplier: 10_000,
            completion_multiplier: 10_000,
            reasoning_multiplier: 10_000,
            proxy_delay_before_close: 86_400,
            client_delay_before_close: 86_400,
            min_proxy_stake: 10_000_000_000,
            min_client_stake: 100_000_000,
            proxy_code: None,
            worker_code: None,
            client_code: None,
        }
    }
}

impl Params {
    /// The root's copy: all three child codes.
    pub fn for_root(&self, codes: &Codes) -> Self {
        Self {
            proxy_code: Some(codes.proxy.clone()),
            worker_code: Some(codes.worker.clone()),
            client_code: Some(codes.client.clone()),
            ..self.clone()
        }
    }

    /// A proxy contract's copy: the worker and client codes, not its own.
    pub fn for_proxy(&self, codes: &Codes) -> Self {
        Self {
            proxy_code: None,
            worker_code: Some(codes.worker.clone()),
            client_code: Some(codes.client.clone()),
            ..self.clone()
        }
    }

    /// A client's or worker's copy: no code.
    pub fn for_child(&self) -> Self {
        Self { proxy_code: None, worker_code: None, client_code: None, ..self.clone() }
    }

    /// The params cell.
    pub fn to_cell(&self) -> Result<Cell> {
        Ok(CellBuilder::build_from(self)?)
    }
}

/// Stores `Coins` (VarUInteger 16).
pub(crate) fn store_coins(b: &mut CellBuilder, amount: u128) -> std::result::Result<(), tycho_types::error::Error> {
    Tokens::new(amount).store_into(b, Cell::empty_context())
}

fn store_maybe_ref(b: &mut CellBuilder, c: &Option<Cell>) -> std::result::Result<(), tycho_types::error::Error> {
    match c {
        Some(c) => {
            b.store_bit_one()?;
            b.store_reference(c.clone())
        }
        None => b.store_bit_zero(),
    }
}

impl Store for Params {
    fn store_into(
        &self,
        b: &mut CellBuilder,
        _: &dyn tycho_types::cell::CellContext,
    ) -> std::result::Result<(), tycho_types::error::Error> {
        b.store_u8(self.struct_version)?;
        b.store_u32(self.params_version)?;
        b.store_u32(self.unique_id)?;
        b.store_bit(self.is_test)?;
        store_coins(b, self.price_per_token)?;
        store_coins(b, self.worker_fee_per_token)?;
        b.store_u32(self.prompt_multiplier)?;
        b.store_u32(self.cached_multiplier)?;
        b.store_u32(self.completion_multiplier)?;
        b.store_u32(self.reasoning_multiplier)?;
        b.store_u32(self.proxy_delay_before_close)?;
        b.store_u32(self.client_delay_before_close)?;
        store_coins(b, self.min_proxy_stake)?;
        store_coins(b, self.min_client_stake)?;
        store_maybe_ref(b, &self.proxy_code)?;
        store_maybe_ref(b, &self.worker_code)?;
        store_maybe_ref(b, &self.client_code)
    }
}

impl<'a> Load<'a> for Params {
    fn load_from(s: &mut tycho_types::cell::CellSlice<'a>) -> std::result::Result<Self, tycho_types::error::Error> {
        let coins = |s: &mut tycho_types::cell::CellSlice<'a>| Tokens::load_from(s).map(Tokens::into_inner);
        let maybe_ref =
            |s: &mut tycho_types::cell::CellSlice<'a>| -> std::result::Result<Option<Cell>, tycho_types::error::Error> {
                if s.load_bit()? {
                    s.load_reference_cloned().map(Some)
                } else {
                    Ok(None)
                }
            };
        Ok(Self {
            struct_version: s.load_u8()?,
            params_version: s.load_u32()?,
            unique_id: s.load_u32()?,
            is_test: s.load_bit()?,
            price_per_token: coins(s)?,
            worker_fee_per_token: coins(s)?,
            prompt_multiplier: s.load_u32()?,
            cached_multiplier: s.load_u32()?,
            completion_multiplier: s.load_u32()?,
            reasoning_multiplier: s.load_u32()?,
            proxy_delay_before_close: s.load_u32()?,
            client_delay_before_close: s.load_u32()?,
            min_proxy_stake: coins(s)?,
            min_client_stake: coins(s)?,
            proxy_code: maybe_ref(s)?,
            worker_code: maybe_ref(s)?,
            client_code: maybe_ref(s)?,
        })
    }
}

/// What a new root starts with (`RootConfig` in contracts/wrappers/root.ts).
#[derive(Debug, Clone)]
pub struct RootConfig {
    /// The governance wallet.
    pub owner: StdAddr,
    /// The params (codes are added from [`Codes`]).
    pub params: Params,
    /// Allowed proxy image hashes.
    pub proxy_image_hashes: Vec<HashBytes>,
    /// Allowed worker image hashes.
    pub worker_image_hashes: Vec<HashBytes>,
    /// Allowed model hashes.
    pub model_hashes: Vec<HashBytes>,
}

fn hash_set(hashes: &[HashBytes]) -> Result<Dict<HashBytes, bool>> {
    let mut d = Dict::new();
    for h in hashes {
        d.set(h, true)?;
    }
    Ok(d)
}

/// A contract's StateInit from its code and data.
pub fn state_init(code: Cell, data: Cell) -> StateInit {
    StateInit { split_depth: None, special: None, code: Some(code), data: Some(data), libraries: Dict::new() }
}

/// The address of `init` in `workchain`: the representation hash of the StateInit cell.
pub fn address_of(init: &StateInit, workchain: i8) -> Result<StdAddr> {
    let cell = CellBuilder::build_from(init)?;
    Ok(StdAddr::new(workchain, *cell.repr_hash()))
}

/// The root's StateInit (`rootStateInit` in contracts/wrappers/root.ts).
pub fn root_state_init(cfg: &RootConfig, codes: &Codes) -> Result<StateInit> {
    let mut lists = CellBuilder::new();
    hash_set(&cfg.proxy_image_hashes)?.store_into(&mut lists, Cell::empty_context())?;
    hash_set(&cfg.worker_image_hashes)?.store_into(&mut lists, Cell::empty_context())?;
    hash_set(&cfg.model_hashes)?.store_into(&mut lists, Cell::empty_context())?;
    Dict::<HashBytes, Cell>::new().store_into(&mut lists, Cell::empty_context())?;
    let mut b = CellBuilder::new();
    store_opt_address(&mut b, Some(&cfg.owner))?;
    b.store_u32(0)?; // version
    b.store_u32(0)?; // last proxy seqno
    b.store_u32(0)?; // proxy count
    b.store_reference(lists.build()?)?;
    b.store_reference(cfg.params.for_root(codes).to_cell()?)?;
    Ok(state_init(codes.root.clone(), b.build()?))
}

/// The proxy contract the root creates for registration `seqno` of (`owner`, `public_key`).
pub fn proxy_state_init(
    codes: &Codes,
    root: &StdAddr,
    params: &Params,
    owner: &StdAddr,
    public_key: &HashBytes,
    seqno: u32,
) -> Result<StateInit> {
    let mut config = CellBuilder::new();
    store_opt_address(&mut config, Some(root))?;
    config.store_u32(seqno)?;
    config.store_reference(params.for_proxy(codes).to_cell()?)?;
    let mut anchor = CellBuilder::new();
    anchor.store_u32(0)?;
    anchor.store_u256(&HashBytes::ZERO)?;
    anchor.store_u32(0)?;
    let mut b = CellBuilder::new();
    store_opt_address(&mut b, Some(owner))?;
    b.store_u256(public_key)?;
    b.store_small_uint(0, 2)?; // state
    b.store_u32(0)?; // unlock time
    store_coins(&mut b, 0)?; // stake
    store_coins(&mut b, 0)?; // balance
    store_coins(&mut b, 0)?; // commission
    b.store_reference(config.build()?)?;
    b.store_reference(anchor.build()?)?;
    Ok(state_init(codes.proxy.clone(), b.build()?))
}

/// The client contract of `owner` with the proxy contract `proxy`.
pub fn client_state_init(
    codes: &Codes,
    params: &Params,
    owner: &StdAddr,
    proxy: &StdAddr,
    proxy_public_key: &HashBytes,
) -> Result<StateInit> {
    let mut identity = CellBuilder::new();
    store_opt_address(&mut identity, Some(owner))?;
    store_opt_address(&mut identity, Some(proxy))?;
    identity.store_u256(proxy_public_key)?;
    let mut b = CellBuilder::new();
    b.store_small_uint(0, 2)?; // state
    store_coins(&mut b, 0)?; // balance
    store_coins(&mut b, 0)?; // stake
    b.store_u64(0)?; // tokens used
    b.store_u32(0)?; // unlock time
    b.store_reference(identity.build()?)?;
    b.store_reference(params.for_child().to_cell()?)?;
    Ok(state_init(codes.client.clone(), b.build()?))
}

/// The worker contract of `owner` with the proxy contract `proxy`.
pub fn worker_state_init(
    codes: &Codes,
    params: &Params,
    owner: &StdAddr,
    proxy: &StdAddr,
    proxy_public_key: &HashBytes,
) -> Result<StateInit> {
    let mut b = CellBuilder::new();
    b.store_u64(0)?; // tokens
    store_opt_address(&mut b, Some(owner))?;
    store_opt_address(&mut b, Some(proxy))?;
    b.store_u256(proxy_public_key)?;
    b.store_reference(params.for_child().to_cell()?)?;
    Ok(state_init(codes.worker.clone(), b.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_codes_load_and_params_round_trip() {
        let codes = Codes::embedded().unwrap();
        let p = Params::default().for_root(codes);
        let cell = p.to_cell().unwrap();
        assert_eq!(cell.parse::<Params>().unwrap(), p);
        assert_eq!(Params::default().for_proxy(codes).for_child(), Params::default());
    }
}
