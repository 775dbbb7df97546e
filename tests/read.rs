//! SPEC §3 "Reading" over real TCP (ranges and compression aside): path hostility, symlinks,
//! dot-files, file headers and bodies, folders, index files, listings and 404 pages. Every
//! named case runs with both GET and HEAD (`get_and_head`), hostile rows first.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Resp, TestServer, get_and_head, request};

/// Content of the file beside `public/` that no request may ever read.
const CANARY: &str = "CANARY-outside-the-root";
/// Content of a file in a folder beside `public/`, reached only through a symlink.
const SECRET: &str = "SECRET-outside-the-root";

/// The common tree: files of several types, a folder, dot-files, a temporary upload file and
/// symlinks in and out of the root; `canary.txt` and `outside/` lie beside `public/`.
fn fixture(public: &Path) {
    use std::os::unix::fs::symlink;
    let dir = public.parent().unwrap();
    fs::write(dir.join("canary.txt"), CANARY).unwrap();
    fs::create_dir_all(dir.join("outside")).unwrap();
    fs::write(dir.join("outside/secret.txt"), SECRET).unwrap();

    fs::write(public.join("a.txt"), "hello a\n").unwrap();
    fs::write(public.join("c d.txt"), "spaced\n").unwrap();
    fs::write(public.join("été.txt"), "accent\n").unwrap();
    fs::create_dir_all(public.join("sub")).unwrap();
    fs::write(public.join("sub/inner.txt"), "inner\n").unwrap();
    fs::write(public.join("sub/.hidden.txt"), "hidden inner\n").unwrap();
    fs::write(public.join(".env"), "PASSWORD=x\n").unwrap();
    fs::create_dir_all(public.join(".git")).unwrap();
    fs::write(public.join(".git/config"), "[core]\n").unwrap();
    fs::write(public.join(".shelf-tmp-123"), "partial upload").unwrap();
    symlink("a.txt", public.join("link-in")).unwrap();
    symlink("sub", public.join("link-dir-in")).unwrap();
    symlink(dir.join("canary.txt"), public.join("link-out")).unwrap();
    symlink("../canary.txt", public.join("link-out-rel")).unwrap();
    symlink(dir.join("outside"), public.join("dir-out")).unwrap();
    symlink("loop", public.join("loop")).unwrap();
    symlink("missing-target", public.join("dangling")).unwrap();
    fs::write(public.join("100%.txt"), "percent\n").unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(public.join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success(), "mkfifo");
}

fn start(server_keys: &str) -> TestServer {
    TestServer::start_with(server_keys, "", fixture)
}

/// Asserts an error body is short text that leaks neither the host path nor outside content.
fn assert_clean_error(srv: &TestServer, what: &str, resp: &Resp) {
    let body = resp.text();
    let host = srv.dir.path().to_string_lossy().into_owned();
    assert!(
        !body.contains(&host),
        "{what}: body leaks the host path: {body:?}"
    );
    assert!(!body.contains(CANARY), "{what}: body leaks the canary");
    assert!(
        !body.contains(SECRET),
        "{what}: body leaks the outside folder"
    );
    if resp.status != 404 || srv.config().server.not_found.is_none() {
        assert!(
            body.len() < 200,
            "{what}: error body is not short: {body:?}"
        );
    }
}

