//! Request paths to files: normalisation that cannot leave the root, then resolution under it.
//!
//! Two steps, kept apart so the first is a pure function, fuzzed by
//! `fuzz/fuzz_targets/normalize_path.rs`: [`normalize_path`] turns the raw path of a request
//! target into a clean, decoded, absolute path or refuses it (400); [`resolve`] maps that path
//! under a canonical root, applying the hidden-file policy and the rule that a symlink leading
//! outside the root is absent (404), which [`canonical_within`] decides for every caller.

use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// Name prefix of upload temporary files; such names are never read or listed (SPEC §4).
pub const TEMP_PREFIX: &str = ".shelf-tmp-";

/// Why a request path was refused; every variant becomes 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// An encoded separator, `%2f` or `%5c`, which would smuggle a `/` or `\` past the split.
    EncodedSeparator,
    /// A NUL byte, raw or as `%00`.
    Nul,
    /// A raw `\`, which some file systems treat as a separator.
    Backslash,
    /// Dot segments that climb above the root, such as `/../x`.
    AboveRoot,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl PathError {
    /// A short, fixed phrase, the `Display` text; it never contains the path itself, so it
    /// can be logged, and is the why of the 400 a client gets.
    pub fn reason(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "the path must start with /",
            PathError::BadEscape => "an invalid percent-escape in the path",
            PathError::EncodedSeparator => "an encoded / or \\ in the path",
            PathError::Nul => "a NUL byte in the path",
            PathError::Backslash => "a backslash in the path",
            PathError::AboveRoot => "the path climbs above the root",
            PathError::NotUtf8 => "the path is not UTF-8",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for PathError {}

/// Decodes and normalises the path part of a request target (no query).
///
/// The result starts with `/`, has no empty, `.` or `..` segments, keeps a trailing slash when
/// the input had one (or ended in a dot segment), and is valid UTF-8.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut trailing_slash = false;
    // Splitting on the raw `/` before decoding is sound because encoded separators are refused.
    for raw_segment in rest.split('/') {
        let segment = decode_segment(raw_segment)?;
        // RFC 3986 §5.2.4: a final "." or ".." segment leaves the output ending in "/".
        trailing_slash = matches!(segment.as_slice(), b"" | b"." | b"..");
        match segment.as_slice() {
            b"" | b"." => {}
            // RFC 3986 clamps ".." at the root; we refuse instead, as the SPEC asks (400).
            b".." => {
                stack.pop().ok_or(PathError::AboveRoot)?;
            }
            _ => stack.push(segment),
        }
    }
    join_segments(&stack, trailing_slash)
}

/// Percent-decodes one segment (RFC 3986 §2.1), refusing what could change its meaning.
fn decode_segment(raw: &str) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEscape);
                };
                i += 3;
                match hi << 4 | lo {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    decoded => decoded,
                }
            }
            b'\\' => return Err(PathError::Backslash),
            raw_byte => {
                i += 1;
                raw_byte
            }
        };
        if byte == 0 {
            return Err(PathError::Nul);
        }
        out.push(byte);
    }
    Ok(out)
}

/// The value of one ASCII hex digit.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Joins decoded segments into `/a/b` (or `/a/b/`), checking the whole is UTF-8.
fn join_segments(stack: &[Vec<u8>], trailing_slash: bool) -> Result<String, PathError> {
    let mut out = Vec::with_capacity(stack.iter().map(|s| s.len() + 1).sum::<usize>() + 1);
    for segment in stack {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push(b'/');
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8)
}

/// A path that exists under the root, ready to be served or listed.
#[derive(Debug)]
pub struct Resolved {
    /// The canonical path, inside the root.
    pub path: PathBuf,
    /// Metadata of the target (symlinks followed).
    pub metadata: Metadata,
    /// True for a directory.
    pub is_dir: bool,
}

/// Why a normalised path does not lead to something servable.
#[derive(Debug)]
pub enum ResolveError {
    /// Missing, hidden by policy, a temporary upload file, or a symlink leading outside the
    /// root (404).
    NotFound,
    /// Any other file-system failure, such as permission denied; the caller maps it to a status.
    Io(io::Error),
}

