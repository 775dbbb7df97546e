//! WebDAV locks over real TCP (issue 11 item 6, RFC 4918 §6, §7, §9.10, §9.11, §10.4): LOCK and
//! UNLOCK, exclusive and shared conflicts, Depth infinity, refresh, expiry, locks on unmapped
//! URLs, writes to locked resources with and without their token, and the `If` header.

mod common;

use std::sync::OnceLock;

use common::{Resp, TestServer, poll_until};

/// WebDAV on, and every method open to anyone everywhere.
const DAV_OPEN: &str = "[webdav]\nenabled = true\n\n[[acl]]\npath = \"/*\"\nmethods = [\"*\"]\n";

const EXCLUSIVE: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
    <D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
    <D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:me@example.org</D:href>\
    </D:owner></D:lockinfo>";

const SHARED: &str = "<?xml version=\"1.0\"?><lockinfo xmlns=\"DAV:\"><lockscope><shared/>\
    </lockscope><locktype><write/></locktype><owner>someone else</owner></lockinfo>";

/// A server with WebDAV on over `a.txt`, `dir/b.txt` and `dir/sub/c.txt`.
fn server() -> TestServer {
    TestServer::start_with("", DAV_OPEN, |public| {
        std::fs::write(public.join("ok.txt"), "ok\n").unwrap();
        std::fs::write(public.join("a.txt"), "a\n").unwrap();
        std::fs::create_dir_all(public.join("dir/sub")).unwrap();
        std::fs::write(public.join("dir/b.txt"), "b\n").unwrap();
        std::fs::write(public.join("dir/sub/c.txt"), "c\n").unwrap();
    })
}

/// `method path` with extra header lines (each ending in `\r\n`) and a body.
fn dav(srv: &TestServer, method: &str, path: &str, headers: &str, body: &str) -> Resp {
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    srv.send(raw.as_bytes())
}

/// A LOCK of `path` with `body` and extra headers.
fn lock(srv: &TestServer, path: &str, headers: &str, body: &str) -> Resp {
    dav(srv, "LOCK", path, headers, body)
}

/// Takes an exclusive lock on `path` (Depth as given) and returns its token.
fn take(srv: &TestServer, path: &str, depth: &str, body: &str) -> String {
    let resp = lock(srv, path, &format!("Depth: {depth}\r\n"), body);
    assert!(matches!(resp.status, 200 | 201), "LOCK {path}: {resp:?}");
    token_of(&resp)
}

/// The token of a LOCK's `Lock-Token` header, without its brackets.
fn token_of(resp: &Resp) -> String {
    let header = resp.header("lock-token").expect("Lock-Token");
    let token = header.strip_prefix('<').and_then(|t| t.strip_suffix('>'));
    token.expect("<token>").to_string()
}

/// `If: (<token>)`.
fn with(token: &str) -> String {
    format!("If: (<{token}>)\r\n")
}

fn put(srv: &TestServer, path: &str, headers: &str) -> u16 {
    dav(srv, "PUT", path, headers, "new\n").status
}

/// The ETag a GET of `path` returns.
fn etag(srv: &TestServer, path: &str) -> String {
    let resp = srv.get(path, "");
    resp.header("etag").expect("ETag").to_string()
}

