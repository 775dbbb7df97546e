//! The in-memory body cache over real TCP (SPEC §2 `[cache]`, §3): files changed on disk are
//! served fresh at once in every coding, eviction and a reload of the budget never change what
//! is served, and concurrent misses for one cold file all get the same correct body.

mod common;

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use common::{Resp, TestServer, config_text, decode, poll_until, request};

/// Compressible text, different for each `seed`, exactly `len` bytes.
fn text(seed: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0usize;
    while out.len() < len {
        out.extend_from_slice(format!("file {seed} line {i}: {}\n", i * 31 % 101).as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, when: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

/// (name, `Accept-Encoding` line, the coding the response must carry)
const CODINGS: [(&str, &str, Option<&str>); 3] = [
    ("identity", "", None),
    ("gzip", "Accept-Encoding: gzip\r\n", Some("gzip")),
    ("deflate", "Accept-Encoding: deflate\r\n", Some("deflate")),
];

/// GETs `target` in `coding` and asserts it is `file`, returning the response.
fn assert_serves(srv: &TestServer, target: &str, coding: usize, file: &[u8], what: &str) -> Resp {
    let (name, headers, want) = CODINGS[coding];
    let resp = request(srv, "GET", target, headers);
    assert_eq!(resp.status, 200, "{what} ({name}): status");
    assert_eq!(resp.header("content-encoding"), want, "{what} ({name})");
    assert!(
        decode(&resp.body, want) == file,
        "{what} ({name}): stale or corrupt body"
    );
    resp
}

/// How a file is changed behind the server's back; returns the new content.
type Edit = fn(&Path) -> Vec<u8>;

/// Same length, new bytes, then the mtime put back exactly: only the inode differs.
fn replace_by_rename_keeping_mtime(path: &Path) -> Vec<u8> {
    let new = text(2, 5000);
    let tmp = path.with_file_name("tmp-new");
    std::fs::write(&tmp, &new).unwrap();
    set_mtime(&tmp, mtime(path));
    std::fs::rename(&tmp, path).unwrap();
    new
}

/// Same length, new bytes in place (same inode), the mtime one second later.
fn edit_in_place_same_length(path: &Path) -> Vec<u8> {
    let before = mtime(path);
    let new = text(3, 5000);
    std::fs::write(path, &new).unwrap();
    set_mtime(path, before + Duration::from_secs(1));
    new
}

/// Same length, new bytes in place (same inode), the mtime put back as `cp -p` or
/// `rsync -t` would: only the ctime tells.
fn edit_in_place_keeping_mtime(path: &Path) -> Vec<u8> {
    let before = mtime(path);
    let new = text(5, 5000);
    std::fs::write(path, &new).unwrap();
    set_mtime(path, before);
    new
}

/// A different length in place, the mtime left to the kernel.
fn edit_in_place_new_length(path: &Path) -> Vec<u8> {
    let new = text(4, 4321);
    std::fs::write(path, &new).unwrap();
    new
}

/// Shrunk in place to a length that is still compressed (`min_bytes = 256`).
fn shrink(path: &Path) -> Vec<u8> {
    let new = text(1, 300);
    std::fs::write(path, &new).unwrap();
    new
}

#[test]
fn a_file_changed_on_disk_is_served_fresh_at_once() {
    let rows: &[(&str, Edit)] = &[
        (
            "replaced by rename, mtime kept",
            replace_by_rename_keeping_mtime,
        ),
        ("edited in place, same length", edit_in_place_same_length),
        (
            "edited in place, same length, mtime put back",
            edit_in_place_keeping_mtime,
        ),
        ("edited in place, new length", edit_in_place_new_length),
        ("shrunk to its first bytes", shrink),
    ];
    let srv = TestServer::start("", "");
    for (row, (name, edit)) in rows.iter().enumerate() {
        for coding in 0..CODINGS.len() {
            // A fresh file per row and coding, an hour old, so that every edit moves the stamp.
            let target = format!("/f{row}-{coding}.txt");
            let path = srv.public().join(&target[1..]);
            let old = text(1, 5000);
            std::fs::write(&path, &old).unwrap();
            set_mtime(&path, SystemTime::now() - Duration::from_secs(3600));
            let what = format!("{name} {target}");
            // Twice: the second is served from the cache.
            let first = assert_serves(&srv, &target, coding, &old, &what);
            assert_serves(&srv, &target, coding, &old, &what);
            let new = edit(&path);
            let fresh = assert_serves(&srv, &target, coding, &new, &format!("{what}, after"));
            assert_ne!(fresh.header("etag"), first.header("etag"), "{what}: ETag");
            assert_serves(&srv, &target, coding, &new, &format!("{what}, again"));
        }
    }
}

#[test]
fn eviction_under_a_small_budget_serves_every_file() {
    let srv = TestServer::start_with("", "[cache]\nmax_bytes = 8192", |public| {
        for i in 0..24 {
            std::fs::write(public.join(format!("{i}.txt")), text(i, 2000)).unwrap();
        }
        // Larger than the whole budget: never stored, still served.
        std::fs::write(public.join("huge.txt"), text(99, 20_000)).unwrap();
    });
    for round in 0..3 {
        for i in 0..24 {
            let coding = (i + round) % CODINGS.len();
            let what = format!("round {round} file {i}");
            assert_serves(&srv, &format!("/{i}.txt"), coding, &text(i, 2000), &what);
        }
        for coding in 0..CODINGS.len() {
            assert_serves(&srv, "/huge.txt", coding, &text(99, 20_000), "huge");
        }
    }
}

#[test]
fn a_reload_of_the_budget_keeps_serving() {
    let srv = TestServer::start_with("", "", |public| {
        for i in 0..10 {
            std::fs::write(public.join(format!("{i}.txt")), text(i, 3000)).unwrap();
        }
    });
    let serve_all = |what: &str| {
        for i in 0..10 {
            for coding in 0..CODINGS.len() {
                let what = format!("{what}: file {i}");
                assert_serves(&srv, &format!("/{i}.txt"), coding, &text(i, 3000), &what);
            }
        }
    };
    serve_all("default budget");
    for max_bytes in [4000, 0, 1 << 20] {
        let config = config_text("", &format!("[cache]\nmax_bytes = {max_bytes}"));
        std::fs::write(srv.config_path(), config).unwrap();
        poll_until(&format!("max_bytes = {max_bytes} applied"), || {
            srv.config().cache.max_bytes == max_bytes
        });
        serve_all(&format!("max_bytes = {max_bytes}"));
        // And a change on disk is still seen under the new budget.
        std::fs::write(srv.public().join("0.txt"), text(50, 2999)).unwrap();
        for coding in 0..CODINGS.len() {
            let what = format!("max_bytes = {max_bytes}: edited");
            assert_serves(&srv, "/0.txt", coding, &text(50, 2999), &what);
        }
        std::fs::write(srv.public().join("0.txt"), text(0, 3000)).unwrap();
    }
}

#[test]
fn concurrent_misses_for_a_cold_file_get_identical_bodies() {
    const CLIENTS: usize = 16;
    let file = text(7, 300_000);
    let srv = Arc::new(TestServer::start_with("", "", |public| {
        std::fs::write(public.join("cold.txt"), &file).unwrap();
    }));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let srv = Arc::clone(&srv);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut stream = srv.connect();
                barrier.wait();
                stream
                    .write_all(b"GET /cold.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
                    .unwrap();
                common::read_response(&mut BufReader::new(stream), false)
            })
        })
        .collect();
    let responses: Vec<Resp> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let first = &responses[0];
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-encoding"), Some("gzip"));
    assert!(
        decode(&first.body, Some("gzip")) == file,
        "corrupt gzip body"
    );
    let length = first.body.len().to_string();
    assert_eq!(first.header("content-length"), Some(length.as_str()));
    for (i, resp) in responses.iter().enumerate() {
        assert_eq!(resp.status, 200, "client {i}");
        assert_eq!(
            resp.header("etag"),
            first.header("etag"),
            "client {i}: ETag"
        );
        assert!(resp.body == first.body, "client {i}: a different body");
    }
}
