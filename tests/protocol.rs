//! The HTTP/1.1 engine over real TCP (SPEC §6): hostile heads, framing, keep-alive,
//! pipelining, fragmented writes, request bodies and `Expect: 100-continue`.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// A server with `/ok.txt` ("ok\n") and `/file.txt` ("hello"), quick to time out.
fn server() -> TestServer {
    server_with("header_timeout_s = 2\nkeep_alive_s = 2")
}

fn server_with(keys: &str) -> TestServer {
    TestServer::start_with(keys, "", |public| {
        std::fs::write(public.join("ok.txt"), "ok\n").unwrap();
        std::fs::write(public.join("file.txt"), "hello").unwrap();
        std::fs::write(public.join("other.txt"), "other").unwrap();
    })
}

/// A connection and a reader over it.
fn open(server: &TestServer) -> BufReader<TcpStream> {
    BufReader::new(server.connect())
}

fn write(reader: &mut BufReader<TcpStream>, raw: &[u8]) {
    reader.get_mut().write_all(raw).unwrap();
}

/// Every head that SPEC §6 refuses, with the status it must get. Each is sent on its own
/// connection; the connection must then close and the server must still serve others.
#[test]
fn hostile_heads_are_refused_then_closed() {
    let server = server();
    let cases: &[(&str, &[u8], u16)] = &[
        ("missing Host in 1.1", b"GET /ok.txt HTTP/1.1\r\n\r\n", 400),
        (
            "two Host fields",
            b"GET /ok.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            400,
        ),
        (
            "two Host fields, other case",
            b"GET /ok.txt HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n",
            400,
        ),
        (
            "Content-Length with Transfer-Encoding",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "Content-Length list differs",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\n",
            400,
        ),
        (
            "Content-Length fields differ",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            400,
        ),
        (
            "Content-Length negative",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
            400,
        ),
        (
            "Content-Length not a number",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
            400,
        ),
        (
            "Content-Length overflows u64",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
            400,
        ),
        (
            "Content-Length with plus sign",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\n",
            400,
        ),
        (
            "Transfer-Encoding chunked not last",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            400,
        ),
        (
            "Transfer-Encoding without chunked",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"GET /ok.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "obs-fold",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",
            400,
        ),
        (
            "obs-fold with tab",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A: one\r\n\ttwo\r\n\r\n",
            400,
        ),
        (
            "space before colon",
            b"GET /ok.txt HTTP/1.1\r\nHost : t\r\n\r\n",
            400,
        ),
        (
            "tab before colon",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A\t: b\r\n\r\n",
            400,
        ),
        (
            "bare CR in a field",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
            400,
        ),
        (
            "bare CR ending the request line",
            b"GET /ok.txt HTTP/1.1\rHost: t\r\n\r\n",
            400,
        ),
        ("control byte in target", b"GET /ok\x01.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("DEL in target", b"GET /ok\x7f.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("NUL in target", b"GET /ok\0.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("tab in target", b"GET /ok\t.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("NUL in a field value", b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n", 400),
        (
            "field name with a parenthesis",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX(A): b\r\n\r\n",
            400,
        ),
        (
            "field name with a slash",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX/A: b\r\n\r\n",
            400,
        ),
        (
            "field name empty",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\n: b\r\n\r\n",
            400,
        ),
        (
            "field line without colon",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-A\r\n\r\n",
            400,
        ),
        ("version lower case", b"GET /ok.txt http/1.1\r\nHost: t\r\n\r\n", 400),
        ("version without minor", b"GET /ok.txt HTTP/1\r\nHost: t\r\n\r\n", 400),
        ("version two digits", b"GET /ok.txt HTTP/11.1\r\nHost: t\r\n\r\n", 400),
        ("version letters", b"GET /ok.txt HTTP/1.x\r\nHost: t\r\n\r\n", 400),
        ("version trailing space", b"GET /ok.txt HTTP/1.1 \r\nHost: t\r\n\r\n", 400),
        ("no version (HTTP/0.9 form)", b"GET /ok.txt\r\n\r\n", 400),
        ("two spaces after method", b"GET  /ok.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("asterisk target with GET", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("target without slash", b"GET ok.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("HTTP/2.0", b"GET /ok.txt HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("HTTP/0.9 with version", b"GET /ok.txt HTTP/0.9\r\nHost: t\r\n\r\n", 505),
        ("HTTP/3.0", b"GET /ok.txt HTTP/3.0\r\nHost: t\r\n\r\n", 505),
        (
            "Transfer-Encoding gzip, chunked",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
    ];
    for (what, raw, status) in cases {
        assert_refused(&server, what, raw, *status);
    }
}

/// A method the server does not know is 501, and does not take the server down.
#[test]
fn unknown_method_is_501() {
    let server = server();
    for raw in [
        &b"BREW /ok.txt HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"get /ok.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let resp = server.send(raw);
        assert_eq!(resp.status, 501, "{}", String::from_utf8_lossy(raw));
        assert_common_headers(&resp, "501");
        assert_still_serving(&server, "after 501");
    }
}

/// RFC 9110 §6.2: HTTP/1.x with x > 1 is served as 1.1, answered with `HTTP/1.1`.
#[test]
fn higher_minor_version_is_answered_as_1_1() {
    let server = server();
    for version in ["HTTP/1.2", "HTTP/1.9"] {
        let resp = server.send(format!("GET /file.txt {version}\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(
            (resp.version.as_str(), resp.status),
            ("HTTP/1.1", 200),
            "{version}"
        );
        assert_eq!(resp.body, b"hello", "{version}");
    }
}

/// `Date`, `Server: shelf` and exact `Content-Length` on every kind of response: each is read
/// to the close and its body must be exactly the declared length.
#[test]
fn every_response_carries_date_server_and_exact_length() {
    let server = server();
    let cases: &[(&str, &str, u16)] = &[
        ("400 no Host", "GET / HTTP/1.1\r\n", 400),
        ("400 bad path", "GET /%2e%2e/x HTTP/1.1\r\nHost: t\r\n", 400),
        ("404", "GET /missing HTTP/1.1\r\nHost: t\r\n", 404),
        (
            "405 PUT",
            "PUT /file.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n",
            405,
        ),
        ("501 BREW", "BREW /file.txt HTTP/1.1\r\nHost: t\r\n", 501),
        ("200 file", "GET /file.txt HTTP/1.1\r\nHost: t\r\n", 200),
        ("200 HEAD", "HEAD /file.txt HTTP/1.1\r\nHost: t\r\n", 200),
        ("200 listing", "GET / HTTP/1.1\r\nHost: t\r\n", 200),
        ("200 HTTP/1.0", "GET /file.txt HTTP/1.0\r\n", 200),
        (
            "204 OPTIONS",
            "OPTIONS /file.txt HTTP/1.1\r\nHost: t\r\n",
            204,
        ),
        ("200 TRACE", "TRACE / HTTP/1.1\r\nHost: t\r\n", 200),
    ];
    for (what, head, status) in cases {
        let raw = server.send_raw(format!("{head}Connection: close\r\n\r\n").as_bytes());
        let mut reader = BufReader::new(&raw[..]);
        let resp = read_response(&mut reader, head.starts_with("HEAD"));
        assert_eq!(resp.status, *status, "{what}");
        assert_common_headers(&resp, what);
        if head.starts_with("HEAD") {
            assert_eq!(
                resp.header("content-length"),
                Some("5"),
                "{what}: GET's length"
            );
            assert!(raw.ends_with(b"\r\n\r\n"), "{what}: HEAD sent a body");
            continue;
        }
        assert_exact_length(&raw, what);
        if *status == 204 {
            assert_eq!(resp.header("content-length"), None, "{what}: length on 204");
        } else {
            assert!(
                resp.header("content-length").is_some(),
                "{what}: no Content-Length"
            );
        }
    }
}

/// The error body is a short text, never a path of the host.
#[test]
fn error_bodies_are_short_text() {
    let server = server();
    let resp = server.get("/nope/../../etc/passwd", "");
    assert!(resp.status >= 400);
    let root = server.public().display().to_string();
    assert!(!resp.text().contains(&root), "{}", resp.text());
    assert!(resp.body.len() < 200);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = server();
    let mut conn = open(&server);
    for i in 0..5 {
        let path = if i % 2 == 0 {
            "/file.txt"
        } else {
            "/other.txt"
        };
        write(
            &mut conn,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        );
        let resp = read_response(&mut conn, false);
        assert_eq!(resp.status, 200, "request {i}");
        assert_eq!(resp.body, if i % 2 == 0 { &b"hello"[..] } else { b"other" });
        assert_eq!(resp.header("connection"), None, "request {i}");
    }
}

/// Three requests in one write, a HEAD in the middle: three responses, in order.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /other.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /other.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let first = read_response(&mut conn, false);
    assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
    let second = read_response(&mut conn, true);
    assert_eq!(second.status, 200);
    assert_eq!(second.header("content-length"), Some("5"));
    let third = read_response(&mut conn, false);
    assert_eq!((third.status, third.body.as_slice()), (200, &b"other"[..]));
    assert_eq!(third.header("connection"), Some("close"));
    assert!(conn.buffer().is_empty(), "HEAD response carried a body");
    assert!(is_closed(conn.get_mut()));
}

/// Keep-alive by version and `Connection`: (case, request, response `Connection`, closes).
#[test]
fn connection_header_and_version_decide_keep_alive() {
    let server = server();
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        (
            "1.1 close",
            "GET /file.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            Some("close"),
            true,
        ),
        (
            "1.1 close among options",
            "GET /file.txt HTTP/1.1\r\nHost: t\r\nConnection: foo, Close\r\n\r\n",
            Some("close"),
            true,
        ),
        (
            "1.0 default",
            "GET /file.txt HTTP/1.0\r\n\r\n",
            Some("close"),
            true,
        ),
        (
            "1.0 keep-alive and close",
            "GET /file.txt HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            Some("close"),
            true,
        ),
        (
            "1.0 keep-alive",
            "GET /file.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            Some("keep-alive"),
            false,
        ),
        (
            "1.1 default",
            "GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n",
            None,
            false,
        ),
    ];
    for (what, raw, connection, closes) in cases {
        let mut conn = open(&server);
        write(&mut conn, raw.as_bytes());
        let resp = read_response(&mut conn, false);
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"hello"[..]),
            "{what}"
        );
        assert_eq!(resp.header("connection"), *connection, "{what}");
        if *closes {
            assert!(is_closed(conn.get_mut()), "{what}: left open");
        } else {
            // The same connection serves a second request.
            write(&mut conn, raw.as_bytes());
            let again = read_response(&mut conn, false);
            assert_eq!(again.status, 200, "{what}: second request");
        }
    }
}

/// `keep_alive_s = 1`: an idle connection is closed by the server after about a second.
#[test]
fn idle_keep_alive_connection_is_closed() {
    let server = server_with("keep_alive_s = 1\nheader_timeout_s = 5");
    let mut conn = open(&server);
    write(&mut conn, b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut conn, false).status, 200);
    let idle_from = Instant::now();
    assert!(is_closed(conn.get_mut()), "idle connection left open");
    let waited = idle_from.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "closed too late: {waited:?}"
    );
}

/// A request that arrives one byte at a time (a slow but valid client) is served.
#[test]
fn request_sent_one_byte_at_a_time_is_served() {
    let server = server();
    let mut conn = open(&server);
    conn.get_ref().set_nodelay(true).unwrap();
    for &b in b"GET /file.txt HTTP/1.1\r\nHost: t\r\nX-Long: some value\r\n\r\n".iter() {
        write(&mut conn, &[b]);
        // The point is to be slow: give the server a chance to see each byte alone.
        std::thread::sleep(Duration::from_millis(1));
    }
    let resp = read_response(&mut conn, false);
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"hello"[..]));
}