/// Asserts `resp` is 423 with the `lock-token-submitted` element naming `href`.
fn assert_token_wanted(resp: &Resp, href: &str, what: &str) {
    assert_eq!(resp.status, 423, "{what}: {resp:?}");
    let body = resp.text();
    let want = format!("<D:lock-token-submitted><D:href>{href}</D:href>");
    assert!(body.contains(&want), "{what}: {body}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
}

#[test]
fn lock_and_unlock() {
    let srv = server();
    let resp = lock(&srv, "/a.txt", "Timeout: Second-600\r\n", EXCLUSIVE);
    assert_eq!(resp.status, 200, "{resp:?}");
    let token = token_of(&resp);
    assert!(
        token.starts_with("urn:uuid:") && token.len() == 45,
        "{token}"
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let body = resp.text();
    for part in [
        "<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery><D:activelock>",
        "<D:locktype><D:write/></D:locktype>",
        "<D:lockscope><D:exclusive/></D:lockscope>",
        "<D:depth>infinity</D:depth>",
        "<D:owner><href xmlns=\"DAV:\">mailto:me@example.org</href></D:owner>",
        "<D:timeout>Second-600</D:timeout>",
        &format!("<D:locktoken><D:href>{token}</D:href></D:locktoken>"),
        "<D:lockroot><D:href>/a.txt</D:href></D:lockroot>",
    ] {
        assert!(body.contains(part), "{part} not in {body}");
    }
    let unlock = |headers: &str| dav(&srv, "UNLOCK", "/a.txt", headers, "");
    assert_eq!(unlock(&format!("Lock-Token: <{token}>\r\n")).status, 204);
    assert_eq!(put(&srv, "/a.txt", ""), 204, "unlocked");
    let again = unlock(&format!("Lock-Token: <{token}>\r\n"));
    assert_eq!(again.status, 409);
    assert!(
        again
            .text()
            .contains("<D:lock-token-matches-request-uri></D:lock-token-matches-request-uri>"),
        "{}",
        again.text()
    );
    assert_eq!(unlock("").status, 400, "no Lock-Token");
    assert_eq!(unlock(&format!("Lock-Token: {token}\r\n")).status, 400);
}

#[test]
fn unlock_needs_a_token_whose_lock_covers_the_url() {
    let srv = server();
    let a = take(&srv, "/a.txt", "0", EXCLUSIVE);
    let b = take(&srv, "/dir/b.txt", "0", EXCLUSIVE);
    let unlock = |path: &str, token: &str| {
        let headers = format!("Lock-Token: <{token}>\r\n");
        dav(&srv, "UNLOCK", path, &headers, "").status
    };
    assert_eq!(unlock("/a.txt", &b), 409, "another resource's lock");
    assert_eq!(unlock("/a.txt", "opaquelocktoken:foobar"), 409);
    assert_eq!(unlock("/dir/b.txt", &b), 204);
    assert_eq!(unlock("/a.txt", &a), 204);
}

#[test]
fn writes_to_a_locked_file_need_its_token() {
    let srv = server();
    let token = take(&srv, "/a.txt", "0", EXCLUSIVE);
    // Hostile rows first: no token, one only almost right in a list that holds anyway.
    for (what, headers) in [
        ("none", String::new()),
        (
            "corrupt",
            format!("If: (<{token}x>) (Not <DAV:no-lock>)\r\n"),
        ),
    ] {
        let resp = dav(&srv, "PUT", "/a.txt", &headers, "new\n");
        assert_token_wanted(&resp, "/a.txt", what);
        let resp = dav(&srv, "DELETE", "/a.txt", &headers, "");
        assert_token_wanted(&resp, "/a.txt", what);
    }
    // A token the file does not hold makes the If header false: 412 comes first.
    let wrong = with("urn:uuid:00000000-0000-4000-8000-000000000000");
    assert_eq!(put(&srv, "/a.txt", &wrong), 412);
    // The writes dispatch checks before their handler: MOVE's source and PROPPATCH too. COPY
    // only reads its source.
    assert_eq!(dav(&srv, "PROPPATCH", "/a.txt", "", "").status, 423);
    let to_b = "Destination: http://t/moved.txt\r\n";
    assert_eq!(dav(&srv, "MOVE", "/a.txt", to_b, "").status, 423);
    assert_ne!(dav(&srv, "COPY", "/a.txt", to_b, "").status, 423);
    assert_eq!(std::fs::read(srv.public().join("a.txt")).unwrap(), b"a\n");
    // Reads need nothing.
    assert_eq!(srv.get("/a.txt", "").status, 200);
    // With the token, untagged or tagged with the URL, absolute or not.
    assert_eq!(put(&srv, "/a.txt", &with(&token)), 204);
    let tagged = format!("If: <http://t/a.txt> (<{token}>)\r\n");
    assert_eq!(put(&srv, "/a.txt", &tagged), 204);
    let by_path = format!("If: </a.txt> (<{token}>)\r\n");
    assert_eq!(put(&srv, "/a.txt", &by_path), 204);
    // The lock outlives the file's replacement (PUT renames a new file into place).
    assert_eq!(put(&srv, "/a.txt", ""), 423);
    assert_eq!(dav(&srv, "DELETE", "/a.txt", &with(&token), "").status, 204);
    assert!(!srv.public().join("a.txt").exists());
}

#[test]
fn exclusive_and_shared_locks() {
    let srv = server();
    let conflict = |resp: &Resp, href: &str| {
        assert_eq!(resp.status, 423, "{resp:?}");
        let want = format!("<D:no-conflicting-lock><D:href>{href}</D:href>");
        assert!(resp.text().contains(&want), "{}", resp.text());
        assert_eq!(resp.header("lock-token"), None);
    };
    let exclusive = take(&srv, "/a.txt", "0", EXCLUSIVE);
    conflict(&lock(&srv, "/a.txt", "", SHARED), "/a.txt");
    conflict(&lock(&srv, "/a.txt", "", EXCLUSIVE), "/a.txt");
    // Even its holder gets no second exclusive lock.
    conflict(
        &lock(&srv, "/a.txt", &with(&exclusive), EXCLUSIVE),
        "/a.txt",
    );
    let first = take(&srv, "/dir/b.txt", "0", SHARED);
    let second = take(&srv, "/dir/b.txt", "0", SHARED);
    assert_ne!(first, second);
    conflict(&lock(&srv, "/dir/b.txt", "", EXCLUSIVE), "/dir/b.txt");
    // Either shared token lets a write through; none does not.
    assert_eq!(put(&srv, "/dir/b.txt", ""), 423);
    assert_eq!(put(&srv, "/dir/b.txt", &with(&second)), 204);
    let body = srv.get("/dir/b.txt", "");
    assert_eq!(body.text(), "new\n");
}

#[test]
fn a_depth_infinity_lock_covers_a_folder_and_all_below() {
    let srv = server();
    let token = take(&srv, "/dir/", "infinity", EXCLUSIVE);
    for (path, status) in [
        ("/dir/b.txt", 423),
        ("/dir/sub/c.txt", 423),
        ("/dir/new.txt", 423),
        ("/dir/sub/deeper/new.txt", 423),
        ("/dirt.txt", 201),
        ("/a.txt", 204),
    ] {
        assert_eq!(put(&srv, path, ""), status, "PUT {path} without the token");
    }
    let resp = dav(&srv, "PUT", "/dir/sub/c.txt", "", "x");
    assert_token_wanted(&resp, "/dir/", "member");
    assert_eq!(put(&srv, "/dir/sub/c.txt", &with(&token)), 204);
    assert_eq!(put(&srv, "/dir/new.txt", &with(&token)), 201);
    // A lock on a member overlaps the folder's exclusive lock.
    assert_eq!(lock(&srv, "/dir/b.txt", "Depth: 0\r\n", SHARED).status, 423);
    assert_eq!(dav(&srv, "DELETE", "/dir/", "", "").status, 423);
    // The lock is discovered through the member (RFC 4918 §10.4.4: "anywhere in the scope").
    let folder_tag = format!("If: <http://t/dir/> (<{token}>)\r\n");
    assert_eq!(put(&srv, "/dir/b.txt", &folder_tag), 204);
}

#[test]
fn a_depth_zero_folder_lock_guards_its_members_list_only() {
    let srv = server();
    let token = take(&srv, "/dir/", "0", EXCLUSIVE);
    assert_eq!(
        put(&srv, "/dir/b.txt", ""),
        204,
        "a member's content is not guarded"
    );
    let resp = dav(&srv, "PUT", "/dir/new.txt", "", "x");
    assert_token_wanted(&resp, "/dir/", "a new member");
    let resp = dav(&srv, "DELETE", "/dir/b.txt", "", "");
    assert_token_wanted(&resp, "/dir/", "a member removed");
    assert_eq!(put(&srv, "/dir/sub/new.txt", ""), 201, "a grandchild");
    // The folder's token, in a list about the folder: an untagged list is about the new file,
    // which the lock does not cover, so it is false (412).
    assert_eq!(put(&srv, "/dir/new.txt", &with(&token)), 412);
    let tagged = format!("If: <http://t/dir/> (<{token}>)\r\n");
    assert_eq!(put(&srv, "/dir/new.txt", &tagged), 201);
    assert_eq!(lock(&srv, "/dir/b.txt", "Depth: 0\r\n", SHARED).status, 200);
}

#[test]
fn a_lock_below_blocks_a_depth_infinity_lock_above() {
    let srv = server();
    take(&srv, "/dir/sub/c.txt", "0", SHARED);
    let resp = lock(&srv, "/dir/", "Depth: infinity\r\n", EXCLUSIVE);
    assert_eq!(resp.status, 423, "{resp:?}");
    let want = "<D:no-conflicting-lock><D:href>/dir/sub/c.txt</D:href>";
    assert!(resp.text().contains(want), "{}", resp.text());
    assert_eq!(
        lock(&srv, "/", "", EXCLUSIVE).status,
        423,
        "the root, infinity"
    );
    // Removing the folder would remove the locked member with it.
    let resp = dav(&srv, "DELETE", "/dir/sub/", "", "");
    assert_token_wanted(
        &resp,
        "/dir/sub/c.txt",
        "DELETE of a folder with a locked member",
    );
    // Depth 0 on the folder does not reach the member; a shared lock coexists.
    assert_eq!(lock(&srv, "/dir/", "Depth: 0\r\n", EXCLUSIVE).status, 200);
    assert_eq!(lock(&srv, "/dir/sub/", "", SHARED).status, 200);
}

#[test]
fn refresh_renews_the_same_lock() {
    let srv = server();
    let resp = lock(&srv, "/dir/", "Timeout: Second-100\r\n", EXCLUSIVE);
    let token = token_of(&resp);
    let refresh = |path: &str, headers: &str| lock(&srv, path, headers, "");
    let resp = refresh("/dir/", &format!("{}Timeout: Second-200\r\n", with(&token)));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("lock-token"), None, "RFC 4918 §9.10.2");
    let body = resp.text();
    assert!(
        body.contains(&format!("<D:href>{token}</D:href>")),
        "{body}"
    );
    assert!(body.contains("<D:timeout>Second-200</D:timeout>"), "{body}");
    // Through a member of the folder, as litmus's indirect_refresh does; the lock stays whole.
    let resp = refresh("/dir/sub/c.txt", &with(&token));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.text().contains("<D:lockroot><D:href>/dir/</D:href>"));
    assert!(resp.text().contains("<D:timeout>Second-3600</D:timeout>"));
    // Unknown tokens, or none: nothing to refresh.
    assert_eq!(refresh("/dir/", &with("urn:uuid:nope")).status, 412);
    assert_eq!(refresh("/a.txt", &with(&token)).status, 412);
    assert_eq!(refresh("/dir/", "").status, 400);
    assert_eq!(put(&srv, "/dir/b.txt", ""), 423, "still locked");
}

