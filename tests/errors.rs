//! Error bodies over real TCP: every error says in one line why (never a host path, never an
//! I/O error's text), HEAD gets none, and a browser gets a small HTML page with a link back to
//! the folder the request was about, while curl and scripts keep plain text.

mod common;

use std::io::{BufReader, Write};
use std::sync::OnceLock;

use common::{Resp, TestServer, get_and_head, read_response, request};

/// What a browser sends on navigation and form posts.
const BROWSER: &str = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n";

/// `[users]` (alice and bob, both with password "pw"; bcrypt cost 4 keeps the tests fast) and
/// the rules: writes under `/up/`, alice only under `/private/`, nobody local under `/closed/`.
fn rules() -> &'static str {
    static RULES: OnceLock<String> = OnceLock::new();
    RULES.get_or_init(|| {
        let hash = bcrypt::hash("pw", 4).unwrap();
        format!(
            "[users]\nalice = \"{hash}\"\nbob = \"{hash}\"\n\n\
         [[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\", \"POST\", \"PATCH\", \"DELETE\"]\n\n\
         [[acl]]\npath = \"/private/*\"\nmethods = [\"*\"]\nusers = [\"alice\"]\n\n\
         [[acl]]\npath = \"/closed/*\"\nmethods = [\"*\"]\ndeny = [\"127.0.0.0/8\"]\n\n\
         [[route]]\npath = \"/fixed\"\nstatus = 200\nbody = \"ok\"\n"
        )
    })
}

fn start() -> TestServer {
    TestServer::start_with("max_body_bytes = 1000", rules(), |p| {
        for dir in ["up/dir", "up/full", "private", "closed"] {
            std::fs::create_dir_all(p.join(dir)).unwrap();
        }
        std::fs::write(p.join("up/full/a.txt"), "a").unwrap();
        std::fs::write(p.join("up/file.txt"), "hello").unwrap();
        std::fs::write(p.join("private/x.txt"), "secret").unwrap();
        std::fs::write(p.join("closed/x.txt"), "closed").unwrap();
        std::fs::write(p.join("ok.txt"), "ok").unwrap();
    })
}

/// `Authorization: Basic …` for `user:password` (standard base64 with padding).
fn basic(user_password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in user_password.as_bytes().chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
        for i in 0..4 {
            match i <= chunk.len() {
                true => out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char),
                false => out.push('='),
            }
        }
    }
    format!("Authorization: Basic {out}\r\n")
}

/// `method target` with a body (and its `Content-Length`) on a new connection; reads one
/// response. The server may refuse before reading the body: a failed body write is ignored.
fn send(srv: &TestServer, method: &str, target: &str, headers: &str, body: &[u8]) -> Resp {
    let mut stream = srv.connect();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

const BAD_MULTIPART: &str = "Content-Type: multipart/form-data; boundary=zz\r\n";

/// (name, method, target, headers, body, status, the body that comes back)
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [u8], u16, &'a str);

/// (name, method, target, extra headers, body, status, why, back href, back text)
type PageRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a [u8],
    u16,
    &'a str,
    &'a str,
    &'a str,
);

