//! The committed `contracts/tests/vectors/vouchers.json` is exactly what this crate generates from
//! the committed `targets.json`, so the contracts' tests replay vouchers this code really makes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cocoon_voucher::vectors::{build, generate, workspace_root, REGENERATE, TARGETS_PATH, VOUCHERS_PATH};
use cocoon_voucher::{SignedVoucher, VoucherKind};

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run `{REGENERATE}`", path.display()))
}

#[test]
fn committed_vouchers_json_is_current() {
    let generated = generate(&read(TARGETS_PATH)).unwrap();
    let committed = read(VOUCHERS_PATH);
    assert!(
        generated == committed,
        "{VOUCHERS_PATH} is stale (targets.json changed, or the voucher layout did); regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn the_cases_say_what_they_claim() {
    let v = build(&read(TARGETS_PATH)).unwrap();
    let names: Vec<_> = v.cases.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "charge_100",
            "charge_250",
            "charge_200_stale",
            "charge_300_other_key",
            "charge_300_tampered",
            "charge_300_other_contract",
            "grant_refund_400",
            "payout_1000",
            "payout_2500",
        ]
    );
    let key = |h: &str| <[u8; 32]>::try_from(hex::decode(h).unwrap()).unwrap();
    let (proxy, other) = (key(&v.proxy_public_key_hex), key(&v.other_public_key_hex));
    for c in &v.cases {
        let held = SignedVoucher::from_base64(&c.held_b64).unwrap();
        let (body, excesses) = SignedVoucher::from_message_body(&STANDARD.decode(&c.body_b64).unwrap()).unwrap();
        assert_eq!(body, held, "{}: body and held carry the same voucher", c.name);
        assert!(excesses.is_some());
        assert_eq!((held.voucher.kind, held.voucher.query_id, held.voucher.tokens), (c.kind, c.query_id, c.tokens));
        assert_eq!(held.voucher.contract, c.contract);
        let by_proxy = held.verify(&proxy).is_ok();
        assert_eq!(by_proxy, !matches!(c.name, "charge_300_other_key" | "charge_300_tampered"), "{}", c.name);
        if c.name == "charge_300_other_key" {
            held.verify(&other).unwrap();
        }
    }
    assert_eq!(v.cases[4].tokens, 3000, "the tampered case carries the forged count");
    assert_eq!(v.cases[6].kind, VoucherKind::GrantRefund);
    assert_eq!(v.cases[7].kind, VoucherKind::WorkerPayout);
}
