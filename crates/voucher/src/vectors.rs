//! Test vectors shared with the TON contracts' own tests (`contracts/tests/vectors/`).
//!
//! The contracts' side writes `targets.json`: the proxy's key seed, another key, and the contract
//! addresses its sandbox deploys. [`generate`] signs a fixed list of vouchers for those targets and
//! returns `vouchers.json`, which the contract tests replay: each case's held voucher and message
//! body, byte for byte what this crate produces. The example `vectors` prints it and the test
//! `tests/vectors.rs` checks that the committed file is current:
//!
//! ```text
//! cargo run -p cocoon-voucher --example vectors > contracts/tests/vectors/vouchers.json
//! ```
//!
//! Ed25519 signatures are deterministic, so the same targets always give the same file.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::{SignedVoucher, TonAddress, Voucher, VoucherError, VoucherKind};

/// `targets.json`, relative to the workspace root.
pub const TARGETS_PATH: &str = "contracts/tests/vectors/targets.json";
/// `vouchers.json`, relative to the workspace root.
pub const VOUCHERS_PATH: &str = "contracts/tests/vectors/vouchers.json";
/// The command that regenerates `vouchers.json`.
pub const REGENERATE: &str = "cargo run -p cocoon-voucher --example vectors > contracts/tests/vectors/vouchers.json";

/// Why the vectors could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum VectorsError {
    /// `targets.json` is not valid JSON of the expected shape (or an address in it does not parse).
    #[error("targets.json: {0}")]
    Targets(#[from] serde_json::Error),
    /// A key seed is not 32 bytes of hex.
    #[error("targets.json: {field} is not 64 hex digits")]
    Seed {
        /// The offending field.
        field: &'static str,
    },
    /// Building or signing a voucher failed.
    #[error(transparent)]
    Voucher(#[from] VoucherError),
}

/// What the contracts' side provides (`targets.json`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Who wrote the file and how.
    pub comment: String,
    /// Ed25519 secret seed of the proxy key the contracts trust (32 bytes, hex).
    pub proxy_key_seed_hex: String,
    /// Ed25519 secret seed of a key the contracts do not trust.
    pub other_key_seed_hex: String,
    /// Where excesses go in every message body.
    pub excesses_to: TonAddress,
    /// The client contract under test.
    pub client_contract: TonAddress,
    /// A second client contract, for a voucher sent to the wrong one.
    pub other_client_contract: TonAddress,
    /// The worker contract under test.
    pub worker_contract: TonAddress,
}

/// One signed voucher for the contracts to replay.
#[derive(Debug, Serialize)]
pub struct Case {
    /// What the case checks.
    pub name: &'static str,
    /// The payload's kind.
    pub kind: VoucherKind,
    /// The payload's query id.
    pub query_id: u64,
    /// The payload's cumulative tokens.
    pub tokens: u64,
    /// The payload's `expected_my_address`.
    pub contract: TonAddress,
    /// Base64 BOC of the held form (`signature payload:^SignedPayload`).
    pub held_b64: String,
    /// Base64 BOC of the message body, with `send_excesses_to` = the targets' `excesses_to`.
    pub body_b64: String,
}

/// `vouchers.json`.
#[derive(Debug, Serialize)]
pub struct Vectors {
    /// How the file was made.
    pub comment: String,
    /// The trusted proxy key (hex).
    pub proxy_public_key_hex: String,
    /// The untrusted key (hex).
    pub other_public_key_hex: String,
    /// The cases, in a fixed order.
    pub cases: Vec<Case>,
}

/// The workspace root, from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

fn seed(hex_text: &str, field: &'static str) -> Result<SigningKey, VectorsError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut seed).map_err(|_| VectorsError::Seed { field })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// How a case's voucher is made.
enum Make {
    /// Signed as is by the trusted key.
    Signed,
    /// Signed by the untrusted key.
    OtherKey,
    /// Signed for `tokens`, then the payload rebuilt with this many tokens, keeping the signature.
    Tampered(u64),
}

/// Builds the vectors for `targets_json` (the content of `targets.json`).
pub fn build(targets_json: &str) -> Result<Vectors, VectorsError> {
    let t: Targets = serde_json::from_str(targets_json)?;
    let proxy = seed(&t.proxy_key_seed_hex, "proxy_key_seed_hex")?;
    let other = seed(&t.other_key_seed_hex, "other_key_seed_hex")?;
    use VoucherKind::{ClientCharge, GrantRefund, WorkerPayout};
    let plan: [(&'static str, VoucherKind, u64, u64, TonAddress, Make); 9] = [
        ("charge_100", ClientCharge, 1, 100, t.client_contract, Make::Signed),
        ("charge_250", ClientCharge, 2, 250, t.client_contract, Make::Signed),
        ("charge_200_stale", ClientCharge, 3, 200, t.client_contract, Make::Signed),
        ("charge_300_other_key", ClientCharge, 4, 300, t.client_contract, Make::OtherKey),
        ("charge_300_tampered", ClientCharge, 5, 300, t.client_contract, Make::Tampered(3000)),
        ("charge_300_other_contract", ClientCharge, 6, 300, t.other_client_contract, Make::Signed),
        ("grant_refund_400", GrantRefund, 7, 400, t.client_contract, Make::Signed),
        ("payout_1000", WorkerPayout, 8, 1000, t.worker_contract, Make::Signed),
        ("payout_2500", WorkerPayout, 9, 2500, t.worker_contract, Make::Signed),
    ];
    let mut cases = Vec::with_capacity(plan.len());
    for (name, kind, query_id, tokens, contract, make) in plan {
        let v = Voucher { kind, query_id, tokens, contract };
        let signed = match make {
            Make::Signed => v.sign(&proxy)?,
            Make::OtherKey => v.sign(&other)?,
            Make::Tampered(forged) => {
                let mut s = v.sign(&proxy)?;
                s.voucher.tokens = forged;
                s
            }
        };
        cases.push(case(name, &signed, &t.excesses_to)?);
    }
    Ok(Vectors {
        comment: format!("generated by `{REGENERATE}`; do not edit"),
        proxy_public_key_hex: hex::encode(proxy.verifying_key().to_bytes()),
        other_public_key_hex: hex::encode(other.verifying_key().to_bytes()),
        cases,
    })
}

fn case(name: &'static str, s: &SignedVoucher, excesses_to: &TonAddress) -> Result<Case, VectorsError> {
    let v = &s.voucher;
    Ok(Case {
        name,
        kind: v.kind,
        query_id: v.query_id,
        tokens: v.tokens,
        contract: v.contract,
        held_b64: s.to_base64()?,
        body_b64: STANDARD.encode(s.to_message_body(Some(excesses_to))?),
    })
}

/// `vouchers.json` for `targets_json`: pretty JSON with a final newline, deterministic.
pub fn generate(targets_json: &str) -> Result<String, VectorsError> {
    let mut out = serde_json::to_string_pretty(&build(targets_json)?)?;
    out.push('\n');
    Ok(out)
}
