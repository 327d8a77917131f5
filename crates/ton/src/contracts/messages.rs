//! Message bodies of the cocoon contracts' operations (contracts/messages.tlb; op codes as in
//! contracts/wrappers/ops.ts and src/messages.tolk), and the value each must attach
//! (src/gas.tolk). Vouchers (charge, grant refund, payout) are built by `cocoon-voucher`.

use tycho_types::cell::{Cell, CellBuilder, HashBytes};

use super::store_coins;
use crate::error::Result;

/// What messages must attach (contracts/src/gas.tolk), in nanotons.
pub mod value {
    /// Kept by a client contract from every top-up and stake increase (credited: value - fee).
    pub const DEPOSIT_FEE: u128 = 10_000_000;
    /// A signed operation (charge, grant refund, worker payout).
    pub const SIGNED_OP: u128 = 50_000_000;
    /// A simple owner operation (withdraw, request refund, force refund, commission withdraw).
    pub const SIMPLE_OP: u128 = 20_000_000;
    /// A proxy registration, on top of its stake.
    pub const REGISTER: u128 = 50_000_000;
}

/// Op codes (first 32 bits of every body), per operation.
pub mod op {
    /// Charge voucher (to a client contract).
    pub const CHARGE: u32 = 0xbb63_ff93;
    /// Grant refund, the final charge (to a client contract).
    pub const GRANT_REFUND: u32 = 0xefd7_11e1;
    /// Worker payout voucher (to a worker contract).
    pub const WORKER_PAYOUT: u32 = 0xa040_ad28;
    /// Client top-up (anyone).
    pub const CLIENT_TOP_UP: u32 = 0xf172_e6c2;
    /// Client stake increase (owner).
    pub const CLIENT_INCREASE_STAKE: u32 = 0x6a1f_6a60;
    /// Client withdrawal of balance (owner).
    pub const CLIENT_WITHDRAW: u32 = 0xda06_8e78;
    /// Client asks to close (owner).
    pub const CLIENT_REQUEST_REFUND: u32 = 0xfafa_6cc1;
    /// Forced refund after the delay (anyone).
    pub const CLIENT_FORCE_REFUND: u32 = 0x3c9a_1e55;
    /// Client contract -> proxy contract.
    pub const CHARGE_NOTIFICATION: u32 = 0x7a3c_0f11;
    /// Worker contract -> proxy contract.
    pub const PAYOUT_REQUEST: u32 = 0x4f9e_2b07;
    /// Change to whoever paid the gas.
    pub const EXCESSES: u32 = 0x2565_934c;
    /// Proxy contract -> worker owner.
    pub const WORKER_PAID: u32 = 0x5fe1_d0a3;
    /// Client contract -> owner at close.
    pub const CLIENT_REFUNDED: u32 = 0x1b6e_0f4d;
    /// Root -> new proxy contract.
    pub const PROXY_INIT: u32 = 0x0d1a_7e3b;
    /// Proxy stake increase (owner).
    pub const PROXY_INCREASE_STAKE: u32 = 0x9713_f187;
    /// Proxy commission withdrawal (owner).
    pub const PROXY_WITHDRAW_COMMISSION: u32 = 0x6c1f_2a9d;
    /// Proxy anchor save (owner).
    pub const PROXY_SAVE_STATE: u32 = 0x5310_9c0f;
    /// Proxy close start (owner).
    pub const PROXY_START_CLOSE: u32 = 0x8e0b_3c41;
    /// Proxy close finish (owner, after the delay).
    pub const PROXY_FINISH_CLOSE: u32 = 0x2e7d_59c6;
    /// Proxy registration (to the root, anyone).
    pub const REGISTER_PROXY: u32 = 0x5a0c_8d2f;
    /// Proxy contract -> root at close start.
    pub const UNREGISTER_PROXY: u32 = 0x71b4_e6a8;
    /// Params update (root owner).
    pub const UPDATE_PARAMS: u32 = 0x1e3f_7c90;
    /// Allowlist update (root owner).
    pub const UPDATE_ALLOWLIST: u32 = 0x4b5d_9e12;
    /// Root ownership change (root owner).
    pub const CHANGE_OWNER: u32 = 0x0f6c_3a27;
}

/// Value each operation must attach, in nanotons (src/gas.tolk).
pub mod gas {
    /// Kept by a top-up or stake increase (credited: value minus this).
    pub const DEPOSIT_FEE: u128 = 10_000_000;
    /// A signed voucher operation.
    pub const SIGNED_OP: u128 = 50_000_000;
    /// Withdrawals, refunds, closes.
    pub const SIMPLE_OP: u128 = 20_000_000;
    /// A proxy registration, on top of the stake.
    pub const REGISTER: u128 = 50_000_000;
}

fn body(op: u32, query_id: u64, extra: impl FnOnce(&mut CellBuilder) -> Result<()>) -> Result<Cell> {
    let mut b = CellBuilder::new();
    b.store_u32(op)?;
    b.store_u64(query_id)?;
    extra(&mut b)?;
    Ok(b.build()?)
}

fn plain(op: u32, query_id: u64) -> Result<Cell> {
    body(op, query_id, |_| Ok(()))
}

/// `top_up`: credits value − 0.01 TON to the client's balance (anyone; the first deploys it).
pub fn client_top_up(query_id: u64) -> Result<Cell> {
    plain(op::CLIENT_TOP_UP, query_id)
}

