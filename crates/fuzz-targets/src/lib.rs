//! Every decoder of untrusted bytes in cocoon, as one function each that takes arbitrary
//! bytes and must never panic (an `Err` is fine; that is what bad input gets). The cargo-fuzz
//! targets in `fuzz/fuzz_targets/` are one-line wrappers around these, and
//! `tests/corpus.rs` replays every committed corpus file through them in the ordinary test run
//! (the CI smoke run). `scripts/fuzz.sh` runs the real fuzzer.
//!
//! | target | untrusted bytes from | decoder |
//! |---|---|---|
//! | `infer_meta` | a client or proxy (request headers) | `cocoon_proto::InferMeta::read` |
//! | `status_frames` | a worker (its status stream) | `cocoon_proto::events::EventCodec` |
//! | `sse_usage` | a worker or backend (the answer stream) | `cocoon_openai::SseUsageCounter` |
//! | `openai_bodies` | an app (request bodies), a backend (answers) | routing, validation, usage, embeddings |
//! | `ratls_cert` | any peer (its certificate: claims and evidence) | `cocoon_ratls` |
//! | `tdx_quote` | any peer (the quote in its evidence) | `cocoon_tdx::TdxQuote::parse` |
//! | `voucher` | a proxy (vouchers), anyone (message bodies) | `cocoon_voucher` |
//! | `transcription` | an app (audio and its form) | `cocoon_openai::transcription`, `cocoon_speech::audio` |
//! | `config` | an operator's file | the proxy, worker and client configs |
//! | `explorer_report` | a proxy (its public report) | `cocoon_explorer::report::ProxyReport::parse` |
//! | `pow_challenge` | a proxy (the challenge before TLS) | `cocoon_transport::pow::Challenge::decode` |
//! | `backend_answer` | a worker's backend (its HTTP/1 answer) | `cocoon_worker::backend_http::{wire, decode}` |

use tokio_util::codec::Decoder;

/// The names of the targets, as in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: &[&str] = &[
    "infer_meta",
    "status_frames",
    "sse_usage",
    "openai_bodies",
    "ratls_cert",
    "tdx_quote",
    "voucher",
    "transcription",
    "config",
    "explorer_report",
    "pow_challenge",
    "backend_answer",
];

/// Runs target `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "infer_meta" => infer_meta(data),
        "status_frames" => status_frames(data),
        "sse_usage" => sse_usage(data),
        "openai_bodies" => openai_bodies(data),
        "ratls_cert" => ratls_cert(data),
        "tdx_quote" => tdx_quote(data),
        "voucher" => voucher(data),
        "transcription" => transcription(data),
        "config" => config(data),
        "explorer_report" => explorer_report(data),
        "pow_challenge" => pow_challenge(data),
        "backend_answer" => backend_answer(data),
        _ => return false,
    }
    true
}

/// Request metadata: lines `name: value` become headers, then `InferMeta::read`.
pub fn infer_meta(data: &[u8]) {
    let mut h = http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name), http::HeaderValue::from_bytes(value)) {
            h.append(n, v);
        }
    }
    let _ = cocoon_proto::InferMeta::read(&h);
}

/// A worker's status stream: length-prefixed JSON frames, fed in two pieces.
pub fn status_frames(data: &[u8]) {
    let mut codec: cocoon_proto::events::EventCodec = Default::default();
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut buf = bytes::BytesMut::new();
    for piece in [&data[..split], &data[split..]] {
        buf.extend_from_slice(piece);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }
    let _ = codec.decode_eof(&mut buf);
}

/// An answer stream through the usage counter, fed in pieces cut where the first byte says.
pub fn sse_usage(data: &[u8]) {
    let mut c = cocoon_openai::SseUsageCounter::new();
    let step = data.first().map_or(1, |b| usize::from(*b).max(1));
    for piece in data.chunks(step) {
        c.feed(piece);
    }
    c.finish();
    let _ = (c.usage(), c.saw_done(), c.events(), c.error());
}

