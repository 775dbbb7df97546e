//! Writing over real TCP (SPEC §4): PUT, POST, PATCH and DELETE, their preconditions, what a
//! failed or concurrent write leaves on disk, and traversal attempts through every method.

mod common;

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::{Resp, TestServer, poll_until, read_response};
use md5::{Digest, Md5};
use shelf::{Config, Server};

/// An `[[acl]]` rule opening every write method under `/up/*` to anyone.
const OPEN_UP: &str =
    "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\", \"POST\", \"PATCH\", \"DELETE\"]\n";

/// `[users]` with alice and bob, both with password "pw" (cost 4 keeps the tests fast).
fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let alice = bcrypt::hash("pw", 4).unwrap();
        let bob = bcrypt::hash("pw", 4).unwrap().replacen("$2b$", "$2y$", 1);
        format!("[users]\nalice = \"{alice}\"\nbob = \"{bob}\"\n")
    })
}

/// `Authorization: Basic …` for `user:password`.
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

/// Sends `method target` with `body` (by Content-Length) and extra header lines.
fn send(srv: &TestServer, method: &str, target: &str, headers: &str, body: &[u8]) -> Resp {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    srv.send(&raw)
}

fn put(srv: &TestServer, target: &str, headers: &str, body: &[u8]) -> Resp {
    send(srv, "PUT", target, headers, body)
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Names of temporary files anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else if name.starts_with(".shelf-tmp-") {
                found.push(name);
            }
        }
    }
    found
}

fn start(extra: &str) -> TestServer {
    TestServer::start_with("", extra, |public| {
        std::fs::create_dir_all(public.join("up")).unwrap();
        std::fs::write(public.join("ok.txt"), "ok\n").unwrap();
    })
}

/// Bytes that are not all alike, so a misplaced block shows up in the checksum.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

#[test]
fn put_creates_then_replaces_with_new_etags() {
    let srv = start(OPEN_UP);
    let created = put(&srv, "/up/a.txt", "", b"one\n");
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.header("location"), Some("/up/a.txt"));
    let tag1 = created.header("etag").expect("ETag on 201").to_string();
    let get = srv.get("/up/a.txt", "");
    assert_eq!((get.status, get.text().as_str()), (200, "one\n"));
    assert_eq!(
        get.header("etag"),
        Some(tag1.as_str()),
        "GET sees the PUT's ETag"
    );

    let replaced = put(&srv, "/up/a.txt", "", b"two\n");
    assert_eq!(replaced.status, 204, "{replaced:?}");
    let tag2 = replaced.header("etag").expect("ETag on 204").to_string();
    assert_ne!(tag1, tag2);
    assert_eq!(srv.get("/up/a.txt", "").text(), "two\n");
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn put_round_trips_bodies_of_every_size() {
    let srv = start(OPEN_UP);
    for (name, len) in [("empty", 0), ("one", 1), ("small", 1000), ("big", 5 << 20)] {
        let body = pattern(len, len as u8);
        let target = format!("/up/{name}.bin");
        let resp = put(&srv, &target, "", &body);
        assert_eq!(resp.status, 201, "{name}: {resp:?}");
        let got = srv.get(&target, "");
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(md5_hex(&got.body), md5_hex(&body), "{name}: checksum");
        let on_disk = std::fs::read(srv.public().join(&target[1..])).unwrap();
        assert_eq!(md5_hex(&on_disk), md5_hex(&body), "{name}: on disk");
    }
}

#[test]
fn put_chunked_body_and_missing_parents() {
    let srv = start(OPEN_UP);
    let raw = "PUT /up/x/y/z.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
               Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    let resp = srv.send(raw.as_bytes());
    assert_eq!(resp.status, 201, "{resp:?}");
    assert_eq!(srv.get("/up/x/y/z.txt", "").text(), "hello world");
}

#[test]
fn put_preconditions() {
    let srv = start(OPEN_UP);
    let tag = put(&srv, "/up/p.txt", "", b"v1")
        .header("etag")
        .unwrap()
        .to_string();
    let old = httpdate::fmt_http_date(std::time::UNIX_EPOCH);
    let if_match = format!("If-Match: {tag}\r\n");
    // (name, target, headers, status); the file must still hold v1 after each refusal.
    let rows: &[(&str, &str, &str, u16)] = &[
        (
            "If-Match another tag",
            "/up/p.txt",
            "If-Match: \"nope\"\r\n",
            412,
        ),
        (
            "If-Match on a missing file",
            "/up/new.txt",
            "If-Match: *\r\n",
            412,
        ),
        (
            "If-None-Match * on an existing file",
            "/up/p.txt",
            "If-None-Match: *\r\n",
            412,
        ),
        (
            "If-None-Match its own tag",
            "/up/p.txt",
            &format!("If-None-Match: {tag}\r\n"),
            412,
        ),
        (
            "If-Unmodified-Since long ago",
            "/up/p.txt",
            &format!("If-Unmodified-Since: {old}\r\n"),
            412,
        ),
    ];
    for (name, target, headers, status) in rows {
        let resp = put(&srv, target, headers, b"changed");
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
        assert_eq!(
            std::fs::read(srv.public().join("up/p.txt")).unwrap(),
            b"v1",
            "{name}"
        );
    }
    assert!(!srv.public().join("up/new.txt").exists());
    assert_eq!(put(&srv, "/up/p.txt", &if_match, b"v2").status, 204);
    assert_eq!(
        put(&srv, "/up/p.txt", &if_match, b"v3").status,
        412,
        "tag is stale now"
    );
    assert_eq!(
        put(&srv, "/up/q.txt", "If-None-Match: *\r\n", b"q").status,
        201
    );
    assert_eq!(srv.get("/up/p.txt", "").text(), "v2");
}

