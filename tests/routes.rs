//! Table routing (`[[route]]`, SPEC §2) over real TCP: every target kind in one table,
//! first-match order, a `dir` route served by the same rules as the root (index, listing,
//! ranges, gzip, traversal, symlinks, writes), `file` routes with conditionals, redirects with
//! `{rest}` and the query, fixed answers, route `headers`, and `[[acl]]` on routed paths.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{Resp, TestServer, decode, get_and_head, request};

/// The route table under test: one of every kind, plus pairs that show the first match wins.
const ROUTES: &str = r#"
[[route]]
path = "/docs/special"
body = "special"

[[route]]
path = "/docs/*"
dir = "site"
headers = { "Cache-Control" = "max-age=60", "X-Route" = "docs" }

[[route]]
path = "/readme"
file = "readme.html"
headers = { "X-Route" = "readme" }

[[route]]
path = "/old/*"
redirect = "/new/{rest}"

[[route]]
path = "/moved"
redirect = "https://example.com/x?from=shelf"
status = 301

[[route]]
path = "/private"
redirect = "/docs/"
status = 302

[[route]]
path = "/health"
body = "ok"

[[route]]
path = "/gone"
body = "{\"gone\":true}"
status = 410
content_type = "application/json"
headers = { "X-Route" = "gone" }

[[route]]
path = "/empty"
body = ""
status = 204

[[route]]
path = "/api/*"
body = "api"

[[route]]
path = "/api/v1"
body = "v1"

[[acl]]
path = "/docs/*"
methods = ["PUT", "POST", "DELETE"]

[[acl]]
path = "/private"
methods = ["*"]
users = ["alice"]

[[acl]]
path = "/*"
methods = ["PUT"]
"#;

/// A text body long enough to be compressed (over `min_bytes`).
fn big_text() -> String {
    "routed text that compresses well. ".repeat(64)
}

/// Files the table serves. `site/` (the `dir` route's folder), `readme.html` and `canary.txt`
/// lie beside `public/`; `public/docs/` exists too, to show the route shadows it.
fn layout(public: &Path) {
    use std::os::unix::fs::symlink;
    let base = public.parent().unwrap();
    let site = base.join("site");
    for (path, content) in [
        ("a.txt", "site a\n".to_string()),
        ("big.txt", big_text()),
        ("guide/index.html", "<h1>guide</h1>\n".to_string()),
        ("list/one.txt", "1\n".to_string()),
        ("list/two.txt", "2\n".to_string()),
    ] {
        let full = site.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    // Left by a crashed upload into the route's folder an hour ago: swept at start.
    std::fs::write(site.join("list/.shelf-tmp-7"), "partial").unwrap();
    let leftover = std::fs::File::options()
        .write(true)
        .open(site.join("list/.shelf-tmp-7"))
        .unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    leftover.set_modified(an_hour_ago).unwrap();
    std::fs::write(base.join("readme.html"), "<p>readme</p>\n").unwrap();
    std::fs::write(base.join("canary.txt"), "canary\n").unwrap();
    // Out of the route's folder: one beside it, one into the document root.
    symlink(base.join("canary.txt"), site.join("escape.txt")).unwrap();
    symlink(public.join("ok.txt"), site.join("into-root.txt")).unwrap();
    std::fs::create_dir_all(public.join("docs")).unwrap();
    std::fs::write(public.join("docs/a.txt"), "root a\n").unwrap();
    std::fs::write(public.join("ok.txt"), "ok\n").unwrap();
}

/// `[users]` with alice, password "pw" (cost 4 keeps the tests fast).
fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let alice = bcrypt::hash("pw", 4).unwrap();
        format!("[users]\nalice = \"{alice}\"\n")
    })
}

fn start() -> TestServer {
    TestServer::start_with("", &format!("{}{ROUTES}", users()), layout)
}

/// Sends `method target` with `body` (by Content-Length) and extra header lines.
fn with_body(srv: &TestServer, method: &str, target: &str, headers: &str, body: &str) -> Resp {
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    srv.send(raw.as_bytes())
}

/// `Authorization` for alice.
const ALICE: &str = "Authorization: Basic YWxpY2U6cHc=\r\n";

