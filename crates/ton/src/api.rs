//! [`TonApi`]: a client of the TON HTTP API v2 (toncenter, or the local devnet, which serves the
//! same subset with the same shapes).
//!
//! Reads are GET with query parameters, `runGetMethod`, `sendBoc*` and `estimateFee` are POST
//! with a JSON body; both are toncenter's REST form. Every request has a timeout and is retried
//! with exponential backoff (bounded attempts) on connection errors, timeouts, 429 and 5xx;
//! sends are not retried on a 500 that carries toncenter's error envelope (the node refused the
//! message and would refuse it again).

pub mod json;
pub mod stack;

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tycho_types::boc::Boc;
use tycho_types::cell::Cell;
use tycho_types::models::StdAddr;

pub use self::json::{
    AccountInfo, AccountState, BlockId, ExtMessageHash, Fees, GetMethodResult, MasterchainInfo, Transaction,
    TransactionId, TxMessage, TxOutcome, WalletInfo,
};
pub use self::stack::{StackEntry, StackReader};
use crate::address::friendly_url;
use crate::error::TonApiError;

/// Largest answer read (100 transactions with big bodies fit easily).
const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// Where and how [`TonApi`] talks.
#[derive(Clone)]
pub struct TonApiConfig {
    /// Base URL ending in `/api/v2/` (a missing final `/` is added).
    pub endpoint: String,
    /// toncenter API key, sent as `X-API-Key`.
    pub api_key: Option<String>,
    /// Limit for one attempt (connect, send, read the whole answer).
    pub timeout: Duration,
    /// Attempts per request, at least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl std::fmt::Debug for TonApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TonApiConfig")
            .field("endpoint", &self.endpoint)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

impl TonApiConfig {
    /// toncenter's mainnet endpoint with default limits.
    pub const TONCENTER_MAINNET: &'static str = "https://toncenter.com/api/v2/";
    /// toncenter's testnet endpoint.
    pub const TONCENTER_TESTNET: &'static str = "https://testnet.toncenter.com/api/v2/";

    /// `endpoint` with the default limits: 10 s per attempt, 4 attempts, 250 ms backoff up to 4 s.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

/// Which retries a request allows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads: every transient failure.
    Read,
    /// Sends: not a 500 with an error envelope.
    Send,
}

/// A TON HTTP API v2 client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct TonApi {
    cfg: TonApiConfig,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    api_key: Option<http::HeaderValue>,
}

impl std::fmt::Debug for TonApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TonApi").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// An HTTP/1.1 client for `http://` and `https://` URLs (TLS with the webpki roots), whose
/// connects end within `connect_timeout`: the TON API's, and anything else that reads public
/// HTTP endpoints (the explorer's report fetcher).
pub fn http_client(connect_timeout: Duration) -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("TLS: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https))
}

/// What one attempt ended with.
enum Attempt {
    Done(Value),
    Fail { err: TonApiError, retry: bool, after: Option<Duration> },
}

