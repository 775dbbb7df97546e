//! The accept loops, the connection cap, live reload and graceful shutdown.
//!
//! [`Server::start`] binds the listeners and returns a [`Handle`]; each accepted socket gets a
//! thread with a small stack that runs `conn::serve`. One [`Shared`] value holds what every
//! connection reads: the current configuration snapshot, the stop flag, the live connections.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::config::reload::{self, Overrides, Watcher};
use crate::config::{Config, ConfigError, RouteTarget};
use crate::conn;

/// Stack of a connection thread. The request path is shallow; pages are only committed when
/// touched, so this bounds the worst case rather than costing memory per idle connection.
const STACK_BYTES: usize = 256 * 1024;

/// At most this many threads wait between connections; the rest exit.
const MAX_SPARE_THREADS: usize = 64;

/// How long a spare thread waits for a new connection before it exits.
const SPARE_FOR: Duration = Duration::from_secs(2);

/// State every connection thread reads.
pub struct Shared {
    spare: Spare,
    config: RwLock<Arc<Config>>,
    /// File bodies and their compressed forms, bounded by `[cache] max_bytes`.
    pub cache: Cache,
    stopping: AtomicBool,
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
    fn new(config: Config) -> Arc<Shared> {
        Arc::new(Shared {
            spare: Spare::new(),
            cache: Cache::new(config.cache.max_bytes),
            config: RwLock::new(Arc::new(config)),
            stopping: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in force now; a request keeps the snapshot it started with.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace_config(&self, new: Arc<Config>) {
        match self.config.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// True once shutdown began: connections close after their current request.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
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
        self.stopping.store(true, Ordering::SeqCst);
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

/// Marks a connection busy for the life of one request.
pub struct Busy<'a> {
    idle: &'a AtomicBool,
}

impl<'a> Busy<'a> {
    /// Marks `idle` false until dropped.
    pub fn new(idle: &'a AtomicBool) -> Busy<'a> {
        idle.store(false, Ordering::SeqCst);
        Busy { idle }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.idle.store(true, Ordering::SeqCst);
    }
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
    fn bind(addr: SocketAddr, shared: &Arc<Shared>) -> io::Result<Listener> {
        let socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), shared.clone());
        let thread = thread::Builder::new()
            .name(format!("accept {local}"))
            .spawn(move || accept_loop(socket, &flag, &shared))?;
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

fn accept_loop(listener: TcpListener, stop: &AtomicBool, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => admit(stream, peer, shared),
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
    accepted: Instant,
    idle: Arc<AtomicBool>,
    slot: Slot,
}

impl Job {
    fn run(self) {
        let Job {
            stream,
            peer,
            accepted,
            idle,
            slot,
        } = self;
        conn::serve(stream, peer, &slot.shared, &idle, accepted);
    }
}

/// Gives an accepted socket its thread, or a 503 when over `max_connections`.
fn admit(mut stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) {
    let accepted = Instant::now();
    let _ = stream.set_nodelay(true);
    let max = shared.config().server.max_connections;
    if shared.active.fetch_add(1, Ordering::SeqCst) >= max {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        log::warn!("{peer}: over max_connections ({max}), refused");
        conn::refuse_overloaded(&mut stream);
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
            Some(next) if !shared.is_stopping() => job = next,
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
        warn_unbuilt(&config);
        // Before any listener: no upload of this process can be in flight yet.
        let swept: usize = write_roots(&config).map(crate::fs::write::sweep).sum();
        if swept > 0 {
            log::info!("removed {swept} temporary upload file(s) left by an earlier run");
        }
        let shared = Shared::new(config);
        let plain = Arc::new(Mutex::new(None));
        rebind(&shared, &plain).map_err(StartError::Io)?;
        Ok(Handle {
            shared,
            plain,
            watcher: None,
        })
    }

    /// Loads `path`, applies `overrides`, starts serving, and reloads whenever the file changes.
    pub fn start_watching(path: &Path, overrides: Overrides) -> Result<Handle, StartError> {
        let config = overrides.load(path).map_err(StartError::Config)?;
        let mut handle = Server::start(config)?;
        let (shared, plain) = (handle.shared.clone(), handle.plain.clone());
        let path_buf: PathBuf = path.to_path_buf();
        let on_change = move || apply_reload(&path_buf, &overrides, &shared, &plain);
        let watcher = reload::watch(path, on_change).map_err(StartError::Io)?;
        handle.watcher = Some(watcher);
        Ok(handle)
    }
}

type PlainListener = Arc<Mutex<Option<Listener>>>;

/// Brings the plain listener in line with the configuration: bind if the address changed.
fn rebind(shared: &Arc<Shared>, plain: &PlainListener) -> io::Result<()> {
    let wanted = shared.config().server.listen;
    let mut current = lock(plain);
    if current.as_ref().map(|l| l.configured) == wanted {
        return Ok(());
    }
    let new = match wanted {
        Some(addr) => Some(Listener::bind(addr, shared)?),
        None => None,
    };
    if let Some(old) = std::mem::replace(&mut *current, new) {
        old.close();
    }
    Ok(())
}

/// Reads the changed config file and swaps it in if valid; the old one stays otherwise.
fn apply_reload(path: &Path, overrides: &Overrides, shared: &Arc<Shared>, plain: &PlainListener) {
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
    let changes = Config::describe_changes(&old, &new);
    warn_unbuilt(&new);
    log::set_max_level(new.log.level);
    shared.cache.set_max_bytes(new.cache.max_bytes);
    shared.replace_config(Arc::new(new));
    if let Err(e) = rebind(shared, plain) {
        log::error!("config reloaded, but the new listener could not be bound: {e}");
    }
    log::info!("config reloaded: {}", changes.join("; "));
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

/// Says which configured features this build does not act on yet, so a setting is never
/// ignored silently.
fn warn_unbuilt(config: &Config) {
    let mut unbuilt = Vec::new();
    if config.tls.listen.is_some() {
        unbuilt.push("[tls] (HTTPS)");
    }
    if !config.cors.origins.is_empty() {
        unbuilt.push("[cors]");
    }
    if !unbuilt.is_empty() {
        log::warn!("not implemented yet, ignored: {}", unbuilt.join(", "));
    }
}

/// A running server.
pub struct Handle {
    shared: Arc<Shared>,
    plain: PlainListener,
    watcher: Option<Watcher>,
}

impl Handle {
    /// The address the plain-HTTP listener is bound to now (the real port when 0 was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        lock(&self.plain).as_ref().map(|l| l.local)
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
        if let Some(listener) = lock(&self.plain).take() {
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
