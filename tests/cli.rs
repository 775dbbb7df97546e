//! The `shelf` binary (SPEC §1): `check`, `hash-password`, the serving line, flags over the file,
//! the access log on stdout, and a graceful exit 0 on SIGTERM/SIGINT.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{PATIENCE, TempDir, read_response};

const SHELF: &str = env!("CARGO_BIN_EXE_shelf");

/// A `shelf` process whose stdout and stderr lines arrive on channels; killed on drop if still
/// running.
struct Shelf {
    child: Child,
    lines: mpsc::Receiver<String>,
    errors: mpsc::Receiver<String>,
}

/// Sends each line of `from` on a channel, from a thread of its own.
fn lines_of(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Shelf {
    /// Runs `shelf args…` in `cwd` with `RUST_LOG` unset, so `[log]` decides.
    fn spawn(cwd: &Path, args: &[&str]) -> Shelf {
        Shelf::spawn_with_rust_log(cwd, args, None)
    }

    /// Runs `shelf args…` in `cwd` with `RUST_LOG` set to `rust_log`, or unset.
    fn spawn_with_rust_log(cwd: &Path, args: &[&str], rust_log: Option<&str>) -> Shelf {
        let mut command = Command::new(SHELF);
        match rust_log {
            Some(value) => command.env("RUST_LOG", value),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shelf");
        let lines = lines_of(child.stdout.take().unwrap());
        let errors = lines_of(child.stderr.take().unwrap());
        Shelf {
            child,
            lines,
            errors,
        }
    }

    /// Waits, within `PATIENCE`, for a log line on stderr containing every one of `words`.
    fn log_line_with(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .errors
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no log line with {words:?}: {e}"));
            if words.iter().all(|w| line.contains(w)) {
                return line;
            }
        }
    }

    /// The next stdout line, within `PATIENCE`.
    fn next_line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no stdout line for {what}: {e}"))
    }

    /// Reads the `serving <root> on http://<addr>` line.
    fn serving(&self) -> (String, SocketAddr) {
        let line = self.next_line("the serving line");
        let rest = line
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("{line:?}"));
        let (root, url) = rest
            .rsplit_once(" on ")
            .unwrap_or_else(|| panic!("{line:?}"));
        let addr = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("{line:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
        (root.to_string(), addr)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, within `PATIENCE`.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "shelf did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Shelf {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A folder with `config.toml` (`[server]` keys `server_keys`, then `extra`) and `public/x`.
fn site(server_keys: &str, extra: &str) -> TempDir {
    let dir = TempDir::new("cli");
    std::fs::create_dir_all(dir.path().join("public")).unwrap();
    std::fs::write(dir.path().join("public/x"), "hello").unwrap();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\nroot = \"public\"\n{server_keys}\n\n{extra}\n"
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    dir
}

fn get(addr: SocketAddr, path: &str, headers: &str) -> common::Resp {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(raw.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream), false)
}

fn canonical(path: PathBuf) -> String {
    std::fs::canonicalize(path).unwrap().display().to_string()
}

#[test]
fn check_rejects_bad_configs_naming_file_line_and_key() {
    let dir = TempDir::new("check");
    // (name, file text, line, key) — the key as it must appear in the message.
    let rows: &[(&str, &str, &str, &str)] = &[
        (
            "unknown key",
            "[server]\nroot = \"public\"\nlisten_on = \"x\"\n",
            ":3",
            "listen_on",
        ),
        (
            "wrong type",
            "[server]\n\nkeep_alive_s = \"five\"\n",
            ":3",
            "keep_alive_s",
        ),
        (
            "unknown section key",
            "[log]\naccess = true\n[compression]\nlevel = 6\nspeed = 1\n",
            ":5",
            "speed",
        ),
    ];
    for (i, (name, text, line, key)) in rows.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = Command::new(SHELF)
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let message = String::from_utf8_lossy(&out.stderr);
        let file = path.display().to_string();
        assert!(
            message.contains(&format!("{file}{line}")),
            "{name}: file and line: {message}"
        );
        assert!(message.contains(key), "{name}: key: {message}");
    }
    let missing = dir.path().join("missing.toml");
    let out = Command::new(SHELF)
        .args(["check", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "missing file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn check_accepts_a_good_config() {
    let dir = site("trace = false", "[log]\naccess = true\n");
    let out = Command::new(SHELF)
        .args(["check", "--config"])
        .arg(dir.path().join("config.toml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `check` from the config's folder with the default path.
    let out = Command::new(SHELF)
        .arg("check")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hash_password_strips_one_trailing_newline() {
    // (stdin, the password the hash must verify, one it must not). Two rows only: the binary
    // hashes at bcrypt's default cost, and each verify here costs a second or more.
    let rows: &[(&str, &str, &str)] = &[("pw\n", "pw", "pw\n"), ("p w\n\n", "p w\n", "p w")];
    std::thread::scope(|scope| {
        for (stdin, good, bad) in rows {
            scope.spawn(move || {
                let mut child = Command::new(SHELF)
                    .arg("hash-password")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(stdin.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success(), "{stdin:?}");
                let text = String::from_utf8(out.stdout).unwrap();
                let hash = text
                    .strip_suffix('\n')
                    .unwrap_or_else(|| panic!("{text:?}"));
                assert!(hash.starts_with("$2"), "{hash}");
                assert!(
                    bcrypt::verify(good, hash).unwrap(),
                    "{stdin:?}: {good:?} rejected"
                );
                assert!(
                    !bcrypt::verify(bad, hash).unwrap(),
                    "{stdin:?}: {bad:?} accepted"
                );
            });
        }
    });
}

#[test]
fn serve_prints_the_real_url_and_listen_flag_wins() {
    let dir = site("", "[log]\naccess = false\n");
    let config = dir.path().join("config.toml");
    let shelf = Shelf::spawn(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let (root, addr) = shelf.serving();
    assert_eq!(root, canonical(dir.path().join("public")));
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert!(addr.port() != 0 && addr.port() != 1, "{addr}");
    let resp = get(addr, "/x", "");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello");
}

#[test]
fn relative_config_and_root_print_absolute_paths() {
    let dir = site("", "[log]\naccess = false\n");
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    std::fs::write(dir.path().join("other/x"), "from the flag").unwrap();
    let rows: &[(&str, &[&str], &str, &str)] = &[
        (
            "relative --config",
            &["--config", "config.toml"],
            "public",
            "hello",
        ),
        ("default config path", &[], "public", "hello"),
        (
            "--root wins over the file",
            &["--config", "config.toml", "--root", "other"],
            "other",
            "from the flag",
        ),
    ];
    for (name, args, folder, body) in rows {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--listen", "127.0.0.1:0"]);
        let shelf = Shelf::spawn(dir.path(), &all);
        let (root, addr) = shelf.serving();
        assert_eq!(root, canonical(dir.path().join(folder)), "{name}");
        let resp = get(addr, "/x", "");
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(resp.text(), *body, "{name}");
    }
}

#[test]
fn a_missing_root_flag_is_an_error() {
    let dir = site("", "");
    let out = Command::new(SHELF)
        .args(["--root", "no-such-folder", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-folder"));
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` for a Unix time (UTC).
fn clf_time(unix: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = ((unix / 86400) as i64, unix % 86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn access_log_lines_are_combined_log_format() {
    let dir = site(
        "trusted_proxies = [\"127.0.0.1/32\"]",
        "[log]\naccess = true\nlevel = \"error\"\n",
    );
    let shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    // (request path, extra headers, status, what follows the timestamp)
    let rows: &[(&str, &str, u16, &str)] = &[
        (
            "/x",
            "User-Agent: ua\r\n",
            200,
            "\"GET /x HTTP/1.1\" 200 5 \"-\" \"ua\"",
        ),
        (
            "/x",
            "User-Agent: a \"quoted\" \\ agent\r\nReferer: http://r/\r\n",
            200,
            "\"GET /x HTTP/1.1\" 200 5 \"http://r/\" \"a \\\"quoted\\\" \\\\ agent\"",
        ),
        (
            "/nope?q=1",
            "",
            404,
            "\"GET /nope?q=1 HTTP/1.1\" 404 14 \"-\" \"-\"",
        ),
    ];
    for (path, headers, status, tail) in rows {
        let before = unix_now();
        assert_eq!(get(addr, path, headers).status, *status, "{path}");
        let line = shelf.next_line(path);
        let after = unix_now();
        let times: Vec<String> = (before..=after).map(clf_time).collect();
        let ok = times
            .iter()
            .any(|t| line == format!("127.0.0.1 - - [{t}] {tail}"));
        assert!(ok, "access log line {line:?}, wanted [{times:?}] {tail}");
    }
    // A trusted proxy names the client, and the log says so.
    get(
        addr,
        "/x",
        "X-Forwarded-For: 10.1.2.3\r\nUser-Agent: ua\r\n",
    );
    let line = shelf.next_line("forwarded");
    assert!(line.starts_with("10.1.2.3 - - ["), "{line}");
}

#[test]
fn signals_exit_0_promptly() {
    for signal in ["TERM", "INT"] {
        let dir = site("", "[log]\naccess = false\n");
        let mut shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
        shelf.serving();
        // Straight after the serving line: the handler must already be in place.
        shelf.signal(signal);
        let status = shelf.wait_exit();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {status:?}");
    }
}

#[test]
fn sigterm_lets_an_in_flight_response_finish() {
    const SIZE: usize = 32 * 1024 * 1024;
    let dir = site("", "[log]\naccess = false\n");
    let content: Vec<u8> = (0..SIZE).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("public/big.bin"), &content).unwrap();
    let mut shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::with_capacity(1024, stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");
    shelf.signal("TERM");
    // Shutdown has begun once the listener is gone; the response is still being sent.
    common::poll_until("the listener closes", || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
    });
    assert_eq!(shelf.child.try_wait().unwrap(), None, "exited mid-response");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let body_at = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end")
        + 4;
    assert_eq!(rest.len() - body_at, SIZE, "response cut short");
    assert!(rest[body_at..] == content[..], "response corrupted");
    let status = shelf.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_reload_keeps_the_command_line_overrides() {
    let dir = site("", "[log]\naccess = false\n");
    let shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    let trace = |addr| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
            .write_all(b"TRACE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        read_response(&mut BufReader::new(stream), false).status
    };
    assert_eq!(trace(addr), 200);
    let config = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[server]\n", "[server]\ntrace = false\n"),
    )
    .unwrap();
    // Still on the --listen address (not the file's 127.0.0.1:1), with the new setting.
    common::poll_until("TRACE off on the same port", || trace(addr) == 405);
}

#[test]
fn reloads_are_logged_and_invalid_edits_name_the_key() {
    let dir = site("", "[log]\naccess = false\nlevel = \"info\"\n");
    let shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    let config = dir.path().join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("[server]\n", "[server]\nbogus_key = 1\n"),
    )
    .unwrap();
    let line = shelf.log_line_with(&["bogus_key"]);
    assert!(line.contains("config.toml:2"), "file and line: {line}");
    assert_eq!(
        get(addr, "/x", "").status,
        200,
        "still serving after a bad edit"
    );
    std::fs::write(
        &config,
        good.replace("[server]\n", "[server]\ntrace = false\n"),
    )
    .unwrap();
    let line = shelf.log_line_with(&["reloaded", "server.trace"]);
    assert!(line.contains("true -> false"), "{line}");
}

#[test]
fn https_gets_its_own_serving_line_with_the_self_signed_fingerprint() {
    let dir = site(
        "",
        "[tls]\nlisten = \"127.0.0.1:0\"\n\n[log]\naccess = false\n",
    );
    let config = dir.path().join("config.toml");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let running = Shelf::spawn(dir.path(), &args);
    let (root, _) = running.serving();
    let line = running.next_line("the HTTPS serving line");
    let prefix = format!("serving {root} on https://");
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line:?}"));
    let (addr, note) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
    let addr: SocketAddr = addr.parse().unwrap();
    let fingerprint = note
        .strip_prefix("(self-signed certificate, SHA-256 ")
        .and_then(|f| f.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    // The fingerprint printed is that of the certificate served.
    let tls = common::tls::connect(addr, common::tls::trusting_anything(), "localhost");
    let served = common::tls::peer_cert(&tls);
    assert_eq!(shelf::tls::fingerprint(&served), fingerprint);
}

/// SPEC §1: in-flight requests get at most `shutdown_grace_s`. A client that stops reading a
/// large response (the write timeout, `body_timeout_s`, is far longer) does not hold the exit.
#[test]
fn shutdown_grace_bounds_the_wait_for_a_stalled_response() {
    let dir = site(
        "shutdown_grace_s = 1\nbody_timeout_s = 60",
        "[log]\naccess = false\n",
    );
    std::fs::write(dir.path().join("public/big.bin"), vec![1u8; 64 << 20]).unwrap();
    let mut shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200", "the response has begun");
    // Never read on: the socket buffers fill and the server's write blocks.
    let signalled = Instant::now();
    shelf.signal("TERM");
    let status = shelf.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "exit took {:?} with shutdown_grace_s = 1",
        signalled.elapsed()
    );
    drop(stream);
}

/// SPEC §1: `RUST_LOG` wins over `[log] level`: with the level off, it still turns logs on.
#[test]
fn rust_log_wins_over_the_configured_level() {
    let dir = site("", "[log]\naccess = false\nlevel = \"off\"\n");
    let shelf = Shelf::spawn_with_rust_log(dir.path(), &["--listen", "127.0.0.1:0"], Some("info"));
    shelf.serving();
    shelf.signal("TERM");
    shelf.log_line_with(&["shutting down"]);
}
