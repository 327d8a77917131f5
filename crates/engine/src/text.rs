//! Turning generated token bytes into text that is safe to send: whole UTF-8 characters only,
//! and nothing past (or part of) a stop string.
//!
//! A token may end in the middle of a multi-byte character (byte-level BPE splits emoji and
//! CJK characters across tokens), so [`Utf8Buffer`] holds an incomplete tail back until the
//! next token completes it. [`StopFilter`] holds back text that could be the start of a stop
//! string, so a stop string is never half-sent before it is recognised.

/// Collects bytes and releases them as complete UTF-8 text.
#[derive(Debug, Default)]
pub struct Utf8Buffer {
    pending: Vec<u8>,
}

impl Utf8Buffer {
    /// An empty buffer, for one generation's output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `bytes` and returns the text that is complete so far. Invalid sequences become
    /// U+FFFD; an incomplete character at the end is kept for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid` is valid UTF-8 by construction.
                    out.push_str(&String::from_utf8_lossy(valid));
                    match e.error_len() {
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[n..];
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        let drop = self.pending.len() - keep;
        self.pending.drain(..drop);
        out
    }

    /// Releases whatever is left (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Stops generation at the first stop string and keeps it (and what follows) out of the
/// output.
#[derive(Debug, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    held: String,
}

impl StopFilter {
    /// Empty stop strings are ignored.
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Adds generated text. Returns the text that may be sent now and whether a stop string
    /// was found (then generation ends; the stop string and anything after it are dropped).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        if self.stops.is_empty() {
            return (text.to_string(), false);
        }
        self.held.push_str(text);
        let hit = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min();
        if let Some(at) = hit {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        let hold = self.stops.iter().map(|s| partial_suffix(&self.held, s)).max().unwrap_or(0);
        let cut = self.held.len() - hold;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }

    /// Releases held-back text at the end of a generation that did not hit a stop string.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length of the longest proper prefix of `stop` that `text` ends with.
fn partial_suffix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&k| stop.is_char_boundary(k) && text.is_char_boundary(text.len() - k) && text.ends_with(&stop[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_tokens() {
        let crab = "🦀".as_bytes();
        let mut b = Utf8Buffer::new();
        assert_eq!(b.push(b"a"), "a");
        assert_eq!(b.push(&crab[..1]), "");
        assert_eq!(b.push(&crab[1..3]), "");
        assert_eq!(b.push(&crab[3..]), "🦀");
        assert_eq!(b.push(b"\xff!"), "\u{fffd}!");
        assert_eq!(b.push(&crab[..2]), "");
        assert_eq!(b.finish(), "\u{fffd}");
    }

    #[test]
    fn stop_strings() {
        let mut f = StopFilter::new(&["END".to_string(), "".to_string()]);
        assert_eq!(f.push("hello E"), ("hello ".to_string(), false));
        assert_eq!(f.push("N"), (String::new(), false));
        assert_eq!(f.push("Dless"), (String::new(), true));

        let mut f = StopFilter::new(&["END".to_string()]);
        assert_eq!(f.push("a EN"), ("a ".to_string(), false));
        assert_eq!(f.push("x"), ("ENx".to_string(), false));
        assert_eq!(f.push("E"), (String::new(), false));
        assert_eq!(f.finish(), "E");

        let mut f = StopFilter::new(&["\n\n".to_string(), "é!".to_string()]);
        assert_eq!(f.push("été"), ("ét".to_string(), false));
        assert_eq!(f.push("!x"), (String::new(), true));

        let mut none = StopFilter::new(&[]);
        assert_eq!(none.push("abc"), ("abc".to_string(), false));
    }

    #[test]
    fn earliest_stop_wins() {
        let mut f = StopFilter::new(&["cd".to_string(), "b".to_string()]);
        assert_eq!(f.push("abcd"), ("a".to_string(), true));
    }
}
