//! Watches the config file with `notify` and reports each change, debounced.
//!
//! The folder is watched rather than the file: editors that save by writing a new file and
//! renaming it over the old one replace the inode, which a watch on the file itself would lose.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher as _};

use super::{Config, ConfigError, check_users_file_unserved};

/// Events closer together than this are one change (an editor's write + rename + chmod).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// Command-line settings that win over the file, on every load.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--root DIR`.
    pub root: Option<PathBuf>,
    /// `--listen ADDR:PORT`.
    pub listen: Option<SocketAddr>,
}

impl Overrides {
    /// Loads `path` and applies the overrides.
    pub fn load(&self, path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::load(path)?;
        self.apply(&mut config)?;
        Ok(config)
    }

    /// Applies the overrides to a loaded configuration.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(listen) = self.listen {
            config.server.listen = Some(listen);
        }
        if let Some(root) = &self.root {
            config.server.root = std::fs::canonicalize(root)
                .ok()
                .filter(|p| p.is_dir())
                .ok_or_else(|| ConfigError {
                    file: None,
                    line: None,
                    key: Some("--root".into()),
                    message: format!("{} is not a directory", root.display()),
                })?;
            // The served folders changed: whether the users file would be served, and where
            // the self-signed certificate may be kept, are decided again.
            if let Some(file) = &config.server.users_file {
                check_users_file_unserved(file, &config.server, &config.routes).map_err(
                    |message| ConfigError {
                        file: None,
                        line: None,
                        key: Some("--root".into()),
                        message,
                    },
                )?;
            }
            config.place_self_signed();
        }
        Ok(())
    }
}

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
}

/// Calls `on_change` (on a thread of its own) after each change to the file at `path`.
pub fn watch(path: &Path, on_change: impl Fn() + Send + 'static) -> io::Result<Watcher> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name: OsString = path.file_name().map(Into::into).unwrap_or_default();
    let (tx, rx) = mpsc::channel::<()>();
    let mut inner = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && is_complete_change(&event.kind)
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
        {
            let _ = tx.send(());
        }
    })
    .map_err(io::Error::other)?;
    inner
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(io::Error::other)?;
    thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || debounce(&rx, on_change))?;
    Ok(Watcher { _inner: inner })
}

/// True for events after which the file is whole: a writer closed it, or a new file was
/// created, renamed into place or removed. A plain data write is not one: an in-place save
/// truncates first, and reading between the truncation and the write would find an empty
/// file, which is a valid config of defaults.
fn is_complete_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
    )
}

/// Runs `on_change` once per burst of events; returns when the watcher is dropped.
fn debounce(rx: &mpsc::Receiver<()>, on_change: impl Fn()) {
    while rx.recv().is_ok() {
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        on_change();
    }
}
