//! When temporary upload files that no process writes any more are swept (`fs::write::sweep`
//! decides which): at start, in every folder writes can land in; after a reload, in the
//! folders it added; and once more, a margin later, for those too recent to judge the first
//! time (a crash just before a restart leaves such files).
//!
//! A child of `server`: it reads only the [`Config`].

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::config::{Config, RouteTarget};
use std::sync::Arc;

use crate::fs::write::{self, Swept};
use crate::metrics::{Counter, Metrics};

/// Sweeps every folder of `config` now, before the listeners are bound, and its recent
/// leftovers again later on a thread of their own.
pub(super) fn at_start(config: &Config, metrics: &Arc<Metrics>) {
    let margin = write::abandoned_after(config.server.body_timeout);
    let folders: Vec<PathBuf> = write_roots(config).map(Path::to_path_buf).collect();
    let recent = sweep_now(&folders, margin, metrics);
    if !recent.is_empty() {
        let metrics = metrics.clone();
        spawn(move || sweep_later(recent, margin, &metrics));
    }
}

/// Sweeps the folders `new` writes into and `old` did not (a moved root, a new `dir` route),
/// on a thread of its own: a large tree must not hold up the next reload.
pub(super) fn after_reload(old: &Config, new: &Config, metrics: &Arc<Metrics>) {
    let known: Vec<&Path> = write_roots(old).collect();
    let added: Vec<PathBuf> = write_roots(new)
        .filter(|folder| !known.contains(folder))
        .map(Path::to_path_buf)
        .collect();
    if added.is_empty() {
        return;
    }
    let margin = write::abandoned_after(new.server.body_timeout);
    let metrics = metrics.clone();
    spawn(move || {
        let recent = sweep_now(&added, margin, &metrics);
        sweep_later(recent, margin, &metrics);
    });
}

/// Sweeps `folders`; the recent leftovers, to judge again.
fn sweep_now(folders: &[PathBuf], margin: Duration, metrics: &Metrics) -> Vec<PathBuf> {
    let mut all = Swept::default();
    for folder in folders {
        let swept = write::sweep(folder, margin);
        all.removed += swept.removed;
        all.recent.extend(swept.recent);
    }
    report(all.removed, metrics);
    all.recent
}

/// Waits out the margin, then judges `recent` again: by then a leftover nobody touched is
/// old enough, and a live upload has been renamed or is still locked or touched.
fn sweep_later(recent: Vec<PathBuf>, margin: Duration, metrics: &Metrics) {
    if recent.is_empty() {
        return;
    }
    thread::sleep(margin + Duration::from_secs(1));
    report(write::sweep_again(recent, margin).removed, metrics);
}

fn report(removed: usize, metrics: &Metrics) {
    metrics.add(Counter::TempFilesSwept, removed as u64);
    if removed > 0 {
        log::info!("removed {removed} temporary upload file(s) that no process was writing");
    }
}

fn spawn(sweep: impl FnOnce() + Send + 'static) {
    let spawned = thread::Builder::new()
        .name("sweep".to_string())
        .spawn(sweep);
    if let Err(e) = spawned {
        log::warn!("cannot start a thread to sweep temporary upload files: {e}");
    }
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
