//! Configured limits over real TCP (SPEC §6): 414, 431, 413, 408 and 503, each followed by a
//! close, none disturbing other connections.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn server_with(keys: &str) -> TestServer {
    TestServer::start_with(keys, "", |public| {
        std::fs::write(public.join("ok.txt"), "ok\n").unwrap();
    })
}

/// A request for `/ok.txt` whose head is `extra` header lines long.
fn get_with(target: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").into_bytes()
}

/// Size limits on the head and the declared body, hostile sizes first.
#[test]
fn size_limits_give_their_status_then_close() {
    let server = server_with(
        "max_uri_bytes = 64\nmax_header_bytes = 512\nmax_body_bytes = 100\nheader_timeout_s = 2",
    );
    let long_field = format!("X-Long: {}\r\n", "a".repeat(600));
    let many_fields: String = (0..10_000).map(|i| format!("a{i}:b\r\n")).collect();
    let mut huge_line = b"GET /".to_vec();
    huge_line.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge_line.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    // (what, request, status, the body that says why)
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("1 MB request line", huge_line, 414, "414 URI Too Long: the request target is over max_uri_bytes\n"),
        ("10,000 tiny headers", get_with("/ok.txt", &many_fields), 431, "431 Request Header Fields Too Large: the request line and headers are over max_header_bytes\n"),
        ("one field over the head limit", get_with("/ok.txt", &long_field), 431, "431 Request Header Fields Too Large: the request line and headers are over max_header_bytes\n"),
        ("target one over max_uri_bytes", get_with(&format!("/{}", "a".repeat(64)), ""), 414, "414 URI Too Long: the request target is over max_uri_bytes\n"),
        ("target over max_uri_bytes, line unfinished", format!("GET /{}", "a".repeat(100)).into_bytes(), 414, "414 URI Too Long: the request target is over max_uri_bytes\n"),
        (
            "Content-Length over max_body_bytes, no body sent",
            get_with("/ok.txt", "Content-Length: 101\r\n"),
            413,
            "413 Content Too Large: the body is over max_body_bytes (100 bytes)\n",
        ),
        (
            "Content-Length over max_body_bytes on OPTIONS",
            b"OPTIONS /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n".to_vec(),
            413,
            "413 Content Too Large: the body is over max_body_bytes (100 bytes)\n",
        ),
        (
            "chunked body over max_body_bytes",
            format!(
                "OPTIONS /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n{}\r\n0\r\n\r\n",
                "x".repeat(101)
            )
            .into_bytes(),
            413,
            "413 Content Too Large: the body is over max_body_bytes (100 bytes)\n",
        ),
        (
            "chunked body over max_body_bytes in small chunks",
            format!(
                "OPTIONS /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
                "a\r\n0123456789\r\n".repeat(11)
            )
            .into_bytes(),
            413,
            "413 Content Too Large: the body is over max_body_bytes (100 bytes)\n",
        ),
    ];
    for (what, raw, status, body) in &cases {
        let started = Instant::now();
        let resp = assert_refused(&server, what, raw, *status);
        assert_eq!(resp.text(), *body, "{what}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: slow refusal"
        );
    }
}

/// Exactly at the limits is accepted: the limits are "more than", not "at least".
#[test]
fn requests_at_the_limits_are_served() {
    let server = server_with("max_uri_bytes = 64\nmax_header_bytes = 512\nmax_body_bytes = 100");
    let target = format!("/ok.txt?{}", "q".repeat(64 - 8));
    assert_eq!(target.len(), 64);
    let resp = server.send(&get_with(&target, "Connection: close\r\n"));
    assert_eq!(resp.status, 200, "target of exactly max_uri_bytes");

    let prefix = get_with("/ok.txt", "Connection: close\r\nX-Pad: ");
    let pad = 512 - (prefix.len() - 2) - 4; // the head ends "X-Pad: <pad>\r\n\r\n"
    let head = get_with(
        "/ok.txt",
        &format!("Connection: close\r\nX-Pad: {}\r\n", "p".repeat(pad)),
    );
    assert_eq!(head.len(), 512);
    assert_eq!(
        server.send(&head).status,
        200,
        "head of exactly max_header_bytes"
    );

    let mut body = get_with("/ok.txt", "Content-Length: 100\r\nConnection: close\r\n");
    body.extend(std::iter::repeat_n(b'b', 100));
    assert_eq!(
        server.send(&body).status,
        200,
        "body of exactly max_body_bytes"
    );
}

