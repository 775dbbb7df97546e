//! The one error type of the request path, its one map to HTTP statuses, and the one place
//! its body text is written.
//!
//! Handlers return `Err(Error)`; [`Error::response`] turns it into a response with `status()`
//! and a body of one line: the status, the reason phrase and, where it helps, why — a fixed
//! phrase carried by the variant, set where the cause is known (never `to_string()` of a
//! cause, never a host path). [`Error::page`] is the same as a small HTML page for a browser.
//! The connection closes when `must_close()` says so. Everything that becomes an `Error` is
//! mapped here: file-system lookups, body reads, parse failures.

use std::borrow::Cow;
use std::io;

use crate::fs::path::{ResolveError, is_absent};
use crate::http::body::BodyError;
use crate::http::multipart::Malformed;
use crate::http::parse::ParseError;
use crate::http::response::{Body, Response};

/// Everything that can stop a request short of a normal response.
#[derive(Debug)]
pub enum Error {
    /// The request head could not be parsed or violated the protocol.
    Parse(ParseError),
    /// A malformed request that parsed: bad path, bad chunk, bad body (400); the phrase says
    /// what is wrong and is shown to the client.
    BadRequest(&'static str),
    /// The request head or a body gap took too long (408).
    Timeout(Phase),
    /// `Content-Length`, a chunked body or its trailers over their limit (413).
    BodyTooLarge(Oversize),
    /// No such file, or hidden by policy (404).
    NotFound,
    /// Refused by policy (403); the file system's refusals come as `Io`.
    Forbidden(Refusal),
    /// Credentials missing or wrong (401 with `WWW-Authenticate`).
    Unauthorized(Login),
    /// The method is not allowed here (405).
    MethodNotAllowed {
        /// The `Allow` value: what this client may use here instead.
        allow: String,
        /// Why this method is not.
        why: NotAllowed,
    },
    /// A method the server does not implement (501).
    NotImplemented,
    /// A precondition header failed (412).
    PreconditionFailed,
    /// The write conflicts with what is on disk (409).
    Conflict(Clash),
    /// The disk is full (507).
    InsufficientStorage,
    /// WebDAV: a lock someone else holds covers the target, and its token was not submitted
    /// (423, RFC 4918 §11.3).
    Locked,
    /// WebDAV: a precondition of RFC 4918 §16 failed; the body is its XML error element.
    Dav(DavCondition),
    /// WebDAV: the lock table is full (507): a LOCK waits until locks are released or expire.
    TooManyLocks,
    /// WebDAV: a request body the method does not take, such as MKCOL's (415).
    UnsupportedMediaType,
    /// WebDAV: a COPY or MOVE `Destination` on another server (502, RFC 4918 §9.8.5).
    OtherServer,
    /// Over `max_connections` (503 with `Retry-After`).
    Overloaded,
    /// An I/O error on the file system (500 unless mapped below).
    Io(io::Error),
}

/// Which part of a request came too slowly (408).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The request head, within `header_timeout_s`.
    Head,
    /// A gap in the body longer than `body_timeout_s`.
    Body,
}

/// What was over its limit (413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// The body, declared or as it arrived, over `max_body_bytes` (the limit in force).
    Body {
        /// `max_body_bytes`.
        limit: u64,
    },
    /// A chunked body's trailer section, over `max_header_bytes`.
    Trailers,
    /// A WebDAV XML body over its own limits: its size, or how many elements it has or how
    /// deeply they nest (`dav::xml`).
    Xml,
}

/// Why policy refused (403). It names the kind of rule, never the rule: not its path, its
/// addresses or its users, nor the client's own address or name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address is in a rule's `deny`, or outside its `allow`.
    Address,
    /// Valid credentials, but the user is not among the rule's `users`.
    User,
    /// A folder without an index file while `listing = false`.
    Listing,
    /// A write no `[[acl]]` rule names (the dispatcher answers 405 before; this backs it up).
    WritesClosed,
    /// The root (or a `dir` route's folder) itself is never deleted.
    Root,
    /// A form posted from a page of another site (cross-site request forgery).
    CrossSite,
    /// A COPY or MOVE whose destination is its source (RFC 4918 §9.8.5).
    SameResource,
    /// A COPY or MOVE of a folder into itself, or over a folder that holds the source.
    Nested,
    /// A COPY or MOVE to where no `[[acl]]` rule lets this method write, or to a route that
    /// serves no folder.
    DestinationClosed,
}

