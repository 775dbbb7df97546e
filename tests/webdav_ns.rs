//! The WebDAV namespace methods over real TCP (issue 11 items 4, 5, 8): MKCOL, COPY, MOVE and
//! the recursive DELETE — every status, traversal attempts through `Destination` first, and
//! concurrent MOVE/COPY/PUT on one path.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::sync::OnceLock;

use common::{Resp, TempDir, TestServer, poll_until, request};

/// WebDAV on, and every WebDAV write open to anyone on `/*`.
const DAV: &str = "[webdav]\nenabled = true\n\n[[acl]]\npath = \"/*\"\n\
                   methods = [\"PUT\", \"DELETE\", \"MKCOL\", \"COPY\", \"MOVE\"]\n";

/// A server with WebDAV on over a root that `prepare` fills.
fn dav(prepare: impl FnOnce(&Path)) -> TestServer {
    TestServer::start_with("", DAV, prepare)
}

/// Sends `method target` with extra header lines (each ending in `\r\n`) and `body`.
fn send(srv: &TestServer, method: &str, target: &str, headers: &str, body: &[u8]) -> Resp {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    srv.send(&raw)
}

/// COPY or MOVE of `from` to the `Destination` value `to`, plus extra header lines.
fn relocate(srv: &TestServer, method: &str, from: &str, to: &str, headers: &str) -> Resp {
    request(
        srv,
        method,
        from,
        &format!("Destination: {to}\r\n{headers}"),
    )
}

/// The files and folders under `dir`, as sorted relative paths (folders end in `/`).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            match entry.file_type().unwrap().is_dir() {
                true => {
                    out.push(format!("{rel}/"));
                    pending.push(entry.path());
                }
                false => out.push(rel),
            }
        }
    }
    out.sort();
    out
}

/// The usual root: a file, a folder with members, a dot-file, and a link leading outside to
/// `outside` (which holds `secret.txt`).
fn fill(public: &Path, outside: &Path) {
    fs::write(public.join("a.txt"), b"alpha").unwrap();
    fs::write(public.join("ok.txt"), b"ok").unwrap();
    fs::write(public.join(".secret"), b"hidden").unwrap();
    fs::create_dir_all(public.join("d/sub")).unwrap();
    fs::write(public.join("d/one.txt"), b"one").unwrap();
    fs::write(public.join("d/sub/two.txt"), b"two").unwrap();
    fs::write(outside.join("secret.txt"), b"outside").unwrap();
    std::os::unix::fs::symlink(outside, public.join("out")).unwrap();
}

