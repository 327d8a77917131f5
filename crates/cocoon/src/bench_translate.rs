//! `cocoon bench-translate`: translation quality as a benchmark. Every message of the
//! evaluation set (`data/translate-eval.json`, or `--set`) is sent alone to a running client's
//! `POST /v1/tasks/translate`, from English into each language and back, and scored with chrF
//! per direction (sacreBLEU's definition, [`crate::chrf`]), with the errors and seconds per
//! message. Then each summary case of the set is sent to `POST /v1/tasks/summarize` and checked
//! for faithfulness ([`crate::faithful`]): no number, name or date that its text does not hold,
//! and the case's essential facts kept.

use crate::{chrf::ChrfStats, faithful, network::post_json};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use std::{collections::BTreeMap, time::Instant};

/// The evaluation set built into the binary.
const BUILTIN: &str = include_str!("../data/translate-eval.json");

/// Arguments of `cocoon bench-translate`.
#[derive(Args)]
pub struct BenchTranslateArgs {
    /// The client's local API.
    #[arg(long, default_value = "http://127.0.0.1:10000", env = "COCOON_CLIENT_URL")]
    pub url: String,
    /// Model (default: the first one the network offers).
    #[arg(long)]
    pub model: Option<String>,
    /// An evaluation set in the built-in one's format (default: the built-in set).
    #[arg(long)]
    pub set: Option<std::path::PathBuf>,
    /// Only these directions, e.g. en-ru,ru-en (default: English to and from every language).
    #[arg(long, value_delimiter = ',')]
    pub directions: Vec<String>,
    /// Print every translation beside its reference.
    #[arg(long)]
    pub verbose: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Skip the summary cases.
    #[arg(long)]
    pub no_summaries: bool,
}

/// An evaluation set: language names by code, and messages as translations by code.
#[derive(Debug, Deserialize)]
pub struct EvalSet {
    /// Language names by code ("ru" -> "Russian"), as the prompt names them.
    pub languages: BTreeMap<String, String>,
    /// Each message in every language of the set.
    pub messages: Vec<BTreeMap<String, String>>,
    /// Texts to summarise, with the facts a summary should keep.
    #[serde(default)]
    pub summaries: Vec<SummaryCase>,
}

/// A text to summarise and what its summary should keep.
#[derive(Debug, Deserialize)]
pub struct SummaryCase {
    /// The text's language code.
    pub language: String,
    /// The text.
    pub text: String,
    /// Facts a good summary keeps (compared without case).
    pub facts: Vec<String>,
}

/// One summary's figures.
#[derive(Debug)]
struct Summarised {
    language: String,
    report: faithful::Report,
    /// The request's error code, when it failed.
    error: Option<String>,
    seconds: f64,
}

impl EvalSet {
    /// The directions to score: English to and from every other language of the set.
    fn directions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for code in self.languages.keys().filter(|c| *c != "en") {
            out.push(("en".to_string(), code.clone()));
            out.push((code.clone(), "en".to_string()));
        }
        out
    }
}

/// One direction's figures.
#[derive(Debug, Default)]
struct Direction {
    stats: ChrfStats,
    messages: usize,
    errors: BTreeMap<String, usize>,
    seconds: f64,
}

/// Runs the benchmark and prints chrF, errors and seconds per message for each direction.
pub async fn run(a: BenchTranslateArgs) -> Result<()> {
    let text = match &a.set {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        None => BUILTIN.to_string(),
    };
    let set: EvalSet = serde_json::from_str(&text).context("the evaluation set")?;
    let mut directions = set.directions();
    if !a.directions.is_empty() {
        directions.retain(|(f, t)| a.directions.iter().any(|d| d == &format!("{f}-{t}")));
        if directions.is_empty() {
            bail!("none of {:?} is a direction of the set", a.directions);
        }
    }
    let url = format!("{}/v1/tasks/translate", a.url.trim_end_matches('/'));
    let mut results: Vec<((String, String), Direction)> = Vec::new();
    for (from, to) in directions {
        let to_name = set.languages.get(&to).cloned().unwrap_or_else(|| to.clone());
        let mut d = Direction::default();
        let pairs: Vec<(&String, &String)> =
            set.messages.iter().filter_map(|m| Some((m.get(&from)?, m.get(&to)?))).collect();
        eprintln!("[{from}->{to}] {} messages...", pairs.len());
        for (source, reference) in pairs {
            let mut body = json!({"to": to_name, "texts": [source]});
            if let Some(m) = &a.model {
                body["model"] = json!(m);
            }
            let started = Instant::now();
            let (status, v) = post_json(&url, &body).await?;
            d.seconds += started.elapsed().as_secs_f64();
            d.messages += 1;
            let item = &v["translations"][0];
            let hypothesis = match (status, item["text"].as_str()) {
                (200, Some(t)) => t.to_string(),
                _ => {
                    let code = item["error"]["code"]
                        .as_str()
                        .or(v["error"]["code"].as_str())
                        .unwrap_or("http_error")
                        .to_string();
                    *d.errors.entry(code.clone()).or_default() += 1;
                    if a.verbose {
                        eprintln!("  {source:?}: error {code}: {v}");
                    }
                    String::new()
                }
            };
            if a.verbose && !hypothesis.is_empty() {
                eprintln!("  {source:?}\n    -> {hypothesis:?}\n    ref {reference:?}");
            }
            d.stats.add(&hypothesis, reference);
        }
        results.push(((from, to), d));
    }
    let summaries = if a.no_summaries { Vec::new() } else { summarise(&a, &set.summaries).await? };
    print(&results, &summaries, a.json)
}

