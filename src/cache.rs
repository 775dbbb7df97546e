//! The in-memory cache of file bodies and their compressed forms (`[cache]`, SPEC §2–§4).
//!
//! One `Mutex` guards the whole state; it is held only for map updates, never while a body is
//! read or compressed. Every entry carries the [`Stamp`] of the file it was read from, and a
//! lookup only hits when the caller's fresh stamp is equal (SPEC §3: "every cache hit is
//! checked against the file's current metadata"). Concurrent misses for one key share a single
//! load ("single-flight"). Writes call [`Cache::invalidate`] or [`Cache::invalidate_dir`]
//! (SPEC §4: "every write drops the affected entries").

use std::collections::{BTreeMap, HashMap};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::compress::Coding;

/// Bytes charged per entry on top of its body and path, so a flood of tiny or empty files
/// cannot hold unbounded memory under a byte budget (map slots, the `Arc` header, recency).
pub const ENTRY_OVERHEAD: u64 = 64;

/// The file metadata an entry was read under; a hit requires it to be unchanged.
///
/// The ETag of a file is computed from its stamp (`fs::etag::for_stamp`), so bytes served
/// under a stamp always match the tag sent with them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Stamp {
    /// File size in bytes.
    pub len: u64,
    /// Modification time as the kernel reports it: seconds since the Unix epoch, and
    /// nanoseconds (`0..1_000_000_000`).
    pub mtime: (i64, i64),
    /// Status-change time, likewise: every write moves it, and unlike the mtime no program can
    /// set it back (`cp -p`, `rsync -t` and `touch -r` restore mtimes).
    pub ctime: (i64, i64),
    /// Inode number: a write through shelf renames a new inode into place.
    pub ino: u64,
    /// Device number, so equal inode numbers on two file systems differ.
    pub dev: u64,
}

impl Stamp {
    /// The stamp of a file's metadata; take it from the open file (`File::metadata`) that the
    /// loader reads, so the cached bytes are the bytes this stamp describes.
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            len: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

// The form of a body an entry holds is named by its content coding: the enum `compress`
// negotiates and encodes with, so no hand-written mapping between the two can drift.

/// How many codings a path has entry slots for.
const CODINGS: usize = 3;

/// The slot of `coding` in a path's entry array. No catch-all arm: a new coding does not
/// compile until it has a slot of its own.
fn slot(coding: Coding) -> usize {
    match coding {
        Coding::Identity => 0,
        Coding::Gzip => 1,
        Coding::Deflate => 2,
    }
}

/// A bounded, least-recently-used, stamp-checked cache shared by every connection thread as
/// `Arc<Cache>`.
///
/// Paths are compared as given (component-wise, no file-system access): callers pass the same
/// canonical path when loading and when invalidating.
pub struct Cache {
    inner: Mutex<Inner>,
    /// Lookups answered from memory, for `/metrics`; outside the lock.
    hits: AtomicU64,
    /// Lookups that loaded, or waited for a concurrent load.
    misses: AtomicU64,
}

/// What the cache has done and holds, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that loaded the body, or waited for a concurrent load of it.
    pub misses: u64,
    /// Bytes charged now (bodies, paths, per-entry overhead).
    pub bytes: u64,
    /// Entries stored now.
    pub entries: u64,
}

/// What the lock guards.
///
/// Invariants (checked by `Inner::check` in tests): `order` holds exactly one tick per stored
/// entry, `used` is the sum of the stored entries' costs, `count` their number, and after every
/// public operation `used <= max`.
struct Inner {
    /// Entries by path, one slot per coding: a lookup by `&Path` needs no allocation, and
    /// `invalidate` is one removal.
    entries: HashMap<Arc<Path>, [Option<Entry>; CODINGS]>,
    /// Recency: the smallest tick is the least recently used entry.
    order: BTreeMap<u64, (Arc<Path>, Coding)>,
    /// Loads in progress, so concurrent misses for one key wait instead of loading again.
    flights: HashMap<FlightKey, Arc<Flight>>,
    tick: u64,
    used: u64,
    max: u64,
    count: usize,
}

