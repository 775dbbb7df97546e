//! What a handler is given: the request ([`Request`]), where it maps ([`Target`]) and its body
//! ([`RequestBody`]). Defined below the dispatcher and the connection so that every handler,
//! `routing` and `cors` can take them without importing the layers that call them.

use std::io::{self, BufRead, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::config::{Config, Route, RouteTarget};
use crate::dav::locks::Locks;
use crate::error::Error;
use crate::http::body::{BodyError, ChunkedReader, LengthReader};
use crate::http::parse::{BodyFraming, Head};
use crate::metrics::Metrics;

/// One request as the handlers see it.
pub struct Request<'a> {
    /// The parsed request line and header fields.
    pub head: &'a Head,
    /// The client per `trusted_proxies`: used by `[[acl]]` and the access log.
    pub client: IpAddr,
    /// The configuration snapshot this request runs under, start to end.
    pub config: &'a Arc<Config>,
    /// The server's body cache.
    pub cache: &'a Cache,
    /// The server's counters, for what a handler alone sees (compression).
    pub metrics: &'a Arc<Metrics>,
    /// The WebDAV locks held now (an `Arc`, so a streamed body can keep it).
    pub locks: &'a Arc<Locks>,
    /// The body, read lazily by the handler that wants it.
    pub body: RequestBody<'a>,
    /// The user who authenticated, for the access log.
    pub user: Option<String>,
    /// The request came over TLS.
    pub secure: bool,
    /// The port the HTTPS listener is bound to, if there is one (for `redirect_http`).
    pub https_port: Option<u16>,
    /// The matched `[[route]]`'s `headers`, once dispatch knows them: they go on the answer.
    pub route_headers: Vec<(String, String)>,
}

impl<'a> Request<'a> {
    /// Wraps a parsed head and its body, from `client` (already judged by `trusted_proxies`).
    pub fn new(
        head: &'a Head,
        client: IpAddr,
        config: &'a Arc<Config>,
        cache: &'a Cache,
        metrics: &'a Arc<Metrics>,
        locks: &'a Arc<Locks>,
        body: RequestBody<'a>,
    ) -> Request<'a> {
        Request {
            head,
            client,
            config,
            cache,
            metrics,
            locks,
            body,
            user: None,
            secure: false,
            https_port: None,
            route_headers: Vec::new(),
        }
    }
}

/// The request target, decoded and normalised, and the folder it maps into.
///
/// Two kinds of path sit here: `url_path` and `raw_path` are what the client asked for (what
/// `[[acl]]` judges and what listings and `Location` headers show); `fs_root` and `fs_path` are
/// where that lands on disk (what handlers read and write). Under a `dir` route they differ.
pub struct Target<'a> {
    /// The request path: percent-decoded, dot segments resolved; starts with `/`.
    pub url_path: String,
    /// The path as sent (still encoded), for redirects.
    pub raw_path: &'a str,
    /// The query, without its `?`.
    pub query: Option<&'a str>,
    /// The canonical folder this request maps into: `server.root`, or a `dir` route's folder.
    pub fs_root: &'a Path,
    /// The path inside `fs_root`, starting with `/`.
    pub fs_path: String,
    /// The first `[[route]]` matching `url_path`, if any.
    pub route: Option<&'a Route>,
}

impl Target<'_> {
    /// True for a `file` or fixed route: it serves no folder, so nothing can be written there.
    pub fn is_read_only(&self) -> bool {
        let kind = self.route.map(|route| &route.target);
        matches!(kind, Some(RouteTarget::File(_) | RouteTarget::Fixed { .. }))
    }

    /// `location` with this request's query appended (after an existing query with `&`, and
    /// before a `#fragment`): redirects keep the query the client sent.
    pub fn with_query(&self, location: &str) -> String {
        let Some(query) = self.query else {
            return location.to_string();
        };
        let (base, fragment) = match location.find('#') {
            Some(i) => location.split_at(i),
            None => (location, ""),
        };
        let joint = if base.contains('?') { '&' } else { '?' };
        format!("{base}{joint}{query}{fragment}")
    }
}

/// An unread request body up to this size is read and dropped so the connection can be reused;
/// a larger one closes the connection instead.
const DRAIN_MAX: u64 = 64 * 1024;

