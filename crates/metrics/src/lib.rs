//! Prometheus `/metrics` for the roles.
//!
//! Every role already keeps its figures for `/stats`. At each scrape it describes them again
//! into a [`Scrape`] (counters, gauges, histograms, with labels), from the same atomics and in
//! the same call that could serve `/stats`, so the two never disagree. [`Scrape::render`] writes
//! the OpenMetrics text format with the Prometheus project's own encoder (`prometheus-client`).
//!
//! Names follow Prometheus conventions: a `cocoon_<role>_` prefix, base units (`_seconds`,
//! `_bytes`, `_nanotons`), and counters written with `_total` (the encoder adds it).

mod histogram;
mod scrape;

pub use histogram::{Buckets, LATENCY_BOUNDS};
pub use scrape::{Scrape, CONTENT_TYPE};
