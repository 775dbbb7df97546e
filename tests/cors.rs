//! CORS over real TCP (SPEC §5, `[cors]`): preflights for allowed and refused origins, and the
//! headers on normal responses (errors included) for allowed origins.

mod common;

use common::{Resp, TestServer, get_and_head, request};

const APP: &str = "https://app.example";

/// A bcrypt hash (never checked here: preflights carry no credentials).
const HASH: &str = "$2y$05$Gx1u4OdP2T7yBNTP9tqWPOHu4hE6/2I6dkFO1JCf3JaiNhQzaJlZ6";

fn start(extra: &str) -> TestServer {
    TestServer::start_with("", extra, |public| {
        std::fs::write(public.join("a.txt"), "x".repeat(1000)).unwrap();
        std::fs::create_dir_all(public.join("private")).unwrap();
        std::fs::write(public.join("private/p.txt"), "secret").unwrap();
    })
}

fn preflight(server: &TestServer, target: &str, origin: &str, extra: &str) -> Resp {
    let headers = format!("Origin: {origin}\r\nAccess-Control-Request-Method: GET\r\n{extra}");
    request(server, "OPTIONS", target, &headers)
}

fn vary_has_origin(resp: &Resp) -> bool {
    resp.header("vary")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "Origin"))
}

const CORS_HEADERS: [&str; 5] = [
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
];

fn assert_no_cors(resp: &Resp, what: &str) {
    for name in CORS_HEADERS {
        assert_eq!(resp.header(name), None, "{what}: {name}");
    }
}

#[test]
fn preflight_refusals_get_a_plain_options_answer() {
    let server = start(&format!("[cors]\norigins = [\"{APP}\"]"));
    let rows = [
        (
            "other origin",
            "https://evil.example",
            "Access-Control-Request-Method: GET\r\n",
        ),
        (
            "origin with another port",
            "https://app.example:8443",
            "Access-Control-Request-Method: GET\r\n",
        ),
        (
            "other scheme",
            "http://app.example",
            "Access-Control-Request-Method: GET\r\n",
        ),
        (
            "null origin",
            "null",
            "Access-Control-Request-Method: GET\r\n",
        ),
    ];
    for (what, origin, extra) in rows {
        let resp = request(
            &server,
            "OPTIONS",
            "/a.txt",
            &format!("Origin: {origin}\r\n{extra}"),
        );
        assert_eq!(resp.status, 204, "{what}");
        assert_eq!(
            resp.header("allow"),
            Some("GET, HEAD, OPTIONS, TRACE"),
            "{what}"
        );
        assert_no_cors(&resp, what);
        assert!(vary_has_origin(&resp), "{what}: Vary");
    }
}

#[test]
fn preflight_from_an_allowed_origin() {
    let server = start(&format!(
        "[cors]\norigins = [\"https://other.example\", \"{APP}\"]"
    ));
    let resp = preflight(
        &server,
        "/a.txt",
        APP,
        "Access-Control-Request-Headers: X-Token, content-type\r\n",
    );
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        resp.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS, TRACE")
    );
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("X-Token, content-type")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("600"));
    assert_eq!(resp.header("access-control-expose-headers"), None);
    assert!(vary_has_origin(&resp));
    assert!(resp.body.is_empty());

    // Requested headers that are not header names are not echoed.
    let odd = preflight(
        &server,
        "/a.txt",
        APP,
        "Access-Control-Request-Headers: a b, c\r\n",
    );
    assert_eq!(odd.status, 204);
    assert_eq!(odd.header("access-control-allow-origin"), Some(APP));
    assert_eq!(odd.header("access-control-allow-headers"), None);

    // A requested method that is not a token is no preflight.
    let bad = request(
        &server,
        "OPTIONS",
        "/a.txt",
        &format!("Origin: {APP}\r\nAccess-Control-Request-Method: G T\r\n"),
    );
    assert_eq!(bad.header("access-control-allow-methods"), None);
}

#[test]
fn any_origin_gets_a_star_and_no_vary() {
    let server = start("[cors]\norigins = [\"*\"]");
    let pre = preflight(&server, "/a.txt", "https://whoever.example", "");
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(!vary_has_origin(&pre));
    let get = request(
        &server,
        "GET",
        "/a.txt",
        "Origin: https://whoever.example\r\n",
    );
    assert_eq!(get.header("access-control-allow-origin"), Some("*"));
    assert!(!vary_has_origin(&get));
}

#[test]
fn preflight_follows_the_acl() {
    let extra = format!(
        "[cors]\norigins = [\"{APP}\"]\n\n[users]\nalice = \"{HASH}\"\n\n\
         [[acl]]\npath = \"/private/*\"\nusers = [\"alice\"]\n\n\
         [[acl]]\npath = \"/closed/*\"\ndeny = [\"127.0.0.0/8\"]\n"
    );
    let server = start(&extra);
    // Credentials are required there, but a browser's preflight never carries them.
    let pre = preflight(&server, "/private/p.txt", APP, "");
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some(APP));
    // The actual request still needs them; the 401 is readable by the page.
    let get = request(
        &server,
        "GET",
        "/private/p.txt",
        &format!("Origin: {APP}\r\n"),
    );
    assert_eq!(get.status, 401);
    assert_eq!(get.header("access-control-allow-origin"), Some(APP));
    // Where this client may do nothing, the usual refusal answers.
    let denied = preflight(&server, "/closed/x", APP, "");
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-methods"), None);
}

