//! Connection threads: each accepted connection gets a thread of its own for its whole life,
//! and a thread that finished its connection parks briefly for the next one.
//!
//! A child of `server`: it reads the server's [`Bookkeeping`] and holds an [`ActiveGuard`].

use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{ActiveGuard, Bookkeeping, lock};
use crate::conn::{self, Accepted, Scheme};
use crate::metrics::Counter;
use crate::tls;

/// Stack of a connection thread. The request path is shallow; pages are only committed when
/// touched, so this bounds the worst case rather than costing memory per idle connection.
const STACK_BYTES: usize = 256 * 1024;

/// At most this many threads wait between connections; the rest exit.
const MAX_PARKED_THREADS: usize = 64;

/// How long a parked thread waits for a new connection before it exits.
const PARK_FOR: Duration = Duration::from_secs(2);

/// An admitted connection on its way to a thread.
pub(super) struct Job {
    /// The accepted socket, before any TLS handshake.
    pub(super) stream: TcpStream,
    /// Where it came from, over which scheme, and when.
    pub(super) accepted: Accepted,
    /// Cleared while a request runs, so shutdown waits for it.
    pub(super) idle: Arc<AtomicBool>,
    /// Gives the connection's place back when the job ends, however it ends.
    pub(super) guard: ActiveGuard,
}

impl Job {
    /// Serves the connection to its end: the TLS handshake first for HTTPS.
    fn run(self) {
        let Job {
            stream,
            accepted,
            idle,
            guard,
        } = self;
        let books = &guard.books;
        if accepted.scheme == Scheme::Http {
            return conn::serve(stream, accepted, &books.state, &idle);
        }
        let deadline = accepted.at + books.state.config().server.header_timeout;
        let metrics = &books.state.metrics;
        metrics.count(Counter::TlsHandshakes);
        match tls::handshake(stream, books.tls.server_config(), deadline) {
            Ok(stream) => conn::serve(stream, accepted, &books.state, &idle),
            // Garbage, a stall or a client that gave up: nobody to answer, just close.
            Err(e) => {
                metrics.count(Counter::TlsHandshakeFailures);
                log::debug!("{}: TLS handshake failed: {e}", accepted.peer);
            }
        }
    }
}

/// Runs `job` on a parked thread, or on a new one when none is parked.
pub(super) fn start(job: Job, books: &Arc<Bookkeeping>) {
    let Err(job) = books.pool.offer(job) else {
        return;
    };
    let peer = job.accepted.peer;
    let owner = books.clone();
    let spawned = thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || connection_thread(job, &owner));
    if let Err(e) = spawned {
        // The closure (and with it the guard and the socket) was dropped: the count is right.
        log::error!("{peer}: cannot start a thread: {e}");
    }
}

/// Serves one connection, then waits a little for another before exiting: a client that
/// opens a connection per request would otherwise pay for a thread's start and end each
/// time. Each connection still has a thread of its own for its whole life.
fn connection_thread(first: Job, books: &Bookkeeping) {
    let _alive = books.state.metrics.thread_alive();
    let mut job = first;
    loop {
        job.run();
        match books.pool.wait() {
            Some(next) if !books.state.is_stopping() => job = next,
            _ => return,
        }
    }
}

/// Threads between connections, most recently parked last: a new connection goes to the
/// thread that parked last (its stack is still warm) and the others time out.
pub(super) struct ThreadPool {
    parked: Mutex<Vec<Arc<ParkedThread>>>,
}

/// One parked thread: where its next connection is left.
struct ParkedThread {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

impl ThreadPool {
    /// A pool with no thread parked yet.
    pub(super) fn new() -> ThreadPool {
        ThreadPool {
            parked: Mutex::new(Vec::new()),
        }
    }

    /// Gives `job` to a parked thread, or hands it back when none is parked.
    fn offer(&self, job: Job) -> Result<(), Job> {
        let Some(parked) = lock(&self.parked).pop() else {
            return Err(job);
        };
        *lock(&parked.job) = Some(job);
        parked.ready.notify_one();
        Ok(())
    }

    /// Parks the calling thread for up to `PARK_FOR`; its next connection, or `None` when it
    /// should exit.
    fn wait(&self) -> Option<Job> {
        let me = Arc::new(ParkedThread {
            job: Mutex::new(None),
            ready: Condvar::new(),
        });
        {
            let mut parked = lock(&self.parked);
            if parked.len() >= MAX_PARKED_THREADS {
                return None;
            }
            parked.push(me.clone());
        }
        let deadline = Instant::now() + PARK_FOR;
        if let Some(job) = me.take_until(Some(deadline)) {
            return Some(job);
        }
        let mut parked = lock(&self.parked);
        match parked.iter().position(|p| Arc::ptr_eq(p, &me)) {
            Some(i) => {
                parked.swap_remove(i);
                None
            }
            // `offer` popped us just as we timed out: its job is on the way.
            None => {
                drop(parked);
                me.take_until(None)
            }
        }
    }
}

impl ParkedThread {
    /// Waits for a job until `deadline` (or for ever).
    fn take_until(&self, deadline: Option<Instant>) -> Option<Job> {
        let mut slot = lock(&self.job);
        loop {
            if let Some(job) = slot.take() {
                return Some(job);
            }
            slot = match deadline {
                None => self.ready.wait(slot).unwrap_or_else(|p| p.into_inner()),
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    let waited = self.ready.wait_timeout(slot, left);
                    waited.unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }
}
