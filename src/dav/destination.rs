//! The two headers of COPY and MOVE beyond the request line: where to (`Destination`, RFC 4918
//! §10.3) and whether a resource there may be replaced (`Overwrite`, §10.6).
//!
//! Only the syntax and the host are judged here. The path that comes out is still
//! percent-encoded: the dispatcher decodes, normalises and routes it exactly like a request
//! target, so one set of rules confines both.

use crate::error::Error;
use crate::fs::tree::Existing;
use crate::http::parse::Head;

/// The path part (still percent-encoded, without its query) of the request's `Destination`.
///
/// RFC 4918 §10.3: `Destination = Simple-ref`, an absolute URI or an absolute path. A URI must
/// name this server, judged by the request's `Host` (a default port written or not is the
/// same): another host is 502 (§9.8.5: "the destination server … refuses"; shelf proxies
/// nowhere). A missing, repeated or malformed value is 400.
pub fn destination(head: &Head) -> Result<&str, Error> {
    let value = single(head, "destination")?
        .ok_or(Error::BadRequest("COPY and MOVE need a Destination header"))?;
    // RFC 3986 §3.5: a fragment is never part of what is sent, so it cannot be meant here.
    if value.contains('#') {
        return Err(Error::BadRequest("the Destination has a #fragment"));
    }
    let path = match value.starts_with('/') {
        true => value,
        false => same_server_path(value, head.header("host"))?,
    };
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
    // `//x` reads as an authority: a path must start with exactly one `/`.
    if path.starts_with("//") {
        return Err(Error::BadRequest(
            "the Destination path must start with one /",
        ));
    }
    Ok(path)
}

/// The path (and query) of the absolute URI `uri`, when it names the server `host` answers as.
fn same_server_path<'v>(uri: &'v str, host: Option<&str>) -> Result<&'v str, Error> {
    let malformed = || Error::BadRequest("the Destination is neither an absolute URI nor a path");
    let (scheme, rest) = uri.split_once("://").ok_or_else(malformed)?;
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(malformed());
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        // Another scheme is another server, whatever its host.
        _ => return Err(Error::OtherServer),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    // RFC 9110 §4.2.4: a recipient "SHOULD … treat the presence of userinfo as an error".
    if authority.contains('@') {
        return Err(Error::BadRequest("the Destination has user information"));
    }
    let host = host.ok_or(Error::BadRequest(
        "a Destination URI needs a Host header to compare with",
    ))?;
    if without_default_port(authority, default_port) != without_default_port(host, default_port) {
        return Err(Error::OtherServer);
    }
    // RFC 9110 §4.2.3: an empty path in an http(s) URI is `/`.
    Ok(if path.is_empty() || path.starts_with('?') {
        "/"
    } else {
        path
    })
}

/// `authority` in lower case, without its port when that is `default` (or empty).
fn without_default_port(authority: &str, default: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    // The port follows the last `:` that is not inside an IPv6 literal's brackets.
    let port_at = authority
        .rfind(':')
        .filter(|&colon| !authority[colon..].contains(']'));
    let Some(colon) = port_at else {
        return authority;
    };
    let port = &authority[colon + 1..];
    match port.is_empty() || port == default {
        true => authority[..colon].to_string(),
        false => authority,
    }
}

/// What `Overwrite` asks (RFC 4918 §10.6): `T` (also when absent, §9.8.4) replaces, `F`
/// keeps what is there (412).
pub fn overwrite(head: &Head) -> Result<Existing, Error> {
    match single(head, "overwrite")? {
        None | Some("T") => Ok(Existing::Replace),
        Some("F") => Ok(Existing::Keep),
        Some(_) => Err(Error::BadRequest("Overwrite must be T or F")),
    }
}

