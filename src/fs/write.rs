//! Writing files safely (SPEC §4): where a write may land, temporary files that become the
//! target by one `rename`, the per-path lock that serialises writers, and the sweep of
//! temporary files a crash left behind.
//!
//! Several processes may write one folder (replicas, a rolling restart, on NFS too), so a
//! sweep must tell another process's upload in flight from a dead one's leftover. Each
//! temporary file holds an advisory lock (`flock`) from creation until it is renamed or
//! removed, which the kernel drops when its process dies, and a live writer touches it at
//! least every `body_timeout_s`; a sweep removes only a file that is unlocked *and* untouched
//! for longer than [`abandoned_after`]. The age covers file systems where locks are not shared
//! between hosts; the lock covers a writer that waits longer than that.
//!
//! A write never goes through a symlink to outside the root: the folder it lands in is
//! resolved canonically and checked against the canonical root before anything is created,
//! and the final name is replaced (by `rename`), never opened through.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use md5::{Digest, Md5};
use rustix::fs::{FlockOperation, Mode, OFlags, flock};
use rustix::io::Errno;

use super::path::{TEMP_PREFIX, canonical_within, is_absent, is_visible_name};
use super::tree::{self, Existing, Placed};
use crate::error::{Clash, Error};

/// Where a write lands.
#[derive(Debug)]
pub struct WriteTarget {
    /// The canonical folder, inside the root.
    pub dir: PathBuf,
    /// The final name, visible under the `hidden` policy.
    pub name: String,
    /// `dir/name`, not canonicalised: an entry there is replaced, never written through.
    pub path: PathBuf,
    /// Folders this lookup created, outermost first, so a failed write can remove them again.
    pub created: Vec<PathBuf>,
}

/// What a write does about folders missing on its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parents {
    /// Creates them (PUT over plain HTTP, POST).
    Create,
    /// Finds nothing there (404): the write needs an existing entry (PATCH, DELETE).
    Absent,
    /// Refuses (409): RFC 4918 §9.3.1, §9.7.1, §9.8.5: a WebDAV write never creates the
    /// folders above it (MKCOL, COPY, MOVE, and PUT with WebDAV on).
    Conflict,
}

/// Finds where a write to the normalised path `norm` lands under the canonical `root`.
///
/// Every segment must be a visible name (404 otherwise, as a read of it would be); the root
/// itself and a path ending in `/` are not files, and a path through a file has a file where a
/// folder must be (409). Missing folders are created when `create` is set, and only below an
/// existing folder that is canonically inside the root; else a missing folder is 404.
pub fn locate(root: &Path, norm: &str, hidden: bool, create: bool) -> Result<WriteTarget, Error> {
    let parents = match create {
        true => Parents::Create,
        false => Parents::Absent,
    };
    locate_with(root, norm, hidden, parents)
}

/// [`locate`], with what a missing folder on the way means spelled out.
pub fn locate_with(
    root: &Path,
    norm: &str,
    hidden: bool,
    parents: Parents,
) -> Result<WriteTarget, Error> {
    let segments: Vec<&str> = norm.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| !is_visible_name(s, hidden)) {
        return Err(Error::NotFound);
    }
    let Some((name, folders)) = segments.split_last() else {
        return Err(Error::Conflict(Clash::Folder));
    };
    if norm.ends_with('/') {
        return Err(Error::Conflict(Clash::TrailingSlash));
    }
    let (dir, created) = parent_dir(root, folders, parents)?;
    Ok(WriteTarget {
        path: dir.join(name),
        dir,
        name: name.to_string(),
        created,
    })
}

