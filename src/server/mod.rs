//! Starting and stopping the server: the listeners, their accept loops, the connection cap and
//! graceful shutdown.
//!
//! [`Server::start`] binds the listeners and returns a [`Handle`]. Each accepted socket is
//! admitted under `max_connections` and run on a connection thread of its own; threads are
//! recycled, a finished one parking briefly for the next connection (`pool`). `reload` swaps a
//! changed configuration or certificate in while connections run; `sweep` removes temporary
//! upload files that no process writes any more. `metrics` serves `/metrics` and `/healthz` on
//! a listener of its own. `Bookkeeping` holds the live connections and the [`ServerState`]
//! every connection reads.

mod announce;
mod metrics;
mod pool;
mod refuse;
mod reload;
pub mod sockets;
mod sweep;

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use self::pool::{Job, ThreadPool};
use self::reload::{CertWatch, Reloader, UsersWatch, warn_if_key_served};
use crate::config::reload::{self as config_watch, Watcher};
use crate::config::{Config, ConfigError, Overrides};
use crate::conn::{self, Accepted, Scheme};
use crate::metrics::Counter;
use crate::state::ServerState;
use crate::tls::{Certs, Identity, Source};

/// The server, seen from `main` and from tests.
pub struct Server;

impl Server {
    /// Binds the listeners of `config` and starts serving. No file is watched.
    pub fn start(config: Config) -> Result<Handle, StartError> {
        config.problems().iter().for_each(|p| log::warn!("{p}"));
        warn_if_key_served(&config);
        let books = Bookkeeping::new(config)?;
        // Before any listener, so a crash's old leftovers are gone before anything is served.
        sweep::at_start(&books.state.config(), &books.state.metrics);
        if let Some(source) = books.tls.wanted(&books.state.config().tls) {
            let identity = Identity::load(&source).map_err(StartError::Io)?;
            books.tls.install(identity);
        }
        let listeners = BoundListeners::default();
        if let Some(failure) = rebind(&books, &listeners).into_iter().next() {
            return Err(StartError::Bind(failure));
        }
        Ok(Handle {
            books,
            listeners,
            watcher: None,
            cert_watch: CertWatch::default(),
            users_watch: UsersWatch::default(),
        })
    }

    /// Loads `path`, applies `overrides`, starts serving, and reloads whenever the file (or
    /// the users file, or the TLS certificate or key) changes.
    pub fn start_watching(path: &Path, overrides: Overrides) -> Result<Handle, StartError> {
        let config = overrides.load(Some(path)).map_err(StartError::Config)?;
        let mut handle = Server::start(config)?;
        let books = &handle.books;
        handle.cert_watch.follow(books).map_err(StartError::Io)?;
        let watches = (&handle.cert_watch, &handle.users_watch);
        let reloader = Reloader::new(path, overrides, books, &handle.listeners, watches);
        reloader.follow_users_file().map_err(StartError::Io)?;
        let watcher = config_watch::watch(path, move || reloader.reload());
        handle.watcher = Some(watcher.map_err(StartError::Io)?);
        Ok(handle)
    }
}

/// A running server.
pub struct Handle {
    books: Arc<Bookkeeping>,
    listeners: BoundListeners,
    watcher: Option<Watcher>,
    cert_watch: CertWatch,
    users_watch: UsersWatch,
}