#[test]
fn an_expired_lock_vanishes() {
    let srv = server();
    let resp = lock(&srv, "/a.txt", "Timeout: Second-1\r\n", EXCLUSIVE);
    assert!(resp.text().contains("<D:timeout>Second-1</D:timeout>"));
    let token = token_of(&resp);
    // Within its second (or its expiry is what let this through, and the poll says so).
    let early = put(&srv, "/a.txt", "");
    assert!(matches!(early, 423 | 204), "{early}");
    poll_until("the lock to expire", || put(&srv, "/a.txt", "") == 204);
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(dav(&srv, "UNLOCK", "/a.txt", &unlock, "").status, 409);
    assert_eq!(lock(&srv, "/a.txt", "", EXCLUSIVE).status, 200);
}

#[test]
fn a_lock_on_an_unmapped_url_makes_an_empty_file() {
    let srv = server();
    let resp = lock(&srv, "/new.txt", "Depth: 0\r\n", EXCLUSIVE);
    assert_eq!(resp.status, 201, "{resp:?}");
    let token = token_of(&resp);
    assert_eq!(std::fs::read(srv.public().join("new.txt")).unwrap(), b"");
    assert_eq!(srv.get("/new.txt", "").status, 200);
    assert_eq!(put(&srv, "/new.txt", ""), 423);
    assert_eq!(put(&srv, "/new.txt", &with(&token)), 204);
    // Hostile rows: no folder to hold it, a folder name, a hidden name, a path through a file.
    assert_eq!(lock(&srv, "/missing/x.txt", "", EXCLUSIVE).status, 409);
    assert_eq!(lock(&srv, "/newdir/", "", EXCLUSIVE).status, 409);
    assert_eq!(lock(&srv, "/.secret", "", EXCLUSIVE).status, 404);
    assert_eq!(lock(&srv, "/a.txt/x", "", EXCLUSIVE).status, 409);
    for name in ["missing", "newdir", ".secret"] {
        assert!(!srv.public().join(name).exists(), "{name}");
    }
    // No lock was left behind by the failures.
    assert_eq!(lock(&srv, "/missing/x.txt", "", EXCLUSIVE).status, 409);
    // In a folder locked Depth 0, the new file is a new member: the folder's token is needed.
    let folder = take(&srv, "/dir/", "0", EXCLUSIVE);
    assert_eq!(lock(&srv, "/dir/lockme.txt", "", SHARED).status, 423);
    let tagged = format!("If: </dir/> (<{folder}>)\r\n");
    let resp = lock(&srv, "/dir/lockme.txt", &tagged, SHARED);
    assert_eq!(resp.status, 201, "{resp:?}");
}

