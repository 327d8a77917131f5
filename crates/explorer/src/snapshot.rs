//! What the explorer shows: one [`Snapshot`] of the network, every figure with where it came
//! from and when it was read. Its JSON is the explorer's `/api/snapshot` and `cocoon status
//! --json` (the shape is written down in docs/EXPLORER.md).

use serde::{Deserialize, Serialize};

/// Nanotons, serialized as a decimal string (JSON numbers lose precision above 2^53).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nanotons(pub u128);

impl Serialize for Nanotons {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Nanotons {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(Nanotons).map_err(serde::de::Error::custom)
    }
}

impl std::ops::Add for Nanotons {
    type Output = Nanotons;
    fn add(self, o: Nanotons) -> Nanotons {
        Nanotons(self.0.saturating_add(o.0))
    }
}

impl std::fmt::Display for Nanotons {
    /// As TON with up to four decimals ("12.5 TON").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whole = self.0 / 1_000_000_000;
        let frac = (self.0 % 1_000_000_000) / 100_000;
        if whole == 0 && frac == 0 && self.0 > 0 {
            return write!(f, "{} nanotons", self.0);
        }
        if frac == 0 {
            write!(f, "{whole} TON")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{} TON", digits.trim_end_matches('0'))
        }
    }
}

/// Where a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Read from the contracts' getters.
    Chain,
    /// Summed from the proxies' public reports.
    Reports,
}

/// One headline figure: its value, where it came from, when it was read (Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure<T> {
    /// The value; `None` when it could not be read.
    pub value: Option<T>,
    /// Where it comes from.
    pub source: Source,
    /// When it was read, Unix milliseconds.
    pub read_at: u64,
}

/// What the TVL is made of (all from chain).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TvlParts {
    /// Listed proxies' stakes.
    pub proxy_stake: Nanotons,
    /// Money proxy contracts hold for workers.
    pub proxy_balance: Nanotons,
    /// Commission proxy contracts hold for their operators.
    pub proxy_commission: Nanotons,
    /// Client contracts' balances.
    pub client_balance: Nanotons,
    /// Client contracts' stakes.
    pub client_stake: Nanotons,
    /// Client contracts read (those the proxies' reports name, up to the explorer's cap).
    pub client_contracts: usize,
    /// Whether more client contracts were named than the explorer reads in one pass.
    pub partial: bool,
}

impl TvlParts {
    /// The sum.
    pub fn total(&self) -> Nanotons {
        self.proxy_stake + self.proxy_balance + self.proxy_commission + self.client_balance + self.client_stake
    }
}

/// The TVL figure with its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tvl {
    /// The total; `None` without a chain.
    pub value: Option<Nanotons>,
    /// Always the chain.
    pub source: Source,
    /// When the last of its parts was read, Unix ms.
    pub read_at: u64,
    /// Its parts; `None` without a chain.
    pub parts: Option<TvlParts>,
}

/// The figures at the top of the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// TON held by the network's contracts.
    pub tvl: Tvl,
    /// Proxies (registered in the root; without a chain, the reports given).
    pub proxies: Figure<u64>,
    /// Workers connected to the proxies that answered.
    pub workers: Figure<u64>,
    /// Clients the proxies know (summed over proxies).
    pub clients: Figure<u64>,
    /// Clients with a request in the last 24 hours (summed over proxies).
    pub clients_active_24h: Figure<u64>,
    /// Requests per second over the last interval.
    pub requests_per_s: Figure<f64>,
    /// Tokens per second over the last interval.
    pub tokens_per_s: Figure<f64>,
}

/// Where this snapshot looked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// The TON API used, if any.
    pub chain: Option<String>,
    /// The root contract, if any.
    pub root: Option<String>,
    /// Every report URL asked.
    pub reports: Vec<String>,
}

/// The root contract as read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootView {
    /// Its address (raw).
    pub address: String,
    /// When it was read, Unix ms.
    pub read_at: u64,
    /// Why it could not be read.
    pub error: Option<String>,
    /// Bumped by every change.
    pub version: Option<u32>,
    /// The params' version.
    pub params_version: Option<u32>,
    /// Proxies listed.
    pub proxy_count: Option<u32>,
    /// The last registration seqno.
    pub last_proxy_seqno: Option<u32>,
    /// The params (no codes).
    pub params: Option<ParamsView>,
    /// The allowlists (hex hashes; empty: the root sets none).
    pub allowlists: Option<AllowlistsView>,
}

/// The root's params without the codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsView {
    pub unique_id: u32,
    pub is_test: bool,
    pub price_per_token: Nanotons,
    pub worker_fee_per_token: Nanotons,
    pub prompt_multiplier: u32,
    pub cached_multiplier: u32,
    pub completion_multiplier: u32,
    pub reasoning_multiplier: u32,
    pub proxy_delay_before_close: u32,
    pub client_delay_before_close: u32,
    pub min_proxy_stake: Nanotons,
    pub min_client_stake: Nanotons,
}