/// A WebDAV precondition that failed (RFC 4918 §16), with what the client needs to act on it.
/// The hrefs are percent-encoded absolute paths (`http::encode::encode_path`), safe in XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavCondition {
    /// 423: a lock rooted at this href covers the target, and its token was not submitted.
    LockTokenSubmitted(String),
    /// 423: a LOCK conflicts with the locks rooted at these hrefs.
    NoConflictingLock(Vec<String>),
    /// 409: UNLOCK's `Lock-Token` names no lock whose scope holds the request URI.
    LockTokenMatchesRequestUri,
}

/// Why credentials did not do (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// No Basic credentials were sent.
    Missing,
    /// The user is unknown or the password wrong: the two are never told apart.
    Rejected,
}

/// Why a method is refused here whoever asks (405).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAllowed {
    /// A write where no `[[acl]]` rule names it.
    Writes,
    /// A write to a `file` or fixed route: there is no folder to write into.
    ReadOnly,
    /// TRACE while `trace = false`.
    TraceOff,
    /// CONNECT: shelf is not a proxy.
    Connect,
    /// MKCOL where something exists already (RFC 4918 §9.3.1: only an unmapped URL).
    Mapped,
}

/// What a write ran into (409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// A file write (PUT, PATCH) aimed at a folder.
    Folder,
    /// A PUT to a path ending in `/`, which names a folder.
    TrailingSlash,
    /// A POST (an upload) aimed at a file rather than a folder.
    NotAFolder,
    /// Every numbered variant of an uploaded file's name is taken.
    NamesTaken,
    /// A write's path runs through a file where it needs a folder (`/file.txt/child`).
    FileInTheWay,
    /// A WebDAV write whose folder does not exist: WebDAV never creates the folders above.
    NoParent,
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
            Error::Timeout(_) => 408,
            Error::BodyTooLarge(_) => 413,
            Error::NotFound => 404,
            Error::Forbidden(_) => 403,
            Error::Unauthorized(_) => 401,
            Error::MethodNotAllowed { .. } => 405,
            Error::PreconditionFailed => 412,
            Error::Conflict(_) => 409,
            Error::InsufficientStorage => 507,
            Error::Locked => 423,
            Error::Dav(condition) => condition.status(),
            Error::TooManyLocks => 507,
            Error::UnsupportedMediaType => 415,
            Error::OtherServer => 502,
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
                | Error::Timeout(_)
                | Error::BodyTooLarge(_)
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
    /// requires, and its one line (status, reason phrase, why) as a short text body.
    pub fn response(&self) -> Response {
        if let Error::Dav(condition) = self {
            return condition.response();
        }
        self.with_headers(Response::error_text(self.status(), self.why().as_deref()))
    }

    /// The same error as a small HTML page for a browser, with a link back to the folder
    /// `back` (a decoded URL path).
    pub fn page(&self, back: &str) -> Response {
        // A WebDAV client reads the XML element; a browser has no use for a page about it.
        if let Error::Dav(condition) = self {
            return condition.response();
        }
        let why = self.why();
        self.with_headers(Response::error_page(self.status(), why.as_deref(), back))
    }

    /// Adds the headers this error's status requires.
    fn with_headers(&self, response: Response) -> Response {
        match self {
            Error::MethodNotAllowed { allow, .. } => response.header("Allow", allow.clone()),
            Error::Unauthorized(_) => response.header("WWW-Authenticate", "Basic realm=\"shelf\""),
            Error::Overloaded => response.header("Retry-After", "1"),
            _ => response,
        }
    }

    /// Why, in a few words a client can act on; `None` where the status says it all (404).
    /// The only text an error shows: fixed phrases, the `Allow` list and a configured limit.
    fn why(&self) -> Option<Cow<'static, str>> {
        let why: &'static str = match self {
            Error::Parse(e) => parse_why(*e),
            Error::BadRequest(why) => why,
            Error::Timeout(Phase::Head) => {
                "the request head did not arrive within header_timeout_s"
            }
            Error::Timeout(Phase::Body) => "the request body paused longer than body_timeout_s",
            Error::BodyTooLarge(Oversize::Body { limit }) => {
                return Some(format!("the body is over max_body_bytes ({limit} bytes)").into());
            }
            Error::BodyTooLarge(Oversize::Trailers) => {
                "the chunked body's trailers are over max_header_bytes"
            }
            Error::BodyTooLarge(Oversize::Xml) => {
                "the XML body is over 1 MiB, 10,000 elements or 64 levels of nesting"
            }
            Error::NotFound => return None,
            Error::Forbidden(refusal) => refusal_why(*refusal),
            Error::Unauthorized(Login::Missing) => "log in to continue",
            Error::Unauthorized(Login::Rejected) => "wrong user name or password",
            Error::MethodNotAllowed { allow, why } => return Some(not_allowed_why(*why, allow)),
            Error::NotImplemented => "shelf does not know this method",
            Error::PreconditionFailed => "the file does not meet the request's If-* conditions",
            Error::Conflict(clash) => clash_why(*clash),
            Error::InsufficientStorage => "the disk is full",
            Error::Locked => "a lock covers this resource; submit its token in an If header",
            Error::Dav(_) => return None,
            Error::TooManyLocks => {
                "too many locks are held; unlock some or wait for them to expire"
            }
            Error::UnsupportedMediaType => "this method takes no body of that kind",
            Error::OtherServer => "the destination is on another server",
            Error::Overloaded => "too many connections; try again in a moment",
            Error::Io(e) => io_why(e)?,
        };
        Some(Cow::Borrowed(why))
    }
}

