//! Serialization formats other crates and config files depend on.

use std::collections::BTreeMap;
use std::time::SystemTime;

use cocoon_ratls::{report_data, Claims, ImageHash, Measurements, PolicyConfig, PolicyKind, RaTlsError, Role, TeeType};
use sha2::{Digest, Sha256, Sha512};

#[test]
fn image_hash_is_sha256_of_registers() {
    let m = Measurements::dev_default();
    let mut h = Sha256::new();
    h.update(m.mrtd);
    for r in &m.rtmr {
        h.update(r);
    }
    let expected: [u8; 32] = h.finalize().into();
    assert_eq!(m.image_hash().0, expected);
    assert_eq!(m, Measurements::dev_default(), "dev_default is deterministic");
    let mut other = m.clone();
    other.rtmr[3][47] ^= 1;
    assert_ne!(other.image_hash(), m.image_hash());
}

#[test]
fn image_hash_hex_roundtrip() {
    let h = Measurements::dev_default().image_hash();
    let s = h.to_string();
    assert_eq!(s.len(), 64);
    assert_eq!(s, s.to_lowercase());
    assert_eq!(s.parse::<ImageHash>().unwrap(), h);
    assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{s}\""));
    assert!("abcd".parse::<ImageHash>().is_err());
    assert!("zz".repeat(32).parse::<ImageHash>().is_err());
}

#[test]
fn measurements_serde_as_hex() {
    let m = Measurements::dev_default();
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["mrtd"], hex::encode(m.mrtd));
    assert_eq!(v["rtmr"][2], hex::encode(m.rtmr[2]));
    let back: Measurements = serde_json::from_value(v).unwrap();
    assert_eq!(back, m);
    let bad = serde_json::json!({"mrtd": "00", "rtmr": ["00", "00", "00", "00"]});
    assert!(serde_json::from_value::<Measurements>(bad).is_err());
}

#[test]
fn claims_encoding_is_fixed_and_roundtrips() {
    let mut extra = BTreeMap::new();
    extra.insert("b".to_owned(), "2".to_owned());
    extra.insert("a".to_owned(), "1".to_owned());
    let c = Claims::new(Role::Proxy, [7u8; 32], extra);
    let bytes = c.encode();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "{{\"version\":1,\"role\":\"proxy\",\"public_key\":\"{}\",\"extra\":{{\"a\":\"1\",\"b\":\"2\"}}}}",
            hex::encode([7u8; 32])
        )
    );
    assert_eq!(Claims::decode(&bytes).unwrap(), c);
    let rd = report_data(&bytes);
    assert_eq!(rd.to_vec(), Sha512::digest(&bytes).to_vec());

    assert!(matches!(Claims::decode(b"nope"), Err(RaTlsError::MalformedClaims(_))));
    let v2 = text.replace("\"version\":1", "\"version\":2");
    assert!(matches!(Claims::decode(v2.as_bytes()), Err(RaTlsError::UnsupportedClaimsVersion(2))));
}

#[test]
fn policy_config_from_toml_and_json() {
    let h = Measurements::dev_default().image_hash();
    let cfg: PolicyConfig = toml_like(&format!(r#"{{"kind":"dev","image_hashes":["{h}"],"expected_role":"worker"}}"#));
    assert_eq!(cfg.kind, PolicyKind::Dev);
    assert_eq!(cfg.image_hashes, vec![h]);
    assert_eq!(cfg.expected_role, Some(Role::Worker));

    let min: PolicyConfig = toml_like(r#"{"kind":"any"}"#);
    assert_eq!(min, PolicyConfig::new(PolicyKind::Any));

    assert!(serde_json::from_str::<PolicyConfig>(r#"{"kind":"any","extra":1}"#).is_err());
    assert_eq!(toml_like(r#"{"kind":"tdx"}"#), PolicyConfig::new(PolicyKind::Tdx));
    assert!(serde_json::from_str::<PolicyConfig>(r#"{"kind":"sgx"}"#).is_err());
}

fn toml_like(json: &str) -> PolicyConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn enums_display_lowercase() {
    assert_eq!(Role::Worker.to_string(), "worker");
    assert_eq!(serde_json::to_string(&Role::Client).unwrap(), "\"client\"");
    assert_eq!("proxy".parse::<Role>().unwrap(), Role::Proxy);
    assert_eq!(TeeType::Tdx.to_string(), "tdx");
    assert_eq!(serde_json::to_string(&TeeType::Dev).unwrap(), "\"dev\"");
    assert_eq!(PolicyKind::Dev.to_string(), "dev");
    let _ = SystemTime::now();
}
