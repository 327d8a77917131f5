//! Money on the command line: `cocoon client balance|deposit|stake|withdraw|close`,
//! `cocoon worker earnings` and `cocoon proxy accounts`, each talking to a running node's local
//! HTTP endpoint, each with `--json`.
//!
//! Amounts are TON with up to nine decimals ("1.5"), parsed exactly into integer nanotons, or
//! nanotons with `--nano`. Nothing here uses floating point.

use crate::network::{get_json, get_json_with, post_json_with};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// Nanotons in one TON.
const NANO: u64 = 1_000_000_000;

/// Parses "1", "1.5", "0.000000001" (TON) into nanotons, exactly.
pub fn parse_ton(s: &str) -> Result<u64> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() && frac.is_empty() {
        bail!("empty amount");
    }
    if frac.len() > 9 || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        bail!("amount {s:?}: expected TON with at most 9 decimals, e.g. 1.5");
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse()? };
    let frac: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse()? };
    whole
        .checked_mul(NANO)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| anyhow::anyhow!("amount {s:?} is too large"))
}

/// Formats nanotons as TON with all nine decimals.
pub fn ton(n: u64) -> String {
    format!("{}.{:09} TON", n / NANO, n % NANO)
}

/// The money subcommands of `cocoon client`, each sent to a running client's payments API.
#[derive(Subcommand)]
pub enum ClientAction {
    /// Show this client's account at a proxy.
    Balance(Target),
    /// Top up (durable at the proxy before it answers).
    Deposit(Amount),
    /// Move spendable funds into the stake.
    Stake(Amount),
    /// Take back spendable funds (never the stake).
    Withdraw(Amount),
    /// Close the account; the stake comes back after the close delay.
    Close(Target),
    /// On chain: after the close delay, take balance and stake back without the proxy.
    ForceRefund(Target),
}

