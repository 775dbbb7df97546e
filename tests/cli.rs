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
        let env: Vec<(&str, &str)> = rust_log.map(|v| ("RUST_LOG", v)).into_iter().collect();
        Shelf::spawn_with_env(cwd, args, &env)
    }

    /// Runs `shelf args…` in `cwd` with `env` set (and `RUST_LOG` unset unless `env` sets it).
    fn spawn_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Shelf {
        let mut command = Command::new(SHELF);
        command.env_remove("RUST_LOG");
        command.envs(env.iter().copied());
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
        serving_line(&line)
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

/// `serving <root> on http://<addr>`: the root and the address.
fn serving_line(line: &str) -> (String, SocketAddr) {
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

/// Issue 10: a `not_found` that names no file under the root would serve the built-in page:
/// `check` says so and fails, naming the file, line and key, the value as written and what to
/// do; never the host path it looked at.
#[test]
fn check_refuses_a_not_found_that_names_no_file_under_the_root() {
    let dir = site("", "");
    let public = dir.path().join("public");
    std::fs::write(public.join("404.html"), "gone").unwrap();
    std::fs::create_dir_all(public.join("errors")).unwrap();
    let host_path = format!("{}/404.html", canonical(public.clone()));
    // (what, value, words the message must hold)
    let rows: &[(&str, &str, &[&str])] = &[
        (
            "a path on this machine",
            &host_path,
            &["relative to the root", "write \"404.html\""],
        ),
        (
            "an absolute path elsewhere",
            "/srv/site/404.html",
            &["`/srv/site/404.html`", "relative to the root"],
        ),
        (
            "missing",
            "errors/404.html",
            &["`errors/404.html`", "does not exist"],
        ),
        ("a folder", "errors", &["`errors`", "folder"]),
    ];
    let config = dir.path().join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let with = |value: &str| {
        good.replace(
            "[server]\n",
            &format!("[server]\nnot_found = \"{value}\"\n"),
        )
    };
    for (what, value, words) in rows {
        std::fs::write(&config, with(value)).unwrap();
        let (code, _, err) = run_shelf(dir.path(), &["check"]);
        assert_eq!(code, Some(1), "{what}: {err}");
        assert!(
            err.contains("config.toml:2: key `server.not_found`"),
            "{what}: {err}"
        );
        for word in *words {
            assert!(err.contains(word), "{what}: {word:?} in {err}");
        }
        let root = canonical(public.clone());
        assert!(
            *value == host_path || !err.contains(&root),
            "{what}: no host path: {err}"
        );
    }
    for value in ["404.html", "/404.html"] {
        std::fs::write(&config, with(value)).unwrap();
        let (code, _, err) = run_shelf(dir.path(), &["check"]);
        assert_eq!(code, Some(0), "{value}: {err}");
    }
}

/// The same `not_found` does not stop shelf: it serves the built-in page and warns once.
#[test]
fn a_not_found_naming_no_file_is_a_warning_at_start() {
    let dir = site("not_found = \"missing.html\"", "[log]\naccess = false\n");
    let shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let line = shelf.log_line_with(&["server.not_found", "`missing.html`"]);
    assert!(line.contains("WARN"), "{line}");
    let (_, addr) = shelf.serving();
    let resp = get(addr, "/nope", "");
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (404, "404 Not Found\n")
    );
    // Each load that brings a problem says so again.
    let config = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::create_dir_all(dir.path().join("public/errors")).unwrap();
    std::fs::write(&config, text.replace("missing.html", "errors")).unwrap();
    let line = shelf.log_line_with(&["server.not_found", "`errors` is a folder"]);
    assert!(line.contains("WARN"), "{line}");
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

// ---------------------------------------------------------------------------------------------
// The one-word command line (issue 9)

/// Runs `shelf args…` to completion in `cwd`: exit code, stdout, stderr.
fn run_shelf(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(SHELF)
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A request with Basic credentials (or none) and an optional body; the status.
fn status_of(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: Basic {a}\r\n"));
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(raw.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream), method == "HEAD").status
}

#[test]
fn without_a_config_file_the_current_folder_is_served() {
    let dir = TempDir::new("bare");
    std::fs::write(dir.path().join("a.txt"), "plain").unwrap();
    let shelf = Shelf::spawn(dir.path(), &["-p", "0"]);
    let (root, addr) = shelf.serving();
    assert_eq!(root, canonical(dir.path().to_path_buf()));
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_eq!(get(addr, "/a.txt", "").text(), "plain");
    shelf.log_line_with(&["no config file", "shelf init"]);
}

#[test]
fn a_folder_argument_is_served_on_the_port_asked() {
    let dir = TempDir::new("bare");
    std::fs::create_dir_all(dir.path().join("share")).unwrap();
    std::fs::write(dir.path().join("share/b.txt"), "shared").unwrap();
    let shelf = Shelf::spawn(dir.path(), &["share", "-p", "0", "-q"]);
    let (root, addr) = shelf.serving();
    assert_eq!(root, canonical(dir.path().join("share")));
    assert_eq!(get(addr, "/b.txt", "").text(), "shared");
    let (code, _, err) = run_shelf(dir.path(), &["no-such-folder"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot serve no-such-folder: no such folder"),
        "{err}"
    );
    let (code, _, err) = run_shelf(dir.path(), &["share/b.txt"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a folder"), "{err}");
}

/// Issue 9, found 1: `--root` and `--listen` win over values of the file that would be refused.
#[test]
fn flags_win_over_a_bad_root_in_the_file_at_start_and_on_reload() {
    let dir = TempDir::new("badroot");
    std::fs::write(dir.path().join("x"), "here").unwrap();
    // An empty file: its default root, `public`, does not exist.
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let shelf = Shelf::spawn(
        dir.path(),
        &["--root", ".", "--listen", "127.0.0.1:0", "-q"],
    );
    let (_, addr) = shelf.serving();
    assert_eq!(get(addr, "/x", "").text(), "here");
    let edit = "[server]\nroot = \"nope\"\ntrace = false\n";
    std::fs::write(dir.path().join("config.toml"), edit).unwrap();
    common::poll_until("the reload applies despite root = nope", || {
        status_of(addr, "TRACE", "/", None, "") == 405
    });
    assert_eq!(get(addr, "/x", "").text(), "here");
}

#[test]
fn upload_and_auth_from_the_command_line() {
    let dir = TempDir::new("up");
    std::fs::write(dir.path().join("r.txt"), "read me").unwrap();
    let args = ["-p", "0", "--upload", "--auth", "alice:s3cret", "-q"];
    let shelf = Shelf::spawn(dir.path(), &args);
    let (_, addr) = shelf.serving();
    let alice = Some("YWxpY2U6czNjcmV0"); // alice:s3cret
    let wrong = Some("YWxpY2U6bm9wZQ=="); // alice:nope
    assert_eq!(status_of(addr, "GET", "/r.txt", None, ""), 401);
    assert_eq!(status_of(addr, "GET", "/r.txt", wrong, ""), 401);
    assert_eq!(status_of(addr, "GET", "/r.txt", alice, ""), 200);
    assert_eq!(status_of(addr, "PUT", "/new.txt", None, "x"), 401);
    assert_eq!(status_of(addr, "PUT", "/new.txt", alice, "x"), 201);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "x"
    );
    assert_eq!(status_of(addr, "DELETE", "/new.txt", alice, ""), 204);
}

#[test]
fn upload_under_a_path_only() {
    let dir = TempDir::new("up");
    std::fs::create_dir_all(dir.path().join("incoming")).unwrap();
    let shelf = Shelf::spawn(dir.path(), &["-p", "0", "--upload=incoming/", "-q"]);
    let (_, addr) = shelf.serving();
    assert_eq!(status_of(addr, "PUT", "/incoming/a.txt", None, "a"), 201);
    assert_eq!(status_of(addr, "PUT", "/a.txt", None, "a"), 405);
    assert_eq!(status_of(addr, "GET", "/incoming/a.txt", None, ""), 200);
    // Without `=`, the word after --upload is the folder served.
    let shelf = Shelf::spawn(dir.path(), &["--upload", "incoming", "-p", "0", "-q"]);
    let (root, addr) = shelf.serving();
    assert_eq!(root, canonical(dir.path().join("incoming")));
    assert_eq!(status_of(addr, "PUT", "/b.txt", None, "b"), 201);
    assert!(dir.path().join("incoming/b.txt").is_file());
}

#[test]
fn help_version_completions_and_man_page() {
    let dir = TempDir::new("help");
    let (code, out, _) = run_shelf(dir.path(), &["--help"]);
    assert_eq!(code, Some(0));
    for word in [
        "Usage: shelf",
        "--port",
        "--upload",
        "--auth",
        "Examples:",
        "shelf init",
    ] {
        assert!(out.contains(word), "--help lacks {word:?}:\n{out}");
    }
    let (code, out, _) = run_shelf(dir.path(), &["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), format!("shelf {}", env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = run_shelf(dir.path(), &["completions", shell]);
        assert_eq!(code, Some(0), "{shell}");
        assert!(out.contains("--upload"), "{shell}");
    }
    let (code, out, _) = run_shelf(dir.path(), &["man"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(".ie") || out.contains(".TH shelf"), "{out}");
    let (code, _, err) = run_shelf(dir.path(), &["--bogus"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn init_writes_a_config_that_serves_its_folder() {
    let dir = TempDir::new("init");
    std::fs::write(dir.path().join("c.txt"), "from init").unwrap();
    let (code, out, _) = run_shelf(dir.path(), &["init"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, _, err) = run_shelf(dir.path(), &["init"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--force"), "{err}");
    let (code, out, _) = run_shelf(dir.path(), &["check"]);
    assert_eq!(code, Some(0), "{out}");
    let shelf = Shelf::spawn(dir.path(), &["-p", "0", "-q"]);
    let (root, addr) = shelf.serving();
    assert_eq!(root, canonical(dir.path().to_path_buf()));
    assert_eq!(get(addr, "/c.txt", "").text(), "from init");
}

/// Issue 9, found 4: a wildcard address is no URL anyone can open.
#[test]
fn every_interface_is_listed_by_its_addresses() {
    let dir = TempDir::new("wild");
    let shelf = Shelf::spawn(dir.path(), &["-b", "0.0.0.0", "-p", "0", "-q"]);
    let (_, addr) = shelf.serving();
    assert_eq!(addr.ip().to_string(), "127.0.0.1", "loopback first");
    assert_eq!(get(addr, "/", "").status, 200);
    // The other lines, if any, name this machine's other addresses on the same port.
    while let Ok(line) = shelf.lines.recv_timeout(Duration::from_millis(300)) {
        let (_, other) = serving_line(&line);
        assert!(!other.ip().is_unspecified(), "{line}");
        assert_eq!(other.port(), addr.port(), "{line}");
    }
}

#[test]
fn listen_accepts_host_names() {
    let dir = TempDir::new("host");
    let shelf = Shelf::spawn(dir.path(), &["--listen", "localhost:0", "-q"]);
    let (_, addr) = shelf.serving();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_eq!(get(addr, "/", "").status, 200);
    let (code, _, err) = run_shelf(dir.path(), &["--listen", "nowhere.invalid:80"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--listen \"nowhere.invalid:80\""), "{err}");
}

/// Issue 9, found 9: the error names the address and says what to do.
#[test]
fn a_busy_port_at_start_names_the_address() {
    let dir = TempDir::new("busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, err) = run_shelf(dir.path(), &["-p", &port]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
}

/// Issue 9, found 3: a reload onto a busy port says so once, keeps the old listener, and no
/// line claims the move; a later move to port 0 prints the port chosen.
#[test]
fn a_listen_change_onto_a_busy_port_keeps_the_old_one() {
    let dir = TempDir::new("move");
    let config = dir.path().join("config.toml");
    let text = |listen: &str| {
        format!("[server]\nlisten = \"{listen}\"\nroot = \".\"\n[log]\naccess = false\n")
    };
    std::fs::write(&config, text("127.0.0.1:0")).unwrap();
    let shelf = Shelf::spawn(dir.path(), &[]);
    let (_, addr) = shelf.serving();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    std::fs::write(&config, text(&busy.to_string())).unwrap();
    let line = shelf.log_line_with(&["cannot listen on", &busy.to_string()]);
    assert!(
        line.contains(&format!("still serving on http://{addr}")),
        "{line}"
    );
    assert_eq!(get(addr, "/", "").status, 200);
    // Then a move that works: to port 0 on another loopback address, the real port printed.
    std::fs::write(&config, text("127.0.0.2:0")).unwrap();
    let (_, moved) = serving_line(&shelf.next_line("the new serving line"));
    assert_eq!(moved.ip().to_string(), "127.0.0.2");
    assert_ne!(moved.port(), 0);
    assert_eq!(get(moved, "/", "").status, 200);
    let logged = shelf.log_line_with(&["config reloaded", "server.listen"]);
    assert!(logged.contains("127.0.0.1:0 -> 127.0.0.2:0"), "{logged}");
    assert!(!logged.contains(&busy.to_string()), "{logged}");
}

/// Issue 9, found 8: a second signal does not wait for the grace period.
#[test]
fn a_second_signal_exits_at_once() {
    let dir = site(
        "shutdown_grace_s = 120\nbody_timeout_s = 120",
        "[log]\naccess = false\n\n[[acl]]\npath = \"/*\"\nmethods = [\"PUT\"]\n",
    );
    let mut shelf = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = shelf.serving();
    // A PUT whose body never finishes keeps its connection busy.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    common::poll_until("the upload is in flight", || {
        dir.path().join("public").read_dir().unwrap().count() > 1
    });
    shelf.signal("TERM");
    shelf.log_line_with(&["shutting down"]);
    assert_eq!(
        shelf.child.try_wait().unwrap(),
        None,
        "waits for the upload"
    );
    shelf.signal("INT");
    let status = shelf.wait_exit();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[test]
fn open_starts_the_browser_on_the_first_url() {
    let dir = TempDir::new("open");
    let seen = dir.path().join("seen");
    let script = dir.path().join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let browser = script.to_str().unwrap();
    let shelf = Shelf::spawn_with_env(
        dir.path(),
        &["-p", "0", "--open", "-q"],
        &[("BROWSER", browser)],
    );
    let (_, addr) = shelf.serving();
    common::poll_until("the browser is started", || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.trim() == format!("http://{addr}"))
    });
}

#[test]
fn tls_flag_serves_https_with_a_fingerprint() {
    let dir = TempDir::new("tlsflag");
    // Without a config file the certificate is kept in the user's state folder: a temporary
    // one, outside the folder served (inside it, the key could be downloaded).
    let home = TempDir::new("state");
    let state = home.path().join("state");
    let env = [("XDG_STATE_HOME", state.to_str().unwrap())];
    let shelf = Shelf::spawn_with_env(dir.path(), &["-p", "0", "--tls", "-q"], &env);
    let line = shelf.next_line("the HTTPS serving line");
    assert!(line.contains(" on https://127.0.0.1:"), "{line}");
    assert!(
        line.contains("(self-signed certificate, SHA-256 "),
        "{line}"
    );
    assert!(
        state.join("shelf/self-signed").is_dir(),
        "kept in XDG_STATE_HOME"
    );
}

// ---------------------------------------------------------------------------------------------
// Running as a service (issue 10)

/// A listening socket the child inherits, as a service manager passes it (`LISTEN_FDS`, with
/// `LISTEN_FDS_FIRST_FD` naming its number, since it is not 3 here).
fn passed_socket() -> (std::net::TcpListener, Vec<(&'static str, String)>) {
    use std::os::fd::AsRawFd;
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::io::fcntl_setfd(&socket, rustix::io::FdFlags::empty()).unwrap();
    let env = vec![
        ("LISTEN_FDS", "1".to_string()),
        ("LISTEN_FDS_FIRST_FD", socket.as_raw_fd().to_string()),
    ];
    (socket, env)
}

#[test]
fn socket_activation_serves_the_socket_passed() {
    let (socket, env) = passed_socket();
    let addr = socket.local_addr().unwrap();
    let dir = site("", "");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[server]\nlisten = \"{addr}\"\nroot = \"public\"\n[log]\naccess = false\n"),
    )
    .unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shelf = Shelf::spawn_with_env(dir.path(), &[], &env);
    let (_, served) = shelf.serving();
    assert_eq!(served, addr);
    assert_eq!(get(addr, "/x", "").text(), "hello");
    shelf.log_line_with(&["socket from the service manager"]);
    drop(socket);
}

#[test]
fn a_passed_socket_no_address_names_is_reported() {
    let (socket, env) = passed_socket();
    let addr = socket.local_addr().unwrap();
    let dir = site("", "[log]\naccess = false\n");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shelf = Shelf::spawn_with_env(dir.path(), &["--listen", "127.0.0.1:0"], &env);
    shelf.serving();
    shelf.log_line_with(&["passed a socket on", &addr.to_string(), "nothing serves it"]);
}

#[test]
fn reuse_port_lets_a_second_shelf_start_on_the_same_address() {
    let dir = site("reuse_port = true", "[log]\naccess = false\n");
    let config = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let first = Shelf::spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let (_, addr) = first.serving();
    std::fs::write(&config, text.replace("127.0.0.1:1", &addr.to_string())).unwrap();
    let mut second = Shelf::spawn(dir.path(), &[]);
    let (_, again) = second.serving();
    assert_eq!(again, addr);
    // The first drains and exits; the second goes on serving the address.
    let mut first = first;
    first.signal("TERM");
    assert_eq!(first.wait_exit().code(), Some(0));
    assert_eq!(get(addr, "/x", "").text(), "hello");
    second.signal("TERM");
    assert_eq!(second.wait_exit().code(), Some(0));
}