/// The canonical folder for `parents` under `root`, created if asked; with the folders made.
fn parent_dir(
    root: &Path,
    parents: &[&str],
    missing_means: Parents,
) -> Result<(PathBuf, Vec<PathBuf>), Error> {
    // The longest existing prefix is resolved canonically and checked before anything is
    // created, so a symlinked parent leading outside the root is never written into.
    let mut existing = parents.len();
    while existing > 0 && fs::symlink_metadata(join(root, &parents[..existing])).is_err() {
        existing -= 1;
    }
    let base = canonical_within(root, &join(root, &parents[..existing]))
        .map_err(not_found)?
        .ok_or(Error::NotFound)?;
    if !base.is_dir() {
        // RFC 9110 §15.5.10: a file stands where the path needs a folder; the request
        // conflicts with the target's state (409), and nothing here could create it.
        return Err(Error::Conflict(Clash::FileInTheWay));
    }
    let missing = &parents[existing..];
    match missing_means {
        _ if missing.is_empty() => {}
        Parents::Create => {}
        Parents::Absent => return Err(Error::NotFound),
        Parents::Conflict => return Err(Error::Conflict(Clash::NoParent)),
    }
    let mut dir = base;
    let mut created = Vec::new();
    for segment in missing {
        dir.push(segment);
        match fs::create_dir(&dir) {
            Ok(()) => created.push(dir.clone()),
            // A concurrent writer made it first: fine, if it is a real folder.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !dir.is_symlink() => {}
            Err(e) => {
                remove_created(&created);
                return Err(Error::Io(e));
            }
        }
    }
    Ok((dir, created))
}

fn join(root: &Path, segments: &[&str]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(segments);
    path
}

fn not_found(e: io::Error) -> Error {
    match is_absent(&e) {
        true => Error::NotFound,
        false => Error::Io(e),
    }
}

