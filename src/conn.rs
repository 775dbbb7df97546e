//! One connection: read a head → parse → dispatch → write, over and over while keep-alive lasts.
//!
//! Generic over [`Transport`] so that plain TCP and TLS run the very same loop. The connection
//! owns the read buffer, the limits and the deadlines; the parser only ever sees bytes. Every
//! connection ends for one `Close` reason, logged at trace level.

use std::io::{self, BufRead};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::access;
use crate::config::Config;
use crate::dispatch;
use crate::error::{Error, Oversize, Phase};
use crate::http::parse::{self, Head, Limits, ParseError, Parsed};
use crate::http::response::{self, Body, Output, Response, ResponseFraming};
use crate::http::{Method, Version};
use crate::log as access_log;
use crate::metrics::Metrics;
use crate::request::{Request, RequestBody};
use crate::state::ServerState;
use crate::transport::{Transport, Wire};

/// How a connection came in: from where, over which scheme, and when.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// The socket's peer (a proxy's address when one is in front: see `trusted_proxies`).
    pub peer: SocketAddr,
    /// Plain HTTP or HTTPS.
    pub scheme: Scheme,
    /// When the socket was accepted: the first head is due `header_timeout_s` after it.
    pub at: Instant,
}

/// The scheme a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: may be redirected by `redirect_http`.
    Http,
    /// HTTPS, after its TLS handshake: gets `hsts`.
    Https,
}

/// Why a connection closes (the shape of ureq-proto's `CloseReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client closed its end, or its socket failed under a read.
    ClientGone,
    /// No next request within `keep_alive_s`.
    IdleTimeout,
    /// Writing a response failed or timed out.
    WriteFailed,
    /// The request said `Connection: close`.
    ClientAsked,
    /// An HTTP/1.0 request that did not ask for keep-alive.
    Http10,
    /// The request body was left unread and was too large (or not sent) to drain.
    BodyLeftUnread,
    /// The server is shutting down.
    ShuttingDown,
    /// The answer was an error after which the connection cannot be trusted (a bad or late
    /// head, a malformed or oversized body).
    FatalError,
    /// An HTTP/1.0 response of unknown length: only the close can end it.
    UnframedBody,
}

impl Close {
    /// A few words for the log.
    fn explain(self) -> &'static str {
        match self {
            Close::ClientGone => "client gone",
            Close::IdleTimeout => "idle past keep_alive_s",
            Close::WriteFailed => "writing the response failed",
            Close::ClientAsked => "client sent Connection: close",
            Close::Http10 => "HTTP/1.0 without keep-alive",
            Close::BodyLeftUnread => "request body left unread",
            Close::ShuttingDown => "server shutting down",
            Close::FatalError => "answered an error the connection cannot outlive",
            Close::UnframedBody => "HTTP/1.0 response of unknown length",
        }
    }
}

/// Runs the request loop on one accepted connection until it closes.
// Out of line: inlined for both transports into the thread's entry, the TLS stream's large
// state would make the frame of every plain connection large too.
#[inline(never)]
pub fn serve<S: Transport>(stream: S, accepted: Accepted, state: &ServerState, idle: &AtomicBool) {
    let peer = accepted.peer;
    let write_timeout = state.config().server.body_timeout;
    if let Err(e) = stream.set_write_timeout(Some(write_timeout)) {
        log::debug!("{peer}: cannot set a write timeout: {e}");
        return;
    }
    let mut wire = Wire::new(stream);
    let close = serve_requests(&mut wire, accepted, state, idle);
    log::trace!("{peer}: closing: {}", close.explain());
    wire.stream().finish();
}

