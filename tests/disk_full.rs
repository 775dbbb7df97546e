//! Writing to a full disk (SPEC §4): 507, the old file intact, nothing partial left. Needs a
//! small file system of its own: a 1 MiB tmpfs mounted over the test's root, which takes root
//! privileges (CI runs as root); elsewhere the test says it was skipped.

mod common;

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Resp, TestServer, read_response};

/// The body of every 507 here.
const FULL: &str = "507 Insufficient Storage: the disk is full\n";

const OPEN_UP: &str =
    "[[acl]]\npath = \"/up/*\"\nmethods = [\"PUT\", \"POST\", \"PATCH\", \"DELETE\"]\n";

/// Unmounts on drop, whatever the test did.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Mounts a 1 MiB tmpfs at `dir`; `None` when this machine does not let us.
fn small_fs(dir: &Path) -> Option<Mount> {
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    mounted.then(|| Mount(dir.to_path_buf()))
}

fn send(srv: &TestServer, method: &str, target: &str, headers: &str, body: &[u8]) -> Resp {
    let mut stream = srv.connect();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before taking the whole body.
    let _ = stream.write_all(body);
    read_response(&mut BufReader::new(stream), false)
}

/// Names under `dir` that are upload temp files.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".shelf-tmp-"))
        .collect()
}

#[test]
fn writes_to_a_full_disk_get_507_and_leave_nothing_behind() {
    let mut mount = None;
    let srv = TestServer::start_with("", OPEN_UP, |public| {
        mount = small_fs(public);
        if mount.is_some() {
            std::fs::create_dir_all(public.join("up")).unwrap();
            std::fs::write(public.join("up/keep.txt"), "old content\n").unwrap();
        }
    });
    let Some(_mount) = mount else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    eprintln!("running on a 1 MiB tmpfs");
    let big = vec![b'x'; 2 << 20];
    let up = srv.public().join("up");

    let replace = send(&srv, "PUT", "/up/keep.txt", "", &big);
    assert_eq!(
        replace.status, 507,
        "PUT over an existing file: {replace:?}"
    );
    assert_eq!(replace.text(), FULL, "PUT over an existing file");
    assert_eq!(srv.get("/up/keep.txt", "").text(), "old content\n");

    let create = send(&srv, "PUT", "/up/new.bin", "", &big);
    assert_eq!(create.status, 507, "PUT of a new file: {create:?}");
    assert_eq!(create.text(), FULL, "PUT of a new file");
    assert_eq!(srv.get("/up/new.bin", "").status, 404);

    let append = send(&srv, "PATCH", "/up/keep.txt", "", &big);
    assert_eq!(append.status, 507, "PATCH append: {append:?}");
    assert_eq!(append.text(), FULL, "PATCH append");
    assert_eq!(srv.get("/up/keep.txt", "").text(), "old content\n");

    let post = send(&srv, "POST", "/up/", "Content-Type: text/plain\r\n", &big);
    assert_eq!(post.status, 507, "POST of a raw body: {post:?}");
    assert_eq!(post.text(), FULL, "POST of a raw body");

    assert_eq!(leftovers(&up), Vec::<String>::new(), "temporary files left");
    // The disk is usable again: a small write goes through.
    let small = send(&srv, "PUT", "/up/small.txt", "", b"fits\n");
    assert_eq!(small.status, 201, "{small:?}");
}
