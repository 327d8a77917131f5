//! `PccsCollateral` against a local PCCS serving the sample collateral.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cocoon_ratls::EvidenceVerifier;
use cocoon_tdx::{
    fmspc_and_ca, validity, verify_quote, CollateralSource, PccsCollateral, QuoteCollateralV3, TdxError, TdxQuote,
    TdxVerifier,
};
use common::{good, mid, sample_policy};

type Routes = HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>;

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Routes of a PCCS serving `c` for FMSPC B0C06F000000 / platform CA.
fn pccs_routes(c: &QuoteCollateralV3) -> Routes {
    let mut r = Routes::new();
    let chain = |name: &str, pem: &str| vec![(name.to_owned(), percent_encode(pem))];
    r.insert(
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der".into(),
        (200, chain("SGX-PCK-CRL-Issuer-Chain", &c.pck_crl_issuer_chain), c.pck_crl.clone()),
    );
    r.insert(
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard".into(),
        (
            200,
            chain("TCB-Info-Issuer-Chain", &c.tcb_info_issuer_chain),
            format!(r#"{{"tcbInfo":{},"signature":"{}"}}"#, c.tcb_info, hex::encode(&c.tcb_info_signature))
                .into_bytes(),
        ),
    );
    r.insert(
        "/tdx/certification/v4/qe/identity?update=standard".into(),
        (
            200,
            chain("SGX-Enclave-Identity-Issuer-Chain", &c.qe_identity_issuer_chain),
            format!(
                r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
                c.qe_identity,
                hex::encode(&c.qe_identity_signature)
            )
            .into_bytes(),
        ),
    );
    r.insert("/sgx/certification/v4/rootcacrl".into(), (200, vec![], hex::encode(&c.root_ca_crl).into_bytes()));
    r
}

/// Serve `routes` over HTTP/1.1 on localhost; returns the base URL and the
/// log of requested paths.
fn serve(routes: Routes) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
            log2.lock().unwrap().push(path.clone());
            let (status, headers, body) = routes.get(&path).cloned().unwrap_or((404, vec![], b"not found".to_vec()));
            let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, log)
}

fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn fetches_verifiable_collateral_and_caches_it() {
    let (raw, sample) = good();
    assert_eq!(fmspc_and_ca(&raw).unwrap(), ("B0C06F000000".to_owned(), "platform".to_owned()));
    let quote = TdxQuote::parse(&raw).unwrap();
    let now = mid(&sample);
    let (base, log) = serve(pccs_routes(&sample));
    let cache = tempfile::tempdir().unwrap();

    let pccs = PccsCollateral::new(format!("{base}/tdx/certification/v4"), Some(cache.path().to_owned()), TIMEOUT);
    let fetched = pccs.collateral(&quote, now).unwrap();
    assert_eq!(fetched, sample, "the fetched collateral is byte for byte the served one");
    verify_quote(&raw, &fetched, now, &sample_policy()).unwrap();
    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert!(requests.contains(&"/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard".to_owned()));

    // Memory cache: no new request.
    assert_eq!(pccs.collateral(&quote, now + 3600).unwrap(), sample);
    assert_eq!(log.lock().unwrap().len(), 4);

    // Disk cache, keyed by FMSPC and CA, used by a fresh client whose server is gone.
    assert!(cache.path().join("tdx-collateral-B0C06F000000-platform.json").is_file());
    let offline = PccsCollateral::new(dead_url(), Some(cache.path().to_owned()), TIMEOUT);
    assert_eq!(offline.collateral(&quote, now).unwrap(), sample);

    // ... but not once it has expired: then it must fetch, and cannot.
    let (_, end) = validity(&sample).unwrap();
    let err = offline.collateral(&quote, end).unwrap_err();
    assert!(matches!(&err, TdxError::Collateral(m) if m.contains("GET")), "{err}");
}

#[test]
fn pccs_backed_verifier_verifies() {
    let (raw, sample) = good();
    let now = mid(&sample);
    let (base, _) = serve(pccs_routes(&sample));
    let verifier = TdxVerifier::new(Arc::new(PccsCollateral::new(base, None, TIMEOUT)), sample_policy());
    let ev = verifier.verify(&raw, UNIX_EPOCH + Duration::from_secs(now)).unwrap();
    assert_eq!(ev.report_data, TdxQuote::parse(&raw).unwrap().report_data);
    // The real clock is past the sample's collateral: the same server's
    // collateral cannot verify now.
    assert!(verifier.verify(&raw, SystemTime::now()).is_err());
}

#[test]
fn http_errors_and_bad_bodies_are_reported() {
    let (raw, sample) = good();
    let quote = TdxQuote::parse(&raw).unwrap();
    let now = mid(&sample);

    let (base, _) = serve(Routes::new());
    let err = PccsCollateral::new(base, None, TIMEOUT).collateral(&quote, now).unwrap_err();
    assert!(matches!(&err, TdxError::Collateral(m) if m.contains("HTTP 404") && m.contains("pckcrl")), "{err}");

    let mut routes = pccs_routes(&sample);
    routes.get_mut("/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard").unwrap().2 = b"{}".to_vec();
    let (base, _) = serve(routes);
    let err = PccsCollateral::new(base, None, TIMEOUT).collateral(&quote, now).unwrap_err();
    assert!(matches!(&err, TdxError::Collateral(m) if m.contains("not a TCB info response")), "{err}");

    let mut routes = pccs_routes(&sample);
    routes.get_mut("/sgx/certification/v4/pckcrl?ca=platform&encoding=der").unwrap().1.clear();
    let (base, _) = serve(routes);
    let err = PccsCollateral::new(base, None, TIMEOUT).collateral(&quote, now).unwrap_err();
    assert!(matches!(&err, TdxError::Collateral(m) if m.contains("SGX-PCK-CRL-Issuer-Chain")), "{err}");
}

#[test]
fn tampered_served_collateral_does_not_verify() {
    // The server is not trusted: a modified TCB info fails its signature.
    let (raw, sample) = good();
    let now = mid(&sample);
    let mut evil = sample.clone();
    // Same JSON meaning, other bytes: only the signature can tell.
    evil.tcb_info = evil.tcb_info.replacen('{', "{ ", 1);
    assert_ne!(evil.tcb_info, sample.tcb_info);
    let (base, _) = serve(pccs_routes(&evil));
    let fetched = PccsCollateral::new(base, None, TIMEOUT).collateral(&TdxQuote::parse(&raw).unwrap(), now).unwrap();
    let err = verify_quote(&raw, &fetched, now, &sample_policy()).unwrap_err();
    assert!(matches!(&err, TdxError::Verify(m) if m.contains("Signature is invalid for tcb_info")), "{err}");
}