/// The request loop of [`serve`]: returns why the connection is to close.
fn serve_requests<S: Transport>(
    wire: &mut Wire<S>,
    accepted: Accepted,
    state: &ServerState,
    idle: &AtomicBool,
) -> Close {
    let mut first = true;
    loop {
        if state.is_stopping() && !first {
            return Close::ShuttingDown;
        }
        let config = state.config();
        let head = match read_head(wire, &config, first.then_some(accepted.at)) {
            Ok(head) => head,
            // Shutdown wakes idle connections by closing their read side.
            Err(Unserved::Closed(_)) if state.is_stopping() => return Close::ShuttingDown,
            Err(Unserved::Closed(close)) => return close,
            Err(Unserved::Refused(e)) => {
                return refuse_head(wire.stream(), &e, accepted, &config, &state.metrics);
            }
        };
        first = false;
        let _busy = Busy::new(idle);
        // The request runs under the settings in force now that its head is here, not those of
        // when the connection began to wait for it: a reload may have come in between.
        let config = state.config();
        if let Some(close) = serve_one(wire, head, accepted, state, &config) {
            return close;
        }
    }
}

/// Why no request can be served next.
enum Unserved {
    /// The connection ended or idled out: nobody to answer.
    Closed(Close),
    /// The head was bad or late: answered with this error, then the connection closes.
    Refused(Error),
}

impl From<Close> for Unserved {
    fn from(close: Close) -> Self {
        Unserved::Closed(close)
    }
}

impl From<ParseError> for Unserved {
    fn from(e: ParseError) -> Self {
        Unserved::Refused(Error::Parse(e))
    }
}

/// Waits for and parses the next request head.
///
/// The first request of a connection has `header_timeout_s` from accept; later ones
/// `keep_alive_s` of idle time, then `header_timeout_s` from their first byte.
fn read_head<S: Transport>(
    wire: &mut Wire<S>,
    config: &Config,
    accepted: Option<Instant>,
) -> Result<Head, Unserved> {
    let limits = Limits {
        max_head_bytes: config.server.max_header_bytes,
        max_uri_bytes: config.server.max_uri_bytes,
    };
    let header_timeout = config.server.header_timeout;
    let deadline = match accepted {
        Some(at) => at + header_timeout,
        None if !wire.pending().is_empty() => Instant::now() + header_timeout,
        None => {
            wait_for_bytes(wire, config.server.keep_alive)?;
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
        if ready
            && let Parsed::Complete { head, consumed } = parse::parse_request(pending, &limits)?
        {
            wire.consume(consumed);
            return Ok(head);
        }
        read_before(wire, deadline)?;
    }
}

/// Idles until the next request's first byte.
fn wait_for_bytes<S: Transport>(wire: &mut Wire<S>, idle: Duration) -> Result<(), Close> {
    wire.set_read_timeout(idle).map_err(|_| Close::ClientGone)?;
    match wire.read_more() {
        Ok(0) => Err(Close::ClientGone),
        Ok(_) => Ok(()),
        Err(e) if is_timeout(&e) => Err(Close::IdleTimeout),
        Err(_) => Err(Close::ClientGone),
    }
}

/// One more socket read towards a head due by `deadline`.
fn read_before<S: Transport>(wire: &mut Wire<S>, deadline: Instant) -> Result<(), Unserved> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Unserved::Refused(Error::Timeout(Phase::Head)));
    }
    wire.set_read_timeout(left).map_err(|_| Close::ClientGone)?;
    match wire.read_more() {
        Ok(0) => Err(Close::ClientGone.into()),
        Ok(_) => Ok(()),
        Err(e) if is_timeout(&e) => Err(Unserved::Refused(Error::Timeout(Phase::Head))),
        Err(_) => Err(Close::ClientGone.into()),
    }
}