impl Handle {
    /// The address the first plain-HTTP listener is bound to now (the real port when 0 was
    /// asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().plain.first().map(|l| l.local)
    }

    /// The address the first HTTPS listener is bound to now.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().tls.first().map(|l| l.local)
    }

    /// The address the first metrics listener is bound to now; `None` when `[metrics] listen`
    /// is off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().metrics.first().map(|l| l.local)
    }

    /// The Prometheus exposition `/metrics` would answer now (whether or not a metrics
    /// listener is bound).
    pub fn metrics_text(&self) -> String {
        metrics::exposition(&self.books)
    }

    /// The lines that say where the server can be reached, one per URL a user can open
    /// (`serving /srv/files on http://127.0.0.1:8080`); a listener on every interface gets one
    /// line per address of this machine.
    pub fn serving_lines(&self) -> Vec<String> {
        announce::serving_lines(&self.books, &self.listeners.lock())
    }

    /// Every URL the server answers on now, plain ones first (a wildcard listener's once per
    /// address of this machine).
    pub fn urls(&self) -> Vec<String> {
        announce::urls_bound(&self.listeners.lock())
    }

    /// SHA-256 of the certificate served to new HTTPS connections (`AA:BB:…`).
    pub fn tls_fingerprint(&self) -> Option<String> {
        self.books.tls.fingerprint()
    }

    /// True when the HTTPS certificate is the self-signed one (kept in
    /// `tls.self_signed_dir`, or made for this run).
    pub fn tls_self_signed(&self) -> bool {
        matches!(self.books.tls.source(), Some(Source::SelfSigned { .. }))
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.books.state.config()
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.books.active_connections()
    }

    /// Stops accepting, lets in-flight requests finish for at most `shutdown_grace_s`, and
    /// returns true if every connection ended in time.
    ///
    /// The metrics listener stays open until then, its `/healthz` answering 503, so that a
    /// load balancer sees the drain and sends new clients elsewhere.
    pub fn shutdown(mut self) -> bool {
        drop(self.watcher.take());
        self.cert_watch.stop();
        self.users_watch.stop();
        let listeners = std::mem::take(&mut *self.listeners.lock());
        for listener in listeners.plain.into_iter().chain(listeners.tls) {
            listener.close();
        }
        self.books.stop();
        let deadline = Instant::now() + self.books.state.config().server.shutdown_grace;
        let mut drained = true;
        while self.books.active_connections() > 0 {
            if Instant::now() >= deadline {
                drained = false;
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        listeners.metrics.into_iter().for_each(Listener::close);
        drained
    }
}

/// What went wrong starting the server.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A listener could not be bound.
    Bind(BindError),
    /// The certificate could not be loaded, or the watcher could not start.
    Io(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::Bind(e) => write!(f, "{e}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The server's own bookkeeping: its live connections, its thread pool, its certificates,
/// and the [`ServerState`] its connections read.
struct Bookkeeping {
    pool: ThreadPool,
    state: ServerState,
    /// The TLS configuration and the certificate served now.
    tls: Certs,
    /// Connections admitted and not yet ended (the count `max_connections` caps).
    active: AtomicUsize,
    /// Threads answering HTTPS connections over the cap with 503 (`refuse`).
    refusing: AtomicUsize,
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, LiveConn>>,
}

/// A live connection, as shutdown sees it.
struct LiveConn {
    stream: TcpStream,
    idle: Arc<AtomicBool>,
}

impl Bookkeeping {
    fn new(config: Config) -> Result<Arc<Bookkeeping>, StartError> {
        let tls = Certs::new().map_err(|e| StartError::Io(io::Error::other(e)))?;
        Ok(Arc::new(Bookkeeping {
            pool: ThreadPool::new(),
            state: ServerState::new(config),
            tls,
            active: AtomicUsize::new(0),
            refusing: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        }))
    }

    /// Connections being served now.
    fn active_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Records an admitted connection so shutdown can find it; its id and its idle flag.
    fn register(&self, stream: &TcpStream) -> (u64, Arc<AtomicBool>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let idle = Arc::new(AtomicBool::new(true));
        if let Ok(clone) = stream.try_clone() {
            let live = LiveConn {
                stream: clone,
                idle: idle.clone(),
            };
            lock(&self.live).insert(id, live);
        }
        (id, idle)
    }

    /// Begins shutdown: idle connections are woken to close; busy ones close after replying.
    fn stop(&self) {
        self.state.begin_stopping();
        for live in lock(&self.live).values() {
            if live.idle.load(Ordering::SeqCst) {
                let _ = live.stream.shutdown(Shutdown::Read);
            }
        }
    }
}

/// Locks `m`, carrying on past a poisoned lock: a connection thread that panicked must not take
/// admission, shutdown or reload down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection's place under `max_connections`, given back when its thread ends, however it
/// ends.
struct ActiveGuard {
    books: Arc<Bookkeeping>,
    id: u64,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        lock(&self.books.live).remove(&self.id);
        self.books.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The listeners bound now: plain HTTP, HTTPS and metrics.
#[derive(Default)]
struct Listeners {
    plain: Vec<Listener>,
    tls: Vec<Listener>,
    metrics: Vec<Listener>,
}

/// What a listener's connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serves {
    /// The files, by the connection loop, over this scheme.
    Files(Scheme),
    /// `/metrics` and `/healthz` (`metrics`).
    Metrics,
}

/// The [`Listeners`], shared by the [`Handle`] and the config watcher (which re-binds them).
#[derive(Clone, Default)]
struct BoundListeners(Arc<Mutex<Listeners>>);

impl BoundListeners {
    /// The listeners, locked.
    fn lock(&self) -> MutexGuard<'_, Listeners> {
        lock(&self.0)
    }
}

/// A listener that could not be bound, and why.
#[derive(Debug)]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the system said.
    pub error: io::Error,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (addr, e) = (self.addr, &self.error);
        match e.kind() {
            io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {addr}: the address is in use (another program, perhaps \
                 another shelf, listens there); choose another port"
            ),
            io::ErrorKind::AddrNotAvailable => write!(
                f,
                "cannot listen on {addr}: no network interface of this machine has that address"
            ),
            io::ErrorKind::PermissionDenied => write!(
                f,
                "cannot listen on {addr}: permission denied (ports below 1024 need privileges; \
                 choose a port above 1023)"
            ),
            _ => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

/// Brings the listeners in line with the configuration in force. For each kind (plain, HTTPS,
/// metrics) it is all or nothing: when one new address cannot be bound, that kind keeps the
/// listeners it had, and the failures are returned. What is bound after the call is
/// [`Handle::listen_addrs`].
fn rebind(books: &Arc<Bookkeeping>, listeners: &BoundListeners) -> Vec<BindError> {
    let config = books.state.config();
    let mut bound = listeners.lock();
    let mut failed = rebind_set(
        &mut bound.plain,
        &config.server.listen,
        Serves::Files(Scheme::Http),
        books,
    );
    failed.extend(rebind_set(
        &mut bound.tls,
        &config.tls.listen,
        Serves::Files(Scheme::Https),
        books,
    ));
    failed.extend(rebind_set(
        &mut bound.metrics,
        &config.metrics.listen,
        Serves::Metrics,
        books,
    ));
    let port = bound.tls.first().map_or(0, |l| l.local.port());
    books.state.set_https_port(port);
    failed
}

/// Binds the addresses of `wanted` not bound yet, then closes those it no longer names; when a
/// bind fails, closes the new ones again and leaves `slot` as it was.
fn rebind_set(
    slot: &mut Vec<Listener>,
    wanted: &[SocketAddr],
    serves: Serves,
    books: &Arc<Bookkeeping>,
) -> Vec<BindError> {
    let mut added = Vec::new();
    let mut failed = Vec::new();
    for &addr in wanted
        .iter()
        .filter(|a| !slot.iter().any(|l| l.configured == **a))
    {
        match Listener::bind(addr, serves, books) {
            Ok(listener) => added.push(listener),
            Err(error) => failed.push(BindError { addr, error }),
        }
    }
    if !failed.is_empty() {
        added.into_iter().for_each(Listener::close);
        return failed;
    }
    let (kept, dropped): (Vec<Listener>, Vec<Listener>) = std::mem::take(slot)
        .into_iter()
        .partition(|l| wanted.contains(&l.configured));
    dropped.into_iter().for_each(Listener::close);
    *slot = kept;
    slot.extend(added);
    // In the order the configuration lists them: the first one is the one printed first.
    slot.sort_by_key(|l| wanted.iter().position(|a| *a == l.configured));
    failed
}

/// One bound listener and its accept thread.
struct Listener {
    configured: SocketAddr,
    local: SocketAddr,
    /// The same socket, kept to wake the accept thread when closing.
    waker: Option<TcpListener>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds `addr` for connections to be served what `serves` says.
    fn bind(addr: SocketAddr, serves: Serves, books: &Arc<Bookkeeping>) -> io::Result<Listener> {
        let socket = sockets::listener(addr, books.state.config().server.reuse_port)?;
        let local = socket.local_addr()?;
        let waker = socket.try_clone().ok();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, books) = (stop.clone(), books.clone());
        let thread = thread::Builder::new()
            .name(format!("accept {local}"))
            .spawn(move || match serves {
                Serves::Files(scheme) => accept_loop(socket, scheme, &flag, &books),
                Serves::Metrics => metrics::accept_loop(socket, &flag, &books),
            })?;
        Ok(Listener {
            configured: addr,
            local,
            waker,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting: the flag, then the blocked `accept` is woken. Shutting the listening
    /// socket down wakes it on Linux; a connection to it is the fallback — not the first
    /// choice, since with `SO_REUSEPORT` the kernel may hand that connection to another
    /// process listening on the same address, leaving this thread asleep.
    fn close(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let woken = self.waker.take().is_some_and(|socket| {
            rustix::net::shutdown(&socket, rustix::net::Shutdown::Read).is_ok()
        });
        if !woken {
            let _ = TcpStream::connect_timeout(&wake_addr(self.local), Duration::from_secs(1));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where to connect to wake a listener bound to `local` (a wildcard address is not routable).
fn wake_addr(local: SocketAddr) -> SocketAddr {
    let mut addr = local;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

fn accept_loop(listener: TcpListener, scheme: Scheme, stop: &AtomicBool, books: &Arc<Bookkeeping>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => admit(stream, peer, scheme, books),
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors: give connections a moment to finish instead of spinning.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Gives an accepted socket its thread, or a 503 when over `max_connections`.
fn admit(mut stream: TcpStream, peer: SocketAddr, scheme: Scheme, books: &Arc<Bookkeeping>) {
    let at = Instant::now();
    let _ = stream.set_nodelay(true);
    let max = books.state.config().server.max_connections;
    if books.active.fetch_add(1, Ordering::SeqCst) >= max {
        books.active.fetch_sub(1, Ordering::SeqCst);
        books.state.metrics.count(Counter::ConnectionsRefused);
        log::warn!("{peer}: over max_connections ({max}), refused");
        match scheme {
            Scheme::Http => conn::refuse_overloaded(&mut stream),
            // A TLS client reads a 503 only after a handshake: not on the accept thread.
            Scheme::Https => refuse::over_tls(stream, peer, books),
        }
        return;
    }
    let (id, idle) = books.register(&stream);
    let guard = ActiveGuard {
        books: books.clone(),
        id,
    };
    let accepted = Accepted { peer, scheme, at };
    let job = Job {
        stream,
        accepted,
        idle,
        guard,
    };
    pool::start(job, books);
}