#[test]
fn normal_responses_to_allowed_origins_carry_cors_headers() {
    let server = start(&format!("[cors]\norigins = [\"{APP}\"]"));
    let origin = format!("Origin: {APP}\r\n");
    for target in ["/a.txt", "/missing", "/"] {
        let resp = get_and_head(&server, target, &origin);
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some(APP),
            "{target}"
        );
        assert_eq!(
            resp.header("access-control-expose-headers"),
            Some("ETag, Content-Range, Location"),
            "{target}"
        );
        assert!(vary_has_origin(&resp), "{target}");
        assert_eq!(resp.header_count("vary"), 1, "{target}: one Vary field");
    }
    // Merged into the Vary a compressible file already has.
    let a = request(&server, "GET", "/a.txt", &origin);
    assert_eq!(a.header("vary"), Some("Accept-Encoding, Origin"));
    let range = request(
        &server,
        "GET",
        "/a.txt",
        &format!("{origin}Range: bytes=0-1\r\n"),
    );
    assert_eq!(range.status, 206);
    assert_eq!(range.header("access-control-allow-origin"), Some(APP));

    // Another origin, or none: no CORS headers, but the Vary that keeps caches honest.
    for headers in ["Origin: https://evil.example\r\n", ""] {
        let resp = request(&server, "GET", "/a.txt", headers);
        assert_eq!(resp.status, 200);
        assert_no_cors(&resp, headers);
        assert!(vary_has_origin(&resp), "{headers:?}");
    }
}

#[test]
fn without_cors_nothing_is_added() {
    let server = start("");
    let origin = format!("Origin: {APP}\r\n");
    let get = request(&server, "GET", "/a.txt", &origin);
    assert_no_cors(&get, "GET");
    assert!(!vary_has_origin(&get));
    let pre = preflight(&server, "/a.txt", APP, "");
    assert_eq!(pre.status, 204);
    assert_no_cors(&pre, "preflight");
}

#[test]
fn a_reload_changes_the_allowed_origins() {
    let server = start(&format!("[cors]\norigins = [\"{APP}\"]"));
    let other = "https://new.example";
    let text = common::config_text("", &format!("[cors]\norigins = [\"{other}\"]"));
    std::fs::write(server.config_path(), text).unwrap();
    common::poll_until("the new origin", || {
        let resp = request(&server, "GET", "/a.txt", &format!("Origin: {other}\r\n"));
        resp.header("access-control-allow-origin") == Some(other)
    });
    let old = request(&server, "GET", "/a.txt", &format!("Origin: {APP}\r\n"));
    assert_eq!(old.header("access-control-allow-origin"), None);
}

#[test]
fn preflight_under_a_dir_route_judges_the_url_path() {
    // `[[acl]]` matches the path the client asked for; under a `dir` route that is not the
    // path inside the route's folder (`/drop/x.txt` vs `/x.txt`).
    let extra = format!(
        "[cors]\norigins = [\"{APP}\"]\n\n\
         [[route]]\npath = \"/drop/*\"\ndir = \"drop\"\n\n\
         [[acl]]\npath = \"/drop/*\"\nmethods = [\"PUT\", \"DELETE\"]\n"
    );
    let server = TestServer::start_with("", &extra, |public| {
        std::fs::create_dir_all(public.join("../drop")).unwrap();
    });
    let pre = preflight(&server, "/drop/x.txt", APP, "");
    assert_eq!(pre.status, 204);
    let methods = pre.header("access-control-allow-methods").unwrap_or("");
    assert!(methods.contains("PUT"), "{methods}");
    assert_eq!(pre.header("allow"), Some(methods));
    // The OPTIONS answer without CORS says the same.
    let plain = request(&server, "OPTIONS", "/drop/x.txt", "");
    assert_eq!(plain.header("allow"), Some(methods));
}

#[test]
fn uploads_from_an_allowed_origin_compare_it_case_insensitively() {
    // Scheme and host are case-insensitive (RFC 6454 §4): an origin listed with capitals is
    // the one a browser sends in lower case, for reading responses and for uploading alike.
    let extra = "[cors]\norigins = [\"https://App.Example\"]\n\n\
                 [[acl]]\npath = \"/*\"\nmethods = [\"POST\"]\n";
    let server = start(extra);
    let origin = format!("Origin: {APP}\r\n");
    let get = request(&server, "GET", "/a.txt", &origin);
    assert_eq!(get.header("access-control-allow-origin"), Some(APP));
    assert_eq!(post_from(&server, APP).status, 201);
    // Another origin still may not.
    assert_eq!(post_from(&server, "https://evil.example").status, 403);
}

fn post_from(server: &TestServer, origin: &str) -> Resp {
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nOrigin: {origin}\r\n\
         Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
    );
    server.send(raw.as_bytes())
}
