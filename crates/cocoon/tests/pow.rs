//! Proof of work before TLS, over real sockets against a real proxy: a dialer that sends a
//! made-up nonce never reaches TLS and is counted as refused; a client whose maximum is below
//! the proxy's difficulty refuses to dial it and says why; one that pays gets through.

mod common;

use cocoon_transport::pow::{Challenge, CHALLENGE_LEN, MAGIC};
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn s(x: impl ToString) -> String {
    x.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dialer_must_solve_the_proxys_challenge_before_tls_and_may_refuse_a_greedy_proxy() {
    let mut procs = Procs::new("pow");
    let [c, w, st, api] = free_ports(4)[..] else { unreachable!() };
    let cfg = procs.dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!("client_listen = \"127.0.0.1:{c}\"\nworker_listen = \"127.0.0.1:{w}\"\nstats_listen = \"127.0.0.1:{st}\"\npow_difficulty = 12\n"),
    )
    .unwrap();
    procs.spawn("proxy", &[s("proxy"), s("--config"), cfg.display().to_string()]);
    let stats = format!("http://127.0.0.1:{st}/stats");
    wait_for(&stats, 30, |_| true).await;

    // A flooder: reads the challenge, sends a made-up nonce, gets no TLS byte, only a close.
    for _ in 0..3 {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", c)).await.unwrap();
        let mut ch = [0u8; CHALLENGE_LEN];
        tcp.read_exact(&mut ch).await.unwrap();
        assert_eq!(ch[..8], MAGIC);
        let challenge = Challenge::decode(&ch).unwrap();
        assert_eq!(challenge.difficulty, 12);
        let wrong = (0..u64::MAX).find(|n| !challenge.verify(*n)).unwrap();
        tcp.write_all(&wrong.to_le_bytes()).await.unwrap();
        // Something that looks like a TLS ClientHello right after: never answered.
        let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]).await;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed without a byte: {read:?} {rest:?}");
    }
    let v = wait_for(&stats, 10, |v| v["counters"]["handshakes_refused"].as_u64() >= Some(3)).await;
    assert!(v["counters"]["last_refusal"].as_str().unwrap().contains("wrong proof-of-work nonce"), "{v}");

    // A client that will not pay 12 bits says so and is never linked.
    procs.spawn(
        "payer",
        &[s("client"), s("--listen"), format!("127.0.0.1:{api}"), s("--proxy"), format!("127.0.0.1:{c}")],
    );
    let ccfg = procs.dir.join("stingy.toml");
    let api2 = free_ports(1)[0];
    std::fs::write(
        &ccfg,
        format!("listen = \"127.0.0.1:{api2}\"\nproxies = [\"127.0.0.1:{c}\"]\nmax_pow_difficulty = 8\n\n[attestation]\nmode = \"none\"\n\n[proxy_policy]\nkind = \"dev\"\n"),
    )
    .unwrap();
    procs.spawn("stingy", &[s("client"), s("--config"), ccfg.display().to_string()]);
    let stingy = wait_for(&format!("http://127.0.0.1:{api2}/stats"), 30, |v| {
        v["proxies"][0]["last_error"].as_str().is_some_and(|e| e.contains("proof of work"))
    })
    .await;
    let err = stingy["proxies"][0]["last_error"].as_str().unwrap();
    assert!(err.contains("12 bits") && err.contains("maximum is 8"), "{err}");
    assert_eq!(stingy["proxies"][0]["connected"], false);
    // The one that pays (default maximum 26) is linked.
    let payer = wait_for(&format!("http://127.0.0.1:{api}/health"), 30, |v| v["proxies_connected"] == 1).await;
    assert_eq!(payer["proxies_connected"], 1);
}
