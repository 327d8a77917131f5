//! The terminal view of a snapshot (`cocoon status`): the headline figures and the proxies,
//! models and workers as aligned text tables.

use crate::snapshot::{Nanotons, Snapshot, Source};
use std::fmt::Write as _;

/// Left-aligned columns separated by two spaces, under a header row.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count());
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
    out
}

fn short(s: &str) -> String {
    if s.len() > 12 {
        format!("{}…", &s[..12])
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn source(s: Source) -> &'static str {
    match s {
        Source::Chain => "chain",
        Source::Reports => "proxy reports",
    }
}

/// The whole snapshot as text.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let h = &s.headline;
    let ago = |t: u64| format!("{:.1} s ago", s.read_at.saturating_sub(t) as f64 / 1000.0);
    let rate = |v: Option<f64>| v.map_or_else(|| "- (needs two reads)".to_string(), |v| format!("{v:.2}"));
    let rows = vec![
        vec!["TVL".into(), opt(h.tvl.value), source(h.tvl.source).into(), ago(h.tvl.read_at)],
        vec!["proxies".into(), opt(h.proxies.value), source(h.proxies.source).into(), ago(h.proxies.read_at)],
        vec!["workers".into(), opt(h.workers.value), source(h.workers.source).into(), ago(h.workers.read_at)],
        vec!["clients".into(), opt(h.clients.value), source(h.clients.source).into(), ago(h.clients.read_at)],
        vec![
            "clients active 24h".into(),
            opt(h.clients_active_24h.value),
            source(h.clients_active_24h.source).into(),
            ago(h.clients_active_24h.read_at),
        ],
        vec![
            "requests/s".into(),
            rate(h.requests_per_s.value),
            source(h.requests_per_s.source).into(),
            ago(h.requests_per_s.read_at),
        ],
        vec![
            "tokens/s".into(),
            rate(h.tokens_per_s.value),
            source(h.tokens_per_s.source).into(),
            ago(h.tokens_per_s.read_at),
        ],
    ];
    out.push_str(&render_table(&["figure", "value", "source", "read"], &rows));
    if let Some(p) = h.tvl.parts.as_ref() {
        let _ = writeln!(
            out,
            "TVL = proxy stakes {} + held for workers {} + commission {} + client balances {} + client stakes {} ({} client contracts{})",
            p.proxy_stake, p.proxy_balance, p.proxy_commission, p.client_balance, p.client_stake, p.client_contracts,
            if p.partial { ", more not read" } else { "" }
        );
    }
    if let Some(r) = &s.root {
        let _ = writeln!(
            out,
            "\nroot {}: version {}, params version {}, {} proxies listed{}",
            r.address,
            opt(r.version),
            opt(r.params_version),
            opt(r.proxy_count),
            r.error.as_ref().map(|e| format!(" (error: {e})")).unwrap_or_default()
        );
        if let Some(p) = &r.params {
            let _ = writeln!(
                out,
                "  price {} / token, worker fee {} / token, min proxy stake {}, min client stake {}, test network: {}",
                p.price_per_token.0, p.worker_fee_per_token.0, p.min_proxy_stake, p.min_client_stake, p.is_test
            );
        }
        if let Some(l) = &r.allowlists {
            let n = |v: &Vec<String>| if v.is_empty() { "any".to_string() } else { v.len().to_string() };
            let _ = writeln!(
                out,
                "  allowlists: proxy images {}, worker images {}, models {}",
                n(&l.proxy_images),
                n(&l.worker_images),
                n(&l.models)
            );
        }
    }
    let rows: Vec<Vec<String>> = s
        .proxies
        .iter()
        .map(|p| {
            let c = p.chain.as_ref();
            let anchor = c.and_then(|c| c.anchor.as_ref()).map_or("-".to_string(), |a| match a.age_s {
                Some(age) => format!("#{} {age} s ago", a.seqno),
                None => "never".into(),
            });
            let att = &p.attestation;
            let attestation = if att.verified {
                format!("{}{}", opt(att.tee.clone()), if att.insecure { " INSECURE" } else { "" })
            } else {
                "NOT VERIFIED".into()
            };
            vec![
                short(&p.id),
                if p.registered { "yes".into() } else { "no".into() },
                c.and_then(|c| c.state.clone()).unwrap_or_else(|| "-".into()),
                opt(c.and_then(|c| c.stake)),
                opt(c.and_then(|c| c.commission)),
                anchor,
                attestation,
                if p.report.reachable { "yes".into() } else { format!("UNREACHABLE: {}", opt(p.report.error.clone())) },
                opt(p.report.workers),
                opt(p.report.clients_known),
                opt(p.report.requests),
            ]
        })
        .collect();
    out.push_str("\nproxies\n");
    out.push_str(&render_table(
        &[
            "proxy",
            "listed",
            "state",
            "stake",
            "commission",
            "anchor",
            "attestation",
            "report",
            "workers",
            "clients",
            "requests",
        ],
        &rows,
    ));
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                format!("{}/{}", m.enabled, m.workers),
                m.hardware.join(","),
                if m.coefficient_min == m.coefficient_max {
                    m.coefficient_min.to_string()
                } else {
                    format!("{}..{}", m.coefficient_min, m.coefficient_max)
                },
                format!("{}/{} ({:.0}%)", m.running, m.max_active, m.load * 100.0),
                m.served.to_string(),
                m.tokens.to_string(),
            ]
        })
        .collect();
    out.push_str("\nmodels\n");
    out.push_str(&render_table(&["model", "workers", "hardware", "coefficient", "load", "served", "tokens"], &rows));
    let rows: Vec<Vec<String>> = s
        .workers
        .iter()
        .map(|w| {
            vec![
                short(&w.worker_id),
                short(&w.proxy),
                w.model.clone(),
                w.hardware.clone(),
                w.coefficient.to_string(),
                format!("{:.1}%", w.success_rate * 100.0),
                format!("{:.1}", w.latency_ms),
                w.served.to_string(),
                w.earned_tokens.to_string(),
                Nanotons(w.earned.0).to_string(),
            ]
        })
        .collect();
    out.push_str("\nworkers\n");
    out.push_str(&render_table(
        &["worker", "proxy", "model", "hardware", "coefficient", "success", "latency ms", "served", "tokens", "earned"],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let t = render_table(&["a", "bbb"], &[vec!["long cell".into(), "x".into()], vec!["y".into(), "zz".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines, ["a          bbb", "long cell  x", "y          zz"]);
    }
}