/// Request and answer bodies: routing fields, validation per endpoint, usage, embeddings.
pub fn openai_bodies(data: &[u8]) {
    let _ = cocoon_openai::extract_routing(data, 256);
    for e in cocoon_openai::Endpoint::ALL {
        let _ = cocoon_openai::validate_for_backend(e, data, "m");
    }
    let _ = cocoon_openai::usage_from_body(data);
    let _ = cocoon_openai::embeddings::EmbeddingRequest::parse(data);
    let _ = cocoon_openai::ApiError::from_json(http::StatusCode::BAD_REQUEST, data);
}

/// A peer's certificate: parsed, its claims and evidence decoded, and checked under the dev policy.
pub fn ratls_cert(data: &[u8]) {
    let _ = cocoon_ratls::inspect_certificate(data);
    let _ = cocoon_ratls::Claims::decode(data);
    let _ = cocoon_ratls::Evidence::decode(data);
    let policy = cocoon_ratls::Policy::new(cocoon_ratls::PolicyConfig::new(cocoon_ratls::PolicyKind::Dev));
    let _ = policy.check(data, std::time::SystemTime::now());
}

/// A TDX quote as it arrives in evidence.
pub fn tdx_quote(data: &[u8]) {
    if let Ok(q) = cocoon_tdx::TdxQuote::parse(data) {
        let _ = q.image_hash();
    }
}

/// Vouchers as BOCs, base64 and submitted message bodies.
pub fn voucher(data: &[u8]) {
    let _ = cocoon_voucher::SignedVoucher::from_boc(data);
    let _ = cocoon_voucher::SignedVoucher::from_message_body(data);
    let _ = cocoon_voucher::SignedVoucher::from_base64(&String::from_utf8_lossy(data));
}

/// The client's transcription body to the worker, its response format, and the audio itself.
pub fn transcription(data: &[u8]) {
    if let Ok((params, audio)) = cocoon_openai::transcription::decode(data) {
        let _ = cocoon_openai::transcription::check(&params);
        let _ = cocoon_speech::audio::decode(audio.to_vec(), None, 30);
    }
    let _ = cocoon_openai::transcription::ResponseFormat::parse(&String::from_utf8_lossy(data));
    let _ = cocoon_speech::audio::decode(data.to_vec(), Some("x.wav"), 30);
}

/// An operator's config file, as each role reads it.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = toml::from_str::<cocoon_proxy::ProxyConfig>(text) {
        let _ = (c.openings(), c.model_allowlist());
    }
    let _ = toml::from_str::<cocoon_worker::WorkerConfig>(text);
    let _ = toml::from_str::<cocoon_client::ClientConfig>(text);
}

/// A proxy's public report, as the explorer reads it.
pub fn explorer_report(data: &[u8]) {
    let _ = cocoon_explorer::report::ProxyReport::parse(data);
}

/// The challenge a proxy sends before TLS.
pub fn pow_challenge(data: &[u8]) {
    if let Ok(b) = <&[u8; cocoon_transport::pow::CHALLENGE_LEN]>::try_from(data) {
        if let Ok(c) = cocoon_transport::pow::Challenge::decode(b) {
            let _ = c.verify(0);
        }
    }
}

/// A backend's HTTP/1 answer (after a first byte that says in what pieces to feed it): its
/// head parsed, then its body decoded. The data out never exceeds the body bytes in.
pub fn backend_answer(data: &[u8]) {
    use cocoon_worker::backend_http::{decode::BodyDecoder, wire};
    let Some((first, data)) = data.split_first() else { return };
    let step = usize::from(*first).max(1);
    let Ok(Some((head, used))) = wire::parse_head(data, &http::Method::POST) else { return };
    let mut decoder = BodyDecoder::new(head.framing);
    let mut buf = bytes::BytesMut::new();
    let (mut fed, mut out) = (0usize, 0usize);
    for piece in data[used..].chunks(step) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        while let Ok(Some(d)) = decoder.decode(&mut buf) {
            out += d.len();
        }
        assert!(out <= fed, "decoded more than was fed");
    }
    let _ = decoder.eof();
}