#[test]
fn hostile_paths_are_refused_and_nothing_outside_the_root_is_read() {
    let srv = start("");
    let long_name = format!("/{}", "n".repeat(300));
    let rows: &[(&str, &str, u16)] = &[
        // Climbing above the root, plain, encoded and mixed: 400.
        ("dot-dot at the root", "/../canary.txt", 400),
        ("dot-dot encoded", "/%2e%2e/canary.txt", 400),
        ("dot-dot upper-case encoding", "/%2E%2E/canary.txt", 400),
        ("dot-dot half encoded", "/.%2e/canary.txt", 400),
        (
            "dot-dot after a folder, encoded",
            "/a/%2e%2e/%2e%2e/canary.txt",
            400,
        ),
        ("dot-dot after a real folder", "/sub/../../canary.txt", 400),
        ("dot-dot with nothing after", "/..", 400),
        ("absolute-form with dot-dot", "http://t/../canary.txt", 400),
        (
            "absolute-form with encoded dot-dot",
            "http://t/%2e%2e/canary.txt",
            400,
        ),
        // Encoded separators, backslash, NUL, bad escapes, overlong UTF-8: 400.
        ("encoded slash", "/..%2fcanary.txt", 400),
        ("encoded slash upper-case", "/sub%2Finner.txt", 400),
        ("encoded backslash", "/..%5ccanary.txt", 400),
        ("raw backslash", "/..\\canary.txt", 400),
        ("encoded NUL", "/a.txt%00", 400),
        ("encoded NUL before an extension", "/a.txt%00.html", 400),
        ("invalid escape", "/%zz", 400),
        ("lone percent", "/%", 400),
        ("truncated escape", "/a.txt%2", 400),
        ("overlong UTF-8 dots", "/%c0%ae%c0%ae/canary.txt", 400),
        // Symlinks out of the root, hidden and temporary names: 404.
        ("symlink to a file outside (absolute)", "/link-out", 404),
        ("symlink to a file outside (relative)", "/link-out-rel", 404),
        ("symlink to a folder outside", "/dir-out/", 404),
        ("symlink to a folder outside, no slash", "/dir-out", 404),
        (
            "file through a symlinked outside folder",
            "/dir-out/secret.txt",
            404,
        ),
        ("dot-file", "/.env", 404),
        ("dot-file encoded", "/%2eenv", 404),
        ("dot-folder", "/.git/", 404),
        ("dot-folder without slash is not redirected", "/.git", 404),
        ("file in a dot-folder", "/.git/config", 404),
        ("dot-file in a folder", "/sub/.hidden.txt", 404),
        ("temporary upload file", "/.shelf-tmp-123", 404),
        ("path through a file", "/a.txt/x", 404),
        ("trailing slash on a file", "/a.txt/", 404),
        ("missing", "/missing.txt", 404),
        ("symlink loop", "/loop", 404),
        ("dangling symlink", "/dangling", 404),
        ("name too long for the file system", &long_name, 404),
        (
            "named pipe, which would block a reader forever",
            "/fifo",
            404,
        ),
    ];
    for &(name, target, status) in rows {
        let resp = get_and_head(&srv, target, "");
        assert_eq!(resp.status, status, "{name}: {target}");
        assert_clean_error(&srv, name, &resp);
    }
}

#[test]
fn symlinks_inside_the_root_are_served() {
    let srv = start("");
    let rows: &[(&str, &str, &str)] = &[
        ("symlink to a file inside", "/link-in", "hello a\n"),
        (
            "file through a symlinked folder inside",
            "/link-dir-in/inner.txt",
            "inner\n",
        ),
        (
            "dot segments that stay inside",
            "/sub/../a.txt",
            "hello a\n",
        ),
        (
            "encoded dot segments that stay inside",
            "/sub/%2e%2e/a.txt",
            "hello a\n",
        ),
        ("encoded space", "/c%20d.txt", "spaced\n"),
        ("encoded percent", "/100%25.txt", "percent\n"),
        ("query ignored on a file", "/a.txt?x=1&y", "hello a\n"),
        ("encoded UTF-8", "/%C3%A9t%C3%A9.txt", "accent\n"),
        (
            "absolute-form",
            "http://elsewhere.example/a.txt",
            "hello a\n",
        ),
    ];
    for &(name, target, body) in rows {
        let resp = get_and_head(&srv, target, "");
        assert_eq!(resp.status, 200, "{name}: {target}");
        assert_eq!(resp.text(), body, "{name}");
    }
}

#[test]
fn hidden_true_serves_and_lists_dot_files_but_never_temp_files_or_outside_links() {
    let srv = start("hidden = true");
    let rows: &[(&str, &str, u16)] = &[
        ("temporary upload file stays hidden", "/.shelf-tmp-123", 404),
        ("symlink outside stays absent", "/link-out", 404),
        ("dot-file", "/.env", 200),
        ("file in a dot-folder", "/.git/config", 200),
        ("dot-file in a folder", "/sub/.hidden.txt", 200),
    ];
    for &(name, target, status) in rows {
        assert_eq!(get_and_head(&srv, target, "").status, status, "{name}");
    }
    let names = listing_names(&srv, "/");
    assert!(names.contains(&".env".to_string()), "{names:?}");
    assert!(names.contains(&".git".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with(".shelf-tmp-")),
        "{names:?}"
    );
}