struct Entry {
    bytes: Arc<[u8]>,
    stamp: Stamp,
    tick: u64,
    cost: u64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct FlightKey {
    path: Arc<Path>,
    coding: Coding,
    stamp: Stamp,
}

/// One load in progress, and how it ended.
struct Flight {
    state: Mutex<Landing>,
    landed: Condvar,
}

enum Landing {
    Loading,
    Loaded(Arc<[u8]>),
    /// The error's kind and text: `io::Error` is not `Clone`, so each waiter gets a copy.
    Failed(io::ErrorKind, String),
    /// The loader panicked; waiters start over.
    Abandoned,
}

/// What a caller of `get_or_load` does after looking at the state.
enum Role {
    Hit(Arc<[u8]>),
    Lead(FlightKey, Arc<Flight>),
    Follow(Arc<Flight>),
}

impl Cache {
    /// An empty cache holding at most `max_bytes` (bodies plus [`ENTRY_OVERHEAD`] and the path
    /// per entry); `0` stores nothing.
    pub fn new(max_bytes: u64) -> Cache {
        Cache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: BTreeMap::new(),
                flights: HashMap::new(),
                tick: 0,
                used: 0,
                max: max_bytes,
                count: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The stored bytes of `path` in `coding` if they were read under `stamp`. An entry with
    /// another stamp is stale: it is dropped and this is a miss. A hit becomes most recent.
    #[cfg(test)]
    pub fn get(&self, path: &Path, coding: Coding, stamp: Stamp) -> Option<Arc<[u8]>> {
        self.lock().lookup(path, coding, stamp)
    }

    /// The bytes of `path` in `coding` under `stamp`: from the cache, or from `load`, whose
    /// result is stored (if it fits) and returned.
    ///
    /// Concurrent callers for the same `(path, coding, stamp)` run one `load`: the first
    /// caller runs it, the others wait and get the same `Arc`. If it fails, its caller gets the
    /// error and each waiter an error of the same kind and text (no retry storm against a
    /// failing disk); nothing is stored, so the next call loads again. If it panics, the panic
    /// stays with its caller and each waiter starts over, running its own `load` if needed.
    /// A load overtaken by an `invalidate` of its path still answers its callers, but is not
    /// stored: its bytes may predate the write.
    pub fn get_or_load(
        &self,
        path: &Path,
        coding: Coding,
        stamp: Stamp,
        load: impl FnOnce() -> io::Result<Vec<u8>>,
    ) -> io::Result<Arc<[u8]>> {
        let mut first = true;
        let guard = loop {
            let role = self.role(path, coding, stamp);
            // One lookup, one count: a waiter that starts over after a panicking load is not
            // counted again.
            if std::mem::take(&mut first) {
                let hit = matches!(role, Role::Hit(_));
                let counter = if hit { &self.hits } else { &self.misses };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            match role {
                Role::Hit(bytes) => return Ok(bytes),
                Role::Lead(key, flight) => {
                    break LoadGuard {
                        cache: self,
                        key,
                        flight,
                        landed: false,
                    };
                }
                Role::Follow(flight) => {
                    if let Some(result) = flight.wait() {
                        return result;
                    }
                }
            }
        };
        guard.run(load)
    }

    /// Drops every variant of `path` (a file written, patched or deleted), and detaches loads
    /// of it in progress so they are not stored and later callers do not join them.
    pub fn invalidate(&self, path: &Path) {
        let mut inner = self.lock();
        inner.remove_path(path);
        inner.flights.retain(|key, _| *key.path != *path);
    }

    /// Drops everything at or under `dir` (a folder deleted or renamed). Matching is by whole
    /// components: `/a/b` covers `/a/b/c` but not `/a/bc`.
    pub fn invalidate_dir(&self, dir: &Path) {
        let mut inner = self.lock();
        let doomed: Vec<Arc<Path>> = inner
            .entries
            .keys()
            .filter(|path| path.starts_with(dir))
            .cloned()
            .collect();
        for path in doomed {
            inner.remove_path(&path);
        }
        inner.flights.retain(|key, _| !key.path.starts_with(dir));
    }

    /// Changes the byte budget (a config reload), evicting at once down to `max_bytes`.
    pub fn set_max_bytes(&self, max_bytes: u64) {
        let mut inner = self.lock();
        inner.max = max_bytes;
        inner.evict();
    }

    /// Bytes charged now: stored bodies plus per-entry overhead; never above the budget.
    #[cfg(test)]
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    /// Hits and misses so far, and what is held now.
    pub fn stats(&self) -> CacheStats {
        let (bytes, entries) = {
            let inner = self.lock();
            (inner.used, inner.count as u64)
        };
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes,
            entries,
        }
    }

    /// The number of stored entries (each variant of a file counts once).
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state, even if a thread panicked while holding the lock: every update leaves the
    /// invariants intact before anything that could panic, so the data is still sound.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A hit, or else the flight to wait on, or else a new flight this caller leads.
    fn role(&self, path: &Path, coding: Coding, stamp: Stamp) -> Role {
        let mut inner = self.lock();
        if let Some(bytes) = inner.lookup(path, coding, stamp) {
            return Role::Hit(bytes);
        }
        let key = FlightKey {
            path: inner.shared_path(path),
            coding,
            stamp,
        };
        if let Some(flight) = inner.flights.get(&key) {
            return Role::Follow(Arc::clone(flight));
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(Landing::Loading),
            landed: Condvar::new(),
        });
        inner.flights.insert(key.clone(), Arc::clone(&flight));
        Role::Lead(key, flight)
    }

