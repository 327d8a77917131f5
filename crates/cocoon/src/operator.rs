//! The operators' and governance's commands on chain, each from the operator's own wallet:
//! `cocoon root deploy|show|allow|set-prices` (the root's owner) and
//! `cocoon proxy contract|withdraw|close` (a proxy's operator). Every command that sends says
//! what it sends and what it attaches first, waits until the wallet's message is included, and
//! prints the transaction; `--json` prints JSON instead.

use crate::money::{parse_ton, ton};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use cocoon_ton::contracts::{getters, messages, Codes, Params, RootConfig};
use cocoon_ton::{address, root_state_init, HashBytes, SendOptions, StdAddr, TonApi, Transfer, WalletV4};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Which TON HTTP API a chain command talks to, and whether it prints JSON.
#[derive(Args, Clone)]
pub struct Chain {
    /// The TON HTTP API v2 (toncenter, or `cocoon devnet`).
    #[arg(long, env = "COCOON_TON_API", default_value = "http://127.0.0.1:8081")]
    pub api: String,
    /// The API key (toncenter's X-API-Key).
    #[arg(long, env = "COCOON_TON_API_KEY")]
    pub api_key: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The `cocoon root` subcommands, sent from the root owner's wallet.
#[derive(Subcommand)]
pub enum RootCmd {
    /// Deploy a new root owned by this key's wallet (default params: Cocoon's test prices).
    Deploy {
        /// The owner's identity key (PKCS#8 PEM; created if missing).
        #[arg(long)]
        key_file: PathBuf,
        /// Tells networks apart (`unique_id` in the params).
        #[arg(long, default_value_t = 0)]
        unique_id: u32,
        /// A production network (not `is_test`): dev-attested proxies are refused by clients.
        #[arg(long)]
        production: bool,
        #[command(flatten)]
        chain: Chain,
    },
    /// Show the root: owner, params, allowlists, registered proxies.
    Show {
        /// The root's address.
        #[arg(long, env = "COCOON_ROOT")]
        root: String,
        #[command(flatten)]
        chain: Chain,
    },
    /// Add (or with --remove, remove) a hash on one of the root's allowlists.
    Allow {
        /// Which list.
        list: ListArg,
        /// The hash (64 hex digits): an image hash, or a model's SHA-256.
        hash: String,
        /// Remove it instead.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        owner: Owner,
    },
    /// Change the prices (nanotons per adjusted token); new contracts use them.
    SetPrices {
        /// What a client pays per token.
        #[arg(long)]
        price: u128,
        /// What a worker earns per token (at most the price).
        #[arg(long)]
        worker_fee: u128,
        #[command(flatten)]
        owner: Owner,
    },
}

/// The root's owner key, the root's address and the chain, for commands that change the root.
#[derive(Args)]
pub struct Owner {
    /// The root's owner's identity key.
    #[arg(long)]
    pub key_file: PathBuf,
    /// The root's address.
    #[arg(long, env = "COCOON_ROOT")]
    pub root: String,
    /// The TON API the owner's wallet sends through.
    #[command(flatten)]
    pub chain: Chain,
}

/// Which of the root's allowlists `cocoon root allow` changes.
#[derive(Clone, Copy, ValueEnum)]
pub enum ListArg {
    /// Image hashes a proxy may attest.
    ProxyImage,
    /// Image hashes a worker may attest.
    WorkerImage,
    /// Model weight hashes.
    Model,
}

/// A proxy operator's identity and data dir, and the chain, for commands on the proxy's TON contract.
#[derive(Args)]
pub struct ProxyOp {
    /// The proxy's payments data dir (holds ton.json, and key.pem unless --key-file).
    #[arg(long, default_value = "data/proxy")]
    pub data_dir: PathBuf,
    /// The proxy's identity key (default: <data-dir>/key.pem).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The TON API the operator's wallet sends through.
    #[command(flatten)]
    pub chain: Chain,
}

fn api(c: &Chain) -> Result<TonApi> {
    api_client(&c.api, c.api_key.clone())
}

/// A TON API client for a base URL (`/api/v2/` is added when missing) and key.
pub(crate) fn api_client(url: &str, key: Option<String>) -> Result<TonApi> {
    let mut chain = cocoon_onchain::ChainConfig::new(url, "");
    chain.api_key = key;
    Ok(TonApi::new(chain.api())?)
}

/// Says what is sent, sends it, waits, and prints the transaction.
async fn send(api: &TonApi, wallet: &WalletV4, what: &str, t: Transfer, json_out: bool) -> Result<Value> {
    let to = address::raw(&t.to);
    let value = t.value;
    eprintln!("sending {what} to {to} with {} attached (gas; the change comes back)", ton(value as u64));
    let tx = wallet.send(api, &[t], SendOptions::default()).await?;
    let v = json!({
        "sent": what, "to": to, "attached": value.to_string(),
        "tx_hash": hex::encode(tx.id.hash.as_array()), "tx_lt": tx.id.lt, "wallet_fee": tx.fee.to_string(),
    });
    if !json_out {
        println!(
            "sent {what}: transaction {} (lt {}), wallet fee {}",
            v["tx_hash"].as_str().unwrap_or(""),
            tx.id.lt,
            ton(tx.fee as u64)
        );
    }
    Ok(v)
}

/// Runs a `cocoon root` subcommand: deploys, shows or changes the root contract.
pub async fn root(cmd: RootCmd) -> Result<()> {
    match cmd {
        RootCmd::Deploy { key_file, unique_id, production, chain } => {
            let api = api(&chain)?;
            let wallet = crate::wallet::wallet(&key_file)?;
            let codes = Codes::embedded()?;
            let params = Params { unique_id, is_test: !production, ..Params::default() };
            let cfg = RootConfig {
                owner: wallet.address().clone(),
                params,
                proxy_image_hashes: vec![],
                worker_image_hashes: vec![],
                model_hashes: vec![],
            };
            let init = root_state_init(&cfg, codes)?;
            let root = cocoon_ton::address_of(&init, 0)?;
            let t = Transfer::new(root.clone(), cocoon_ton::NANOTON).with_state_init(init).bounce(false);
            let mut v = send(&api, &wallet, "a root deployment (1 TON for its storage)", t, chain.json).await?;
            v["root"] = json!(address::raw(&root));
            print_out(&chain, &v, &format!("root: {}", address::raw(&root)));
        }
        RootCmd::Show { root, chain } => {
            let api = api(&chain)?;
            let root = address::parse_std(&root)?;
            let data = getters::root_data(&api, &root).await?;
            let p = getters::params(&api, &root).await?;
            let lists = getters::allowlists(&api, &root).await?;
            let proxies = getters::proxies(&api, &root).await?;
            let hexes = |v: &[HashBytes]| v.iter().map(|h| hex::encode(h.as_array())).collect::<Vec<_>>();
            let v = json!({
                "root": address::raw(&root), "owner": address::raw(&data.owner), "version": data.version,
                "params": { "params_version": p.params_version, "is_test": p.is_test, "unique_id": p.unique_id,
                    "price_per_token": p.price_per_token.to_string(), "worker_fee_per_token": p.worker_fee_per_token.to_string(),
                    "min_proxy_stake": p.min_proxy_stake.to_string(), "min_client_stake": p.min_client_stake.to_string(),
                    "proxy_delay_before_close": p.proxy_delay_before_close, "client_delay_before_close": p.client_delay_before_close },
                "proxy_image_hashes": hexes(&lists.proxy_image_hashes),
                "worker_image_hashes": hexes(&lists.worker_image_hashes),
                "model_hashes": hexes(&lists.model_hashes),
                "proxies": proxies.iter().map(|(h, e)| json!({
                    "contract": address::raw(&StdAddr::new(0, *h)), "seqno": e.seqno, "public_key": hex::encode(e.public_key.as_array()),
                    "stake": e.stake.to_string(), "client_endpoint": e.client_endpoint, "worker_endpoint": e.worker_endpoint,
                })).collect::<Vec<_>>(),
            });
            let text = format!(
                "root {} (owner {}, version {})\nprices: {} / {} nanotons per token (client / worker), params version {}, {}\n\
                 stakes: proxy >= {}, client >= {}\nproxy images: {:?}\nworker images: {:?}\nmodels: {:?}\nproxies: {}",
                v["root"], v["owner"], data.version, p.price_per_token, p.worker_fee_per_token, p.params_version,
                if p.is_test { "test network" } else { "production" },
                ton(u64::try_from(p.min_proxy_stake).unwrap_or(u64::MAX)), ton(u64::try_from(p.min_client_stake).unwrap_or(u64::MAX)),
                v["proxy_image_hashes"], v["worker_image_hashes"], v["model_hashes"], v["proxies"]
            );
            print_out(&chain, &v, &text);
        }
        RootCmd::Allow { list, hash, remove, owner } => {
            let api = api(&owner.chain)?;
            let wallet = crate::wallet::wallet(&owner.key_file)?;
            let root = address::parse_std(&owner.root)?;
            let mut h = [0u8; 32];
            hex::decode_to_slice(hash.trim(), &mut h).context("the hash: expected 64 hex digits")?;
            let list = match list {
                ListArg::ProxyImage => messages::Allowlist::ProxyImages,
                ListArg::WorkerImage => messages::Allowlist::WorkerImages,
                ListArg::Model => messages::Allowlist::Models,
            };
            let body = messages::root_update_allowlist(list, &HashBytes(h), !remove, 0)?;
            let what =
                format!("update_allowlist({list:?}, {}, {})", hash.trim(), if remove { "remove" } else { "add" });
            let t = Transfer::new(root, messages::gas::SIMPLE_OP).with_body(body);
            let v = send(&api, &wallet, &what, t, owner.chain.json).await?;
            print_out(&owner.chain, &v, "");
        }
        RootCmd::SetPrices { price, worker_fee, owner } => {
            if price == 0 || worker_fee > price {
                bail!("the price must be positive and the worker fee at most the price");
            }
            let api = api(&owner.chain)?;
            let wallet = crate::wallet::wallet(&owner.key_file)?;
            let root = address::parse_std(&owner.root)?;
            let mut p = getters::params(&api, &root).await?;
            p.price_per_token = price;
            p.worker_fee_per_token = worker_fee;
            let body = messages::root_update_params(&p, 0)?;
            let t = Transfer::new(root, messages::gas::SIMPLE_OP).with_body(body);
            let what =
                format!("update_params(price {price}, worker fee {worker_fee}); proxies must re-register to use them");
            let v = send(&api, &wallet, &what, t, owner.chain.json).await?;
            print_out(&owner.chain, &v, "");
        }
    }
    Ok(())
}

fn print_out(chain: &Chain, v: &Value, text: &str) {
    if chain.json {
        println!("{v}");
    } else if !text.is_empty() {
        println!("{text}");
    }
}

/// The proxy contract this data dir registered (`ton.json`) and the operator's wallet.
fn proxy_contract(op: &ProxyOp) -> Result<(StdAddr, WalletV4)> {
    let record = op.data_dir.join("ton.json");
    let text = std::fs::read_to_string(&record)
        .with_context(|| format!("{} (written when the proxy registered)", record.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| record.display().to_string())?;
    let contract = address::parse_std(v["contract"].as_str().unwrap_or_default())?;
    let key = op.key_file.clone().unwrap_or_else(|| op.data_dir.join("key.pem"));
    Ok((contract, crate::wallet::wallet(&key)?))
}

/// `cocoon proxy contract`: the proxy contract's state.
pub async fn proxy_show(op: ProxyOp) -> Result<()> {
    let api = api(&op.chain)?;
    let (contract, _) = proxy_contract(&op)?;
    let d = getters::proxy_data(&api, &contract).await?;
    let a = getters::anchor(&api, &contract).await?;
    let n = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    let v = json!({
        "contract": address::raw(&contract), "state": d.state, "stake": d.stake.to_string(),
        "held_for_workers": d.balance.to_string(), "commission": d.commission.to_string(),
        "anchor": { "seqno": a.seqno, "saved_at": a.saved_at, "session_hash": hex::encode(a.session_hash.as_array()) },
    });
    let text =
        format!(
        "proxy contract {} (state {})\nstake {}, held for workers {}, commission {}\nanchor {} saved at unix time {}",
        v["contract"], d.state, ton(n(d.stake)), ton(n(d.balance)), ton(n(d.commission)), a.seqno, a.saved_at
    );
    print_out(&op.chain, &v, &text);
    Ok(())
}

/// `cocoon proxy withdraw AMOUNT`: commission to the operator's wallet.
pub async fn proxy_withdraw(op: ProxyOp, amount: &str) -> Result<()> {
    let api = api(&op.chain)?;
    let (contract, wallet) = proxy_contract(&op)?;
    let amount = u128::from(parse_ton(amount)?);
    let have = getters::proxy_data(&api, &contract).await?.commission;
    if amount == 0 || amount > have {
        bail!("the contract's commission is {have} nanotons; withdraw between 1 and that");
    }
    let body = messages::proxy_withdraw_commission(amount, 0)?;
    let t = Transfer::new(contract, messages::gas::SIMPLE_OP).with_body(body);
    let v = send(&api, &wallet, &format!("withdraw_commission({amount} nanotons)"), t, op.chain.json).await?;
    print_out(&op.chain, &v, "");
    Ok(())
}

/// `cocoon proxy close [--finish]`: delist and start the close delay, or end it.
pub async fn proxy_close(op: ProxyOp, finish: bool) -> Result<()> {
    let api = api(&op.chain)?;
    let (contract, wallet) = proxy_contract(&op)?;
    let (what, body) = if finish {
        ("finish_close (stake, commission and held money to the operator)", messages::proxy_finish_close(0)?)
    } else {
        (
            "start_close (the root delists this proxy at once; the stake comes back after the delay)",
            messages::proxy_start_close(0)?,
        )
    };
    let t = Transfer::new(contract, messages::gas::SIMPLE_OP).with_body(body);
    let v = send(&api, &wallet, what, t, op.chain.json).await?;
    print_out(&op.chain, &v, "");
    Ok(())
}
