//! cocoon-ton against the local devnet (contracts/devnet/server.ts): a v4r2 wallet funded by
//! the faucet deploys itself with its first transfer, the root's getters parse, a client
//! contract is deployed by a top-up through the wallet. Skipped (with the reason printed)
//! when node or contracts/node_modules is missing. A dead endpoint fails fast and clearly.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cocoon_ton::api::{AccountState, TransactionsQuery};
use cocoon_ton::contracts::{getters, messages, Codes, Params};
use cocoon_ton::wallet::{SendOptions, Transfer, WalletV4};
use cocoon_ton::{address, client_state_init, proxy_state_init, TonApi, TonApiConfig, TonApiError, NANOTON};
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Why the devnet cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return Some("node is not installed".into());
    }
    if !contracts_dir().join("node_modules").is_dir() {
        return Some("contracts/node_modules is missing (run `npm ci` in contracts/)".into());
    }
    None
}

/// The devnet server process; killed on drop, its log printed if the test failed.
struct Devnet {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Devnet {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("devnet.log")).expect("log file");
        let child = Command::new("node")
            .args(["--import", "tsx", "devnet/server.ts", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path().join("data"))
            .current_dir(contracts_dir())
            .env("COCOON_DEVNET_WATCH_PARENT", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn the devnet");
        Self { child, port, dir }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("devnet.log")).unwrap_or_default();
            eprintln!("---- devnet log ----\n{log}");
        }
    }
}

