//! The request-head parser: a pure function over a caller-owned buffer (no I/O).
//!
//! `parse_request` returns `Partial` until the head is complete, then a fully validated
//! [`Head`] (syntax, `Host`, framing) and the number of bytes it used.

use super::{Method, Version};

/// Size limits the parser enforces before anything grows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line + header lines, including line ends (`max_header_bytes`).
    pub max_head_bytes: usize,
    /// The request target alone (`max_uri_bytes`).
    pub max_uri_bytes: usize,
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length: n` (n may be 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a head was refused. Each maps to one status in `error.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// 400: the reason is for logs, never for the client.
    Malformed(&'static str),
    /// 414.
    UriTooLong,
    /// 431.
    HeadTooLarge,
    /// 505.
    VersionNotSupported,
    /// 501: a transfer coding other than chunked.
    UnsupportedCoding,
}

/// The outcome of one parse attempt.
#[derive(Debug)]
pub enum Parsed {
    /// More bytes are needed (and the limits are not yet exceeded).
    Partial,
    /// A complete, validated head that used `consumed` bytes of the buffer.
    Complete { head: Head, consumed: usize },
}

/// A parsed request head. Owns a copy of the head bytes; accessors borrow from it.
#[derive(Debug, Clone)]
pub struct Head {
    _private: (),
}

/// Parses one request head from the start of `buf`.
pub fn parse_request(_buf: &[u8], _limits: &Limits) -> Result<Parsed, ParseError> {
    let _ = (Method::Get, Version::Http11);
    Err(ParseError::Malformed("not yet implemented"))
}
