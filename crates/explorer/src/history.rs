//! The last hour of headline figures, for the page's charts: a bounded ring of points.

use crate::snapshot::{Nanotons, Snapshot};
use serde::Serialize;
use std::collections::VecDeque;

/// One point of the charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// When, Unix ms.
    pub t: u64,
    pub requests_per_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub tvl: Option<Nanotons>,
}

/// The points of the last hour, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Seconds between collections.
    pub interval_s: u64,
    pub points: VecDeque<Point>,
    #[serde(skip)]
    cap: usize,
}

/// How far back the charts go.
pub const WINDOW_SECS: u64 = 3600;

impl History {
    /// An empty history for collections every `interval_s` seconds: it keeps one hour.
    pub fn new(interval_s: u64) -> Self {
        let interval_s = interval_s.max(1);
        let cap = (WINDOW_SECS / interval_s) as usize + 1;
        Self { interval_s, points: VecDeque::with_capacity(cap), cap }
    }

    /// Adds `s`'s headline figures, dropping what is older than the window.
    pub fn push(&mut self, s: &Snapshot) {
        let h = &s.headline;
        self.points.push_back(Point {
            t: s.read_at,
            requests_per_s: h.requests_per_s.value,
            tokens_per_s: h.tokens_per_s.value,
            tvl: h.tvl.value,
        });
        let oldest = s.read_at.saturating_sub(WINDOW_SECS * 1000);
        while self.points.len() > self.cap || self.points.front().is_some_and(|p| p.t < oldest) {
            self.points.pop_front();
        }
    }
}
