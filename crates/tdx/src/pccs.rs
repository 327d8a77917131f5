//! Collateral fetched from Intel PCS or a PCCS, cached until it expires.
//!
//! Live verification needs current collateral for the peer's platform. This
//! mirrors what dcap-qvl's `collateral` module does under its `report`
//! feature (which would pull in reqwest and tokio), with a small blocking
//! `ureq` client instead:
//!
//! * the FMSPC and the PCK CA type (`processor`/`platform`) come from the PCK
//!   certificate embedded in the quote (certification data type 5, what TDX
//!   guests produce);
//! * `GET {base}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der` (issuer
//!   chain in `SGX-PCK-CRL-Issuer-Chain`),
//!   `{base}/tdx/certification/v4/tcb?fmspc={fmspc}&update=standard` (chain
//!   in `TCB-Info-Issuer-Chain`), `{base}/tdx/certification/v4/qe/identity?update=standard`
//!   (chain in `SGX-Enclave-Identity-Issuer-Chain`), and the root CA CRL
//!   from a PCCS's `rootcacrl` (hex) or the root certificate's CRL
//!   distribution point (Intel PCS).
//!
//! The result depends only on FMSPC and CA type, so it is cached in memory
//! and, optionally, as JSON on disk under `cache_dir` keyed by both, and
//! reused until the end of its [`validity`] window. Nothing fetched is
//! trusted: verification checks it all against dcap-qvl's pinned Intel root,
//! so neither the server nor the cache directory can forge collateral.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use dcap_qvl::quote::Quote;
use dcap_qvl::QuoteCollateralV3;
use serde::Deserialize;
use serde_json::value::RawValue;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::pem::Pem;

use crate::collateral::{validity, CollateralSource};
use crate::error::TdxError;
use crate::quote::TdxQuote;

/// Intel's Provisioning Certification Service.
pub const INTEL_PCS_URL: &str = "https://api.trustedservices.intel.com";

/// Default timeout of one collateral fetch (all requests together).
pub const DEFAULT_PCCS_TIMEOUT: Duration = Duration::from_secs(30);

/// Collateral from an Intel PCS-compatible server or a PCCS.
///
/// [`CollateralSource::collateral`] blocks for up to `timeout` when neither
/// cache has valid collateral for the quote's platform; concurrent misses
/// wait for one fetch instead of each fetching.
pub struct PccsCollateral {
    base_url: String,
    cache_dir: Option<PathBuf>,
    agent: ureq::Agent,
    memory: Mutex<HashMap<(String, String), (QuoteCollateralV3, u64)>>,
    fetch_lock: Mutex<()>,
}

impl std::fmt::Debug for PccsCollateral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PccsCollateral").field("base_url", &self.base_url).field("cache_dir", &self.cache_dir).finish()
    }
}

#[derive(Deserialize)]
struct TcbInfoResponse<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityResponse<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

struct Fetched {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    /// A header's value, percent-decoded (PCS URL-encodes PEM chains).
    fn header(&self, url: &str, names: &[&str]) -> Result<String, TdxError> {
        let (name, raw) = names
            .iter()
            .find_map(|n| self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)))
            .ok_or_else(|| TdxError::Collateral(format!("{url}: response lacks header {}", names.join(" / "))))?;
        percent_decode(raw).map_err(|e| TdxError::Collateral(format!("{url}: header {name}: {e}")))
    }
}

impl PccsCollateral {
    /// A client of the PCS/PCCS at `base_url` (e.g. [`INTEL_PCS_URL`] or
    /// `https://pccs.example:8081`; a trailing `/sgx|tdx/certification/v4`
    /// is accepted). TLS uses the webpki root store; a PCCS with a private
    /// certificate is not reachable over https. `cache_dir`, if given, is
    /// created when first written.
    pub fn new(base_url: impl Into<String>, cache_dir: Option<PathBuf>, timeout: Duration) -> Self {
        let base_url = base_url.into();
        let base_url = base_url
            .trim_end_matches('/')
            .trim_end_matches("/sgx/certification/v4")
            .trim_end_matches("/tdx/certification/v4")
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent("cocoon-tdx")
            .build()
            .new_agent();
        PccsCollateral { base_url, cache_dir, agent, memory: Mutex::new(HashMap::new()), fetch_lock: Mutex::new(()) }
    }

