//! `cocoon wallet address|balance|send`: a role's TON wallet, the standard wallet v4r2 of its
//! identity key (the key file in its data dir, created here if it is missing, never printed).

use crate::money::{parse_ton, ton};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use cocoon_ton::{address, SendOptions, TonApi, Transfer};
use serde_json::json;
use std::path::PathBuf;

/// The `cocoon wallet` subcommands: a role's TON wallet, derived from its identity key.
#[derive(Subcommand)]
pub enum WalletCmd {
    /// Print the wallet's address (creates the key file if it is missing).
    Address(KeyArgs),
    /// Print the wallet's balance on the chain.
    Balance(ChainArgs),
    /// Send TON from the wallet and wait until the transfer is on chain.
    Send(SendArgs),
}

/// Which identity key's wallet to use, and whether to print JSON.
#[derive(Args)]
pub struct KeyArgs {
    /// The role's identity key (PKCS#8 PEM): `<data_dir>/key.pem` of a client or worker,
    /// `[attestation] key_file` of a proxy.
    #[arg(long)]
    pub key_file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A wallet's key and the TON HTTP API to reach the chain through.
#[derive(Args)]
pub struct ChainArgs {
    /// The wallet's identity key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// The TON HTTP API v2 (toncenter, or `cocoon devnet`).
    #[arg(long, env = "COCOON_TON_API", default_value = "http://127.0.0.1:8081")]
    pub api: String,
    /// The API key (toncenter's X-API-Key).
    #[arg(long, env = "COCOON_TON_API_KEY")]
    pub api_key: Option<String>,
}

/// Arguments of `cocoon wallet send`.
#[derive(Args)]
pub struct SendArgs {
    /// The sending wallet's key and the TON API.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Where to (any address form).
    pub to: String,
    /// TON, e.g. 1.5.
    pub amount: String,
    /// Send bounceable (to a contract that should refuse unknown transfers).
    #[arg(long)]
    pub bounce: bool,
}

/// The wallet of the identity key in `path` (created if missing).
pub(crate) fn wallet(path: &std::path::Path) -> Result<cocoon_ton::WalletV4> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let cfg = cocoon_transport::AttestationConfig {
        mode: cocoon_transport::AttestMode::None,
        key_file: Some(path.to_path_buf()),
        ..Default::default()
    };
    let identity = cocoon_transport::build_identity(cocoon_ratls::Role::Client, &cfg, Default::default())
        .with_context(|| format!("key file {}", path.display()))?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(&identity.key_pkcs8_der())
        .map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?;
    Ok(cocoon_onchain::keys::wallet(&key)?)
}

fn api(a: &ChainArgs) -> Result<TonApi> {
    crate::operator::api_client(&a.api, a.api_key.clone())
}

/// Runs one `cocoon wallet` subcommand.
pub async fn run(cmd: WalletCmd) -> Result<()> {
    match cmd {
        WalletCmd::Address(k) => {
            let w = wallet(&k.key_file)?;
            let friendly = address::friendly_url(w.address(), false);
            if k.json {
                println!("{}", json!({ "address": friendly, "raw": address::raw(w.address()) }));
            } else {
                println!("{friendly}");
            }
        }
        WalletCmd::Balance(c) => {
            let w = wallet(&c.key.key_file)?;
            let balance = api(&c)?.get_address_balance(w.address()).await?;
            let n = u64::try_from(balance).unwrap_or(u64::MAX);
            if c.key.json {
                println!("{}", json!({ "address": address::raw(w.address()), "balance": balance.to_string() }));
            } else {
                println!("{} {}", address::friendly_url(w.address(), false), ton(n));
            }
        }
        WalletCmd::Send(s) => {
            let w = wallet(&s.chain.key.key_file)?;
            let to = address::parse_std(&s.to).with_context(|| format!("address {:?}", s.to))?;
            let amount = u128::from(parse_ton(&s.amount)?);
            let api = api(&s.chain)?;
            eprintln!(
                "sending {} to {} (bounce {}); the wallet pays about 0.003 TON in fees",
                ton(amount as u64),
                address::raw(&to),
                s.bounce
            );
            let tx =
                w.send(&api, &[Transfer::new(to.clone(), amount).bounce(s.bounce)], SendOptions::default()).await?;
            if s.chain.key.json {
                println!(
                    "{}",
                    json!({ "to": address::raw(&to), "amount": amount.to_string(), "tx_hash": hex::encode(tx.id.hash.as_array()),
                            "tx_lt": tx.id.lt, "fee": tx.fee.to_string() })
                );
            } else {
                println!(
                    "sent: transaction {} (lt {}), fee {}",
                    hex::encode(tx.id.hash.as_array()),
                    tx.id.lt,
                    ton(tx.fee as u64)
                );
            }
        }
    }
    Ok(())
}
