//! Whole entries on disk, for the WebDAV namespace methods: a file copied by the kernel, a
//! folder copied into a temporary folder that appears by one rename, a new entry put in the
//! place of an old one with no half state ever visible, and a folder removed after it has been
//! renamed out of sight.
//!
//! Everything here works on names, never through them: a symlink met in a tree is copied or
//! removed as a link and never followed, so a walk cannot leave the folder it was given.
//! Temporary names start with [`TEMP_PREFIX`], which no request can name and no listing shows;
//! those a crash leaves behind are swept (`fs::write::sweep`).

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rustix::fs::{
    AtFlags, CWD, Dir, FileType, FlockOperation, Mode, OFlags, RenameFlags, copy_file_range, flock,
    openat, readlinkat, renameat_with, statat, unlinkat,
};
use rustix::io::Errno;

use super::path::{TEMP_PREFIX, is_absent};
use super::xattr;

/// A fresh temporary name, `.shelf-tmp-<machine>-<pid>-<n>` (see `fs::owner`): never a name a
/// request can reach, and one a sweep can trace to its writer.
pub fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    super::owner::temp_name(n)
}

/// What to do when the destination's name is taken (WebDAV's `Overwrite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace what is there (`Overwrite: T`, the default).
    Replace,
    /// Leave it and do nothing (`Overwrite: F`).
    Keep,
}

/// What [`place`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// The name was free: the entry now has it.
    Created,
    /// The name was taken: the entry replaced what was there.
    Replaced,
    /// The name was taken and [`Existing::Keep`] asked to keep it: nothing moved.
    Kept,
}

/// A member a tree operation could not handle: its path relative to the tree, and why.
#[derive(Debug)]
pub struct Failure {
    /// The member's path below the tree's top (empty for the top itself).
    pub rel: PathBuf,
    /// What the file system said.
    pub error: io::Error,
}

/// Renames `from` to `dest` (one file system), whatever either is.
///
/// A free name is taken with `RENAME_NOREPLACE`, so an entry created there meanwhile is never
/// replaced by surprise. A taken name is replaced only with [`Existing::Replace`]: a file or
/// link over a file or link by one `rename`, which replaces atomically; otherwise (a folder on
/// either side, which `rename` cannot replace when not empty) the old entry is first renamed
/// aside under a temporary name, then the new one takes its name, then the old one is removed.
/// A reader sees the old entry or the new one, or for a moment none, never a mix.
pub fn place(from: &Path, dest: &Path, existing: Existing) -> io::Result<Placed> {
    if lstat(dest)?.is_none() {
        match rename_noreplace(from, dest) {
            Ok(()) => return Ok(Placed::Created),
            // Taken between the look and the rename (by another process: shelf's own writers
            // of one name take turns under its path lock): judged as taken.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if existing == Existing::Keep {
        return Ok(Placed::Kept);
    }
    let old = fs::symlink_metadata(dest)?;
    replace(from, dest, &old)?;
    Ok(Placed::Replaced)
}

/// Puts `from` where `old` (the entry at `dest`) is.
fn replace(from: &Path, dest: &Path, old: &Metadata) -> io::Result<()> {
    if !fs::symlink_metadata(from)?.is_dir() && !old.is_dir() {
        return fs::rename(from, dest);
    }
    let aside = Aside::set(dest)?;
    if let Err(e) = fs::rename(from, dest) {
        if let Err(back) = aside.restore(dest) {
            log::warn!("a replaced entry stays under a temporary name: {back}");
        }
        return Err(e);
    }
    let failures = remove_tree(&aside.path);
    if !failures.is_empty() {
        // Out of sight already; the sweep tries again later.
        log::warn!(
            "{} member(s) of a replaced folder could not be removed",
            failures.len()
        );
    }
    Ok(())
}

/// `rename` that fails with `AlreadyExists` rather than replace an entry at `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // A file system without RENAME_NOREPLACE (some network ones): the caller looked first,
        // and shelf's own writers of this name hold its path lock, so only another process
        // could slip in between.
        Err(Errno::INVAL | Errno::NOSYS) if lstat(to)?.is_none() => fs::rename(from, to),
        Err(e) => Err(e.into()),
    }
}

