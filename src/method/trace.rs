//! TRACE: the request head echoed back, minus credentials.

use std::borrow::Cow;

use crate::error::Error;
use crate::http::response::{Body, Response};
use crate::request::Request;

/// Fields never echoed: they carry secrets a script in the page could read (RFC 9110 §9.3.8).
const REDACTED: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// 200 with `message/http`: the request line and header lines as received.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &Request<'_>) -> Result<Response, Error> {
    let body = echo(req.head.raw());
    Ok(Response::new(200)
        .header("Content-Type", "message/http")
        .body(Body::Bytes(Cow::Owned(body))))
}

/// The raw head with redacted lines dropped, line ends kept as they arrived.
fn echo(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let redacted = REDACTED
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r.as_bytes()));
        if !redacted {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped() {
        let raw = b"TRACE / HTTP/1.1\r\nHost: a\r\nAUTHORIZATION: Basic x\r\nCookie: c=1\r\nproxy-authorization: y\r\nX-Cookie: kept\r\n\r\n";
        let out = echo(raw);
        assert_eq!(
            out,
            b"TRACE / HTTP/1.1\r\nHost: a\r\nX-Cookie: kept\r\n\r\n"
        );
    }
}
