//! What every connection reads from the running server: the configuration in force, the body
//! cache, the metrics, the HTTPS port and the stop flag. The server owns it and changes it (reload,
//! re-binding, shutdown); connections only read it.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, RwLock};

use crate::cache::Cache;
use crate::config::Config;
use crate::dav::locks::Locks;
use crate::metrics::Metrics;

/// The server state a connection sees.
pub struct ServerState {
    config: RwLock<Arc<Config>>,
    /// File bodies and their compressed forms, bounded by `[cache] max_bytes`.
    pub cache: Cache,
    /// Counters and gauges for `/metrics`; they outlive every reload.
    pub metrics: Arc<Metrics>,
    /// The WebDAV locks; they outlive reloads, not restarts.
    /// In an `Arc` so that a streamed answer (a PROPFIND Depth 1 multistatus, written after
    /// its handler returned) can still read it.
    pub locks: Arc<Locks>,
    /// The port the HTTPS listener is bound to; 0 when there is none.
    https_port: AtomicU16,
    stopping: AtomicBool,
}

impl ServerState {
    /// The state of a server starting with `config`.
    pub fn new(config: Config) -> ServerState {
        ServerState {
            cache: Cache::new(config.cache.max_bytes),
            metrics: Arc::new(Metrics::new()),
            locks: Arc::new(Locks::new()),
            config: RwLock::new(Arc::new(config)),
            https_port: AtomicU16::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    /// The configuration in force now; a request keeps the snapshot it started with.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `new` in force for every request that starts from now on.
    pub fn replace_config(&self, new: Arc<Config>) {
        match self.config.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// The port the HTTPS listener is bound to now, if there is one.
    pub fn https_port(&self) -> Option<u16> {
        Some(self.https_port.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }

    /// Records the HTTPS listener's port (0: none).
    pub fn set_https_port(&self, port: u16) {
        self.https_port.store(port, Ordering::SeqCst);
    }

    /// True once shutdown began: connections close after their current request.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Marks the server as stopping.
    pub fn begin_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }
}