/// Every error a request can meet, with the exact body it must carry: one line, the status,
/// the reason phrase and why; hostile rows first.
#[test]
fn error_bodies_say_why() {
    let srv = start();
    let root = srv.public().display().to_string();
    let as_alice_wrong = basic("alice:nope");
    let as_bob = basic("bob:pw");
    let leak_target = format!("{root}/ok.txt");
    let big = vec![b'x'; 1001];
    let rows: Vec<Row> = vec![
        // Hostile rows first: markup and host paths in the target never come back as text.
        (
            "markup in a missing path",
            "GET",
            "/up/%3Cscript%3Ealert(1)%3C/script%3E%22/x.txt",
            "",
            b"",
            404,
            "404 Not Found\n",
        ),
        (
            "a climb towards /etc/passwd",
            "GET",
            "/a/../../etc/passwd",
            "",
            b"",
            400,
            "400 Bad Request: the path climbs above the root\n",
        ),
        (
            "the served root's own absolute path",
            "GET",
            &leak_target,
            "",
            b"",
            404,
            "404 Not Found\n",
        ),
        (
            "an encoded slash",
            "GET",
            "/up%2F..%2F..%2Fetc",
            "",
            b"",
            400,
            "400 Bad Request: an encoded / or \\ in the path\n",
        ),
        (
            "a form from another site",
            "POST",
            "/up/",
            "Origin: https://evil.example\r\n",
            b"x",
            403,
            "403 Forbidden: a form on another site may not write here\n",
        ),
        (
            "a broken multipart upload",
            "POST",
            "/up/",
            BAD_MULTIPART,
            b"--zz\r\nno end",
            400,
            "400 Bad Request: the multipart body ends in a part's headers\n",
        ),
        (
            "a body over max_body_bytes",
            "PUT",
            "/up/big.bin",
            "",
            &big,
            413,
            "413 Content Too Large: the body is over max_body_bytes (1000 bytes)\n",
        ),
        (
            "a malformed Content-Range",
            "PATCH",
            "/up/file.txt",
            "Content-Range: bytes 5-/*\r\n",
            b"x",
            400,
            "400 Bad Request: malformed Content-Range\n",
        ),
        // Policy.
        (
            "a write where no rule names it",
            "PUT",
            "/ok.txt",
            "",
            b"x",
            405,
            "405 Method Not Allowed: writes are not allowed here \
             (allowed: GET, HEAD, OPTIONS, TRACE)\n",
        ),
        (
            "a write to a fixed route",
            "PUT",
            "/fixed",
            "",
            b"x",
            405,
            "405 Method Not Allowed: this path cannot be written \
             (allowed: GET, HEAD, OPTIONS, TRACE)\n",
        ),
        (
            "CONNECT",
            "CONNECT",
            "example.com:443",
            "",
            b"",
            405,
            "405 Method Not Allowed: shelf is not a proxy \
             (allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE)\n",
        ),
        (
            "an unknown method",
            "BREW",
            "/ok.txt",
            "",
            b"",
            501,
            "501 Not Implemented: shelf does not know this method\n",
        ),
        (
            "no credentials",
            "GET",
            "/private/x.txt",
            "",
            b"",
            401,
            "401 Unauthorized: log in to continue\n",
        ),
        (
            "a wrong password",
            "GET",
            "/private/x.txt",
            &as_alice_wrong,
            b"",
            401,
            "401 Unauthorized: wrong user name or password\n",
        ),
        (
            "a user the rule does not list",
            "GET",
            "/private/x.txt",
            &as_bob,
            b"",
            403,
            "403 Forbidden: this user may not do this here\n",
        ),
        (
            "an address the rule denies",
            "GET",
            "/closed/x.txt",
            "",
            b"",
            403,
            "403 Forbidden: your address may not do this here\n",
        ),
        // Conflicts and conditions.
        (
            "DELETE of a folder with something in it",
            "DELETE",
            "/up/full/",
            "",
            b"",
            409,
            "409 Conflict: the folder is not empty\n",
        ),
        (
            "PUT to a folder",
            "PUT",
            "/up/dir",
            "",
            b"x",
            409,
            "409 Conflict: the target is a folder\n",
        ),
        (
            "PUT to a path ending in /",
            "PUT",
            "/up/new/",
            "",
            b"x",
            409,
            "409 Conflict: a path ending in / names a folder, not a file\n",
        ),
        (
            "POST to a file",
            "POST",
            "/up/file.txt",
            "",
            b"x",
            409,
            "409 Conflict: the target is a file; upload into a folder\n",
        ),
        (
            "If-Match another tag",
            "GET",
            "/ok.txt",
            "If-Match: \"nope\"\r\n",
            b"",
            412,
            "412 Precondition Failed: the file does not meet the request's If-* conditions\n",
        ),
        (
            "a Range past the end",
            "GET",
            "/ok.txt",
            "Range: bytes=50-\r\n",
            b"",
            416,
            "416 Range Not Satisfiable: none of the requested ranges lies within the file \
             (2 bytes)\n",
        ),
        (
            "a PATCH past the end",
            "PATCH",
            "/up/file.txt",
            "Content-Range: bytes 50-50/*\r\n",
            b"x",
            416,
            "416 Range Not Satisfiable: the patch starts past the end of the file (5 bytes)\n",
        ),
        (
            "the target * outside OPTIONS",
            "GET",
            "*",
            "",
            b"",
            400,
            "400 Bad Request: the target * is for OPTIONS only\n",
        ),
    ];
    for (name, method, target, headers, body, status, want) in rows {
        let resp = send(&srv, method, target, headers, body);
        assert_eq!(resp.status, status, "{name}: {resp:?}");
        assert_eq!(resp.text(), want, "{name}");
        assert_eq!(
            resp.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{name}"
        );
        assert!(!resp.text().contains(&root), "{name}: leaks the root");
    }
}