/// Traversal and confinement, for COPY and MOVE alike: each row must be refused with its
/// status, and leave the root and the folder outside it exactly as they were.
#[test]
fn hostile_destinations_are_refused_and_change_nothing() {
    let outside = TempDir::new("ns-outside");
    let out = outside.path().to_path_buf();
    let srv = dav(|p| fill(p, &out));
    let before = (tree(&srv.public()), tree(outside.path()));
    // (source, Destination, extra headers, status)
    let rows: &[(&str, &str, &str, u16)] = &[
        ("/a.txt", "/../outside.txt", "", 400),
        ("/a.txt", "/d/../../outside.txt", "", 400),
        ("/a.txt", "/%2e%2e/outside.txt", "", 400),
        ("/a.txt", "/%2E%2E/%2e%2e/etc/x", "", 400),
        ("/a.txt", "http://t/%2e%2e/x", "", 400),
        ("/a.txt", "/x%2f..%2fy", "", 400),
        ("/a.txt", "/x%00", "", 400),
        ("/a.txt", "/x\\..\\y", "", 400),
        ("/a.txt", "//evil.example/x", "", 400),
        ("/a.txt", "http://user@t/x", "", 400),
        ("/a.txt", "/x#frag", "", 400),
        ("/a.txt", "x", "", 400),
        ("/a.txt", "http://evil.example/x", "", 502),
        ("/a.txt", "http://t:8080/x", "", 502),
        ("/a.txt", "https://t.evil.example/x", "", 502),
        ("/a.txt", "file:///etc/passwd", "", 502),
        // An absolute path is a URL path: `/etc/passwd` is under the root, with no `etc` there.
        ("/a.txt", "/etc/passwd", "", 409),
        // A symlink leading out of the root: as absent as for a read.
        ("/a.txt", "/out/x", "", 404),
        ("/a.txt", "http://t/out/new/x", "", 404),
        ("/out/secret.txt", "/stolen.txt", "", 404),
        // Dot-files, as PUT refuses them; temporary names always.
        ("/a.txt", "/.env", "", 404),
        ("/a.txt", "/d/.hidden/x", "", 404),
        ("/.secret", "/visible.txt", "", 404),
        ("/a.txt", "/.shelf-tmp-1-1", "", 404),
        ("/a.txt", "/d/.shelf-tmp-99-0", "", 404),
        // The source itself, however it is spelled; a folder into itself or over its parent.
        ("/a.txt", "/a.txt", "", 403),
        ("/a.txt", "/./d/../a.txt", "", 403),
        ("/d/", "/d", "", 403),
        ("/d", "/d/sub/copy", "", 403),
        ("/d/", "/d/x", "", 403),
        ("/d/sub", "/d", "", 403),
        ("/", "/copy", "", 403),
        ("/a.txt", "/", "", 403),
        // Headers.
        ("/a.txt", "/b.txt", "Overwrite: maybe\r\n", 400),
        ("/a.txt", "/b.txt", "Depth: 2\r\n", 400),
        ("/a.txt", "/b.txt", "Destination: /c.txt\r\n", 400),
    ];
    for method in ["COPY", "MOVE"] {
        for (from, to, headers, status) in rows {
            let resp = relocate(&srv, method, from, to, headers);
            assert_eq!(
                resp.status,
                *status,
                "{method} {from} -> {to}: {}",
                resp.text()
            );
            let now = (tree(&srv.public()), tree(outside.path()));
            assert_eq!(now, before, "{method} {from} -> {to} changed the disk");
            assert!(
                !resp.text().contains(&*srv.public().to_string_lossy()),
                "host path"
            );
        }
    }
    let missing = request(&srv, "COPY", "/a.txt", "");
    assert_eq!(missing.status, 400, "no Destination");
}

/// `hidden = true` serves dot-files, but temporary names stay out of reach.
#[test]
fn temporary_names_are_refused_even_with_hidden() {
    let srv = TestServer::start_with("hidden = true", DAV, |p| {
        fs::write(p.join("a.txt"), b"alpha").unwrap();
    });
    let resp = relocate(&srv, "COPY", "/a.txt", "/.shelf-tmp-1-2", "");
    assert_eq!(resp.status, 404);
    let resp = relocate(&srv, "COPY", "/a.txt", "/.dot", "");
    assert_eq!(resp.status, 201, "a dot-file is a name like any other here");
    let resp = send(&srv, "MKCOL", "/.shelf-tmp-3-4/", "", b"");
    assert_eq!(resp.status, 404);
}

