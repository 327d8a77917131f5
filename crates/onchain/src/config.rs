//! Where the chain is and how the roles use it.

use cocoon_ton::TonApiConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[payments.ton]` of a proxy (and the chain part of client and worker configs): the TON HTTP
/// API v2 endpoint (toncenter for testnet or mainnet, `cocoon devnet` locally), its key, and
/// the root contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Base URL of the TON HTTP API v2, e.g. `https://testnet.toncenter.com` or
    /// `http://127.0.0.1:8081` (the devnet).
    pub api_url: String,
    /// The API key (toncenter's `X-API-Key`); also read from `COCOON_TON_API_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The root contract (any address form).
    pub root: String,
    /// Seconds a sent message may wait for inclusion (its `valid_until`).
    #[serde(default = "default_ttl")]
    pub message_ttl_secs: u64,
    /// Milliseconds between polls while waiting for the chain.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Seconds between reads of the root's registry by a client or worker that takes its
    /// proxies from it (new proxies are dialled).
    #[serde(default = "default_refresh")]
    pub registry_refresh_secs: u64,
}

fn default_refresh() -> u64 {
    300
}

fn default_ttl() -> u64 {
    60
}

fn default_poll_ms() -> u64 {
    1000
}

impl ChainConfig {
    /// The chain at `api_url` with root `root` and default waits.
    pub fn new(api_url: impl Into<String>, root: impl Into<String>) -> Self {
        ChainConfig {
            api_url: api_url.into(),
            api_key: None,
            root: root.into(),
            message_ttl_secs: default_ttl(),
            poll_interval_ms: default_poll_ms(),
            registry_refresh_secs: default_refresh(),
        }
    }

    /// The API client's settings.
    pub fn api(&self) -> TonApiConfig {
        let url = if self.api_url.contains("/api/v2") {
            self.api_url.clone()
        } else {
            format!("{}/api/v2/", self.api_url.trim_end_matches('/'))
        };
        let mut cfg = TonApiConfig::new(url);
        cfg.api_key = self.api_key.clone().or_else(|| std::env::var("COCOON_TON_API_KEY").ok());
        cfg
    }

    /// How wallets send: TTL and polling from this config.
    pub fn send_options(&self) -> cocoon_ton::SendOptions {
        cocoon_ton::SendOptions {
            ttl: Duration::from_secs(self.message_ttl_secs.clamp(10, 600)),
            poll_interval: Duration::from_millis(self.poll_interval_ms.clamp(50, 10_000)),
            ..cocoon_ton::SendOptions::default()
        }
    }
}