/// "Too many levels of symbolic links"; by number, as `io::ErrorKind::FilesystemLoop` is unstable.
#[cfg(target_os = "linux")]
const ELOOP: i32 = 40;
/// "Too many levels of symbolic links" on macOS and the BSDs.
#[cfg(not(target_os = "linux"))]
const ELOOP: i32 = 62;

/// True when an error says nothing is at the path: `ENOENT`, or `ENOTDIR` for a path through a
/// regular file (`/file.txt/x`). Such a lookup answers 404 wherever it happens.
pub fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

impl From<io::Error> for ResolveError {
    fn from(e: io::Error) -> Self {
        // Beyond what is absent everywhere, a read also finds nothing behind a name too long
        // for any file (ENAMETOOLONG) or a symlink loop, which leads nowhere, like a dangling link.
        let nothing_there = is_absent(&e)
            || e.kind() == io::ErrorKind::InvalidFilename
            || e.raw_os_error() == Some(ELOOP);
        match nothing_there {
            true => ResolveError::NotFound,
            false => ResolveError::Io(e),
        }
    }
}

/// Maps a path from [`normalize_path`] under `root`, which must already be canonical.
///
/// Segments starting with `.` are absent unless `hidden`; temporary upload files always are.
/// Symlinks are followed, but a target outside `root` is absent. A trailing slash on something
/// that is not a directory is absent too, as it would be for a file system lookup.
pub fn resolve(root: &Path, norm: &str, hidden: bool) -> Result<Resolved, ResolveError> {
    let mut joined = root.to_path_buf();
    for segment in norm.split('/').filter(|s| !s.is_empty()) {
        if !is_visible_name(segment, hidden) {
            return Err(ResolveError::NotFound);
        }
        joined.push(segment);
    }
    // Dot segments never come from `normalize_path`; should a caller pass one, only the slow
    // path's check against the root may decide.
    let dotted = norm.split('/').any(|s| s == "." || s == "..");
    if !dotted && let Some(found) = resolve_without_symlinks(joined.clone(), norm)? {
        return Ok(found);
    }
    let Some(path) = canonical_within(root, &joined)? else {
        return Err(ResolveError::NotFound);
    };
    let metadata = fs::metadata(&path)?;
    let is_dir = metadata.is_dir();
    if norm.ends_with('/') && !is_dir {
        return Err(ResolveError::NotFound);
    }
    Ok(Resolved {
        path,
        metadata,
        is_dir,
    })
}

/// `path` canonicalised (symlinks followed, dot segments resolved), or `None` when that lies
/// outside `root`, which must itself be canonical; the root itself is inside.
///
/// The one check behind SPEC §3's "a symlink whose target lies outside the root is treated as
/// absent", for reads, listings and writes alike. The comparison is by whole components, so
/// `/srv/root2` is not inside `/srv/root`. An error is the file system's: a missing or dangling
/// path, a symlink loop, a permission.
pub fn canonical_within(root: &Path, path: &Path) -> io::Result<Option<PathBuf>> {
    let canonical = path.canonicalize()?;
    Ok(canonical.starts_with(root).then_some(canonical))
}

/// The common case in three system calls (`openat2`, `statx`, `close`) instead of one
/// `readlink` per path component: open the path with `RESOLVE_NO_SYMLINKS`. The root is
/// canonical and a normalised path has no dot segments, so a path the kernel walks without
/// meeting a symlink is its own canonical form, inside the root. `Ok(None)` when a symlink is
/// on the way (`ELOOP`), the kernel has no `openat2`, or anything else is unusual: the caller
/// then takes the slow path, which decides.
fn resolve_without_symlinks(path: PathBuf, norm: &str) -> Result<Option<Resolved>, ResolveError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    // O_PATH: metadata only, so a named pipe cannot block the open.
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(rustix::fs::CWD, &path, flags, Mode::empty(), resolve) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Err(ResolveError::NotFound),
        Err(_) => return Ok(None),
    };
    let metadata = fs::File::from(fd).metadata()?;
    let is_dir = metadata.is_dir();
    if norm.ends_with('/') && !is_dir {
        return Err(ResolveError::NotFound);
    }
    Ok(Some(Resolved {
        path,
        metadata,
        is_dir,
    }))
}