#[test]
fn the_if_header_judges_entity_tags() {
    let srv = server();
    let tag = etag(&srv, "/a.txt");
    let weak = format!("W/{tag}");
    let other = "\"not-the-tag\"";
    // (If header, status of a PUT to /a.txt). Each success changes the file's tag, so the
    // rows naming `tag` come before the first.
    let rows: Vec<(String, u16)> = vec![
        (format!("([{other}])"), 412),
        (format!("([{weak}])"), 412),
        (format!("(Not [{tag}])"), 412),
        ("(<DAV:no-lock>)".into(), 412),
        (format!("<http://t/dir/b.txt> ([{tag}])"), 412),
        (format!("([{other}]) (Not <DAV:no-lock> [{other}])"), 412),
        (format!("(<DAV:no-lock> [{tag}])"), 412),
        (format!("([{tag}])"), 204),
        (format!("(Not [{other}])"), 204),
        ("(Not <DAV:no-lock>)".into(), 204),
        (format!("<http://t/dir/b.txt> (Not [{other}])"), 204),
        (format!("<http://t/missing.txt> (Not [{other}])"), 204),
        (format!("([{other}]) (Not <DAV:no-lock>)"), 204),
    ];
    for (value, want) in rows {
        let headers = format!("If: {value}\r\n");
        assert_eq!(put(&srv, "/a.txt", &headers), want, "If: {value}");
    }
    // The header is judged for every write, here a DELETE and a MKCOL.
    let failing = format!("If: ([{other}])\r\n");
    assert_eq!(dav(&srv, "DELETE", "/a.txt", &failing, "").status, 412);
    assert_eq!(dav(&srv, "MKCOL", "/newdir", &failing, "").status, 412);
}

