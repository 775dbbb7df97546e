//! The HTML page of a directory listing: one self-contained HTML5 document, inline CSS, no
//! script, every name escaped and every href percent-encoded.

use super::{Entry, Order, SortKey};
use crate::http::encode::{encode_href, escape_html};
use crate::time::{Civil, format_rfc3339};

/// The write controls a listing shows: only those the ACL would let this client use.
pub struct Controls<'a> {
    /// An upload form (POST to this folder is permitted).
    pub upload: bool,
    /// A delete button for an entry (DELETE of it is permitted).
    pub delete: &'a dyn Fn(&Entry) -> bool,
}

impl Controls<'_> {
    /// No controls: a read-only listing.
    pub const NONE: Controls<'static> = Controls {
        upload: false,
        delete: &|_| false,
    };
}

/// Renders a self-contained HTML5 listing page for the folder at `url_path` (decoded, with a
/// trailing slash), with sortable column headers reflecting `key` and `order`, and the write
/// controls `controls` allows. The controls are plain forms: they work without JavaScript.
pub fn render_html(
    url_path: &str,
    entries: &[Entry],
    key: SortKey,
    order: Order,
    controls: &Controls<'_>,
) -> String {
    let title = format!("Index of {}", escape_html(url_path));
    let mut out = String::with_capacity(2048 + entries.len() * 256);
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    ));
    if controls.upload {
        out.push_str(UPLOAD_FORM);
    }
    let deletable: Vec<bool> = entries.iter().map(|e| (controls.delete)(e)).collect();
    let actions = deletable.contains(&true);
    out.push_str("<table>\n<thead>\n<tr>");
    for (column, label) in [
        (SortKey::Name, "Name"),
        (SortKey::Size, "Size"),
        (SortKey::Modified, "Modified"),
    ] {
        out.push_str(&header_cell(column, label, key, order));
    }
    let blank_action = if actions {
        "<td class=\"act\"></td>"
    } else {
        ""
    };
    if actions {
        out.push_str("<th class=\"act\"><span class=\"sr\">Actions</span></th>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    if url_path != "/" {
        out.push_str(&format!(
            "<tr class=\"up\"><td class=\"name\"><a href=\"../\">../</a></td>\
             <td class=\"size\"></td><td class=\"date\"></td>{blank_action}</tr>\n"
        ));
    }
    for (entry, deletable) in entries.iter().zip(&deletable) {
        let action = match (actions, deletable) {
            (true, true) => delete_cell(entry),
            _ => blank_action.to_string(),
        };
        out.push_str(&entry_row(entry).replace("</tr>\n", &format!("{action}</tr>\n")));
    }
    if entries.is_empty() {
        out.push_str("<tr class=\"empty\"><td colspan=\"3\">This folder is empty.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<footer>shelf</footer>\n</main>\n</body>\n</html>\n");
    out
}

/// The upload form: a browser posts the chosen files to this folder as `multipart/form-data`
/// and is sent back here (303).
const UPLOAD_FORM: &str = "<form class=\"upload\" method=\"post\" action=\"./\" \
     enctype=\"multipart/form-data\">\n<input type=\"file\" name=\"file\" multiple required \
     aria-label=\"Files to upload\">\n<button type=\"submit\">Upload</button>\n</form>\n";

/// A delete button without JavaScript: browsers can only send GET and POST from a form, so it
/// posts to `<entry>?delete`, which the server checks and performs as a DELETE of the entry.
fn delete_cell(entry: &Entry) -> String {
    let slash = if entry.is_dir { "/" } else { "" };
    format!(
        "<td class=\"act\"><form method=\"post\" action=\"{href}{slash}?delete\">\
         <button type=\"submit\" title=\"Delete {text}{slash}\">Delete</button></form></td>",
        href = encode_href(&entry.name),
        text = escape_html(&entry.name),
    )
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
form.upload{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:0 0 1rem;
padding:.6rem .75rem;border:1px dashed var(--line);border-radius:6px}
td.act{text-align:right}
td.act form{margin:0}
button{font:inherit;font-size:.85rem;padding:.15rem .6rem;border:1px solid var(--line);
border-radius:4px;background:var(--bg);color:var(--fg);cursor:pointer}
button:hover{background:var(--hover)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:600px){th.modified,td.date{display:none}}
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(name: &str, is_dir: bool, size: u64, modified: u64) -> Entry {
        Entry {
            name: name.to_string(),
            is_dir,
            size,
            modified: UNIX_EPOCH + Duration::from_secs(modified),
        }
    }

    #[test]
    fn html_escapes_names_and_path() {
        let html = render_html(
            "/<b>&'\"/",
            &[entry("<script>alert(1)</script>", false, 1, 0)],
            SortKey::Name,
            Order::Asc,
            &Controls {
                upload: true,
                delete: &|_| true,
            },
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("title=\"Delete &lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(html.contains("action=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E?delete\""));
        assert!(!html.contains("<b>"));
        assert!(html.contains("<title>Index of /&lt;b&gt;&amp;&#39;&quot;/</title>"));
        assert!(html.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
        assert!(html.contains("href=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
    }

    #[test]
    fn html_rows_links_and_headers() {
        let entries = [
            entry("sub dir", true, 0, 0),
            entry("f.bin", false, 1_288, 1_795_691_345),
        ];
        let html = render_html(
            "/docs/",
            &entries,
            SortKey::Size,
            Order::Desc,
            &Controls::NONE,
        );
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
        assert!(!html.contains("<form"), "no controls unless allowed");
        let root = render_html("/", &[], SortKey::Name, Order::Asc, &Controls::NONE);
        assert!(!root.contains("href=\"../\""));
        assert!(root.contains("This folder is empty."));
        assert!(root.contains("href=\"?sort=name&amp;order=desc\">Name"));
    }

    #[test]
    fn controls_appear_only_where_allowed() {
        let entries = [entry("sub", true, 0, 0), entry("a b.txt", false, 1, 0)];
        let only_files = |e: &Entry| !e.is_dir;
        let controls = Controls {
            upload: true,
            delete: &only_files,
        };
        let html = render_html("/up/", &entries, SortKey::Name, Order::Asc, &controls);
        assert!(html.contains(
            "<form class=\"upload\" method=\"post\" action=\"./\" enctype=\"multipart/form-data\">"
        ));
        assert!(html.contains("<input type=\"file\" name=\"file\" multiple"));
        assert!(html.contains("<form method=\"post\" action=\"a%20b.txt?delete\">"));
        assert!(!html.contains("action=\"sub/?delete\""));
        // Every row has the same number of cells.
        for row in html.split("<tr").skip(2) {
            assert_eq!(row.matches("<td").count(), 4, "{row}");
        }
        let upload_only = Controls {
            upload: true,
            delete: &|_| false,
        };
        let html = render_html("/up/", &entries, SortKey::Name, Order::Asc, &upload_only);
        assert!(html.contains("class=\"upload\"") && !html.contains("?delete"));
        assert!(!html.contains("class=\"act\""));
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
}
