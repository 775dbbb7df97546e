//! Test support: a server on port 0 over a temporary root, a raw-bytes client, deadline polls.
#![allow(dead_code)]

pub mod tls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shelf::config::Overrides;
use shelf::{Config, Handle, Server};

/// How long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("shelf-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server over `dir/public`, configured by `dir/config.toml`.
pub struct TestServer {
    pub handle: Option<Handle>,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

impl TestServer {
    /// Starts a server whose config is `[server] listen = "127.0.0.1:0"`, `root = "public"`,
    /// access log off, plus `extra` TOML appended (which may open other tables; use
    /// `[server]`-level keys through `server_keys` instead).
    pub fn start(server_keys: &str, extra: &str) -> TestServer {
        Self::start_with(server_keys, extra, |_| {})
    }

    /// Like `start`, after `prepare` has filled `public/` (given its path).
    pub fn start_with(server_keys: &str, extra: &str, prepare: impl FnOnce(&Path)) -> TestServer {
        let dir = TempDir::new("srv");
        let public = dir.path().join("public");
        std::fs::create_dir_all(&public).unwrap();
        prepare(&public);
        let config = config_text(server_keys, extra);
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let handle = Server::start_watching(&config_path, Overrides::default())
            .unwrap_or_else(|e| panic!("server did not start: {e}"));
        let addr = handle.local_addr().expect("plain listener");
        TestServer {
            handle: Some(handle),
            addr,
            dir,
        }
    }

