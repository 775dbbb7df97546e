//! Starting and stopping the server: the listeners, their accept loops, the connection cap and
//! graceful shutdown.
//!
//! [`Server::start`] binds the listeners and returns a [`Handle`]. Each accepted socket is
//! admitted under `max_connections` and run on a connection thread of its own; threads are
//! recycled, a finished one parking briefly for the next connection (`pool`). `reload` swaps a
//! changed configuration or certificate in while connections run. `Bookkeeping` holds the live
//! connections and the [`ServerState`] every connection reads.

mod pool;
mod reload;

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use self::pool::{Job, ThreadPool};
use self::reload::{CertWatch, Reloader, UsersWatch, warn_if_key_served, write_roots};
use crate::config::reload::{self as config_watch, Overrides, Watcher};
use crate::config::{Config, ConfigError};
use crate::conn::{self, Accepted, Scheme};
use crate::state::ServerState;
use crate::tls::{Certs, Identity, Source};

/// The server, seen from `main` and from tests.
pub struct Server;

impl Server {
    /// Binds the listeners of `config` and starts serving. No file is watched.
    pub fn start(config: Config) -> Result<Handle, StartError> {
        // Before any listener: no upload of this process can be in flight yet.
        let swept: usize = write_roots(&config).map(crate::fs::write::sweep).sum();
        if swept > 0 {
            log::info!("removed {swept} temporary upload file(s) left by an earlier run");
        }
        warn_if_key_served(&config);
        let books = Bookkeeping::new(config)?;
        if let Some(source) = books.tls.wanted(&books.state.config().tls) {
            let identity = Identity::load(&source).map_err(StartError::Io)?;
            books.tls.install(identity);
        }
        let listeners = BoundListeners::default();
        rebind(&books, &listeners).map_err(StartError::Io)?;
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
        let config = overrides.load(path).map_err(StartError::Config)?;
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
    /// The address the plain-HTTP listener is bound to now (the real port when 0 was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().plain.as_ref().map(|l| l.local)
    }

    /// The address the HTTPS listener is bound to now.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().tls.as_ref().map(|l| l.local)
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
    pub fn shutdown(mut self) -> bool {
        drop(self.watcher.take());
        self.cert_watch.stop();
        self.users_watch.stop();
        let listeners = std::mem::take(&mut *self.listeners.lock());
        for listener in [listeners.plain, listeners.tls].into_iter().flatten() {
            listener.close();
        }
        self.books.stop();
        let deadline = Instant::now() + self.books.state.config().server.shutdown_grace;
        while self.books.active_connections() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

/// What went wrong starting the server.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A listener could not be bound, or the watcher could not start.
    Io(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
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

/// The listeners bound now: plain HTTP and HTTPS.
#[derive(Default)]
struct Listeners {
    plain: Option<Listener>,
    tls: Option<Listener>,
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

/// Brings the listeners in line with the configuration: bind those whose address changed.
/// Both are tried; the first failure is returned.
fn rebind(books: &Arc<Bookkeeping>, listeners: &BoundListeners) -> io::Result<()> {
    let config = books.state.config();
    let mut bound = listeners.lock();
    let plain = rebind_one(&mut bound.plain, config.server.listen, Scheme::Http, books);
    let tls = rebind_one(&mut bound.tls, config.tls.listen, Scheme::Https, books);
    let port = bound.tls.as_ref().map_or(0, |l| l.local.port());
    books.state.set_https_port(port);
    plain.and(tls)
}

fn rebind_one(
    slot: &mut Option<Listener>,
    wanted: Option<SocketAddr>,
    scheme: Scheme,
    books: &Arc<Bookkeeping>,
) -> io::Result<()> {
    if slot.as_ref().map(|l| l.configured) == wanted {
        return Ok(());
    }
    let new = match wanted {
        Some(addr) => Some(Listener::bind(addr, scheme, books)?),
        None => None,
    };
    if let Some(old) = std::mem::replace(slot, new) {
        old.close();
    }
    Ok(())
}

/// One bound listener and its accept thread.
struct Listener {
    configured: SocketAddr,
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds `addr` for connections speaking `scheme`.
    fn bind(addr: SocketAddr, scheme: Scheme, books: &Arc<Bookkeeping>) -> io::Result<Listener> {
        let socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, books) = (stop.clone(), books.clone());
        let thread = thread::Builder::new()
            .name(format!("accept {local}"))
            .spawn(move || accept_loop(socket, scheme, &flag, &books))?;
        Ok(Listener {
            configured: addr,
            local,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting: the flag, then a connection to wake the blocked `accept`.
    fn close(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&wake_addr(self.local), Duration::from_secs(1));
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
        log::warn!("{peer}: over max_connections ({max}), refused");
        // A TLS client could read a 503 only after a handshake, which would hold up the
        // accept loop: it is closed instead.
        if scheme == Scheme::Http {
            conn::refuse_overloaded(&mut stream);
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
