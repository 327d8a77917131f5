//! `cocoon up`: one command starts a whole network; Ctrl-C stops all of it.

mod common;

use common::*;
use std::{process::Stdio, time::Duration};

#[tokio::test(flavor = "multi_thread")]
async fn up_starts_a_network_writes_network_json_and_stops_on_ctrl_c() {
    let dir = temp_dir("up");
    let port = free_ports(1)[0];
    let mut up = tokio::process::Command::new(BIN)
        .args(["up", "--workers", "2", "--client-port", &port.to_string(), "--data-dir", &dir.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let net_json = dir.join("network.json");
    for _ in 0..600 {
        if net_json.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&net_json).expect("network.json")).unwrap();
    let api = info["client"]["api"].as_str().unwrap();
    assert_eq!(api, format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(info["workers"].as_array().unwrap().len(), 2);
    assert_eq!(info["proxies"].as_array().unwrap().len(), 1);
    let mut pids = vec![info["client"]["pid"].as_u64().unwrap()];
    for role in ["proxies", "workers"] {
        for r in info[role].as_array().unwrap() {
            pids.push(r["pid"].as_u64().unwrap());
            let (status, stats) = get_json(r["stats"].as_str().unwrap()).await;
            assert_eq!(status, 200, "{stats}");
        }
    }
    let (status, body) = post(&format!("{api}/chat/completions"), chat_body(false, r#""max_tokens":3"#)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // Ctrl-C.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(up.id().unwrap() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), up.wait()).await.expect("up stops").unwrap();
    assert!(status.success(), "{status}");
    for pid in pids {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        assert!(!alive, "child {pid} still running after up stopped");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_on_a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = temp_dir("up-busy");
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(BIN)
            .args(["up", "--client-port", &port.to_string(), "--data-dir", &dir.display().to_string()])
            .output(),
    )
    .await
    .expect("fails fast, no hang")
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use") && err.contains("--client-port"), "{err}");
}
