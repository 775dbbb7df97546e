//! HTTPS over real sockets (SPEC §2 `[tls]`, §6): GET, HEAD and ranges through a rustls client
//! that trusts a test CA; the self-signed mode; certificate hot swap; hostile handshakes;
//! `redirect_http` and `hsts`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::tls::{self as client, Ca, Leaf};
use common::{PATIENCE, TestServer, poll_until, read_to_close};

/// A server with HTTPS on port 0, serving `leaf` (or a self-signed certificate when `None`),
/// `[tls]` keys `tls_keys` added, and `public/` filled by `prepare`.
fn start(leaf: Option<&Leaf>, server_keys: &str, tls_keys: &str) -> TestServer {
    let files = match leaf {
        Some(_) => "cert = \"cert.pem\"\nkey = \"key.pem\"\n",
        None => "",
    };
    let extra = format!("[tls]\nlisten = \"127.0.0.1:0\"\n{files}{tls_keys}");
    TestServer::start_with(server_keys, &extra, |public: &Path| {
        if let Some(leaf) = leaf {
            leaf.write_to(public.parent().unwrap());
        }
        std::fs::write(public.join("a.txt"), "hello over tls\n").unwrap();
        std::fs::write(public.join("big.bin"), big_body()).unwrap();
    })
}

/// 3 MiB of varied bytes: far more than one TLS record or one socket buffer.
fn big_body() -> Vec<u8> {
    (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn tls_addr(server: &TestServer) -> SocketAddr {
    server.handle().tls_addr().expect("TLS listener")
}

#[test]
fn get_head_and_ranges_over_tls() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let server = start(Some(&leaf), "", "");
    let mut tls = client::connect(tls_addr(&server), ca.client(), "localhost");
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]), "ALPN");
    assert_eq!(client::peer_cert(&tls), leaf.der);

    // One connection, several requests: keep-alive works over TLS.
    let get = client::request(&mut tls, "GET", "/a.txt", "");
    assert_eq!((get.status, get.text().as_str()), (200, "hello over tls\n"));
    let head = client::request(&mut tls, "HEAD", "/a.txt", "");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("15"));
    assert_eq!(head.header("etag"), get.header("etag"));
    let range = client::request(&mut tls, "GET", "/big.bin", "Range: bytes=100-199\r\n");
    assert_eq!(range.status, 206);
    assert_eq!(range.header("content-range"), Some("bytes 100-199/3145728"));
    assert_eq!(range.body, big_body()[100..200]);
    let multi = client::request(&mut tls, "GET", "/big.bin", "Range: bytes=0-9,-10\r\n");
    assert_eq!(multi.status, 206);
    assert!(
        multi
            .header("content-type")
            .unwrap()
            .starts_with("multipart/byteranges")
    );

    // A large file streams through the copy path (no sendfile under TLS), whole and exact.
    let big = client::request(&mut tls, "GET", "/big.bin", "");
    assert_eq!(big.status, 200);
    assert!(big.body == big_body(), "3 MiB body differs");
    assert_eq!(big.header("strict-transport-security"), None, "hsts unset");
}

#[test]
fn tls12_clients_are_served_too() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "", "");
    let mut tls = client::connect(tls_addr(&server), client::tls12_only(&ca), "127.0.0.1");
    assert_eq!(
        tls.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let get = client::request(&mut tls, "GET", "/a.txt", "Connection: close\r\n");
    assert_eq!(get.status, 200);
    // The server ends with close_notify: the client sees a clean end, not a cut.
    let mut rest = Vec::new();
    assert_eq!(tls.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn self_signed_certificate_is_generated_for_loopback_names() {
    let server = start(None, "", "");
    let handle = server.handle();
    assert!(handle.tls_self_signed());
    let fingerprint = handle.tls_fingerprint().expect("fingerprint");

    // Learn the certificate without trusting it, and check it is the one announced.
    let probe = client::connect(tls_addr(&server), client::trusting_anything(), "localhost");
    let cert = client::peer_cert(&probe);
    assert_eq!(shelf::tls::fingerprint(&cert), fingerprint);

    // Trusted as a root, it verifies for every loopback name it was made for.
    for name in ["localhost", "127.0.0.1", "::1"] {
        let mut tls = client::connect(tls_addr(&server), client::trusting(&cert), name);
        let get = client::request(&mut tls, "GET", "/a.txt", "");
        assert_eq!(get.status, 200, "{name}");
    }
}

#[test]
fn a_renewed_certificate_is_served_without_restart() {
    let ca = Ca::new();
    let (first, second) = (ca.leaf(), ca.leaf());
    let server = start(Some(&first), "", "");
    let addr = tls_addr(&server);
    let served = || client::peer_cert(&client::connect(addr, ca.client(), "localhost"));
    assert_eq!(served(), first.der);

    // A connection opened before the swap keeps working after it.
    let mut before = client::connect(addr, ca.client(), "localhost");
    second.write_to(server.dir.path());
    poll_until("the renewed certificate", || served() == second.der);
    assert_eq!(
        server.handle().tls_fingerprint(),
        Some(second.fingerprint())
    );
    assert_eq!(
        client::request(&mut before, "GET", "/a.txt", "").status,
        200
    );

    // A broken certificate is refused; the renewed one stays in service.
    std::fs::write(server.dir.path().join("cert.pem"), "not a certificate").unwrap();
    assert_stays(Duration::from_millis(1500), || served() == second.der);
}

#[test]
fn a_mismatched_key_is_refused_and_the_old_pair_kept() {
    let ca = Ca::new();
    let (first, second) = (ca.leaf(), ca.leaf());
    let server = start(Some(&first), "", "");
    let addr = tls_addr(&server);
    let served = || client::peer_cert(&client::connect(addr, ca.client(), "localhost"));
    // The certificate of `second` with the key of `first`: a pair that cannot work.
    std::fs::write(server.dir.path().join("cert.pem"), &second.cert_pem).unwrap();
    assert_stays(Duration::from_millis(1500), || served() == first.der);
}

/// Checks `still` keeps holding for `how_long` (the reload budget): something that must *not*
/// happen has had every chance to.
fn assert_stays(how_long: Duration, mut still: impl FnMut() -> bool) {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        assert!(still(), "changed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn garbage_handshake_is_dropped_without_disturbing_others() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "", "");
    let addr = tls_addr(&server);
    let mut good = client::connect(addr, ca.client(), "localhost");
    let hostile: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\x16\x03\x01\x00\x05hello",
        &[0u8; 600],
    ];
    for raw in hostile {
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(PATIENCE)).unwrap();
        let _ = sock.write_all(raw);
        let started = Instant::now();
        let answer = read_to_close(&mut sock);
        assert!(started.elapsed() < PATIENCE, "{raw:?}: left open");
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{raw:?}: answered in plain HTTP"
        );
        assert_eq!(client::request(&mut good, "GET", "/a.txt", "").status, 200);
    }
}