#[test]
fn listings_omit_dot_files_temp_files_and_links_outside() {
    let srv = start("");
    let names = listing_names(&srv, "/");
    for absent in [
        ".env",
        ".git",
        ".shelf-tmp-123",
        "link-out",
        "link-out-rel",
        "dir-out",
    ] {
        assert!(
            !names.contains(&absent.to_string()),
            "{absent} listed: {names:?}"
        );
    }
    for present in ["a.txt", "sub", "link-in", "link-dir-in"] {
        assert!(
            names.contains(&present.to_string()),
            "{present} missing: {names:?}"
        );
    }
    let html = get_and_head(&srv, "/", "").text();
    for absent in [".env", ".git", "shelf-tmp", "link-out", "dir-out", CANARY] {
        assert!(!html.contains(absent), "{absent} in the HTML listing");
    }
    assert!(!listing_names(&srv, "/sub/").contains(&".hidden.txt".to_string()));
}

#[test]
fn file_headers_and_bodies() {
    let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let srv = TestServer::start_with("", "", |public| {
        fs::write(public.join("page.html"), "<p>hi</p>\n").unwrap();
        fs::write(public.join("style.css"), "body{color:red}\n").unwrap();
        fs::write(public.join("notes.txt"), "plain\r\nlines\n").unwrap();
        fs::write(public.join("pic.png"), &binary).unwrap();
        fs::write(public.join("blob.zzqx"), &binary).unwrap();
        fs::write(public.join("noext"), "x").unwrap();
        fs::write(public.join("empty.txt"), "").unwrap();
    });
    // (name, path, Content-Type, Vary: Accept-Encoding expected)
    let rows: &[(&str, &str, &str, bool)] = &[
        (
            "unknown extension",
            "/blob.zzqx",
            "application/octet-stream",
            false,
        ),
        ("no extension", "/noext", "application/octet-stream", false),
        (
            "empty file",
            "/empty.txt",
            "text/plain; charset=utf-8",
            true,
        ),
        ("binary image", "/pic.png", "image/png", false),
        ("html", "/page.html", "text/html; charset=utf-8", true),
        ("css", "/style.css", "text/css; charset=utf-8", true),
        ("text", "/notes.txt", "text/plain; charset=utf-8", true),
    ];
    for &(name, path, mime, vary) in rows {
        let resp = get_and_head(&srv, path, "");
        let on_disk = fs::read(srv.public().join(&path[1..])).unwrap();
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(resp.body, on_disk, "{name}: body byte for byte");
        assert_eq!(resp.header("content-type"), Some(mime), "{name}");
        let len = on_disk.len().to_string();
        assert_eq!(resp.header("content-length"), Some(len.as_str()), "{name}");
        assert_eq!(resp.header("server"), Some("shelf"), "{name}");
        let date = resp.header("date").expect("Date");
        assert!(
            httpdate::parse_http_date(date).is_ok(),
            "{name}: Date {date:?}"
        );
        let mtime = fs::metadata(srv.public().join(&path[1..]))
            .unwrap()
            .modified()
            .unwrap();
        let lm = httpdate::fmt_http_date(mtime);
        assert_eq!(resp.header("last-modified"), Some(lm.as_str()), "{name}");
        assert_strong_etag(name, &resp);
        assert_eq!(resp.header("accept-ranges"), Some("bytes"), "{name}");
        let varies = resp
            .header("vary")
            .is_some_and(|v| v.contains("Accept-Encoding"));
        assert_eq!(varies, vary, "{name}: Vary {:?}", resp.header("vary"));
        assert_eq!(
            resp.header("cache-control"),
            None,
            "{name}: no Cache-Control by default"
        );
        for header in [
            "content-type",
            "content-length",
            "etag",
            "last-modified",
            "date",
        ] {
            assert_eq!(resp.header_count(header), 1, "{name}: one {header}");
        }
    }
}