/// SPEC §2: 431 for the head, but 414 when the request line alone does not fit, even with a
/// target under `max_uri_bytes`.
#[test]
fn request_line_over_the_head_limit_is_414() {
    let server = server_with("max_uri_bytes = 256\nmax_header_bytes = 256");
    let target = format!("/{}", "a".repeat(250));
    assert!(target.len() <= 256);
    assert_refused(
        &server,
        "request line over max_header_bytes",
        &get_with(&target, ""),
        414,
    );
}

/// A request with a declared body over the limit is refused before the body is sent, so a
/// client that waits for 100-continue gets 413 at once and never sends it.
#[test]
fn body_over_the_limit_with_expect_gets_413_without_100() {
    let server = server_with("max_body_bytes = 100");
    let raw = get_with("/ok.txt", "Content-Length: 101\r\nExpect: 100-continue\r\n");
    let resp = assert_refused(&server, "Expect with too large a body", &raw, 413);
    assert_eq!(resp.status, 413);
}

/// `header_timeout_s = 1`: half a head gets 408 and close within about a second.
#[test]
fn half_a_head_times_out_with_408() {
    let server = server_with("header_timeout_s = 1");
    let cases: &[(&str, &[u8])] = &[
        ("nothing sent", b""),
        ("half a request line", b"GET /ok.t"),
        (
            "request line, no end of head",
            b"GET /ok.txt HTTP/1.1\r\nHost: t\r\n",
        ),
    ];
    for (what, partial) in cases {
        let started = Instant::now();
        let resp = assert_refused(&server, what, partial, 408);
        assert_eq!(resp.status, 408);
        assert_eq!(
            resp.text(),
            "408 Request Timeout: the request head did not arrive within header_timeout_s\n",
            "{what}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "{what}: 408 too early: {took:?}"
        );
        assert!(
            took < Duration::from_millis(2500),
            "{what}: 408 too late: {took:?}"
        );
    }
}

/// The header timeout is for the whole head: a client that keeps sending a byte now and then
/// does not extend it. Meanwhile other clients are served at once.
#[test]
fn slow_header_client_does_not_delay_others() {
    let server = server_with("header_timeout_s = 1");
    let slow_addr = server.addr;
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(slow_addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let started = Instant::now();
        for &b in b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nX-Slow: "
            .iter()
            .chain(&[b'x'; 100])
        {
            if stream.write_all(&[b]).is_err() {
                break; // the server gave up on us, as it should
            }
            // The point is to be slow: a byte every 50 ms, well under any per-read timeout.
            std::thread::sleep(Duration::from_millis(50));
            if started.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        let mut reader = BufReader::new(stream);
        (read_response(&mut reader, false).status, started.elapsed())
    });
    // While it dribbles, others are served fast, on new connections and one after another.
    for i in 0..5 {
        let started = Instant::now();
        let resp = server.get("/ok.txt", "");
        let took = started.elapsed();
        assert_eq!(resp.status, 200, "request {i}");
        assert!(
            took < Duration::from_millis(300),
            "request {i} waited {took:?}"
        );
    }
    let (status, took) = slow.join().unwrap();
    assert_eq!(status, 408, "the slow client");
    assert!(
        took < Duration::from_millis(2500),
        "slow client cut off late: {took:?}"
    );
}

