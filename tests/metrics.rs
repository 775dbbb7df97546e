//! The metrics listener over real TCP: `/metrics` counts exactly what was served, `/healthz`
//! tells a load balancer when shutdown began, neither goes through `[[acl]]`, routes or the
//! file handlers, and the listener is off unless `[metrics] listen` is set. The exposition is
//! checked by `promtool check metrics` when promtool is installed.
//!
//! Exactness: a request is counted before its connection closes, so a client that reads to
//! the close (`common::request`) scrapes counts that include it. What the server records after
//! the client can see the outcome (a failed TLS handshake) is polled for.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Resp, TestServer, config_text, poll_until, read_response, request};

const METRICS_ON: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\n";

/// A server over `public/a.txt` (`hello world`, 11 bytes) with the metrics listener on port 0,
/// plus `extra` TOML.
fn start(server_keys: &str, extra: &str) -> TestServer {
    start_with(server_keys, extra, |_| {})
}

fn start_with(
    server_keys: &str,
    extra: &str,
    prepare: impl FnOnce(&std::path::Path),
) -> TestServer {
    TestServer::start_with(server_keys, &format!("{METRICS_ON}{extra}"), |public| {
        std::fs::write(public.join("a.txt"), "hello world").unwrap();
        prepare(public);
    })
}

fn metrics_addr(server: &TestServer) -> SocketAddr {
    server.handle().metrics_addr().expect("a metrics listener")
}

/// Sends `raw` to the metrics listener and reads the response to the close.
fn ask(addr: SocketAddr, raw: &str) -> Resp {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let bytes = common::read_to_close(&mut stream);
    let mut reader = BufReader::new(&bytes[..]);
    let resp = read_response(&mut reader, raw.starts_with("HEAD "));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{raw:?}: bytes after the response");
    assert_eq!(resp.header("connection"), Some("close"), "{raw:?}");
    resp
}

fn get(addr: SocketAddr, path: &str) -> Resp {
    ask(addr, &format!("GET {path} HTTP/1.1\r\nHost: m\r\n\r\n"))
}

/// One scrape of `/metrics`, checked for status and content type.
fn scrape(server: &TestServer) -> String {
    let resp = get(metrics_addr(server), "/metrics");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    resp.text()
}

