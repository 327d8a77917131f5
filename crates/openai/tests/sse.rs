//! SSE usage counting across framings and chunkings.

use cocoon_openai::{SseUsageCounter, Usage};

const STREAM: &str = concat!(
    ": keep-alive comment\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}],\"usage\":null}\n\n",
    "event: message\n",
    "data:{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" usage\"},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\n",
    "data: \"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19,",
    "\"prompt_tokens_details\":{\"cached_tokens\":8},\"completion_tokens_details\":{\"reasoning_tokens\":5}}}\n\n",
    "data: [DONE]\n\n",
);

fn expected() -> Usage {
    Usage { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, cached_tokens: 8, reasoning_tokens: 5 }
}

fn run(chunks: &[&[u8]]) -> SseUsageCounter {
    let mut c = SseUsageCounter::new();
    for ch in chunks {
        c.feed(ch);
    }
    c
}

#[test]
fn whole_stream() {
    let c = run(&[STREAM.as_bytes()]);
    assert_eq!(c.usage(), Some(expected()));
    assert!(c.saw_done());
    assert_eq!(c.events(), 4);
    assert_eq!(c.error(), None);
}

#[test]
fn every_split_point_and_byte_by_byte() {
    for framing in [STREAM.to_owned(), STREAM.replace('\n', "\r\n"), STREAM.replace('\n', "\r")] {
        let b = framing.as_bytes();
        for i in 0..=b.len() {
            let c = run(&[&b[..i], &b[i..]]);
            assert_eq!(c.usage(), Some(expected()), "split at {i}");
            assert!(c.saw_done());
            assert_eq!(c.events(), 4);
        }
        let bytes: Vec<&[u8]> = b.chunks(1).collect();
        let c = run(&bytes);
        assert_eq!(c.usage(), Some(expected()));
        assert_eq!(c.events(), 4);
    }
}

#[test]
fn crlf_split_between_cr_and_lf() {
    let c = run(&[
        b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\r",
        b"\n\r",
        b"\n",
        b"data: [DONE]\r\n\r\n",
    ]);
    assert_eq!(c.usage().unwrap().total_tokens, 3);
    assert!(c.saw_done());
    assert_eq!(c.events(), 2);
}

#[test]
fn last_non_null_usage_wins() {
    let c = run(&[
        b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n",
        b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":9}}\n\n",
        b"data: {\"usage\":null}\n\n",
    ]);
    assert_eq!(c.usage().unwrap().completion_tokens, 9);
    assert!(!c.saw_done());
}

#[test]
fn no_usage_without_blank_line_until_finish() {
    let mut c = run(&[b"data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}"]);
    assert_eq!(c.usage(), None);
    c.finish();
    assert_eq!(c.usage().unwrap().total_tokens, 7);
}

#[test]
fn in_band_error() {
    let c = run(&[b"data: {\"error\":{\"message\":\"backend exploded\",\"type\":\"server_error\"}}\n\n"]);
    assert_eq!(c.error(), Some("backend exploded"));
    assert_eq!(c.usage(), None);
    let c = run(&[b"data: {\"object\":\"chunk\",\"error\":null}\n\n"]);
    assert_eq!(c.error(), None);
}

#[test]
fn usage_inside_content_is_ignored() {
    let c =
        run(&[b"data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"usage\\\": {\\\"prompt_tokens\\\": 5}}\"}}]}\n\n"]);
    assert_eq!(c.usage(), None);
    assert_eq!(c.events(), 1);
}