    pub fn public(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn handle(&self) -> &Handle {
        self.handle.as_ref().unwrap()
    }

    pub fn config(&self) -> std::sync::Arc<Config> {
        self.handle().config()
    }

    /// Writes `path` (relative to public/) with `content`, creating folders.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.public().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// Opens a connection with read timeouts of `PATIENCE`.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }

    /// Sends `raw` on a new connection and reads one response.
    pub fn send(&self, raw: &[u8]) -> Resp {
        let mut stream = self.connect();
        stream.write_all(raw).unwrap();
        let mut reader = BufReader::new(stream);
        read_response(&mut reader, raw.starts_with(b"HEAD "))
    }

    /// `GET path` with `Connection: close`, plus extra header lines (each ending in `\r\n`).
    pub fn get(&self, path: &str, headers: &str) -> Resp {
        self.send(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n")
                .as_bytes(),
        )
    }

    /// Sends `raw` and returns every byte the server writes until it closes.
    pub fn send_raw(&self, raw: &[u8]) -> Vec<u8> {
        let mut stream = self.connect();
        stream.write_all(raw).unwrap();
        read_to_close(&mut stream)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// The config file text the test servers use.
pub fn config_text(server_keys: &str, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nroot = \"public\"\n{server_keys}\n\n[log]\naccess = false\n\n{extra}\n"
    )
}

/// Reads until EOF (or an error such as a reset), returning what arrived.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// True when the server closed `stream` (EOF or reset) within `PATIENCE`, with nothing more sent.
pub fn is_closed(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 1];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response: head, then a body framed by Content-Length, chunked, or close.
/// `head_only` for responses to HEAD (no body whatever the headers say).
pub fn read_response<R: Read>(reader: &mut BufReader<R>, head_only: bool) -> Resp {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    assert!(!line.is_empty(), "connection closed before a response");
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap().to_string();
    let status: u16 = parts
        .next()
        .expect("status")
        .parse()
        .expect("numeric status");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header line");
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').expect("header colon");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        version,
        headers,
        body: Vec::new(),
    };
    if head_only || status < 200 || status == 204 || status == 304 {
        return resp;
    }
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().unwrap();
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).expect("body");
        resp.body = body;
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        resp.body = read_chunked(reader);
    } else {
        reader.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

fn read_chunked<R: Read>(reader: &mut BufReader<R>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
        if size == 0 {
            let mut end = String::new();
            reader.read_line(&mut end).unwrap();
            return body;
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Polls `check` until it returns true or `PATIENCE` passes.
pub fn poll_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `method target` on a new connection with `Connection: close` and extra header lines
/// (each ending in `\r\n`), reads one response, and asserts nothing follows it (so a HEAD, 304
/// or 204 that leaks a body fails here).
pub fn request(srv: &TestServer, method: &str, target: &str, headers: &str) -> Resp {
    let raw =
        format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
    let bytes = srv.send_raw(raw.as_bytes());
    let mut reader = BufReader::new(&bytes[..]);
    let resp = read_response(&mut reader, method == "HEAD");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "{method} {target}: {} bytes after the response: {:?}",
        rest.len(),
        String::from_utf8_lossy(&rest[..rest.len().min(200)])
    );
    resp
}

/// GET and HEAD of `target` (in the manner of Go's `fs_test.go`): asserts HEAD got exactly the
/// status and headers GET got (`Date` aside) and no body; returns the GET response.
pub fn get_and_head(srv: &TestServer, target: &str, headers: &str) -> Resp {
    let get = request(srv, "GET", target, headers);
    let head = request(srv, "HEAD", target, headers);
    let without_date = |r: &Resp| {
        r.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(head.status, get.status, "HEAD {target} status vs GET");
    assert_eq!(
        without_date(&head),
        without_date(&get),
        "HEAD {target} headers vs GET"
    );
    get
}

/// Writes `raw` on `stream`, ignoring a write error: a server that refuses a large request may
/// close before reading all of it, and the response is what the test checks.
pub fn write_lenient(stream: &mut TcpStream, raw: &[u8]) {
    let _ = stream.write_all(raw);
}

/// The headers every response carries: one valid `Date`, one `Server: shelf`; `what` names
/// the case in failures.
pub fn assert_common_headers(resp: &Resp, what: &str) {
    let date = resp
        .header("date")
        .unwrap_or_else(|| panic!("{what}: no Date"));
    assert!(
        httpdate::parse_http_date(date).is_ok(),
        "{what}: bad Date {date:?}"
    );
    assert_eq!(resp.header("server"), Some("shelf"), "{what}: Server");
    assert!(
        resp.header_count("date") == 1 && resp.header_count("server") == 1,
        "{what}"
    );
}

/// Splits everything a server sent before closing into (head, body) and checks that the body
/// is exactly `Content-Length` bytes (0 when the header is absent).
pub fn assert_exact_length(raw: &[u8], what: &str) -> (String, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{what}: no complete head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let body = raw[end + 4..].to_vec();
    let declared = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| {
            v.trim().parse::<usize>().expect("numeric Content-Length")
        });
    assert_eq!(
        body.len(),
        declared,
        "{what}: body length vs Content-Length\n{head}"
    );
    (head, body)
}

/// Sends `raw` on a new connection and checks the refusal a hostile input must get: `status`,
/// `Connection: close`, then EOF; and afterwards the server still serves `GET /ok.txt` (which
/// the caller must have created) on a new connection. Returns the refusal.
pub fn assert_refused(server: &TestServer, what: &str, raw: &[u8], status: u16) -> Resp {
    let mut stream = server.connect();
    write_lenient(&mut stream, raw);
    let mut reader = BufReader::new(stream);
    let resp = read_response(&mut reader, false);
    assert_eq!(resp.status, status, "{what}: status ({resp:?})");
    assert_common_headers(&resp, what);
    assert_eq!(
        resp.header("connection"),
        Some("close"),
        "{what}: Connection"
    );
    assert!(
        reader.buffer().is_empty(),
        "{what}: bytes after the response"
    );
    assert!(is_closed(reader.get_mut()), "{what}: connection left open");
    assert_still_serving(server, what);
    resp
}

/// The server answers a normal `GET /ok.txt` on a new connection.
pub fn assert_still_serving(server: &TestServer, what: &str) {
    let ok = server.get("/ok.txt", "");
    assert_eq!(ok.status, 200, "{what}: server no longer serves");
}

/// `body` decoded from `Content-Encoding` `coding` (`None`: identity); panics on a corrupt
/// stream, so a test that decodes a body also proves it is well-formed.
pub fn decode(body: &[u8], coding: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid zlib");
        }
        Some(other) => panic!("unexpected Content-Encoding {other:?}"),
    }
    out
}

/// `data` gzip-encoded, as a precompressed `.gz` file holds it.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