    /// Ends a flight: stores the bytes if the flight was not detached meanwhile, then wakes
    /// the waiters. The two locks are never held together, so no lock order can deadlock.
    fn land(&self, key: &FlightKey, flight: &Arc<Flight>, landing: Landing) {
        {
            let mut inner = self.lock();
            let current = inner
                .flights
                .get(key)
                .is_some_and(|f| Arc::ptr_eq(f, flight));
            if current {
                inner.flights.remove(key);
                if let Landing::Loaded(bytes) = &landing {
                    inner.store(key, Arc::clone(bytes));
                }
            }
        }
        *flight.lock() = landing;
        flight.landed.notify_all();
    }
}

/// The leader's duty to end its flight: dropped without `run` finishing (a panicking loader),
/// it lands the flight as abandoned so no waiter sleeps forever and no marker stays behind.
struct LoadGuard<'a> {
    cache: &'a Cache,
    key: FlightKey,
    flight: Arc<Flight>,
    landed: bool,
}

impl LoadGuard<'_> {
    /// Runs the load outside every lock, then lands the flight with its outcome.
    fn run(mut self, load: impl FnOnce() -> io::Result<Vec<u8>>) -> io::Result<Arc<[u8]>> {
        let result = load().map(Arc::<[u8]>::from);
        let landing = match &result {
            Ok(bytes) => Landing::Loaded(Arc::clone(bytes)),
            Err(e) => Landing::Failed(e.kind(), e.to_string()),
        };
        self.landed = true;
        self.cache.land(&self.key, &self.flight, landing);
        result
    }
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        if !self.landed {
            self.cache.land(&self.key, &self.flight, Landing::Abandoned);
        }
    }
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, Landing> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until the flight lands: `None` if it was abandoned and the caller must retry.
    fn wait(&self) -> Option<io::Result<Arc<[u8]>>> {
        let mut state = self.lock();
        while matches!(*state, Landing::Loading) {
            state = self
                .landed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match &*state {
            Landing::Loaded(bytes) => Some(Ok(Arc::clone(bytes))),
            Landing::Failed(kind, text) => Some(Err(io::Error::new(*kind, text.clone()))),
            // `Loading` cannot outlive the loop above; counted with `Abandoned` to stay total.
            Landing::Loading | Landing::Abandoned => None,
        }
    }
}