impl DavCondition {
    /// The status a failed precondition answers with.
    pub fn status(&self) -> u16 {
        match self {
            DavCondition::LockTokenSubmitted(_) | DavCondition::NoConflictingLock(_) => 423,
            DavCondition::LockTokenMatchesRequestUri => 409,
        }
    }

    /// RFC 4918 §16: the status, and a body holding the `DAV:error` element that names the
    /// precondition (with the hrefs of the locks in the way).
    fn response(&self) -> Response {
        let (element, hrefs): (&str, &[String]) = match self {
            DavCondition::LockTokenSubmitted(href) => {
                ("lock-token-submitted", std::slice::from_ref(href))
            }
            DavCondition::NoConflictingLock(hrefs) => ("no-conflicting-lock", hrefs),
            DavCondition::LockTokenMatchesRequestUri => ("lock-token-matches-request-uri", &[]),
        };
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:",
        );
        xml.push_str(element);
        xml.push('>');
        for href in hrefs {
            xml.push_str("<D:href>");
            xml.push_str(href);
            xml.push_str("</D:href>");
        }
        xml.push_str("</D:");
        xml.push_str(element);
        xml.push_str("></D:error>\n");
        Response::new(self.status())
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(Body::Bytes(Cow::Owned(xml.into_bytes())))
    }
}

/// The why of a head the parser refused.
fn parse_why(e: ParseError) -> &'static str {
    match e {
        ParseError::Malformed(why) => why,
        ParseError::UriTooLong => "the request target is over max_uri_bytes",
        ParseError::HeadTooLarge => "the request line and headers are over max_header_bytes",
        ParseError::VersionNotSupported => "shelf speaks HTTP/1.0 and HTTP/1.1",
        ParseError::UnsupportedCoding => "chunked is the only transfer coding shelf accepts",
    }
}

/// The why of a 403. An address refusal says that credentials will not help, a user refusal
/// that another user might; neither says which rule, so a prober learns no more than the
/// status already tells.
fn refusal_why(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Address => "your address may not do this here",
        Refusal::User => "this user may not do this here",
        Refusal::Listing => "folder listings are turned off",
        Refusal::WritesClosed => "writes are not allowed here",
        Refusal::Root => "the root folder cannot be deleted",
        Refusal::CrossSite => "a form on another site may not write here",
        Refusal::SameResource => "the destination is the source itself",
        Refusal::Nested => "a folder cannot go inside itself, nor replace a folder holding it",
        Refusal::DestinationClosed => "writes are not allowed at the destination",
    }
}

/// The why of a 405, with the methods that are allowed here when there are any.
fn not_allowed_why(why: NotAllowed, allow: &str) -> Cow<'static, str> {
    let why = match why {
        NotAllowed::Writes => "writes are not allowed here",
        NotAllowed::ReadOnly => "this path cannot be written",
        NotAllowed::TraceOff => "TRACE is turned off",
        NotAllowed::Connect => "shelf is not a proxy",
        NotAllowed::Mapped => "something exists here already; MKCOL needs a free name",
    };
    match allow.is_empty() {
        true => Cow::Borrowed(why),
        false => Cow::Owned(format!("{why} (allowed: {allow})")),
    }
}

/// The why of a 409.
fn clash_why(clash: Clash) -> &'static str {
    match clash {
        Clash::Folder => "the target is a folder",
        Clash::TrailingSlash => "a path ending in / names a folder, not a file",
        Clash::NotAFolder => "the target is a file; upload into a folder",
        Clash::NamesTaken => "too many files already have this name",
        Clash::FileInTheWay => "a file is in the way: the path needs a folder there",
        Clash::NoParent => "the folder this goes in does not exist; create it first (MKCOL)",
    }
}

