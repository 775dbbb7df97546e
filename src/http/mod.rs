//! The HTTP/1.1 wire protocol: request parsing, body framing, response writing.

pub mod accept;
pub mod body;
pub mod encode;
pub mod multipart;
pub mod parse;
pub mod response;

use std::fmt;

/// A request method. Unknown tokens are kept so that they can be answered 501.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Trace,
    Connect,
    /// WebDAV (RFC 4918 §9): properties, collections, namespace operations and locks.
    Propfind,
    Proppatch,
    Mkcol,
    Copy,
    Move,
    Lock,
    Unlock,
    /// A syntactically valid token the server does not implement.
    Other(String),
}

impl Method {
    /// The HTTP methods that change what is stored: refused unless an `[[acl]]` rule names them.
    pub const WRITES: [Method; 4] = [Method::Put, Method::Post, Method::Patch, Method::Delete];

    /// The WebDAV methods, served only with `[webdav] enabled = true`, in the order `Allow`
    /// lists them.
    pub const WEBDAV: [Method; 7] = [
        Method::Propfind,
        Method::Proppatch,
        Method::Mkcol,
        Method::Copy,
        Method::Move,
        Method::Lock,
        Method::Unlock,
    ];

    /// Every HTTP method the server implements, in the order `Allow` lists them.
    pub const IMPLEMENTED: [Method; 8] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
        Method::Trace,
    ];

    /// Parses a method token (case-sensitive, RFC 9110 §9.1).
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            "PROPFIND" => Method::Propfind,
            "PROPPATCH" => Method::Proppatch,
            "MKCOL" => Method::Mkcol,
            "COPY" => Method::Copy,
            "MOVE" => Method::Move,
            "LOCK" => Method::Lock,
            "UNLOCK" => Method::Unlock,
            other => Method::Other(other.to_string()),
        }
    }

    /// The method's token as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Propfind => "PROPFIND",
            Method::Proppatch => "PROPPATCH",
            Method::Mkcol => "MKCOL",
            Method::Copy => "COPY",
            Method::Move => "MOVE",
            Method::Lock => "LOCK",
            Method::Unlock => "UNLOCK",
            Method::Other(s) => s,
        }
    }

    /// True for the methods that change files: PUT, POST, PATCH, DELETE, and every WebDAV
    /// method but PROPFIND (which reads). COPY writes its destination; LOCK creates a file at an
    /// unmapped URL and keeps others from writing.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Method::Get
                | Method::Head
                | Method::Options
                | Method::Trace
                | Method::Connect
                | Method::Propfind
                | Method::Other(_)
        )
    }

    /// True for the WebDAV methods.
    pub fn is_webdav(&self) -> bool {
        Method::WEBDAV.contains(self)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol version of a request. HTTP/1.x with x > 1 is read as 1.1 (RFC 9110 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    /// The version as written in a status line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}
