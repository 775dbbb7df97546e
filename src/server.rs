//! The accept loops, the connection cap, live reload and graceful shutdown.
//!
//! [`Server::start`] binds the listeners and returns a [`Handle`]; each accepted socket gets a
//! thread with a small stack that runs `conn::serve`, and a thread that finished its connection
//! waits briefly for the next one. [`Shared`] holds the live connections and the
//! [`ServerState`] every connection reads.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::reload::{self, Overrides, Watcher};
use crate::config::{Config, ConfigError, RouteTarget};
use crate::conn::{self, Accepted, Scheme};
use crate::state::ServerState;
use crate::tls::{self, Certs, Identity, Source};

/// Stack of a connection thread. The request path is shallow; pages are only committed when
/// touched, so this bounds the worst case rather than costing memory per idle connection.
const STACK_BYTES: usize = 256 * 1024;

/// At most this many threads wait between connections; the rest exit.
const MAX_SPARE_THREADS: usize = 64;

/// How long a spare thread waits for a new connection before it exits.
const SPARE_FOR: Duration = Duration::from_secs(2);

/// The server's own bookkeeping, and the [`ServerState`] its connections read.
pub struct Shared {
    spare: Spare,
    state: ServerState,
    /// The TLS configuration and the certificate served now.
    pub tls: Certs,
    active: AtomicUsize,
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
}

/// A live connection, as shutdown sees it.
struct Live {
    stream: TcpStream,
    idle: Arc<AtomicBool>,
}

impl Shared {
    fn new(config: Config) -> Result<Arc<Shared>, StartError> {
        let tls = Certs::new().map_err(|e| StartError::Io(io::Error::other(e)))?;
        Ok(Arc::new(Shared {
            spare: Spare::new(),
            state: ServerState::new(config),
            tls,
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        }))
    }