impl Inner {
    /// A hit if the entry's stamp equals `stamp`; a stale entry is dropped. The hot path:
    /// one hash lookup, an `Arc` clone, and a move in the recency order.
    fn lookup(&mut self, path: &Path, coding: Coding, stamp: Stamp) -> Option<Arc<[u8]>> {
        let entry = self.entries.get_mut(path)?[slot(coding)].as_mut()?;
        if entry.stamp != stamp {
            self.remove_entry(path, coding);
            return None;
        }
        self.tick += 1;
        let old_tick = std::mem::replace(&mut entry.tick, self.tick);
        if let Some(owner) = self.order.remove(&old_tick) {
            self.order.insert(self.tick, owner);
        }
        Some(Arc::clone(&entry.bytes))
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The map's own `Arc<Path>` for `path` when it has one, so variants share one copy.
    fn shared_path(&self, path: &Path) -> Arc<Path> {
        match self.entries.get_key_value(path) {
            Some((shared, _)) => Arc::clone(shared),
            None => Arc::from(path),
        }
    }

    /// Stores a loaded body, replacing any entry for the key, then evicts down to the budget.
    /// A body that alone exceeds the budget is not stored (and evicts nothing).
    fn store(&mut self, key: &FlightKey, bytes: Arc<[u8]>) {
        let cost = cost_of(&key.path, bytes.len());
        if cost > self.max {
            return;
        }
        self.remove_entry(&key.path, key.coding);
        let tick = self.next_tick();
        let path = self.shared_path(&key.path);
        self.order.insert(tick, (Arc::clone(&path), key.coding));
        let slots = self.entries.entry(path).or_default();
        slots[slot(key.coding)] = Some(Entry {
            bytes,
            stamp: key.stamp,
            tick,
            cost,
        });
        self.used += cost;
        self.count += 1;
        self.evict();
    }

    /// Drops least recently used entries until the budget holds.
    fn evict(&mut self) {
        while self.used > self.max {
            let Some((_, (path, coding))) = self.order.pop_first() else {
                break; // unreachable while the invariants hold: used > 0 means an entry exists
            };
            self.remove_entry(&path, coding);
        }
    }

    /// Drops one entry, if present, keeping `order`, `used` and `count` in step.
    fn remove_entry(&mut self, path: &Path, coding: Coding) {
        let Some(slots) = self.entries.get_mut(path) else {
            return;
        };
        let Some(entry) = slots[slot(coding)].take() else {
            return;
        };
        if slots.iter().all(Option::is_none) {
            self.entries.remove(path);
        }
        self.order.remove(&entry.tick);
        self.used -= entry.cost;
        self.count -= 1;
    }

    /// Drops every variant of `path`.
    fn remove_path(&mut self, path: &Path) {
        for coding in [Coding::Identity, Coding::Gzip, Coding::Deflate] {
            self.remove_entry(path, coding);
        }
    }
}

/// What an entry is charged: its body, its path (held once per entry in the recency order),
/// and a fixed overhead.
fn cost_of(path: &Path, body_len: usize) -> u64 {
    let path_len = path.as_os_str().len() as u64;
    body_len as u64 + path_len + ENTRY_OVERHEAD
}

#[cfg(test)]
impl Inner {
    /// Asserts the invariants listed on [`Inner`].
    fn check(&self) {
        let mut used = 0;
        let mut count = 0;
        for (path, slots) in &self.entries {
            assert!(
                slots.iter().any(Option::is_some),
                "empty slot row for {path:?}"
            );
            for (i, entry) in slots.iter().enumerate() {
                let Some(entry) = entry else { continue };
                let (owner, coding) = &self.order[&entry.tick];
                assert_eq!((&**owner, slot(*coding)), (&**path, i));
                assert_eq!(entry.cost, cost_of(path, entry.bytes.len()));
                used += entry.cost;
                count += 1;
            }
        }
        assert_eq!(self.order.len(), count);
        assert_eq!((self.used, self.count), (used, count));
        assert!(
            self.used <= self.max,
            "used {} > max {}",
            self.used,
            self.max
        );
    }