/// A plain HTTP call to the devnet-only endpoints; returns `result`.
async fn devnet_call(base: &str, path: &str, body: Option<Value>) -> Value {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder().uri(format!("{base}{path}"));
    let payload = match body {
        Some(b) => {
            req = req.method("POST").header("content-type", "application/json");
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    let resp = client.request(req.body(Full::new(payload)).unwrap()).await.expect("devnet request");
    let bytes = resp.into_body().collect().await.expect("devnet answer").to_bytes();
    let v: Value = serde_json::from_slice(&bytes).expect("devnet JSON");
    assert_eq!(v["ok"], json!(true), "{path}: {v}");
    v["result"].clone()
}

#[tokio::test]
async fn wallet_root_and_client_on_the_devnet() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED: the devnet cannot run here: {why}");
        return;
    }
    let started = Instant::now();
    let devnet = Devnet::start();
    let mut cfg = TonApiConfig::new(format!("{}/api/v2/", devnet.base()));
    cfg.timeout = Duration::from_secs(10);
    cfg.max_attempts = 3;
    let api = TonApi::new(cfg).unwrap();

    // Wait for the server (connection refused, then 503 while the chain opens).
    let mc = loop {
        match api.get_masterchain_info().await {
            Ok(mc) => break mc,
            Err(e) if started.elapsed() < Duration::from_secs(40) => {
                tracing::debug!(%e, "devnet not up yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("devnet did not come up: {e}"),
        }
    };
    assert_eq!(mc.last.workchain, -1);
    let info = devnet_call(&devnet.base(), "/devnet/info", None).await;
    let root = address::parse_std(info["root"]["raw"].as_str().expect("devnet has a root")).unwrap();
    let owner = address::parse_std(info["owner"].as_str().unwrap()).unwrap();

    // A fresh wallet, funded by the faucet, deployed by its first transfer.
    let wallet = WalletV4::new(SigningKey::from_bytes(&[7; 32]), 0).unwrap();
    let funded = 20 * NANOTON;
    let to = address::friendly_url(wallet.address(), false);
    devnet_call(&devnet.base(), "/devnet/faucet", Some(json!({"address": to, "amount": funded.to_string()}))).await;
    assert_eq!(api.get_address_balance(wallet.address()).await.unwrap(), funded);
    assert_eq!(api.get_address_state(wallet.address()).await.unwrap(), AccountState::Uninit);
    assert_eq!(wallet.seqno(&api).await.unwrap(), 0);

    let opts = SendOptions { poll_interval: Duration::from_millis(200), ..Default::default() };
    let tx = wallet.send(&api, &[Transfer::new(owner.clone(), NANOTON / 10).bounce(false)], opts).await.unwrap();
    assert!(tx.outcome().unwrap().is_success(), "deploying transfer failed: {:?}", tx.outcome());
    assert_eq!(tx.out_msgs.len(), 1);
    assert_eq!(tx.out_msgs[0].destination.as_ref(), Some(&owner));
    assert_eq!(tx.out_msgs[0].value, NANOTON / 10);
    let w = api.get_wallet_information(wallet.address()).await.unwrap();
    assert!(w.is_wallet && w.state == AccountState::Active, "{w:?}");
    assert_eq!((w.seqno, w.wallet_id), (Some(1), Some(wallet.wallet_id())));
    assert!(w.balance < funded - NANOTON / 10 && w.balance > funded - NANOTON / 5, "balance {}", w.balance);

    // The root's getters.
    let codes = Codes::embedded().unwrap();
    let data = getters::root_data(&api, &root).await.unwrap();
    assert_eq!(data.owner, owner);
    assert_eq!((data.last_proxy_seqno, data.proxy_count), (0, 0));
    let params = getters::params(&api, &root).await.unwrap();
    assert_eq!(params, Params::default().for_root(codes), "the devnet runs the default params");
    assert!(getters::proxies(&api, &root).await.unwrap().is_empty());
    let proxy_key = SigningKey::from_bytes(&[0x42; 32]).verifying_key().to_bytes().into();
    let proxy =
        cocoon_ton::address_of(&proxy_state_init(codes, &root, &params, &owner, &proxy_key, 1).unwrap(), 0).unwrap();
    assert_eq!(
        getters::proxy_address(&api, &root, &owner, &proxy_key, 1).await.unwrap(),
        proxy,
        "the root derives the same proxy address"
    );

    // A client contract, deployed by a top-up through the wallet.
    let init = client_state_init(codes, &params, wallet.address(), &proxy, &proxy_key).unwrap();
    let client = cocoon_ton::address_of(&init, 0).unwrap();
    let value = NANOTON;
    let top_up =
        Transfer::new(client.clone(), value).with_state_init(init).with_body(messages::client_top_up(1).unwrap());
    let tx = wallet.send(&api, &[top_up], opts).await.unwrap();
    assert!(tx.outcome().unwrap().is_success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let cd = loop {
        match getters::client_data(&api, &client).await {
            Ok(cd) => break cd,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(%e, "client contract not there yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("client contract not deployed: {e}"),
        }
    };
    assert_eq!(cd.balance, value - messages::gas::DEPOSIT_FEE);
    assert_eq!((cd.state, cd.stake, cd.tokens_used), (0, 0, 0));
    assert_eq!((&cd.owner, &cd.proxy, cd.proxy_public_key), (wallet.address(), &proxy, proxy_key));
    assert_eq!(cd.price_per_token, params.price_per_token);

    // History: newest first, our two external messages and the faucet payment.
    let txs = api.get_transactions(wallet.address(), &TransactionsQuery::default()).await.unwrap();
    assert_eq!(txs.len(), 3);
    assert!(txs.windows(2).all(|p| p[0].id.lt > p[1].id.lt));
    assert!(txs[0].in_msg.as_ref().is_some_and(|m| m.source.is_none()));
    assert!(txs[2].in_msg.as_ref().is_some_and(|m| m.source.is_some() && m.value == funded));
    let older = TransactionsQuery { limit: 2, from: Some(txs[1].id), ..Default::default() };
    let page = api.get_transactions(wallet.address(), &older).await.unwrap();
    assert_eq!(page.iter().map(|t| t.id).collect::<Vec<_>>(), vec![txs[1].id, txs[2].id]);

    // A fee estimate, and a getter on an empty account.
    let body = wallet.signed_body(2, u32::MAX, 3, &[Transfer::new(owner.clone(), 1)]).unwrap();
    let fees = api.estimate_fee(wallet.address(), &body, None, true).await.unwrap();
    assert!(fees.gas_fee > 0, "{fees:?}");
    let nobody = address::parse_std(&format!("0:{}", "ab".repeat(32))).unwrap();
    let e = getters::client_data(&api, &nobody).await.unwrap_err();
    assert!(e.to_string().contains("-13"), "{e}");

    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_dead_endpoint_fails_fast_and_says_so() {
    let port = free_port();
    let mut cfg = TonApiConfig::new(format!("http://127.0.0.1:{port}/api/v2/"));
    cfg.timeout = Duration::from_secs(1);
    cfg.max_attempts = 3;
    cfg.backoff = Duration::from_millis(50);
    let api = TonApi::new(cfg).unwrap();
    let started = Instant::now();
    let err = api.get_masterchain_info().await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    match &err {
        TonApiError::Http { attempts, method, .. } => {
            assert_eq!((*attempts, method.as_str()), (3, "getMasterchainInfo"))
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("3 attempt"), "{text}");
}
