//! Directory listings (SPEC §3): reading a folder, sorting it, and rendering it as JSON or HTML.
//!
//! Everything here is a pure function of the entries except [`read_entries`]; the caller picks
//! JSON or HTML from `Accept` and adds `Cache-Control: no-cache` and the ETag.

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::path::is_visible_name;

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

/// Reads the entries of `dir` that a client may see.
///
/// Dot-entries are skipped unless `hidden`, temporary upload files always. Symlinks are reported
/// by their target's type and size; dangling ones and names that are not UTF-8 are skipped.
pub fn read_entries(dir: &Path, hidden: bool) -> io::Result<Vec<Entry>> {
    read_entries_checked(dir, hidden, None)
}

/// Like [`read_entries`], and also skips symlinks whose target lies outside the canonical
/// `root`, since reading them would answer 404 (SPEC §3: "treated as absent").
pub fn read_entries_within(root: &Path, dir: &Path, hidden: bool) -> io::Result<Vec<Entry>> {
    read_entries_checked(dir, hidden, Some(root))
}

/// The shared loop of the two readers; `root`, when given, confines symlink targets.
fn read_entries_checked(dir: &Path, hidden: bool, root: Option<&Path>) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for dirent in fs::read_dir(dir)? {
        let dirent = dirent?;
        let Ok(name) = dirent.file_name().into_string() else {
            log::debug!(
                "listing {}: skipped a name that is not UTF-8",
                dir.display()
            );
            continue;
        };
        if !is_visible_name(&name, hidden) {
            continue;
        }
        let path = dirent.path();
        if let Some(root) = root {
            // The file type from the directory entry costs no extra syscall on Linux.
            let is_link = dirent.file_type().is_ok_and(|t| t.is_symlink());
            if is_link && !path.canonicalize().is_ok_and(|p| p.starts_with(root)) {
                continue;
            }
        }
        // fs::metadata follows symlinks; it fails for dangling ones, which we skip.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        entries.push(Entry {
            name,
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
        });
    }
    Ok(entries)
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