/// One row of the table: what it proves, target, status, body, headers that must be set.
type Row = (
    &'static str,
    &'static str,
    u16,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[rustfmt::skip]
const KINDS: &[Row] = &[
    ("dir route file, not the root's docs/a.txt", "/docs/a.txt", 200, "site a\n", &[("X-Route", "docs"), ("Cache-Control", "max-age=60")]),
    ("dir route index", "/docs/guide/", 200, "<h1>guide</h1>\n", &[("X-Route", "docs")]),
    ("file route", "/readme", 200, "<p>readme</p>\n", &[("X-Route", "readme"), ("Content-Type", "text/html; charset=utf-8")]),
    ("redirect with {rest}", "/old/a/b.txt", 308, "", &[("Location", "/new/a/b.txt")]),
    ("redirect, absolute, status set", "/moved", 301, "", &[("Location", "https://example.com/x?from=shelf")]),
    ("fixed default", "/health", 200, "ok", &[("Content-Type", "text/plain; charset=utf-8")]),
    ("fixed status, type, headers", "/gone", 410, "{\"gone\":true}", &[("Content-Type", "application/json"), ("X-Route", "gone")]),
    ("fixed 204", "/empty", 204, "", &[]),
    ("unrouted path: the filesystem", "/ok.txt", 200, "ok\n", &[]),
];

/// First match wins: an exact route listed before a prefix route takes its path; a prefix
/// route listed before an exact one hides it.
#[rustfmt::skip]
const ORDER: &[Row] = &[
    ("exact before prefix wins", "/docs/special", 200, "special", &[]),
    ("the prefix still serves its other paths", "/docs/a.txt", 200, "site a\n", &[]),
    ("prefix before exact hides it", "/api/v1", 200, "api", &[]),
    ("a prefix matches its bare path", "/api", 200, "api", &[]),
    ("and everything below", "/api/v2/x", 200, "api", &[]),
];

fn check_rows(srv: &TestServer, rows: &[Row]) {
    for (what, target, status, body, headers) in rows {
        let resp = get_and_head(srv, target, "");
        assert_eq!(resp.status, *status, "{what}: status");
        if *status < 300 {
            assert_eq!(resp.text(), *body, "{what}: body");
        }
        for (name, value) in *headers {
            assert_eq!(resp.header(name), Some(*value), "{what}: {name}");
        }
    }
}

#[test]
fn every_target_kind_answers() {
    let srv = start();
    check_rows(&srv, KINDS);
    let empty = request(&srv, "GET", "/empty", "");
    assert_eq!(
        empty.header("Content-Type"),
        None,
        "204 from a route has no type"
    );
    let gone = srv.send_raw(b"GET /gone HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(
        gone.starts_with(b"HTTP/1.1 410 Gone\r\n"),
        "a configured status has its reason phrase"
    );
    let unrouted = request(&srv, "GET", "/ok.txt", "");
    assert_eq!(
        unrouted.header("X-Route"),
        None,
        "route headers stay on the route"
    );
}

#[test]
fn first_match_wins() {
    let srv = start();
    check_rows(&srv, ORDER);
}

#[test]
fn dir_route_folder_redirect_and_listing_show_the_url() {
    let srv = start();
    let bare = request(&srv, "GET", "/docs?x=1", "");
    assert_eq!(
        (bare.status, bare.header("Location")),
        (301, Some("/docs/?x=1"))
    );
    let sub = request(&srv, "GET", "/docs/list", "");
    assert_eq!(
        (sub.status, sub.header("Location")),
        (301, Some("/docs/list/"))
    );
    let html = get_and_head(&srv, "/docs/list/", "");
    assert_eq!(html.status, 200);
    let text = html.text();
    assert!(
        text.contains("<title>Index of /docs/list/</title>"),
        "{text}"
    );
    assert!(
        text.contains("one.txt") && text.contains("two.txt"),
        "{text}"
    );
    let json = get_and_head(&srv, "/docs/", "Accept: application/json\r\n");
    let text = json.text();
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    for name in ["\"a.txt\"", "\"guide\"", "\"list\"", "\"big.txt\""] {
        assert!(text.contains(name), "{name} in {text}");
    }
    assert!(
        !text.contains("escape.txt"),
        "a link out of the folder is absent: {text}"
    );
}

#[test]
fn temp_files_in_a_dir_route_are_swept_at_start() {
    let srv = start();
    let site = srv.dir.path().join("site");
    assert!(!site.join("list/.shelf-tmp-7").exists(), "swept");
    assert!(site.join("list/one.txt").exists());
}

#[test]
fn dir_route_ranges_and_compression_as_the_root() {
    let srv = start();
    let len = big_text().len();
    let part = request(&srv, "GET", "/docs/big.txt", "Range: bytes=0-5\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(part.text(), "routed");
    let range = format!("bytes 0-5/{len}");
    assert_eq!(part.header("Content-Range"), Some(range.as_str()));
    assert_eq!(
        part.header("X-Route"),
        Some("docs"),
        "route headers on a 206"
    );
    let gz = get_and_head(&srv, "/docs/big.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    assert_eq!(decode(&gz.body, Some("gzip")), big_text().as_bytes());
}

#[test]
fn dir_route_cannot_be_left() {
    let srv = start();
    let canary = srv.dir.path().join("canary.txt");
    // (what it proves, method, target, status)
    let rows: &[(&str, &str, &str, u16)] = &[
        (
            "climbing above the root",
            "GET",
            "/docs/../../canary.txt",
            400,
        ),
        (
            "climbing, encoded",
            "GET",
            "/docs/%2e%2e/%2e%2e/canary.txt",
            400,
        ),
        ("encoded slash", "GET", "/docs/..%2fcanary.txt", 400),
        ("symlink out of the folder", "GET", "/docs/escape.txt", 404),
        (
            "symlink into the document root",
            "GET",
            "/docs/into-root.txt",
            404,
        ),
        (
            "deleting through an escaping link",
            "DELETE",
            "/docs/escape.txt",
            404,
        ),
        ("the route's folder itself", "DELETE", "/docs/", 403),
        ("a PUT to the folder", "PUT", "/docs", 409),
    ];
    for (what, method, target, status) in rows {
        let resp = with_body(&srv, method, target, "", "");
        assert_eq!(resp.status, *status, "{what}: {method} {target}");
    }
    // `..` inside the route resolves within the URL space: `/docs/x/../a.txt` is `/docs/a.txt`.
    assert_eq!(
        request(&srv, "GET", "/docs/x/../a.txt", "").text(),
        "site a\n"
    );
    // A PUT over the escaping link replaces the link, never writes through it.
    let put = with_body(&srv, "PUT", "/docs/escape.txt", "", "new");
    assert_eq!(put.status, 201);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary\n");
    assert_eq!(request(&srv, "GET", "/docs/escape.txt", "").text(), "new");
}

#[test]
fn writes_to_a_dir_route_land_in_its_folder() {
    let srv = start();
    let site = srv.dir.path().join("site");
    let put = with_body(&srv, "PUT", "/docs/new/file.txt", "", "fresh");
    assert_eq!(put.status, 201, "{put:?}");
    assert_eq!(put.header("Location"), Some("/docs/new/file.txt"));
    assert_eq!(
        std::fs::read_to_string(site.join("new/file.txt")).unwrap(),
        "fresh"
    );
    assert!(
        !srv.public().join("docs/new").exists(),
        "nothing under the root"
    );
    assert_eq!(
        request(&srv, "GET", "/docs/new/file.txt", "").text(),
        "fresh"
    );
    let post = with_body(
        &srv,
        "POST",
        "/docs/list/",
        "Content-Type: text/plain\r\n",
        "posted",
    );
    assert_eq!(post.status, 201, "{post:?}");
    let location = post.header("Location").unwrap();
    assert!(
        location.starts_with("/docs/list/") && location.ends_with(".txt"),
        "{location}"
    );
    let name = location.trim_start_matches("/docs/list/");
    assert_eq!(
        std::fs::read_to_string(site.join("list").join(name)).unwrap(),
        "posted"
    );
    let delete = with_body(&srv, "DELETE", "/docs/new/file.txt", "", "");
    assert_eq!(delete.status, 204);
    assert!(!site.join("new/file.txt").exists());
}

#[test]
fn file_and_fixed_routes_refuse_writes() {
    let srv = start();
    let reads = "GET, HEAD, OPTIONS, TRACE";
    // (what it proves, method, target, status, Allow)
    let rows: &[(&str, &str, &str, u16, Option<&str>)] = &[
        (
            "PUT to a file route, though [[acl]] allows PUT",
            "PUT",
            "/readme",
            405,
            Some(reads),
        ),
        ("PUT to a fixed route", "PUT", "/health", 405, Some(reads)),
        (
            "OPTIONS on a file route",
            "OPTIONS",
            "/readme",
            204,
            Some(reads),
        ),
        (
            "OPTIONS on a dir route",
            "OPTIONS",
            "/docs/a.txt",
            204,
            Some("GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE"),
        ),
        (
            "DELETE on a redirect: no rule allows it",
            "DELETE",
            "/old/x",
            405,
            Some("GET, HEAD, PUT, OPTIONS, TRACE"),
        ),
    ];
    for (what, method, target, status, allow) in rows {
        let resp = with_body(&srv, method, target, "", "");
        assert_eq!(resp.status, *status, "{what}");
        assert_eq!(resp.header("Allow"), *allow, "{what}: Allow");
    }
    let put = with_body(&srv, "PUT", "/old/x", "", "body");
    assert_eq!(
        (put.status, put.header("Location")),
        (308, Some("/new/x")),
        "a PUT the ACL allows is redirected"
    );
    let readme = std::fs::read_to_string(srv.dir.path().join("readme.html")).unwrap();
    assert_eq!(readme, "<p>readme</p>\n", "the routed file is untouched");
}

#[test]
fn file_route_answers_conditionals() {
    let srv = start();
    let first = get_and_head(&srv, "/readme", "");
    let tag = first.header("ETag").unwrap().to_string();
    let modified = first.header("Last-Modified").unwrap().to_string();
    for header in [
        format!("If-None-Match: {tag}\r\n"),
        format!("If-Modified-Since: {modified}\r\n"),
    ] {
        let resp = request(&srv, "GET", "/readme", &header);
        assert_eq!(resp.status, 304, "{header}");
        assert_eq!(resp.header("ETag"), Some(tag.as_str()));
        assert_eq!(
            resp.header("X-Route"),
            Some("readme"),
            "route headers on a 304"
        );
    }
    let part = request(&srv, "GET", "/readme", "Range: bytes=3-8\r\n");
    assert_eq!((part.status, part.text().as_str()), (206, "readme"));
}

#[test]
fn redirects_carry_the_rest_and_the_query() {
    let srv = start();
    // (target, Location)
    let rows: &[(&str, &str)] = &[
        ("/old/a%20b/c?x=1&y=2", "/new/a%20b/c?x=1&y=2"),
        ("/old/caf%C3%A9/", "/new/caf%C3%A9/"),
        ("/old/x/../y", "/new/y"),
        ("/old/%2e/y", "/new/y"),
        ("/old", "/new/"),
        ("/old/", "/new/"),
        ("/moved?q=1", "https://example.com/x?from=shelf&q=1"),
    ];
    for (target, location) in rows {
        let resp = request(&srv, "GET", target, "");
        assert!(
            matches!(resp.status, 301 | 308),
            "{target}: {}",
            resp.status
        );
        assert_eq!(resp.header("Location"), Some(*location), "{target}");
    }
}

#[test]
fn acl_applies_to_routed_paths() {
    let srv = start();
    let refused = request(&srv, "GET", "/private", "");
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("WWW-Authenticate"),
        Some("Basic realm=\"shelf\"")
    );
    assert_eq!(refused.header("Location"), None);
    let let_in = request(&srv, "GET", "/private", ALICE);
    assert_eq!(
        (let_in.status, let_in.header("Location")),
        (302, Some("/docs/"))
    );
}

/// A route's `Server` or `Date` replaces the one the server writes itself: one field each,
/// on every kind of answer the route gives (a fixed body, a file, a 304).
#[test]
fn route_server_and_date_replace_the_built_in_ones() {
    let routes = r#"
[[route]]
path = "/fixed"
body = "fixed"
headers = { "Server" = "edge/1", "Date" = "Thu, 01 Jan 2099 00:00:00 GMT" }

[[route]]
path = "/files/*"
dir = "public"
headers = { "server" = "edge/2" }
"#;
    let srv = TestServer::start_with("", routes, |p| {
        std::fs::write(p.join("ok.txt"), "ok\n").unwrap();
    });
    let fixed = get_and_head(&srv, "/fixed", "");
    let file = get_and_head(&srv, "/files/ok.txt", "");
    let etag = file.header("ETag").unwrap().to_string();
    let not_modified = request(
        &srv,
        "GET",
        "/files/ok.txt",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(not_modified.status, 304);
    let rows = [
        (
            "fixed",
            &fixed,
            "edge/1",
            Some("Thu, 01 Jan 2099 00:00:00 GMT"),
        ),
        ("file", &file, "edge/2", None),
        ("304", &not_modified, "edge/2", None),
    ];
    for (what, resp, server, date) in rows {
        assert_eq!(resp.header_count("Server"), 1, "{what}: {resp:?}");
        assert_eq!(resp.header("Server"), Some(server), "{what}");
        assert_eq!(resp.header_count("Date"), 1, "{what}: {resp:?}");
        if let Some(date) = date {
            assert_eq!(resp.header("Date"), Some(date), "{what}");
        }
    }
    // Elsewhere the server's own.
    let plain = request(&srv, "GET", "/ok.txt", "");
    assert_eq!(plain.header("Server"), Some("shelf"));
}