/// Which running client, which of its proxies and which API token a `cocoon client` money command uses.
#[derive(Args)]
pub struct Target {
    /// The client's local API.
    #[arg(long, default_value = "http://127.0.0.1:10000", env = "COCOON_CLIENT_URL")]
    pub url: String,
    /// Which of the client's proxies (index in its list; default: the first connected).
    #[arg(long)]
    pub proxy: Option<usize>,
    /// The client's API token (default: read from --token-file).
    #[arg(long, env = "COCOON_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The file holding the client's API token (`<client data_dir>/api-token`; default: the
    /// client of `cocoon up`).
    #[arg(long, env = "COCOON_API_TOKEN_FILE", default_value = "data/up/client/api-token")]
    pub token_file: std::path::PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An amount for deposit, stake or withdraw, and the client it applies to.
#[derive(Args)]
pub struct Amount {
    /// TON, e.g. 1.5 (or nanotons with --nano).
    pub amount: String,
    /// The amount is in nanotons.
    #[arg(long)]
    pub nano: bool,
    /// The client and proxy the amount is for.
    #[command(flatten)]
    pub target: Target,
}

fn account_url(t: &Target, op: &str) -> String {
    let q = t.proxy.map(|p| format!("?proxy={p}")).unwrap_or_default();
    format!("{}/v1/payments/{op}{q}", t.url.trim_end_matches('/'))
}

/// The API token `t` names: given, or read from its file.
fn token(t: &Target) -> Result<String> {
    match &t.token {
        Some(tok) => Ok(tok.clone()),
        None => std::fs::read_to_string(&t.token_file).map(|s| s.trim().to_string()).map_err(|e| {
            anyhow::anyhow!(
                "the client's API token: {}: {e} (pass --token or --token-file <client data_dir>/api-token)",
                t.token_file.display()
            )
        }),
    }
}

/// Runs a `cocoon client` money subcommand and prints the account as the proxy reports it.
pub async fn client(action: ClientAction) -> Result<()> {
    match action {
        ClientAction::Balance(t) => {
            let r = get_json_with(&account_url(&t, "account"), Some(&token(&t)?)).await?;
            show_account(&t, r)
        }
        ClientAction::Close(t) => {
            let r = post_json_with(&account_url(&t, "close"), &json!({}), Some(&token(&t)?)).await?;
            show_account(&t, r)
        }
        ClientAction::ForceRefund(t) => {
            let r = post_json_with(&account_url(&t, "force_refund"), &json!({}), Some(&token(&t)?)).await?;
            show_account(&t, r)
        }
        ClientAction::Deposit(a) => client_amount("deposit", a).await,
        ClientAction::Stake(a) => client_amount("stake", a).await,
        ClientAction::Withdraw(a) => client_amount("withdraw", a).await,
    }
}

/// Deposit, stake and withdraw: parse the amount and post it.
async fn client_amount(op: &str, a: Amount) -> Result<()> {
    let amount = if a.nano { a.amount.trim().parse::<u64>()? } else { parse_ton(&a.amount)? };
    let resp =
        post_json_with(&account_url(&a.target, op), &json!({ "amount": amount }), Some(&token(&a.target)?)).await?;
    show_account(&a.target, resp)
}

fn fail_on_error(status: u16, v: &Value) -> Result<()> {
    if status >= 400 || status == 0 {
        let msg = v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        bail!("{msg} (HTTP {status})");
    }
    Ok(())
}

fn show_account(t: &Target, (status, v): (u16, Value)) -> Result<()> {
    if t.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return fail_on_error(status, &v);
    }
    fail_on_error(status, &v)?;
    // On chain the answer is the message sent and the account as the proxy then read it.
    let v = match v.get("sent") {
        Some(sent) => {
            let n = |k: &str| sent[k].as_u64().or_else(|| sent[k].as_str().and_then(|x| x.parse().ok())).unwrap_or(0);
            println!(
                "sent on chain to {}: {} attached, transaction {} (wallet fee {})",
                sent["contract"].as_str().unwrap_or("?"),
                ton(n("value")),
                sent["tx_hash"].as_str().unwrap_or("?"),
                ton(n("wallet_fee"))
            );
            match v.get("account") {
                Some(a) => a.clone(),
                None => {
                    println!("the proxy did not answer for the account: {}", v["account_error"]);
                    return Ok(());
                }
            }
        }
        None => v,
    };
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    println!("proxy      {}", v["proxy"].as_str().unwrap_or("?"));
    println!("state      {}", v["state"].as_str().unwrap_or("?"));
    println!("available  {}", ton(n("available")));
    println!("reserved   {}", ton(n("reserved")));
    println!("stake      {}", ton(n("stake")));
    println!("charged    {}", ton(n("charged")));
    println!("deposited  {}", ton(n("deposited")));
    println!("withdrawn  {}", ton(n("withdrawn")));
    if let Some(at) = v["at"].as_u64() {
        println!("stake back at unix time {at}");
    }
    Ok(())
}

/// The subcommands of `cocoon worker` that read a running worker instead of starting one.
#[derive(Subcommand)]
pub enum WorkerAction {
    /// What the proxies' latest vouchers say this worker has earned.
    Earnings(NodeTarget),
}

/// The subcommands of `cocoon proxy` that inspect a running proxy or act on its TON contract
/// instead of starting one.
#[derive(Subcommand)]
pub enum ProxyAction {
    /// Every client and worker account, and the books' totals.
    Accounts(NodeTarget),
    /// Settlement on TON: the proxy contract's stake, money held for workers, commission, anchor.
    Contract(crate::operator::ProxyOp),
    /// Settlement on TON: withdraw commission (TON, e.g. 1.5) to the operator's wallet.
    Withdraw {
        /// TON.
        amount: String,
        #[command(flatten)]
        op: crate::operator::ProxyOp,
    },
    /// Settlement on TON: start closing the proxy contract (delisted at once), or with
    /// --finish end it after the delay (stake and commission come back).
    Close {
        /// End a close whose delay has passed.
        #[arg(long)]
        finish: bool,
        #[command(flatten)]
        op: crate::operator::ProxyOp,
    },
}