/// Appends `s` as a JSON string literal (RFC 8259 §7).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // RFC 8259 §7: control characters "MUST be escaped".
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a time as RFC 3339 UTC with whole seconds, e.g. `2026-11-26T11:09:05Z`.
/// Times before 1970 clamp to the epoch.
pub fn format_rfc3339(t: SystemTime) -> String {
    let c = Civil::from_time(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A UTC calendar date and time of day.
struct Civil {
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Civil {
    /// Splits a time into calendar fields, clamping times before the epoch to it.
    fn from_time(t: SystemTime) -> Civil {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (year, month, day) = civil_from_days(secs / 86_400);
        let rem = secs % 86_400;
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
///
/// Howard Hinnant's `civil_from_days`: shift to eras of 400 years starting on 0000-03-01, so
/// the leap day is the last day of the year; unsigned because we never go before 1970.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Renders a self-contained HTML5 listing page for the folder at `url_path` (decoded, with a
/// trailing slash), with sortable column headers reflecting `key` and `order`.
pub fn render_html(url_path: &str, entries: &[Entry], key: SortKey, order: Order) -> String {
    let title = format!("Index of {}", escape_html(url_path));
    let mut out = String::with_capacity(2048 + entries.len() * 256);
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    ));
    // UPLOAD FORM: when writes are allowed here (SPEC §4, POST to a folder), a
    // `<form method="post" enctype="multipart/form-data">` goes at this spot, above the table.
    out.push_str("<!-- upload form -->\n");
    out.push_str("<table>\n<thead>\n<tr>");
    for (column, label) in [
        (SortKey::Name, "Name"),
        (SortKey::Size, "Size"),
        (SortKey::Modified, "Modified"),
    ] {
        out.push_str(&header_cell(column, label, key, order));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    if url_path != "/" {
        out.push_str(
            "<tr class=\"up\"><td class=\"name\"><a href=\"../\">../</a></td>\
             <td class=\"size\"></td><td class=\"date\"></td></tr>\n",
        );
    }
    for entry in entries {
        out.push_str(&entry_row(entry));
    }
    if entries.is_empty() {
        out.push_str("<tr class=\"empty\"><td colspan=\"3\">This folder is empty.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<footer>shelf</footer>\n</main>\n</body>\n</html>\n");
    out
}

/// One `<th>`: a link that sorts by `column`, toggling the order when it is already active.
fn header_cell(column: SortKey, label: &str, key: SortKey, order: Order) -> String {
    let class = column.as_str();
    if column != key {
        return format!(
            "<th class=\"{class}\"><a href=\"?sort={class}&amp;order=asc\">{label}</a></th>"
        );
    }
    let (aria, arrow) = match order {
        Order::Asc => ("ascending", "\u{25b2}"),
        Order::Desc => ("descending", "\u{25bc}"),
    };
    format!(
        "<th class=\"{class} active\" aria-sort=\"{aria}\"><a href=\"?sort={class}&amp;order={}\">\
         {label}<span class=\"arrow\" aria-hidden=\"true\">{arrow}</span></a></th>",
        order.toggled().as_str()
    )
}

/// One `<tr>` for an entry: linked name, human size, UTC date.
fn entry_row(entry: &Entry) -> String {
    let (class, slash) = if entry.is_dir {
        ("dir", "/")
    } else {
        ("file", "")
    };
    let size = if entry.is_dir {
        "<td class=\"size\">\u{2014}</td>".to_string()
    } else {
        format!(
            "<td class=\"size\" title=\"{} bytes\">{}</td>",
            entry.size,
            human_size(entry.size)
        )
    };
    let c = Civil::from_time(entry.modified);
    format!(
        "<tr class=\"{class}\"><td class=\"name\"><a href=\"{href}{slash}\">{text}{slash}</a></td>\
         {size}<td class=\"date\"><time datetime=\"{iso}\">{:04}-{:02}-{:02} {:02}:{:02}</time></td></tr>\n",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        href = encode_href(&entry.name),
        text = escape_html(&entry.name),
        iso = format_rfc3339(entry.modified),
    )
}

/// A size for people: bytes below 1 KiB, else one decimal in binary units (`1.2 KiB`).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Step up before the value would print as "1024.0".
    while value >= 1023.95 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Percent-encodes a file name for a relative href: every byte but the RFC 3986 unreserved
/// characters, so `?`, `#`, `:` and non-ASCII cannot change how the link is read.
fn encode_href(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML content and quoted attribute values.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's inline stylesheet: system fonts, a centred column, zebra and hover rows, CSS-drawn
/// folder and file marks, and a dark variant.
const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--bg:#fff;--line:#d0d7de;
--zebra:#f6f8fa;--hover:#eaeef2;--link:#0969da;--folder:#d4a72c;--file:#8c959f}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;
--line:#30363d;--zebra:#161b22;--hover:#1f2630;--link:#4493f8;--folder:#d29922;--file:#6e7681}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}
main{max-width:960px;margin:0 auto;padding:2rem 1rem}
h1{font-size:1.35rem;font-weight:600;margin:0 0 1.25rem;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;border:1px solid var(--line);border-radius:6px}
th,td{padding:.45rem .75rem;text-align:left;white-space:nowrap}
th{font-weight:600;border-bottom:1px solid var(--line);background:var(--zebra)}
th a{color:var(--fg);text-decoration:none}
th a:hover{color:var(--link)}
.arrow{font-size:.7em;margin-left:.35em;color:var(--muted)}
tbody tr:nth-child(even){background:var(--zebra)}
tbody tr:hover{background:var(--hover)}
td.name{width:100%;white-space:normal;overflow-wrap:anywhere}
td.name a{color:var(--link);text-decoration:none}
td.name a:hover{text-decoration:underline}
td.name a::before{content:\"\";display:inline-block;width:1.1em;height:1.05em;
margin-right:.6em;vertical-align:-.15em;background:var(--file);
clip-path:polygon(10% 0,62% 0,90% 28%,90% 100%,10% 100%)}
tr.dir td.name a{font-weight:600}
tr.dir td.name a::before,tr.up td.name a::before{height:.9em;vertical-align:-.05em;
background:var(--folder);clip-path:polygon(0 0,40% 0,50% 18%,100% 18%,100% 100%,0 100%)}
tr.up td.name a::before{opacity:.55}
th.size,td.size{text-align:right;color:var(--muted);font-variant-numeric:tabular-nums}
td.date{color:var(--muted);font-variant-numeric:tabular-nums}
tr.empty td{color:var(--muted);font-style:italic;text-align:center}
footer{margin-top:1rem;font-size:.8rem;color:var(--muted)}
@media (max-width:600px){th.modified,td.date{display:none}}
";

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
    fn rfc3339_known_instants() {
        let rows: &[(SystemTime, &str)] = &[
            (
                UNIX_EPOCH - Duration::from_secs(86_400),
                "1970-01-01T00:00:00Z",
            ),
            (at(0), "1970-01-01T00:00:00Z"),
            (at(59), "1970-01-01T00:00:59Z"),
            (at(951_782_400), "2000-02-29T00:00:00Z"),
            (at(951_868_799), "2000-02-29T23:59:59Z"),
            (at(1_795_691_345), "2026-11-26T11:09:05Z"),
            (at(1_798_000_000), "2026-12-23T04:26:40Z"),
            (at(4_107_542_400), "2100-03-01T00:00:00Z"),
            (
                UNIX_EPOCH + Duration::from_millis(1_999),
                "1970-01-01T00:00:01Z",
            ),
        ];
        for &(t, want) in rows {
            assert_eq!(format_rfc3339(t), want);
        }
    }

    #[test]
    fn html_escapes_names_and_path() {
        let html = render_html(
            "/<b>&'\"/",
            &[entry("<script>alert(1)</script>", false, 1, 0)],
            SortKey::Name,
            Order::Asc,
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("<title>Index of /&lt;b&gt;&amp;&#39;&quot;/</title>"));
        assert!(html.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
        assert!(html.contains("href=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
    }

    #[test]
    fn href_encoding_table() {
        let rows: &[(&str, &str)] = &[
            ("a b#?.txt", "a%20b%23%3F.txt"),
            ("été.txt", "%C3%A9t%C3%A9.txt"),
            ("c:d", "c%3Ad"),
            ("100%", "100%25"),
            ("\"'&<>", "%22%27%26%3C%3E"),
            ("A-z_0.9~", "A-z_0.9~"),
        ];
        for &(name, want) in rows {
            assert_eq!(encode_href(name), want, "{name:?}");
        }
    }

    #[test]
    fn html_rows_links_and_headers() {
        let entries = [
            entry("sub dir", true, 0, 0),
            entry("f.bin", false, 1_288, 1_795_691_345),
        ];
        let html = render_html("/docs/", &entries, SortKey::Size, Order::Desc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<h1>Index of /docs/</h1>"));
        assert!(html.contains("<a href=\"../\">../</a>"));
        assert!(html.contains("<a href=\"sub%20dir/\">sub dir/</a>"));
        assert!(html.contains("title=\"1288 bytes\">1.3 KiB</td>"));
        assert!(html.contains(">2026-11-26 11:09</time>"));
        // The active column toggles its order; the others start ascending.
        assert!(html.contains("href=\"?sort=size&amp;order=asc\">Size"));
        assert!(html.contains("href=\"?sort=name&amp;order=asc\">Name</a>"));
        assert!(html.contains("href=\"?sort=modified&amp;order=asc\">Modified</a>"));
        assert!(html.contains("<!-- upload form -->"));
        let root = render_html("/", &[], SortKey::Name, Order::Asc);
        assert!(!root.contains("href=\"../\""));
        assert!(root.contains("This folder is empty."));
        assert!(root.contains("href=\"?sort=name&amp;order=desc\">Name"));
    }

    #[test]
    fn human_size_table() {
        let rows: &[(u64, &str)] = &[
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1_229, "1.2 KiB"),
            (1_048_575, "1.0 MiB"),
            (3_565_158, "3.4 MiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for &(bytes, want) in rows {
            assert_eq!(human_size(bytes), want, "{bytes}");
        }
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
        let shown = names(read_entries(&dir, false).unwrap());
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