/// Serves one parsed request: run the handler, answer, log. `Some` when the connection is to
/// close after it, with the reason.
// Out of line since the stack measurements of 174d045: see that commit before inlining it.
#[inline(never)]
fn serve_one<S: Transport>(
    wire: &mut Wire<S>,
    head: Head,
    accepted: Accepted,
    state: &ServerState,
    config: &Arc<Config>,
) -> Option<Close> {
    let started = Instant::now();
    let handled = run_handler(wire, &head, accepted, state, config);
    let stopping = state.is_stopping().then_some(Close::ShuttingDown);
    let error = match check_error(&handled.result, &head, accepted.peer) {
        Ok(error) => error,
        Err(close) => return Some(close),
    };
    let finishing = dispatch::Finish {
        head: &head,
        config,
        secure: accepted.scheme == Scheme::Https,
        route_headers: &handled.route_headers,
    };
    let response = dispatch::finish(handled.result, &finishing);
    let close = error
        .or(handled.body)
        .or_else(|| asked_to_close(&head))
        .or(stopping)
        .or_else(|| unframed(&head, &response));
    let status = response.status;
    let sent = match respond(wire.stream(), &head, response, close, accepted.peer) {
        Ok(sent) => sent,
        Err(close) => return Some(close),
    };
    // Recorded where the access log writes its line: one sample per answered request.
    let (method, took) = (Some(head.method()), started.elapsed());
    (state.metrics).record_request(method, status, took, sent, handled.received);
    let user = handled.user.as_deref();
    log_access(config, Some(&head), handled.client, user, status, sent);
    close
}

/// What running the handler left behind.
struct Handled {
    /// The handler's answer, or the error that stopped it.
    result: Result<Response, Error>,
    /// Set when the body keeps the connection from carrying another request.
    body: Option<Close>,
    /// Who authenticated, for the access log.
    user: Option<String>,
    /// The client per `trusted_proxies`, for the access log.
    client: IpAddr,
    /// What the matched `[[route]]` adds to the handler's answer, for `dispatch::finish`.
    route_headers: Vec<(String, String)>,
    /// Request body bytes read, drained ones included.
    received: u64,
}

/// Builds the request, dispatches it, then settles its body.
fn run_handler<S: Transport>(
    wire: &mut Wire<S>,
    head: &Head,
    accepted: Accepted,
    state: &ServerState,
    config: &Arc<Config>,
) -> Handled {
    let trusted = &config.server.trusted_proxies;
    let client = access::client_address(accepted.peer.ip(), head, trusted);
    let body = RequestBody::new(wire, head, config);
    let mut req = Request::new(
        head,
        client,
        config,
        &state.cache,
        &state.metrics,
        &state.locks,
        body,
    );
    req.secure = accepted.scheme == Scheme::Https;
    req.https_port = state.https_port();
    // SPEC §6: a declared length over `max_body_bytes` is refused before the body is read.
    let result = match req.body.declared_len() {
        Some(n) if n > config.server.max_body_bytes => Err(Error::BodyTooLarge(Oversize::Body {
            limit: config.server.max_body_bytes,
        })),
        _ => dispatch::handle(&mut req),
    };
    let (result, body) = settle(&mut req.body, result);
    let (user, route_headers) = (req.user.take(), std::mem::take(&mut req.route_headers));
    Handled {
        result,
        body,
        user,
        route_headers,
        client,
        received: req.body.received(),
    }
}

/// Drains a small unread body so the connection can carry the next request; the reason it
/// cannot when it cannot.
fn settle(
    body: &mut RequestBody,
    result: Result<Response, Error>,
) -> (Result<Response, Error>, Option<Close>) {
    // Draining for a connection that closes anyway would only delay the answer.
    if matches!(&result, Err(e) if e.must_close()) {
        return (result, Some(Close::BodyLeftUnread));
    }
    match body.settle() {
        Ok(true) => (result, None),
        Ok(false) => (result, Some(Close::BodyLeftUnread)),
        // A body found malformed, too large or too slow while draining is the answer; the
        // connection closes.
        Err(e) => (result.and(Err(e)), Some(Close::BodyLeftUnread)),
    }
}

