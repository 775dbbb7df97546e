//! The metrics listener (`[metrics] listen`): `GET /metrics`, the Prometheus text exposition,
//! and `GET /healthz`, for load balancers. Plain HTTP only; nothing here reaches `[[acl]]`,
//! `[[route]]` or the file handlers.
//!
//! It runs beside the connection loop rather than through it, for two reasons. It must answer
//! when the file listeners cannot (every slot under `max_connections` taken, every connection
//! thread busy): that is when someone looks at the metrics, and a health check that queues
//! behind the traffic it reports on is no check. So it has its own accept thread and its own
//! small cap ([`MAX_OPEN`]), outside `max_connections`. And it needs none of what the
//! connection loop is for (keep-alive, pipelining, request bodies, TLS, per-request settings):
//! each connection gets a short-lived thread that reads one head with the request parser,
//! answers with the response writer, and closes, the whole exchange bounded by [`DEADLINE`].
//! A stalled client holds only its own thread, and only that long.
//!
//! A child of `server`: it reads the server's [`Bookkeeping`].

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Bookkeeping;
use crate::error::{Error, Phase};
use crate::http::Method;
use crate::http::parse::{self, Head, Limits, Parsed};
use crate::http::response::{self, Body, Response, ResponseFraming};
use crate::metrics::{self, Sampled};

/// The longest a metrics connection may take, from accept to the last byte written.
const DEADLINE: Duration = Duration::from_secs(5);

/// Metrics connections served at once; more are closed unanswered until one ends.
const MAX_OPEN: usize = 8;

/// A request head here is a request line and a few headers.
const LIMITS: Limits = Limits {
    max_head_bytes: 8192,
    max_uri_bytes: 2048,
};

/// Bytes a client may still send after its answer before the socket closes (see [`linger`]).
const LINGER_BYTES: u64 = 64 * 1024;

/// Stack of a metrics thread: the exposition is built on the heap.
const STACK_BYTES: usize = 128 * 1024;

/// Accepts metrics connections until `stop` is set.
pub(super) fn accept_loop(listener: TcpListener, stop: &AtomicBool, books: &Arc<Bookkeeping>) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => admit(stream, peer, &open, books),
            Err(e) => {
                log::warn!("metrics listener: accept failed: {e}");
                // Out of descriptors: give connections a moment to finish instead of spinning.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Gives an accepted socket a thread of its own, or closes it when [`MAX_OPEN`] are open.
fn admit(stream: TcpStream, peer: SocketAddr, open: &Arc<AtomicUsize>, books: &Arc<Bookkeeping>) {
    if open.fetch_add(1, Ordering::SeqCst) >= MAX_OPEN {
        open.fetch_sub(1, Ordering::SeqCst);
        log::debug!("{peer}: {MAX_OPEN} metrics connections open already, closed");
        return;
    }
    let slot = Slot(open.clone());
    let books = books.clone();
    let spawned = thread::Builder::new()
        .name("metrics".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _slot = slot;
            serve(stream, peer, &books);
        });
    if let Err(e) = spawned {
        // The closure (its slot and the socket with it) was dropped: the count is right.
        log::error!("{peer}: cannot start a metrics thread: {e}");
    }
}

/// A place under [`MAX_OPEN`], given back however the thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads one request, answers it, and closes.
fn serve(mut stream: TcpStream, peer: SocketAddr, books: &Bookkeeping) {
    let deadline = Instant::now() + DEADLINE;
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.set_write_timeout(Some(DEADLINE)) {
        log::debug!("{peer}: metrics: cannot set a write timeout: {e}");
        return;
    }
    let (response, framing) = match read_head(&mut stream, deadline) {
        Ok(head) => (answer(&head, books), framing(&head)),
        Err(Unread::Refused(e)) => (e.response(), ResponseFraming::closing()),
        Err(Unread::Gone) => return,
    };
    if let Err(e) = response::write_response(&mut stream, response, framing) {
        log::debug!("{peer}: metrics: write failed: {e}");
        return;
    }
    linger(&mut stream, deadline);
}

/// Why no request was read.
enum Unread {
    /// The head was bad or late: this error is the answer.
    Refused(Error),
    /// The client closed, or its socket failed: nobody to answer.
    Gone,
}

/// Reads until one request head is complete, [`LIMITS`] and `deadline` permitting.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Head, Unread> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        // The parser refuses a partial head as soon as it fills the limit: `buf` stays bounded.
        match parse::parse_request(&buf, &LIMITS) {
            Ok(Parsed::Complete { head, .. }) => return Ok(head),
            Ok(Parsed::Partial) => {}
            Err(e) => return Err(Unread::Refused(Error::Parse(e))),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Unread::Refused(Error::Timeout(Phase::Head)));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| Unread::Gone)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Unread::Gone),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return Err(Unread::Refused(Error::Timeout(Phase::Head))),
            Err(_) => return Err(Unread::Gone),
        }
    }
}

/// The two pages, by path; 404 for any other path, 405 for a method other than GET and HEAD.
fn answer(head: &Head, books: &Bookkeeping) -> Response {
    let path = match parse::split_target(head.target()) {
        Ok((path, _query)) => path,
        Err(e) => return Error::Parse(e).response(),
    };
    if path != "/metrics" && path != "/healthz" {
        return Response::text(404);
    }
    if !matches!(head.method(), Method::Get | Method::Head) {
        return Response::text(405).header("Allow", "GET, HEAD");
    }
    let (status, content_type, body) = match path {
        "/metrics" => (200, metrics::CONTENT_TYPE, exposition(books)),
        _ if books.state.is_stopping() => (503, TEXT, "shutting down\n".to_string()),
        _ => (200, TEXT, "ok\n".to_string()),
    };
    Response::new(status)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-store")
        .body(Body::Bytes(body.into_bytes().into()))
}

const TEXT: &str = "text/plain; charset=utf-8";

/// One response, then the connection closes.
fn framing(head: &Head) -> ResponseFraming {
    ResponseFraming {
        version: head.version(),
        head_only: *head.method() == Method::Head,
        close: true,
        keep_alive_10: false,
    }
}

/// The exposition of the server's metrics now.
pub(super) fn exposition(books: &Bookkeeping) -> String {
    let cache = books.state.cache.stats();
    let sampled = Sampled {
        connections: books.active_connections() as u64,
        cache_hits: cache.hits,
        cache_misses: cache.misses,
        cache_bytes: cache.bytes,
        cache_entries: cache.entries,
    };
    metrics::render(&books.state.metrics, &sampled)
}

/// Ends the connection gently: no more writes, then reads and drops what the client still
/// sends (a body nobody asked for) until it closes. Closing a socket with unread bytes resets
/// it, and a reset can destroy the answer before the client has read it.
fn linger(stream: &mut TcpStream, deadline: Instant) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
        return;
    }
    let _ = io::copy(&mut stream.take(LINGER_BYTES), &mut io::sink());
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