/// The why of a file-system error, from its kind alone (its text may hold a host path).
fn io_why(e: &io::Error) -> Option<&'static str> {
    match e.kind() {
        _ if is_absent(e) => None,
        io::ErrorKind::PermissionDenied => Some("the file system refused access"),
        io::ErrorKind::ReadOnlyFilesystem => Some("the file system is read-only"),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Some("the disk is full"),
        io::ErrorKind::DirectoryNotEmpty => Some("the folder is not empty"),
        io::ErrorKind::IsADirectory => Some(clash_why(Clash::Folder)),
        _ => Some("the server's log has the details"),
    }
}

/// An I/O error, from the file system or from a request body. A body's reader marks what the
/// client did wrong ([`BodyError`], a multipart [`Malformed`]), so a plain `?` on a body read
/// answers 400, 408 or 413 rather than 500.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        let inner = e.get_ref();
        if let Some(body) = inner.and_then(|i| i.downcast_ref::<BodyError>()) {
            return match *body {
                BodyError::Malformed => Error::BadRequest("malformed chunked body"),
                BodyError::TooLarge { limit } => Error::BodyTooLarge(Oversize::Body { limit }),
                BodyError::TrailersTooLarge => Error::BodyTooLarge(Oversize::Trailers),
                BodyError::Timeout => Error::Timeout(Phase::Body),
            };
        }
        if let Some(Malformed(why)) = inner.and_then(|i| i.downcast_ref::<Malformed>()) {
            return Error::BadRequest(why);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: Response) -> String {
        match response.body {
            crate::http::response::Body::Bytes(bytes) => String::from_utf8_lossy(&bytes).into(),
            _ => panic!("an error body is bytes"),
        }
    }

    /// Every error's line, one row per why; hostile rows first: I/O errors whose text holds a
    /// host path must show their kind's phrase, never that text.
    #[test]
    fn error_lines() {
        let secret = "/srv/secret/root/file.txt";
        let io = |kind| Error::Io(io::Error::new(kind, secret));
        let rows: Vec<(Error, &str)> = vec![
            (
                io(io::ErrorKind::Other),
                "500 Internal Server Error: the server's log has the details\n",
            ),
            (
                io(io::ErrorKind::PermissionDenied),
                "403 Forbidden: the file system refused access\n",
            ),
            (
                io(io::ErrorKind::ReadOnlyFilesystem),
                "403 Forbidden: the file system is read-only\n",
            ),
            (
                io(io::ErrorKind::QuotaExceeded),
                "507 Insufficient Storage: the disk is full\n",
            ),
            (
                io(io::ErrorKind::DirectoryNotEmpty),
                "409 Conflict: the folder is not empty\n",
            ),
            (
                io(io::ErrorKind::IsADirectory),
                "409 Conflict: the target is a folder\n",
            ),
            (io(io::ErrorKind::NotFound), "404 Not Found\n"),
            (
                Error::MethodNotAllowed {
                    allow: String::new(),
                    why: NotAllowed::Writes,
                },
                "405 Method Not Allowed: writes are not allowed here\n",
            ),
            (
                Error::BodyTooLarge(Oversize::Trailers),
                "413 Content Too Large: the chunked body's trailers are over max_header_bytes\n",
            ),
            (
                Error::Forbidden(Refusal::Root),
                "403 Forbidden: the root folder cannot be deleted\n",
            ),
            (
                Error::Forbidden(Refusal::WritesClosed),
                "403 Forbidden: writes are not allowed here\n",
            ),
            (
                Error::Conflict(Clash::NamesTaken),
                "409 Conflict: too many files already have this name\n",
            ),
            (
                Error::InsufficientStorage,
                "507 Insufficient Storage: the disk is full\n",
            ),
            (
                Error::from(io::Error::from(BodyError::Malformed)),
                "400 Bad Request: malformed chunked body\n",
            ),
        ];
        for (error, want) in rows {
            let line = body(error.response());
            assert_eq!(line, want, "{error:?}");
            let page = body(error.page("/"));
            assert!(!page.contains(secret), "{error:?}: leaks into the page");
        }
    }

    /// The headers a status requires ride on both forms.
    #[test]
    fn required_headers_on_text_and_page() {
        let rows: Vec<(Error, &str, &str)> = vec![
            (
                Error::Unauthorized(Login::Missing),
                "WWW-Authenticate",
                "Basic realm=\"shelf\"",
            ),
            (
                Error::MethodNotAllowed {
                    allow: "GET, HEAD".into(),
                    why: NotAllowed::TraceOff,
                },
                "Allow",
                "GET, HEAD",
            ),
            (Error::Overloaded, "Retry-After", "1"),
        ];
        for (error, name, value) in rows {
            for response in [error.response(), error.page("/")] {
                assert_eq!(response.get_header(name), Some(value), "{error:?}");
            }
        }
    }
}