/// The root's allowlists, as hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistsView {
    pub proxy_images: Vec<String>,
    pub worker_images: Vec<String>,
    pub models: Vec<String>,
}

/// A proxy contract as read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyChain {
    /// When it was read, Unix ms.
    pub read_at: u64,
    /// Why it could not be read.
    pub error: Option<String>,
    /// "normal", "closing" or "closed".
    pub state: Option<String>,
    pub stake: Option<Nanotons>,
    /// Held for workers.
    pub balance: Option<Nanotons>,
    pub commission: Option<Nanotons>,
    /// The last anchor saved.
    pub anchor: Option<AnchorView>,
}

/// A proxy's last anchor on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorView {
    pub seqno: u32,
    /// Unix seconds (0: never).
    pub saved_at: u32,
    /// Seconds since, at read time (`None`: never saved).
    pub age_s: Option<u64>,
}

/// A proxy's report, as the explorer summarizes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportView {
    /// Whether it answered this time.
    pub reachable: bool,
    /// When it was asked, Unix ms.
    pub read_at: u64,
    /// Why it did not answer (or answered something unreadable).
    pub error: Option<String>,
    pub software: Option<String>,
    pub clients_connected: Option<u64>,
    pub clients_active_24h: Option<u64>,
    pub clients_known: Option<u64>,
    pub workers: Option<u64>,
    /// Inference requests received since the proxy started.
    pub requests: Option<u64>,
    /// Prompt + completion tokens billed since the proxy started.
    pub tokens: Option<u64>,
    /// Charged to clients (the proxy's books).
    pub charged: Option<Nanotons>,
    /// Its commission (the proxy's books).
    pub commission: Option<Nanotons>,
    pub books_balanced: Option<bool>,
    /// Ledger commits not yet anchored on chain.
    pub anchor_behind: Option<u64>,
}

/// What the explorer checked of a proxy's attestation (its report's RA-TLS certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationView {
    /// The certificate's evidence verified under the explorer's policy.
    pub verified: bool,
    /// Dev (simulated) or no attestation: NOT a TEE.
    pub insecure: bool,
    /// "tdx", "dev", or none.
    pub tee: Option<String>,
    pub image_hash: Option<String>,
    /// Whether the root lists the image (`None`: the root has no list, or no chain).
    pub on_root_list: Option<bool>,
    /// Whether the certificate's key is the one registered in the root (`None`: not registered).
    pub key_matches: Option<bool>,
    pub error: Option<String>,
}

/// One proxy: what the chain and its report say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyRow {
    /// Its key (hex) when known, else its report URL.
    pub id: String,
    pub public_key: Option<String>,
    /// Its contract (raw).
    pub address: Option<String>,
    pub client_endpoint: Option<String>,
    pub report_url: Option<String>,
    /// Listed in the root.
    pub registered: bool,
    pub chain: Option<ProxyChain>,
    pub report: ReportView,
    pub attestation: AttestationView,
}

/// One model over all proxies' workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub workers: u64,
    pub enabled: u64,
    pub hardware: Vec<String>,
    pub coefficient_min: u32,
    pub coefficient_max: u32,
    pub running: u64,
    pub max_active: u64,
    /// running / max_active.
    pub load: f64,
    pub served: u64,
    /// Tokens credited to its workers (the proxies' books).
    pub tokens: u64,
    pub source: Source,
    pub read_at: u64,
}

/// One worker on one proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub worker_id: String,
    /// The proxy's id.
    pub proxy: String,
    pub model: String,
    pub model_sha256: Option<String>,
    pub hardware: String,
    pub coefficient: u32,
    pub enabled: bool,
    pub running: u64,
    pub max_active: u64,
    pub success_rate: f64,
    pub latency_ms: f64,
    pub served: u64,
    pub earned_tokens: u64,
    pub earned: Nanotons,
    pub source: Source,
    pub read_at: u64,
}

/// The whole network at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the collection finished, Unix ms.
    pub read_at: u64,
    /// How long it took.
    pub took_ms: u64,
    pub sources: Sources,
    pub headline: Headline,
    pub root: Option<RootView>,
    pub proxies: Vec<ProxyRow>,
    pub models: Vec<ModelRow>,
    pub workers: Vec<WorkerRow>,
}

/// Now, Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanotons_are_strings_and_print_as_ton() {
        let n = Nanotons(u128::from(u64::MAX) * 3);
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, format!("\"{}\"", u128::from(u64::MAX) * 3));
        assert_eq!(serde_json::from_str::<Nanotons>(&json).unwrap(), n);
        assert!(serde_json::from_str::<Nanotons>("\"12x\"").is_err());
        assert_eq!(Nanotons(12_500_000_000).to_string(), "12.5 TON");
        assert_eq!(Nanotons(10_000_000_000).to_string(), "10 TON");
        assert_eq!(Nanotons(1_234_567).to_string(), "0.0012 TON");
        assert_eq!(Nanotons(30).to_string(), "30 nanotons");
        assert_eq!(Nanotons(0).to_string(), "0 TON");
    }
}
