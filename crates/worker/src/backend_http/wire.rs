//! HTTP/1.1 on the wire: a request's head written out, an answer's head parsed (by
//! `httparse`) and its body framing decided (RFC 9112 §6.3). No I/O here.

use bytes::{BufMut, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::decode::Framing;

/// Longest answer head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in an answer head.
const MAX_HEADERS: usize = 100;

/// Why an answer's head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("malformed answer head: {0}")]
    Malformed(String),
    #[error("answer head longer than {MAX_HEAD} bytes")]
    TooLong,
    #[error("invalid content-length")]
    ContentLength,
    #[error("status {0} is not supported")]
    Status(u16),
}

/// A parsed answer head.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection may carry another request after this answer.
    pub keep_alive: bool,
}

/// Writes a request head: `path` is the request target; `Host` and `Content-Length` are set
/// here (any the caller gave are left out), and the connection is kept alive.
pub fn encode_request(
    method: &Method,
    path: &str,
    host: &HeaderValue,
    headers: &HeaderMap,
    body_len: usize,
    dst: &mut BytesMut,
) {
    dst.reserve(128 + path.len() + headers.len() * 32);
    dst.put_slice(method.as_str().as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(path.as_bytes());
    dst.put_slice(b" HTTP/1.1\r\nhost: ");
    dst.put_slice(host.as_bytes());
    dst.put_slice(b"\r\n");
    for (name, value) in headers {
        if name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        dst.put_slice(name.as_str().as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(value.as_bytes());
        dst.put_slice(b"\r\n");
    }
    if body_len > 0 || method == Method::POST || method == Method::PUT || method == Method::PATCH {
        dst.put_slice(b"content-length: ");
        dst.put_slice(body_len.to_string().as_bytes());
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
}

/// Parses an answer head from the start of `buf`: the head and its length, or `None` when
/// more bytes are needed. Interim (1xx) answers are skipped, their length included.
pub fn parse_head(buf: &[u8], method: &Method) -> Result<Option<(Head, usize)>, HeadError> {
    let mut at = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut fields);
        let used = match res.parse(&buf[at..]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(HeadError::TooLong),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HeadError::Malformed(e.to_string())),
        };
        let code = res.code.unwrap_or(0);
        if (100..200).contains(&code) {
            if code == 101 {
                return Err(HeadError::Status(code));
            }
            at += used;
            continue;
        }
        let status = StatusCode::from_u16(code).map_err(|_| HeadError::Status(code))?;
        let version = if res.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
        let mut headers = HeaderMap::with_capacity(res.headers.len());
        for f in res.headers.iter() {
            let name = HeaderName::from_bytes(f.name.as_bytes())
                .map_err(|_| HeadError::Malformed(format!("header name {:?}", f.name)))?;
            let value = HeaderValue::from_bytes(f.value)
                .map_err(|_| HeadError::Malformed(format!("value of header {:?}", f.name)))?;
            headers.append(name, value);
        }
        let (framing, reusable) = framing(&headers, status, method)?;
        let keep_alive = reusable && version == Version::HTTP_11 && !says_close(&headers);
        return Ok(Some((Head { status, version, headers, framing, keep_alive }, at + used)));
    }
}

/// How the body is delimited, and whether that framing leaves the connection usable after it.
fn framing(h: &HeaderMap, status: StatusCode, method: &Method) -> Result<(Framing, bool), HeadError> {
    if method == Method::HEAD || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((Framing::Empty, true));
    }
    if h.contains_key(header::TRANSFER_ENCODING) {
        // The last coding decides; with a Content-Length too, the message is suspect and the
        // connection is not reused.
        let chunked = h
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        let reusable = chunked && !h.contains_key(header::CONTENT_LENGTH);
        return Ok((if chunked { Framing::Chunked } else { Framing::Close }, reusable));
    }
    let mut length = None;
    for v in h.get_all(header::CONTENT_LENGTH) {
        for part in v.to_str().map_err(|_| HeadError::ContentLength)?.split(',') {
            let n: u64 = part.trim().parse().map_err(|_| HeadError::ContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::ContentLength);
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(n) => (Framing::Length(n), true),
        None => (Framing::Close, false),
    })
}

/// Whether `Connection: close` is among the headers.
fn says_close(h: &HeaderMap) -> bool {
    h.get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("close"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<Option<(Head, usize)>, HeadError> {
        parse_head(raw.as_bytes(), &Method::POST)
    }

    #[test]
    fn a_request_head_names_host_and_length_once() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(header::HOST, HeaderValue::from_static("evil"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("999"));
        let mut out = BytesMut::new();
        encode_request(&Method::POST, "/v1/chat/completions", &HeaderValue::from_static("b:80"), &h, 12, &mut out);
        assert_eq!(
            &out[..],
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: b:80\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n"
        );
        let mut out = BytesMut::new();
        encode_request(&Method::GET, "/v1/models", &HeaderValue::from_static("b:80"), &HeaderMap::new(), 0, &mut out);
        assert_eq!(&out[..], b"GET /v1/models HTTP/1.1\r\nhost: b:80\r\n\r\n");
    }

    #[test]
    fn framing_follows_the_rfc() {
        let (h, n) = head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nrest").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive, n), (Framing::Chunked, true, 47));
        let (h, _) = head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(5), true));
        let (h, _) = head("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\nconnection: close\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(5), false));
        let (h, _) = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let (h, _) = head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let (h, _) =
            head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let (h, _) = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let (h, _) = head("HTTP/1.1 204 No Content\r\ncontent-length: 7\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.framing, Framing::Empty);
        let (h, _) = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n", &Method::HEAD).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Empty);
    }

    #[test]
    fn interim_answers_are_skipped() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
        let (h, n) = head(raw).unwrap().unwrap();
        assert_eq!((h.status, n), (StatusCode::CREATED, raw.len()));
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2").unwrap().map(|(_, n)| n), None);
        assert_eq!(head("HTTP/1.1 101 Switching\r\n\r\n").unwrap_err(), HeadError::Status(101));
    }

    #[test]
    fn bad_heads_are_refused() {
        assert_eq!(head("HTTP/1.1 200 OK\r\ncontent-len").unwrap().map(|(_, n)| n), None);
        assert!(matches!(head("HTTX/1.1 200 OK\r\n\r\n"), Err(HeadError::Malformed(_))));
        assert_eq!(head("HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n").unwrap_err(), HeadError::ContentLength);
        assert_eq!(head("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").unwrap_err(), HeadError::ContentLength);
        let mut long = "HTTP/1.1 200 OK\r\n".to_string();
        long.push_str(&"x-a: b\r\n".repeat(MAX_HEAD / 8 + 1));
        assert!(head(&long).is_err());
    }
}