/// Removes folders a failed write created, innermost first; a folder someone else filled
/// meanwhile stays.
pub fn remove_created(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// A temporary file beside its target, deleted on drop unless [`TempFile::persist`] ran.
///
/// Its name starts with [`TEMP_PREFIX`], which reads and listings never show and [`sweep`]
/// removes once abandoned. It is locked while open, so no sweep takes it for abandoned.
pub struct TempFile {
    file: File,
    path: PathBuf,
    done: bool,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dir` (never reusing an existing name).
    pub fn create_in(dir: &Path) -> io::Result<TempFile> {
        loop {
            let path = dir.join(tree::temp_name());
            // create_new: O_EXCL, so a stale file or a symlink planted under this name is
            // never opened.
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    hold_lock(&file);
                    return Ok(TempFile {
                        file,
                        path,
                        done: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The open file, for writing the body.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The path of the temporary file.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the data to disk and renames the file over `target`, then flushes the folder so
    /// the rename itself survives a crash. Returns the new file's metadata.
    pub fn persist(mut self, target: &Path) -> io::Result<fs::Metadata> {
        self.file.sync_all()?;
        fs::rename(&self.path, target)?;
        self.done = true;
        if let Some(dir) = target.parent() {
            sync_dir(dir);
        }
        // After the rename: it moves the inode's ctime, which the ETag includes.
        self.file.metadata()
    }

    /// Flushes the data to disk and puts the file at `dest` as [`tree::place`] does (a free
    /// name only, or replacing what is there, a folder included), then flushes the folder.
    pub fn place(mut self, dest: &Path, existing: Existing) -> io::Result<Placed> {
        self.file.sync_all()?;
        let placed = tree::place(&self.path, dest, existing)?;
        self.done = placed != Placed::Kept;
        if let Some(dir) = dest.parent() {
            sync_dir(dir);
        }
        Ok(placed)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Removed before `file` closes, so the lock is held until the name is gone.
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Locks a new temporary file for as long as it stays open (the lock goes with the open file,
/// and with the process if it dies). Blocking: only a sweep can hold it, for a moment.
fn hold_lock(file: &File) {
    if let Err(e) = flock(file, FlockOperation::LockExclusive) {
        // A file system without locks: the file's age alone protects it from a sweep.
        log::debug!("cannot lock a temporary upload file ({e}); its age protects it");
    }
}

/// Flushes a folder's entries (a rename or an unlink) to disk; best effort, since some file
/// systems cannot open a folder for syncing, and the data itself is already safe.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Copies a request body into `out`, feeding every byte to `hash` too if given. Read errors
/// are the client's (408, 413, 400…), write errors the disk's (507, 403…).
pub fn copy_body(
    body: &mut dyn Read,
    out: &mut File,
    mut hash: Option<&mut Md5>,
) -> Result<u64, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(hash) = hash.as_deref_mut() {
            hash.update(&buf[..n]);
        }
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Paths being written now; see [`lock`].
struct Locks {
    held: Mutex<BTreeSet<PathBuf>>,
    released: Condvar,
}

static LOCKS: Locks = Locks {
    held: Mutex::new(BTreeSet::new()),
    released: Condvar::new(),
};

/// Holds the write lock of one path until dropped.
pub struct PathLock {
    path: PathBuf,
}

/// Takes the write lock of `path`, waiting while another writer holds it.
///
/// Writers of one path commit one at a time (precondition checks, rename or in-place write),
/// so the final content is exactly one of the bodies and `If-Match` cannot lose an update.
/// Bodies are received before the lock is taken: a slow client never holds it. A process-wide
/// set, since paths are canonical and writers on several servers in one process share a disk.
pub fn lock(path: &Path) -> PathLock {
    let mut held = lock_set();
    while held.contains(path) {
        held = LOCKS
            .released
            .wait(held)
            .unwrap_or_else(PoisonError::into_inner);
    }
    held.insert(path.to_path_buf());
    PathLock {
        path: path.to_path_buf(),
    }
}

fn lock_set() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    LOCKS.held.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for PathLock {
    fn drop(&mut self) {
        lock_set().remove(&self.path);
        LOCKS.released.notify_all();
    }
}

/// How long a temporary file must have gone untouched before a sweep may call it abandoned,
/// when bodies are read with `body_timeout` (`body_timeout_s`).
pub fn abandoned_after(body_timeout: Duration) -> Duration {
    // A live writer touches its file at least every body_timeout while the body arrives. Twice
    // that, plus a minute: an NFS client may hold written pages back for about 30 s before the
    // server sees a new mtime, and the clocks of two hosts differ a little.
    body_timeout * 2 + Duration::from_secs(60)
}

/// What a sweep did: how many files it removed, and the unlocked ones too recent to judge
/// yet (a crash just before a restart leaves those), to be judged again later.
#[derive(Debug, Default)]
pub struct Swept {
    /// Temporary files removed.
    pub removed: usize,
    /// Unlocked temporary files touched within the margin.
    pub recent: Vec<PathBuf>,
}

/// What a sweep made of one temporary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Unlocked and untouched for the margin: removed.
    Removed,
    /// Locked: a live process is writing it.
    Locked,
    /// Unlocked but touched within the margin: perhaps live where locks are not shared.
    Recent,
    /// Gone, replaced, or not openable: left alone.
    Skipped,
}

/// Removes the abandoned temporary files anywhere under `root`: unlocked, and untouched for
/// `min_age` (see [`abandoned_after`]). Symlinks are not followed: only the root's own tree
/// is swept.
pub fn sweep(root: &Path, min_age: Duration) -> Swept {
    let mut swept = Swept::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
            match (temp, kind.is_dir()) {
                // A COPY's folder being filled, or a folder set aside to be deleted: whole.
                (true, true) => swept.count(entry.path(), min_age),
                (true, false) if kind.is_file() => swept.count(entry.path(), min_age),
                (false, true) => pending.push(entry.path()),
                _ => {}
            }
        }
    }
    swept
}

/// Judges `paths` (a [`Swept::recent`] list) again, removing those abandoned by now.
pub fn sweep_again(paths: Vec<PathBuf>, min_age: Duration) -> Swept {
    let mut swept = Swept::default();
    paths
        .into_iter()
        .for_each(|path| swept.count(path, min_age));
    swept
}

impl Swept {
    fn count(&mut self, path: PathBuf, min_age: Duration) {
        match remove_if_abandoned(&path, min_age) {
            Verdict::Removed => self.removed += 1,
            Verdict::Recent => self.recent.push(path),
            Verdict::Locked | Verdict::Skipped => {}
        }
    }
}

/// Removes the temporary file or folder at `path` if no process holds its lock and nothing
/// has touched it for `min_age`. A folder goes with all it holds.
fn remove_if_abandoned(path: &Path, min_age: Duration) -> Verdict {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    // Writable: NFS turns flock into a POSIX write lock, which needs it (a folder cannot be
    // opened so; there, its age decides). Never through a link.
    let access = match is_dir {
        true => OFlags::RDONLY | OFlags::DIRECTORY,
        false => OFlags::RDWR,
    };
    let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(file) = rustix::fs::open(path, flags, Mode::empty()).map(File::from) else {
        return Verdict::Skipped;
    };
    // Held until `file` closes, after the removal. WOULDBLOCK (EACCES on some NFS servers):
    // a live writer. Any other error: locks do not work here, and the age decides alone.
    let attempt = flock(&file, FlockOperation::NonBlockingLockExclusive);
    if let Err(Errno::WOULDBLOCK | Errno::ACCESS) = attempt {
        return Verdict::Locked;
    }
    let Ok(meta) = file.metadata() else {
        return Verdict::Skipped;
    };
    // A time in the future (another host's clock) is recent too.
    let age = meta
        .modified()
        .ok()
        .map(|m| SystemTime::now().duration_since(m));
    let old = matches!(age, Some(Ok(age)) if age >= min_age);
    // A writer of this machine that is no longer running needs no margin: it is gone for sure.
    let name = path.file_name().map(|n| n.to_string_lossy());
    if !old && !name.is_some_and(|n| super::owner::writer_is_gone(&n)) {
        return Verdict::Recent;
    }
    // The name must still lead to the file judged, not to one created under it since.
    let same =
        fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
    if !same {
        return Verdict::Skipped;
    }
    let removed = match is_dir {
        true => tree::remove_tree(path).is_empty(),
        false => fs::remove_file(path).is_ok(),
    };
    match removed {
        true => Verdict::Removed,
        false => Verdict::Skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("shelf-write-{tag}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Dir(dir.canonicalize().unwrap())
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn locate_table() {
        let root = Dir::new("root");
        let outside = Dir::new("outside");
        let r = &root.0;
        fs::create_dir(r.join("dir")).unwrap();
        fs::write(r.join("file"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside.0, r.join("out")).unwrap();
        fs::write(outside.0.join("file"), b"x").unwrap();
        std::os::unix::fs::symlink("dir", r.join("in")).unwrap();
        // (path, create, Ok(folder under root) or Err(status))
        let rows: &[(&str, bool, Result<&str, u16>)] = &[
            // Hostile rows first.
            ("/out/x", true, Err(404)),
            ("/out/new/x", true, Err(404)),
            ("/out/file/x", true, Err(404)),
            ("/file/x", true, Err(409)),
            ("/file/a/x", true, Err(409)),
            ("/file/x", false, Err(409)),
            ("/.hidden", true, Err(404)),
            ("/dir/.shelf-tmp-1", true, Err(404)),
            ("/", true, Err(409)),
            ("/dir/", true, Err(409)),
            ("/missing/x", false, Err(404)),
            // Ordinary rows.
            ("/x", false, Ok("")),
            ("/dir/x", false, Ok("dir")),
            ("/in/x", false, Ok("dir")),
            ("/a/b/x", true, Ok("a/b")),
        ];
        for (norm, create, want) in rows {
            let got = locate(r, norm, false, *create);
            match (want, got) {
                (Ok(dir), Ok(t)) => assert_eq!(t.dir, r.join(dir), "{norm}"),
                (Err(status), Err(e)) => assert_eq!(e.status(), *status, "{norm}"),
                (want, got) => panic!("{norm}: want {want:?}, got {got:?}"),
            }
        }
        assert_eq!(
            fs::read_dir(&outside.0).unwrap().count(),
            1,
            "wrote outside"
        );
        let made = locate(r, "/p/q/x", false, true).unwrap();
        assert_eq!(made.created, [r.join("p"), r.join("p/q")]);
        remove_created(&made.created);
        assert!(!r.join("p").exists());
    }

    /// One read of a test body: bytes, or an error.
    type Step = io::Result<&'static [u8]>;

    /// A body that yields `steps` in turn.
    struct Steps(Vec<Step>);

    impl Read for Steps {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let bytes = self.0.remove(0)?;
            buf[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        }
    }

    /// Read errors are the client's and keep their status; an interrupted read is retried.
    #[test]
    fn copy_body_rows() {
        use crate::http::body::BodyError;
        use crate::http::multipart::Malformed;
        let part = || io::Error::new(io::ErrorKind::InvalidData, Malformed("x"));
        let rows: Vec<(&str, Vec<Step>, Result<u64, u16>)> = vec![
            // Hostile rows first: the body breaks off in every way a client can break it.
            (
                "too large",
                vec![Ok(b"ab"), Err(BodyError::TooLarge { limit: 2 }.into())],
                Err(413),
            ),
            (
                "malformed chunks",
                vec![Err(BodyError::Malformed.into())],
                Err(400),
            ),
            (
                "too slow",
                vec![Ok(b"a"), Err(BodyError::Timeout.into())],
                Err(408),
            ),
            ("malformed multipart", vec![Ok(b"a"), Err(part())], Err(400)),
            (
                "cut short",
                vec![Err(io::ErrorKind::UnexpectedEof.into())],
                Err(500),
            ),
            // Ordinary rows.
            ("empty", vec![], Ok(0)),
            (
                "interrupted, then data",
                vec![Err(io::ErrorKind::Interrupted.into()), Ok(b"abc")],
                Ok(3),
            ),
            ("two reads", vec![Ok(b"ab"), Ok(b"cde")], Ok(5)),
        ];
        let dir = Dir::new("copy");
        for (name, steps, want) in rows {
            let mut out = File::create(dir.0.join("out")).unwrap();
            let mut hash = Md5::new();
            let got = copy_body(&mut Steps(steps), &mut out, Some(&mut hash));
            match (want, got) {
                (Ok(n), Ok(got)) => {
                    assert_eq!(got, n, "{name}");
                    assert_eq!(fs::metadata(dir.0.join("out")).unwrap().len(), n, "{name}");
                }
                (Err(status), Err(e)) => assert_eq!(e.status(), status, "{name}"),
                (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn temp_file_vanishes_unless_persisted() {
        let dir = Dir::new("temp");
        let mut temp = TempFile::create_in(&dir.0).unwrap();
        temp.file().write_all(b"partial").unwrap();
        let path = temp.path().to_path_buf();
        assert!(path.exists());
        drop(temp);
        assert!(!path.exists());
        let mut temp = TempFile::create_in(&dir.0).unwrap();
        temp.file().write_all(b"whole").unwrap();
        let meta = temp.persist(&dir.0.join("f")).unwrap();
        assert_eq!(meta.len(), 5);
        assert_eq!(fs::read(dir.0.join("f")).unwrap(), b"whole");
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    /// Makes a temporary-file name at `path`, last modified `age` ago.
    fn leftover(path: &Path, age: Duration) {
        fs::write(path, b"partial").unwrap();
        let file = OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    /// Only unlocked temporary files untouched for the margin go; a recent one is listed for
    /// later, and goes then if still untouched.
    #[test]
    fn sweep_rows() {
        let dir = Dir::new("sweep");
        let r = &dir.0;
        let margin = Duration::from_secs(60);
        let old = Duration::from_secs(3600);
        fs::create_dir_all(r.join("a/b")).unwrap();
        let name = |n: &str| format!("{TEMP_PREFIX}{n}");
        // Hostile and live rows first: each must survive.
        let live = TempFile::create_in(r).unwrap();
        OpenOptions::new()
            .write(true)
            .open(live.path())
            .unwrap()
            .set_modified(SystemTime::now() - old)
            .unwrap();
        std::os::unix::fs::symlink(r.join("a/keep"), r.join(name("link"))).unwrap();
        let live_dir = tree::TempDir::create_in(r).unwrap();
        fs::write(live_dir.path().join("member"), b"x").unwrap();
        live_dir
            .dir()
            .set_modified(SystemTime::now() - old)
            .unwrap();
        fs::create_dir(r.join(name("dir"))).unwrap();
        leftover(&r.join("a/keep"), old);
        leftover(&r.join("a").join(name("future")), Duration::ZERO);
        let future = SystemTime::now() + Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(r.join("a").join(name("future")))
            .unwrap()
            .set_modified(future)
            .unwrap();
        leftover(&r.join(name("recent")), Duration::from_secs(1));
        // Abandoned rows.
        leftover(&r.join(name("old")), old);
        leftover(&r.join("a/b").join(name("deep")), old);
        // A folder a crashed COPY or DELETE left: it goes whole.
        fs::create_dir_all(r.join(name("olddir")).join("sub")).unwrap();
        fs::write(r.join(name("olddir")).join("sub/f"), b"x").unwrap();
        File::open(r.join(name("olddir")))
            .unwrap()
            .set_modified(SystemTime::now() - old)
            .unwrap();
        let swept = sweep(r, margin);
        assert_eq!(swept.removed, 3);
        assert!(!r.join(name("olddir")).exists());
        let mut recent = swept.recent.clone();
        recent.sort();
        let mut want = [
            r.join(name("recent")),
            r.join(name("dir")),
            r.join("a").join(name("future")),
        ];
        want.sort();
        assert_eq!(recent, want);
        for kept in [
            live.path(),
            live_dir.path(),
            &r.join(name("link")),
            &r.join(name("dir")),
            &r.join("a/keep"),
        ] {
            assert!(kept.symlink_metadata().is_ok(), "{kept:?} kept");
        }
        // Judged again once it has aged past the margin: gone; the one from the future stays.
        leftover(&r.join(name("recent")), old);
        let again = sweep_again(swept.recent, margin);
        assert_eq!(again.removed, 1);
        assert!(!r.join(name("recent")).exists());
        assert!(live.path().exists(), "the live one is untouched");
        assert!(
            live_dir.path().join("member").exists(),
            "the live folder too"
        );
    }

    /// A temporary file's lock is held while it is open and dropped with it.
    #[test]
    fn temp_file_holds_its_lock_until_dropped() {
        let dir = Dir::new("lock");
        let temp = TempFile::create_in(&dir.0).unwrap();
        let other = OpenOptions::new().write(true).open(temp.path()).unwrap();
        let attempt = flock(&other, FlockOperation::NonBlockingLockExclusive);
        assert_eq!(attempt, Err(Errno::WOULDBLOCK));
        let path = temp.path().to_path_buf();
        let persisted = dir.0.join("done");
        temp.persist(&persisted).unwrap();
        assert!(!path.exists());
        let after = OpenOptions::new().write(true).open(&persisted).unwrap();
        assert_eq!(
            flock(&after, FlockOperation::NonBlockingLockExclusive),
            Ok(())
        );
    }

    #[test]
    fn lock_serialises_one_path() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        let path = PathBuf::from("/shelf-lock-test/x");
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside) = (path.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _guard = lock(&path);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Another path is not held up by this one.
        let _a = lock(&path);
        let _b = lock(Path::new("/shelf-lock-test/y"));
    }
}