fn assert_strong_etag(name: &str, resp: &Resp) -> String {
    let tag = resp
        .header("etag")
        .unwrap_or_else(|| panic!("{name}: no ETag"));
    assert!(!tag.starts_with("W/"), "{name}: weak ETag {tag}");
    assert!(
        tag.len() >= 3 && tag.starts_with('"') && tag.ends_with('"'),
        "{name}: ETag not quoted: {tag}"
    );
    assert!(!tag[1..tag.len() - 1].contains('"'), "{name}: ETag {tag}");
    tag.to_string()
}

#[test]
fn last_modified_is_never_later_than_date() {
    // RFC 9110 §8.8.2.1: "An origin server with a clock ... MUST NOT generate a Last-Modified
    // date that is later than the server's time of message origination (Date)."
    let srv = TestServer::start_with("", "", |p| {
        let path = p.join("future.txt");
        fs::write(&path, "from the future").unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(86_400))
            .unwrap();
    });
    let resp = get_and_head(&srv, "/future.txt", "");
    let date = httpdate::parse_http_date(resp.header("date").unwrap()).unwrap();
    let lm = httpdate::parse_http_date(resp.header("last-modified").unwrap()).unwrap();
    assert!(lm <= date, "Last-Modified {lm:?} after Date {date:?}");
}

#[test]
fn cache_control_is_sent_on_files_only_when_configured() {
    let srv = TestServer::start_with("cache_control = \"public, max-age=60\"", "", |p| {
        fs::write(p.join("a.txt"), "a").unwrap();
        fs::write(p.join("pic.png"), "png").unwrap();
    });
    for path in ["/a.txt", "/pic.png"] {
        let resp = get_and_head(&srv, path, "");
        assert_eq!(
            resp.header("cache-control"),
            Some("public, max-age=60"),
            "{path}"
        );
    }
}

#[test]
fn etag_changes_when_content_changes() {
    let srv = TestServer::start_with("", "", |p| fs::write(p.join("f.txt"), "one").unwrap());
    let path = srv.public().join("f.txt");
    let first = assert_strong_etag("first", &get_and_head(&srv, "/f.txt", ""));
    assert_eq!(
        first,
        assert_strong_etag("again", &get_and_head(&srv, "/f.txt", ""))
    );

    // A different length.
    fs::write(&path, "three").unwrap();
    let resp = get_and_head(&srv, "/f.txt", "");
    assert_eq!(
        resp.text(),
        "three",
        "a changed file is served fresh at once"
    );
    let second = assert_strong_etag("second", &resp);
    assert_ne!(first, second, "ETag after a change of length");

    // The same length, saved a second later by another program.
    fs::write(&path, "THREE").unwrap();
    let later = SystemTime::now() + Duration::from_secs(1);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let resp = get_and_head(&srv, "/f.txt", "");
    assert_eq!(
        resp.text(),
        "THREE",
        "a same-length rewrite is served fresh at once"
    );
    assert_ne!(
        second,
        assert_strong_etag("third", &resp),
        "ETag after a same-length rewrite"
    );

    // Replaced by rename, as editors and shelf's own PUT do.
    let tmp = srv.public().join("f.txt.new");
    fs::write(&tmp, "THREE").unwrap();
    fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let third = assert_strong_etag("third", &get_and_head(&srv, "/f.txt", ""));
    fs::rename(&tmp, &path).unwrap();
    let resp = get_and_head(&srv, "/f.txt", "");
    assert_ne!(
        third,
        assert_strong_etag("renamed", &resp),
        "ETag after a rename"
    );
}

#[test]
fn large_file_streams_completely() {
    const LEN: usize = 20 * 1024 * 1024 + 7;
    // A cheap xorshift stream, so a dropped or repeated block cannot go unnoticed.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let data: Vec<u8> = (0..LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let srv = TestServer::start_with("", "", |p| fs::write(p.join("big.bin"), &data).unwrap());
    let resp = get_and_head(&srv, "/big.bin", "");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-length"),
        Some(LEN.to_string().as_str())
    );
    assert_eq!(resp.body.len(), LEN);
    assert!(resp.body == data, "20 MiB body differs from the file");
}