/// Sends every summary case to the client and checks what comes back.
async fn summarise(a: &BenchTranslateArgs, cases: &[SummaryCase]) -> Result<Vec<Summarised>> {
    let url = format!("{}/v1/tasks/summarize", a.url.trim_end_matches('/'));
    let mut out = Vec::new();
    eprintln!("[summaries] {} texts...", cases.len());
    for case in cases {
        let mut body = json!({"text": case.text});
        if let Some(m) = &a.model {
            body["model"] = json!(m);
        }
        let started = Instant::now();
        let (status, v) = post_json(&url, &body).await?;
        let seconds = started.elapsed().as_secs_f64();
        let (summary, error) = match (status, v["summary"].as_str()) {
            (200, Some(s)) => (s.to_string(), None),
            _ => (String::new(), Some(v["error"]["code"].as_str().unwrap_or("http_error").to_string())),
        };
        let report = faithful::check(&case.text, &summary, &case.facts);
        if a.verbose {
            eprintln!(
                "  [{}] {summary:?}\n    invented {:?}, missing {:?}",
                case.language, report.invented, report.missing
            );
        }
        out.push(Summarised { language: case.language.clone(), report, error, seconds });
    }
    Ok(out)
}

fn print(results: &[((String, String), Direction)], summaries: &[Summarised], as_json: bool) -> Result<()> {
    if as_json {
        let rows: Vec<Value> = results
            .iter()
            .map(|((f, t), d)| {
                json!({"direction": format!("{f}-{t}"), "chrf": d.stats.score(), "messages": d.messages,
                    "errors": d.errors, "seconds_per_message": d.seconds / d.messages.max(1) as f64})
            })
            .collect();
        let sums: Vec<Value> = summaries
            .iter()
            .map(|s| {
                json!({"language": s.language, "error": s.error, "faithful": s.error.is_none() && s.report.faithful(),
                    "invented": s.report.invented, "missing": s.report.missing, "essential": s.report.essential,
                    "seconds": s.seconds})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"directions": rows, "summaries": sums}))?);
        return Ok(());
    }
    println!("{:<10} {:>7} {:>9} {:>7} {:>11}  errors by code", "direction", "chrF", "messages", "errors", "s/message");
    for ((f, t), d) in results {
        let errors: usize = d.errors.values().sum();
        let codes: Vec<String> = d.errors.iter().map(|(c, n)| format!("{c} x{n}")).collect();
        println!(
            "{:<10} {:>7.1} {:>9} {:>7} {:>11.2}  {}",
            format!("{f}-{t}"),
            d.stats.score(),
            d.messages,
            errors,
            d.seconds / d.messages.max(1) as f64,
            codes.join(", ")
        );
    }
    if summaries.is_empty() {
        return Ok(());
    }
    let faithful = summaries.iter().filter(|s| s.error.is_none() && s.report.faithful()).count();
    let essential: usize = summaries.iter().map(|s| s.report.essential).sum();
    let kept: usize = summaries.iter().map(|s| s.report.essential - s.report.missing.len()).sum();
    let seconds: f64 = summaries.iter().map(|s| s.seconds).sum();
    println!(
        "\nsummaries: {faithful} of {} faithful (no invented number, name or date), {kept} of {essential} essential facts kept, {:.2} s per summary",
        summaries.len(),
        seconds / summaries.len() as f64
    );
    for (i, s) in summaries.iter().enumerate() {
        let verdict = match &s.error {
            Some(code) => format!("error {code}"),
            None if s.report.faithful() => "faithful".to_string(),
            None => format!("invented {:?}", s.report.invented),
        };
        let missing =
            if s.report.missing.is_empty() { String::new() } else { format!("; missing {:?}", s.report.missing) };
        println!("  {:>2} [{}] {verdict}{missing}", i + 1, s.language);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_set_covers_every_direction_the_issue_names() {
        let set: EvalSet = serde_json::from_str(BUILTIN).unwrap();
        let dirs: Vec<String> = set.directions().iter().map(|(f, t)| format!("{f}-{t}")).collect();
        for d in ["en-ru", "ru-en", "en-id", "id-en", "en-es", "es-en"] {
            assert!(dirs.contains(&d.to_string()), "{d}");
        }
        assert!(set.messages.len() >= 10);
        for m in &set.messages {
            assert_eq!(m.len(), set.languages.len(), "every message in every language: {m:?}");
        }
    }

    #[test]
    fn every_summary_case_is_faithful_to_itself_and_its_facts_occur_in_it() {
        let set: EvalSet = serde_json::from_str(BUILTIN).unwrap();
        assert!(set.summaries.len() >= 6);
        for case in &set.summaries {
            assert!(set.languages.contains_key(&case.language), "{}", case.language);
            // The text as its own summary invents nothing and keeps every fact.
            let r = faithful::check(&case.text, &case.text, &case.facts);
            assert!(r.faithful() && r.missing.is_empty() && r.essential >= 3, "{r:?}: {}", case.text);
            // Each case has numbers, names and dates to invent or keep.
            let facts = faithful::facts(&case.text);
            assert!(facts.iter().any(|f| matches!(f, faithful::Fact::Number(_))), "{}", case.text);
            assert!(facts.iter().any(|f| matches!(f, faithful::Fact::Name(_))), "{}", case.text);
        }
    }
}