/// `increase_stake`: stake += value − 0.01 TON (owner).
pub fn client_increase_stake(query_id: u64) -> Result<Cell> {
    plain(op::CLIENT_INCREASE_STAKE, query_id)
}

/// `withdraw`: `amount` of the balance (never the stake) to the owner.
pub fn client_withdraw(amount: u128, query_id: u64) -> Result<Cell> {
    body(op::CLIENT_WITHDRAW, query_id, |b| Ok(store_coins(b, amount)?))
}

/// `request_refund`: starts the close delay (owner).
pub fn client_request_refund(query_id: u64) -> Result<Cell> {
    plain(op::CLIENT_REQUEST_REFUND, query_id)
}

/// `force_refund`: after the delay, pays balance and stake to the owner (anyone).
pub fn client_force_refund(query_id: u64) -> Result<Cell> {
    plain(op::CLIENT_FORCE_REFUND, query_id)
}

/// `proxy_increase_stake` (proxy owner).
pub fn proxy_increase_stake(query_id: u64) -> Result<Cell> {
    plain(op::PROXY_INCREASE_STAKE, query_id)
}

/// `proxy_withdraw_commission`: `amount` of the commission to the owner.
pub fn proxy_withdraw_commission(amount: u128, query_id: u64) -> Result<Cell> {
    body(op::PROXY_WITHDRAW_COMMISSION, query_id, |b| Ok(store_coins(b, amount)?))
}

/// `proxy_save_state`: a new anchor (`seqno` must grow).
pub fn proxy_save_state(seqno: u32, session_hash: &HashBytes, query_id: u64) -> Result<Cell> {
    body(op::PROXY_SAVE_STATE, query_id, |b| {
        b.store_u32(seqno)?;
        b.store_u256(session_hash)?;
        Ok(())
    })
}

/// `proxy_start_close`: delists the proxy and starts the close delay.
pub fn proxy_start_close(query_id: u64) -> Result<Cell> {
    plain(op::PROXY_START_CLOSE, query_id)
}

/// `proxy_finish_close`: after the delay, pays stake, commission and held money to the owner.
pub fn proxy_finish_close(query_id: u64) -> Result<Cell> {
    plain(op::PROXY_FINISH_CLOSE, query_id)
}

/// A snake string: up to 127 bytes per cell, the rest in the first reference.
pub fn snake_string(s: &str) -> Result<Cell> {
    let bytes = s.as_bytes();
    let mut chunks: Vec<&[u8]> = bytes.chunks(127).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let mut tail: Option<Cell> = None;
    for chunk in chunks.iter().rev() {
        let mut b = CellBuilder::new();
        b.store_raw(chunk, (chunk.len() * 8) as u16)?;
        if let Some(t) = tail.take() {
            b.store_reference(t)?;
        }
        tail = Some(b.build()?);
    }
    tail.ok_or_else(|| tycho_types::error::Error::CellUnderflow.into())
}

/// The endpoints cell of a registration: two snake strings, each in its own reference, then
/// `Maybe ^Str` for the proxy's public report URL.
pub fn endpoints_cell(client_endpoint: &str, worker_endpoint: &str, report_url: Option<&str>) -> Result<Cell> {
    let mut b = CellBuilder::new();
    b.store_reference(snake_string(client_endpoint)?)?;
    b.store_reference(snake_string(worker_endpoint)?)?;
    b.store_bit(report_url.is_some())?;
    if let Some(url) = report_url {
        b.store_reference(snake_string(url)?)?;
    }
    Ok(b.build()?)
}

/// `register_proxy` (to the root, with `stake` + at least 0.05 TON; the change comes back).
pub fn register_proxy(
    public_key: &HashBytes,
    stake: u128,
    client_endpoint: &str,
    worker_endpoint: &str,
    report_url: Option<&str>,
    query_id: u64,
) -> Result<Cell> {
    let endpoints = endpoints_cell(client_endpoint, worker_endpoint, report_url)?;
    body(op::REGISTER_PROXY, query_id, |b| {
        b.store_u256(public_key)?;
        store_coins(b, stake)?;
        b.store_reference(endpoints)?;
        Ok(())
    })
}

/// Which root allowlist an `update_allowlist` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowlist {
    /// Image hashes a proxy may attest (1).
    ProxyImages = 1,
    /// Image hashes a worker may attest (2).
    WorkerImages = 2,
    /// Model weight hashes (3).
    Models = 3,
}

/// `update_allowlist` (root owner): adds or removes `hash` on `list`.
pub fn root_update_allowlist(list: Allowlist, hash: &HashBytes, add: bool, query_id: u64) -> Result<Cell> {
    body(op::UPDATE_ALLOWLIST, query_id, |b| {
        b.store_u8(list as u8)?;
        b.store_u256(hash)?;
        b.store_bit(add)?;
        Ok(())
    })
}

/// `update_params` (root owner): new params (the root's copy, with the three child codes);
/// the root sets `params_version` itself.
pub fn root_update_params(params: &crate::contracts::Params, query_id: u64) -> Result<Cell> {
    let cell = params.to_cell()?;
    body(op::UPDATE_PARAMS, query_id, |b| {
        b.store_reference(cell)?;
        Ok(())
    })
}