/// A head split at awkward places (inside CRLF, inside a name, after the request line).
#[test]
fn head_split_across_writes_is_served() {
    let server = server();
    let splits: &[(&str, &[&[u8]])] = &[
        (
            "inside CRLF",
            &[b"GET /file.txt HTTP/1.1\r", b"\nHost: t\r\n\r", b"\n"],
        ),
        (
            "inside a name",
            &[b"GET /file.txt HTTP/1.1\r\nHo", b"st: t\r\n\r\n"],
        ),
        (
            "inside the target",
            &[b"GET /fi", b"le.txt HTTP/1.1\r\nHost: t\r\n\r\n"],
        ),
        (
            "before the final CRLF",
            &[b"GET /file.txt HTTP/1.1\r\nHost: t\r\n", b"\r\n"],
        ),
    ];
    for (what, parts) in splits {
        let mut conn = open(&server);
        conn.get_ref().set_nodelay(true).unwrap();
        for part in *parts {
            write(&mut conn, part);
            std::thread::sleep(Duration::from_millis(5)); // be slow, so the parts arrive apart
        }
        let resp = read_response(&mut conn, false);
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"hello"[..]),
            "{what}"
        );
    }
}

/// Empty lines before a request line are skipped (RFC 9112 §2.2), also between pipelined ones.
#[test]
fn empty_lines_before_a_request_are_skipped() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"\r\nGET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n\r\nGET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(read_response(&mut conn, false).body, b"hello");
    assert_eq!(read_response(&mut conn, false).body, b"other");
}

