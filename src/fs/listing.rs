//! Directory listings (SPEC §3): reading a folder, sorting it, and rendering it as JSON or HTML.
//!
//! Everything here is a pure function of the entries except [`read_entries_within`]; the
//! caller picks JSON or HTML (`html.rs`) from `Accept` and adds `Cache-Control: no-cache` and
//! the ETag.

use std::cmp::Ordering;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::path::{canonical_within, is_visible_name};
use crate::http::encode::push_json_string;
use crate::time::format_rfc3339;

/// The HTML page; split out because the markup and its stylesheet are a concern of their own.
mod html;

pub use html::{Controls, render_html};

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (UTF-8; other names are not listed).
    pub name: String,
    /// True for a folder (or a symlink to one).
    pub is_dir: bool,
    /// Size in bytes; 0 for folders.
    pub size: u64,
    /// Last modification time of the target.
    pub modified: SystemTime,
}

/// Reads the entries of `dir` that a client may see, as [`visible_entries`] yields them.
pub fn read_entries_within(root: &Path, dir: &Path, hidden: bool) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for visible in visible_entries(root, dir, hidden)? {
        let Visible { name, meta, .. } = visible?;
        entries.push(Entry {
            name,
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
        });
    }
    Ok(entries)
}

/// One entry of a folder that a client may see.
#[derive(Debug)]
pub struct Visible {
    /// The file name (UTF-8).
    pub name: String,
    /// Where it is: inside the folder, or, for a symlink, its canonical target (inside the root).
    pub path: PathBuf,
    /// Its metadata, symlinks followed.
    pub meta: Metadata,
}

/// The entries of `dir` that a client may see, read from the directory one at a time, so a
/// folder of any size is walked in bounded memory (a PROPFIND streams its answer from this).
///
/// Dot-entries are skipped unless `hidden`, temporary upload files always. Symlinks are reported
/// by their target; dangling ones, those whose target lies outside the canonical `root`
/// (reading them would answer 404, SPEC §3: "treated as absent") and names that are not UTF-8
/// are skipped.
pub fn visible_entries(root: &Path, dir: &Path, hidden: bool) -> io::Result<VisibleEntries> {
    Ok(VisibleEntries {
        entries: fs::read_dir(dir)?,
        root: root.to_path_buf(),
        hidden,
    })
}

/// The iterator [`visible_entries`] returns; an error is the directory read's.
#[derive(Debug)]
pub struct VisibleEntries {
    entries: fs::ReadDir,
    root: PathBuf,
    hidden: bool,
}

impl Iterator for VisibleEntries {
    type Item = io::Result<Visible>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let dirent = match self.entries.next()? {
                Ok(dirent) => dirent,
                Err(e) => return Some(Err(e)),
            };
            if let Some(visible) = self.visible(&dirent) {
                return Some(Ok(visible));
            }
        }
    }
}

impl VisibleEntries {
    /// The entry, when a client may see it.
    fn visible(&self, dirent: &fs::DirEntry) -> Option<Visible> {
        let Ok(name) = dirent.file_name().into_string() else {
            log::debug!("listing: skipped a name that is not UTF-8");
            return None;
        };
        if !is_visible_name(&name, self.hidden) {
            return None;
        }
        let mut path = dirent.path();
        // The file type from the directory entry costs no extra syscall on Linux.
        if dirent.file_type().is_ok_and(|t| t.is_symlink()) {
            path = canonical_within(&self.root, &path).ok()??;
        }
        // fs::metadata follows symlinks; it fails for dangling ones, which we skip.
        let meta = fs::metadata(&path).ok()?;
        Some(Visible { name, path, meta })
    }
}

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// By name, case-insensitive (the default).
    #[default]
    Name,
    /// By size in bytes.
    Size,
    /// By modification time.
    Modified,
}

impl SortKey {
    /// The value of this key in `?sort=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Modified => "modified",
        }
    }
}

/// The direction of a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl Order {
    /// The value of this order in `?order=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    /// The other direction.
    pub fn toggled(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }
}