#[test]
fn copy_file_statuses() {
    let srv = dav(|p| {
        fs::write(p.join("a.txt"), b"alpha").unwrap();
        fs::write(p.join("b.txt"), b"bravo").unwrap();
        fs::create_dir(p.join("folder")).unwrap();
        fs::write(p.join("folder/x"), b"x").unwrap();
    });
    let public = srv.public();
    let created = relocate(&srv, "COPY", "/a.txt", "http://t/new%20name.txt", "");
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/new%20name.txt"));
    assert_eq!(fs::read(public.join("new name.txt")).unwrap(), b"alpha");
    assert_eq!(
        fs::read(public.join("a.txt")).unwrap(),
        b"alpha",
        "source kept"
    );
    let kept = relocate(&srv, "COPY", "/a.txt", "/b.txt", "Overwrite: F\r\n");
    assert_eq!(kept.status, 412);
    assert_eq!(fs::read(public.join("b.txt")).unwrap(), b"bravo");
    let replaced = relocate(&srv, "COPY", "/a.txt", "/b.txt", "Overwrite: T\r\n");
    assert_eq!(replaced.status, 204);
    assert_eq!(fs::read(public.join("b.txt")).unwrap(), b"alpha");
    // RFC 4918 §9.8.4 (litmus copy_overwrite): a file over a folder replaces it.
    let over_folder = relocate(&srv, "COPY", "/a.txt", "/folder/", "");
    assert_eq!(over_folder.status, 204);
    assert_eq!(fs::read(public.join("folder")).unwrap(), b"alpha");
    let no_parent = relocate(&srv, "COPY", "/a.txt", "/nonesuch/a.txt", "");
    assert_eq!(no_parent.status, 409);
    let through_file = relocate(&srv, "COPY", "/a.txt", "/b.txt/a.txt", "");
    assert_eq!(through_file.status, 409);
    let depth_one = relocate(&srv, "COPY", "/a.txt", "/c.txt", "Depth: 1\r\n");
    assert_eq!(depth_one.status, 400);
    let no_source = relocate(&srv, "COPY", "/nothing.txt", "/c.txt", "");
    assert_eq!(no_source.status, 404);
    let temps: Vec<_> = tree(&public)
        .into_iter()
        .filter(|p| p.contains(".shelf-tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn copy_folder_statuses() {
    let srv = dav(|p| {
        fs::create_dir_all(p.join("src/sub/deep")).unwrap();
        fs::write(p.join("src/one.txt"), b"one").unwrap();
        fs::write(p.join("src/sub/deep/two.txt"), b"two").unwrap();
        fs::write(p.join("src/.dot"), b"dot").unwrap();
        std::os::unix::fs::symlink("one.txt", p.join("src/link")).unwrap();
        fs::create_dir_all(p.join("old/stale")).unwrap();
        fs::write(p.join("old/stale/x"), b"x").unwrap();
    });
    let public = srv.public();
    let deep = relocate(&srv, "COPY", "/src/", "/copy/", "");
    assert_eq!(deep.status, 201, "{}", deep.text());
    assert_eq!(tree(&public.join("copy")), tree(&public.join("src")));
    assert_eq!(
        fs::read_link(public.join("copy/link")).unwrap(),
        Path::new("one.txt")
    );
    let shallow = relocate(&srv, "COPY", "/src", "/shallow", "Depth: 0\r\n");
    assert_eq!(shallow.status, 201);
    assert!(
        tree(&public.join("shallow")).is_empty(),
        "Depth 0: the folder alone"
    );
    let kept = relocate(&srv, "COPY", "/src/", "/old/", "Overwrite: F\r\n");
    assert_eq!(kept.status, 412);
    // Replaced, not merged: the old folder's members are gone.
    let replaced = relocate(&srv, "COPY", "/src/", "/old/", "");
    assert_eq!(replaced.status, 204);
    assert_eq!(tree(&public.join("old")), tree(&public.join("src")));
    let over_file = relocate(&srv, "COPY", "/src", "/copy/one.txt", "");
    assert_eq!(over_file.status, 204);
    assert!(public.join("copy/one.txt/sub/deep/two.txt").exists());
    let depth_one = relocate(&srv, "COPY", "/src/", "/other/", "Depth: 1\r\n");
    assert_eq!(depth_one.status, 400);
    assert!(!public.join("other").exists());
}

#[test]
fn move_statuses() {
    let srv = dav(|p| {
        for name in ["a.txt", "b.txt", "c.txt"] {
            fs::write(p.join(name), name).unwrap();
        }
        fs::create_dir_all(p.join("dir/sub")).unwrap();
        fs::write(p.join("dir/sub/x"), b"x").unwrap();
        fs::create_dir(p.join("coll")).unwrap();
    });
    let public = srv.public();
    let created = relocate(&srv, "MOVE", "/a.txt", "/moved.txt", "");
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/moved.txt"));
    assert!(!public.join("a.txt").exists());
    assert_eq!(fs::read(public.join("moved.txt")).unwrap(), b"a.txt");
    let kept = relocate(&srv, "MOVE", "/b.txt", "/moved.txt", "Overwrite: F\r\n");
    assert_eq!(kept.status, 412);
    assert!(public.join("b.txt").exists());
    let replaced = relocate(&srv, "MOVE", "/b.txt", "/moved.txt", "");
    assert_eq!(replaced.status, 204);
    assert_eq!(fs::read(public.join("moved.txt")).unwrap(), b"b.txt");
    let over_folder = relocate(&srv, "MOVE", "/moved.txt", "/coll/", "");
    assert_eq!(over_folder.status, 204);
    assert_eq!(fs::read(public.join("coll")).unwrap(), b"b.txt");
    let folder = relocate(&srv, "MOVE", "/dir/", "/renamed/", "");
    assert_eq!(folder.status, 201);
    assert_eq!(fs::read(public.join("renamed/sub/x")).unwrap(), b"x");
    let depth_zero = relocate(&srv, "MOVE", "/renamed/", "/again/", "Depth: 0\r\n");
    assert_eq!(depth_zero.status, 400);
    let no_parent = relocate(&srv, "MOVE", "/c.txt", "/nonesuch/c.txt", "");
    assert_eq!(no_parent.status, 409);
    assert!(public.join("c.txt").exists());
    let gone = relocate(&srv, "MOVE", "/a.txt", "/z.txt", "");
    assert_eq!(gone.status, 404);
}

/// MOVE between the root and a `dir` route: one rename on one file system, a copy then a
/// deletion across two (`/dev/shm` is tmpfs where it exists).
#[test]
fn move_between_roots() {
    let local = TempDir::new("ns-route");
    let shm = Path::new("/dev/shm");
    let far = (shm.is_dir() && fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()))
        .then(|| shm.join(format!("shelf-ns-{}", std::process::id())));
    if let Some(far) = &far {
        let _ = fs::remove_dir_all(far);
        fs::create_dir_all(far).unwrap();
    }
    let mut routes = format!(
        "[[route]]\npath = \"/near/*\"\ndir = \"{}\"\n",
        local.0.display()
    );
    if let Some(far) = &far {
        routes.push_str(&format!(
            "\n[[route]]\npath = \"/far/*\"\ndir = \"{}\"\n",
            far.display()
        ));
    }
    let srv = TestServer::start_with("", &format!("{routes}\n{DAV}"), |p| {
        fs::write(p.join("a.txt"), b"alpha").unwrap();
        fs::create_dir_all(p.join("tree/sub")).unwrap();
        fs::write(p.join("tree/sub/x"), b"x").unwrap();
    });
    let public = srv.public();
    let near = relocate(&srv, "MOVE", "/a.txt", "/near/a.txt", "");
    assert_eq!(near.status, 201);
    assert_eq!(fs::read(local.0.join("a.txt")).unwrap(), b"alpha");
    let back = relocate(&srv, "MOVE", "/near/a.txt", "/a.txt", "");
    assert_eq!(back.status, 201);
    let Some(far) = far else {
        eprintln!("no /dev/shm: the cross-device rows are skipped");
        return;
    };
    let file = relocate(&srv, "MOVE", "/a.txt", "/far/a.txt", "");
    assert_eq!(file.status, 201, "{}", file.text());
    assert!(!public.join("a.txt").exists());
    assert_eq!(fs::read(far.join("a.txt")).unwrap(), b"alpha");
    let folder = relocate(&srv, "MOVE", "/tree/", "/far/tree/", "");
    assert_eq!(folder.status, 201, "{}", folder.text());
    assert!(!public.join("tree").exists());
    assert_eq!(fs::read(far.join("tree/sub/x")).unwrap(), b"x");
    let replace = relocate(&srv, "COPY", "/far/tree/", "/tree", "");
    assert_eq!(replace.status, 201);
    let over = relocate(&srv, "MOVE", "/tree", "/far/tree", "");
    assert_eq!(over.status, 204, "{}", over.text());
    assert!(!public.join("tree").exists());
    let leftovers: Vec<_> = tree(&far)
        .into_iter()
        .filter(|p| p.contains(".shelf-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(&far).unwrap();
}

/// COPY reads its source (a GET rule decides) and writes its destination (a COPY rule);
/// MOVE writes both; the destination's rule asks for its own users.
#[test]
fn copy_and_move_follow_the_acl_at_both_ends() {
    static USERS: OnceLock<String> = OnceLock::new();
    let users = USERS.get_or_init(|| {
        let hash = bcrypt::hash("pw", 4).unwrap();
        format!("[users]\nalice = \"{hash}\"\n")
    });
    let extra = format!(
        "{users}\n[webdav]\nenabled = true\n\n\
         [[acl]]\npath = \"/up/*\"\nmethods = [\"COPY\", \"MOVE\", \"MKCOL\"]\n\n\
         [[acl]]\npath = \"/alice/*\"\nmethods = [\"COPY\"]\nusers = [\"alice\"]\n\n\
         [[acl]]\npath = \"/private/*\"\nmethods = [\"GET\", \"HEAD\"]\nusers = [\"alice\"]\n"
    );
    let srv = TestServer::start_with("", &extra, |p| {
        for dir in ["ro", "up", "alice", "private"] {
            fs::create_dir(p.join(dir)).unwrap();
        }
        fs::write(p.join("ro/a.txt"), b"a").unwrap();
        fs::write(p.join("private/p.txt"), b"p").unwrap();
    });
    let alice = "Authorization: Basic YWxpY2U6cHc=\r\n";
    let rows: &[(&str, &str, &str, &str, u16)] = &[
        // Hostile rows first.
        ("MOVE", "/ro/a.txt", "/up/a.txt", "", 405),
        ("COPY", "/ro/a.txt", "/ro/b.txt", "", 403),
        ("COPY", "/ro/a.txt", "/alice/a.txt", "", 401),
        ("COPY", "/private/p.txt", "/up/p.txt", "", 401),
        // Then what is allowed.
        ("COPY", "/ro/a.txt", "/up/a.txt", "", 201),
        ("COPY", "/ro/a.txt", "/alice/a.txt", alice, 201),
        ("COPY", "/private/p.txt", "/up/p.txt", alice, 201),
        ("MOVE", "/up/a.txt", "/up/b.txt", "", 201),
    ];
    for (method, from, to, headers, status) in rows {
        let resp = relocate(&srv, method, from, to, headers);
        assert_eq!(
            resp.status,
            *status,
            "{method} {from} -> {to}: {}",
            resp.text()
        );
    }
    assert!(
        srv.public().join("ro/a.txt").exists(),
        "the read-only source stays"
    );
}

#[test]
fn mkcol_statuses() {
    let srv = dav(|p| {
        fs::write(p.join("file.txt"), b"f").unwrap();
        fs::create_dir(p.join("exists")).unwrap();
    });
    let public = srv.public();
    // Hostile rows first.
    let rows: &[(&str, &str, &[u8], u16)] = &[
        ("/.hidden/", "", b"", 404),
        ("/.shelf-tmp-1-1/", "", b"", 404),
        ("/%2e%2e/x/", "", b"", 400),
        ("/with-body/", "Content-Type: text/xml\r\n", b"<x/>", 415),
        ("/no/parent/", "", b"", 409),
        ("/file.txt/x/", "", b"", 409),
        ("/exists/", "", b"", 405),
        ("/exists", "", b"", 405),
        ("/file.txt", "", b"", 405),
        ("/", "", b"", 405),
    ];
    for (target, headers, body, status) in rows {
        let resp = send(&srv, "MKCOL", target, headers, body);
        assert_eq!(resp.status, *status, "MKCOL {target}: {}", resp.text());
        if *status == 405 {
            let allow = resp.header("allow").unwrap_or_default();
            assert!(
                allow.contains("DELETE") && !allow.contains("MKCOL"),
                "{allow}"
            );
        }
    }
    let chunked = srv.send(
        b"MKCOL /chunked/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
          Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(chunked.status, 415);
    assert_eq!(
        tree(&public),
        ["exists/", "file.txt"],
        "nothing was created"
    );
    let created = send(&srv, "MKCOL", "/new%20folder", "", b"");
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/new%20folder/"));
    assert!(public.join("new folder").is_dir());
    let empty_chunked = srv.send(
        b"MKCOL /empty/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
          Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(empty_chunked.status, 201);
}

/// With WebDAV on, PUT creates no folders (RFC 4918 §9.7.1): 409, nothing left behind.
#[test]
fn put_without_a_parent_is_a_conflict() {
    let srv = dav(|_| {});
    let resp = send(&srv, "PUT", "/409me/noparent.txt", "", b"x");
    assert_eq!(resp.status, 409);
    assert!(tree(&srv.public()).is_empty());
    assert_eq!(send(&srv, "MKCOL", "/409me/", "", b"").status, 201);
    assert_eq!(
        send(&srv, "PUT", "/409me/noparent.txt", "", b"x").status,
        201
    );
}

#[test]
fn delete_is_recursive_with_webdav_on() {
    let srv = dav(|p| {
        fs::create_dir_all(p.join("d/sub/deeper")).unwrap();
        fs::write(p.join("d/sub/deeper/x"), b"x").unwrap();
        fs::write(p.join("d/.dot"), b"dot").unwrap();
        std::os::unix::fs::symlink("/", p.join("d/root-link")).unwrap();
        fs::create_dir(p.join("keep")).unwrap();
        fs::write(p.join("keep/y"), b"y").unwrap();
    });
    let public = srv.public();
    let depth_zero = request(&srv, "DELETE", "/keep/", "Depth: 0\r\n");
    assert_eq!(depth_zero.status, 400);
    assert!(public.join("keep/y").exists());
    let root = request(&srv, "DELETE", "/", "");
    assert_eq!(root.status, 403);
    let resp = request(&srv, "DELETE", "/d", "");
    assert_eq!(resp.status, 204);
    assert_eq!(tree(&public), ["keep/", "keep/y"]);
    assert!(Path::new("/").exists(), "a link is removed, never followed");
    let again = request(&srv, "DELETE", "/d/", "");
    assert_eq!(again.status, 404);
}

/// With WebDAV off, a folder with anything in it is still 409.
#[test]
fn delete_stays_shallow_with_webdav_off() {
    let acl = "[[acl]]\npath = \"/*\"\nmethods = [\"DELETE\"]\n";
    let srv = TestServer::start_with("", acl, |p| {
        fs::create_dir(p.join("d")).unwrap();
        fs::write(p.join("d/x"), b"x").unwrap();
    });
    assert_eq!(request(&srv, "DELETE", "/d/", "").status, 409);
    assert!(srv.public().join("d/x").exists());
}

/// A file that cannot be unlinked even by root (the immutable flag); `false` where the file
/// system has no such flag or the process may not set it.
fn pin(path: &Path, on: bool) -> bool {
    use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
    let Ok(file) = File::open(path) else {
        return false;
    };
    let flags = ioctl_getflags(&file).unwrap_or(IFlags::empty());
    let flags = match on {
        true => flags | IFlags::IMMUTABLE,
        false => flags - IFlags::IMMUTABLE,
    };
    ioctl_setflags(&file, flags).is_ok()
}

/// RFC 4918 §9.6.2: members that cannot be deleted come back in a 207, and stay with their
/// ancestors under the folder's name; all else goes.
#[test]
fn delete_answers_207_for_members_that_stay() {
    let srv = dav(|p| {
        fs::create_dir_all(p.join("d/a b/c")).unwrap();
        fs::write(p.join("d/a b/c/pinned é.txt"), b"x").unwrap();
        fs::write(p.join("d/a b/free"), b"x").unwrap();
        fs::write(p.join("d/top"), b"x").unwrap();
    });
    let pinned = srv.public().join("d/a b/c/pinned é.txt");
    if !pin(&pinned, true) || fs::remove_file(&pinned).is_ok() {
        eprintln!("cannot pin a file here: skipped");
        return;
    }
    let resp = request(&srv, "DELETE", "/d/", "");
    pin(&pinned, false);
    assert_eq!(resp.status, 207, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let xml = resp.text();
    assert!(
        xml.contains("<D:href>/d/a%20b/c/pinned%20%C3%A9.txt</D:href>"),
        "{xml}"
    );
    assert!(
        xml.contains("<D:status>HTTP/1.1 403 Forbidden</D:status>"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<D:response>").count(),
        1,
        "ancestors are not listed: {xml}"
    );
    assert_eq!(
        tree(&srv.public()),
        ["d/", "d/a b/", "d/a b/c/", "d/a b/c/pinned é.txt"]
    );
}

/// COPY carries the dead properties (`user.shelf.dav.*` attributes) of every file and folder,
/// and only those; MOVE keeps them.
#[test]
fn copy_carries_dead_properties() {
    use rustix::fs::{XattrFlags, getxattr, setxattr};
    let srv = dav(|p| {
        fs::create_dir_all(p.join("d/sub")).unwrap();
        fs::write(p.join("d/sub/f"), b"f").unwrap();
    });
    let public = srv.public();
    let set = |path: &Path, name: &str| setxattr(path, name, b"v", XattrFlags::empty());
    if set(&public.join("d/sub/f"), "user.shelf.dav.x").is_err() {
        eprintln!("no user xattrs here: skipped");
        return;
    }
    set(&public.join("d/sub"), "user.shelf.dav.y").unwrap();
    set(&public.join("d/sub/f"), "user.other").unwrap();
    assert_eq!(relocate(&srv, "COPY", "/d/", "/c/", "").status, 201);
    assert_eq!(relocate(&srv, "COPY", "/d/sub/f", "/f", "").status, 201);
    assert_eq!(relocate(&srv, "MOVE", "/c/", "/m/", "").status, 201);
    let get = |path: &str, name: &str| {
        let mut buf = [0u8; 8];
        getxattr(public.join(path), name, &mut buf[..]).map(|n| buf[..n].to_vec())
    };
    assert_eq!(get("m/sub/f", "user.shelf.dav.x").unwrap(), b"v");
    assert_eq!(get("m/sub", "user.shelf.dav.y").unwrap(), b"v");
    assert_eq!(get("f", "user.shelf.dav.x").unwrap(), b"v");
    assert!(
        get("f", "user.other").is_err(),
        "only the dead properties travel"
    );
}

/// What a GET served from the cache before a COPY, MOVE or DELETE is not served after it.
#[test]
fn the_cache_forgets_what_moved() {
    let srv = dav(|p| {
        fs::write(p.join("a.txt"), b"alpha").unwrap();
        fs::write(p.join("b.txt"), b"bravo").unwrap();
    });
    for _ in 0..2 {
        assert_eq!(srv.get("/b.txt", "").body, b"bravo");
        assert_eq!(srv.get("/a.txt", "").body, b"alpha");
    }
    assert_eq!(relocate(&srv, "COPY", "/a.txt", "/b.txt", "").status, 204);
    assert_eq!(srv.get("/b.txt", "").body, b"alpha");
    assert_eq!(relocate(&srv, "MOVE", "/a.txt", "/c.txt", "").status, 201);
    assert_eq!(srv.get("/a.txt", "").status, 404);
    assert_eq!(srv.get("/c.txt", "").body, b"alpha");
    assert_eq!(request(&srv, "DELETE", "/c.txt", "").status, 204);
    assert_eq!(srv.get("/c.txt", "").status, 404);
}

/// PUTs, COPYs and MOVEs racing onto one path, with a reader: every read is one whole body
/// of one writer (each writer's body is one repeated byte), never a mix or a short file.
#[test]
fn concurrent_move_copy_put_never_tear_a_file() {
    const SIZE: usize = 256 * 1024;
    const ROUNDS: usize = 12;
    let srv = dav(|p| {
        fs::write(p.join("target"), vec![b'0'; SIZE]).unwrap();
        fs::write(p.join("copy-src"), vec![b'c'; SIZE]).unwrap();
        fs::create_dir(p.join("stage")).unwrap();
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let srv = &srv;
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                let resp = srv.get("/target", "");
                assert_eq!(resp.status, 200, "the target is never missing");
                assert_eq!(resp.body.len(), SIZE, "a short file");
                let first = resp.body[0];
                assert!(resp.body.iter().all(|&b| b == first), "a torn file");
                reads += 1;
            }
            reads
        });
        let writers = [
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let resp = send(srv, "PUT", "/target", "", &vec![b'p'; SIZE]);
                    assert!(matches!(resp.status, 201 | 204), "PUT {}", resp.status);
                }
            }),
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let resp = relocate(srv, "COPY", "/copy-src", "/target", "");
                    assert_eq!(resp.status, 204, "COPY");
                }
            }),
            s.spawn(|| {
                for i in 0..ROUNDS {
                    let staged = format!("/stage/m{i}");
                    let put = send(srv, "PUT", &staged, "", &vec![b'm'; SIZE]);
                    assert_eq!(put.status, 201);
                    let resp = relocate(srv, "MOVE", &staged, "/target", "");
                    assert_eq!(resp.status, 204, "MOVE");
                }
            }),
        ];
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    poll_until("no temporary file is left", || {
        !tree(&srv.public())
            .iter()
            .any(|p| p.contains(".shelf-tmp-"))
    });
}