/// Which running worker or proxy to read, through its local stats endpoint.
#[derive(Args)]
pub struct NodeTarget {
    /// The node's local stats endpoint (worker default 127.0.0.1:9200, proxy 127.0.0.1:8800).
    #[arg(long)]
    pub url: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// GETs `path` from a node's stats endpoint; prints it and returns `None` under `--json`.
async fn fetch(t: &NodeTarget, default_url: &str, path: &str) -> Result<Option<Value>> {
    let url = t.url.as_deref().unwrap_or(default_url).trim_end_matches('/');
    let (status, v) = get_json(&format!("{url}{path}")).await?;
    fail_on_error(status, &v)?;
    if t.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(None);
    }
    Ok(Some(v))
}

/// The first 16 characters of a hex key, for tables.
fn short(key: &str) -> &str {
    key.get(..16).unwrap_or(key)
}

/// Runs `cocoon worker earnings`: reads `/earnings` from the worker and prints the tokens earned per proxy.
pub async fn worker(action: WorkerAction) -> Result<()> {
    let WorkerAction::Earnings(t) = action;
    let Some(v) = fetch(&t, "http://127.0.0.1:9200", "/earnings").await? else { return Ok(()) };
    // Vouchers carry adjusted tokens; each worker contract pays them at the worker fee.
    println!("total earned  {} tokens", v["total_tokens"].as_u64().unwrap_or(0));
    for p in v["proxies"].as_array().into_iter().flatten() {
        let key = p["proxy_key"].as_str().unwrap_or("?");
        let contract = p["contract"].as_str().unwrap_or("-");
        println!("  proxy {}  {} tokens  contract {contract}", short(key), p["tokens"].as_u64().unwrap_or(0));
    }
    Ok(())
}

/// Runs a `cocoon proxy` subcommand: prints the books from `/accounts`, or acts on the proxy's contract.
pub async fn proxy(action: ProxyAction) -> Result<()> {
    let t = match action {
        ProxyAction::Accounts(t) => t,
        ProxyAction::Contract(op) => return crate::operator::proxy_show(op).await,
        ProxyAction::Withdraw { amount, op } => return crate::operator::proxy_withdraw(op, &amount).await,
        ProxyAction::Close { finish, op } => return crate::operator::proxy_close(op, finish).await,
    };
    let Some(v) = fetch(&t, "http://127.0.0.1:8800", "/accounts").await? else { return Ok(()) };
    if v["enabled"] == json!(false) {
        println!("payments are off on this proxy");
        return Ok(());
    }
    println!("clients:");
    for c in v["clients"].as_array().into_iter().flatten() {
        let id = c["client"].as_str().unwrap_or("?");
        let a = &c["account"];
        println!(
            "  {}  available {}  charged {}  stake {}  {}",
            short(id),
            ton(a["available"].as_u64().unwrap_or(0)),
            ton(a["charged"].as_u64().unwrap_or(0)),
            ton(a["stake"].as_u64().unwrap_or(0)),
            a["state"].as_str().unwrap_or("?")
        );
    }
    println!("workers:");
    for w in v["workers"].as_array().into_iter().flatten() {
        let id = w["worker"].as_str().unwrap_or("?");
        println!("  {}  earned {}", short(id), ton(w["earned"].as_u64().unwrap_or(0)));
    }
    let l = &v["books"]["ledger"];
    println!(
        "commission {}   deposited {}   balanced: {}",
        ton(l["commission"].as_u64().unwrap_or(0)),
        ton(l["deposited"].as_u64().unwrap_or(0)),
        l["balanced"]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ton_amounts_parse_exactly() {
        assert_eq!(parse_ton("1").unwrap(), NANO);
        assert_eq!(parse_ton("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_ton("0.000000001").unwrap(), 1);
        assert_eq!(parse_ton(".25").unwrap(), 250_000_000);
        assert!(parse_ton("0.0000000001").is_err(), "more than nine decimals");
        assert!(parse_ton("-1").is_err());
        assert!(parse_ton("1e9").is_err());
        assert!(parse_ton("").is_err());
        assert!(parse_ton("99999999999").is_err(), "overflows u64 nanotons");
        assert_eq!(ton(1_500_000_001), "1.500000001 TON");
    }
}
