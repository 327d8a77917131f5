//! One collection: the chain and every proxy's report read at once and joined into a
//! [`Snapshot`], with rates from the difference to the previous collection.

use crate::attest::{AttestationMode, Attestations};
use crate::chain::{self, ChainView};
use crate::report::{ProxyReport, ReportClient};
use crate::snapshot::*;
use crate::ExplorerError;
use cocoon_onchain::ChainConfig;
use cocoon_ton::{address, TonApi};
use futures::{stream, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reports asked at once.
const CONCURRENCY: usize = 8;

/// What to look at.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// The chain (API and root); `None`: only the report URLs below.
    pub chain: Option<ChainConfig>,
    /// Report URLs to read besides those the root lists (proxies not on a chain).
    pub reports: Vec<String>,
    /// Which attestation counts as verified.
    pub attestation: AttestationMode,
    /// How long one report or getter may take.
    pub timeout: Duration,
}

/// Reads the network; keeps what rates need between collections.
pub struct Collector {
    cfg: CollectConfig,
    api: Option<(TonApi, cocoon_ton::StdAddr)>,
    reports: ReportClient,
    attest: Attestations,
    /// Per proxy id: (read at ms, requests, tokens) at the previous collection.
    previous: Mutex<HashMap<String, (u64, u64, u64)>>,
    /// Per proxy id: the client contracts its last answering report named, so that the TVL
    /// (read from chain) does not drop while a proxy does not answer.
    client_contracts: Mutex<HashMap<String, Vec<String>>>,
}

/// A report URL and what it answered.
struct Fetched {
    url: String,
    read_at: u64,
    result: Result<ProxyReport, ExplorerError>,
}

impl Collector {
    /// A collector for `cfg`; fails on an unusable chain API address or root.
    pub fn new(cfg: CollectConfig) -> Result<Self, ExplorerError> {
        let api = match &cfg.chain {
            Some(c) => {
                let mut api_cfg = c.api();
                api_cfg.timeout = cfg.timeout;
                let api = TonApi::new(api_cfg).map_err(|e| ExplorerError::Config(format!("TON API: {e}")))?;
                let root = address::parse_std(&c.root)
                    .map_err(|e| ExplorerError::Config(format!("root {:?}: {e}", c.root)))?;
                Some((api, root))
            }
            None => None,
        };
        if api.is_none() && cfg.reports.is_empty() {
            return Err(ExplorerError::Config("nothing to look at: give a chain (root and API) or report URLs".into()));
        }
        Ok(Self {
            reports: ReportClient::new(cfg.timeout)?,
            attest: Attestations::new(cfg.attestation),
            api,
            cfg,
            previous: Mutex::new(HashMap::new()),
            client_contracts: Mutex::new(HashMap::new()),
        })
    }

