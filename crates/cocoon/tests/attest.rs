//! `cocoon attest` on real, Intel-signed TDX sample quotes (dcap-qvl's, MIT; see
//! crates/tdx/tests/data/README.md), as an operator would run it.

use std::{path::PathBuf, process::Command};

const BIN: &str = env!("CARGO_BIN_EXE_cocoon");
/// Inside the sample collateral's validity window (2025-06-19 .. 2025-07-19).
const NOW: &str = "1751000000";
const MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const IMAGE: &str = "8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545";

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tdx/tests/data").join(name).display().to_string()
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).env("RUST_BACKTRACE", "0").output().expect("run cocoon");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Runs with --json and parses stdout (logs go to stderr).
fn run_json(args: &[&str]) -> (bool, serde_json::Value) {
    let out = Command::new(BIN).args(args).env("RUST_BACKTRACE", "0").output().expect("run cocoon");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.success(), v)
}

fn verify(quote: &str, extra: &[&str]) -> (bool, String) {
    let collateral = data("tdx_quote_collateral.json");
    let mut args = vec!["attest", "verify", quote, "--collateral", &collateral, "--cloud"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_good_quote_verifies_and_shows_its_measurements() {
    let (ok, out) = verify(&data("tdx_quote"), &["--now", NOW, "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["mrtd"], MRTD);
    assert_eq!(v["image_hash"], IMAGE);
    assert_eq!(v["tcb_status"], "UpToDate");
    assert_eq!(v["rtmr"].as_array().map(Vec::len), Some(4));
}

#[test]
fn a_flipped_bit_fails_with_a_reason_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut quote = std::fs::read(data("tdx_quote")).unwrap();
    quote[700] ^= 0x10;
    let path = dir.path().join("flipped");
    std::fs::write(&path, quote).unwrap();
    let (ok, out) = verify(path.to_str().unwrap(), &["--now", NOW]);
    assert!(!ok);
    assert!(out.contains("does NOT verify"), "{out}");
}

#[test]
fn time_outside_the_collateral_window_fails() {
    for now in ["1700000000", "1800000000"] {
        let (ok, out) = verify(&data("tdx_quote"), &["--now", now]);
        assert!(!ok, "{now}: {out}");
        assert!(out.contains("collateral valid from 1750329147 to 1752919235"), "{out}");
    }
}

#[test]
fn an_image_hash_outside_the_allowlist_fails() {
    let other = "00".repeat(32);
    let (ok, out) = verify(&data("tdx_quote"), &["--now", NOW, "--image-hash", &other]);
    assert!(!ok);
    assert!(out.contains("not in the allowlist"), "{out}");
    let (ok, out) = verify(&data("tdx_quote"), &["--now", NOW, "--image-hash", &other, "--image-hash", IMAGE]);
    assert!(ok, "{out}");
}

#[test]
fn the_strict_default_policy_refuses_a_cloud_host() {
    let collateral = data("tdx_quote_collateral.json");
    let (ok, out) = run(&["attest", "verify", &data("tdx_quote"), "--collateral", &collateral, "--now", NOW]);
    assert!(!ok);
    assert!(out.contains("Dynamic platform is not allowed"), "{out}");
}

#[test]
fn show_reads_a_quote_without_collateral() {
    let (ok, out) = run(&["attest", "show", &data("tdx_quote")]);
    assert!(ok, "{out}");
    assert!(out.contains(MRTD) && out.contains(IMAGE), "{out}");
    assert!(out.contains("not checked"), "{out}");
}

#[test]
fn image_hash_outside_a_tdx_guest_says_what_is_missing() {
    let (ok, out) = run(&["attest", "image-hash"]);
    assert!(!ok);
    assert!(out.contains("configfs-tsm") || out.contains("/sys/kernel/config/tsm/report"), "{out}");
}

#[test]
fn a_node_asked_for_tdx_attestation_without_tdx_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("worker.toml");
    std::fs::write(
        &cfg,
        "proxies = [\"127.0.0.1:1\"]\nmodel = \"m\"\nbackend = \"http://127.0.0.1:1\"\nstats_listen = \"127.0.0.1:0\"\n\n[attestation]\nmode = \"tdx\"\n",
    )
    .unwrap();
    let (ok, out) = run(&["worker", "--config", cfg.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("/sys/kernel/config/tsm/report"), "it says what is missing: {out}");
}

#[test]
fn show_reads_a_certificate_and_says_whether_its_quote_is_bound_to_it() {
    use cocoon_ratls::{issue_certificate, Claims, DevAttester, Identity, IdentityConfig, Measurements, Role};
    let dir = tempfile::tempdir().unwrap();
    // A dev identity: its quote is bound to its key.
    let id = Identity::new(
        IdentityConfig::new(Role::Worker)
            .with_attester(std::sync::Arc::new(DevAttester::new(Measurements::dev_default()))),
    )
    .unwrap();
    let dev = dir.path().join("dev.der");
    std::fs::write(&dev, id.cert_der()).unwrap();
    let (ok, v) = run_json(&["attest", "show", dev.to_str().unwrap(), "--json"]);
    assert!(ok, "{v}");
    assert_eq!(v["public_key"], id.public_key_hex());
    assert_eq!(v["bound_to_key"], true);
    assert!(v["evidence"]["tee"].as_str().unwrap().contains("NOT secure"));

    // A certificate around the Intel sample quote: genuine quote, someone else's key.
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pk: [u8; 32] = kp.public_key_raw().try_into().unwrap();
    let claims = Claims::new(Role::Worker, pk, Default::default()).encode();
    let ev =
        cocoon_ratls::Evidence { tee: cocoon_ratls::TeeType::Tdx, quote: std::fs::read(data("tdx_quote")).unwrap() };
    let now = std::time::SystemTime::now();
    let der = issue_certificate(&kp.serialize_pem(), &claims, Some(&ev), now, now + std::time::Duration::from_secs(60))
        .unwrap();
    let tdx = dir.path().join("tdx.der");
    std::fs::write(&tdx, der).unwrap();
    let collateral = data("tdx_quote_collateral.json");
    let (ok, v) = run_json(&[
        "attest",
        "show",
        tdx.to_str().unwrap(),
        "--collateral",
        &collateral,
        "--now",
        NOW,
        "--cloud",
        "--json",
    ]);
    assert!(ok, "{v}");
    assert_eq!(v["evidence"]["tcb_status"], "UpToDate");
    assert_eq!(v["evidence"]["mrtd"], MRTD);
    assert_eq!(v["bound_to_key"], false, "the sample quote was made for another key");
}