/// True when a file name may be read or listed under the `hidden` policy.
pub fn is_visible_name(name: &str, hidden: bool) -> bool {
    if name.starts_with(TEMP_PREFIX) {
        return false;
    }
    hidden || !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `normalize_path` table, in the manner of darkhttpd's `test_make_safe_uri.c`:
    /// hostile rows first, then the ordinary ones.
    #[test]
    fn normalize_path_table() {
        use PathError::*;
        let rows: &[(&str, Result<&str, PathError>)] = &[
            // Climbing above the root, plain and encoded.
            ("/..", Err(AboveRoot)),
            ("/../", Err(AboveRoot)),
            ("/../x", Err(AboveRoot)),
            ("/a/../..", Err(AboveRoot)),
            ("/a/../../x", Err(AboveRoot)),
            ("/%2e%2e/x", Err(AboveRoot)),
            ("/%2E%2E", Err(AboveRoot)),
            ("/.%2e/x", Err(AboveRoot)),
            ("/a/../../a/x", Err(AboveRoot)),
            // Encoded separators.
            ("/%2f", Err(EncodedSeparator)),
            ("/a%2Fb", Err(EncodedSeparator)),
            ("/a%5cb", Err(EncodedSeparator)),
            ("/a%5C..%5C..%5Cetc", Err(EncodedSeparator)),
            ("/..%2f..%2fetc", Err(EncodedSeparator)),
            // Backslash and NUL.
            ("/a\\b", Err(Backslash)),
            ("/..\\x", Err(Backslash)),
            ("/%00", Err(Nul)),
            ("/a\0b", Err(Nul)),
            ("/a.txt%00.html", Err(Nul)),
            // Bad escapes.
            ("/a%", Err(BadEscape)),
            ("/a%4", Err(BadEscape)),
            ("/a%g0", Err(BadEscape)),
            ("/%zz", Err(BadEscape)),
            ("/%%41", Err(BadEscape)),
            // Not UTF-8 once decoded.
            ("/%ff", Err(NotUtf8)),
            ("/%C3", Err(NotUtf8)),
            ("/%c0%ae%c0%ae/x", Err(NotUtf8)),
            // Not absolute.
            ("", Err(NotAbsolute)),
            ("a/b", Err(NotAbsolute)),
            ("*", Err(NotAbsolute)),
            // Ordinary paths.
            ("/", Ok("/")),
            ("//", Ok("/")),
            ("/.", Ok("/")),
            ("/a/b", Ok("/a/b")),
            ("//a//b/", Ok("/a/b/")),
            ("/a/./b", Ok("/a/b")),
            ("/a/b/.", Ok("/a/b/")),
            ("/a/b/..", Ok("/a/")),
            ("/a/b/../", Ok("/a/")),
            ("/a/..", Ok("/")),
            ("/a/%2E./b", Ok("/b")),
            ("/a/%2e/b", Ok("/a/b")),
            ("/a/.b/..c", Ok("/a/.b/..c")),
            ("/a/.../b", Ok("/a/.../b")),
            ("/%C3%A9t%C3%A9", Ok("/été")),
            ("/été", Ok("/été")),
            ("/a%20b", Ok("/a b")),
            ("/a b", Ok("/a b")),
            ("/a+b", Ok("/a+b")),
            ("/%41%7e", Ok("/A~")),
            ("/a/%252e%252e/", Ok("/a/%2e%2e/")),
        ];
        for (raw, want) in rows {
            let got = normalize_path(raw);
            assert_eq!(
                got.as_deref(),
                want.as_ref().copied(),
                "normalize_path({raw:?})"
            );
        }
    }

    /// Invariant of every accepted path (the `normalize_path` fuzz target checks the same):
    /// it starts with `/`, has no `.` or `..` segment, and normalises to itself again once its
    /// `%` signs are written as `%25`. A bare second pass is not stable, since the output is
    /// decoded: `/%2541` gives `/%41`, which would decode again to `/A`. Random paths over an
    /// alphabet of separators, dots, escapes and the bytes that are refused.
    #[test]
    fn normalize_path_properties() {
        const ALPHABET: [&str; 16] = [
            "/", "/", ".", ".", "%", "2", "5", "e", "E", "f", "c", "0", "a", "é", "\\", "%2e",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = next() % 24;
            // Most start with `/`, so that what follows is reached.
            let mut raw = String::from(if next() % 8 == 0 { "" } else { "/" });
            raw.extend((0..len).map(|_| ALPHABET[(next() % 16) as usize]));
            let Ok(norm) = normalize_path(&raw) else {
                continue;
            };
            accepted += 1;
            assert!(norm.starts_with('/'), "{raw:?} -> {norm:?}");
            assert!(
                !norm.split('/').any(|s| s == "." || s == ".."),
                "{raw:?} -> {norm:?}"
            );
            let again = normalize_path(&norm.replace('%', "%25"));
            assert_eq!(again.as_deref(), Ok(norm.as_str()), "{raw:?}");
        }
        assert!(
            accepted > 1_000,
            "only {accepted} paths accepted: the alphabet is too hostile"
        );
        assert_eq!(normalize_path("/%41").as_deref(), Ok("/A"));
    }

    /// A throwaway directory under the system temp dir, removed on drop.
    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new(tag: &str) -> TempRoot {
            use std::sync::atomic::{AtomicU32, Ordering};
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("shelf-path-{tag}-{}-{n}", std::process::id());
            let dir = std::env::temp_dir().join(name);
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempRoot(dir.canonicalize().unwrap())
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Builds a root with files, folders, dot-files, a temp file and symlinks in and out of it.
    /// Returns the root and an outside folder (both removed on drop).
    fn fixture() -> (TempRoot, TempRoot) {
        let root = TempRoot::new("root");
        let outside = TempRoot::new("outside");
        let r = &root.0;
        fs::write(r.join("file.txt"), b"hello").unwrap();
        fs::create_dir(r.join("dir")).unwrap();
        fs::write(r.join("dir/inner.txt"), b"inner").unwrap();
        fs::write(r.join(".secret"), b"s").unwrap();
        fs::create_dir(r.join(".git")).unwrap();
        fs::write(r.join(".git/config"), b"c").unwrap();
        fs::write(r.join(format!("{TEMP_PREFIX}123")), b"partial").unwrap();
        fs::write(outside.0.join("passwd"), b"root:x").unwrap();
        std::os::unix::fs::symlink("file.txt", r.join("link-in")).unwrap();
        std::os::unix::fs::symlink(outside.0.join("passwd"), r.join("link-out")).unwrap();
        std::os::unix::fs::symlink(&outside.0, r.join("dir-out")).unwrap();
        std::os::unix::fs::symlink("dir", r.join("dir-in")).unwrap();
        std::os::unix::fs::symlink("missing", r.join("dangling")).unwrap();
        (root, outside)
    }

    #[test]
    fn resolve_table() {
        let (root, _outside) = fixture();
        let r = &root.0;
        // (path, hidden, Some(is_dir) when found)
        let rows: &[(&str, bool, Option<bool>)] = &[
            // Hostile rows first: escapes by symlink, hidden and temporary names.
            // Not normalised: the root check still holds if a caller skips normalize_path.
            ("/../", true, None),
            ("/dir/../../", true, None),
            ("/link-out", true, None),
            ("/dir-out/passwd", true, None),
            ("/dir-out/", true, None),
            ("/.secret", false, None),
            ("/.git/config", false, None),
            ("/.shelf-tmp-123", true, None),
            ("/.shelf-tmp-123", false, None),
            ("/file.txt/x", false, None),
            ("/file.txt/", false, None),
            ("/missing", false, None),
            ("/dangling", false, None),
            ("/dir/missing/deeper", false, None),
            // Found.
            ("/", false, Some(true)),
            ("/file.txt", false, Some(false)),
            ("/dir", false, Some(true)),
            ("/dir/", false, Some(true)),
            ("/dir/inner.txt", false, Some(false)),
            ("/link-in", false, Some(false)),
            ("/dir-in/inner.txt", false, Some(false)),
            ("/.secret", true, Some(false)),
            ("/.git/config", true, Some(false)),
        ];
        for &(norm, hidden, want) in rows {
            let got = resolve(r, norm, hidden);
            match (want, got) {
                (None, Err(ResolveError::NotFound)) => {}
                (Some(is_dir), Ok(res)) => {
                    assert_eq!(res.is_dir, is_dir, "{norm} hidden={hidden}");
                    assert_eq!(res.metadata.is_dir(), is_dir, "{norm}");
                    assert!(res.path.starts_with(r), "{norm} resolved outside root");
                }
                (want, got) => {
                    panic!("resolve({norm:?}, hidden={hidden}): want {want:?}, got {got:?}")
                }
            }
        }
    }

    /// The one root check: hostile rows first, each a way out of the root.
    #[test]
    fn canonical_within_table() {
        let (root, _outside) = fixture();
        let r = &root.0;
        // A sibling whose name extends the root's: inside by string prefix, outside by path.
        let sibling = TempRoot(PathBuf::from(format!("{}2", r.display())));
        fs::create_dir(&sibling.0).unwrap();
        fs::write(sibling.0.join("f"), b"sibling").unwrap();
        std::os::unix::fs::symlink(&sibling.0, r.join("sibling")).unwrap();
        std::os::unix::fs::symlink(r.join("loop"), r.join("loop")).unwrap();
        enum Want {
            Inside(&'static str),
            Outside,
            Missing,
        }
        use Want::*;
        let rows: &[(&str, Want)] = &[
            // Hostile rows first: dot segments, symlinks out, the prefix sibling.
            ("..", Outside),
            ("dir/../..", Outside),
            ("dir/../../", Outside),
            ("link-out", Outside),
            ("dir-out", Outside),
            ("dir-out/passwd", Outside),
            ("dir/../dir-out/passwd", Outside),
            ("sibling", Outside),
            ("sibling/f", Outside),
            ("../{root}2/f", Outside),
            ("dangling", Missing),
            ("loop", Missing),
            ("file.txt/x", Missing),
            // The root itself is inside.
            ("", Inside("")),
            (".", Inside("")),
            ("dir/..", Inside("")),
            ("dir-in/..", Inside("")),
            // Ordinary rows.
            ("file.txt", Inside("file.txt")),
            ("link-in", Inside("file.txt")),
            ("dir-in/inner.txt", Inside("dir/inner.txt")),
            ("dir/./inner.txt", Inside("dir/inner.txt")),
        ];
        let root_name = r.file_name().unwrap().to_str().unwrap();
        for (rel, want) in rows {
            let path = r.join(rel.replace("{root}", root_name));
            match (want, canonical_within(r, &path)) {
                (Inside(p), Ok(Some(got))) => assert_eq!(got, r.join(p), "{rel}"),
                (Outside, Ok(None)) | (Missing, Err(_)) => {}
                (_, got) => panic!("canonical_within({rel:?}): got {got:?}"),
            }
        }
        // Relative to a root that is not canonical, nothing is inside: callers canonicalise it.
        let dotted = r.join("dir/..");
        assert!(matches!(canonical_within(&dotted, r), Ok(None)));
    }

    #[test]
    fn resolve_returns_canonical_target_of_symlink() {
        let (root, _outside) = fixture();
        let res = resolve(&root.0, "/link-in", false).unwrap();
        assert_eq!(res.path, root.0.join("file.txt"));
        assert_eq!(res.metadata.len(), 5);
    }

    #[test]
    fn absent_is_enoent_or_enotdir_only() {
        use io::ErrorKind::*;
        let rows: &[(io::Error, bool)] = &[
            // Errors that must stay errors (a write or a lookup that failed, not "absent").
            (PermissionDenied.into(), false),
            (InvalidFilename.into(), false),
            (io::Error::from_raw_os_error(ELOOP), false),
            (StorageFull.into(), false),
            (Other.into(), false),
            (NotFound.into(), true),
            (NotADirectory.into(), true),
            (io::Error::from_raw_os_error(2), true),
            (io::Error::from_raw_os_error(20), true),
        ];
        for (e, want) in rows {
            assert_eq!(is_absent(e), *want, "{e:?}");
        }
    }

    #[test]
    fn temp_names_are_never_visible() {
        assert!(!is_visible_name(".shelf-tmp-x", true));
        assert!(!is_visible_name(".env", false));
        assert!(is_visible_name(".env", true));
        assert!(is_visible_name("a.txt", false));
    }
}