/// litmus's conditional PUTs on a locked file (Julian Reschke's), in its order.
#[test]
fn litmus_conditional_puts() {
    let srv = server();
    let token = take(&srv, "/a.txt", "0", EXCLUSIVE);
    let cond_put = |value: String| put(&srv, "/a.txt", &format!("If: {value}\r\n"));
    let tag = etag(&srv, "/a.txt");
    assert_eq!(cond_put(format!("(<{token}> [{tag}])")), 204, "cond_put");
    let tag = etag(&srv, "/a.txt");
    assert_eq!(
        cond_put(format!("(<DAV:no-lock> [{tag}])")),
        412,
        "fail_cond_put"
    );
    let with_not = format!("(<{token}>) (Not <DAV:no-lock>)");
    assert_eq!(cond_put(with_not), 204, "cond_put_with_not");
    let corrupt = format!("(<{token}x>) (Not <DAV:no-lock>)");
    assert_eq!(cond_put(corrupt), 423, "cond_put_corrupt_token");
    let tag = etag(&srv, "/a.txt");
    let complex = format!("(<{token}> [{tag}]) (Not <DAV:no-lock> [{tag}])");
    assert_eq!(cond_put(complex), 204, "complex_cond_put");
    let bad = format!("{}x\"", tag.trim_end_matches('"'));
    let complex = format!("(<{token}> [{bad}]) (Not <DAV:no-lock> [{bad}])");
    assert_eq!(cond_put(complex), 412, "fail_complex_cond_put");
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(dav(&srv, "UNLOCK", "/a.txt", &unlock, "").status, 204);
    let unlocked = cond_put("(<DAV:no-lock>)".into());
    assert_eq!(unlocked, 412, "fail_cond_put_unlocked");
}

#[test]
fn malformed_if_headers_are_refused() {
    let srv = server();
    for value in [
        "",
        "junk",
        "(",
        "()",
        "(<urn:uuid:a>",
        "([\"unclosed)",
        "(<not a uri>)",
        "(Not)",
        "<http://t/a.txt>",
        "(<urn:uuid:a>) <http://t/a.txt> (<urn:uuid:a>)",
        "(\u{7f})",
    ] {
        for method in ["PUT", "DELETE", "LOCK", "MKCOL"] {
            let resp = dav(&srv, method, "/a.txt", &format!("If: {value}\r\n"), "");
            assert_eq!(resp.status, 400, "{method} If: {value:?}");
        }
    }
    let many = format!("If: ({})\r\n", "<DAV:no-lock> ".repeat(257));
    assert_eq!(put(&srv, "/a.txt", &many), 400);
    assert_eq!(std::fs::read(srv.public().join("a.txt")).unwrap(), b"a\n");
}