#[test]
fn stalled_handshake_is_closed_after_header_timeout() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "header_timeout_s = 1", "");
    let addr = tls_addr(&server);
    // Connects and says nothing; another sends the first bytes of a ClientHello and stops.
    let mut silent = TcpStream::connect(addr).unwrap();
    let mut partial = TcpStream::connect(addr).unwrap();
    partial.write_all(b"\x16\x03\x01\x02\x00\x01").unwrap();
    let started = Instant::now();
    // Meanwhile a good client is served at once.
    let mut good = client::connect(addr, ca.client(), "localhost");
    assert_eq!(client::request(&mut good, "GET", "/a.txt", "").status, 200);
    for sock in [&mut silent, &mut partial] {
        sock.set_read_timeout(Some(PATIENCE)).unwrap();
        let answer = read_to_close(sock);
        assert!(!answer.starts_with(b"HTTP/"));
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "closed early: {took:?}");
    assert!(took < Duration::from_secs(5), "closed late: {took:?}");
}

#[test]
fn a_slow_handshake_counts_in_header_timeout() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "header_timeout_s = 1", "");
    // A ClientHello dribbled a byte every 300 ms never completes: the deadline runs from
    // accept, not from the last byte.
    let mut sock = TcpStream::connect(tls_addr(&server)).unwrap();
    sock.write_all(b"\x16\x03\x01\x02\x00\x01").unwrap();
    let started = Instant::now();
    // Between bytes, a short read tells whether the server has closed (EOF or reset) or is
    // still waiting (timeout).
    sock.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let mut buf = [0u8; 64];
    while started.elapsed() < PATIENCE {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
            _ => {}
        }
        if sock.write_all(&[0]).is_err() {
            break;
        }
    }
    let took = started.elapsed();
    // A deadline renewed by each byte would keep it open until PATIENCE.
    assert!(
        took < Duration::from_secs(4),
        "dribbling kept it open {took:?}"
    );
}

#[test]
fn redirect_http_sends_plain_requests_to_the_https_port() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "", "redirect_http = true\n");
    let port = tls_addr(&server).port();
    let rows = [
        (
            "example.com:8080",
            "/a.txt?x=1&y",
            308,
            Some(format!("https://example.com:{port}/a.txt?x=1&y")),
        ),
        (
            "[::1]:8080",
            "/dir/%20x",
            308,
            Some(format!("https://[::1]:{port}/dir/%20x")),
        ),
        (
            "127.0.0.1",
            "/",
            308,
            Some(format!("https://127.0.0.1:{port}/")),
        ),
        ("evil.example/path", "/", 400, None),
    ];
    for (host, target, status, location) in rows {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let resp = server.send(raw.as_bytes());
        assert_eq!(resp.status, status, "{host} {target}");
        assert_eq!(
            resp.header("location"),
            location.as_deref(),
            "{host} {target}"
        );
        assert_eq!(resp.header("strict-transport-security"), None);
    }
    // HTTPS itself is served, not redirected.
    let mut tls = client::connect(tls_addr(&server), ca.client(), "localhost");
    assert_eq!(client::request(&mut tls, "GET", "/a.txt", "").status, 200);
}

