//! What an operator looks at: Prometheus `/metrics` and the `/dashboard` page of every role.
//!
//! Every role already keeps its figures for `/stats`. At each scrape it describes them again
//! into a [`Scrape`] (counters, gauges, histograms, with labels), from the same atomics and in
//! the same call that could serve `/stats`, so the two never disagree. [`Scrape::render`] writes
//! the OpenMetrics text format with the Prometheus project's own encoder (`prometheus-client`).
//!
//! Names follow Prometheus conventions: a `cocoon_<role>_` prefix, base units (`_seconds`,
//! `_bytes`, `_nanotons`), and counters written with `_total` (the encoder adds it).
//!
//! [`DASHBOARD_HTML`] is one self-contained page (no external asset) that every role serves as
//! `/dashboard`: it reads the role's own `/stats` every two seconds and shows its headline
//! figures and all of `/stats` as tables. Text from `/stats` is only ever set as text.

mod histogram;
mod log_histogram;
mod scrape;

pub use histogram::{Buckets, LATENCY_BOUNDS};
pub use log_histogram::LogHistogram;
pub use scrape::{Scrape, CONTENT_TYPE};

/// The operator's page every role serves at `/dashboard`, next to its `/stats`.
pub const DASHBOARD_HTML: &str = include_str!("dashboard.html");
