//! `cocoon devnet`: a local TON chain behind toncenter's HTTP API v2. It answers, has the
//! root deployed, pays from its faucet, keeps its state across a restart, and refuses a port
//! that is in use. Skipped (with the reason printed) where Node.js or contracts/node_modules
//! is missing.

mod common;

use common::*;
use serde_json::Value;
use std::{
    path::Path,
    process::{ExitStatus, Stdio},
    time::Duration,
};
use tokio::process::{Child, Command};

fn devnet(port: u16, data_dir: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(BIN)
        .args(["devnet", "--port", &port.to_string(), "--data-dir", &data_dir.display().to_string()])
        .arg("--contracts-dir")
        .arg(contracts())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn cocoon devnet")
}

/// Ctrl-C (SIGINT) and the exit status, within 30 s.
async fn interrupt(child: &mut Child) -> ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("stops within 30 s").expect("wait")
}

/// Waits until the API answers and `cocoon devnet` has printed its banner to `log`.
async fn ready(base: &str, log: &Path) -> Value {
    let mc = wait_for(&format!("{base}/api/v2/getMasterchainInfo"), 120, |v| v["ok"] == true).await;
    for _ in 0..300 {
        if std::fs::read_to_string(log).unwrap_or_default().contains("devnet ready") {
            return mc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no banner from cocoon devnet:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

async fn balance(base: &str, address: &str) -> String {
    let (status, v) = get_json(&format!("{base}/api/v2/getAddressBalance?address={address}")).await;
    assert_eq!(status, 200, "{v}");
    v["result"].as_str().expect("balance string").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn devnet_serves_the_ton_api_pays_from_its_faucet_survives_a_restart_and_refuses_a_busy_port() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping the devnet test: {why}");
        return;
    }
    let dir = temp_dir("devnet");
    let data = dir.join("chain");
    let port = free_ports(1)[0];
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.join("devnet.log");
    let mut dn = devnet(port, &data, &log);
    let mc = ready(&base, &log).await;
    assert_eq!(mc["result"]["@type"], "blocks.masterchainInfo", "{mc}");
    assert_eq!(mc["result"]["init"]["seqno"], 0, "{mc}");

    // The root contract, deployed at first start, answers its getter.
    let (_, info) = get_json(&format!("{base}/devnet/info")).await;
    let info = info["result"].clone();
    let root = info["root"]["address"].as_str().map(str::to_string);
    match &root {
        Some(root) => {
            let (status, acc) = get_json(&format!("{base}/api/v2/getAddressInformation?address={root}")).await;
            assert_eq!(status, 200, "{acc}");
            assert_eq!(acc["result"]["state"], "active", "{acc}");
            let (status, r) = post_json(
                &format!("{base}/api/v2/runGetMethod"),
                &format!(r#"{{"address":"{root}","method":"get_root_data","stack":[]}}"#),
            )
            .await;
            assert_eq!(status, 200, "{r}");
            assert_eq!(r["result"]["exit_code"], 0, "{r}");
            assert!(!r["result"]["stack"].as_array().expect("stack").is_empty(), "{r}");
        }
        None => eprintln!("note: no root deployed (contracts/wrappers/root.ts missing): root checks skipped"),
    }

    // The faucet pays real devnet coins, and says they are worthless.
    let who = format!("0:{}", "5a".repeat(32));
    let (status, paid) =
        post_json(&format!("{base}/devnet/faucet"), &format!(r#"{{"address":"{who}","amount":"5000000000"}}"#)).await;
    assert_eq!(status, 200, "{paid}");
    assert!(paid["result"]["devnet"].as_str().unwrap_or("").contains("DEVNET"), "{paid}");
    assert_eq!(balance(&base, &who).await, "5000000000");
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(printed.contains("DEVNET: local emulator, not a real chain, coins are worthless"), "{printed}");
    if let Some(root) = &root {
        assert!(printed.contains(root.as_str()), "the root address is printed:\n{printed}");
    }

    // A second devnet on the same port fails at once, clearly.
    let clash_log = dir.join("clash.log");
    let mut clash = devnet(port, &dir.join("other"), &clash_log);
    let status = tokio::time::timeout(Duration::from_secs(60), clash.wait()).await.expect("fails fast").expect("wait");
    assert!(!status.success());
    let said = std::fs::read_to_string(&clash_log).unwrap_or_default();
    assert!(said.contains(&format!("port {port}")) && said.contains("in use"), "{said}");

    // Ctrl-C stops it cleanly; a restart finds the same chain.
    let seqno = get_json(&format!("{base}/api/v2/getMasterchainInfo")).await.1["result"]["last"]["seqno"].clone();
    assert!(interrupt(&mut dn).await.success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    let log2 = dir.join("devnet2.log");
    let mut dn = devnet(port, &data, &log2);
    let mc = ready(&base, &log2).await;
    assert_eq!(mc["result"]["last"]["seqno"], seqno, "{mc}");
    assert_eq!(balance(&base, &who).await, "5000000000", "the balance survived the restart");
    let (_, info2) = get_json(&format!("{base}/devnet/info")).await;
    assert_eq!(info2["result"]["root"]["address"].as_str().map(str::to_string), root, "same root after restart");
    assert!(interrupt(&mut dn).await.success(), "{}", std::fs::read_to_string(&log2).unwrap_or_default());
}