#[test]
fn refused_put_gets_no_100_continue() {
    let srv = start(OPEN_UP);
    srv.write("up/e.txt", "v1");
    let raw = "PUT /up/e.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\
               If-None-Match: *\r\nContent-Length: 5\r\n\r\n";
    let bytes = srv.send_raw(raw.as_bytes());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 412 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    // An accepted one gets 100 first, then the final status.
    let mut stream = srv.connect();
    stream
        .write_all(b"PUT /up/f.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 25];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hi").unwrap();
    let resp = read_response(&mut BufReader::new(stream), false);
    assert_eq!(resp.status, 201);
}

#[test]
fn put_cut_off_half_way_keeps_the_old_file_and_no_temp_file() {
    let srv = start(OPEN_UP);
    srv.write("up/keep.txt", "old content\n");
    let mut stream = srv.connect();
    let head = "PUT /up/keep.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&vec![b'x'; 500_000]).unwrap();
    // Wait until the temporary file exists, then hang up half way.
    poll_until("temp file appears", || {
        !temp_files(&srv.public()).is_empty()
    });
    drop(stream);
    poll_until("temp file removed", || temp_files(&srv.public()).is_empty());
    assert_eq!(srv.get("/up/keep.txt", "").text(), "old content\n");
    // A new file cut off leaves no file and no folder it created.
    let mut stream = srv.connect();
    let head = "PUT /up/n/e/w.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc";
    stream.write_all(head.as_bytes()).unwrap();
    poll_until("temp file appears", || {
        !temp_files(&srv.public()).is_empty()
    });
    drop(stream);
    poll_until("folders removed", || !srv.public().join("up/n").exists());
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn put_body_timeout_and_size_limit_leave_nothing() {
    let srv = TestServer::start_with("body_timeout_s = 1\nmax_body_bytes = 100", OPEN_UP, |p| {
        std::fs::create_dir_all(p.join("up")).unwrap();
        std::fs::write(p.join("up/t.txt"), "old").unwrap();
    });
    let mut stream = srv.connect();
    stream
        .write_all(b"PUT /up/t.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nabc")
        .unwrap();
    let resp = read_response(&mut BufReader::new(stream), false);
    assert_eq!(resp.status, 408, "{resp:?}");
    let chunked = "PUT /up/t.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                   65\r\n"
        .to_string()
        + &"y".repeat(101)
        + "\r\n0\r\n\r\n";
    assert_eq!(srv.send(chunked.as_bytes()).status, 413);
    assert_eq!(put(&srv, "/up/t.txt", "", &[b'z'; 101]).status, 413);
    assert_eq!(srv.get("/up/t.txt", "").text(), "old");
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn concurrent_puts_to_one_path_leave_exactly_one_body() {
    let srv = start(OPEN_UP);
    let bodies: Vec<Vec<u8>> = (0..20).map(|i| pattern(256 * 1024, i as u8)).collect();
    std::thread::scope(|s| {
        for body in &bodies {
            let srv = &srv;
            s.spawn(move || {
                let resp = put(srv, "/up/race.bin", "", body);
                assert!(matches!(resp.status, 201 | 204), "{resp:?}");
            });
        }
    });
    let got = std::fs::read(srv.public().join("up/race.bin")).unwrap();
    assert!(
        bodies.contains(&got),
        "final content is not one of the bodies"
    );
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn readers_racing_writers_never_see_a_torn_file() {
    let srv = start(OPEN_UP);
    let a = vec![b'a'; 3 << 20];
    let b = vec![b'b'; 2 << 20];
    assert_eq!(put(&srv, "/up/torn.bin", "", &a).status, 201);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let (srv, stop) = (&srv, &stop);
        let (a, b) = (&a, &b);
        s.spawn(move || {
            for i in 0..10 {
                let body = if i % 2 == 0 { b } else { a };
                assert_eq!(put(srv, "/up/torn.bin", "", body).status, 204);
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        for _ in 0..3 {
            s.spawn(move || {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || reads == 0 {
                    let got = srv.get("/up/torn.bin", "");
                    assert_eq!(got.status, 200);
                    assert!(
                        got.body == *a || got.body == *b,
                        "torn read of {} bytes",
                        got.body.len()
                    );
                    reads += 1;
                }
            });
        }
    });
}

#[test]
fn repeated_put_is_not_written_again() {
    let srv = start(OPEN_UP);
    let first = put(&srv, "/up/same.txt", "", b"same body");
    assert_eq!(first.status, 201);
    let tag = first.header("etag").unwrap().to_string();
    let again = put(&srv, "/up/same.txt", "", b"same body");
    assert_eq!(again.status, 204);
    assert_eq!(
        again.header("etag"),
        Some(tag.as_str()),
        "no new write, same ETag"
    );
    let other = put(&srv, "/up/same.txt", "", b"other body");
    assert_ne!(other.header("etag"), Some(tag.as_str()));
    // Changed behind shelf's back: the same request writes again.
    let tag = put(&srv, "/up/same.txt", "", b"same body")
        .header("etag")
        .unwrap()
        .to_string();
    std::fs::write(srv.public().join("up/same.txt"), "edited elsewhere").unwrap();
    let after_edit = put(&srv, "/up/same.txt", "", b"same body");
    assert_eq!(after_edit.status, 204);
    assert_ne!(after_edit.header("etag"), Some(tag.as_str()));
    assert_eq!(srv.get("/up/same.txt", "").text(), "same body");
}

#[test]
fn put_refusals() {
    let srv = TestServer::start_with("", OPEN_UP, |p| {
        std::fs::create_dir_all(p.join("up/dir")).unwrap();
    });
    let rows: &[(&str, &str, u16)] = &[
        ("a folder", "/up/dir", 409),
        ("a trailing slash", "/up/new/", 409),
        ("a dot-file while hidden = false", "/up/.env", 404),
        ("inside a dot-folder", "/up/.git/config", 404),
        ("a temporary name", "/up/.shelf-tmp-1", 404),
        ("outside the rule", "/ok.txt", 405),
    ];
    for (name, target, status) in rows {
        let resp = put(&srv, target, "", b"x");
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
    }
    assert!(!srv.public().join("up/.env").exists());
    assert!(!srv.public().join("up/.git").exists());
}

/// A path that goes through a file: PUT cannot create it, since a file stands where a folder
/// must be (RFC 9110 §15.5.10: 409, the target's state conflicts); PATCH and DELETE need an
/// existing file there, and there is none: 404. Nothing is created or changed.
#[test]
fn a_path_through_a_file() {
    let srv = TestServer::start_with("", OPEN_UP, |p| {
        std::fs::create_dir_all(p.join("up")).unwrap();
        std::fs::write(p.join("up/f.txt"), "file").unwrap();
        std::os::unix::fs::symlink("f.txt", p.join("up/link")).unwrap();
        let outside = p.parent().unwrap().join("outside.txt");
        std::fs::write(&outside, "outside").unwrap();
        std::os::unix::fs::symlink(outside, p.join("up/out")).unwrap();
    });
    let rows: &[(&str, &str, &str, u16)] = &[
        // A file outside the root stays invisible: not even its being a file shows.
        (
            "PUT through a link out of the root",
            "PUT",
            "/up/out/child",
            404,
        ),
        ("PUT a child", "PUT", "/up/f.txt/child", 409),
        ("PUT a grandchild", "PUT", "/up/f.txt/a/b", 409),
        (
            "PUT through a link to the file",
            "PUT",
            "/up/link/child",
            409,
        ),
        ("PATCH a child", "PATCH", "/up/f.txt/child", 404),
        ("DELETE a child", "DELETE", "/up/f.txt/child", 404),
    ];
    for (what, method, target, status) in rows {
        let resp = send(&srv, method, target, "", b"data");
        assert_eq!(resp.status, *status, "{what}: {resp:?}");
        if *status == 409 {
            let why = "409 Conflict: a file is in the way: the path needs a folder there\n";
            assert_eq!(resp.text(), why, "{what}");
        }
    }
    assert_eq!(
        std::fs::read(srv.public().join("up/f.txt")).unwrap(),
        b"file"
    );
    assert!(temp_files(&srv.public()).is_empty());
}

/// Writes a temporary file at `path` last modified `age` ago: as a crash leaves it, unlocked.
fn leftover(path: &Path, age: Duration) {
    std::fs::write(path, "crash").unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

/// An hour: older than any safety margin (2 × body_timeout_s + 60 s).
const STALE: Duration = Duration::from_secs(3600);

/// Leftovers no process holds and nobody has touched for longer than the safety margin are
/// removed at start; a fresh one may be a live upload on a file system that ignores locks,
/// and is kept.
#[test]
fn stale_temp_files_are_swept_at_start() {
    let srv = TestServer::start_with("", OPEN_UP, |p| {
        std::fs::create_dir_all(p.join("up/deep")).unwrap();
        leftover(&p.join("up/deep/.shelf-tmp-999-1"), STALE);
        leftover(&p.join(".shelf-tmp-999-2"), STALE);
        leftover(&p.join("up/.shelf-tmp-999-3"), Duration::ZERO);
        std::fs::write(p.join("up/deep/keep"), "keep").unwrap();
    });
    assert_eq!(temp_files(&srv.public()), [".shelf-tmp-999-3"]);
    assert!(srv.public().join("up/deep/keep").exists());
}

/// A fresh leftover of a process of this machine that is no longer running (a crash just
/// before a restart) is swept at once; one of a running process is kept, as is one of a
/// process the name does not place on this machine.
#[test]
fn leftovers_of_a_dead_local_writer_go_at_once() {
    use shelf::fs::owner::name_for;
    let mut finished = std::process::Command::new("true").spawn().unwrap();
    let dead = finished.id();
    finished.wait().unwrap();
    let mut sleeping = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let live = sleeping.id();
    let srv = TestServer::start_with("", OPEN_UP, |p| {
        leftover(&p.join(name_for(dead, 1)), Duration::ZERO);
        leftover(&p.join(name_for(live, 2)), Duration::ZERO);
        leftover(
            &p.join(format!(".shelf-tmp-0123456789ab-{dead}-3")),
            Duration::ZERO,
        );
    });
    let mut kept = vec![
        name_for(live, 2),
        format!(".shelf-tmp-0123456789ab-{dead}-3"),
    ];
    kept.sort();
    let mut left = temp_files(&srv.public());
    left.sort();
    assert_eq!(left, kept);
    sleeping.kill().unwrap();
    sleeping.wait().unwrap();
}

/// Issue 10: a second shelf starting on the same folder (a replica, a rolling restart) must
/// not sweep the first one's upload in flight. With `backdated`, the temporary file looks
/// old, so only the writer's lock protects it.
fn put_in_flight_survives_a_second_server(backdated: bool) {
    let srv = start(OPEN_UP);
    let body = pattern(1_000_000, 7);
    let mut stream = srv.connect();
    let head = "PUT /up/big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..500_000]).unwrap();
    let mut temps = Vec::new();
    poll_until("temp file appears", || {
        temps = temp_files(&srv.public().join("up"));
        !temps.is_empty()
    });
    let temp = srv.public().join("up").join(&temps[0]);
    if backdated {
        let file = std::fs::File::options().write(true).open(&temp).unwrap();
        file.set_modified(SystemTime::now() - STALE).unwrap();
    }
    let config = Config::load(&srv.config_path()).unwrap();
    let second = Server::start(config).expect("second server");
    assert!(temp.exists(), "the second server swept a live upload");
    stream.write_all(&body[500_000..]).unwrap();
    let resp = read_response(&mut BufReader::new(stream), false);
    assert_eq!(resp.status, 201, "{resp:?}");
    let stored = std::fs::read(srv.public().join("up/big.bin")).unwrap();
    assert!(stored == body, "the stored body differs");
    assert!(temp_files(&srv.public()).is_empty());
    second.shutdown();
}

#[test]
fn a_put_in_flight_survives_a_second_server_starting() {
    put_in_flight_survives_a_second_server(false);
}

#[test]
fn a_locked_temp_file_survives_even_when_it_looks_old() {
    put_in_flight_survives_a_second_server(true);
}

/// The write methods built so far; each test below runs for every one of them.
const WRITES: &[&str] = &["PUT", "POST", "PATCH", "DELETE"];

/// A body that each write method accepts at `/…/f.txt`-like targets.
fn write_request(srv: &TestServer, method: &str, target: &str, headers: &str) -> Resp {
    send(srv, method, target, headers, b"data")
}

#[test]
fn acl_matrix_user_method_path_address() {
    let all = "methods = [\"PUT\", \"POST\", \"PATCH\", \"DELETE\"]";
    let rules = format!(
        "{users}\n\
         [[acl]]\npath = \"/team/*\"\n{all}\nusers = [\"alice\"]\n\n\
         [[acl]]\npath = \"/lan/*\"\n{all}\nallow = [\"10.0.0.0/8\"]\ndeny = [\"10.6.6.6/32\"]\n\n\
         [[acl]]\npath = \"/v6/*\"\n{all}\nallow = [\"2001:db8::/32\"]\n\n\
         [[acl]]\npath = \"/both/*\"\n{all}\nusers = [\"bob\"]\nallow = [\"10.0.0.0/8\"]\n\n\
         [[acl]]\npath = \"/ro/*\"\nmethods = [\"GET\"]\n",
        users = users()
    );
    let srv = TestServer::start_with("trusted_proxies = [\"127.0.0.1/32\"]", &rules, |p| {
        for dir in ["team", "lan", "v6", "both", "ro"] {
            std::fs::create_dir_all(p.join(dir)).unwrap();
        }
    });
    let (alice, bob, wrong) = (basic("alice:pw"), basic("bob:pw"), basic("alice:nope"));
    let from = |addr: &str| format!("X-Forwarded-For: {addr}\r\n");
    // (name, path, credentials, client address, status, listed in OPTIONS' Allow); status 0
    // is success (which one depends on the method)
    let rows: Vec<(&str, &str, String, String, u16, bool)> = vec![
        // Hostile rows first.
        (
            "no credentials",
            "/team/f",
            String::new(),
            String::new(),
            401,
            true,
        ),
        (
            "wrong password",
            "/team/f",
            wrong.clone(),
            String::new(),
            401,
            true,
        ),
        (
            "valid user not listed",
            "/team/f",
            bob.clone(),
            String::new(),
            403,
            true,
        ),
        (
            "address outside allow",
            "/lan/f",
            String::new(),
            String::new(),
            403,
            false,
        ),
        (
            "address in deny",
            "/lan/f",
            String::new(),
            from("10.6.6.6"),
            403,
            false,
        ),
        (
            "IPv4-mapped deny",
            "/lan/f",
            String::new(),
            from("::ffff:10.6.6.6"),
            403,
            false,
        ),
        (
            "IPv4 client, IPv6 rule",
            "/v6/f",
            String::new(),
            from("10.1.1.1"),
            403,
            false,
        ),
        (
            "right user, wrong address",
            "/both/f",
            bob.clone(),
            String::new(),
            403,
            false,
        ),
        (
            "right address, no user",
            "/both/f",
            String::new(),
            from("10.1.1.1"),
            401,
            true,
        ),
        (
            "no rule lists writes",
            "/ro/f",
            alice.clone(),
            String::new(),
            405,
            false,
        ),
        (
            "no rule at all",
            "/elsewhere",
            alice.clone(),
            String::new(),
            405,
            false,
        ),
        // Allowed.
        (
            "listed user",
            "/team/f",
            alice.clone(),
            String::new(),
            0,
            true,
        ),
        (
            "address in allow",
            "/lan/f",
            String::new(),
            from("10.1.2.3"),
            0,
            true,
        ),
        (
            "IPv4-mapped allow",
            "/lan/f",
            String::new(),
            from("::ffff:10.1.2.3"),
            0,
            true,
        ),
        (
            "IPv6 allow",
            "/v6/f",
            String::new(),
            from("2001:db8::7"),
            0,
            true,
        ),
        (
            "user and address",
            "/both/f",
            bob.clone(),
            from("10.1.1.1"),
            0,
            true,
        ),
    ];
    for method in WRITES {
        for (name, path, creds, addr, status, listed) in &rows {
            let resp = write_request(&srv, method, path, &format!("{creds}{addr}"));
            if *status == 0 {
                // Past the ACL: what follows (404 for a second DELETE, 409 for a POST to a
                // file) is not a refusal.
                let refused = matches!(resp.status, 401 | 403 | 405);
                assert!(!refused, "{method} {name}: {resp:?}");
            } else {
                assert_eq!(resp.status, *status, "{method} {name}: {resp:?}");
            }
            match resp.status {
                401 => assert_eq!(
                    resp.header("www-authenticate"),
                    Some("Basic realm=\"shelf\""),
                    "{method} {name}"
                ),
                405 => assert!(!resp.header("allow").unwrap().contains(method), "{name}"),
                _ => {}
            }
            // OPTIONS reports the same decision, credentials aside.
            let options = common::request(&srv, "OPTIONS", path, addr);
            let allowed = options.header("allow").unwrap().contains(method);
            assert_eq!(allowed, *listed, "{method} {name}: {options:?}");
        }
    }
}

#[test]
fn traversal_through_every_write_method_never_touches_the_canary() {
    let srv = start(OPEN_UP);
    let canary = srv.dir.path().join("canary.txt");
    std::fs::write(&canary, "canary").unwrap();
    let outside = srv.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, srv.public().join("up/out")).unwrap();
    std::os::unix::fs::symlink(&canary, srv.public().join("up/canary-link")).unwrap();
    let targets = [
        "/up/../../canary.txt",
        "/up/%2e%2e/%2e%2e/canary.txt",
        "/up/..%2f..%2fcanary.txt",
        "/up/..%5c..%5ccanary.txt",
        "/up/%00/../canary.txt",
        "/up/out/x.txt",
        "/up/out/new/x.txt",
        "/up/out/",
        "/up/canary-link",
        "/up/out/../../canary.txt",
        "/../outside/x.txt",
    ];
    for method in WRITES {
        for target in targets {
            let resp = write_request(&srv, method, target, "");
            assert_eq!(
                std::fs::read_to_string(&canary).unwrap(),
                "canary",
                "{method} {target}"
            );
            assert_eq!(
                std::fs::read_dir(&outside).unwrap().count(),
                0,
                "{method} {target}"
            );
            if target != "/up/canary-link" {
                assert!(resp.status >= 400, "{method} {target}: {resp:?}");
            }
        }
    }
}

#[test]
fn patch_at_offset_and_append() {
    let srv = start(OPEN_UP);
    srv.write("up/p.txt", "0123456789");
    let range = |r: &str| format!("Content-Range: bytes {r}\r\n");
    let rows: &[(&str, String, &[u8], u16, &str)] = &[
        // Hostile rows first; the file must be unchanged after each.
        (
            "start past the end",
            range("11-12/*"),
            b"ab",
            416,
            "0123456789",
        ),
        (
            "length differs from the range",
            range("0-3/*"),
            b"ab",
            400,
            "0123456789",
        ),
        ("end before start", range("5-4/*"), b"ab", 400, "0123456789"),
        (
            "not bytes",
            "Content-Range: lines 0-1/*\r\n".into(),
            b"ab",
            400,
            "0123456789",
        ),
        (
            "stale If-Match",
            "If-Match: \"x\"\r\n".into(),
            b"ab",
            412,
            "0123456789",
        ),
        // Applied, in order.
        ("overwrite inside", range("2-3/*"), b"ab", 204, "01ab456789"),
        (
            "overwrite across the end",
            range("8-11/*"),
            b"WXYZ",
            204,
            "01ab4567WXYZ",
        ),
        (
            "at the very end",
            range("12-12/*"),
            b"!",
            204,
            "01ab4567WXYZ!",
        ),
        ("append", String::new(), b"+tail", 204, "01ab4567WXYZ!+tail"),
    ];
    for (name, headers, body, status, after) in rows {
        let resp = send(&srv, "PATCH", "/up/p.txt", headers, body);
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
        if *status == 204 {
            let tag = resp.header("etag").expect("ETag");
            assert_eq!(srv.get("/up/p.txt", "").header("etag"), Some(tag), "{name}");
        }
        if *status == 416 {
            assert_eq!(resp.header("content-range"), Some("bytes */10"), "{name}");
        }
        assert_eq!(srv.get("/up/p.txt", "").text(), *after, "{name}");
    }
    let tag = srv.get("/up/p.txt", "").header("etag").unwrap().to_string();
    let resp = send(
        &srv,
        "PATCH",
        "/up/p.txt",
        &format!("If-Match: {tag}\r\n"),
        b".",
    );
    assert_eq!(resp.status, 204);
    assert_eq!(send(&srv, "PATCH", "/up/missing", "", b"x").status, 404);
    assert_eq!(send(&srv, "PATCH", "/up/", "", b"x").status, 409);
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn patch_chunked_and_large() {
    let srv = start(OPEN_UP);
    let base = pattern(3 << 20, 1);
    assert_eq!(put(&srv, "/up/big.bin", "", &base).status, 201);
    let patch = pattern(1 << 20, 2);
    let headers = format!("Content-Range: bytes 1000-{}/*\r\n", 1000 + patch.len() - 1);
    assert_eq!(
        send(&srv, "PATCH", "/up/big.bin", &headers, &patch).status,
        204
    );
    let mut want = base.clone();
    want[1000..1000 + patch.len()].copy_from_slice(&patch);
    let raw = "PATCH /up/big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
               Transfer-Encoding: chunked\r\n\r\n3\r\nend\r\n0\r\n\r\n";
    assert_eq!(srv.send(raw.as_bytes()).status, 204);
    want.extend_from_slice(b"end");
    let got = srv.get("/up/big.bin", "");
    assert_eq!(md5_hex(&got.body), md5_hex(&want));
    // Chunked with a range whose length the body does not match: refused, file unchanged.
    let raw = "PATCH /up/big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
               Content-Range: bytes 0-9/*\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_eq!(srv.send(raw.as_bytes()).status, 400);
    assert_eq!(md5_hex(&srv.get("/up/big.bin", "").body), md5_hex(&want));
}

#[test]
fn delete_cases() {
    let srv = TestServer::start_with("", OPEN_UP, |p| {
        std::fs::create_dir_all(p.join("up/empty")).unwrap();
        std::fs::create_dir_all(p.join("up/full")).unwrap();
        std::fs::write(p.join("up/full/f.txt"), "f").unwrap();
        std::fs::write(p.join("up/a.txt"), "a").unwrap();
        std::fs::write(p.join("up/b.txt"), "b").unwrap();
        std::fs::write(p.join("up/.hidden"), "h").unwrap();
        std::os::unix::fs::symlink("a.txt", p.join("up/link")).unwrap();
    });
    let tag = srv.get("/up/b.txt", "").header("etag").unwrap().to_string();
    let rows: &[(&str, &str, &str, u16)] = &[
        // Hostile rows first.
        ("non-empty folder", "/up/full/", "", 409),
        ("non-empty folder, no slash", "/up/full", "", 409),
        ("missing", "/up/nope", "", 404),
        ("hidden file", "/up/.hidden", "", 404),
        ("file with a trailing slash", "/up/a.txt/", "", 404),
        ("stale If-Match", "/up/b.txt", "If-Match: \"x\"\r\n", 412),
        // Deleted.
        ("a symlink, not its target", "/up/link", "", 204),
        ("a file", "/up/a.txt", "", 204),
        (
            "a file, matching If-Match",
            "/up/b.txt",
            &format!("If-Match: {tag}\r\n"),
            204,
        ),
        ("an empty folder", "/up/empty/", "", 204),
        ("deleted already", "/up/a.txt", "", 404),
    ];
    for (name, target, headers, status) in rows {
        let resp = common::request(&srv, "DELETE", target, headers);
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
    }
    let p = srv.public();
    assert!(p.join("up/full/f.txt").exists() && p.join("up/.hidden").exists());
    assert!(!p.join("up/a.txt").exists() && !p.join("up/empty").exists());
    assert_eq!(srv.get("/up/a.txt", "").status, 404, "no stale cached copy");
}

#[test]
fn delete_never_removes_the_root() {
    let srv = TestServer::start_with("", "[[acl]]\npath = \"/*\"\nmethods = [\"*\"]\n", |p| {
        std::fs::create_dir_all(p.join("sub")).unwrap();
        std::os::unix::fs::symlink("..", p.join("sub/up")).unwrap();
    });
    for target in ["/", "//", "/sub/..", "/sub/up", "/sub/up/"] {
        let resp = common::request(&srv, "DELETE", target, "");
        assert!(matches!(resp.status, 400 | 403 | 404), "{target}: {resp:?}");
        assert!(srv.public().is_dir(), "{target}: root deleted");
    }
}

#[test]
fn writes_drop_cached_bodies() {
    let srv = start(OPEN_UP);
    srv.write("up/c.css", "body { color: red }\n".repeat(40));
    let gz = "Accept-Encoding: gzip\r\n";
    assert_eq!(srv.get("/up/c.css", "").status, 200);
    assert_eq!(
        srv.get("/up/c.css", gz).header("content-encoding"),
        Some("gzip")
    );
    let new = "p { margin: 0 }\n".repeat(40);
    assert_eq!(put(&srv, "/up/c.css", "", new.as_bytes()).status, 204);
    assert_eq!(srv.get("/up/c.css", "").text(), new);
    assert_eq!(
        send(&srv, "PATCH", "/up/c.css", "", b"/* end */").status,
        204
    );
    assert_eq!(srv.get("/up/c.css", "").text(), new.clone() + "/* end */");
    assert_eq!(common::request(&srv, "DELETE", "/up/c.css", "").status, 204);
    assert_eq!(srv.get("/up/c.css", gz).status, 404);
}

/// A `multipart/form-data` body of `(field, filename as written in the header, content)`.
fn form(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----shelfTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (field, filename, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename.is_empty() && field.starts_with("text") {
            true => format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n"),
            false => format!(
                "Content-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let header = format!("Content-Type: multipart/form-data; boundary={boundary}\r\n");
    (header, body)
}

/// The `"name"` values of an upload's JSON answer, in order.
fn saved_names(resp: &Resp) -> Vec<String> {
    let text = resp.text();
    let mut names = Vec::new();
    for rest in text.split("\"name\":\"").skip(1) {
        let mut name = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => name.extend(chars.next()),
                c => name.push(c),
            }
        }
        names.push(name);
    }
    names
}

#[test]
fn multipart_upload_sanitises_tricky_filenames() {
    let srv = start(OPEN_UP);
    let canary = srv.dir.path().join("x");
    std::fs::write(&canary, "canary").unwrap();
    let big = pattern(3 << 20, 9);
    let (header, body) = form(&[
        ("file", "../x", b"dotdot"),
        ("file", "a/b", b"slash"),
        ("file", ".env", b"dot"),
        ("file", "\u{e9}t\u{e9} \u{1f4da}.txt", b"utf8"),
        ("file", "say \\\"hi\\\".txt", b"quotes"),
        ("text", "", b"a plain field is not a file"),
        ("file", "", b""),
        ("file", "big.bin", &big),
    ]);
    let resp = send(&srv, "POST", "/up/", &header, &body);
    assert_eq!(resp.status, 201, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let names = saved_names(&resp);
    assert_eq!(
        names,
        [
            "x",
            "b",
            "env",
            "\u{e9}t\u{e9} \u{1f4da}.txt",
            "say \"hi\".txt",
            "big.bin"
        ],
        "{}",
        resp.text()
    );
    let up = srv.public().join("up");
    for (name, content) in [
        ("x", &b"dotdot"[..]),
        ("b", b"slash"),
        ("env", b"dot"),
        ("\u{e9}t\u{e9} \u{1f4da}.txt", b"utf8"),
        ("say \"hi\".txt", b"quotes"),
    ] {
        assert_eq!(std::fs::read(up.join(name)).unwrap(), content, "{name}");
    }
    assert_eq!(
        md5_hex(&std::fs::read(up.join("big.bin")).unwrap()),
        md5_hex(&big)
    );
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
    assert!(!up.join(".env").exists() && !srv.public().join("x").exists());
    assert!(temp_files(&srv.public()).is_empty());
}

#[test]
fn multipart_name_clashes_depend_on_put_permission() {
    // /drop/ takes POST only: an existing name is kept and the upload renamed.
    let rules = format!("{OPEN_UP}\n[[acl]]\npath = \"/drop/*\"\nmethods = [\"POST\"]\n");
    let srv = TestServer::start_with("", &rules, |p| {
        std::fs::create_dir_all(p.join("up")).unwrap();
        std::fs::create_dir_all(p.join("drop")).unwrap();
        std::fs::write(p.join("up/a.txt"), "old").unwrap();
        std::fs::write(p.join("drop/a.txt"), "old").unwrap();
        std::fs::write(p.join("drop/a (1).txt"), "old 1").unwrap();
    });
    let (header, body) = form(&[("file", "a.txt", b"new")]);
    let replaced = send(&srv, "POST", "/up/", &header, &body);
    assert_eq!(saved_names(&replaced), ["a.txt"], "PUT allowed: replaced");
    assert_eq!(
        std::fs::read_to_string(srv.public().join("up/a.txt")).unwrap(),
        "new"
    );
    let renamed = send(&srv, "POST", "/drop/", &header, &body);
    assert_eq!(renamed.status, 201);
    assert_eq!(saved_names(&renamed), ["a (2).txt"], "{}", renamed.text());
    assert!(
        renamed
            .text()
            .contains("\"location\":\"/drop/a%20%282%29.txt\"")
    );
    let drop = srv.public().join("drop");
    assert_eq!(std::fs::read_to_string(drop.join("a.txt")).unwrap(), "old");
    assert_eq!(
        std::fs::read_to_string(drop.join("a (2).txt")).unwrap(),
        "new"
    );
}

#[test]
fn browser_upload_and_delete_forms() {
    let srv = start(OPEN_UP);
    let html = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    // The listing offers the forms where the ACL allows them, and nowhere else.
    let listing = srv.get("/up/", html).text();
    assert!(
        listing.contains("enctype=\"multipart/form-data\""),
        "{listing}"
    );
    let root = srv.get("/", html).text();
    assert!(!root.contains("<form class=\"upload\""), "{root}");
    // `/up/*` covers `/up` itself: the root listing may delete that folder, and nothing else.
    assert_eq!(root.matches("?delete").count(), 1, "{root}");
    assert!(root.contains("action=\"up/?delete\""), "{root}");
    // Uploading from the form goes back to the listing.
    let (header, body) = form(&[("file", "from browser.txt", b"hi")]);
    let resp = send(&srv, "POST", "/up/", &format!("{header}{html}"), &body);
    assert_eq!(resp.status, 303, "{resp:?}");
    assert_eq!(resp.header("location"), Some("/up/"));
    let listing = srv.get("/up/", html).text();
    assert!(
        listing.contains("action=\"from%20browser.txt?delete\""),
        "{listing}"
    );
    // Its delete button: an empty urlencoded POST to `<entry>?delete`.
    let form_headers = format!("Content-Type: application/x-www-form-urlencoded\r\n{html}");
    let resp = send(
        &srv,
        "POST",
        "/up/from%20browser.txt?delete",
        &form_headers,
        b"",
    );
    assert_eq!(resp.status, 303, "{resp:?}");
    assert_eq!(resp.header("location"), Some("/up/"));
    assert!(!srv.public().join("up/from browser.txt").exists());
    // A page on another site cannot use them.
    srv.write("up/keep.txt", "keep");
    let cross = format!("Origin: http://evil.example\r\n{form_headers}");
    let resp = send(&srv, "POST", "/up/keep.txt?delete", &cross, b"");
    assert_eq!(resp.status, 403);
    let resp = send(
        &srv,
        "POST",
        "/up/",
        &format!("Origin: http://evil.example\r\n{header}"),
        &body,
    );
    assert_eq!(resp.status, 403);
    let same = "Origin: http://t\r\n";
    assert_eq!(
        send(&srv, "POST", "/up/keep.txt?delete", same, b"").status,
        204
    );
}

#[test]
fn delete_form_is_guarded_exactly_like_delete() {
    let rules = "[[acl]]\npath = \"/up/*\"\nmethods = [\"POST\"]\n\n\
                 [[acl]]\npath = \"/del/*\"\nmethods = [\"DELETE\"]\ndeny = [\"127.0.0.1/32\"]\n";
    let srv = TestServer::start_with("", rules, |p| {
        std::fs::create_dir_all(p.join("up")).unwrap();
        std::fs::create_dir_all(p.join("del")).unwrap();
        std::fs::write(p.join("up/f"), "f").unwrap();
        std::fs::write(p.join("del/f"), "f").unwrap();
    });
    let rows: &[(&str, &str, u16)] = &[
        ("POST allowed, DELETE not listed", "/up/f?delete", 405),
        ("DELETE denied by address", "/del/f?delete", 403),
        ("no rule", "/ok.txt?delete", 405),
    ];
    for (name, target, status) in rows {
        let resp = send(&srv, "POST", target, "", b"");
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
    }
    assert!(srv.public().join("up/f").exists() && srv.public().join("del/f").exists());
    let listing = srv.get("/up/", "").text();
    assert!(listing.contains("class=\"upload\"") && !listing.contains("?delete"));
}

#[test]
fn post_other_bodies_are_named_by_their_md5() {
    let srv = start(OPEN_UP);
    let body = b"{\"k\": 1}\n";
    let want = format!("/up/{}.json", md5_hex(body));
    let first = send(
        &srv,
        "POST",
        "/up/",
        "Content-Type: application/json\r\n",
        body,
    );
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("location"), Some(want.as_str()));
    let again = send(
        &srv,
        "POST",
        "/up",
        "Content-Type: application/json\r\n",
        body,
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.header("location"), Some(want.as_str()));
    assert_eq!(
        again.header("etag"),
        first.header("etag"),
        "not written again"
    );
    assert_eq!(srv.get(&want, "").body, body);
    let bare = send(&srv, "POST", "/up/", "", b"raw");
    assert_eq!(
        bare.header("location"),
        Some(format!("/up/{}", md5_hex(b"raw")).as_str())
    );
    // Not a folder, not there, not well-formed.
    assert_eq!(send(&srv, "POST", "/up/missing/", "", b"x").status, 404);
    assert_eq!(send(&srv, "POST", &want, "", b"x").status, 409);
    let bad = "Content-Type: multipart/form-data; boundary=zz\r\n";
    assert_eq!(
        send(&srv, "POST", "/up/", bad, b"--zz\r\nno end").status,
        400
    );
    assert!(temp_files(&srv.public()).is_empty());
}