/// Reads `sort=name|size|modified&order=asc|desc` from a raw query; unknown values give the
/// defaults (name, asc), and the last occurrence of a key wins.
pub fn parse_sort(query: Option<&str>) -> (SortKey, Order) {
    let (mut key, mut order) = (SortKey::default(), Order::default());
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("sort", value)) => {
                key = match value {
                    "size" => SortKey::Size,
                    "modified" => SortKey::Modified,
                    _ => SortKey::Name,
                }
            }
            Some(("order", value)) => {
                order = if value == "desc" {
                    Order::Desc
                } else {
                    Order::Asc
                }
            }
            _ => {}
        }
    }
    (key, order)
}

/// Sorts folders first, then by `key` in `order` within each group.
///
/// Ties on size or time are broken by name, ascending whatever the order, so the result is
/// total and stable across requests (the listing's ETag depends on it).
pub fn sort_entries(entries: &mut [Entry], key: SortKey, order: Order) {
    entries.sort_by(|a, b| {
        let by_key = match key {
            SortKey::Name => compare_names(&a.name, &b.name),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Modified => a.modified.cmp(&b.modified),
        };
        let by_key = match order {
            Order::Asc => by_key,
            Order::Desc => by_key.reverse(),
        };
        // `true > false`, so comparing b to a puts folders first.
        b.is_dir
            .cmp(&a.is_dir)
            .then(by_key)
            .then_with(|| compare_names(&a.name, &b.name))
    });
}

/// Case-insensitive order, ties broken by the exact name; allocation-free since it runs
/// O(n log n) times.
fn compare_names(a: &str, b: &str) -> Ordering {
    let folded = a
        .chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase));
    folded.then_with(|| a.cmp(b))
}

