//! SPEC §5 over real TCP: OPTIONS, TRACE, CONNECT, unknown methods, and writes refused with 405
//! where no rule lists them (writes that a rule allows: tests/write.rs).

mod common;

use common::{Resp, TestServer};

/// The methods in an `Allow` value, in order.
fn allow(resp: &Resp) -> Vec<String> {
    let value = resp
        .header("allow")
        .unwrap_or_else(|| panic!("no Allow on {}: {:?}", resp.status, resp.headers));
    value.split(',').map(|m| m.trim().to_string()).collect()
}

fn request(server: &TestServer, method: &str, target: &str, headers: &str) -> Resp {
    server.send(
        format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
}

fn start() -> TestServer {
    TestServer::start_with("", "", |public| {
        std::fs::write(public.join("a.txt"), "hello\n").unwrap();
    })
}

#[test]
fn hostile_methods_are_refused_with_the_right_status() {
    let server = start();
    // (name, raw request, status, Allow expected)
    let rows: &[(&str, &str, u16, bool)] = &[
        (
            "CONNECT authority-form",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            405,
            true,
        ),
        (
            "unknown method",
            "BREW /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
            501,
            false,
        ),
        (
            "unknown method, lower case GET is not GET",
            "get /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
            501,
            false,
        ),
        (
            "PUT without a rule",
            "PUT /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            405,
            true,
        ),
        (
            "POST without a rule",
            "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            405,
            true,
        ),
        (
            "PATCH without a rule",
            "PATCH /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            405,
            true,
        ),
        (
            "DELETE without a rule",
            "DELETE /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            405,
            true,
        ),
        (
            "DELETE of a missing file",
            "DELETE /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            405,
            true,
        ),
    ];
    for (name, raw, status, has_allow) in rows {
        let resp = server.send(raw.as_bytes());
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
        if *has_allow {
            // CONNECT has no path: its Allow lists every method the server implements.
            let want: &[&str] = if name.starts_with("CONNECT") {
                &[
                    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                ]
            } else {
                &["GET", "HEAD", "OPTIONS", "TRACE"]
            };
            assert_eq!(allow(&resp), want, "{name}: Allow");
        }
        assert!(resp.header("content-length").is_some(), "{name}: no length");
    }
    assert_eq!(
        std::fs::read(server.public().join("a.txt")).unwrap(),
        b"hello\n",
        "a refused write changed the file"
    );
}

#[test]
fn options_lists_the_permitted_methods() {
    let on = start();
    let off = TestServer::start("trace = false", "");
    let rows: &[(&str, &TestServer, &str, &[&str])] = &[
        (
            "path, trace on",
            &on,
            "/a.txt",
            &["GET", "HEAD", "OPTIONS", "TRACE"],
        ),
        (
            "missing path, trace on",
            &on,
            "/missing",
            &["GET", "HEAD", "OPTIONS", "TRACE"],
        ),
        (
            "path, trace off",
            &off,
            "/a.txt",
            &["GET", "HEAD", "OPTIONS"],
        ),
        (
            "asterisk, trace on",
            &on,
            "*",
            &[
                "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
            ],
        ),
    ];
    for (name, server, target, want) in rows {
        let resp = request(server, "OPTIONS", target, "");
        assert_eq!(resp.status, 204, "{name}: {resp:?}");
        assert_eq!(allow(&resp), *want, "{name}");
        assert!(resp.body.is_empty(), "{name}: 204 with a body");
        assert_eq!(
            resp.header("content-length"),
            None,
            "{name}: 204 with a length"
        );
    }
}

#[test]
fn options_asterisk_lists_what_the_server_implements() {
    let server = start();
    let resp = request(&server, "OPTIONS", "*", "");
    assert_eq!(resp.status, 204);
    let methods = allow(&resp);
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert!(methods.iter().any(|x| x == m), "{m} missing: {methods:?}");
    }
    assert!(!methods.iter().any(|x| x == "CONNECT"), "{methods:?}");
    // Only OPTIONS may use the asterisk form (RFC 9112 §3.2.4).
    let resp = request(&server, "GET", "*", "");
    assert_eq!(resp.status, 400, "{resp:?}");
}

#[test]
fn trace_echoes_the_head_without_credentials() {
    let server = start();
    let raw = "TRACE /a.txt?q=1 HTTP/1.1\r\nHost: t\r\nX-Probe: one two\r\n\
               authorization: Basic YWxpY2U6cHc=\r\nCOOKIE: s=secret\r\n\
               Proxy-Authorization: Basic c2VjcmV0\r\nX-Cookie-Note: kept\r\n\
               Connection: close\r\n\r\n";
    let resp = server.send(raw.as_bytes());
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("message/http"));
    let body = resp.text();
    let want = "TRACE /a.txt?q=1 HTTP/1.1\r\nHost: t\r\nX-Probe: one two\r\n\
                X-Cookie-Note: kept\r\nConnection: close\r\n\r\n";
    assert_eq!(body, want);
    for secret in ["YWxpY2U6cHc", "secret", "c2VjcmV0"] {
        assert!(!body.contains(secret), "{secret} echoed: {body}");
    }
}

#[test]
fn trace_off_is_405_with_allow_without_trace() {
    let server = TestServer::start("trace = false", "");
    let resp = request(&server, "TRACE", "/", "");
    assert_eq!(resp.status, 405, "{resp:?}");
    assert_eq!(allow(&resp), ["GET", "HEAD", "OPTIONS"]);
}

#[test]
fn refusals_keep_a_persistent_connection_usable() {
    use std::io::{BufReader, Write};
    let server = start();
    let mut stream = server.connect();
    stream
        .write_all(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\
              OPTIONS /a.txt HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let statuses: Vec<u16> = (0..3)
        .map(|_| common::read_response(&mut reader, false).status)
        .collect();
    assert_eq!(statuses, [405, 204, 200]);
}