/// Refusals of the head itself: the parser's reason is the why.
#[test]
fn refused_heads_say_why() {
    let srv = start();
    let rows: &[(&str, &[u8], u16, &str)] = &[
        (
            "a bare CR",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
            400,
            "400 Bad Request: a bare CR in the request head\n",
        ),
        (
            "no Host in HTTP/1.1",
            b"GET /ok.txt HTTP/1.1\r\n\r\n",
            400,
            "400 Bad Request: the Host header field is missing\n",
        ),
        (
            "two Content-Lengths that differ",
            b"PUT /up/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "400 Bad Request: differing Content-Length values\n",
        ),
        (
            "a transfer coding other than chunked",
            b"PUT /up/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
            "501 Not Implemented: chunked is the only transfer coding shelf accepts\n",
        ),
        (
            "HTTP/2.0",
            b"GET /ok.txt HTTP/2.0\r\nHost: t\r\n\r\n",
            505,
            "505 HTTP Version Not Supported: shelf speaks HTTP/1.0 and HTTP/1.1\n",
        ),
    ];
    for (name, raw, status, want) in rows {
        let resp = common::assert_refused(&srv, name, raw, *status);
        assert_eq!(resp.text(), *want, "{name}");
    }
}

/// Switched off in the config: listings and TRACE.
#[test]
fn switched_off_features_say_so() {
    let srv = TestServer::start_with("listing = false\ntrace = false", "", |p| {
        std::fs::create_dir_all(p.join("docs")).unwrap();
    });
    let listing = get_and_head(&srv, "/docs/", "");
    assert_eq!(listing.status, 403);
    assert_eq!(
        listing.text(),
        "403 Forbidden: folder listings are turned off\n"
    );
    let trace = request(&srv, "TRACE", "/", "");
    assert_eq!(trace.status, 405);
    assert_eq!(
        trace.text(),
        "405 Method Not Allowed: TRACE is turned off (allowed: GET, HEAD, OPTIONS)\n"
    );
}

/// HEAD of an error: the headers GET gets (the same `Content-Length`), no body.
#[test]
fn head_of_an_error_has_no_body() {
    let srv = start();
    for accept in ["", BROWSER] {
        for target in ["/nope.txt", "/private/x.txt", "/closed/x.txt", "/a/../../x"] {
            let get = get_and_head(&srv, target, accept);
            let length: usize = get.header("content-length").unwrap().parse().unwrap();
            assert_eq!(length, get.body.len(), "{target} {accept:?}");
            assert!(length > 0, "{target}: GET has a body");
        }
    }
}

/// Who gets the HTML page: only a client whose `Accept` prefers `text/html` to `text/plain`.
#[test]
fn accept_decides_text_or_page() {
    let srv = start();
    let rows: &[(&str, &str, bool)] = &[
        ("hostile: malformed q", "Accept: text/html;q=abc\r\n", false),
        ("hostile: empty", "Accept: \r\n", false),
        ("no Accept (curl without -H)", "", false),
        ("*/* (curl)", "Accept: */*\r\n", false),
        (
            "text/plain first",
            "Accept: text/plain, text/html;q=0.9\r\n",
            false,
        ),
        ("a tie", "Accept: text/html, text/plain\r\n", false),
        ("JSON client", "Accept: application/json\r\n", false),
        ("a browser", BROWSER, true),
        ("text/html alone", "Accept: text/html\r\n", true),
    ];
    for (name, accept, html) in rows {
        let resp = request(&srv, "GET", "/up/missing.txt", accept);
        assert_eq!(resp.status, 404, "{name}");
        let want = match html {
            true => "text/html; charset=utf-8",
            false => "text/plain; charset=utf-8",
        };
        assert_eq!(resp.header("content-type"), Some(want), "{name}");
        assert_eq!(resp.header("vary"), Some("Accept"), "{name}");
    }
}

