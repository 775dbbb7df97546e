//! The `Depth` header (RFC 4918 §10.2): how far below a folder a method reaches.

use crate::error::Error;
use crate::http::parse::Head;

/// A `Depth` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The resource alone.
    Zero,
    /// The resource and its immediate members.
    One,
    /// The resource and everything below it.
    Infinity,
}

/// The request's `Depth`, `None` when absent (each method says what that means). RFC 4918
/// §10.2: `Depth = "Depth" ":" ("0" | "1" | "infinity")`; anything else, or the header
/// twice, is 400.
pub fn depth(head: &Head) -> Result<Option<Depth>, Error> {
    let mut values = head.header_all("depth");
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::BadRequest("the Depth header is repeated"));
    }
    match value {
        b"0" => Ok(Some(Depth::Zero)),
        b"1" => Ok(Some(Depth::One)),
        v if v.eq_ignore_ascii_case(b"infinity") => Ok(Some(Depth::Infinity)),
        _ => Err(Error::BadRequest("Depth must be 0, 1 or infinity")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{Limits, Parsed, parse_request};

    #[test]
    fn depth_rows() {
        let rows: &[(&str, Result<Option<Depth>, u16>)] = &[
            ("Depth: 2\r\n", Err(400)),
            ("Depth: -1\r\n", Err(400)),
            ("Depth: infinite\r\n", Err(400)),
            ("Depth: 0\r\nDepth: 1\r\n", Err(400)),
            ("Depth: 01\r\n", Err(400)),
            ("", Ok(None)),
            ("Depth: 0\r\n", Ok(Some(Depth::Zero))),
            ("Depth: 1\r\n", Ok(Some(Depth::One))),
            ("Depth: infinity\r\n", Ok(Some(Depth::Infinity))),
            ("Depth: Infinity\r\n", Ok(Some(Depth::Infinity))),
        ];
        let limits = Limits {
            max_head_bytes: 16384,
            max_uri_bytes: 8192,
        };
        for (extra, want) in rows {
            let raw = format!("COPY /a HTTP/1.1\r\nHost: h\r\n{extra}\r\n");
            let Ok(Parsed::Complete { head, .. }) = parse_request(raw.as_bytes(), &limits) else {
                panic!("{extra}");
            };
            assert_eq!(depth(&head).map_err(|e| e.status()), *want, "{extra}");
        }
    }
}