    /// Stored keys from least to most recently used.
    fn recency(&self) -> Vec<(String, Coding)> {
        let name = |p: &Arc<Path>| p.to_string_lossy().into_owned();
        self.order.values().map(|(p, v)| (name(p), *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};

    use Coding::{Deflate, Gzip, Identity};

    fn stamp(n: u64) -> Stamp {
        let t = i64::try_from(n).unwrap();
        Stamp {
            len: n,
            mtime: (t * 7, 0),
            ctime: (t * 11, t % 1000),
            ino: n,
            dev: 1,
        }
    }

    fn cost(path: &str, len: usize) -> u64 {
        cost_of(Path::new(path), len)
    }

    /// Loads `len` bytes for `path` (a miss) or returns the cached ones.
    fn put(cache: &Cache, path: &str, coding: Coding, s: Stamp, len: usize) -> Arc<[u8]> {
        let load = || Ok(vec![len as u8; len]);
        cache
            .get_or_load(Path::new(path), coding, s, load)
            .expect("load")
    }

    /// Whether an entry is stored, without touching its recency.
    fn stored(cache: &Cache, path: &str, coding: Coding) -> bool {
        let inner = cache.lock();
        let slots = inner.entries.get(Path::new(path));
        slots.is_some_and(|s| s[slot(coding)].is_some())
    }

    /// Waits (with a deadline) until `n` callers wait on the one flight in progress.
    fn wait_for_followers(cache: &Cache, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Holders: the map, the leader's guard, and one per follower.
            let holders = cache.lock().flights.values().next().map(Arc::strong_count);
            if holders == Some(2 + n) {
                return;
            }
            assert!(Instant::now() < deadline, "followers never arrived");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn stale_stamp_is_a_miss_and_drops_the_entry() {
        let cache = Cache::new(1 << 20);
        put(&cache, "/r/f", Identity, stamp(1), 10);
        assert!(cache.get(Path::new("/r/f"), Identity, stamp(2)).is_none());
        assert_eq!((cache.len(), cache.used_bytes()), (0, 0));
        // Dropped, not merely skipped: the old stamp no longer hits either.
        assert!(cache.get(Path::new("/r/f"), Identity, stamp(1)).is_none());
        cache.lock().check();
    }

    #[test]
    fn stale_stamp_in_get_or_load_reloads_and_replaces() {
        let cache = Cache::new(1 << 20);
        put(&cache, "/r/f", Identity, stamp(1), 10);
        let fresh = put(&cache, "/r/f", Identity, stamp(2), 20);
        assert_eq!(fresh.len(), 20);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(Path::new("/r/f"), Identity, stamp(2)).is_some());
        cache.lock().check();
    }

    #[test]
    fn touching_an_entry_protects_it_from_eviction() {
        let cache = Cache::new(3 * cost("/a", 100));
        for path in ["/a", "/b", "/c"] {
            put(&cache, path, Identity, stamp(1), 100);
        }
        assert!(cache.get(Path::new("/a"), Identity, stamp(1)).is_some());
        put(&cache, "/d", Identity, stamp(1), 100);
        assert!(
            !stored(&cache, "/b", Identity),
            "least recently used goes first"
        );
        for path in ["/a", "/c", "/d"] {
            assert!(stored(&cache, path, Identity), "{path} kept");
        }
        cache.lock().check();
    }

    #[test]
    fn a_hit_through_get_or_load_also_counts_as_use() {
        let cache = Cache::new(2 * cost("/a", 100));
        put(&cache, "/a", Identity, stamp(1), 100);
        put(&cache, "/b", Identity, stamp(1), 100);
        put(&cache, "/a", Identity, stamp(1), 100); // hit
        put(&cache, "/c", Identity, stamp(1), 100);
        assert!(stored(&cache, "/a", Identity) && !stored(&cache, "/b", Identity));
    }

    #[test]
    fn stats_count_each_lookup_once_and_show_what_is_held() {
        let cache = Cache::new(1 << 20);
        put(&cache, "/a", Identity, stamp(1), 100); // miss
        put(&cache, "/a", Identity, stamp(1), 100); // hit
        put(&cache, "/a", Gzip, stamp(1), 10); // miss: another coding
        put(&cache, "/a", Identity, stamp(2), 100); // miss: the file changed
        let want = CacheStats {
            hits: 1,
            misses: 3,
            bytes: cost("/a", 100) + cost("/a", 10),
            entries: 2,
        };
        assert_eq!(cache.stats(), want);
        cache.invalidate(Path::new("/a"));
        let emptied = cache.stats();
        assert_eq!((emptied.bytes, emptied.entries), (0, 0));
        assert_eq!(
            (emptied.hits, emptied.misses),
            (1, 3),
            "counts outlive the entries"
        );
    }

    #[test]
    fn entry_larger_than_max_bytes_is_returned_but_not_stored() {
        let cache = Cache::new(cost("/big", 100) - 1);
        put(&cache, "/small", Identity, stamp(1), 1);
        let bytes = put(&cache, "/big", Identity, stamp(1), 100);
        assert_eq!(bytes.len(), 100);
        assert!(!stored(&cache, "/big", Identity));
        assert!(
            stored(&cache, "/small", Identity),
            "an oversized body evicts nothing"
        );
        cache.lock().check();
    }

    #[test]
    fn zero_max_bytes_stores_nothing() {
        let cache = Cache::new(0);
        let calls = AtomicUsize::new(0);
        for _ in 0..2 {
            let bytes = cache.get_or_load(Path::new("/f"), Identity, stamp(1), || {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Vec::new())
            });
            assert!(bytes.expect("load").is_empty());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "every call is a miss");
        assert_eq!((cache.len(), cache.used_bytes()), (0, 0));
    }

    #[test]
    fn many_empty_files_are_bounded_by_the_per_entry_overhead() {
        let cache = Cache::new(10 * cost("/f00", 0));
        for i in 0..100 {
            put(&cache, &format!("/f{i:02}"), Identity, stamp(1), 0);
        }
        assert_eq!(cache.len(), 10);
        assert!(cache.used_bytes() <= 10 * cost("/f00", 0));
    }

    #[test]
    fn shrinking_max_bytes_evicts_at_once() {
        let cache = Cache::new(1 << 20);
        for path in ["/a", "/b", "/c"] {
            put(&cache, path, Identity, stamp(1), 100);
        }
        cache.set_max_bytes(cost("/c", 100));
        assert_eq!(cache.len(), 1);
        assert!(
            stored(&cache, "/c", Identity),
            "the most recent entry survives"
        );
        assert!(cache.used_bytes() <= cost("/c", 100));
        cache.set_max_bytes(0);
        assert_eq!((cache.len(), cache.used_bytes()), (0, 0));
        cache.lock().check();
    }

    #[test]
    fn invalidate_drops_every_variant_of_the_path_and_nothing_else() {
        let cache = Cache::new(1 << 20);
        for coding in [Identity, Gzip, Deflate] {
            put(&cache, "/a/x", coding, stamp(1), 10);
        }
        put(&cache, "/a/y", Identity, stamp(1), 10);
        cache.invalidate(Path::new("/a/x"));
        assert_eq!(cache.len(), 1);
        assert!(stored(&cache, "/a/y", Identity));
        cache.lock().check();
    }

    #[test]
    fn invalidate_dir_drops_nested_paths_but_not_a_sibling_with_a_common_prefix() {
        let cache = Cache::new(1 << 20);
        for path in ["/a/b", "/a/b/c", "/a/b/d/e", "/a/bc", "/a/bc/f"] {
            put(&cache, path, Identity, stamp(1), 10);
            put(&cache, path, Gzip, stamp(1), 5);
        }
        cache.invalidate_dir(Path::new("/a/b"));
        let mut left: Vec<_> = cache.lock().recency();
        left.sort_by(|x, y| x.0.cmp(&y.0).then(slot(x.1).cmp(&slot(y.1))));
        let want = ["/a/bc", "/a/bc", "/a/bc/f", "/a/bc/f"];
        assert_eq!(left.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(), want);
        cache.lock().check();
    }

    #[test]
    fn concurrent_misses_for_one_key_run_the_loader_once() {
        const THREADS: usize = 16;
        let cache = Arc::new(Cache::new(1 << 20));
        let calls = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (cache, calls, start) = (cache.clone(), calls.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let load = || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(50));
                        Ok(b"shared body".to_vec())
                    };
                    cache.get_or_load(Path::new("/f"), Gzip, stamp(1), load)
                })
            })
            .collect();
        let results: Vec<Arc<[u8]>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("load"))
            .collect();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
        assert_eq!(&*results[0], b"shared body");
        assert!(cache.lock().flights.is_empty());
        // Each lookup counts once: the leader and its waiters as misses, a late one as a hit.
        let stats = cache.stats();
        assert_eq!(stats.hits + stats.misses, THREADS as u64, "{stats:?}");
        assert!(stats.misses >= 1, "{stats:?}");
    }

    #[test]
    fn failed_load_reaches_the_caller_and_the_next_call_retries() {
        let cache = Cache::new(1 << 20);
        let gone = || Err(io::Error::new(io::ErrorKind::NotFound, "gone"));
        let err = cache
            .get_or_load(Path::new("/f"), Identity, stamp(1), gone)
            .expect_err("the load failed");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(cache.is_empty() && cache.lock().flights.is_empty());
        let bytes = put(&cache, "/f", Identity, stamp(1), 3);
        assert_eq!(bytes.len(), 3);
        assert!(stored(&cache, "/f", Identity));
    }

    #[test]
    fn waiters_on_a_failed_load_get_an_error_of_the_same_kind() {
        const FOLLOWERS: usize = 4;
        let cache = Arc::new(Cache::new(1 << 20));
        let follower_loads = Arc::new(AtomicUsize::new(0));
        let leader = {
            let cache = cache.clone();
            thread::spawn(move || {
                let load = || {
                    wait_for_followers(&cache, FOLLOWERS);
                    Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"))
                };
                cache.get_or_load(Path::new("/f"), Identity, stamp(1), load)
            })
        };
        let followers = spawn_followers(&cache, &follower_loads, FOLLOWERS);
        assert!(leader.join().expect("leader").is_err());
        for f in followers {
            let err = f.join().expect("follower").expect_err("shares the failure");
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
            assert_eq!(err.to_string(), "denied");
        }
        assert_eq!(follower_loads.load(Ordering::SeqCst), 0);
        assert!(cache.lock().flights.is_empty());
    }

    /// Followers that wait for the flight in progress on `/f`, counting their own loads.
    fn spawn_followers(
        cache: &Arc<Cache>,
        loads: &Arc<AtomicUsize>,
        n: usize,
    ) -> Vec<thread::JoinHandle<io::Result<Arc<[u8]>>>> {
        // Start only once the leader's flight exists, so each follower joins it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while cache.lock().flights.is_empty() {
            assert!(Instant::now() < deadline, "leader never started");
            thread::sleep(Duration::from_millis(1));
        }
        (0..n)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                thread::spawn(move || {
                    let load = || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Ok(b"retried".to_vec())
                    };
                    cache.get_or_load(Path::new("/f"), Identity, stamp(1), load)
                })
            })
            .collect()
    }

    #[test]
    fn panicking_loader_leaves_no_stuck_marker() {
        let cache = Cache::new(1 << 20);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            cache.get_or_load(Path::new("/f"), Identity, stamp(1), || panic!("loader bug"))
        }));
        assert!(outcome.is_err(), "the panic stays with its caller");
        assert!(cache.lock().flights.is_empty());
        assert_eq!(put(&cache, "/f", Identity, stamp(1), 4).len(), 4);
        assert!(stored(&cache, "/f", Identity));
        cache.lock().check();
    }

    #[test]
    fn waiters_on_a_panicking_load_retry_and_load_once_among_themselves() {
        const FOLLOWERS: usize = 4;
        let cache = Arc::new(Cache::new(1 << 20));
        let follower_loads = Arc::new(AtomicUsize::new(0));
        let leader = {
            let cache = cache.clone();
            thread::spawn(move || {
                let load = || -> io::Result<Vec<u8>> {
                    wait_for_followers(&cache, FOLLOWERS);
                    panic!("loader bug")
                };
                cache.get_or_load(Path::new("/f"), Identity, stamp(1), load)
            })
        };
        let followers = spawn_followers(&cache, &follower_loads, FOLLOWERS);
        assert!(leader.join().is_err(), "the leader panicked");
        for f in followers {
            let bytes = f.join().expect("follower").expect("retried load");
            assert_eq!(&*bytes, b"retried");
        }
        // Retries were themselves single-flight, unless one finished before another arrived
        // (then the later one hit the cache): either way exactly one load ran.
        assert_eq!(follower_loads.load(Ordering::SeqCst), 1);
        assert!(cache.lock().flights.is_empty());
    }

    #[test]
    fn load_overtaken_by_invalidate_answers_but_is_not_stored() {
        let cache = Cache::new(1 << 20);
        // The loader runs with no lock held, so it may call back into the cache, as a
        // concurrent write would.
        let bytes = cache.get_or_load(Path::new("/a/f"), Identity, stamp(1), || {
            cache.invalidate(Path::new("/a/f"));
            Ok(b"old".to_vec())
        });
        assert_eq!(&*bytes.expect("load"), b"old");
        assert!(
            cache.is_empty(),
            "bytes read before the write must not be cached"
        );
        let bytes = cache.get_or_load(Path::new("/a/f"), Identity, stamp(1), || {
            cache.invalidate_dir(Path::new("/a"));
            Ok(b"old".to_vec())
        });
        assert!(bytes.is_ok() && cache.is_empty());
        assert!(cache.lock().flights.is_empty());
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let cache = Arc::new(Cache::new(1 << 20));
        put(&cache, "/f", Identity, stamp(1), 4);
        let poisoner = cache.clone();
        let joined = thread::spawn(move || {
            let _held = poisoner.inner.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(joined.is_err() && cache.inner.is_poisoned());
        assert!(cache.get(Path::new("/f"), Identity, stamp(1)).is_some());
        put(&cache, "/g", Identity, stamp(1), 4);
        cache.invalidate(Path::new("/f"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn stamp_changes_when_the_file_is_rewritten_or_replaced() {
        let dir = std::env::temp_dir().join(format!("shelf-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("f");
        let of = |p: &Path| Stamp::of(&std::fs::metadata(p).expect("metadata"));
        std::fs::write(&file, b"abc").expect("write");
        let first = of(&file);
        assert_eq!(first, of(&file));
        assert_eq!(first.len, 3);
        std::fs::write(&file, b"abcd").expect("rewrite");
        assert_ne!(of(&file), first, "size differs");
        let before = of(&file);
        let next = dir.join("f.new");
        std::fs::write(&next, b"abcd").expect("write new");
        std::fs::rename(&next, &file).expect("rename");
        assert_ne!(
            of(&file).ino,
            before.ino,
            "a renamed-in file is a new inode"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// xorshift64: a small deterministic generator, so a failing seed replays exactly.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The obvious LRU: a list from least to most recently used, linear in everything.
    struct Model {
        list: Vec<(String, Coding, Stamp, u64)>,
        max: u64,
    }

    impl Model {
        fn used(&self) -> u64 {
            self.list.iter().map(|e| e.3).sum()
        }

        fn get(&mut self, path: &str, coding: Coding, s: Stamp) -> bool {
            let Some(i) = self.list.iter().position(|e| e.0 == path && e.1 == coding) else {
                return false;
            };
            let entry = self.list.remove(i);
            let hit = entry.2 == s;
            if hit {
                self.list.push(entry);
            }
            hit
        }

        fn store(&mut self, path: &str, coding: Coding, s: Stamp, len: usize) {
            let cost = cost(path, len);
            if cost <= self.max {
                self.list.retain(|e| !(e.0 == path && e.1 == coding));
                self.list.push((path.to_string(), coding, s, cost));
                self.evict();
            }
        }

        fn evict(&mut self) {
            while self.used() > self.max {
                self.list.remove(0);
            }
        }
    }

    const PATHS: [&str; 7] = ["/r/a", "/r/b", "/r/d/x", "/r/d/y", "/r/dx", "/r/d", "/s"];
    const DIRS: [&str; 4] = ["/r/d", "/r", "/r/a", "/"];
    const ALL_CODINGS: [Coding; 3] = [Identity, Gzip, Deflate];

    /// One random operation applied to both the cache and the model.
    fn step(rng: &mut Rng, cache: &Cache, model: &mut Model) {
        let path = PATHS[rng.below(PATHS.len() as u64) as usize];
        let coding = ALL_CODINGS[rng.below(3) as usize];
        let s = stamp(1 + rng.below(2));
        match rng.below(100) {
            0..=44 => {
                let len = rng.below(400) as usize;
                let hit = model.get(path, coding, s);
                let bytes = put(cache, path, coding, s, len);
                if !hit {
                    assert_eq!(bytes.len(), len, "a miss returns what was loaded");
                    model.store(path, coding, s, len);
                }
            }
            45..=79 => {
                let hit = cache.get(Path::new(path), coding, s).is_some();
                assert_eq!(hit, model.get(path, coding, s), "get {path} {coding:?}");
            }
            80..=89 => {
                cache.invalidate(Path::new(path));
                model.list.retain(|e| e.0 != path);
            }
            90..=94 => {
                let dir = DIRS[rng.below(DIRS.len() as u64) as usize];
                cache.invalidate_dir(Path::new(dir));
                model.list.retain(|e| !Path::new(&e.0).starts_with(dir));
            }
            _ => {
                let max = rng.below(2500);
                cache.set_max_bytes(max);
                model.max = max;
                model.evict();
            }
        }
    }

    /// Invariant, after every operation of any random sequence: `used_bytes() <= max_bytes`,
    /// `used_bytes()` is the sum of the stored entries' costs, and the stored entries and
    /// their recency order are exactly those of a naive LRU model with the same budget.
    #[test]
    fn random_operations_keep_the_budget_and_match_a_naive_lru() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let cache = Cache::new(1500);
            let mut model = Model {
                list: Vec::new(),
                max: 1500,
            };
            for op in 0..5000 {
                step(&mut rng, &cache, &mut model);
                let inner = cache.lock();
                inner.check();
                let want: Vec<_> = model.list.iter().map(|e| (e.0.clone(), e.1)).collect();
                assert_eq!(inner.recency(), want, "seed {seed}, op {op}");
                assert_eq!(inner.used, model.used(), "seed {seed}, op {op}");
            }
        }
    }

    #[test]
    fn cache_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Cache>();
    }
}
