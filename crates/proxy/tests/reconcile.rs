//! One client's broken state never stops the proxy from restarting: reconcile quarantines
//! the account it cannot repair and serves everybody else.

use cocoon_proxy::config::PaymentsConfig;
use cocoon_proxy::payments::Payments;
use ed25519_dalek::SigningKey;

#[test]
fn a_deposit_that_raced_a_close_quarantines_one_account_not_the_proxy() {
    let dir = std::env::temp_dir().join(format!("cocoon-reconcile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = PaymentsConfig::new(dir.clone());
    let key = SigningKey::from_bytes(&[7; 32]);
    let (racer, other) = ([1u8; 32], [2u8; 32]);
    {
        let p = Payments::open(&cfg, key.clone()).expect("first start");
        p.deposit(&racer, 1_000_000_000).unwrap();
        p.deposit(&other, 1_000_000_000).unwrap();
        // The race: a deposit reached settlement, then the close reached the ledger before
        // the deposit did (the proxy crashed before settlement heard of the close).
        p.settlement.deposit(&racer, 500).unwrap();
        p.ledger.close(&racer, 1).unwrap();
    }
    let p = Payments::open(&cfg, key).expect("the proxy starts despite one broken account");
    let quarantined = p.quarantine.list();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].0, hex::encode(racer));
    assert!(quarantined[0].1.contains("could not be credited"), "{quarantined:?}");
    assert_eq!(p.snapshot()["quarantined"][0]["client"], hex::encode(racer));
    // The quarantined client is refused; the other one is served.
    let e = p.deposit(&racer, 10).unwrap_err();
    assert_eq!(e.code, "account_quarantined");
    assert_eq!(p.deposit(&other, 10).unwrap().available, 900_000_010);
    let _ = std::fs::remove_dir_all(&dir);
}