    /// The configuration in force now.
    fn config(&self) -> Arc<Config> {
        self.state.config()
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn register(&self, stream: &TcpStream) -> (u64, Arc<AtomicBool>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let idle = Arc::new(AtomicBool::new(true));
        if let Ok(clone) = stream.try_clone() {
            let live = Live {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Releases a connection's slot when its thread ends, however it ends.
struct Slot {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared.live).remove(&self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One bound listener and its accept thread.
struct Listener {
    configured: SocketAddr,
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds `addr`; `secure`: its connections speak TLS.
    fn bind(addr: SocketAddr, secure: bool, shared: &Arc<Shared>) -> io::Result<Listener> {
        let socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), shared.clone());
        let thread = thread::Builder::new()
            .name(format!("accept {local}"))
            .spawn(move || accept_loop(socket, secure, &flag, &shared))?;
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

fn accept_loop(listener: TcpListener, secure: bool, stop: &AtomicBool, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => admit(stream, peer, secure, shared),
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors: give connections a moment to finish instead of spinning.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// An accepted connection on its way to a thread.
struct Job {
    stream: TcpStream,
    peer: SocketAddr,
    /// The connection speaks TLS.
    secure: bool,
    accepted: Instant,
    idle: Arc<AtomicBool>,
    slot: Slot,
}

impl Job {
    fn run(self) {
        let Job {
            stream,
            peer,
            secure,
            accepted,
            idle,
            slot,
        } = self;
        let shared = &slot.shared;
        let came_in = |scheme| Accepted {
            peer,
            scheme,
            at: accepted,
        };
        if !secure {
            return conn::serve(stream, came_in(Scheme::Http), &shared.state, &idle);
        }
        let deadline = accepted + shared.config().server.header_timeout;
        match tls::handshake(stream, shared.tls.server_config(), deadline) {
            Ok(stream) => conn::serve(stream, came_in(Scheme::Https), &shared.state, &idle),
            // Garbage, a stall or a client that gave up: nobody to answer, just close.
            Err(e) => log::debug!("{peer}: TLS handshake failed: {e}"),
        }
    }
}

/// Gives an accepted socket its thread, or a 503 when over `max_connections`.
fn admit(mut stream: TcpStream, peer: SocketAddr, secure: bool, shared: &Arc<Shared>) {
    let accepted = Instant::now();
    let _ = stream.set_nodelay(true);
    let max = shared.config().server.max_connections;
    if shared.active.fetch_add(1, Ordering::SeqCst) >= max {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        log::warn!("{peer}: over max_connections ({max}), refused");
        // A TLS client could read a 503 only after a handshake, which would hold up the
        // accept loop: it is closed instead.
        if !secure {
            conn::refuse_overloaded(&mut stream);
        }
        return;
    }
    let (id, idle) = shared.register(&stream);
    let slot = Slot {
        shared: shared.clone(),
        id,
    };
    let job = Job {
        stream,
        peer,
        secure,
        accepted,
        idle,
        slot,
    };
    // A thread that finished its last connection takes this one; else a new thread.
    let Err(job) = shared.spare.offer(job) else {
        return;
    };
    let owner = shared.clone();
    let spawned = thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || connection_thread(job, &owner));
    if let Err(e) = spawned {
        // The closure (and with it the slot and the socket) was dropped: the count is right.
        log::error!("{peer}: cannot start a thread: {e}");
    }
}

/// Serves one connection, then waits a little for another before exiting: a client that
/// opens a connection per request would otherwise pay for a thread's start and end each
/// time. Each connection still has a thread of its own for its whole life.
fn connection_thread(first: Job, shared: &Shared) {
    let mut job = first;
    loop {
        job.run();
        match shared.spare.wait() {
            Some(next) if !shared.state.is_stopping() => job = next,
            _ => return,
        }
    }
}

/// Threads between connections, most recently parked last: a new connection goes to the
/// thread that parked last (its stack is still warm) and the others time out.
struct Spare {
    parked: Mutex<Vec<Arc<Parked>>>,
}

/// One parked thread: where its next connection is left.
struct Parked {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

impl Spare {
    fn new() -> Spare {
        Spare {
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

    /// Parks the calling thread for up to `SPARE_FOR`; its next connection, or `None` when it
    /// should exit.
    fn wait(&self) -> Option<Job> {
        let me = Arc::new(Parked {
            job: Mutex::new(None),
            ready: Condvar::new(),
        });
        {
            let mut parked = lock(&self.parked);
            if parked.len() >= MAX_SPARE_THREADS {
                return None;
            }
            parked.push(me.clone());
        }
        let deadline = Instant::now() + SPARE_FOR;
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

impl Parked {
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
        let shared = Shared::new(config)?;
        if let Some(source) = shared.tls.wanted(&shared.config().tls) {
            shared
                .tls
                .install(Identity::load(&source).map_err(StartError::Io)?);
        }
        let bound = Bound::default();
        rebind(&shared, &bound).map_err(StartError::Io)?;
        Ok(Handle {
            shared,
            bound,
            watcher: None,
            cert_watch: CertWatch::default(),
        })
    }

    /// Loads `path`, applies `overrides`, starts serving, and reloads whenever the file (or
    /// the TLS certificate or key) changes.
    pub fn start_watching(path: &Path, overrides: Overrides) -> Result<Handle, StartError> {
        let config = overrides.load(path).map_err(StartError::Config)?;
        let mut handle = Server::start(config)?;
        let (shared, bound) = (handle.shared.clone(), handle.bound.clone());
        let cert_watch = handle.cert_watch.clone();
        watch_certs(&shared, &cert_watch).map_err(StartError::Io)?;
        let path_buf: PathBuf = path.to_path_buf();
        let on_change = move || apply_reload(&path_buf, &overrides, &shared, &bound, &cert_watch);
        let watcher = reload::watch(path, on_change).map_err(StartError::Io)?;
        handle.watcher = Some(watcher);
        Ok(handle)
    }
}

/// The listeners bound now: plain HTTP and HTTPS.
#[derive(Default)]
struct Listeners {
    plain: Option<Listener>,
    tls: Option<Listener>,
}

type Bound = Arc<Mutex<Listeners>>;

/// Brings the listeners in line with the configuration: bind those whose address changed.
/// Both are tried; the first failure is returned.
fn rebind(shared: &Arc<Shared>, bound: &Bound) -> io::Result<()> {
    let config = shared.config();
    let mut bound = lock(bound);
    let plain = rebind_one(&mut bound.plain, config.server.listen, false, shared);
    let tls = rebind_one(&mut bound.tls, config.tls.listen, true, shared);
    let port = bound.tls.as_ref().map_or(0, |l| l.local.port());
    shared.state.set_https_port(port);
    plain.and(tls)
}

fn rebind_one(
    slot: &mut Option<Listener>,
    wanted: Option<SocketAddr>,
    secure: bool,
    shared: &Arc<Shared>,
) -> io::Result<()> {
    if slot.as_ref().map(|l| l.configured) == wanted {
        return Ok(());
    }
    let new = match wanted {
        Some(addr) => Some(Listener::bind(addr, secure, shared)?),
        None => None,
    };
    if let Some(old) = std::mem::replace(slot, new) {
        old.close();
    }
    Ok(())
}

/// Reads the changed config file and swaps it in if valid; the old one stays otherwise.
/// A new certificate source (other files, or HTTPS turned on) is loaded first: if it cannot
/// be, the whole new configuration is refused, as an invalid one would be.
fn apply_reload(
    path: &Path,
    overrides: &Overrides,
    shared: &Arc<Shared>,
    bound: &Bound,
    cert_watch: &CertWatch,
) {
    let new = match overrides.load(path) {
        Ok(new) => new,
        Err(e) => {
            log::error!("config not reloaded, keeping the previous one: {e}");
            return;
        }
    };
    let old = shared.config();
    if *old == new {
        return;
    }
    let identity = match shared.tls.wanted(&new.tls).map(|s| Identity::load(&s)) {
        Some(Err(e)) => {
            log::error!("config not reloaded, keeping the previous one: TLS: {e}");
            return;
        }
        Some(Ok(identity)) => Some(identity),
        None => None,
    };
    let changes = Config::describe_changes(&old, &new);
    log::set_max_level(new.log.level);
    shared.state.cache.set_max_bytes(new.cache.max_bytes);
    shared.state.replace_config(Arc::new(new));
    if let Some(identity) = identity {
        shared.tls.install(identity);
    }
    if let Err(e) = rebind(shared, bound) {
        log::error!("config reloaded, but a new listener could not be bound: {e}");
    }
    if let Err(e) = watch_certs(shared, cert_watch) {
        log::error!("cannot watch the TLS certificate files: {e}");
    }
    log::info!("config reloaded: {}", changes.join("; "));
}

/// The watches on the certificate and key files, and the source they were set up for.
#[derive(Default)]
struct CertWatches {
    source: Option<Source>,
    watchers: Vec<Watcher>,
}

type CertWatch = Arc<Mutex<CertWatches>>;

/// Watches the files of the certificate in service (when they are files), so that a renewed
/// certificate is used for new connections without a restart.
fn watch_certs(shared: &Arc<Shared>, cert_watch: &CertWatch) -> io::Result<()> {
    let source = shared.tls.source();
    let mut watches = lock(cert_watch);
    if watches.source == source {
        return Ok(());
    }
    watches.watchers.clear();
    watches.source = None;
    if let Some(Source::Files { cert, key }) = &source {
        for file in [cert, key] {
            let shared = shared.clone();
            let watcher = reload::watch(file, move || shared.tls.reload_files())?;
            watches.watchers.push(watcher);
        }
    }
    watches.source = source;
    Ok(())
}

/// The folders writes can land in: the root, and every `dir` route's folder.
fn write_roots(config: &Config) -> impl Iterator<Item = &Path> {
    let folders = config
        .routes
        .iter()
        .filter_map(|route| match &route.target {
            RouteTarget::Dir(folder) => Some(folder.as_path()),
            _ => None,
        });
    std::iter::once(config.server.root.as_path()).chain(folders)
}

/// A running server.
pub struct Handle {
    shared: Arc<Shared>,
    bound: Bound,
    watcher: Option<Watcher>,
    cert_watch: CertWatch,
}

impl Handle {
    /// The address the plain-HTTP listener is bound to now (the real port when 0 was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        lock(&self.bound).plain.as_ref().map(|l| l.local)
    }

    /// The address the HTTPS listener is bound to now.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        lock(&self.bound).tls.as_ref().map(|l| l.local)
    }

    /// SHA-256 of the certificate served to new HTTPS connections (`AA:BB:…`).
    pub fn tls_fingerprint(&self) -> Option<String> {
        self.shared.tls.fingerprint()
    }

    /// True when the HTTPS certificate is the self-signed one generated at start.
    pub fn tls_self_signed(&self) -> bool {
        self.shared.tls.source() == Some(Source::SelfSigned)
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.shared.active_connections()
    }

    /// Stops accepting, lets in-flight requests finish for at most `shutdown_grace_s`, and
    /// returns true if every connection ended in time.
    pub fn shutdown(mut self) -> bool {
        drop(self.watcher.take());
        lock(&self.cert_watch).watchers.clear();
        let listeners = std::mem::take(&mut *lock(&self.bound));
        for listener in [listeners.plain, listeners.tls].into_iter().flatten() {
            listener.close();
        }
        self.shared.stop();
        let deadline = Instant::now() + self.shared.config().server.shutdown_grace;
        while self.shared.active_connections() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}