/// What a request body reads from: the connection's buffered socket, which also takes the
/// `100 Continue` write and the read deadlines.
pub trait BodyWire: BufRead + Write {
    /// Bounds the next blocking reads.
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

enum State<'a> {
    /// Not yet read; the first read sends `100 Continue` if the client waits for it.
    Unread(&'a mut dyn BodyWire),
    Length(LengthReader<&'a mut dyn BodyWire>),
    Chunked(ChunkedReader<&'a mut dyn BodyWire>),
    /// Fully read, or there was none.
    Done,
    /// Taken apart by a failed read: unusable, the connection must close.
    Broken,
}

/// A request body: a `Read` that frames, limits and times out. Its errors carry a
/// [`BodyError`] where the cause is the client's, so `?` into [`Error`] picks the right status.
pub struct RequestBody<'a> {
    state: State<'a>,
    framing: BodyFraming,
    expect_continue: bool,
    body_timeout: Duration,
    max_body: u64,
    max_trailer: usize,
    /// Body bytes read so far (by the handler, or drained).
    received: u64,
}

impl<'a> RequestBody<'a> {
    /// A body for `head`, read from `wire` under `config`'s limits.
    pub fn new(wire: &'a mut dyn BodyWire, head: &Head, config: &Config) -> Self {
        let framing = head.framing();
        let state = match framing {
            BodyFraming::None | BodyFraming::Length(0) => State::Done,
            _ => State::Unread(wire),
        };
        RequestBody {
            state,
            framing,
            expect_continue: head.expects_continue(),
            body_timeout: config.server.body_timeout,
            max_body: config.server.max_body_bytes,
            max_trailer: config.server.max_header_bytes,
            received: 0,
        }
    }

    /// Body bytes read so far, by the handler or drained by [`settle`](Self::settle).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The declared length, when the body is not chunked.
    pub fn declared_len(&self) -> Option<u64> {
        match self.framing {
            BodyFraming::None => Some(0),
            BodyFraming::Length(n) => Some(n),
            BodyFraming::Chunked => None,
        }
    }

    /// Starts reading: `100 Continue` if expected, the body deadline, the framing reader.
    fn start(&mut self) -> io::Result<()> {
        let State::Unread(wire) = std::mem::replace(&mut self.state, State::Broken) else {
            return Ok(());
        };
        if self.expect_continue {
            wire.write_all(crate::http::response::CONTINUE)?;
        }
        wire.set_read_timeout(self.body_timeout)?;
        self.state = match self.framing {
            BodyFraming::Length(n) => State::Length(LengthReader::new(wire, n)),
            BodyFraming::Chunked => {
                State::Chunked(ChunkedReader::new(wire, self.max_body, self.max_trailer))
            }
            BodyFraming::None => State::Done,
        };
        Ok(())
    }

    /// After the handler: reads and drops a small unread remainder so the connection stays
    /// usable. `Ok(false)` when the connection must close because the body was left
    /// unread; `Err` when draining found it malformed, too large or too slow.
    pub fn settle(&mut self) -> Result<bool, Error> {
        match &self.state {
            State::Done => return Ok(true),
            State::Broken => return Ok(false),
            // RFC 9110 §10.1.1: the client waits for 100; we refused, so it sends nothing
            // we could read, or a body we will not read: close.
            State::Unread(_) if self.expect_continue => return Ok(false),
            _ => {}
        }
        // A chunked body's size is unknown until read: drain at most DRAIN_MAX of it.
        let small = match self.framing {
            BodyFraming::Length(n) => n <= DRAIN_MAX.min(self.max_body),
            BodyFraming::Chunked | BodyFraming::None => true,
        };
        if !small {
            return Ok(false);
        }
        self.drain()?;
        Ok(matches!(self.state, State::Done))
    }

    /// Reads and drops up to `DRAIN_MAX` bytes. Kept out of line: `io::copy` has an 8 KiB
    /// stack buffer, and inlined into the request loop it would make every connection
    /// thread touch those pages on every request, drain or not.
    #[inline(never)]
    fn drain(&mut self) -> io::Result<()> {
        io::copy(&mut self.take(DRAIN_MAX + 1), &mut io::sink()).map(drop)
    }

    fn read_framed(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if matches!(self.state, State::Unread(_)) {
            self.start()?;
        }
        match &mut self.state {
            State::Length(r) => r.read(out),
            State::Chunked(r) => r.read(out),
            State::Done => Ok(0),
            State::Broken | State::Unread(_) => {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "body unusable"))
            }
        }
    }
}

impl Read for RequestBody<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if matches!(self.state, State::Done) {
            return Ok(0);
        }
        match self.read_framed(out) {
            Ok(0) if !out.is_empty() => {
                self.state = State::Done;
                Ok(0)
            }
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.state = State::Broken;
                // The socket's read deadline: a client too slow with its body (408).
                Err(match is_timeout(&e) {
                    true => BodyError::Timeout.into(),
                    false => e,
                })
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_rows() {
        let rows: &[(&str, Option<&str>, &str)] = &[
            ("/new#top", Some("x=1"), "/new?x=1#top"),
            ("/new?v=2", Some("x=1"), "/new?v=2&x=1"),
            ("https://example.com/", Some(""), "https://example.com/?"),
            ("/new/a", None, "/new/a"),
            ("/new/a", Some("x=1"), "/new/a?x=1"),
        ];
        for (to, query, want) in rows {
            let target = Target {
                url_path: "/".into(),
                raw_path: "/",
                query: *query,
                fs_root: Path::new("/"),
                fs_path: "/".into(),
                route: None,
            };
            assert_eq!(target.with_query(to), *want, "{to} {query:?}");
        }
    }
}
