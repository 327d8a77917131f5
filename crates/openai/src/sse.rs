//! Usage accounting over a server-sent-events response.
//!
//! Streaming responses report token usage only in one late event (with
//! `stream_options.include_usage`), so whoever relays the stream must parse it
//! incrementally while passing the bytes on untouched. Telegram's counter
//! looked for usage in ways that missed the standard `data: {...}\n\n` framing;
//! this one follows the SSE line rules (any chunking, `\n`, `\r\n` or `\r`
//! line ends, `data:` with or without a space, multi-line data, comments) and
//! keeps memory bounded however hostile the stream.

use serde_json::Value;

use crate::usage::Usage;
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// Substring searchers built once (they precompute their SIMD tables).
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static ERROR_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"error\""));

/// Longest SSE line (and longest event data) kept; longer events are skipped
/// and counted in [`SseUsageCounter::oversized_events`].
pub const MAX_SSE_LINE: usize = 1 << 20;

/// Incremental SSE parser that extracts usage, `[DONE]` and in-band errors.
#[derive(Debug, Default)]
pub struct SseUsageCounter {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The current line exceeded [`MAX_SSE_LINE`]; drop bytes until its end.
    line_overflow: bool,
    /// The previous byte was `\r`, so a following `\n` is part of the same
    /// line ending.
    after_cr: bool,
    /// Accumulated `data` of the current event.
    data: Vec<u8>,
    has_data: bool,
    /// The current event is being skipped because it got too large.
    event_overflow: bool,
    events: u64,
    oversized: u64,
    usage: Option<Usage>,
    done: bool,
    error: Option<String>,
}

impl SseUsageCounter {
    /// A counter for one response stream, before its first byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next chunk of the response body, as received.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if chunk[0] == b'\n' {
                    chunk = &chunk[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', chunk) {
                None => {
                    self.push_partial(chunk);
                    return;
                }
                Some(end) => {
                    let (line, rest) = chunk.split_at(end);
                    self.after_cr = rest[0] == b'\r';
                    chunk = &rest[1..];
                    if self.line.is_empty() && !self.line_overflow {
                        self.process_line(line);
                    } else {
                        self.push_partial(line);
                        let buffered = std::mem::take(&mut self.line);
                        if !self.line_overflow {
                            self.process_line(&buffered);
                        }
                        self.line = buffered;
                        self.line.clear();
                        self.line_overflow = false;
                    }
                }
            }
        }
    }

    /// Signal the end of the body: an event not followed by a blank line is
    /// still taken into account (lenient towards servers that omit it).
    pub fn finish(&mut self) {
        if !self.line.is_empty() && !self.line_overflow {
            let buffered = std::mem::take(&mut self.line);
            self.process_line(&buffered);
        }
        self.line = Vec::new();
        self.line_overflow = false;
        self.after_cr = false;
        self.dispatch();
    }

    /// The last non-null usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether the `data: [DONE]` terminator was seen.
    pub fn saw_done(&self) -> bool {
        self.done
    }

    /// Number of events with data seen (including `[DONE]` and skipped ones).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Events skipped because they exceeded [`MAX_SSE_LINE`].
    pub fn oversized_events(&self) -> u64 {
        self.oversized
    }

    /// Message of the last event that carried an `error`.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        if self.line_overflow {
            return;
        }
        if self.line.len() + bytes.len() > MAX_SSE_LINE {
            self.line_overflow = true;
            self.line = Vec::new();
            // The line is lost, so is whatever event it belongs to.
            self.event_overflow = true;
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn process_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if name != b"data" {
            return; // event, id, retry: irrelevant for accounting
        }
        self.has_data = true;
        if self.event_overflow {
            return;
        }
        let extra = usize::from(!self.data.is_empty());
        if self.data.len() + extra + value.len() > MAX_SSE_LINE {
            self.event_overflow = true;
            self.data.clear();
            return;
        }
        if extra == 1 {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
    }

    fn dispatch(&mut self) {
        let overflow = std::mem::take(&mut self.event_overflow);
        if !self.has_data && !overflow {
            return;
        }
        self.has_data = false;
        self.events += 1;
        if overflow {
            self.oversized += 1;
        } else {
            self.inspect_event();
        }
        self.data.clear();
        if self.data.capacity() > 64 * 1024 {
            self.data = Vec::new();
        }
    }

    fn inspect_event(&mut self) {
        let data = self.data.trim_ascii();
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let usage_hint = has_object_key(data, &USAGE_KEY);
        let error_hint = ERROR_KEY.find(data).is_some();
        if !usage_hint && !error_hint {
            return;
        }
        // Only the two fields we read are built; the rest of the event (the whole answer text,
        // in a final chunk) is skipped without allocating.
        let Ok(probe) = serde_json::from_slice::<EventProbe>(data) else {
            return;
        };
        if let Some(u) = probe.usage.as_ref().and_then(Usage::from_usage_json) {
            self.usage = Some(u);
        }
        let err = match probe.error {
            Some(Value::Null) | None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(e)) => Some(match e.get("message") {
                Some(Value::String(s)) => s.clone(),
                _ => Value::Object(e.clone()).to_string(),
            }),
            Some(other) => Some(other.to_string()),
        };
        if let Some(err) = err {
            self.error = Some(err);
        }
    }
}

/// The fields of an event the counter reads (a JSON object; other fields are skipped).
#[derive(serde::Deserialize)]
struct EventProbe {
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

/// Fast pre-check: does `data` contain `key` followed by `:` and an object?
/// Avoids parsing the many chunks that carry `"usage": null` or no usage.
/// (A key written with `\u` escapes is not recognised.)
fn has_object_key(data: &[u8], key: &memchr::memmem::Finder<'static>) -> bool {
    let mut from = 0;
    while let Some(i) = key.find(&data[from..]).map(|i| i + from) {
        from = i + key.needle().len();
        let rest = data[from..].trim_ascii_start();
        if let Some(rest) = rest.strip_prefix(b":") {
            if rest.trim_ascii_start().first() == Some(&b'{') {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_key_hint() {
        assert!(has_object_key(br#"{"usage" : {"a":1}}"#, &USAGE_KEY));
        assert!(!has_object_key(br#"{"usage":null}"#, &USAGE_KEY));
        assert!(has_object_key(br#"{"usage":null,"x":{"usage":{}}}"#, &USAGE_KEY));
        assert!(!has_object_key(br#"{"usage""#, &USAGE_KEY));
    }

    #[test]
    fn overflowing_line_is_skipped_and_recorded() {
        let mut c = SseUsageCounter::new();
        let big = vec![b'x'; MAX_SSE_LINE + 10];
        c.feed(b"data: ");
        c.feed(&big);
        c.feed(b"\n\n");
        c.feed(b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n");
        assert_eq!(c.oversized_events(), 1);
        assert_eq!(c.events(), 2);
        assert_eq!(c.usage().unwrap().total_tokens, 2);
    }
}