/// The one value of header `name`: `None` when absent; 400 when repeated or not UTF-8.
fn single<'h>(head: &'h Head, name: &str) -> Result<Option<&'h str>, Error> {
    let mut values = head.header_all(name);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::BadRequest("a WebDAV header is repeated"));
    }
    let text = std::str::from_utf8(first)
        .map_err(|_| Error::BadRequest("a WebDAV header is not UTF-8"))?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{Limits, Parsed, parse_request};

    fn head(host: &str, extra: &str) -> Head {
        let raw = format!("COPY /a HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n");
        let limits = Limits {
            max_head_bytes: 16384,
            max_uri_bytes: 8192,
        };
        match parse_request(raw.as_bytes(), &limits) {
            Ok(Parsed::Complete { head, .. }) => head,
            other => panic!("{extra}: {other:?}"),
        }
    }

    /// (Host, Destination value, the path or the status). Hostile rows first.
    #[test]
    fn destination_rows() {
        let rows: &[(&str, &str, Result<&str, u16>)] = &[
            ("h", "http://evil.example/x", Err(502)),
            ("h:8080", "http://h:8081/x", Err(502)),
            ("h:8080", "http://h/x", Err(502)),
            ("h", "http://h.evil.example/x", Err(502)),
            ("h", "ftp://h/x", Err(502)),
            ("h", "http://user@h/x", Err(400)),
            ("h", "//evil.example/x", Err(400)),
            ("h", "http://h//evil.example/x", Err(400)),
            ("h", "/x#frag", Err(400)),
            ("h", "x/y", Err(400)),
            ("h", "", Err(400)),
            ("h", "://h/x", Err(400)),
            ("h", "ht tp://h/x", Err(400)),
            // Dot segments and escapes pass through: the dispatcher normalises (and refuses).
            ("h", "/a/../../etc/passwd", Ok("/a/../../etc/passwd")),
            ("h", "http://h/%2e%2e/x", Ok("/%2e%2e/x")),
            // Ordinary rows.
            ("h", "/b", Ok("/b")),
            ("h", "/b?q=1", Ok("/b")),
            ("h", "http://h/b%20c", Ok("/b%20c")),
            ("H", "HTTP://h/b", Ok("/b")),
            ("h", "http://h:80/b", Ok("/b")),
            ("h:80", "http://h/b", Ok("/b")),
            ("h:443", "https://h/b", Ok("/b")),
            ("h", "https://h:443/b", Ok("/b")),
            (
                "127.0.0.1:8080",
                "http://127.0.0.1:8080/litmus/x",
                Ok("/litmus/x"),
            ),
            ("[::1]:8080", "http://[::1]:8080/x", Ok("/x")),
            ("[::1]", "http://[::1]:80/x", Ok("/x")),
            ("h", "http://h", Ok("/")),
            ("h", "http://h?x", Ok("/")),
        ];
        for (host, value, want) in rows {
            let head = head(host, &format!("Destination: {value}\r\n"));
            match (destination(&head), want) {
                (Ok(path), Ok(want)) => assert_eq!(path, *want, "{value}"),
                (Err(e), Err(status)) => assert_eq!(e.status(), *status, "{value}"),
                (got, want) => panic!("{value}: want {want:?}, got {got:?}"),
            }
        }
        let twice = head("h", "Destination: /a\r\nDestination: /b\r\n");
        assert_eq!(destination(&twice).unwrap_err().status(), 400);
        assert_eq!(destination(&head("h", "")).unwrap_err().status(), 400);
    }

    #[test]
    fn overwrite_rows() {
        let rows: &[(&str, Result<Existing, u16>)] = &[
            ("Overwrite: t\r\n", Err(400)),
            ("Overwrite: yes\r\n", Err(400)),
            ("Overwrite: T\r\nOverwrite: F\r\n", Err(400)),
            ("", Ok(Existing::Replace)),
            ("Overwrite: T\r\n", Ok(Existing::Replace)),
            ("Overwrite: F\r\n", Ok(Existing::Keep)),
        ];
        for (extra, want) in rows {
            let got = overwrite(&head("h", extra)).map_err(|e| e.status());
            assert_eq!(got, *want, "{extra}");
        }
    }
}