/// A body that stalls longer than `body_timeout_s` while being drained: 408, close.
#[test]
fn body_gap_over_body_timeout_is_408() {
    let server = server_with("body_timeout_s = 1");
    let mut stream = server.connect();
    stream
        .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let started = Instant::now();
    let mut reader = BufReader::new(stream);
    let resp = read_response(&mut reader, false);
    assert_eq!(resp.status, 408);
    assert_eq!(
        resp.text(),
        "408 Request Timeout: the request body paused longer than body_timeout_s\n"
    );
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert!(is_closed(reader.get_mut()));
    assert_still_serving(&server, "after a body timeout");
}

/// `max_connections = 2`: a third connection gets 503 + `Retry-After` and close; once the
/// others are gone a new one is served.
#[test]
fn over_max_connections_is_503_then_recovers() {
    let server = server_with("max_connections = 2\nheader_timeout_s = 5\nkeep_alive_s = 5");
    // Two open keep-alive connections, each having been served once.
    let mut held: Vec<BufReader<TcpStream>> = (0..2)
        .map(|_| {
            let mut conn = BufReader::new(server.connect());
            conn.get_mut().write_all(&get_with("/ok.txt", "")).unwrap();
            assert_eq!(read_response(&mut conn, false).status, 200);
            conn
        })
        .collect();
    assert_eq!(server.handle().active_connections(), 2);

    let mut third = BufReader::new(server.connect());
    let resp = read_response(&mut third, false);
    assert_eq!(resp.status, 503);
    assert_eq!(
        resp.text(),
        "503 Service Unavailable: too many connections; try again in a moment\n"
    );
    assert_common_headers(&resp, "503");
    assert!(
        resp.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(is_closed(third.get_mut()));

    // The held connections were not disturbed.
    held[0]
        .get_mut()
        .write_all(&get_with("/ok.txt", ""))
        .unwrap();
    assert_eq!(read_response(&mut held[0], false).status, 200);

    drop(held);
    poll_until("a slot frees", || server.handle().active_connections() == 0);
    assert_still_serving(&server, "after the others closed");
}

/// A client over `max_connections` that sends its request at once still reads the 503.
#[test]
fn over_max_connections_with_a_request_already_sent_reads_503() {
    let server = server_with("max_connections = 1\nheader_timeout_s = 5");
    let mut held = BufReader::new(server.connect());
    held.get_mut().write_all(&get_with("/ok.txt", "")).unwrap();
    assert_eq!(read_response(&mut held, false).status, 200);
    for i in 0..20 {
        let mut stream = server.connect();
        write_lenient(&mut stream, &get_with("/ok.txt", ""));
        let mut reader = BufReader::new(stream);
        let resp = read_response(&mut reader, false);
        assert_eq!(resp.status, 503, "attempt {i}");
        assert!(is_closed(reader.get_mut()), "attempt {i}");
    }
}

/// A request refused with a closing status (here 400 for a bad path) is answered at once: the
/// server does not first wait for a body it will never read.
#[test]
fn refusal_that_closes_does_not_wait_for_the_body() {
    let server = server_with("body_timeout_s = 5");
    let mut stream = server.connect();
    let started = Instant::now();
    stream
        .write_all(b"GET /%zz HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut BufReader::new(&mut stream), false);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "400 took {:?}: it waited for the body",
        started.elapsed()
    );
}

/// A client that stops reading a large response cannot hold its thread: the write times out
/// after `body_timeout_s` and the connection is dropped.
#[test]
fn client_that_stops_reading_is_dropped() {
    let server = TestServer::start_with("body_timeout_s = 1", "", |public| {
        std::fs::write(public.join("big.bin"), vec![7u8; 64 << 20]).unwrap();
    });
    let mut stream = server.connect();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    poll_until("the server to start sending", || {
        server.handle().active_connections() == 1
    });
    // Never read: the socket buffers fill and the server's write blocks, then times out.
    poll_until("the stalled connection to be dropped", || {
        server.handle().active_connections() == 0
    });
    drop(stream);
}