/// The value of the sample `series` (a name with its labels, as exposed).
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    let line = line.unwrap_or_else(|| panic!("no sample {series} in:\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

fn count(text: &str, series: &str) -> u64 {
    let v = value(text, series);
    assert_eq!(v.fract(), 0.0, "{series} = {v}");
    v as u64
}

fn requests(text: &str, method: &str, code: &str) -> u64 {
    count(
        text,
        &format!("shelf_http_requests_total{{method=\"{method}\",code=\"{code}\"}}"),
    )
}

/// Every `shelf_http_requests_total` sample, summed.
fn all_requests(text: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with("shelf_http_requests_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum()
}

/// Polls until `series` reads `want`.
fn wait_for(server: &TestServer, series: &str, want: u64) {
    poll_until(&format!("{series} = {want}"), || {
        count(&scrape(server), series) == want
    });
}

#[test]
fn the_metrics_listener_is_off_by_default() {
    let server = TestServer::start_with("", "", |public| {
        std::fs::write(public.join("a.txt"), "hello world").unwrap();
    });
    assert_eq!(server.handle().metrics_addr(), None);
    assert!(server.config().metrics.listen.is_empty());
    // The file listener knows no such page: /metrics is just a path there.
    assert_eq!(request(&server, "GET", "/metrics", "").status, 404);
    assert_eq!(request(&server, "GET", "/healthz", "").status, 404);
    let lines = server.handle().serving_lines();
    assert!(lines.iter().all(|l| !l.contains("metrics")), "{lines:?}");
    // The counts are kept all the same, for when the listener is turned on.
    let text = server.handle().metrics_text();
    assert_eq!(requests(&text, "GET", "4xx"), 2);
}

#[test]
fn requests_are_counted_by_method_and_status_class() {
    let server = start("", "");
    let mut bytes = 0;
    for _ in 0..3 {
        let resp = request(&server, "GET", "/a.txt", "");
        assert_eq!((resp.status, resp.text().as_str()), (200, "hello world"));
        bytes += resp.body.len();
    }
    let missing = request(&server, "GET", "/missing.txt", "");
    assert_eq!(missing.status, 404);
    bytes += missing.body.len();
    assert_eq!(request(&server, "HEAD", "/a.txt", "").status, 200);
    let unknown = request(&server, "BREW", "/a.txt", "");
    assert_eq!(unknown.status, 501);
    bytes += unknown.body.len();

    let text = scrape(&server);
    assert_eq!(requests(&text, "GET", "2xx"), 3, "{text}");
    assert_eq!(requests(&text, "GET", "4xx"), 1);
    assert_eq!(requests(&text, "HEAD", "2xx"), 1);
    assert_eq!(requests(&text, "other", "5xx"), 1);
    assert_eq!(requests(&text, "PUT", "2xx"), 0);
    assert_eq!(all_requests(&text), 6);
    let histogram = "shelf_http_request_duration_seconds";
    assert_eq!(count(&text, &format!("{histogram}_count")), 6);
    assert_eq!(
        count(&text, &format!("{histogram}_bucket{{le=\"+Inf\"}}")),
        6
    );
    let sum = value(&text, &format!("{histogram}_sum"));
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
    assert_eq!(
        count(&text, "shelf_http_response_bytes_total"),
        bytes as u64
    );
    assert_eq!(count(&text, "shelf_http_request_body_bytes_total"), 0);
    // Scrapes are not requests to the files: scraping again changes nothing.
    assert_eq!(all_requests(&scrape(&server)), 6);
}

#[test]
fn a_refused_head_counts_as_method_other() {
    let server = start("", "");
    let raw = server.send_raw(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n");
    assert!(raw.starts_with(b"HTTP/1.1 400"), "{raw:?}");
    let raw = server.send_raw(b"GET /a.txt HTTP/3.0\r\nHost: t\r\n\r\n");
    assert!(raw.starts_with(b"HTTP/1.1 505"), "{raw:?}");
    let text = scrape(&server);
    assert_eq!(all_requests(&text), 2, "{text}");
    let repeated_host_is_parsed = requests(&text, "GET", "4xx");
    assert_eq!(repeated_host_is_parsed + requests(&text, "other", "4xx"), 1);
    assert_eq!(requests(&text, "other", "5xx"), 1);
}

#[test]
fn request_bodies_are_counted_as_received() {
    let acl = "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\"]\n";
    let server = start("", acl);
    let put = "PUT /up/x.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello there";
    assert_eq!(server.send(put.as_bytes()).status, 201);
    let chunked = "PUT /up/y.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
                   Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let raw = server.send_raw(chunked.as_bytes());
    assert!(raw.starts_with(b"HTTP/1.1 201"), "{raw:?}");
    let text = scrape(&server);
    // The decoded body: chunk framing is not body.
    assert_eq!(count(&text, "shelf_http_request_body_bytes_total"), 16);
    assert_eq!(requests(&text, "PUT", "2xx"), 2);
}

#[test]
fn cache_and_compression_are_counted() {
    let small = "the quick brown fox jumps over the lazy dog\n".repeat(25); // 1100 bytes
    let large = "pack my box with five dozen liquor jugs\n".repeat(100); // 4000 bytes
    let server = start_with("", "[cache]\nmax_file_bytes = 2048\n", |public| {
        std::fs::write(public.join("small.txt"), &small).unwrap();
        std::fs::write(public.join("large.txt"), &large).unwrap();
    });
    let gzip = "Accept-Encoding: gzip\r\n";
    let mut encoded = 0;
    for _ in 0..2 {
        let resp = request(&server, "GET", "/small.txt", gzip);
        assert_eq!(resp.header("content-encoding"), Some("gzip"));
        assert_eq!(common::decode(&resp.body, Some("gzip")), small.as_bytes());
        encoded = resp.body.len();
    }
    // Larger than max_file_bytes: compressed while it streams, never cached.
    let resp = request(&server, "GET", "/large.txt", gzip);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(common::decode(&resp.body, Some("gzip")), large.as_bytes());
    let streamed = resp.body.len();

    let text = scrape(&server);
    // The small file is compressed once, then served from the cache.
    assert_eq!(count(&text, "shelf_cache_misses_total"), 1, "{text}");
    assert_eq!(count(&text, "shelf_cache_hits_total"), 1);
    assert_eq!(count(&text, "shelf_cache_entries"), 1);
    assert!(count(&text, "shelf_cache_bytes") > encoded as u64);
    let input = count(&text, "shelf_compression_input_bytes_total");
    let output = count(&text, "shelf_compression_output_bytes_total");
    assert_eq!(input, (small.len() + large.len()) as u64);
    assert_eq!(output, (encoded + streamed) as u64);
    assert!(
        output < input / 4,
        "text this repetitive shrinks: {output} of {input}"
    );
}

#[test]
fn healthz_and_the_answers_for_other_requests() {
    let server = start("", "");
    let addr = metrics_addr(&server);
    let health = get(addr, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    assert_eq!(health.header("cache-control"), Some("no-store"));
    common::assert_common_headers(&health, "healthz");
    let head = ask(addr, "HEAD /healthz HTTP/1.1\r\nHost: m\r\n\r\n");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some("3"));
    let head = ask(addr, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!((head.status, head.body.len()), (200, 0));

    let post = ask(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: m\r\nContent-Length: 4\r\n\r\nabcd",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let delete = ask(addr, "DELETE /healthz HTTP/1.1\r\nHost: m\r\n\r\n");
    assert_eq!(delete.status, 405);
    for path in ["/", "/metrics/", "/a.txt", "/metricsx", "/healthz/x"] {
        assert_eq!(get(addr, path).status, 404, "{path}");
    }
    assert_eq!(get(addr, "/metrics?format=text").status, 200);
    assert_eq!(get(addr, "http://m/healthz").status, 200, "absolute form");
    let garbage = ask(addr, "GET /metrics HTTP/1.1\r\nHost : m\r\n\r\n");
    assert_eq!(garbage.status, 400);
    // None of this was a request to the files.
    assert_eq!(all_requests(&scrape(&server)), 0);
}

#[test]
fn metrics_do_not_go_through_acl_or_routes() {
    let extra = "[[route]]\npath = \"/*\"\nbody = \"routed\"\n\
                 [[acl]]\npath = \"/*\"\ndeny = [\"127.0.0.0/8\"]\n";
    let server = start("", extra);
    assert_eq!(request(&server, "GET", "/metrics", "").status, 403);
    let addr = metrics_addr(&server);
    assert_eq!(get(addr, "/healthz").text(), "ok\n");
    let text = scrape(&server);
    assert_eq!(requests(&text, "GET", "4xx"), 1, "{text}");
    assert_eq!(get(addr, "/anything").status, 404, "no route answers here");
}

#[test]
fn a_stalled_metrics_client_does_not_block_the_next() {
    let server = start("", "");
    let addr = metrics_addr(&server);
    // Half a head, then silence: it holds its own thread only.
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    assert_eq!(get(addr, "/healthz").status, 200);
    drop(stalled);
}

#[test]
fn healthz_answers_503_once_shutdown_began() {
    let acl = "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\"]\n";
    let mut server = start("", acl);
    let addr = metrics_addr(&server);
    assert_eq!(get(addr, "/healthz").status, 200);
    // A request in flight: its handler asked for the body (100 Continue) and has half of it,
    // so shutdown waits for it.
    let mut busy = server.connect();
    let head = "PUT /up/x.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\
                Expect: 100-continue\r\n\r\n";
    busy.write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    busy.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    busy.write_all(b"hello").unwrap();
    let handle = server.handle.take().unwrap();
    let stopping = std::thread::spawn(move || handle.shutdown());
    poll_until("healthz turns 503", || get(addr, "/healthz").status == 503);
    let health = get(addr, "/healthz");
    assert_eq!(health.text(), "shutting down\n");
    // Metrics are still served while draining.
    let text = get(addr, "/metrics").text();
    assert_eq!(count(&text, "shelf_connections_open"), 1);
    // The PUT finishes, the drain ends, and the metrics listener closes last.
    busy.write_all(b"world").unwrap();
    let resp = read_response(&mut BufReader::new(busy), false);
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(stopping.join().unwrap(), "every connection ended in time");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

/// An address on the loopback interface other than the server's: IPv6 `::1` if this host has
/// it, else another address of 127.0.0.0/8.
fn other_loopback() -> &'static str {
    if TcpListener::bind("[::1]:0").is_ok() {
        "[::1]:0"
    } else {
        "127.0.0.2:0"
    }
}

#[test]
fn a_reload_rebinds_the_listener_and_the_counts_survive() {
    let server = start("", "");
    let old = metrics_addr(&server);
    assert_eq!(request(&server, "GET", "/a.txt", "").status, 200);
    let moved = config_text("", &METRICS_ON.replace("127.0.0.1:0", other_loopback()));
    std::fs::write(server.config_path(), moved).unwrap();
    // A reload is counted once in force, its listeners moved: poll the count, then look.
    let reloads = || {
        count(
            &server.handle().metrics_text(),
            "shelf_config_reloads_total",
        )
    };
    poll_until("the reload", || reloads() == 1);
    assert_ne!(metrics_addr(&server), old, "the metrics listener moved");
    assert!(TcpStream::connect_timeout(&old, Duration::from_secs(1)).is_err());
    let text = scrape(&server);
    assert_eq!(requests(&text, "GET", "2xx"), 1, "{text}");
    assert_eq!(count(&text, "shelf_config_reloads_total"), 1);
    assert_eq!(count(&text, "shelf_config_reload_failures_total"), 0);

    std::fs::write(server.config_path(), "[server]\nlisten = [").unwrap();
    poll_until("the invalid file is refused", || {
        count(&scrape(&server), "shelf_config_reload_failures_total") >= 1
    });

    // Off again: no listener, the counts kept for the next one.
    let off = config_text("", "[metrics]\nlisten = \"\"\n");
    std::fs::write(server.config_path(), off).unwrap();
    poll_until("the second reload", || reloads() == 2);
    assert_eq!(server.handle().metrics_addr(), None);
    let text = server.handle().metrics_text();
    assert_eq!(requests(&text, "GET", "2xx"), 1);
}

/// Config validation refuses a metrics address equal to a file listener's (unit tests); one
/// that only turns out busy when bound is reported, and the old listener kept, as for files.
#[test]
fn a_move_onto_a_busy_port_keeps_the_old_listener() {
    let server = start("", "");
    let old = metrics_addr(&server);
    let busy = server.addr.to_string();
    let clash = config_text(
        "trace = false",
        &format!("[metrics]\nlisten = \"{busy}\"\n"),
    );
    std::fs::write(server.config_path(), clash).unwrap();
    // Counted once in force: the rest of the file applies, and the configuration says what
    // is really bound.
    let reloads = || {
        count(
            &server.handle().metrics_text(),
            "shelf_config_reloads_total",
        )
    };
    poll_until("the reload", || reloads() == 1);
    let config = server.config();
    assert!(!config.server.trace);
    assert_eq!(config.metrics.listen, ["127.0.0.1:0".parse().unwrap()]);
    assert_eq!(server.handle().metrics_addr(), Some(old));
    assert_eq!(get(old, "/healthz").status, 200);
}

#[test]
fn connections_over_the_cap_are_refused_and_counted() {
    let server = start("max_connections = 1", "");
    let _held = server.connect();
    // Admitted (counted at accept) and on its thread (counted when the thread runs): two
    // moments, so both are waited for.
    poll_until("the first connection is admitted and on its thread", || {
        let text = scrape(&server);
        count(&text, "shelf_connections_open") == 1 && count(&text, "shelf_connection_threads") >= 1
    });
    let refused = server.send_raw(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(refused.starts_with(b"HTTP/1.1 503"), "{refused:?}");
    let text = scrape(&server);
    assert_eq!(count(&text, "shelf_connections_refused_total"), 1);
    assert!(count(&text, "shelf_connection_threads") >= 1);
    // The metrics listener is outside max_connections: it answered while the cap was reached.
    assert_eq!(count(&text, "shelf_connections_open"), 1);
}

#[test]
fn tls_handshakes_and_failures_are_counted() {
    let server = start("", "[tls]\nlisten = \"127.0.0.1:0\"\n");
    let tls = server.handle().tls_addr().unwrap();
    let mut plain = TcpStream::connect(tls).unwrap();
    plain.set_read_timeout(Some(common::PATIENCE)).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    common::read_to_close(&mut plain); // a TLS alert, then the close
    wait_for(&server, "shelf_tls_handshake_failures_total", 1);
    let mut client = common::tls::connect(tls, common::tls::trusting_anything(), "localhost");
    let resp = common::tls::request(&mut client, "GET", "/a.txt", "Connection: close\r\n");
    assert_eq!(resp.status, 200);
    let text = scrape(&server);
    assert_eq!(count(&text, "shelf_tls_handshakes_total"), 2, "{text}");
    assert_eq!(count(&text, "shelf_tls_handshake_failures_total"), 1);
}

#[test]
fn temporary_files_swept_at_start_are_counted() {
    // Leftovers of a crash an hour ago: unlocked and older than the sweep's margin.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let leftover = |path: std::path::PathBuf| {
        std::fs::write(&path, "torn").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(an_hour_ago).unwrap();
    };
    let server = start_with("", "", |public| {
        std::fs::create_dir_all(public.join("sub")).unwrap();
        leftover(public.join(".shelf-tmp-1-0"));
        leftover(public.join("sub/.shelf-tmp-2-0"));
    });
    let text = scrape(&server);
    assert_eq!(count(&text, "shelf_upload_temp_files_swept_total"), 2);
}

#[test]
fn the_serving_lines_name_the_metrics_url() {
    let server = start("", "");
    let addr = metrics_addr(&server);
    let want = format!("metrics on http://{addr}/metrics, health on http://{addr}/healthz");
    let lines = server.handle().serving_lines();
    assert!(lines.contains(&want), "{lines:?}");
}

/// `promtool check metrics` (Debian package `prometheus`) on a real scrape: it checks the text
/// format and lints names, units and help. Skipped, loudly, where promtool is not installed;
/// `.ci/run` installs it.
#[test]
fn promtool_accepts_a_real_scrape() {
    let Ok(version) = Command::new("promtool").arg("--version").output() else {
        eprintln!(
            "\n*** SKIPPED promtool_accepts_a_real_scrape: promtool is not installed \
             (apt-get install prometheus) ***\n"
        );
        return;
    };
    assert!(version.status.success(), "promtool --version failed");
    let acl = "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\"]\n";
    let server = start("", acl);
    request(&server, "GET", "/a.txt", "Accept-Encoding: gzip\r\n");
    request(&server, "GET", "/nope", "");
    request(&server, "OPTIONS", "*", "");
    server.send(
        b"PUT /up/b.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    );
    let text = scrape(&server);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {:?}\n{said}\n--- scrape ---\n{text}",
        out.status
    );
}