    /// The normalized base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Fetch collateral for platform `fmspc` (12 hex digits) and PCK CA
    /// `ca` (`processor` or `platform`), bypassing the caches.
    pub fn fetch(&self, fmspc: &str, ca: &str) -> Result<QuoteCollateralV3, TdxError> {
        let v4 = |tee: &str, path: &str| format!("{}/{tee}/certification/v4/{path}", self.base_url);

        let url = v4("sgx", &format!("pckcrl?ca={ca}&encoding=der"));
        let r = self.get(&url)?;
        let pck_crl_issuer_chain = r.header(&url, &["SGX-PCK-CRL-Issuer-Chain"])?;
        let pck_crl = r.body;

        let url = v4("tdx", &format!("tcb?fmspc={fmspc}&update=standard"));
        let r = self.get(&url)?;
        let tcb_info_issuer_chain = r.header(&url, &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"])?;
        let resp: TcbInfoResponse = serde_json::from_slice(&r.body)
            .map_err(|e| TdxError::Collateral(format!("{url}: not a TCB info response: {e}")))?;
        // The signature covers the exact bytes of the tcbInfo object, so it
        // is kept verbatim rather than re-serialized.
        let tcb_info = resp.tcb_info.get().to_owned();
        let tcb_info_signature = hex::decode(&resp.signature)
            .map_err(|e| TdxError::Collateral(format!("{url}: TCB info signature is not hex: {e}")))?;

        let url = v4("tdx", "qe/identity?update=standard");
        let r = self.get(&url)?;
        let qe_identity_issuer_chain =
            r.header(&url, &["SGX-Enclave-Identity-Issuer-Chain", "Enclave-Identity-Issuer-Chain"])?;
        let resp: QeIdentityResponse = serde_json::from_slice(&r.body)
            .map_err(|e| TdxError::Collateral(format!("{url}: not a QE identity response: {e}")))?;
        let qe_identity = resp.enclave_identity.get().to_owned();
        let qe_identity_signature = hex::decode(&resp.signature)
            .map_err(|e| TdxError::Collateral(format!("{url}: QE identity signature is not hex: {e}")))?;

        let root_ca_crl = self.root_ca_crl(&qe_identity_issuer_chain)?;

        Ok(QuoteCollateralV3 {
            pck_crl_issuer_chain,
            root_ca_crl,
            pck_crl,
            tcb_info_issuer_chain,
            tcb_info,
            tcb_info_signature,
            qe_identity_issuer_chain,
            qe_identity,
            qe_identity_signature,
            pck_certificate_chain: None,
        })
    }

    /// A PCCS serves the root CA CRL (hex-encoded) itself; Intel PCS does
    /// not, so fall back to the root certificate's CRL distribution point.
    fn root_ca_crl(&self, qe_identity_issuer_chain: &str) -> Result<Vec<u8>, TdxError> {
        if !self.base_url.starts_with(INTEL_PCS_URL) {
            let url = format!("{}/sgx/certification/v4/rootcacrl", self.base_url);
            match self.get(&url) {
                Ok(r) => return Ok(decode_maybe_hex(r.body)),
                Err(e) => tracing::debug!(error = %e, "no rootcacrl endpoint, using the CRL distribution point"),
            }
        }
        let url = root_crl_url(qe_identity_issuer_chain)?;
        Ok(self.get(&url)?.body)
    }

    fn get(&self, url: &str) -> Result<Fetched, TdxError> {
        tracing::debug!(%url, "fetching DCAP collateral");
        let mut resp = self.agent.get(url).call().map_err(|e| TdxError::Collateral(format!("GET {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(TdxError::Collateral(format!("GET {url}: HTTP {status}")));
        }
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body =
            resp.body_mut().read_to_vec().map_err(|e| TdxError::Collateral(format!("GET {url}: reading body: {e}")))?;
        Ok(Fetched { headers, body })
    }

    fn cache_file(&self, fmspc: &str, ca: &str) -> Option<PathBuf> {
        self.cache_dir.as_ref().map(|d| d.join(format!("tdx-collateral-{fmspc}-{ca}.json")))
    }

    fn load_cached(path: &Path, now: u64) -> Option<(QuoteCollateralV3, u64)> {
        let bytes = std::fs::read(path).ok()?;
        let c: QuoteCollateralV3 = match serde_json::from_slice(&bytes) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable collateral cache file");
                return None;
            }
        };
        let (start, end) = validity(&c).ok()?;
        (start <= now && now < end).then_some((c, end))
    }

    fn store_cached(path: &Path, c: &QuoteCollateralV3) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec(c).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            tracing::warn!(path = %path.display(), error = %e, "could not write the collateral cache");
        }
    }

    fn memory_hit(&self, key: &(String, String), now: u64) -> Option<QuoteCollateralV3> {
        let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.get(key).filter(|(_, end)| now < *end).map(|(c, _)| c.clone())
    }
}

