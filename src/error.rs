//! The one error type of the request path, and its one map to HTTP statuses.
//!
//! Handlers return `Err(Error)`; [`Error::response`] turns it into a response with `status()`
//! and a body that is the reason phrase (never `to_string()` of a cause, never a host path), and
//! the connection closes when `must_close()` says so. Everything that becomes an `Error` is
//! mapped here: file-system lookups, body reads, parse failures.

use std::io;

use crate::fs::path::{ResolveError, is_absent};
use crate::http::body::BodyError;
use crate::http::multipart::Malformed;
use crate::http::parse::ParseError;
use crate::http::response::Response;

/// Everything that can stop a request short of a normal response.
#[derive(Debug)]
pub enum Error {
    /// The request head could not be parsed or violated the protocol.
    Parse(ParseError),
    /// A malformed request that parsed: bad path, bad chunk, bad body (400).
    BadRequest(&'static str),
    /// The request head or a body gap took too long (408).
    Timeout,
    /// `Content-Length` or a chunked body over `max_body_bytes` (413).
    BodyTooLarge,
    /// No such file, or hidden by policy (404).
    NotFound,
    /// Refused by policy or by the file system (403).
    Forbidden,
    /// Credentials missing or wrong (401 with `WWW-Authenticate`).
    Unauthorized,
    /// The method is not allowed here; carries the `Allow` value (405).
    MethodNotAllowed(String),
    /// A method the server does not implement (501).
    NotImplemented,
    /// A precondition header failed (412).
    PreconditionFailed,
    /// The write conflicts with what is on disk (409).
    Conflict,
    /// The disk is full (507).
    InsufficientStorage,
    /// Over `max_connections` (503 with `Retry-After`).
    Overloaded,
    /// An I/O error on the file system (500 unless mapped below).
    Io(io::Error),
}

impl Error {
    /// The status code a client receives for this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::Parse(ParseError::Malformed(_)) | Error::BadRequest(_) => 400,
            Error::Parse(ParseError::UriTooLong) => 414,
            Error::Parse(ParseError::HeadTooLarge) => 431,
            Error::Parse(ParseError::VersionNotSupported) => 505,
            Error::Parse(ParseError::UnsupportedCoding) | Error::NotImplemented => 501,
            Error::Timeout => 408,
            Error::BodyTooLarge => 413,
            Error::NotFound => 404,
            Error::Forbidden => 403,
            Error::Unauthorized => 401,
            Error::MethodNotAllowed(_) => 405,
            Error::PreconditionFailed => 412,
            Error::Conflict => 409,
            Error::InsufficientStorage => 507,
            Error::Overloaded => 503,
            Error::Io(e) => io_status(e),
        }
    }

    /// True when the connection cannot carry another request after this error.
    /// Every parse error closes: the framing of what follows can no longer be trusted.
    pub fn must_close(&self) -> bool {
        matches!(
            self,
            Error::Parse(_)
                | Error::BadRequest(_)
                | Error::Timeout
                | Error::BodyTooLarge
                | Error::Overloaded
        )
    }
}

/// Maps a file-system error to a status without exposing its text.
fn io_status(e: &io::Error) -> u16 {
    match e.kind() {
        _ if is_absent(e) => 404,
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => 403,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => 507,
        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::IsADirectory => 409,
        _ => 500,
    }
}

impl Error {
    /// The response a client receives for this error: the status, the headers that status
    /// requires, and the reason phrase as a short text body.
    pub fn response(&self) -> Response {
        let response = Response::text(self.status());
        match self {
            Error::MethodNotAllowed(allow) => response.header("Allow", allow.clone()),
            Error::Unauthorized => response.header("WWW-Authenticate", "Basic realm=\"shelf\""),
            Error::Overloaded => response.header("Retry-After", "1"),
            _ => response,
        }
    }
}

/// An I/O error, from the file system or from a request body. A body's reader marks what the
/// client did wrong ([`BodyError`], a multipart [`Malformed`]), so a plain `?` on a body read
/// answers 400, 408 or 413 rather than 500.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        let inner = e.get_ref();
        if let Some(body) = inner.and_then(|i| i.downcast_ref::<BodyError>()) {
            return match body {
                BodyError::Malformed => Error::BadRequest("malformed body"),
                BodyError::TooLarge => Error::BodyTooLarge,
                BodyError::Timeout => Error::Timeout,
            };
        }
        if inner.is_some_and(|i| i.is::<Malformed>()) {
            return Error::BadRequest("malformed multipart body");
        }
        Error::Io(e)
    }
}

impl From<ResolveError> for Error {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::NotFound => Error::NotFound,
            ResolveError::Io(e) => Error::Io(e),
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}