impl TonApi {
    /// A client for `cfg`; fails only on an unusable endpoint or API key.
    pub fn new(mut cfg: TonApiConfig) -> Result<Self, TonApiError> {
        if !cfg.endpoint.ends_with('/') {
            cfg.endpoint.push('/');
        }
        let uri: Uri =
            cfg.endpoint.parse().map_err(|e| TonApiError::Config(format!("endpoint {:?}: {e}", cfg.endpoint)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(TonApiError::Config(format!(
                "endpoint {:?}: expected http(s)://host/.../api/v2/",
                cfg.endpoint
            )));
        }
        cfg.max_attempts = cfg.max_attempts.max(1);
        let api_key = match &cfg.api_key {
            Some(k) => Some(
                http::HeaderValue::from_str(k)
                    .map_err(|_| TonApiError::Config("API key is not a valid header value".into()))?,
            ),
            None => None,
        };
        let client = http_client(cfg.timeout).map_err(TonApiError::Config)?;
        Ok(Self { cfg, client, api_key })
    }

    /// The configuration.
    pub fn config(&self) -> &TonApiConfig {
        &self.cfg
    }

    /// `getAddressInformation`.
    pub async fn get_address_information(&self, address: &StdAddr) -> Result<AccountInfo, TonApiError> {
        let v = self.get("getAddressInformation", &[("address", friendly_url(address, true))]).await?;
        decode("getAddressInformation", json::account_info(&v))
    }

    /// `getAddressBalance`, in nanotons.
    pub async fn get_address_balance(&self, address: &StdAddr) -> Result<u128, TonApiError> {
        let v = self.get("getAddressBalance", &[("address", friendly_url(address, true))]).await?;
        decode("getAddressBalance", json::uint(&v, "result"))
    }

    /// `getAddressState`.
    pub async fn get_address_state(&self, address: &StdAddr) -> Result<AccountState, TonApiError> {
        let v = self.get("getAddressState", &[("address", friendly_url(address, true))]).await?;
        decode(
            "getAddressState",
            v.as_str().ok_or_else(|| format!("expected a string, got {v}")).and_then(json::account_state),
        )
    }

    /// `getWalletInformation` (seqno and wallet id of known wallets).
    pub async fn get_wallet_information(&self, address: &StdAddr) -> Result<WalletInfo, TonApiError> {
        let v = self.get("getWalletInformation", &[("address", friendly_url(address, true))]).await?;
        decode("getWalletInformation", json::wallet_info(&v))
    }

    /// `runGetMethod` by name, with `stack` as arguments.
    pub async fn run_get_method(
        &self,
        address: &StdAddr,
        method: &str,
        stack: &[StackEntry],
    ) -> Result<GetMethodResult, TonApiError> {
        let body = json!({
            "address": friendly_url(address, true),
            "method": method,
            "stack": stack.iter().map(StackEntry::to_json).collect::<Vec<_>>(),
        });
        let v = self.call(Method::POST, "runGetMethod", &[], Some(body), Retry::Read).await?;
        decode("runGetMethod", json::get_method_result(&v))
    }

    /// `runGetMethod`, requiring exit code 0 or 1; the stack comes back in a reader.
    pub async fn run_get_method_ok(
        &self,
        address: &StdAddr,
        method: &str,
        stack: &[StackEntry],
    ) -> crate::Result<StackReader> {
        let r = self.run_get_method(address, method, stack).await?;
        if r.exit_code != 0 && r.exit_code != 1 {
            let hint = if r.exit_code == -13 { " (no code at this address: not deployed?)" } else { "" };
            return Err(crate::Error::Getter {
                method: method.to_owned(),
                message: format!("exit code {}{hint}", r.exit_code),
            });
        }
        Ok(StackReader::new(method, r.stack))
    }

    /// `sendBoc`: an external inbound message.
    pub async fn send_boc(&self, message: &Cell) -> Result<(), TonApiError> {
        let body = json!({ "boc": Boc::encode_base64(message) });
        self.call(Method::POST, "sendBoc", &[], Some(body), Retry::Send).await.map(|_| ())
    }

    /// `sendBocReturnHash`: sends and returns the message hashes.
    pub async fn send_boc_return_hash(&self, message: &Cell) -> Result<ExtMessageHash, TonApiError> {
        let body = json!({ "boc": Boc::encode_base64(message) });
        let v = self.call(Method::POST, "sendBocReturnHash", &[], Some(body), Retry::Send).await?;
        decode("sendBocReturnHash", json::ext_message_hash(&v))
    }

    /// `getTransactions`, newest first.
    pub async fn get_transactions(
        &self,
        address: &StdAddr,
        query: &TransactionsQuery,
    ) -> Result<Vec<Transaction>, TonApiError> {
        let mut q = vec![("address", friendly_url(address, true)), ("limit", query.limit.clamp(1, 100).to_string())];
        if let Some(from) = query.from {
            q.push(("lt", from.lt.to_string()));
            q.push(("hash", hex::encode(from.hash.as_array())));
        }
        if let Some(to_lt) = query.to_lt {
            q.push(("to_lt", to_lt.to_string()));
        }
        if query.archival {
            q.push(("archival", "true".into()));
        }
        let v = self.get("getTransactions", &q).await?;
        let items = v.as_array().ok_or_else(|| TonApiError::Decode {
            method: "getTransactions".into(),
            message: "expected an array".into(),
        })?;
        items.iter().map(|t| decode("getTransactions", json::transaction(t))).collect()
    }

    /// `getMasterchainInfo`.
    pub async fn get_masterchain_info(&self) -> Result<MasterchainInfo, TonApiError> {
        let v = self.get("getMasterchainInfo", &[]).await?;
        decode("getMasterchainInfo", json::masterchain_info(&v))
    }

    /// `estimateFee` of an external message with `body` (and a StateInit's code and data) to
    /// `address`; the signature check is skipped when `ignore_chksig`.
    pub async fn estimate_fee(
        &self,
        address: &StdAddr,
        body: &Cell,
        init: Option<(&Cell, &Cell)>,
        ignore_chksig: bool,
    ) -> Result<Fees, TonApiError> {
        let mut req = json!({
            "address": friendly_url(address, true),
            "body": Boc::encode_base64(body),
            "ignore_chksig": ignore_chksig,
        });
        if let Some((code, data)) = init {
            req["init_code"] = Value::String(Boc::encode_base64(code));
            req["init_data"] = Value::String(Boc::encode_base64(data));
        }
        let v = self.call(Method::POST, "estimateFee", &[], Some(req), Retry::Send).await?;
        decode("estimateFee", json::fees(&v))
    }

    async fn get(&self, method: &str, query: &[(&str, String)]) -> Result<Value, TonApiError> {
        self.call(Method::GET, method, query, None, Retry::Read).await
    }

    /// One API call with its retries; returns the envelope's `result`.
    async fn call(
        &self,
        verb: Method,
        method: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        retry: Retry,
    ) -> Result<Value, TonApiError> {
        let mut url = format!("{}{method}", self.cfg.endpoint);
        if !query.is_empty() {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let uri: Uri = url.parse().map_err(|e| TonApiError::Config(format!("URL {url:?}: {e}")))?;
        let body = body.map(|b| Bytes::from(b.to_string()));
        let mut attempt = 1;
        let mut wait = self.cfg.backoff;
        loop {
            match self.attempt(&verb, &uri, method, body.clone(), retry, attempt).await {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail { err, retry: again, after } => {
                    if !again || attempt >= self.cfg.max_attempts {
                        return Err(err);
                    }
                    let pause = after.unwrap_or(wait).min(self.cfg.max_backoff);
                    tracing::debug!(method, attempt, ?pause, error = %err, "TON API: retrying");
                    tokio::time::sleep(pause).await;
                    wait = (wait * 2).min(self.cfg.max_backoff);
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(
        &self,
        verb: &Method,
        uri: &Uri,
        method: &str,
        body: Option<Bytes>,
        retry: Retry,
        attempt: u32,
    ) -> Attempt {
        let mut req =
            Request::builder().method(verb.clone()).uri(uri.clone()).header(header::ACCEPT, "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("X-API-Key", key.clone());
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = match req.body(Full::new(body.unwrap_or_default())) {
            Ok(r) => r,
            Err(e) => return fail(TonApiError::Config(format!("request: {e}")), false, None),
        };
        let endpoint = self.cfg.endpoint.clone();
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| error_chain(&e))?;
            let status = resp.status();
            let after = retry_after(resp.headers());
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, after, bytes))
        };
        let (status, after, bytes) = match tokio::time::timeout(self.cfg.timeout, exchange).await {
            Err(_) => {
                let err = TonApiError::Timeout {
                    method: method.into(),
                    endpoint,
                    attempts: attempt,
                    timeout: self.cfg.timeout,
                };
                return fail(err, true, None);
            }
            Ok(Err(message)) => {
                return fail(
                    TonApiError::Http { method: method.into(), endpoint, attempts: attempt, message },
                    true,
                    None,
                )
            }
            Ok(Ok(x)) => x,
        };
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let envelope_ok = parsed.as_ref().and_then(|v| v.get("ok")).and_then(Value::as_bool);
        if status.is_success() && envelope_ok != Some(false) {
            return match parsed {
                Some(mut v) if envelope_ok == Some(true) => {
                    Attempt::Done(v.get_mut("result").map(Value::take).unwrap_or(Value::Null))
                }
                _ => fail(
                    TonApiError::Decode {
                        method: method.into(),
                        message: format!("not a toncenter answer: {}", snippet(&bytes)),
                    },
                    false,
                    None,
                ),
            };
        }
        let code =
            parsed.as_ref().and_then(|v| v.get("code")).and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok());
        let message = match parsed.as_ref().and_then(|v| v.get("error")) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => format!("HTTP {status}: {}", snippet(&bytes)),
        };
        let code = if status.is_success() { code.unwrap_or(500) } else { status.as_u16() };
        let transient = matches!(code, 429 | 502 | 503 | 504)
            || (code >= 500 && !(retry == Retry::Send && code == 500 && envelope_ok == Some(false)));
        fail(TonApiError::Api { method: method.into(), code, message }, transient, after)
    }
}

fn fail(err: TonApiError, retry: bool, after: Option<Duration>) -> Attempt {
    Attempt::Fail { err, retry, after }
}

fn decode<T>(method: &str, r: Result<T, String>) -> Result<T, TonApiError> {
    r.map_err(|message| TonApiError::Decode { method: method.to_owned(), message })
}

/// Which transactions `getTransactions` lists.
#[derive(Debug, Clone, Copy)]
pub struct TransactionsQuery {
    /// How many (1..=100).
    pub limit: u32,
    /// Start from this transaction (inclusive), going back; `None`: the newest.
    pub from: Option<TransactionId>,
    /// Stop before reaching this lt (exclusive).
    pub to_lt: Option<u64>,
    /// Ask an archival node (toncenter).
    pub archival: bool,
}

impl Default for TransactionsQuery {
    fn default() -> Self {
        Self { limit: 10, from: None, to_lt: None, archival: false }
    }
}

/// A `Retry-After` of whole seconds.
fn retry_after(h: &http::HeaderMap) -> Option<Duration> {
    h.get(header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error and its sources on one line ("client error (Connect): tcp connect error: ...").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_the_endpoint() {
        assert!(TonApi::new(TonApiConfig::new("ftp://x/api/v2/")).is_err());
        assert!(TonApi::new(TonApiConfig::new("not a url")).is_err());
        let api = TonApi::new(TonApiConfig::new("http://127.0.0.1:1/api/v2")).unwrap();
        assert_eq!(api.config().endpoint, "http://127.0.0.1:1/api/v2/");
        let mut cfg = TonApiConfig::new(TonApiConfig::TONCENTER_TESTNET);
        cfg.api_key = Some("secret-key".into());
        assert!(!format!("{cfg:?}").contains("secret-key"));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(percent_encode("EQ+a/b=="), "EQ%2Ba%2Fb%3D%3D");
        assert_eq!(percent_encode("0:ab"), "0%3Aab");
    }
}
