//! Live reload: a changed config file (or users file) is checked and swapped in whole, and the
//! certificate files in service are watched so that a renewed certificate is served without a
//! restart.
//!
//! A child of `server`: it changes the server's [`Bookkeeping`] and re-binds its listeners.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Bookkeeping, BoundListeners, announce, lock, rebind, sweep};
use crate::config::Config;
use crate::config::Overrides;
use crate::config::reload::{self, Watcher};
use crate::metrics::Counter;
use crate::tls::{Certs, Identity, Source};

/// Reads the changed config file and swaps it in if valid; the old one stays otherwise.
/// A new certificate source (other files, or HTTPS turned on) is loaded first: if it cannot
/// be, the whole new configuration is refused, as an invalid one would be.
pub(super) fn apply_reload(
    path: &Path,
    overrides: &Overrides,
    books: &Arc<Bookkeeping>,
    listeners: &BoundListeners,
    cert_watch: &CertWatch,
) {
    let old = books.state.config();
    let metrics = &books.state.metrics;
    let (new, identity) = match load_changed(path, overrides, &old, &books.tls) {
        Loaded::Changed(new, identity) => (new, identity),
        Loaded::Unchanged => return,
        Loaded::Refused => return metrics.count(Counter::ReloadFailures),
    };
    let before = announce::serving_lines(books, &listeners.lock());
    log::set_max_level(new.log.level);
    new.problems().iter().for_each(|p| log::warn!("{p}"));
    warn_if_key_served(&new);
    books.state.cache.set_max_bytes(new.cache.max_bytes);
    books.state.replace_config(Arc::from(new));
    if let Some(identity) = identity {
        books.tls.install(identity);
    }
    let new = keep_bound(books, listeners);
    // Counted once in force, listeners included: a scrape that shows it can rely on it.
    metrics.count(Counter::Reloads);
    if let Err(e) = cert_watch.follow(books) {
        log::error!("cannot watch the TLS certificate files: {e}");
    }
    sweep::after_reload(&old, &new, metrics);
    let changes = Config::describe_changes(&old, &new);
    if !changes.is_empty() {
        log::info!("config reloaded: {}", changes.join("; "));
    }
    let after = announce::serving_lines(books, &listeners.lock());
    if after != before {
        after.iter().for_each(|line| println!("{line}"));
    }
}

/// Re-binds the listeners to the configuration now in force. A listener that cannot be bound
/// is reported and the old one kept; the configuration in force is then corrected to say what
/// is really bound, so that no log line claims a move that did not happen, and a later reload
/// tries the move again (and says so when it succeeds).
fn keep_bound(books: &Arc<Bookkeeping>, listeners: &BoundListeners) -> Arc<Config> {
    let failures = rebind(books, listeners);
    if failures.is_empty() {
        return books.state.config();
    }
    let bound = listeners.lock();
    let still = announce::urls_bound(&bound).join(", ");
    for failure in &failures {
        log::error!("{failure}; still serving on {still}");
    }
    let mut config = (*books.state.config()).clone();
    config.server.listen = bound.plain.iter().map(|l| l.configured).collect();
    config.tls.listen = bound.tls.iter().map(|l| l.configured).collect();
    config.metrics.listen = bound.metrics.iter().map(|l| l.configured).collect();
    drop(bound);
    let config = Arc::new(config);
    books.state.replace_config(config.clone());
    config
}

/// What a changed config file holds.
enum Loaded {
    /// A new configuration, and the certificate it needs when that is not the one in service.
    Changed(Box<Config>, Option<Identity>),
    /// The configuration in force (the file was touched, or saved unchanged).
    Unchanged,
    /// Something that cannot be put in force (logged).
    Refused,
}

/// Reads `path` and loads what it needs.
fn load_changed(path: &Path, overrides: &Overrides, old: &Config, tls: &Certs) -> Loaded {
    let new = match overrides.load(Some(path)) {
        Ok(new) => new,
        Err(e) => {
            log::error!("config not reloaded, keeping the previous one: {e}");
            return Loaded::Refused;
        }
    };
    if *old == new {
        return Loaded::Unchanged;
    }
    match tls.wanted(&new.tls).map(|s| Identity::load(&s)).transpose() {
        Ok(identity) => Loaded::Changed(Box::new(new), identity),
        Err(e) => {
            log::error!("config not reloaded, keeping the previous one: TLS: {e}");
            Loaded::Refused
        }
    }
}

