//! One connection: read a head → parse → dispatch → write, over and over while keep-alive lasts.
//!
//! Generic over [`Transport`] so that plain TCP and TLS run the very same loop. The connection
//! owns the read buffer, the limits and the deadlines; the parser only ever sees bytes.

use std::io::{self, BufRead};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::access;
use crate::config::Config;
use crate::dispatch;
use crate::error::Error;
use crate::http::parse::{self, Head, Limits, Parsed};
use crate::http::response::{self, Output};
use crate::http::{Method, Version};
use crate::log as access_log;
use crate::request::{Request, RequestBody};
use crate::state::ServerState;
use crate::transport::{Transport, Wire};

/// Why a connection stops after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The client went away, or writing to it failed.
    Quiet,
    /// The response said `Connection: close`.
    Closed,
}

impl Stop {
    fn explain(self) -> &'static str {
        match self {
            Stop::Quiet => "client gone",
            Stop::Closed => "Connection: close sent",
        }
    }
}

/// Runs the request loop on one accepted connection until it closes. `secure`: the stream is
/// TLS (for `hsts`; a plain one may be redirected by `redirect_http`).
// Out of line: inlined for both transports into the thread's entry, the TLS stream's large
// state would make the frame of every plain connection large too.
#[inline(never)]
pub fn serve<S: Transport>(
    stream: S,
    peer: SocketAddr,
    secure: bool,
    shared: &ServerState,
    idle: &AtomicBool,
    accepted: Instant,
) {
    let write_timeout = shared.config().server.body_timeout;
    if let Err(e) = stream.set_write_timeout(Some(write_timeout)) {
        log::debug!("{peer}: cannot set a write timeout: {e}");
        return;
    }
    let mut wire = Wire::new(stream);
    let link = Link {
        peer,
        secure,
        accepted,
    };
    serve_requests(&mut wire, link, shared, idle);
    wire.stream().finish();
}

/// Where a connection comes from.
#[derive(Clone, Copy)]
struct Link {
    peer: SocketAddr,
    secure: bool,
    accepted: Instant,
}

/// The request loop of [`serve`]: returns when the connection is to close.
fn serve_requests<S: Transport>(
    wire: &mut Wire<S>,
    link: Link,
    shared: &ServerState,
    idle: &AtomicBool,
) {
    let Link { peer, accepted, .. } = link;
    let mut first = true;
    loop {
        if shared.is_stopping() && !first {
            return;
        }
        let config = shared.config();
        let head = match read_head(wire, &config, first.then_some(accepted)) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                send_head_error(wire.stream(), &e, peer, &config);
                return;
            }
        };
        first = false;
        let _busy = Busy::new(idle);
        // The request runs under the settings in force now that its head is here, not those of
        // when the connection began to wait for it: a reload may have come in between.
        let config = shared.config();
        if let Err(stop) = serve_one(wire, head, link, shared, &config) {
            log::trace!("{peer}: closing: {}", stop.explain());
            return;
        }
    }
}