/// The metadata of the entry at `path` itself (a link is not followed); `None` when absent.
pub fn lstat(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An entry renamed out of sight under a temporary name in its own folder; a folder is locked
/// (`flock`) while set aside, so no sweep takes it for abandoned while it is being removed.
pub struct Aside {
    path: PathBuf,
    _lock: Option<File>,
}

impl Aside {
    /// Renames `entry` aside.
    pub fn set(entry: &Path) -> io::Result<Aside> {
        // Locked before the rename: the lock goes with the folder, not with its name.
        let lock = match fs::symlink_metadata(entry)?.is_dir() {
            true => Some(lock_dir(entry)?),
            false => None,
        };
        let parent = entry.parent().unwrap_or(Path::new("/"));
        loop {
            let path = parent.join(temp_name());
            match rename_noreplace(entry, &path) {
                Ok(()) => return Ok(Aside { path, _lock: lock }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the entry back to `entry`, unless something took that name meanwhile.
    pub fn restore(self, entry: &Path) -> io::Result<()> {
        rename_noreplace(&self.path, entry)
    }
}

/// Removes the entry at `entry` and all it holds. A folder is first renamed aside, so no
/// reader ever lists it half removed, then removed from there. What could not be removed goes
/// back under the folder's name — RFC 4918 §9.6.1: "If any resource identified by a member URL
/// cannot be deleted, then none of the member's ancestors MUST be deleted" — and is returned
/// (relative to `entry`). An error means nothing was removed.
pub fn remove_entry(entry: &Path) -> io::Result<Vec<Failure>> {
    if !fs::symlink_metadata(entry)?.is_dir() {
        fs::remove_file(entry)?;
        return Ok(Vec::new());
    }
    let aside = Aside::set(entry)?;
    let failures = remove_tree(&aside.path);
    if !failures.is_empty()
        && let Err(e) = aside.restore(entry)
    {
        // Something took the name meanwhile: the remains stay out of sight for the sweep.
        log::warn!("the remains of a deleted folder stay under a temporary name: {e}");
    }
    Ok(failures)
}

/// Opens the folder at `path` (never through a link) and locks it; a file system without
/// locks gives an unlocked handle, and the sweep's age test alone protects the folder there.
fn lock_dir(path: &Path) -> io::Result<File> {
    let dir = open_dir(path)?;
    if let Err(e) = flock(&dir, FlockOperation::LockExclusive) {
        log::debug!("cannot lock a temporary folder ({e}); its age protects it");
    }
    Ok(dir)
}

/// Removes the entry at `top` and everything below it, never following a link; returns what
/// could not be removed (relative to `top`). RFC 4918 §9.6.1: a member that fails keeps its
/// ancestors, which are not reported themselves.
///
/// The walk goes by open folders (`openat` with `O_NOFOLLOW`, `unlinkat`), never by path: a
/// folder swapped for a symlink while the walk runs is never followed. Iterative, so a deep
/// tree cannot overflow a connection thread's stack; a folder is opened only when its turn
/// comes, so the open descriptors are about one per level.
pub fn remove_tree(top: &Path) -> Vec<Failure> {
    let mut walk = Removal::default();
    let dir = match fs::symlink_metadata(top) {
        Err(e) if is_absent(&e) => return Vec::new(),
        Ok(meta) if !meta.is_dir() => {
            if let Err(error) = fs::remove_file(top) {
                walk.fail(PathBuf::new(), error);
            }
            return walk.failures;
        }
        Ok(_) => open_dir(top).map(OwnedFd::from),
        Err(e) => Err(e),
    };
    match dir {
        Ok(dir) => walk.run(dir, top),
        Err(error) => walk.fail(PathBuf::new(), error),
    }
    walk.failures
}

/// A folder met in a walk: the open folder it is in, its name there, its path below the top.
/// The top itself has no parent.
#[derive(Clone)]
struct Member {
    parent: Option<Rc<OwnedFd>>,
    name: CString,
    rel: PathBuf,
}

impl Member {
    fn child(parent: &Rc<OwnedFd>, rel: &Path, name: &CStr) -> Member {
        Member {
            parent: Some(parent.clone()),
            name: name.to_owned(),
            rel: rel.join(OsStr::from_bytes(name.to_bytes())),
        }
    }

    /// Opens the folder itself, never through a link.
    fn open(&self) -> io::Result<OwnedFd> {
        let parent = self.parent.as_ref().ok_or(io::ErrorKind::NotFound)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(openat(
            &**parent,
            self.name.as_c_str(),
            flags,
            Mode::empty(),
        )?)
    }
}

/// What a removal walk has found so far.
#[derive(Default)]
struct Removal {
    failures: Vec<Failure>,
    /// Folders that keep a member, and so stay: not removed, not reported.
    kept: HashSet<PathBuf>,
}

/// One step of a removal: empty an open folder, or remove a folder once emptied.
enum Step {
    Empty(Rc<OwnedFd>, PathBuf),
    Open(Member),
    Remove(Member),
}

impl Removal {
    fn run(&mut self, top_dir: OwnedFd, top: &Path) {
        let top_member = Member {
            parent: None,
            name: CString::default(),
            rel: PathBuf::new(),
        };
        let mut steps = vec![
            Step::Remove(top_member),
            Step::Empty(Rc::new(top_dir), PathBuf::new()),
        ];
        while let Some(step) = steps.pop() {
            match step {
                Step::Empty(dir, rel) => {
                    let folders = self.empty(&dir, &rel);
                    steps.extend(
                        folders
                            .into_iter()
                            .flat_map(|member| [Step::Remove(member.clone()), Step::Open(member)]),
                    );
                }
                Step::Open(member) => match member.open() {
                    Ok(dir) => steps.push(Step::Empty(Rc::new(dir), member.rel)),
                    Err(error) => self.fail(member.rel, error),
                },
                Step::Remove(member) if self.kept.contains(&member.rel) => {}
                Step::Remove(member) => {
                    let removed = match &member.parent {
                        Some(parent) => {
                            unlinkat(&**parent, member.name.as_c_str(), AtFlags::REMOVEDIR)
                                .map_err(io::Error::from)
                        }
                        None => fs::remove_dir(top),
                    };
                    if let Err(error) = removed {
                        self.fail(member.rel, error);
                    }
                }
            }
        }
    }

    /// Removes what the open folder `dir` (at `rel`) holds but its folders, which it returns.
    fn empty(&mut self, dir: &Rc<OwnedFd>, rel: &Path) -> Vec<Member> {
        let mut folders = Vec::new();
        let entries = match Dir::read_from(&**dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.fail(rel.to_path_buf(), e.into());
                return folders;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.fail(rel.to_path_buf(), e.into());
                    break;
                }
            };
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let member = || rel.join(OsStr::from_bytes(name.to_bytes()));
            match kind_at(dir, name, entry.file_type()) {
                Ok(FileType::Directory) => folders.push(Member::child(dir, rel, name)),
                Ok(_) => {
                    if let Err(e) = unlinkat(&**dir, name, AtFlags::empty()) {
                        self.fail(member(), e.into());
                    }
                }
                Err(e) => self.fail(member(), e),
            }
        }
        folders
    }

    /// Records a member that stays, and keeps its ancestors.
    fn fail(&mut self, rel: PathBuf, error: io::Error) {
        self.kept.extend(rel.ancestors().map(Path::to_path_buf));
        self.failures.push(Failure { rel, error });
    }
}

/// What the entry `name` in the open folder `dir` is: the listing's type when it says, else
/// `fstatat`'s (never following a link).
fn kind_at(dir: &OwnedFd, name: &CStr, listed: FileType) -> io::Result<FileType> {
    if listed != FileType::Unknown {
        return Ok(listed);
    }
    let stat = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(FileType::from_raw_mode(stat.st_mode))
}

/// Copies the bytes of `from` to `to` from their current positions: by the kernel
/// (`copy_file_range`, which clones extents where the file system can, so a large copy never
/// passes through this process), else through a buffer where the kernel cannot.
pub fn copy_data(from: &File, to: &File) -> io::Result<u64> {
    // One call moves at most this much; the loop goes on until the end of the file.
    const CHUNK: usize = 1 << 30;
    let mut total = 0u64;
    loop {
        match copy_file_range(from, None, to, None, CHUNK) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(Errno::INTR) => continue,
            // No kernel copy between these two (an old kernel across file systems, a file
            // system or a seccomp filter without it): through a buffer, from where it stopped.
            Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL | Errno::BADF) => {
                let (mut from, mut to) = (from, to);
                return Ok(total + io::copy(&mut from, &mut to)?);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens the regular file at `path` for reading, never through a link, and never blocking on
/// a named pipe put there meanwhile; anything else is refused.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    match file.metadata()?.is_file() {
        true => Ok(file),
        false => Err(not_copied()),
    }
}

/// The error for an entry that is neither a file, a folder nor a link (a pipe, a socket, a
/// device): shelf never copies one, and answers 403 for it.
fn not_copied() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "neither a file, a folder nor a link",
    )
}

/// A new folder under a temporary name, locked while it is filled (so no sweep takes it), and
/// removed with what it holds when dropped unless [`TempDir::place`] put it in place.
pub struct TempDir {
    path: PathBuf,
    dir: File,
    placed: bool,
}

impl TempDir {
    /// Creates an empty temporary folder in `parent`.
    pub fn create_in(parent: &Path) -> io::Result<TempDir> {
        loop {
            let path = parent.join(temp_name());
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let dir = match lock_dir(&path) {
                Ok(dir) => dir,
                Err(e) => {
                    let _ = fs::remove_dir(&path);
                    return Err(e);
                }
            };
            return Ok(TempDir {
                path,
                dir,
                placed: false,
            });
        }
    }

    /// The temporary folder's path.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open folder, for its properties.
    pub fn dir(&self) -> &File {
        &self.dir
    }

    /// Copies the members of the open folder `from` into this one, all the way down (see
    /// [`copy_members`]).
    pub fn fill_from(&self, from: &File) -> Vec<Failure> {
        copy_members(from, &self.path, &|| self.touch())
    }

    /// Marks the folder as in use now: a long copy stays young in the eyes of a sweep that
    /// cannot see its lock (locks not shared between hosts).
    fn touch(&self) {
        let _ = self.dir.set_modified(SystemTime::now());
    }

    /// Flushes the copy to disk, then renames the folder to `dest` as [`place`] does.
    pub fn place(mut self, dest: &Path, existing: Existing) -> io::Result<Placed> {
        // One `syncfs` rather than an `fsync` per copied file: a folder of a thousand files
        // would otherwise wait for a thousand flushes. The data is on disk before the name.
        rustix::fs::syncfs(&self.dir)?;
        let placed = place(&self.path, dest, existing)?;
        self.placed = placed != Placed::Kept;
        Ok(placed)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.placed {
            remove_tree(&self.path);
        }
    }
}

/// A copy of a symlink under a temporary name, removed when dropped unless placed.
pub struct TempLink {
    path: PathBuf,
    placed: bool,
}

impl TempLink {
    /// A new link in `parent` with the same target as the link at `from`.
    pub fn copy_in(parent: &Path, from: &Path) -> io::Result<TempLink> {
        let target = fs::read_link(from)?;
        loop {
            let path = parent.join(temp_name());
            match std::os::unix::fs::symlink(&target, &path) {
                Ok(()) => {
                    return Ok(TempLink {
                        path,
                        placed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the link to `dest` as [`place`] does.
    pub fn place(mut self, dest: &Path, existing: Existing) -> io::Result<Placed> {
        let placed = place(&self.path, dest, existing)?;
        self.placed = placed != Placed::Kept;
        Ok(placed)
    }
}

impl Drop for TempLink {
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Copies what the open folder `from` holds into the existing folder `to`, all the way down,
/// and returns the members that failed (relative to `from`). Files are copied with their
/// dead properties; folders are made anew with theirs; a symlink is copied as a link (the same
/// target text), never followed, so a copy cannot loop or read outside the tree — and reads of
/// the new link are judged like any link, by where it leads. Temporary files are in-flight
/// uploads, not members: skipped. Pipes, sockets and devices are refused. `touch` runs after
/// each member.
///
/// The source is walked by open folders (`openat` with `O_NOFOLLOW`), never by path, so a
/// folder swapped for a symlink while the copy runs (a MOVE elsewhere) is never followed out
/// of the tree. The copy is made by path: it is under a temporary name no request can reach.
pub fn copy_members(from: &File, to: &Path, touch: &dyn Fn()) -> Vec<Failure> {
    let top = match from.try_clone() {
        Ok(top) => OwnedFd::from(top),
        Err(error) => {
            let rel = PathBuf::new();
            return vec![Failure { rel, error }];
        }
    };
    let mut failures = Vec::new();
    let mut pending = vec![(top, PathBuf::new())];
    while let Some((dir, rel)) = pending.pop() {
        let entries = match Dir::read_from(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                failures.push(Failure {
                    rel,
                    error: e.into(),
                });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    failures.push(Failure {
                        rel: rel.clone(),
                        error: e.into(),
                    });
                    break;
                }
            };
            let name = entry.file_name();
            let bytes = name.to_bytes();
            if matches!(bytes, b"." | b"..") || bytes.starts_with(TEMP_PREFIX.as_bytes()) {
                continue;
            }
            let member = rel.join(OsStr::from_bytes(bytes));
            let copied = kind_at(&dir, name, entry.file_type())
                .and_then(|kind| copy_member(&dir, name, kind, &to.join(&member)));
            match copied {
                Ok(Some(sub)) => pending.push((sub, member)),
                Ok(None) => {}
                Err(error) => failures.push(Failure { rel: member, error }),
            }
            touch();
        }
    }
    failures
}

/// Copies the entry `name` of the open folder `dir` to `dst`; a folder is made empty and
/// returned open, its members to come.
fn copy_member(
    dir: &OwnedFd,
    name: &CStr,
    kind: FileType,
    dst: &Path,
) -> io::Result<Option<OwnedFd>> {
    let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match kind {
        FileType::Directory => {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | nofollow;
            let sub = openat(dir, name, flags, Mode::empty())?;
            fs::create_dir(dst)?;
            xattr::copy_dav_props(&sub, open_dir(dst)?)?;
            Ok(Some(sub))
        }
        FileType::RegularFile => {
            // Non-blocking: a pipe swapped in meanwhile must not hold the copy up.
            let flags = OFlags::RDONLY | OFlags::NONBLOCK | nofollow;
            let from = File::from(openat(dir, name, flags, Mode::empty())?);
            if !from.metadata()?.is_file() {
                return Err(not_copied());
            }
            let to = OpenOptions::new().write(true).create_new(true).open(dst)?;
            copy_data(&from, &to)?;
            xattr::copy_dav_props(&from, &to)?;
            Ok(None)
        }
        FileType::Symlink => {
            let target = readlinkat(dir, name, Vec::new())?;
            std::os::unix::fs::symlink(OsStr::from_bytes(target.to_bytes()), dst)?;
            Ok(None)
        }
        _ => Err(not_copied()),
    }
}

/// Opens a folder (for its lock, its properties or a copy), never through a link.
pub fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::DIRECTORY | OFlags::NOFOLLOW).bits() as i32)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{IFlags, Mode, ioctl_getflags, ioctl_setflags};

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("shelf-tree-{tag}-{}-{n}", std::process::id()));
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

    /// What an entry is, for the tables.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Nothing,
        File,
        Folder,
        Link,
    }

    fn make(path: &Path, kind: Kind, tag: &str) {
        match kind {
            Kind::Nothing => {}
            Kind::File => fs::write(path, tag).unwrap(),
            Kind::Folder => {
                fs::create_dir(path).unwrap();
                fs::write(path.join("member"), tag).unwrap();
            }
            Kind::Link => std::os::unix::fs::symlink(tag, path).unwrap(),
        }
    }

    fn kind_of(path: &Path) -> Kind {
        match fs::symlink_metadata(path) {
            Err(_) => Kind::Nothing,
            Ok(m) if m.is_dir() => Kind::Folder,
            Ok(m) if m.is_symlink() => Kind::Link,
            Ok(_) => Kind::File,
        }
    }

    /// Every pair of kinds, both ways of `Overwrite`: the new entry lands whole or not at all,
    /// and no temporary name is left behind.
    #[test]
    fn place_rows() {
        use Kind::*;
        let rows: &[(Kind, Kind, Existing, Placed)] = &[
            // Taken names, kept.
            (File, File, Existing::Keep, Placed::Kept),
            (Folder, Folder, Existing::Keep, Placed::Kept),
            (File, Link, Existing::Keep, Placed::Kept),
            // Taken names, replaced: each kind over each.
            (File, File, Existing::Replace, Placed::Replaced),
            (File, Folder, Existing::Replace, Placed::Replaced),
            (Folder, File, Existing::Replace, Placed::Replaced),
            (Folder, Folder, Existing::Replace, Placed::Replaced),
            (Link, Folder, Existing::Replace, Placed::Replaced),
            (File, Link, Existing::Replace, Placed::Replaced),
            // Free names.
            (File, Nothing, Existing::Keep, Placed::Created),
            (Folder, Nothing, Existing::Replace, Placed::Created),
            (Link, Nothing, Existing::Replace, Placed::Created),
        ];
        for (i, (from_kind, dest_kind, existing, want)) in rows.iter().enumerate() {
            let dir = Dir::new("place");
            let (from, dest) = (dir.0.join("from"), dir.0.join("dest"));
            make(&from, *from_kind, "new");
            make(&dest, *dest_kind, "old");
            let got = place(&from, &dest, *existing).unwrap();
            assert_eq!(got, *want, "row {i}");
            let (now_from, now_dest) = match got {
                Placed::Kept => (*from_kind, *dest_kind),
                _ => (Nothing, *from_kind),
            };
            assert_eq!(kind_of(&from), now_from, "row {i}: from");
            assert_eq!(kind_of(&dest), now_dest, "row {i}: dest");
            let names: Vec<_> = fs::read_dir(&dir.0).unwrap().flatten().collect();
            assert!(
                names
                    .iter()
                    .all(|e| !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX)),
                "row {i}: a temporary name is left"
            );
        }
    }

    /// A file that cannot be unlinked, by the immutable flag (root ignores permissions);
    /// `false` where the file system has no such flag.
    fn pin(path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        let flags = ioctl_getflags(&file).unwrap_or(IFlags::empty());
        ioctl_setflags(&file, flags | IFlags::IMMUTABLE).is_ok() && fs::remove_file(path).is_err()
    }

    fn unpin(path: &Path) {
        if let Ok(file) = File::open(path) {
            let flags = ioctl_getflags(&file).unwrap_or(IFlags::empty());
            let _ = ioctl_setflags(&file, flags - IFlags::IMMUTABLE);
        }
    }

    /// A member that cannot go keeps its ancestors, which are not reported; the rest goes;
    /// the remains come back under the folder's name.
    #[test]
    fn remove_entry_keeps_what_cannot_go() {
        let dir = Dir::new("remove");
        let top = dir.0.join("top");
        fs::create_dir_all(top.join("a/b")).unwrap();
        fs::create_dir_all(top.join("c/d")).unwrap();
        fs::write(top.join("a/b/pinned"), b"x").unwrap();
        fs::write(top.join("a/b/free"), b"x").unwrap();
        fs::write(top.join("c/d/free"), b"x").unwrap();
        std::os::unix::fs::symlink("/", top.join("a/root-link")).unwrap();
        if !pin(&top.join("a/b/pinned")) {
            eprintln!("no immutable flag here: skipped");
            return;
        }
        let failures = remove_entry(&top).unwrap();
        unpin(&top.join("a/b/pinned"));
        let rels: Vec<_> = failures.iter().map(|f| f.rel.clone()).collect();
        assert_eq!(rels, [PathBuf::from("a/b/pinned")]);
        assert!(top.join("a/b/pinned").exists());
        assert!(!top.join("a/b/free").exists());
        assert!(!top.join("a/root-link").exists());
        assert!(!top.join("c").exists());
        assert!(Path::new("/").exists(), "a link is removed, never followed");
        // Nothing pinned: all of it goes, and the name is free.
        assert!(remove_entry(&top).unwrap().is_empty());
        assert!(!top.exists());
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    /// Files with their bytes, folders, links as links; temporary files skipped; a pipe
    /// refused (and never opened, which would block).
    #[test]
    fn copy_members_rows() {
        let dir = Dir::new("copy");
        let (from, to) = (dir.0.join("from"), dir.0.join("to"));
        fs::create_dir_all(from.join("sub/deeper")).unwrap();
        fs::create_dir(&to).unwrap();
        fs::write(from.join("a.txt"), b"alpha").unwrap();
        fs::write(from.join("sub/deeper/b.txt"), vec![7u8; 300_000]).unwrap();
        fs::write(from.join(format!("{TEMP_PREFIX}1-1")), b"in flight").unwrap();
        std::os::unix::fs::symlink("../a.txt", from.join("sub/link")).unwrap();
        std::os::unix::fs::symlink("/etc", from.join("out")).unwrap();
        rustix::fs::mknodat(
            CWD,
            from.join("pipe"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let failures = copy_members(&open_dir(&from).unwrap(), &to, &|| {});
        let rels: Vec<_> = failures.iter().map(|f| f.rel.clone()).collect();
        assert_eq!(rels, [PathBuf::from("pipe")]);
        assert_eq!(failures[0].error.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs::read(to.join("a.txt")).unwrap(), b"alpha");
        assert_eq!(
            fs::read(to.join("sub/deeper/b.txt")).unwrap(),
            vec![7u8; 300_000]
        );
        assert_eq!(
            fs::read_link(to.join("sub/link")).unwrap(),
            Path::new("../a.txt")
        );
        assert_eq!(fs::read_link(to.join("out")).unwrap(), Path::new("/etc"));
        assert!(!to.join(format!("{TEMP_PREFIX}1-1")).exists());
        assert!(!to.join("pipe").exists());
    }

    /// A folder swapped for a symlink after the listing called it a folder (a MOVE racing a
    /// copy or a removal) is never followed: the open by name refuses the link.
    #[test]
    fn a_folder_swapped_for_a_link_is_not_followed() {
        let dir = Dir::new("swap");
        let outside = Dir::new("swap-out");
        fs::write(outside.0.join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(&outside.0, dir.0.join("sub")).unwrap();
        let fd = OwnedFd::from(open_dir(&dir.0).unwrap());
        let name = CString::new("sub").unwrap();
        let copy = dir.0.join("copy");
        for listed in [FileType::Directory, FileType::RegularFile] {
            assert!(
                copy_member(&fd, &name, listed, &copy).is_err(),
                "{listed:?}"
            );
            assert!(!copy.exists(), "{listed:?}");
        }
        let member = Member::child(&Rc::new(fd), Path::new(""), &name);
        assert!(member.open().is_err());
        assert_eq!(fs::read(outside.0.join("secret")).unwrap(), b"s");
    }

    /// A temporary folder goes with what it holds unless placed.
    #[test]
    fn temp_dir_vanishes_unless_placed() {
        let dir = Dir::new("tempdir");
        let temp = TempDir::create_in(&dir.0).unwrap();
        fs::write(temp.path().join("x"), b"x").unwrap();
        drop(temp);
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 0);
        let temp = TempDir::create_in(&dir.0).unwrap();
        fs::write(temp.path().join("x"), b"x").unwrap();
        assert_eq!(
            temp.place(&dir.0.join("d"), Existing::Keep).unwrap(),
            Placed::Created
        );
        assert_eq!(fs::read(dir.0.join("d/x")).unwrap(), b"x");
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    }
}