impl CollateralSource for PccsCollateral {
    fn collateral(&self, quote: &TdxQuote, now: u64) -> Result<QuoteCollateralV3, TdxError> {
        let (fmspc, ca) = fmspc_and_ca(&quote.raw)?;
        let key = (fmspc, ca);
        if let Some(c) = self.memory_hit(&key, now) {
            return Ok(c);
        }
        let _one_fetch_at_a_time = self.fetch_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = self.memory_hit(&key, now) {
            return Ok(c);
        }
        let (fmspc, ca) = (&key.0, &key.1);
        let file = self.cache_file(fmspc, ca);
        let cached = file.as_deref().and_then(|f| Self::load_cached(f, now));
        let (c, end) = match cached {
            Some(hit) => hit,
            None => {
                let c = self.fetch(fmspc, ca)?;
                let (start, end) = validity(&c)?;
                tracing::info!(%fmspc, %ca, valid_from = start, valid_until = end, "fetched DCAP collateral");
                if let Some(f) = &file {
                    Self::store_cached(f, &c);
                }
                (c, end)
            }
        };
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (c.clone(), end));
        Ok(c)
    }
}

/// FMSPC (upper-case hex) and PCK CA type of the PCK certificate in a quote.
pub fn fmspc_and_ca(raw_quote: &[u8]) -> Result<(String, String), TdxError> {
    let q = Quote::parse(raw_quote).map_err(|e| TdxError::Parse(format!("{e:#}")))?;
    let fmspc = dcap_qvl::intel::quote_fmspc(&q).map_err(|e| {
        TdxError::Collateral(format!(
            "cannot read the FMSPC from the quote's PCK certificate (certification data type {}; only type 5, \
             an embedded PCK chain, is supported): {e:#}",
            q.inner_cert_type()
        ))
    })?;
    let ca = dcap_qvl::intel::quote_ca(&q)
        .map_err(|e| TdxError::Collateral(format!("cannot read the PCK CA type from the quote: {e:#}")))?;
    Ok((hex::encode_upper(fmspc), ca.as_id_str().to_owned()))
}

/// The CRL distribution point URL of the last (root) certificate of a chain.
fn root_crl_url(chain: &str) -> Result<String, TdxError> {
    let root = Pem::iter_from_buffer(chain.as_bytes())
        .filter_map(Result::ok)
        .last()
        .ok_or_else(|| TdxError::Collateral("QE identity issuer chain has no certificate".into()))?;
    let cert = root.parse_x509().map_err(|e| TdxError::Collateral(format!("root certificate: {e}")))?;
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for point in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    for name in names {
                        if let GeneralName::URI(uri) = name {
                            return Ok((*uri).to_owned());
                        }
                    }
                }
            }
        }
    }
    Err(TdxError::Collateral("root certificate has no CRL distribution point".into()))
}

/// PCCS serves the root CA CRL hex-encoded, PCS as DER; accept both.
fn decode_maybe_hex(body: Vec<u8>) -> Vec<u8> {
    let text = body.trim_ascii();
    if !text.is_empty() && text.iter().all(u8::is_ascii_hexdigit) {
        if let Ok(der) = hex::decode(text) {
            return der;
        }
    }
    body
}

/// Decode `%XX` escapes (PCS headers carry URL-encoded PEM).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape %{hex}"))?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 after %-decoding".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%0A-----BEGIN").unwrap(), "a b\n-----BEGIN");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert!(percent_decode("bad%2").is_err());
        assert!(percent_decode("bad%zz").is_err());
        assert!(percent_decode("%FF").is_err());
    }

    #[test]
    fn hex_or_der_crl() {
        assert_eq!(decode_maybe_hex(b"3082\n".to_vec()), vec![0x30, 0x82]);
        assert_eq!(decode_maybe_hex(vec![0x30, 0x82, 0x01]), vec![0x30, 0x82, 0x01]);
    }

    #[test]
    fn base_url_is_normalized() {
        let p = PccsCollateral::new("https://pccs.example/tdx/certification/v4/", None, DEFAULT_PCCS_TIMEOUT);
        assert_eq!(p.base_url(), "https://pccs.example");
        let p = PccsCollateral::new(INTEL_PCS_URL, None, DEFAULT_PCCS_TIMEOUT);
        assert_eq!(p.base_url(), INTEL_PCS_URL);
    }
}