/// Logs a handler's error and says whether it forces the connection to close; `Err` when the
/// client is gone and there is nobody to answer.
fn check_error(
    result: &Result<Response, Error>,
    head: &Head,
    peer: SocketAddr,
) -> Result<Option<Close>, Close> {
    match result {
        Ok(_) => Ok(None),
        Err(Error::Io(e)) if is_client_gone(e) => Err(Close::ClientGone),
        Err(e) => {
            if let Error::Io(io) = e {
                log::warn!("{peer}: {} {}: {io}", head.method(), head.target());
            }
            log_refusal(peer, Some(head), e);
            Ok(e.must_close().then_some(Close::FatalError))
        }
    }
}

/// The client's own wish to close: `Connection: close`, or HTTP/1.0 without keep-alive.
fn asked_to_close(head: &Head) -> Option<Close> {
    match (head.keep_alive(), head.version()) {
        (true, _) => None,
        (false, Version::Http10) => Some(Close::Http10),
        (false, Version::Http11) => Some(Close::ClientAsked),
    }
}

/// RFC 9112 §6.3: without chunked framing, a 1.0 body of unknown length ends at the close.
fn unframed(head: &Head, response: &Response) -> Option<Close> {
    let streamed = matches!(response.body, Body::Stream(_));
    (head.version() == Version::Http10 && streamed).then_some(Close::UnframedBody)
}

/// Frames, writes and flushes `response`; the body bytes sent.
fn respond<W: Output>(
    out: &mut W,
    head: &Head,
    response: Response,
    close: Option<Close>,
    peer: SocketAddr,
) -> Result<u64, Close> {
    let version = head.version();
    let framing = ResponseFraming {
        version,
        head_only: *head.method() == Method::Head,
        close: close.is_some(),
        keep_alive_10: version == Version::Http10 && close.is_none(),
    };
    // TLS holds written bytes in records until flushed; for TCP the flush does nothing.
    response::write_response(out, response, framing)
        .and_then(|sent| out.flush().map(|()| sent))
        .map_err(|e| {
            log::debug!("{peer}: write failed: {e}");
            Close::WriteFailed
        })
}

/// Answers a head that could not be served; the connection closes after it.
fn refuse_head<W: Output>(
    out: &mut W,
    e: &Error,
    accepted: Accepted,
    config: &Config,
    metrics: &Metrics,
) -> Close {
    let started = Instant::now();
    log_refusal(accepted.peer, None, e);
    let status = e.status();
    let written = response::write_response(out, e.response(), ResponseFraming::closing());
    match written.and_then(|sent| out.flush().map(|()| sent)) {
        Ok(sent) => {
            // Timed like any request: from the head (here, its refusal) to the last byte.
            let took = started.elapsed();
            metrics.record_request(None, status, took, sent, 0);
            log_access(config, None, accepted.peer.ip(), None, status, sent);
            Close::FatalError
        }
        Err(_) => Close::WriteFailed,
    }
}

/// Logs at debug why a request or a head was refused (the phrase its body also shows), so that
/// a 400 can be debugged from the log.
fn log_refusal(peer: SocketAddr, head: Option<&Head>, e: &Error) {
    let status = e.status();
    let why: &dyn std::fmt::Debug = match e {
        Error::Parse(ParseError::Malformed(reason)) | Error::BadRequest(reason) => reason,
        Error::Parse(other) => other,
        Error::Timeout(phase) => phase,
        _ => return,
    };
    match head {
        Some(head) => log::debug!(
            "{peer}: {} {}: {status} {why:?}",
            head.method(),
            head.target()
        ),
        None => log::debug!("{peer}: head refused: {status} {why:?}"),
    }
}

/// One access-log line, when `[log] access` is on.
fn log_access(
    config: &Config,
    head: Option<&Head>,
    client: IpAddr,
    user: Option<&str>,
    status: u16,
    sent: u64,
) {
    if config.log.access {
        access_log::write(head, client, user, status, sent);
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
    // The accept loop must never block on a slow client: one non-blocking attempt.
    let _ = stream.set_nonblocking(true);
    let _ = response::write_response(stream, response, ResponseFraming::closing());
}