#[test]
fn absolute_form_target_is_served() {
    let server = server();
    for target in [
        "http://x/file.txt",
        "HTTP://x:8080/file.txt?q=1",
        "https://x/file.txt",
    ] {
        let resp = server.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"hello"[..]),
            "{target}"
        );
    }
    assert_refused(
        &server,
        "absolute-form, empty authority",
        b"GET http:///file.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
    );
}

/// A GET with a small body: the body is drained and the pipelined request after it answered.
#[test]
fn small_body_on_get_is_drained_before_the_next_request() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nGET /xGET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let first = read_response(&mut conn, false);
    assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(first.header("connection"), None);
    let second = read_response(&mut conn, false);
    assert_eq!(
        (second.status, second.body.as_slice()),
        (200, &b"other"[..])
    );
}

/// A chunked body with extensions and trailers is decoded to its end; the pipelined request
/// that follows is answered.
#[test]
fn chunked_body_with_extensions_and_trailers_then_pipelined_request() {
    let server = server();
    for method in ["OPTIONS", "GET"] {
        let mut conn = open(&server);
        let raw = format!(
            "{method} /file.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
             5;name=value;flag\r\nhello\r\n\
             6 ; q=\"quoted ; str\"\r\n world\r\n\
             0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n\
             GET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        );
        write(&mut conn, raw.as_bytes());
        let first = read_response(&mut conn, false);
        assert!(
            first.status == 200 || first.status == 204,
            "{method}: {first:?}"
        );
        assert_eq!(first.header("connection"), None, "{method}");
        let second = read_response(&mut conn, false);
        assert_eq!(
            (second.status, second.body.as_slice()),
            (200, &b"other"[..]),
            "{method}"
        );
    }
}

/// A broken chunked body is a malformed request: 400, close.
#[test]
fn malformed_chunked_body_is_400() {
    let server = server();
    let cases: &[(&str, &[u8])] = &[
        ("size not hex", b"zz\r\nhello\r\n0\r\n\r\n"),
        ("no CRLF after data", b"5\r\nhelloXX0\r\n\r\n"),
        ("negative size", b"-5\r\nhello\r\n0\r\n\r\n"),
        (
            "size overflows",
            b"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        ),
        ("bad trailer", b"5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n"),
    ];
    for (what, body) in cases {
        let mut raw =
            b"OPTIONS /file.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(body);
        assert_refused(&server, what, &raw, 400);
    }
}

/// RFC 9112 §7.1: chunked framing is CRLF throughout. A line of it ending in a bare LF is
/// refused (400, close), so that what a lenient reader would take for the next request is never
/// answered: behind a proxy that reads the framing otherwise, that is request smuggling.
#[test]
fn chunked_framing_with_a_bare_lf_is_400_and_close() {
    let server = TestServer::start_with("", "[[acl]]\npath = \"/*\"\nmethods = [\"PUT\"]\n", |p| {
        std::fs::write(p.join("ok.txt"), "ok\n").unwrap();
        std::fs::write(p.join("other.txt"), "other").unwrap();
    });
    let smuggled = "GET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let cases: &[(&str, &str)] = &[
        ("after the size", "5\nhello\r\n0\r\n\r\n"),
        ("after the data", "5\r\nhello\n0\r\n\r\n"),
        ("after the last size", "5\r\nhello\r\n0\n\r\n"),
        ("after a trailer", "5\r\nhello\r\n0\r\nX: 1\n\r\n"),
        ("as the final line", "5\r\nhello\r\n0\r\n\n"),
    ];
    for (what, body) in cases {
        for method in ["OPTIONS", "PUT"] {
            let raw = format!(
                "{method} /file.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {body}{smuggled}"
            );
            assert_refused(
                &server,
                &format!("{method}: bare LF {what}"),
                raw.as_bytes(),
                400,
            );
        }
    }
}

/// Writes are not implemented yet: 405 with `Allow`; a small body is drained and the
/// connection goes on.
#[test]
fn writes_are_refused_with_405_and_allow() {
    let server = server();
    for method in ["PUT", "POST", "PATCH", "DELETE", "CONNECT"] {
        let mut conn = open(&server);
        let raw = format!(
            "{method} /file.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        );
        write(&mut conn, raw.as_bytes());
        let resp = read_response(&mut conn, false);
        assert_eq!(resp.status, 405, "{method}");
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{method}: no Allow"));
        assert!(
            allow.contains("GET") && !allow.contains(method),
            "{method}: Allow {allow}"
        );
        let next = read_response(&mut conn, false);
        assert_eq!(
            (next.status, next.body.as_slice()),
            (200, &b"other"[..]),
            "{method}"
        );
    }
}

/// A refused request that expects 100-continue gets its final status at once, no 100, and
/// the connection closes with the body unread.
#[test]
fn expect_continue_on_a_refused_request_gets_the_final_status() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"PUT /file.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
    );
    let started = Instant::now();
    let resp = read_response(&mut conn, false);
    assert_eq!(resp.status, 405, "no 100 Continue before a refusal");
    assert!(resp.header("allow").is_some());
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answer was not immediate"
    );
    assert!(is_closed(conn.get_mut()));
    assert_still_serving(&server, "after Expect");
}

