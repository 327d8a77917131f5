//! `cocoon attest`: look at attestation from the command line.
//!
//! - `verify QUOTE --collateral FILE [--now UNIX] [--json]`: full DCAP verification of a raw TDX
//!   quote, offline; the exit status is non-zero, with the reason, when it does not verify.
//! - `show FILE [--collateral FILE] [--now UNIX] [--json]`: what an RA-TLS certificate (PEM or
//!   DER) or a raw quote carries: TEE type, MRTD, RTMRs, image hash, report data, and with
//!   collateral the TCB status and advisories.
//! - `image-hash`: this machine's image hash, in a TDX guest.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use cocoon_ratls::{inspect_certificate, report_data, EvidenceVerifier, TeeType};
use cocoon_tdx::{collateral_from_file, validity, verify_quote, TdxAttester, TdxPolicy, TdxQuote, TdxVerified};
use serde_json::{json, Value};
use std::{path::PathBuf, time::SystemTime};

/// The `cocoon attest` subcommands: offline checks of TDX quotes and RA-TLS certificates.
#[derive(Subcommand)]
pub enum AttestCmd {
    /// Verify a raw TDX quote offline against a collateral file.
    Verify(VerifyArgs),
    /// Show what an RA-TLS certificate (PEM or DER) or a raw quote carries.
    Show(ShowArgs),
    /// Print this machine's image hash (in a TDX guest with configfs-tsm).
    ImageHash {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The flags that loosen or tighten the TDX policy a quote is verified under.
#[derive(Args)]
pub struct PolicyArgs {
    /// A TCB status to accept besides UpToDate (repeat), e.g. SWHardeningNeeded.
    #[arg(long = "allow-status")]
    pub allow_status: Vec<String>,
    /// Accept dynamic platforms, cached keys and SMT (what real cloud TDX hosts need).
    #[arg(long)]
    pub cloud: bool,
    /// Accept a debug TD (never in production).
    #[arg(long)]
    pub allow_debug: bool,
    /// Require the quote's image hash to be one of these (repeat).
    #[arg(long = "image-hash")]
    pub image_hashes: Vec<cocoon_ratls::ImageHash>,
}

impl PolicyArgs {
    fn policy(&self) -> Result<TdxPolicy> {
        let mut p = if self.cloud { TdxPolicy::cloud() } else { TdxPolicy::default() };
        for s in &self.allow_status {
            if !p.allowed_tcb_statuses.contains(s) {
                p.allowed_tcb_statuses.push(s.clone());
            }
        }
        p.allow_debug |= self.allow_debug;
        p.validate()?;
        Ok(p)
    }
}

/// Arguments of `cocoon attest verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The raw quote (binary, or hex text).
    pub quote: PathBuf,
    /// Collateral as JSON (dcap-qvl's format, as a PCCS serves it).
    #[arg(long)]
    pub collateral: PathBuf,
    /// Verify as of this Unix time (default: now), e.g. for a recorded quote.
    #[arg(long)]
    pub now: Option<u64>,
    /// The TDX policy the quote must satisfy.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cocoon attest show`.
#[derive(Args)]
pub struct ShowArgs {
    /// An RA-TLS certificate (PEM or DER) or a raw TDX quote (binary or hex).
    pub file: PathBuf,
    /// Collateral, to also verify the quote and show its TCB status and advisories.
    #[arg(long)]
    pub collateral: Option<PathBuf>,
    /// With --collateral: verify as of this Unix time.
    #[arg(long)]
    pub now: Option<u64>,
    /// The TDX policy applied when `--collateral` is given.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `cocoon attest` subcommand (synchronously: no async runtime is needed).
pub fn run(cmd: AttestCmd) -> Result<()> {
    match cmd {
        AttestCmd::Verify(a) => verify(a),
        AttestCmd::Show(a) => show(a),
        AttestCmd::ImageHash { json } => image_hash(json),
    }
}

fn now_or(now: Option<u64>) -> u64 {
    now.unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Reads a file that holds bytes either raw or as hex text.
fn read_bytes(path: &PathBuf) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&raw);
    let trimmed: String = text.split_whitespace().collect();
    if !trimmed.is_empty() && trimmed.len().is_multiple_of(2) && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(hex::decode(trimmed)?);
    }
    Ok(raw)
}

fn quote_json(q: &TdxQuote) -> Value {
    json!({
        "tee": "tdx",
        "quote_version": q.version,
        "td_report": format!("{:?}", q.kind),
        "mrtd": hex::encode(q.measurements.mrtd),
        "rtmr": q.measurements.rtmr.iter().map(hex::encode).collect::<Vec<_>>(),
        "image_hash": q.image_hash().to_string(),
        "report_data": hex::encode(q.report_data),
        "debug": q.debug,
    })
}

fn verified_json(v: &TdxVerified) -> Value {
    let mut j = quote_json(&v.quote);
    j["verified"] = json!(true);
    j["tcb_status"] = json!(v.tcb_status);
    j["advisories"] = json!(v.advisory_ids);
    j
}

fn print(j: &Value, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(j)?);
        return Ok(());
    }
    if let Some(obj) = j.as_object() {
        for (k, v) in obj {
            match v {
                Value::Array(items) if k == "rtmr" => {
                    for (i, r) in items.iter().enumerate() {
                        println!("{:<14} {}", format!("rtmr{i}"), r.as_str().unwrap_or_default());
                    }
                }
                Value::Array(items) => println!(
                    "{k:<14} {}",
                    if items.is_empty() {
                        "none".to_string()
                    } else {
                        items.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join(", ")
                    }
                ),
                Value::Object(_) => {
                    println!("{k}:");
                    print(v, false)?;
                }
                Value::String(s) => println!("{k:<14} {s}"),
                other => println!("{k:<14} {other}"),
            }
        }
    }
    Ok(())
}