#[test]
fn folder_without_slash_redirects_with_query_kept() {
    let srv = TestServer::start_with("", "", |p| {
        fs::create_dir_all(p.join("dir")).unwrap();
        fs::create_dir_all(p.join("a b")).unwrap();
    });
    let rows: &[(&str, &str, &str)] = &[
        // Hostile first: the authority of an absolute-form target is never echoed.
        ("absolute-form", "http://evil.example/dir", "/dir/"),
        (
            "absolute-form with query",
            "http://evil.example/dir?x=1",
            "/dir/?x=1",
        ),
        (
            "query with encoded bytes kept verbatim",
            "/dir?next=%2F%2Fevil&y",
            "/dir/?next=%2F%2Fevil&y",
        ),
        ("encoded name kept encoded", "/a%20b", "/a%20b/"),
        ("plain", "/dir", "/dir/"),
        ("query kept", "/dir?x=1", "/dir/?x=1"),
        ("empty query kept", "/dir?", "/dir/?"),
    ];
    for &(name, target, location) in rows {
        let resp = get_and_head(&srv, target, "");
        assert_eq!(resp.status, 301, "{name}: {target}");
        assert_eq!(resp.header("location"), Some(location), "{name}: {target}");
    }
}

#[test]
fn index_files_in_configured_order() {
    let prepare = |p: &Path| {
        fs::create_dir_all(p.join("both")).unwrap();
        fs::write(p.join("both/index.htm"), "htm first").unwrap();
        fs::write(p.join("both/index.html"), "html second").unwrap();
        fs::create_dir_all(p.join("html-only")).unwrap();
        fs::write(p.join("html-only/index.html"), "html only").unwrap();
        // An index that is a folder, or a symlink out of the root, is no index.
        fs::create_dir_all(p.join("index-is-dir/index.html")).unwrap();
        fs::write(p.parent().unwrap().join("canary.txt"), CANARY).unwrap();
        fs::create_dir_all(p.join("index-out")).unwrap();
        std::os::unix::fs::symlink(
            p.parent().unwrap().join("canary.txt"),
            p.join("index-out/index.html"),
        )
        .unwrap();
    };
    let srv = TestServer::start_with("index = [\"index.htm\", \"index.html\"]", "", prepare);
    let rows: &[(&str, &str, u16, &str)] = &[
        (
            "index symlinked outside is ignored",
            "/index-out/",
            200,
            "<!DOCTYPE html>",
        ),
        (
            "index that is a folder is ignored",
            "/index-is-dir/",
            200,
            "<!DOCTYPE html>",
        ),
        ("first index in the list wins", "/both/", 200, "htm first"),
        (
            "second index when the first is missing",
            "/html-only/",
            200,
            "html only",
        ),
    ];
    for &(name, target, status, start) in rows {
        let resp = get_and_head(&srv, target, "");
        assert_eq!(resp.status, status, "{name}");
        assert!(resp.text().starts_with(start), "{name}: {:?}", resp.text());
        assert!(!resp.text().contains(CANARY), "{name}");
    }
    let resp = get_and_head(&srv, "/both/", "");
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8"),
        "index.htm"
    );

    let srv = TestServer::start_with("", "", prepare);
    let resp = get_and_head(&srv, "/both/", "");
    assert_eq!(
        resp.text(),
        "html second",
        "default index is index.html only"
    );
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_strong_etag("index", &resp);
}

/// A folder for the listing tests: two folders, files of known sizes and times, a hostile name.
fn listing_fixture(public: &Path) {
    let d = public.join("list");
    fs::create_dir_all(d.join("zeta-dir")).unwrap();
    fs::create_dir_all(d.join("Alpha-dir")).unwrap();
    // (name, size, seconds after the epoch)
    let files: &[(&str, usize, u64)] = &[
        ("b.txt", 30, 1_600_000_300),
        ("A.txt", 10, 1_600_000_200),
        ("c.txt", 20, 1_600_000_100),
        ("<b>&x.txt", 5, 1_600_000_400),
    ];
    for &(name, size, secs) in files {
        let path = d.join(name);
        fs::write(&path, vec![b'x'; size]).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }
    fs::write(d.join(".dot"), "hidden").unwrap();
}

