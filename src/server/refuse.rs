//! A `503` for an HTTPS client over `max_connections`.
//!
//! A plain client gets its 503 from the accept thread in one non-blocking write
//! (`conn::refuse_overloaded`). A TLS client can read nothing before a handshake, and the
//! accept loop must never wait on a client, so the handshake runs on a refusal thread of its
//! own: at most [`MAX_REFUSERS`] at once, each over within a few seconds (a handshake
//! deadline, a write timeout, a short linger). Beyond that the socket is closed unanswered,
//! as before: under a flood of handshakes, answering each would be the overload.
//!
//! A child of `server`: it counts its threads in the server's [`Bookkeeping`].

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use super::Bookkeeping;
use crate::error::Error;
use crate::http::response::{self, ResponseFraming};
use crate::tls;

/// Refusal threads at most at once.
const MAX_REFUSERS: usize = 4;

/// The whole handshake of a refused client must be done within this.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(2);

/// How long a refusal waits for the client to close after the 503, reading what it sends.
const LINGER: Duration = Duration::from_secs(1);

/// A refusal thread's stack: a handshake and one small response.
const STACK_BYTES: usize = 256 * 1024;

/// Answers `stream`, an HTTPS connection over the cap, with 503 on a refusal thread, or
/// closes it when [`MAX_REFUSERS`] are busy already.
pub(super) fn over_tls(stream: TcpStream, peer: SocketAddr, books: &Arc<Bookkeeping>) {
    if books.refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSERS {
        books.refusing.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let slot = RefuserSlot(books.clone());
    let config = books.tls.server_config();
    let spawned = thread::Builder::new()
        .name("refuse".to_string())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _slot = slot;
            refuse(stream, config, peer);
        });
    if let Err(e) = spawned {
        // The closure, its slot and the socket were dropped: the count is right, it is closed.
        log::debug!("{peer}: cannot start a refusal thread: {e}");
    }
}

/// A place among the [`MAX_REFUSERS`], given back however the thread ends.
struct RefuserSlot(Arc<Bookkeeping>);

impl Drop for RefuserSlot {
    fn drop(&mut self) {
        self.0.refusing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The handshake, the 503 (with `Retry-After`), `close_notify`, then a lingering close.
fn refuse(stream: TcpStream, config: Arc<ServerConfig>, peer: SocketAddr) {
    let deadline = Instant::now() + HANDSHAKE_DEADLINE;
    let mut tls = match tls::handshake(stream, config, deadline) {
        Ok(tls) => tls,
        Err(e) => {
            log::debug!("{peer}: TLS handshake of a refusal failed: {e}");
            return;
        }
    };
    // A client that does not read must not keep the thread either.
    let _ = tls.sock.set_write_timeout(Some(HANDSHAKE_DEADLINE));
    let answer = Error::Overloaded.response();
    if response::write_response(&mut tls, answer, ResponseFraming::closing()).is_err() {
        return;
    }
    tls.conn.send_close_notify();
    if tls.flush().is_ok() {
        linger(&mut tls.sock);
    }
}

/// Half-closes, then reads and drops what the client still sends until it closes or
/// [`LINGER`] passes: closing with its request unread would send a reset, which can destroy
/// the 503 before the client reads it (RFC 9112 §9.6).
fn linger(sock: &mut TcpStream) {
    let _ = sock.shutdown(Shutdown::Write);
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return;
        }
        if matches!(sock.read(&mut sink), Ok(0) | Err(_)) {
            return;
        }
    }
}
