//! Reading a proxy's public report (`GET <report_url>`; the proxy side is
//! `crates/proxy/src/report.rs`): one bounded HTTP GET, parsed into [`ProxyReport`].
//!
//! A report is untrusted input from whoever runs the proxy: the body is capped, the wait is
//! bounded, and anything that does not parse is an error shown on the page, never a panic.

use crate::ExplorerError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde::Deserialize;
use std::time::Duration;

/// The report shape this explorer reads.
pub const REPORT_VERSION: u64 = 1;

/// Largest report body read.
pub const MAX_REPORT_BYTES: usize = 4 << 20;

/// A proxy's report (fields this explorer uses; others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProxyReport {
    pub version: u64,
    pub proxy_id: String,
    #[serde(default)]
    pub software: String,
    /// Base64 DER of the proxy's current RA-TLS certificate.
    #[serde(default)]
    pub certificate: String,
    #[serde(default)]
    pub chain: Option<ReportChain>,
    #[serde(default)]
    pub clients: ReportClients,
    #[serde(default)]
    pub requests: ReportRequests,
    #[serde(default)]
    pub tokens: ReportTokens,
    #[serde(default)]
    pub workers: Vec<ReportWorker>,
    #[serde(default)]
    pub books: Option<ReportBooks>,
    #[serde(default)]
    pub anchor: Option<ReportAnchor>,
}

/// Where the proxy settles.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportChain {
    pub root: String,
    pub contract: String,
}

/// The proxy's clients.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportClients {
    #[serde(default)]
    pub connected: u64,
    #[serde(default)]
    pub active_24h: u64,
    #[serde(default)]
    pub known: u64,
    /// Their contracts (raw addresses), for the TVL.
    #[serde(default)]
    pub contracts: Vec<String>,
}

/// Request totals since the proxy started.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportRequests {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub succeeded: u64,
    #[serde(default)]
    pub failed: u64,
}

/// Token totals since the proxy started.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportTokens {
    #[serde(default)]
    pub prompt: u64,
    #[serde(default)]
    pub completion: u64,
}

/// One connected worker.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportWorker {
    pub worker_id: String,
    pub model: String,
    #[serde(default)]
    pub model_sha256: Option<String>,
    #[serde(default)]
    pub hardware: String,
    #[serde(default)]
    pub coefficient: u32,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub running: u64,
    #[serde(default)]
    pub max_active: u64,
    #[serde(default)]
    pub success_rate: f64,
    #[serde(default)]
    pub latency_ms: f64,
    #[serde(default)]
    pub served: u64,
    #[serde(default)]
    pub earned_tokens: u64,
    #[serde(default)]
    pub earned: Option<crate::Nanotons>,
}

/// The books' totals.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportBooks {
    #[serde(default)]
    pub charged: Option<crate::Nanotons>,
    #[serde(default)]
    pub commission: Option<crate::Nanotons>,
    #[serde(default)]
    pub balanced: bool,
}

/// How far the anchor is behind the ledger.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportAnchor {
    #[serde(default)]
    pub behind: u64,
}

impl ProxyReport {
    /// Parses a report body; refuses another shape version.
    pub fn parse(body: &[u8]) -> Result<Self, ExplorerError> {
        let r: ProxyReport = serde_json::from_slice(body).map_err(|e| ExplorerError::Report(e.to_string()))?;
        if r.version != REPORT_VERSION {
            return Err(ExplorerError::Report(format!(
                "report version {} (this explorer reads {REPORT_VERSION})",
                r.version
            )));
        }
        if r.proxy_id.len() != 64 || hex::decode(&r.proxy_id).is_err() {
            return Err(ExplorerError::Report("proxy_id is not a 32-byte hex key".into()));
        }
        Ok(r)
    }

    /// Prompt + completion tokens.
    pub fn tokens_total(&self) -> u64 {
        self.tokens.prompt.saturating_add(self.tokens.completion)
    }
}

/// Fetches reports over HTTP(S), each within a timeout and a body cap.
#[derive(Clone)]
pub struct ReportClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl ReportClient {
    /// A client whose every fetch (connect, headers and body) ends within `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, ExplorerError> {
        let client = cocoon_ton::api::http_client(timeout).map_err(ExplorerError::Config)?;
        Ok(Self { client, timeout })
    }

    /// GETs and parses the report at `url`.
    pub async fn fetch(&self, url: &str) -> Result<ProxyReport, ExplorerError> {
        let uri: http::Uri = url.parse().map_err(|e| ExplorerError::Report(format!("bad URL {url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(ExplorerError::Report(format!("bad URL {url:?}: not http(s)")));
        }
        let req =
            http::Request::get(uri).body(Full::new(Bytes::new())).map_err(|e| ExplorerError::Report(e.to_string()))?;
        let work = async {
            let resp = self.client.request(req).await.map_err(|e| ExplorerError::Report(format!("{e}")))?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_REPORT_BYTES)
                .collect()
                .await
                .map_err(|e| ExplorerError::Report(format!("reading the body: {e}")))?
                .to_bytes();
            if !status.is_success() {
                return Err(ExplorerError::Report(format!("HTTP {status}")));
            }
            ProxyReport::parse(&body)
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ExplorerError::Report(format!("no answer within {:?}", self.timeout)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_of_another_version_or_with_a_bad_key_is_refused() {
        let key = "ab".repeat(32);
        let ok = format!(
            r#"{{"version":1,"proxy_id":"{key}","workers":[{{"worker_id":"w","model":"m","earned":"5"}}],"extra":1}}"#
        );
        let r = ProxyReport::parse(ok.as_bytes()).unwrap();
        assert_eq!(r.workers[0].earned, Some(crate::Nanotons(5)));
        for bad in [
            format!(r#"{{"version":2,"proxy_id":"{key}"}}"#),
            r#"{"version":1,"proxy_id":"zz"}"#.to_string(),
            format!(r#"{{"version":1,"proxy_id":"{key}","workers":[{{"worker_id":"w","model":"m","earned":"-5"}}]}}"#),
            "not json".to_string(),
        ] {
            assert!(ProxyReport::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
