//! The chain's side of a snapshot: the root (params, allowlists, registry), every listed proxy
//! contract (state, money, last anchor), and the client contracts the proxies' reports name
//! (balances and stakes, for the TVL). Read through the TON HTTP API's getters.

use crate::snapshot::{now_ms, AllowlistsView, AnchorView, Nanotons, ParamsView, ProxyChain, RootView, TvlParts};
use cocoon_ton::contracts::getters::{self, ProxyEntry};
use cocoon_ton::{address, StdAddr, TonApi};
use futures::{stream, StreamExt};

/// Getter calls in flight at once.
const CONCURRENCY: usize = 8;

/// Most client contracts read in one pass (the rest are counted as not read).
pub const MAX_CLIENT_READS: usize = 500;

/// A proxy the root lists, with its contract as read.
#[derive(Debug, Clone)]
pub struct ListedProxy {
    /// Its contract (raw).
    pub address: String,
    /// The root's entry: key, endpoints, report URL.
    pub entry: ProxyEntry,
    /// Its contract's state.
    pub chain: ProxyChain,
}

/// What the chain said.
#[derive(Debug, Clone, Default)]
pub struct ChainView {
    pub root: RootView,
    pub proxies: Vec<ListedProxy>,
}

fn state_name(state: u8) -> String {
    match state {
        0 => "normal".into(),
        1 => "closing".into(),
        2 => "closed".into(),
        n => format!("unknown ({n})"),
    }
}

/// Reads the root and every proxy it lists.
pub async fn read(api: &TonApi, root: &StdAddr) -> ChainView {
    let mut view = RootView { address: address::raw(root), ..Default::default() };
    let (data, params, lists, entries) = tokio::join!(
        getters::root_data(api, root),
        getters::params(api, root),
        getters::allowlists(api, root),
        getters::proxies(api, root)
    );
    view.read_at = now_ms();
    let mut errors = Vec::new();
    match data {
        Ok(d) => {
            view.version = Some(d.version);
            view.params_version = Some(d.params_version);
            view.proxy_count = Some(d.proxy_count);
            view.last_proxy_seqno = Some(d.last_proxy_seqno);
        }
        Err(e) => errors.push(format!("get_root_data: {e}")),
    }
    match params {
        Ok(p) => {
            view.params = Some(ParamsView {
                unique_id: p.unique_id,
                is_test: p.is_test,
                price_per_token: Nanotons(p.price_per_token),
                worker_fee_per_token: Nanotons(p.worker_fee_per_token),
                prompt_multiplier: p.prompt_multiplier,
                cached_multiplier: p.cached_multiplier,
                completion_multiplier: p.completion_multiplier,
                reasoning_multiplier: p.reasoning_multiplier,
                proxy_delay_before_close: p.proxy_delay_before_close,
                client_delay_before_close: p.client_delay_before_close,
                min_proxy_stake: Nanotons(p.min_proxy_stake),
                min_client_stake: Nanotons(p.min_client_stake),
            })
        }
        Err(e) => errors.push(format!("get_params: {e}")),
    }
    let hexes = |v: &[cocoon_ton::HashBytes]| v.iter().map(|h| hex::encode(h.as_array())).collect::<Vec<_>>();
    match lists {
        Ok(l) => {
            view.allowlists = Some(AllowlistsView {
                proxy_images: hexes(&l.proxy_image_hashes),
                worker_images: hexes(&l.worker_image_hashes),
                models: hexes(&l.model_hashes),
            })
        }
        Err(e) => errors.push(format!("get_allowlists: {e}")),
    }
    let entries = match entries {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("get_proxies: {e}"));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        view.error = Some(errors.join("; "));
    }
    let proxies = stream::iter(entries)
        .map(|(hash, entry)| async move {
            let contract = StdAddr::new(root.workchain, hash);
            ListedProxy { address: address::raw(&contract), chain: read_proxy(api, &contract).await, entry }
        })
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    ChainView { root: view, proxies }
}

/// Reads one proxy contract: its data and its last anchor.
pub async fn read_proxy(api: &TonApi, contract: &StdAddr) -> ProxyChain {
    let (data, anchor) = tokio::join!(getters::proxy_data(api, contract), getters::anchor(api, contract));
    let read_at = now_ms();
    let mut out = ProxyChain { read_at, ..Default::default() };
    let mut errors = Vec::new();
    match data {
        Ok(d) => {
            out.state = Some(state_name(d.state));
            out.stake = Some(Nanotons(d.stake));
            out.balance = Some(Nanotons(d.balance));
            out.commission = Some(Nanotons(d.commission));
        }
        Err(e) => errors.push(format!("get_proxy_data: {e}")),
    }
    match anchor {
        Ok(a) => {
            let now = read_at / 1000;
            let age_s = (a.saved_at > 0).then(|| now.saturating_sub(u64::from(a.saved_at)));
            out.anchor = Some(AnchorView { seqno: a.seqno, saved_at: a.saved_at, age_s });
        }
        Err(e) => errors.push(format!("get_anchor: {e}")),
    }
    if !errors.is_empty() {
        out.error = Some(errors.join("; "));
    }
    out
}

/// Sums the balances and stakes of the client contracts at `addresses` (raw or friendly; each
/// read once, at most [`MAX_CLIENT_READS`]). A contract that is not deployed holds nothing.
/// Returns the client parts of the TVL and the read time.
pub async fn read_clients(api: &TonApi, addresses: &[String]) -> (TvlParts, u64) {
    let mut unique: Vec<StdAddr> = addresses.iter().filter_map(|a| address::parse_std(a).ok()).collect();
    unique.sort_by_key(address::raw);
    unique.dedup();
    let partial = unique.len() > MAX_CLIENT_READS;
    unique.truncate(MAX_CLIENT_READS);
    let read = stream::iter(unique)
        .map(|a| async move { getters::client_data(api, &a).await.ok() })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut parts = TvlParts { partial, ..Default::default() };
    for c in read.into_iter().flatten() {
        parts.client_balance = parts.client_balance + Nanotons(c.balance);
        parts.client_stake = parts.client_stake + Nanotons(c.stake);
        parts.client_contracts += 1;
    }
    (parts, now_ms())
}