fn verify_with(quote: &[u8], collateral: &PathBuf, now: Option<u64>, policy: &PolicyArgs) -> Result<TdxVerified> {
    let c = collateral_from_file(collateral)?;
    let now = now_or(now);
    let v = verify_quote(quote, &c, now, &policy.policy()?).map_err(|e| {
        let window =
            validity(&c).map(|(from, to)| format!(" (collateral valid from {from} to {to})")).unwrap_or_default();
        anyhow::anyhow!("quote does NOT verify at {now}: {e}{window}")
    })?;
    let image = v.quote.image_hash();
    if !policy.image_hashes.is_empty() && !policy.image_hashes.contains(&image) {
        bail!("quote verifies, but its image hash {image} is not in the allowlist");
    }
    Ok(v)
}

fn verify(a: VerifyArgs) -> Result<()> {
    let quote = read_bytes(&a.quote)?;
    match verify_with(&quote, &a.collateral, a.now, &a.policy) {
        Ok(v) => print(&verified_json(&v), a.json),
        Err(e) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&json!({"verified": false, "error": e.to_string()}))?);
            }
            Err(e)
        }
    }
}

fn show(a: ShowArgs) -> Result<()> {
    let bytes = read_bytes(&a.file)?;
    let der = pem_to_der(&bytes)?.unwrap_or_else(|| bytes.clone());
    let out = match inspect_certificate(&der) {
        Ok(cert) => {
            let mut j = json!({
                "certificate": "RA-TLS",
                "public_key": hex::encode(cert.public_key),
                "role": cert.claims.as_ref().map(|c| c.role.to_string()),
                "claims": cert.claims.as_ref().map(|c| json!(c.extra)),
                "not_after": format!("{:?}", cert.not_after),
            });
            match &cert.evidence {
                None => j["tee"] = json!("none (not attested)"),
                Some(ev) => {
                    let expected = cert.claims_bytes.as_deref().map(report_data);
                    let q = evidence_json(ev.tee, &ev.quote, &a)?;
                    let bound = q["report_data"].as_str().zip(expected).map(|(rd, e)| rd == hex::encode(e));
                    j["evidence"] = q;
                    j["bound_to_key"] = json!(bound);
                }
            }
            j
        }
        Err(_) => evidence_json(TeeType::Tdx, &bytes, &a).context("neither an RA-TLS certificate nor a TDX quote")?,
    };
    print(&out, a.json)
}

/// What a quote says, verified when collateral is given.
fn evidence_json(tee: TeeType, quote: &[u8], a: &ShowArgs) -> Result<Value> {
    match tee {
        TeeType::Dev => {
            let v = cocoon_ratls::DevVerifier.verify(quote, SystemTime::now())?;
            Ok(json!({
                "tee": "dev (simulated, NOT a TEE, NOT secure)",
                "mrtd": hex::encode(v.measurements.mrtd),
                "rtmr": v.measurements.rtmr.iter().map(hex::encode).collect::<Vec<_>>(),
                "image_hash": v.measurements.image_hash().to_string(),
                "report_data": hex::encode(v.report_data),
            }))
        }
        TeeType::Tdx => match &a.collateral {
            Some(c) => Ok(verified_json(&verify_with(quote, c, a.now, &a.policy)?)),
            None => {
                let mut j = quote_json(&TdxQuote::parse(quote)?);
                j["verified"] = json!("not checked (give --collateral)");
                Ok(j)
            }
        },
    }
}

/// The DER inside a PEM certificate, if `bytes` is one.
fn pem_to_der(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(bytes);
    let Some(start) = text.find("-----BEGIN CERTIFICATE-----") else { return Ok(None) };
    let body = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
    let Some(end) = body.find("-----END CERTIFICATE-----") else { bail!("unterminated PEM certificate") };
    let b64: String = body[..end].split_whitespace().collect();
    Ok(Some(base64::engine::general_purpose::STANDARD.decode(b64).context("PEM body is not base64")?))
}

fn image_hash(as_json: bool) -> Result<()> {
    let attester = TdxAttester::new()?;
    let q = attester.local_quote()?;
    if as_json {
        return print(&quote_json(&q), true);
    }
    println!("{}", q.image_hash());
    Ok(())
}