/// Warns when the self-signed key an earlier run kept beside the config file now lies in a
/// folder served with `hidden = true` (a reload or `--root` moved the root over it).
pub(super) fn warn_if_key_served(config: &Config) {
    if let Some(dir) = config.exposed_self_signed_dir() {
        log::warn!(
            "{} holds a private key and lies in a folder served with server.hidden = true, so \
             anyone can download it: delete that folder (shelf no longer uses it)",
            dir.display()
        );
    }
}

/// What a reload needs, shared by the watchers that start one: the config file's and the
/// users file's.
pub(super) struct Reloader {
    path: PathBuf,
    overrides: Overrides,
    books: Arc<Bookkeeping>,
    listeners: BoundListeners,
    cert_watch: CertWatch,
    users_watch: UsersWatch,
    /// One reload at a time: an editor may save the config file and the users file together.
    running: Mutex<()>,
}

impl Reloader {
    /// A reloader for the server of `books`, from the config file at `path`.
    pub(super) fn new(
        path: &Path,
        overrides: Overrides,
        books: &Arc<Bookkeeping>,
        listeners: &BoundListeners,
        watches: (&CertWatch, &UsersWatch),
    ) -> Arc<Reloader> {
        Arc::new(Reloader {
            path: path.to_path_buf(),
            overrides,
            books: books.clone(),
            listeners: listeners.clone(),
            cert_watch: watches.0.clone(),
            users_watch: watches.1.clone(),
            running: Mutex::new(()),
        })
    }

    /// Reloads the config file (which reads the users file again), then watches the users file
    /// the configuration in force names.
    pub(super) fn reload(self: &Arc<Self>) {
        let _one = lock(&self.running);
        let Reloader {
            path,
            overrides,
            books,
            listeners,
            cert_watch,
            ..
        } = &**self;
        apply_reload(path, overrides, books, listeners, cert_watch);
        if let Err(e) = self.follow_users_file() {
            log::error!("cannot watch server.users_file: {e}");
        }
    }

    /// Watches `server.users_file` of the configuration in force, so that an edit to it reloads
    /// like an edit to the config file. The watch holds the reloader weakly: dropping the config
    /// watch (at shutdown) ends both.
    pub(super) fn follow_users_file(self: &Arc<Self>) -> io::Result<()> {
        let wanted = self.books.state.config().server.users_file.clone();
        let weak = Arc::downgrade(self);
        self.users_watch.follow(wanted, move || {
            if let Some(reloader) = weak.upgrade() {
                reloader.reload();
            }
        })
    }
}

/// The watch on the users file in service, shared by the [`Handle`](super::Handle) (which ends
/// it) and the [`Reloader`] (which moves it when `server.users_file` changes).
#[derive(Clone, Default)]
pub(super) struct UsersWatch(Arc<Mutex<Option<(PathBuf, Watcher)>>>);

impl UsersWatch {
    /// Watches `wanted` (nothing when `None`), calling `on_change` after each change to it.
    fn follow(
        &self,
        wanted: Option<PathBuf>,
        on_change: impl Fn() + Send + 'static,
    ) -> io::Result<()> {
        let mut watch = lock(&self.0);
        if watch.as_ref().map(|(path, _)| path) == wanted.as_ref() {
            return Ok(());
        }
        *watch = None;
        if let Some(path) = wanted {
            let watcher = reload::watch(&path, on_change)?;
            *watch = Some((path, watcher));
        }
        Ok(())
    }

    /// Ends the watch.
    pub(super) fn stop(&self) {
        *lock(&self.0) = None;
    }
}

/// The watches on the certificate files in service, shared by the [`Handle`](super::Handle)
/// (which ends them) and the config watcher (which moves them when the source changes).
#[derive(Clone, Default)]
pub(super) struct CertWatch(Arc<Mutex<CertWatches>>);

/// The watches on the certificate and key files, and the source they were set up for.
#[derive(Default)]
struct CertWatches {
    source: Option<Source>,
    watchers: Vec<Watcher>,
}

impl CertWatch {
    /// Watches the files of the certificate in service (when they are files), so that a
    /// renewed certificate is used for new connections without a restart.
    pub(super) fn follow(&self, books: &Arc<Bookkeeping>) -> io::Result<()> {
        let source = books.tls.source();
        let mut watches = lock(&self.0);
        if watches.source == source {
            return Ok(());
        }
        watches.watchers.clear();
        watches.source = None;
        if let Some(Source::Files { cert, key }) = &source {
            for file in [cert, key] {
                let books = books.clone();
                let watcher = reload::watch(file, move || books.tls.reload_files())?;
                watches.watchers.push(watcher);
            }
        }
        watches.source = source;
        Ok(())
    }

    /// Ends every watch.
    pub(super) fn stop(&self) {
        lock(&self.0).watchers.clear();
    }
}
