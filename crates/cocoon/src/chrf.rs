//! chrF, exactly as sacreBLEU 2.x computes it by default (`CHRF()`: character n-grams of
//! orders 1 to 6, whitespace removed, no word n-grams, beta = 2, effective-order averaging),
//! at corpus level: the n-gram statistics of every segment are summed, then scored once.

use std::collections::HashMap;

/// Highest character n-gram order.
const ORDER: usize = 6;
/// Recall weighs beta² times as much as precision.
const BETA: f64 = 2.0;

/// Summed n-gram counts of a corpus: per order, (hypothesis n-grams, reference n-grams,
/// matches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChrfStats([(u64, u64, u64); ORDER]);

fn ngrams(chars: &[char], n: usize) -> HashMap<&[char], u64> {
    let mut m = HashMap::new();
    if chars.len() >= n {
        for w in chars.windows(n) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

impl ChrfStats {
    /// Adds one segment: `hypothesis` scored against `reference`.
    pub fn add(&mut self, hypothesis: &str, reference: &str) {
        let hyp: Vec<char> = hypothesis.chars().filter(|c| !c.is_whitespace()).collect();
        let reference: Vec<char> = reference.chars().filter(|c| !c.is_whitespace()).collect();
        for n in 1..=ORDER {
            let (h, r) = (ngrams(&hyp, n), ngrams(&reference, n));
            let matched: u64 = h.iter().map(|(g, c)| (*c).min(r.get(g).copied().unwrap_or(0))).sum();
            let s = &mut self.0[n - 1];
            s.0 += h.values().sum::<u64>();
            s.1 += r.values().sum::<u64>();
            s.2 += matched;
        }
    }

    /// The corpus chrF, 0 to 100.
    pub fn score(&self) -> f64 {
        let factor = BETA * BETA;
        let (mut prec, mut rec, mut effective) = (0.0, 0.0, 0);
        for &(h, r, m) in &self.0 {
            if h > 0 && r > 0 {
                prec += m as f64 / h as f64;
                rec += m as f64 / r as f64;
                effective += 1;
            }
        }
        if effective == 0 {
            return 0.0;
        }
        let (prec, rec) = (prec / effective as f64, rec / effective as f64);
        if prec + rec == 0.0 {
            return 0.0;
        }
        100.0 * (1.0 + factor) * prec * rec / (factor * prec + rec)
    }
}

/// The corpus chrF of `pairs` (hypothesis, reference).
#[cfg(test)]
pub fn corpus_chrf<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    let mut s = ChrfStats::default();
    for (h, r) in pairs {
        s.add(h, r);
    }
    s.score()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from sacreBLEU 2.6.0: `CHRF().corpus_score(hyps, [refs]).score`.
    #[test]
    fn agrees_with_sacrebleu() {
        let two = corpus_chrf([
            ("Доброе утро, как дела?", "Доброе утро, как ты?"),
            ("Le chat dort.", "Le chat est endormi."),
        ]);
        assert!((two - 57.14106471766463).abs() < 1e-9, "{two}");
        let id =
            corpus_chrf([("Saya akan terlambat, keretanya tertunda.", "Saya akan terlambat, keretanya terlambat.")]);
        assert!((id - 81.48429055793913).abs() < 1e-9, "{id}");
        assert_eq!(corpus_chrf([("abc", "xyz")]), 0.0);
        assert!((corpus_chrf([("same text", "same text")]) - 100.0).abs() < 1e-9);
        assert_eq!(corpus_chrf([("", "something")]), 0.0);
    }
}