#[test]
fn hostile_lock_bodies_are_refused() {
    let srv = server();
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
        <D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
        <D:locktype><D:write/></D:locktype><D:owner>&x;</D:owner></D:lockinfo>";
    let rows: Vec<(&str, String, &str, u16)> = vec![
        ("external entity", doctype.into(), "", 400),
        ("malformed", EXCLUSIVE.replace("</D:lockinfo>", ""), "", 400),
        (
            "undeclared prefix",
            EXCLUSIVE.replace("D:write", "Q:write"),
            "",
            400,
        ),
        (
            "not lockinfo",
            "<D:propfind xmlns:D=\"DAV:\"/>".into(),
            "",
            400,
        ),
        ("no scope", EXCLUSIVE.replace("<D:exclusive/>", ""), "", 400),
        ("Depth 1", EXCLUSIVE.into(), "Depth: 1\r\n", 400),
        (
            "owner over 4 KiB",
            SHARED.replace("someone else", &"x".repeat(5000)),
            "",
            400,
        ),
        (
            "over 1 MiB",
            format!("{EXCLUSIVE}{}", " ".repeat(1024 * 1024)),
            "",
            413,
        ),
    ];
    for (what, body, headers, want) in rows {
        let resp = lock(&srv, "/a.txt", headers, &body);
        assert_eq!(resp.status, want, "{what}: {resp:?}");
    }
    // Nothing was locked, and nothing created.
    assert_eq!(put(&srv, "/a.txt", ""), 204);
    assert_eq!(lock(&srv, "/fresh.txt", "", "<x").status, 400);
    assert!(!srv.public().join("fresh.txt").exists());
}

/// `[users]` with alice and bob, both with password "pw" (cost 4 keeps the tests fast).
fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let alice = bcrypt::hash("pw", 4).unwrap();
        let bob = bcrypt::hash("pw", 4).unwrap();
        format!("[users]\nalice = \"{alice}\"\nbob = \"{bob}\"\n")
    })
}

/// RFC 4918 §6.4: a lock's token works for the user who took it, not for another who learnt it.
#[test]
fn a_token_works_only_for_the_user_who_locked() {
    let acl = "[webdav]\nenabled = true\n\n[[acl]]\npath = \"/*\"\nmethods = [\"*\"]\n\
               users = [\"alice\", \"bob\"]\n";
    let srv = TestServer::start_with("", &format!("{}\n{acl}", users()), |public| {
        std::fs::write(public.join("a.txt"), "a\n").unwrap();
    });
    // alice:pw and bob:pw in Basic.
    let alice = "Authorization: Basic YWxpY2U6cHc=\r\n";
    let bob = "Authorization: Basic Ym9iOnB3\r\n";
    let resp = lock(&srv, "/b.txt", alice, EXCLUSIVE);
    assert_eq!(resp.status, 201, "{resp:?}");
    let token = token_of(&resp);
    assert_eq!(put(&srv, "/b.txt", &format!("{bob}{}", with(&token))), 423);
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(
        dav(&srv, "UNLOCK", "/b.txt", &format!("{bob}{unlock}"), "").status,
        403
    );
    let refresh = format!("{bob}{}", with(&token));
    assert_eq!(lock(&srv, "/b.txt", &refresh, "").status, 403);
    assert_eq!(
        put(&srv, "/b.txt", &format!("{alice}{}", with(&token))),
        204
    );
    assert_eq!(
        dav(&srv, "UNLOCK", "/b.txt", &format!("{alice}{unlock}"), "").status,
        204
    );
}

/// With `[webdav]` off nothing changes: the `If` header is not read, LOCK is 501.
#[test]
fn with_webdav_off_the_if_header_is_ignored() {
    let srv = TestServer::start_with(
        "",
        "[[acl]]\npath = \"/*\"\nmethods = [\"PUT\"]\n",
        |public| std::fs::write(public.join("a.txt"), "a\n").unwrap(),
    );
    assert_eq!(put(&srv, "/a.txt", "If: (<DAV:no-lock>)\r\n"), 204);
    assert_eq!(put(&srv, "/a.txt", "If: junk\r\n"), 204);
    assert_eq!(lock(&srv, "/a.txt", "", EXCLUSIVE).status, 501);
}