/// Renders entries as the SPEC's JSON array, one object per line.
pub fn render_json(entries: &[Entry]) -> String {
    let mut out = String::from("[");
    for (i, entry) in entries.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str("{\"name\":");
        push_json_string(&mut out, &entry.name);
        out.push_str(&format!(
            ",\"type\":\"{}\",\"size\":{},\"modified\":\"{}\"}}",
            if entry.is_dir { "dir" } else { "file" },
            entry.size,
            format_rfc3339(entry.modified),
        ));
    }
    out.push_str("\n]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn entry(name: &str, is_dir: bool, size: u64, modified: u64) -> Entry {
        Entry {
            name: name.to_string(),
            is_dir,
            size,
            modified: at(modified),
        }
    }

    fn sample() -> Vec<Entry> {
        vec![
            entry("b.txt", false, 30, 300),
            entry("Zeta", true, 0, 100),
            entry("A.txt", false, 10, 200),
            entry("alpha", true, 0, 400),
            entry("c.txt", false, 10, 100),
            entry("a.txt", false, 20, 200),
        ]
    }

    fn sorted_names(key: SortKey, order: Order) -> Vec<String> {
        let mut entries = sample();
        sort_entries(&mut entries, key, order);
        entries.into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn sort_table() {
        use Order::*;
        use SortKey::*;
        let rows: &[(SortKey, Order, &[&str])] = &[
            // Folders first in every row; case-insensitive, exact name breaks the A/a tie.
            (
                Name,
                Asc,
                &["alpha", "Zeta", "A.txt", "a.txt", "b.txt", "c.txt"],
            ),
            (
                Name,
                Desc,
                &["Zeta", "alpha", "c.txt", "b.txt", "a.txt", "A.txt"],
            ),
            // Equal sizes (folders all 0; A.txt and c.txt 10) fall back to name ascending.
            (
                Size,
                Asc,
                &["alpha", "Zeta", "A.txt", "c.txt", "a.txt", "b.txt"],
            ),
            (
                Size,
                Desc,
                &["alpha", "Zeta", "b.txt", "a.txt", "A.txt", "c.txt"],
            ),
            (
                Modified,
                Asc,
                &["Zeta", "alpha", "c.txt", "A.txt", "a.txt", "b.txt"],
            ),
            (
                Modified,
                Desc,
                &["alpha", "Zeta", "b.txt", "A.txt", "a.txt", "c.txt"],
            ),
        ];
        for &(key, order, want) in rows {
            assert_eq!(sorted_names(key, order), want, "{key:?} {order:?}");
        }
    }

    #[test]
    fn parse_sort_table() {
        use Order::*;
        use SortKey::*;
        let rows: &[(Option<&str>, (SortKey, Order))] = &[
            (Some("sort=../../etc&order=<x>"), (Name, Asc)),
            (Some("sort=SIZE&order=DESC"), (Name, Asc)),
            (Some("sort&order"), (Name, Asc)),
            (None, (Name, Asc)),
            (Some(""), (Name, Asc)),
            (Some("sort=size"), (Size, Asc)),
            (Some("order=desc"), (Name, Desc)),
            (Some("sort=modified&order=desc"), (Modified, Desc)),
            (Some("order=desc&x=1&sort=size"), (Size, Desc)),
            (Some("sort=size&sort=name"), (Name, Asc)),
        ];
        for &(query, want) in rows {
            assert_eq!(parse_sort(query), want, "{query:?}");
        }
    }

    #[test]
    fn json_escapes_hostile_name() {
        let json = render_json(&[entry("a\"b\\c\n<x>\u{1f}", false, 5, 0)]);
        assert_eq!(
            json,
            "[\n{\"name\":\"a\\\"b\\\\c\\u000a<x>\\u001f\",\"type\":\"file\",\"size\":5,\
             \"modified\":\"1970-01-01T00:00:00Z\"}\n]\n"
        );
    }

    #[test]
    fn json_shape() {
        assert_eq!(render_json(&[]), "[\n]\n");
        let json = render_json(&[entry("d", true, 0, 951_782_400), entry("été", false, 1, 0)]);
        assert_eq!(
            json,
            "[\n{\"name\":\"d\",\"type\":\"dir\",\"size\":0,\"modified\":\"2000-02-29T00:00:00Z\"},\n\
             {\"name\":\"été\",\"type\":\"file\",\"size\":1,\"modified\":\"1970-01-01T00:00:00Z\"}\n]\n"
        );
    }

    #[test]
    fn read_entries_skips_hidden_temp_and_dangling() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("shelf-listing-{}", std::process::id()));
        let outside = dir.with_extension("outside");
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&outside);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(dir.join("a.txt"), b"12345").unwrap();
        fs::write(dir.join(".hidden"), b"x").unwrap();
        fs::write(dir.join(".shelf-tmp-abc"), b"partial").unwrap();
        fs::write(outside.join("o.txt"), b"outside").unwrap();
        symlink("a.txt", dir.join("link")).unwrap();
        symlink("sub", dir.join("link-dir")).unwrap();
        symlink("nowhere", dir.join("dangling")).unwrap();
        symlink(outside.join("o.txt"), dir.join("link-out")).unwrap();

        let names = |mut entries: Vec<Entry>| {
            sort_entries(&mut entries, SortKey::Name, Order::Asc);
            entries
                .iter()
                .map(|e| (e.name.clone(), e.is_dir, e.size))
                .collect::<Vec<_>>()
        };
        // Under a root that holds both folders, the link out of `dir` is inside and listed.
        let wide_root = std::env::temp_dir().canonicalize().unwrap();
        let shown = names(read_entries_within(&wide_root, &dir, false).unwrap());
        let owned = |rows: &[(&str, bool, u64)]| {
            rows.iter()
                .map(|&(n, d, s)| (n.to_string(), d, s))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown,
            owned(&[
                ("link-dir", true, 0),
                ("sub", true, 0),
                ("a.txt", false, 5),
                ("link", false, 5),
                ("link-out", false, 7),
            ])
        );
        let root = dir.canonicalize().unwrap();
        let within = names(read_entries_within(&root, &root, true).unwrap());
        assert_eq!(
            within,
            owned(&[
                ("link-dir", true, 0),
                ("sub", true, 0),
                (".hidden", false, 1),
                ("a.txt", false, 5),
                ("link", false, 5),
            ])
        );
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }
}