#[test]
fn html_listing_escapes_names_and_revalidates() {
    let srv = TestServer::start_with("", "", listing_fixture);
    let resp = get_and_head(&srv, "/list/", "");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    let tag = assert_strong_etag("listing", &resp);
    let html = resp.text();
    assert!(!html.contains("<b>&x"), "raw hostile name in the page");
    assert!(html.contains(">&lt;b&gt;&amp;x.txt</a>"), "escaped name");
    assert!(
        html.contains("href=\"%3Cb%3E%26x.txt\""),
        "percent-encoded href"
    );
    assert!(!html.contains(".dot"));
    // Folders first, then names case-insensitively.
    let order: Vec<usize> = ["Alpha-dir/", "zeta-dir/", "A.txt", "b.txt", "c.txt"]
        .iter()
        .map(|n| {
            html.find(&format!("\">{n}</a>"))
                .unwrap_or_else(|| panic!("{n} missing"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order {order:?}");

    let revalidated = get_and_head(&srv, "/list/", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("etag"), Some(tag.as_str()));
    assert_eq!(revalidated.header("cache-control"), Some("no-cache"));
    assert!(revalidated.body.is_empty());

    // The listing's ETag follows its content.
    fs::write(srv.public().join("list/new.txt"), "n").unwrap();
    let changed = get_and_head(&srv, "/list/", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!(changed.status, 200, "a changed listing is not 304");
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
}

#[test]
fn json_listing_and_sort_orders() {
    let srv = TestServer::start_with("", "", listing_fixture);
    let json = "Accept: application/json\r\n";
    let resp = get_and_head(&srv, "/list/", json);
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    assert_strong_etag("json listing", &resp);
    let entries = parse_listing(&resp.text());
    let hostile = entries
        .iter()
        .find(|e| e.name == "<b>&x.txt")
        .expect("hostile name");
    assert_eq!((hostile.kind.as_str(), hostile.size), ("file", 5));
    assert_eq!(hostile.modified, "2020-09-13T12:33:20Z");
    let dir = entries.iter().find(|e| e.name == "zeta-dir").unwrap();
    assert_eq!((dir.kind.as_str(), dir.size), ("dir", 0));
    assert!(
        dir.modified.ends_with('Z') && dir.modified.len() == 20,
        "{}",
        dir.modified
    );

    // (query, Accept, names in order): folders always first.
    let rows: &[(&str, &str, &[&str])] = &[
        (
            "unknown sort falls back to name",
            "?sort=../../etc&order=sideways",
            &[
                "Alpha-dir",
                "zeta-dir",
                "<b>&x.txt",
                "A.txt",
                "b.txt",
                "c.txt",
            ],
        ),
        (
            "default: name, case-insensitive",
            "",
            &[
                "Alpha-dir",
                "zeta-dir",
                "<b>&x.txt",
                "A.txt",
                "b.txt",
                "c.txt",
            ],
        ),
        (
            "name descending",
            "?order=desc",
            &[
                "zeta-dir",
                "Alpha-dir",
                "c.txt",
                "b.txt",
                "A.txt",
                "<b>&x.txt",
            ],
        ),
        (
            "size descending",
            "?sort=size&order=desc",
            &[
                "Alpha-dir",
                "zeta-dir",
                "b.txt",
                "c.txt",
                "A.txt",
                "<b>&x.txt",
            ],
        ),
        (
            "size ascending",
            "?sort=size",
            &[
                "Alpha-dir",
                "zeta-dir",
                "<b>&x.txt",
                "A.txt",
                "c.txt",
                "b.txt",
            ],
        ),
        (
            "modified ascending",
            "?sort=modified",
            &["c.txt", "A.txt", "b.txt", "<b>&x.txt"],
        ),
        (
            "modified descending",
            "?sort=modified&order=desc",
            &["<b>&x.txt", "b.txt", "A.txt", "c.txt"],
        ),
    ];
    for &(name, query, want) in rows {
        let resp = get_and_head(&srv, &format!("/list/{query}"), json);
        let got: Vec<String> = parse_listing(&resp.text())
            .into_iter()
            .map(|e| e.name)
            .filter(|n| !n.ends_with("-dir") || want.iter().any(|w| w.ends_with("-dir")))
            .collect();
        assert_eq!(got, want, "{name}");
    }
    let html_rows = get_and_head(&srv, "/list/?sort=size&order=desc", "").text();
    let (b, a) = (
        html_rows.find("\">b.txt</a>").unwrap(),
        html_rows.find("\">A.txt</a>").unwrap(),
    );
    assert!(b < a, "HTML listing honours ?sort=size&order=desc");
    // HTML is the default; JSON only when preferred.
    for accept in [
        "",
        "Accept: text/html,*/*;q=0.8\r\n",
        "Accept: application/json;q=0.1, text/html\r\n",
    ] {
        let resp = get_and_head(&srv, "/list/", accept);
        assert_eq!(
            resp.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{accept:?}"
        );
    }
}

#[test]
fn listing_false_forbids_folders_without_index() {
    let srv = TestServer::start_with("listing = false", "", |p| {
        fs::create_dir_all(p.join("bare")).unwrap();
        fs::create_dir_all(p.join("indexed")).unwrap();
        fs::write(p.join("indexed/index.html"), "home").unwrap();
    });
    let rows: &[(&str, &str, u16)] = &[
        ("root without index", "/", 403),
        ("folder without index", "/bare/", 403),
        ("JSON asked for", "/bare/", 403),
        ("folder with index still served", "/indexed/", 200),
        ("redirect still comes first", "/bare", 301),
    ];
    for &(name, target, status) in rows {
        let resp = get_and_head(&srv, target, "Accept: application/json\r\n");
        assert_eq!(resp.status, status, "{name}");
        if status == 403 {
            assert_clean_error(&srv, name, &resp);
            assert!(
                !resp.text().contains("bare"),
                "{name}: 403 body names the folder"
            );
        }
    }
}

#[test]
fn not_found_page_or_built_in_404() {
    let page = "<h1>Nothing here</h1>\n";
    let srv = TestServer::start_with("not_found = \"404.html\"", "", |p| {
        fixture(p);
        fs::write(p.join("404.html"), page).unwrap();
    });
    for (name, target) in [
        ("symlink outside", "/link-out"),
        ("dot-file", "/.env"),
        ("missing", "/missing.txt"),
        ("missing in a folder", "/sub/missing/deeper"),
    ] {
        let resp = get_and_head(&srv, target, "");
        assert_eq!(resp.status, 404, "{name}");
        assert_eq!(resp.text(), page, "{name}");
        assert_eq!(
            resp.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{name}"
        );
        assert_eq!(
            resp.header("content-length"),
            Some(page.len().to_string().as_str())
        );
    }
    // Bad requests are not 404s.
    assert_eq!(get_and_head(&srv, "/../canary.txt", "").status, 400);

    let srv = start("not_found = \"no-such-page.html\"");
    let resp = get_and_head(&srv, "/missing.txt", "");
    assert_eq!(
        resp.status, 404,
        "a missing not_found page falls back to the built-in"
    );
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    let srv = start("");
    let resp = get_and_head(&srv, "/missing.txt", "");
    assert_eq!(resp.status, 404);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        resp.header("content-length"),
        Some(resp.body.len().to_string().as_str())
    );
    assert!(
        !resp.body.is_empty() && resp.body.len() < 100,
        "{:?}",
        resp.text()
    );
    assert_clean_error(&srv, "built-in 404", &resp);
}

#[test]
fn error_bodies_never_name_the_host_path() {
    let srv = TestServer::start_with("listing = false", "", fixture);
    let rows: &[(&str, &str, &str, u16)] = &[
        ("400 bad path", "GET", "/%zz", 400),
        ("400 above the root", "GET", "/../canary.txt", 400),
        ("403 no listing", "GET", "/sub/", 403),
        ("404 missing", "GET", "/nope/deeper.txt", 404),
        ("404 symlink outside", "GET", "/dir-out/secret.txt", 404),
        ("405 write", "PUT", "/a.txt", 405),
        ("412 failed If-Match", "GET", "/a.txt", 412),
    ];
    for &(name, method, target, status) in rows {
        let resp = request(
            &srv,
            method,
            target,
            "If-Match: \"nope\"\r\nContent-Length: 0\r\n",
        );
        assert_eq!(resp.status, status, "{name}");
        assert_clean_error(&srv, name, &resp);
        let len = resp.body.len().to_string();
        assert_eq!(resp.header("content-length"), Some(len.as_str()), "{name}");
    }
}

/// GETs a folder's JSON listing and returns the names in order.
fn listing_names(srv: &TestServer, target: &str) -> Vec<String> {
    let resp = get_and_head(srv, target, "Accept: application/json\r\n");
    assert_eq!(resp.status, 200, "listing {target}");
    parse_listing(&resp.text())
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// One object of a JSON listing.
#[derive(Debug)]
struct Listed {
    name: String,
    kind: String,
    size: u64,
    modified: String,
}

/// A minimal parser for exactly the listing's shape: an array of flat objects whose values
/// are strings or unsigned integers. Panics on anything else, which fails the test.
fn parse_listing(json: &str) -> Vec<Listed> {
    let mut p = Json {
        s: json.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    p.expect(b'[');
    if p.peek() == b']' {
        return out;
    }
    loop {
        p.expect(b'{');
        let mut e = Listed {
            name: String::new(),
            kind: String::new(),
            size: u64::MAX,
            modified: String::new(),
        };
        loop {
            let key = p.string();
            p.expect(b':');
            match key.as_str() {
                "name" => e.name = p.string(),
                "type" => e.kind = p.string(),
                "modified" => e.modified = p.string(),
                "size" => e.size = p.number(),
                other => panic!("unexpected key {other:?} in {json}"),
            }
            if p.next() == b'}' {
                break;
            }
        }
        assert!(
            !e.name.is_empty()
                && !e.kind.is_empty()
                && e.size != u64::MAX
                && !e.modified.is_empty(),
            "{e:?}"
        );
        out.push(e);
        if p.next() == b']' {
            return out;
        }
    }
}

struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl Json<'_> {
    fn peek(&mut self) -> u8 {
        while self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
        self.s[self.i]
    }

    fn next(&mut self) -> u8 {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn expect(&mut self, c: u8) {
        let got = self.next();
        assert_eq!(got as char, c as char, "JSON at byte {}", self.i);
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = Vec::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).unwrap(),
                b'\\' => {
                    let esc = self.s[self.i];
                    self.i += 1;
                    match esc {
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap();
                            self.i += 4;
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\\' | b'/' => out.push(esc),
                        other => panic!("bad escape \\{}", other as char),
                    }
                }
                c => {
                    assert!(c >= 0x20, "control byte in JSON string");
                    out.push(c);
                }
            }
        }
    }

    fn number(&mut self) -> u64 {
        self.peek();
        let start = self.i;
        while self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .unwrap()
            .parse()
            .unwrap()
    }
}

#[test]
fn head_and_304_leave_no_body_on_a_persistent_connection() {
    use std::io::{BufReader, Write};
    let srv = start("");
    let tag = request(&srv, "GET", "/a.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    // Pipelined: if HEAD or the 304 leaked a body, the next status line would be garbage.
    let raw = format!(
        "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n\
         GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {tag}\r\n\r\n\
         HEAD /sub/ HTTP/1.1\r\nHost: t\r\n\r\n\
         GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    let mut stream = srv.connect();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let expected: &[(bool, u16)] = &[(true, 200), (false, 304), (true, 200), (false, 200)];
    for (i, &(head_only, status)) in expected.iter().enumerate() {
        let resp = common::read_response(&mut reader, head_only);
        assert_eq!(resp.status, status, "response {i}");
        if i == 3 {
            assert_eq!(resp.text(), "hello a\n");
        }
    }
}