/// A GET whose body no handler reads: no 100 (the body will not be read), the final status,
/// then close (the client may still send the body).
#[test]
fn expect_continue_on_a_get_sends_no_100() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let resp = read_response(&mut conn, false);
    assert_eq!(
        resp.status, 200,
        "no 100 Continue for a body that is not read"
    );
    assert_eq!(resp.body, b"hello");
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(is_closed(conn.get_mut()));
}

/// With HTTP/1.0, `Expect: 100-continue` is ignored (RFC 9110 §10.1.1): the small body is
/// drained like any other.
#[test]
fn expect_continue_in_http_1_0_is_ignored() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhiGET /other.txt HTTP/1.0\r\n\r\n",
    );
    let first = read_response(&mut conn, false);
    assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(first.header("connection"), Some("keep-alive"));
    let second = read_response(&mut conn, false);
    assert_eq!(second.body, b"other");
}

/// A bad request pipelined behind good ones: the good ones are answered first, in order,
/// then the 400, then the close.
#[test]
fn bad_request_in_a_pipeline_is_answered_after_the_good_ones() {
    let server = server();
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /other.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /file.txt HTTP/1.1\r\nHost : t\r\n\r\n\
          GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(read_response(&mut conn, false).body, b"hello");
    assert_eq!(read_response(&mut conn, false).body, b"other");
    let bad = read_response(&mut conn, false);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("connection"), Some("close"));
    assert!(conn.buffer().is_empty(), "answered a request after the 400");
    assert!(is_closed(conn.get_mut()));
}

/// The header timeout of a later request on a kept-alive connection: after its first byte, a
/// head has `header_timeout_s` to complete.
#[test]
fn second_request_head_times_out_with_408() {
    let server = server_with("header_timeout_s = 1\nkeep_alive_s = 5");
    let mut conn = open(&server);
    write(
        &mut conn,
        b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /fi",
    );
    assert_eq!(read_response(&mut conn, false).status, 200);
    let started = Instant::now();
    let resp = read_response(&mut conn, false);
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("connection"), Some("close"));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "408 too late: {took:?}");
    assert!(is_closed(conn.get_mut()));
}
