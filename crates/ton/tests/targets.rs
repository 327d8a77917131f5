//! The addresses, bodies and the signed wallet transfer cocoon-ton computes equal what the
//! TypeScript wrappers compute (tests/data/addresses.json, written by
//! contracts/tests/ton-rs-targets.ts).

use cocoon_ton::address::{self, AddressFlags};
use cocoon_ton::contracts::{messages, Codes, Params, RootConfig};
use cocoon_ton::tycho_types::boc::Boc;
use cocoon_ton::wallet::{Transfer, WalletV4, SEND_MODE_DEFAULT};
use cocoon_ton::{
    address_of, client_state_init, proxy_state_init, root_state_init, worker_state_init, Cell, HashBytes, StdAddr,
};
use ed25519_dalek::SigningKey;
use serde_json::Value;

/// What to do when a comparison fails after a contract change.
const REGEN: &str = "if the contracts changed, regenerate: `npx tsx tests/ton-rs-targets.ts > ../crates/ton/tests/data/addresses.json` in contracts/";

fn targets() -> Value {
    serde_json::from_str(include_str!("data/addresses.json")).expect("addresses.json is JSON")
}

fn s<'a>(t: &'a Value, k: &str) -> &'a str {
    t[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

fn addr(t: &Value, k: &str) -> StdAddr {
    address::parse_std(s(t, k)).unwrap()
}

fn boc(b64: &str) -> Cell {
    Boc::decode_base64(b64).unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

fn byte_hash(b: u8) -> HashBytes {
    let mut h = [0u8; 32];
    h[31] = b;
    HashBytes(h)
}

#[test]
fn contract_addresses_equal_the_wrappers() {
    let t = targets();
    let codes = Codes::embedded().unwrap();
    let params = Params::default();
    let public_key = HashBytes(key().verifying_key().to_bytes());
    assert_eq!(hex::encode(public_key.as_array()), s(&t, "public_key_hex"));

    let cfg = RootConfig {
        owner: addr(&t, "root_owner"),
        params: params.clone(),
        proxy_image_hashes: vec![],
        worker_image_hashes: vec![],
        model_hashes: vec![],
    };
    let root = address_of(&root_state_init(&cfg, codes).unwrap(), 0).unwrap();
    assert_eq!(address::raw(&root), s(&t, "root"), "{REGEN}");

    let mut top = [0u8; 32];
    top[0] = 0x80;
    let with_lists = RootConfig {
        params: Params { unique_id: 7, is_test: false, ..params.clone() },
        proxy_image_hashes: vec![byte_hash(0xaa)],
        worker_image_hashes: vec![byte_hash(0xbb), byte_hash(0xcc)],
        model_hashes: vec![HashBytes(top)],
        ..cfg.clone()
    };
    let root2 = address_of(&root_state_init(&with_lists, codes).unwrap(), 0).unwrap();
    assert_eq!(address::raw(&root2), s(&t, "root_with_lists"), "{REGEN}");

    let seqno = t["proxy_seqno"].as_u64().unwrap() as u32;
    let proxy =
        address_of(&proxy_state_init(codes, &root, &params, &addr(&t, "proxy_owner"), &public_key, seqno).unwrap(), 0)
            .unwrap();
    assert_eq!(address::raw(&proxy), s(&t, "proxy"), "{REGEN}");
    let client =
        address_of(&client_state_init(codes, &params, &addr(&t, "client_owner"), &proxy, &public_key).unwrap(), 0)
            .unwrap();
    assert_eq!(address::raw(&client), s(&t, "client"), "{REGEN}");
    let worker =
        address_of(&worker_state_init(codes, &params, &addr(&t, "worker_owner"), &proxy, &public_key).unwrap(), 0)
            .unwrap();
    assert_eq!(address::raw(&worker), s(&t, "worker"), "{REGEN}");
}

#[test]
fn wallet_v4r2_equals_ton_ton() {
    let t = targets();
    let w = WalletV4::new(key(), 0).unwrap();
    assert_eq!(address::raw(w.address()), s(&t, "wallet_v4r2"));
    assert_eq!(address::friendly_url(w.address(), false), s(&t, "wallet_v4r2_friendly"));
    let testnet = AddressFlags { bounceable: true, testnet: true, url_safe: true };
    assert_eq!(address::friendly(w.address(), testnet), s(&t, "wallet_v4r2_friendly_testnet"));

    // The same signed transfer as @ton/ton's createTransfer (Ed25519 is deterministic).
    let codes = Codes::embedded().unwrap();
    let public_key = HashBytes(key().verifying_key().to_bytes());
    let params = Params::default();
    let cfg = RootConfig {
        owner: addr(&t, "root_owner"),
        params: params.clone(),
        proxy_image_hashes: vec![],
        worker_image_hashes: vec![],
        model_hashes: vec![],
    };
    let root = address_of(&root_state_init(&cfg, codes).unwrap(), 0).unwrap();
    let proxy =
        address_of(&proxy_state_init(codes, &root, &params, &addr(&t, "proxy_owner"), &public_key, 1).unwrap(), 0)
            .unwrap();
    let init = client_state_init(codes, &params, w.address(), &proxy, &public_key).unwrap();
    let client = address_of(&init, 0).unwrap();
    assert_eq!(address::raw(&client), s(&t, "wallet_client"), "{REGEN}");
    let transfer =
        Transfer::new(client, 1_000_000_000).with_state_init(init).with_body(messages::client_top_up(5).unwrap());
    let body = w.signed_body(0, 1_700_000_000, SEND_MODE_DEFAULT, &[transfer]).unwrap();
    let expected = boc(s(&t, "wallet_transfer_body"));
    assert_eq!(body.repr_hash(), expected.repr_hash(), "signed v4r2 body differs from @ton/ton's; {REGEN}");
}

#[test]
fn bodies_equal_the_wrappers() {
    let t = targets();
    let b = &t["bodies"];
    let public_key = HashBytes(key().verifying_key().to_bytes());
    let mut session = [0u8; 32];
    session[6] = 1; // 1 << 200
    session[31] = 5;
    let cases: Vec<(&str, Cell)> = vec![
        ("client_top_up", messages::client_top_up(5).unwrap()),
        ("client_increase_stake", messages::client_increase_stake(6).unwrap()),
        ("client_withdraw", messages::client_withdraw(1_234_567_890, 7).unwrap()),
        ("client_request_refund", messages::client_request_refund(8).unwrap()),
        ("client_force_refund", messages::client_force_refund(9).unwrap()),
        ("proxy_increase_stake", messages::proxy_increase_stake(10).unwrap()),
        ("proxy_withdraw_commission", messages::proxy_withdraw_commission(555, 11).unwrap()),
        ("proxy_save_state", messages::proxy_save_state(3, &HashBytes(session), 12).unwrap()),
        ("proxy_start_close", messages::proxy_start_close(13).unwrap()),
        ("proxy_finish_close", messages::proxy_finish_close(14).unwrap()),
        (
            "register_proxy",
            messages::register_proxy(
                &public_key,
                10_000_000_000,
                "127.0.0.1:8888",
                "proxy.example:8889",
                Some("http://proxy.example:8803"),
                15,
            )
            .unwrap(),
        ),
    ];
    for (name, cell) in cases {
        let expected = boc(b[name].as_str().unwrap_or_else(|| panic!("body {name} missing")));
        assert_eq!(cell.repr_hash(), expected.repr_hash(), "body {name} differs from the wrapper's; {REGEN}");
    }
}

#[test]
fn snake_strings_round_trip() {
    for len in [0usize, 1, 126, 127, 128, 254, 300] {
        let text: String = "x".repeat(len);
        let cell = messages::snake_string(&text).unwrap();
        assert_eq!(cocoon_ton::contracts::getters::load_snake_string(&cell).unwrap(), text);
    }
}