/// Waits for and parses the next request head.
///
/// `Ok(None)`: the client closed or idled out between requests. The first request of a
/// connection has `header_timeout_s` from accept; later ones `keep_alive_s` of idle time, then
/// `header_timeout_s` from their first byte.
fn read_head<S: Transport>(
    wire: &mut Wire<S>,
    config: &Config,
    accepted: Option<Instant>,
) -> Result<Option<Head>, Error> {
    let limits = Limits {
        max_head_bytes: config.server.max_header_bytes,
        max_uri_bytes: config.server.max_uri_bytes,
    };
    let header_timeout = config.server.header_timeout;
    let deadline = match accepted {
        Some(at) => at + header_timeout,
        None if !wire.pending().is_empty() => Instant::now() + header_timeout,
        None => {
            if !wait_for_bytes(wire, config.server.keep_alive)? {
                return Ok(None);
            }
            Instant::now() + header_timeout
        }
    };
    // Bytes already seen to hold no line end: the parser rescans from the start, so a head
    // dribbled byte by byte is only parsed again when a line may have completed, or when the
    // bytes so far could already be a target over the limit (414 without waiting).
    let mut scanned = 0;
    loop {
        let pending = wire.pending();
        let ready = pending.len() > limits.max_uri_bytes || pending[scanned..].contains(&b'\n');
        scanned = pending.len();
        if ready {
            match parse::parse_request(pending, &limits)? {
                Parsed::Complete { head, consumed } => {
                    wire.consume(consumed);
                    return Ok(Some(head));
                }
                Parsed::Partial => {}
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout);
        }
        wire.set_read_timeout(left)?;
        match wire.read_more() {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Err(Error::Timeout),
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// Idles until the next request's first byte; false when the client closed or idled out.
fn wait_for_bytes<S: Transport>(wire: &mut Wire<S>, idle: Duration) -> Result<bool, Error> {
    wire.set_read_timeout(idle)?;
    match wire.read_more() {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) if is_timeout(&e) => Ok(false),
        Err(_) => Ok(false),
    }
}

/// Handles one parsed request: dispatch, settle the body, write the response.
#[inline(never)]
fn serve_one<S: Transport>(
    wire: &mut Wire<S>,
    head: Head,
    link: Link,
    shared: &ServerState,
    config: &Arc<Config>,
) -> Result<(), Stop> {
    let peer = link.peer;
    let (result, settled, user, client) = {
        let client = access::client_address(peer.ip(), &head, &config.server.trusted_proxies);
        let body = RequestBody::new(wire, &head, config);
        let mut req = Request::new(&head, client, config, &shared.cache, body);
        req.secure = link.secure;
        req.https_port = shared.https_port();
        // SPEC §6: a declared length over `max_body_bytes` is refused before the body is read.
        let result = match req.body.declared_len() {
            Some(n) if n > config.server.max_body_bytes => Err(Error::BodyTooLarge),
            _ => dispatch::handle(&mut req),
        };
        // Draining for a connection that closes anyway would only delay the answer.
        let closing = matches!(&result, Err(e) if e.must_close());
        let (result, settled) = match closing {
            true => (result, false),
            false => match req.body.settle() {
                Ok(settled) => (result, settled),
                // A body found malformed, too large or too slow while draining is the answer;
                // the connection closes.
                Err(e) => (result.and(Err(e)), false),
            },
        };
        (result, settled, req.user.take(), req.client)
    };
    let mut close = !head.keep_alive() || !settled || shared.is_stopping();
    let response = match result {
        Ok(response) => response,
        Err(Error::Io(e)) if is_client_gone(&e) => return Err(Stop::Quiet),
        Err(e) => {
            if let Error::Io(io) = &e {
                log::warn!("{peer}: {} {}: {io}", head.method(), head.target());
            }
            close |= e.must_close();
            e.response()
        }
    };
    let response = dispatch::finish(response, &head, config, link.secure);
    let version = head.version();
    // RFC 9112 §6.3: without chunked framing, a 1.0 body of unknown length ends at the close.
    close |= version == Version::Http10 && matches!(response.body, response::Body::Stream(_));
    let framing = response::ResponseFraming {
        version,
        head_only: *head.method() == Method::Head,
        close,
        keep_alive_10: version == Version::Http10 && !close,
    };
    let status = response.status;
    // TLS holds written bytes in records until flushed; for TCP the flush does nothing.
    let sent = response::write_response(wire.stream(), response, framing)
        .and_then(|sent| wire.stream().flush().map(|()| sent))
        .map_err(|e| {
            log::debug!("{peer}: write failed: {e}");
            Stop::Quiet
        })?;
    if config.log.access {
        access_log::write(Some(&head), client, user.as_deref(), status, sent);
    }
    if close { Err(Stop::Closed) } else { Ok(()) }
}

/// Answers a request whose head could not be read, then the connection closes.
fn send_head_error<W: Output>(w: &mut W, e: &Error, peer: SocketAddr, config: &Config) {
    if matches!(e, Error::Io(_)) {
        return; // a socket error: nobody to answer
    }
    let framing = response::ResponseFraming::closing();
    let status = e.status();
    let written = response::write_response(w, e.response(), framing);
    if let Ok(sent) = written.and_then(|sent| w.flush().map(|()| sent))
        && config.log.access
    {
        access_log::write(None, peer.ip(), None, status, sent);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_client_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// Marks a connection busy for the life of one request, so shutdown does not cut it short.
struct Busy<'a> {
    idle: &'a AtomicBool,
}

impl<'a> Busy<'a> {
    /// Marks `idle` false until dropped.
    fn new(idle: &'a AtomicBool) -> Busy<'a> {
        idle.store(false, Ordering::SeqCst);
        Busy { idle }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.idle.store(true, Ordering::SeqCst);
    }
}

/// Sends `503` to a connection over the cap without giving it a thread.
pub fn refuse_overloaded(stream: &mut TcpStream) {
    let response = Error::Overloaded.response();
    let framing = response::ResponseFraming::closing();
    // The accept loop must never block on a slow client: one non-blocking attempt.
    let _ = stream.set_nonblocking(true);
    let _ = response::write_response(stream, response, framing);
}