    /// Reads everything once.
    pub async fn collect(&self) -> Snapshot {
        let started = Instant::now();
        let chain = match &self.api {
            Some((api, root)) => Some(chain::read(api, root).await),
            None => None,
        };
        let listed = chain.as_ref().map(|c| c.proxies.as_slice()).unwrap_or_default();
        let mut urls: Vec<String> = listed.iter().filter_map(|p| p.entry.report_url.clone()).collect();
        for u in &self.cfg.reports {
            if !urls.contains(u) {
                urls.push(u.clone());
            }
        }
        let fetched: Vec<Fetched> = stream::iter(urls.clone())
            .map(|url| async move {
                let result = self.reports.fetch(&url).await;
                Fetched { url, read_at: now_ms(), result }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut rows = self.proxy_rows(chain.as_ref(), fetched);

        // Client contracts the reports name, for the TVL.
        let mut tvl = Tvl { value: None, source: Source::Chain, read_at: now_ms(), parts: None };
        if let (Some((api, _)), Some(c)) = (&self.api, &chain) {
            let contracts: Vec<String> = {
                let mut known = self.client_contracts.lock().unwrap_or_else(|p| p.into_inner());
                known.retain(|id, _| rows.iter().any(|(r, _)| &r.id == id));
                for (row, rep) in &rows {
                    if let Some(rep) = rep {
                        known.insert(row.id.clone(), rep.clients.contracts.clone());
                    }
                }
                known.values().flatten().cloned().collect()
            };
            let (mut parts, read_at) = chain::read_clients(api, &contracts).await;
            for p in &c.proxies {
                parts.proxy_stake = parts.proxy_stake + p.chain.stake.unwrap_or_default();
                parts.proxy_balance = parts.proxy_balance + p.chain.balance.unwrap_or_default();
                parts.proxy_commission = parts.proxy_commission + p.chain.commission.unwrap_or_default();
            }
            // A sum with a part that could not be read is no figure at all.
            let complete = c.root.error.is_none() && c.proxies.iter().all(|p| p.chain.error.is_none());
            tvl = Tvl { value: complete.then(|| parts.total()), source: Source::Chain, read_at, parts: Some(parts) };
        }

        let read_at = now_ms();
        let reports: Vec<(&ProxyRow, &ProxyReport)> =
            rows.iter().filter_map(|(row, rep)| rep.as_ref().map(|r| (row, r))).collect();
        let (requests_per_s, tokens_per_s) = self.rates(&reports);
        let sum = |f: &dyn Fn(&ProxyReport) -> u64| reports.iter().map(|(_, r)| f(r)).sum::<u64>();
        let reports_at = rows.iter().map(|(r, _)| r.report.read_at).max().unwrap_or(read_at);
        let figure = |value| Figure { value: Some(value), source: Source::Reports, read_at: reports_at };
        let proxies = match &chain {
            Some(c) => Figure {
                value: c.root.error.is_none().then_some(c.proxies.len() as u64),
                source: Source::Chain,
                read_at: c.root.read_at,
            },
            None => figure(rows.len() as u64),
        };
        let headline = Headline {
            tvl,
            proxies,
            workers: figure(sum(&|r| r.workers.len() as u64)),
            clients: figure(sum(&|r| r.clients.known)),
            clients_active_24h: figure(sum(&|r| r.clients.active_24h)),
            requests_per_s: Figure { value: requests_per_s, source: Source::Reports, read_at: reports_at },
            tokens_per_s: Figure { value: tokens_per_s, source: Source::Reports, read_at: reports_at },
        };
        let (models, workers) = tables(&reports);
        Snapshot {
            read_at,
            took_ms: started.elapsed().as_millis() as u64,
            sources: Sources {
                chain: self.cfg.chain.as_ref().map(|c| c.api().endpoint),
                root: self.api.as_ref().map(|(_, r)| address::raw(r)),
                reports: urls,
            },
            headline,
            root: chain.map(|c| c.root),
            proxies: rows.drain(..).map(|(r, _)| r).collect(),
            models,
            workers,
        }
    }

    /// One row per listed proxy, then one per report URL given that is not a listed proxy's.
    fn proxy_rows(&self, chain: Option<&ChainView>, fetched: Vec<Fetched>) -> Vec<(ProxyRow, Option<ProxyReport>)> {
        let root_images = chain.and_then(|c| c.root.allowlists.as_ref()).map(|l| l.proxy_images.clone());
        let mut by_url: HashMap<String, Fetched> = fetched.into_iter().map(|f| (f.url.clone(), f)).collect();
        let mut rows = Vec::new();
        for p in chain.map(|c| c.proxies.as_slice()).unwrap_or_default() {
            let key = hex::encode(p.entry.public_key.as_array());
            let row = ProxyRow {
                id: key.clone(),
                public_key: Some(key),
                address: Some(p.address.clone()),
                client_endpoint: Some(p.entry.client_endpoint.clone()),
                report_url: p.entry.report_url.clone(),
                registered: true,
                chain: Some(p.chain.clone()),
                ..Default::default()
            };
            let fetched = p.entry.report_url.as_ref().and_then(|u| by_url.remove(u));
            rows.push(self.with_report(row, fetched, root_images.as_deref()));
        }
        for u in &self.cfg.reports {
            let Some(f) = by_url.remove(u) else { continue };
            let id = f.result.as_ref().map(|r| r.proxy_id.clone()).unwrap_or_else(|_| u.clone());
            match rows.iter().position(|(r, _)| r.id == id) {
                // A listed proxy registered without a report URL: this one is its report.
                Some(i) if rows[i].0.report_url.is_none() => {
                    let mut row = rows[i].0.clone();
                    row.report_url = Some(u.clone());
                    rows[i] = self.with_report(row, Some(f), root_images.as_deref());
                }
                Some(_) => {}
                None => {
                    let row = ProxyRow { id, report_url: Some(u.clone()), ..Default::default() };
                    rows.push(self.with_report(row, Some(f), root_images.as_deref()));
                }
            }
        }
        rows
    }

    fn with_report(
        &self,
        mut row: ProxyRow,
        fetched: Option<Fetched>,
        root_images: Option<&[String]>,
    ) -> (ProxyRow, Option<ProxyReport>) {
        let Some(f) = fetched else {
            row.report =
                ReportView { error: Some("no report URL registered".into()), read_at: now_ms(), ..Default::default() };
            row.attestation.insecure = true;
            row.attestation.error = Some("no report to read a certificate from".into());
            return (row, None);
        };
        match f.result {
            Ok(r) => {
                if row.public_key.as_deref().is_some_and(|k| k != r.proxy_id) {
                    row.report = ReportView {
                        read_at: f.read_at,
                        error: Some(format!("the report is signed by another proxy ({})", r.proxy_id)),
                        ..Default::default()
                    };
                    return (row, None);
                }
                row.attestation = self.attest.check(&r.certificate, root_images, &r.proxy_id);
                if row.public_key.is_none() {
                    row.public_key = Some(r.proxy_id.clone());
                    row.address = r.chain.as_ref().map(|c| c.contract.clone());
                }
                row.report = ReportView {
                    reachable: true,
                    read_at: f.read_at,
                    error: None,
                    software: Some(r.software.clone()),
                    clients_connected: Some(r.clients.connected),
                    clients_active_24h: Some(r.clients.active_24h),
                    clients_known: Some(r.clients.known),
                    workers: Some(r.workers.len() as u64),
                    requests: Some(r.requests.total),
                    tokens: Some(r.tokens_total()),
                    charged: r.books.as_ref().and_then(|b| b.charged),
                    commission: r.books.as_ref().and_then(|b| b.commission),
                    books_balanced: r.books.as_ref().map(|b| b.balanced),
                    anchor_behind: r.anchor.as_ref().map(|a| a.behind),
                };
                (row, Some(r))
            }
            Err(e) => {
                row.report = ReportView { read_at: f.read_at, error: Some(e.to_string()), ..Default::default() };
                row.attestation.insecure = true;
                row.attestation.error = Some("the report did not answer".into());
                (row, None)
            }
        }
    }

    /// Requests and tokens per second: each answering proxy's growth since the previous
    /// collection, summed. `None` until some proxy answered twice.
    fn rates(&self, reports: &[(&ProxyRow, &ProxyReport)]) -> (Option<f64>, Option<f64>) {
        let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = HashMap::new();
        let (mut req, mut tok, mut any) = (0.0, 0.0, false);
        for (row, r) in reports {
            let now = (row.report.read_at, r.requests.total, r.tokens_total());
            if let Some(&(t0, r0, k0)) = previous.get(&row.id) {
                let secs = now.0.saturating_sub(t0) as f64 / 1000.0;
                // A proxy that restarted counts from zero again: skip it this once.
                if secs > 0.0 && now.1 >= r0 && now.2 >= k0 {
                    req += (now.1 - r0) as f64 / secs;
                    tok += (now.2 - k0) as f64 / secs;
                    any = true;
                }
            }
            next.insert(row.id.clone(), now);
        }
        *previous = next;
        if any {
            (Some(req), Some(tok))
        } else {
            (None, None)
        }
    }
}

/// The models and workers tables from the reports that answered.
fn tables(reports: &[(&ProxyRow, &ProxyReport)]) -> (Vec<ModelRow>, Vec<WorkerRow>) {
    let mut workers = Vec::new();
    let mut models: BTreeMap<String, ModelRow> = BTreeMap::new();
    for (row, r) in reports {
        for w in &r.workers {
            let m = models.entry(w.model.clone()).or_insert_with(|| ModelRow {
                model: w.model.clone(),
                workers: 0,
                enabled: 0,
                hardware: Vec::new(),
                coefficient_min: u32::MAX,
                coefficient_max: 0,
                running: 0,
                max_active: 0,
                load: 0.0,
                served: 0,
                tokens: 0,
                source: Source::Reports,
                read_at: row.report.read_at,
            });
            m.workers += 1;
            m.enabled += u64::from(w.enabled);
            if !m.hardware.contains(&w.hardware) {
                m.hardware.push(w.hardware.clone());
            }
            m.coefficient_min = m.coefficient_min.min(w.coefficient);
            m.coefficient_max = m.coefficient_max.max(w.coefficient);
            m.running += w.running;
            m.max_active += w.max_active;
            m.served += w.served;
            m.tokens += w.earned_tokens;
            m.read_at = m.read_at.max(row.report.read_at);
            workers.push(WorkerRow {
                worker_id: w.worker_id.clone(),
                proxy: row.id.clone(),
                model: w.model.clone(),
                model_sha256: w.model_sha256.clone(),
                hardware: w.hardware.clone(),
                coefficient: w.coefficient,
                enabled: w.enabled,
                running: w.running,
                max_active: w.max_active,
                success_rate: w.success_rate,
                latency_ms: w.latency_ms,
                served: w.served,
                earned_tokens: w.earned_tokens,
                earned: w.earned.unwrap_or_default(),
                source: Source::Reports,
                read_at: row.report.read_at,
            });
        }
    }
    let models = models
        .into_values()
        .map(|mut m| {
            m.load = if m.max_active == 0 { 0.0 } else { m.running as f64 / m.max_active as f64 };
            m
        })
        .collect();
    (models, workers)
}