#[test]
fn hsts_is_sent_on_https_responses_only() {
    let ca = Ca::new();
    let server = start(Some(&ca.leaf()), "", "hsts = \"max-age=63072000\"\n");
    let mut tls = client::connect(tls_addr(&server), ca.client(), "localhost");
    for target in ["/a.txt", "/missing"] {
        let resp = client::request(&mut tls, "GET", target, "");
        assert_eq!(
            resp.header("strict-transport-security"),
            Some("max-age=63072000"),
            "{target}"
        );
    }
    let plain = server.get("/a.txt", "");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("strict-transport-security"), None);
}

#[test]
fn a_reload_can_turn_https_on() {
    let server = TestServer::start_with("", "", |public: &Path| {
        std::fs::write(public.join("a.txt"), "hi\n").unwrap();
    });
    assert_eq!(server.handle().tls_addr(), None);
    let text = common::config_text("", "[tls]\nlisten = \"127.0.0.1:0\"\n");
    std::fs::write(server.config_path(), text).unwrap();
    poll_until("the HTTPS listener", || {
        server.handle().tls_addr().is_some()
    });
    let addr = tls_addr(&server);
    let probe = client::connect(addr, client::trusting_anything(), "localhost");
    let cert = client::peer_cert(&probe);
    assert_eq!(
        Some(shelf::tls::fingerprint(&cert)),
        server.handle().tls_fingerprint()
    );
}

/// Writes run through the same code over TLS: a PUT of a body spanning many TLS records lands
/// whole, and a GET on the same connection reads it back with the PUT's ETag.
#[test]
fn put_over_tls_round_trips() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let acl = "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\"]\n";
    let server = start(Some(&leaf), "", &format!("\n{acl}"));
    let mut tls = client::connect(tls_addr(&server), ca.client(), "localhost");
    let body = big_body();
    let head = format!(
        "PUT /up/copy.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(&body).unwrap();
    tls.flush().unwrap();
    let mut reader = std::io::BufReader::new(&mut tls);
    let put = common::read_response(&mut reader, false);
    assert_eq!(put.status, 201, "{put:?}");
    drop(reader);
    let get = client::request(&mut tls, "GET", "/up/copy.bin", "");
    assert_eq!(get.status, 200);
    assert!(get.body == body, "the PUT body came back different");
    assert_eq!(get.header("etag"), put.header("etag"));
}

/// Issue 10: over `max_connections` an HTTPS client reads `503` + `Retry-After` and the
/// connection closes, as a plain one does (the handshake runs off the accept thread); the
/// connection in service is not disturbed.
#[test]
fn over_max_connections_an_https_client_reads_503() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let server = start(Some(&leaf), "max_connections = 1\nheader_timeout_s = 5", "");
    let mut held = client::connect(tls_addr(&server), ca.client(), "localhost");
    assert_eq!(client::request(&mut held, "GET", "/a.txt", "").status, 200);
    for attempt in 0..3 {
        let mut refused = client::connect(tls_addr(&server), ca.client(), "localhost");
        let resp = client::request(&mut refused, "GET", "/a.txt", "");
        assert_eq!(resp.status, 503, "attempt {attempt}: {resp:?}");
        assert_eq!(resp.header("retry-after"), Some("1"), "attempt {attempt}");
        assert_eq!(
            resp.header("connection"),
            Some("close"),
            "attempt {attempt}"
        );
        let mut rest = Vec::new();
        let end = refused.read_to_end(&mut rest);
        assert!(end.is_ok() && rest.is_empty(), "attempt {attempt}: {end:?}");
    }
    let again = client::request(&mut held, "GET", "/a.txt", "");
    assert_eq!(again.status, 200, "the held connection is still served");
}

/// The refusals are bounded: while four over-the-cap clients stall their handshakes (each
/// holding a refusal thread for at most its deadline), a fifth is closed at once, unanswered;
/// once the stalled ones are dropped, a new client reads its 503 again.
#[test]
fn refusals_over_tls_are_bounded_and_time_out() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let server = start(Some(&leaf), "max_connections = 1\nheader_timeout_s = 5", "");
    let mut held = client::connect(tls_addr(&server), ca.client(), "localhost");
    assert_eq!(client::request(&mut held, "GET", "/a.txt", "").status, 200);
    let connect = || {
        let stream = TcpStream::connect(tls_addr(&server)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    };
    let stalled: Vec<TcpStream> = (0..4).map(|_| connect()).collect();
    // Closed at once: had it waited for a deadline, the stalled ones would be closed too.
    let mut fifth = connect();
    assert!(read_to_close(&mut fifth).is_empty(), "closed unanswered");
    for (i, stream) in stalled.iter().enumerate() {
        stream.set_nonblocking(true).unwrap();
        let open = stream
            .peek(&mut [0u8; 1])
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(open, "stalled handshake {i} still waits");
    }
    let since = Instant::now();
    for mut stream in stalled {
        stream.set_nonblocking(false).unwrap();
        read_to_close(&mut stream);
    }
    assert!(
        since.elapsed() < PATIENCE / 2,
        "the handshake deadline closed them"
    );
    let mut refused = client::connect(tls_addr(&server), ca.client(), "localhost");
    assert_eq!(
        client::request(&mut refused, "GET", "/a.txt", "").status,
        503
    );
}