/// The browser's page: valid, accessible, escaped, linking back to the folder the request was
/// about (the listing a form was on), built from the request line and never from `Referer`.
#[test]
fn browsers_get_a_page_with_a_link_back() {
    let srv = start();
    let referer = "Referer: https://evil.example/\r\n";
    let browser = format!("{BROWSER}{referer}");
    let rows: Vec<PageRow> = vec![
        // Hostile rows first: markup and quotes in the path come back escaped.
        (
            "markup in the path",
            "GET",
            "/up/%3Cscript%3Ealert(1)%3C%2Fscript%3E/x",
            "",
            b"",
            400,
            "An encoded / or \\ in the path",
            "/",
            "/",
        ),
        (
            "markup and a quote in a folder name",
            "GET",
            "/up/%3Cscript%3E%22/x.txt",
            "",
            b"",
            404,
            "",
            "/up/%3Cscript%3E%22/",
            "/up/&lt;script&gt;&quot;/",
        ),
        (
            "a climb",
            "GET",
            "/a/../../etc/passwd",
            "",
            b"",
            400,
            "The path climbs above the root",
            "/",
            "/",
        ),
        // The listing's forms.
        (
            "the delete button on a non-empty folder",
            "POST",
            "/up/full/?delete",
            "",
            b"",
            409,
            "The folder is not empty",
            "/up/",
            "/up/",
        ),
        (
            "the upload form with a broken body",
            "POST",
            "/up/",
            BAD_MULTIPART,
            b"--zz\r\nno end",
            400,
            "The multipart body ends in a part&#39;s headers",
            "/up/",
            "/up/",
        ),
        (
            "the delete button without credentials",
            "POST",
            "/private/x.txt?delete",
            "",
            b"",
            401,
            "Log in to continue",
            "/private/",
            "/private/",
        ),
        (
            "a write where none is allowed",
            "PUT",
            "/ok.txt",
            "",
            b"x",
            405,
            "Writes are not allowed here (allowed: GET, HEAD, OPTIONS, TRACE)",
            "/",
            "/",
        ),
    ];
    for (name, method, target, headers, body, status, why, href, text) in rows {
        let resp = send(&srv, method, target, &format!("{browser}{headers}"), body);
        assert_eq!(resp.status, status, "{name}: {resp:?}");
        assert_eq!(
            resp.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{name}"
        );
        let page = resp.text();
        let title = format!("{status} {}", reason(status));
        assert!(
            page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n"),
            "{name}: {page}"
        );
        assert!(
            page.contains(&format!("<title>{title}</title>")),
            "{name}: {page}"
        );
        assert!(
            page.contains(&format!("<h1>{title}</h1>")),
            "{name}: {page}"
        );
        match why.is_empty() {
            // The status says it all: the only paragraph is the link back.
            true => assert_eq!(page.matches("<p>").count(), 1, "{name}: {page}"),
            false => assert!(page.contains(&format!("<p>{why}</p>")), "{name}: {page}"),
        }
        let link = format!("<p><a href=\"{href}\">Back to {text}</a></p>");
        assert!(page.contains(&link), "{name}: want {link} in {page}");
        assert!(!page.contains("<script"), "{name}: unescaped markup");
        assert!(!page.contains("evil.example"), "{name}: followed Referer");
        assert!(
            !page.contains(&srv.public().display().to_string()),
            "{name}"
        );
    }
}

/// The reason phrases the rows above use.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        _ => panic!("no reason for {status} in this test"),
    }
}

/// The configured `not_found` page is unchanged, whatever the client accepts.
#[test]
fn configured_not_found_page_wins() {
    let srv = TestServer::start_with("not_found = \"404.html\"", "", |p| {
        std::fs::write(p.join("404.html"), "<p>custom</p>\n").unwrap();
    });
    for accept in ["", BROWSER] {
        let resp = get_and_head(&srv, "/nope", accept);
        assert_eq!(resp.status, 404);
        assert_eq!(resp.text(), "<p>custom</p>\n", "{accept:?}");
        assert_eq!(resp.header("vary"), None, "{accept:?}");
    }
}
