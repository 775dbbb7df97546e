//! `[[acl]]` on reads over real TCP (SPEC §2): Basic auth against `[users]`, allow/deny by
//! address, first matching rule, `trusted_proxies` and `X-Forwarded-For`, and `Allow` on OPTIONS.

mod common;

use std::sync::OnceLock;

use common::{Resp, TestServer};

/// `[users]` with alice and bob, both with password "pw" (cost 4 keeps the tests fast).
fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let alice = bcrypt::hash("pw", 4).unwrap();
        let bob = bcrypt::hash("pw", 4).unwrap();
        format!("[users]\nalice = \"{alice}\"\nbob = \"{bob}\"\n")
    })
}

/// `Authorization: Basic …` for `user:password`.
fn basic(user_password: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        base64(user_password.as_bytes())
    )
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn request(server: &TestServer, method: &str, path: &str, headers: &str) -> Resp {
    server.send(
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
}

fn with_files(public: &std::path::Path) {
    for path in ["private/s.txt", "open.txt", "zone/a.txt"] {
        let full = public.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, "content\n").unwrap();
    }
}

fn allow(resp: &Resp) -> Vec<String> {
    let value = resp.header("allow").expect("Allow");
    value.split(',').map(|m| m.trim().to_string()).collect()
}

#[test]
fn basic_auth_on_a_read_rule() {
    let rules = format!(
        "{}\n[[acl]]\npath = \"/private/*\"\nmethods = [\"GET\"]\nusers = [\"alice\"]\n",
        users()
    );
    let server = TestServer::start_with("", &rules, with_files);
    let alice = basic("alice:pw");
    let bob = basic("bob:pw");
    let wrong = basic("alice:wrong");
    let unknown = basic("mallory:pw");
    let no_colon = basic("alice");
    let rows: &[(&str, &str, &str, &str, u16)] = &[
        ("no credentials", "GET", "/private/s.txt", "", 401),
        ("wrong password", "GET", "/private/s.txt", &wrong, 401),
        ("unknown user", "GET", "/private/s.txt", &unknown, 401),
        (
            "no colon in credentials",
            "GET",
            "/private/s.txt",
            &no_colon,
            401,
        ),
        (
            "not base64",
            "GET",
            "/private/s.txt",
            "Authorization: Basic !!!!\r\n",
            401,
        ),
        (
            "other scheme",
            "GET",
            "/private/s.txt",
            "Authorization: Bearer YWxpY2U6cHc=\r\n",
            401,
        ),
        ("valid user not listed", "GET", "/private/s.txt", &bob, 403),
        (
            "HEAD is covered by a GET rule",
            "HEAD",
            "/private/s.txt",
            "",
            401,
        ),
        ("folder itself is covered", "GET", "/private", "", 401),
        (
            "missing file under the rule",
            "GET",
            "/private/nope",
            "",
            401,
        ),
        (
            "dot segments cannot step around the rule",
            "GET",
            "/open/../private/s.txt",
            "",
            401,
        ),
        (
            "percent-encoding cannot step around the rule",
            "GET",
            "/%70rivate/s.txt",
            "",
            401,
        ),
        ("valid user listed", "GET", "/private/s.txt", &alice, 200),
        (
            "valid user listed, HEAD",
            "HEAD",
            "/private/s.txt",
            &alice,
            200,
        ),
        (
            "scheme is case-insensitive",
            "GET",
            "/private/s.txt",
            &alice.replace("Basic", "bAsIc"),
            200,
        ),
        ("outside the rule", "GET", "/open.txt", "", 200),
        ("prefix is a path segment", "GET", "/privately", "", 404),
    ];
    for (name, method, path, headers, status) in rows {
        let resp = request(&server, method, path, headers);
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
        if *status == 401 {
            assert_eq!(
                resp.header("www-authenticate"),
                Some("Basic realm=\"shelf\""),
                "{name}"
            );
        }
        if *status == 200 && *method == "GET" {
            assert_eq!(resp.text(), "content\n", "{name}");
        }
    }
}

#[test]
fn addresses_allow_and_deny() {
    // Each server has one rule on /zone/*; the test client is 127.0.0.1.
    let rows: &[(&str, &str, u16)] = &[
        ("deny this address", "deny = [\"127.0.0.1/32\"]", 403),
        (
            "deny wins over allow",
            "allow = [\"127.0.0.0/8\"]\ndeny = [\"127.0.0.1/32\"]",
            403,
        ),
        ("allow elsewhere only", "allow = [\"10.0.0.0/8\"]", 403),
        ("allow IPv6 only", "allow = [\"::1/128\"]", 403),
        ("allow this network", "allow = [\"127.0.0.0/8\"]", 200),
        ("deny elsewhere", "deny = [\"10.0.0.0/8\"]", 200),
    ];
    for (name, keys, status) in rows {
        let rule = format!("[[acl]]\npath = \"/zone/*\"\nmethods = [\"*\"]\n{keys}\n");
        let server = TestServer::start_with("", &rule, with_files);
        for method in ["GET", "HEAD"] {
            let resp = request(&server, method, "/zone/a.txt", "");
            assert_eq!(resp.status, *status, "{name}, {method}: {resp:?}");
            assert_eq!(resp.header("www-authenticate"), None, "{name}");
        }
        let outside = request(&server, "GET", "/open.txt", "");
        assert_eq!(outside.status, 200, "{name}: rule leaked outside its path");
    }
}

#[test]
fn first_matching_rule_wins() {
    let rows: &[(&str, &str, u16)] = &[
        (
            "narrow allow before broad deny",
            "[[acl]]\npath = \"/zone/a.txt\"\nallow = [\"127.0.0.0/8\"]\n\n\
             [[acl]]\npath = \"/*\"\ndeny = [\"127.0.0.0/8\"]\n",
            200,
        ),
        (
            "broad deny before narrow allow",
            "[[acl]]\npath = \"/*\"\ndeny = [\"127.0.0.0/8\"]\n\n\
             [[acl]]\npath = \"/zone/a.txt\"\nallow = [\"127.0.0.0/8\"]\n",
            403,
        ),
        (
            "a rule for other methods does not match",
            "[[acl]]\npath = \"/*\"\nmethods = [\"PUT\"]\nallow = [\"127.0.0.0/8\"]\n\n\
             [[acl]]\npath = \"/*\"\ndeny = [\"127.0.0.0/8\"]\n",
            403,
        ),
    ];
    for (name, rules, status) in rows {
        let server = TestServer::start_with("", rules, with_files);
        let resp = request(&server, "GET", "/zone/a.txt", "");
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
    }
}

#[test]
fn forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    let deny_10 = "[[acl]]\npath = \"/zone/*\"\ndeny = [\"10.0.0.0/8\"]\n";
    let allow_10 = "[[acl]]\npath = \"/zone/*\"\nallow = [\"10.0.0.0/8\"]\n";
    let trusted = "trusted_proxies = [\"127.0.0.1/32\"]";
    let rows: &[(&str, &str, &str, &str, u16)] = &[
        (
            "untrusted peer: header ignored (deny)",
            "",
            deny_10,
            "X-Forwarded-For: 10.1.2.3\r\n",
            200,
        ),
        (
            "untrusted peer: header ignored (allow)",
            "",
            allow_10,
            "X-Forwarded-For: 10.1.2.3\r\n",
            403,
        ),
        (
            "trusted peer names a denied client",
            trusted,
            deny_10,
            "X-Forwarded-For: 10.1.2.3\r\n",
            403,
        ),
        (
            "trusted peer names an allowed client",
            trusted,
            allow_10,
            "X-Forwarded-For: 10.1.2.3\r\n",
            200,
        ),
        (
            "right-most untrusted entry is the client",
            trusted,
            deny_10,
            "X-Forwarded-For: 10.9.9.9, 127.0.0.1\r\n",
            403,
        ),
        (
            "a spoofed left entry is not the client",
            trusted,
            allow_10,
            "X-Forwarded-For: 10.1.1.1, 192.0.2.7\r\n",
            403,
        ),
        (
            "a garbled right-most entry names nobody: the peer stays the client",
            trusted,
            allow_10,
            "X-Forwarded-For: 10.1.1.1, not-an-address\r\n",
            403,
        ),
        (
            "entries across repeated header lines",
            trusted,
            deny_10,
            "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-For: 127.0.0.1\r\n",
            403,
        ),
        (
            "trusted peer without the header is the client",
            trusted,
            allow_10,
            "",
            403,
        ),
    ];
    for (name, server_keys, rule, headers, status) in rows {
        let server = TestServer::start_with(server_keys, rule, with_files);
        let resp = request(&server, "GET", "/zone/a.txt", headers);
        assert_eq!(resp.status, *status, "{name}: {resp:?}");
    }
}

#[test]
fn options_allow_reflects_the_rules_for_that_path() {
    let rules = "[[acl]]\npath = \"/zone/*\"\nmethods = [\"GET\"]\ndeny = [\"127.0.0.1/32\"]\n\n\
                 [[acl]]\npath = \"/cap/*\"\nmethods = [\"TRACE\"]\nallow = [\"10.0.0.0/8\"]\n";
    let server = TestServer::start_with("", rules, with_files);
    let rows: &[(&str, &str, &[&str])] = &[
        // A GET rule covers HEAD too.
        ("GET denied here", "/zone/a.txt", &["OPTIONS", "TRACE"]),
        (
            "TRACE allowed elsewhere only",
            "/cap/x",
            &["GET", "HEAD", "OPTIONS"],
        ),
        ("no rule", "/open.txt", &["GET", "HEAD", "OPTIONS", "TRACE"]),
    ];
    for (name, path, want) in rows {
        let resp = request(&server, "OPTIONS", path, "");
        assert_eq!(resp.status, 204, "{name}: {resp:?}");
        assert_eq!(allow(&resp), *want, "{name}");
    }
    // And the refusal itself agrees.
    assert_eq!(request(&server, "GET", "/zone/a.txt", "").status, 403);
    assert_eq!(request(&server, "TRACE", "/cap/x", "").status, 403);
}

#[test]
fn options_allow_ignores_credentials() {
    let rules = format!(
        "{}\n[[acl]]\npath = \"/private/*\"\nmethods = [\"GET\"]\nusers = [\"alice\"]\n",
        users()
    );
    let server = TestServer::start_with("", &rules, with_files);
    let resp = request(&server, "OPTIONS", "/private/s.txt", "");
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(allow(&resp), ["GET", "HEAD", "OPTIONS", "TRACE"]);
}

#[test]
fn trace_never_echoes_the_credentials_it_checked() {
    let rules = format!(
        "{}\n[[acl]]\npath = \"/private/*\"\nmethods = [\"TRACE\"]\nusers = [\"alice\"]\n",
        users()
    );
    let server = TestServer::start_with("", &rules, with_files);
    let alice = basic("alice:pw");
    assert_eq!(request(&server, "TRACE", "/private/s.txt", "").status, 401);
    let resp = request(&server, "TRACE", "/private/s.txt", &alice);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(
        !resp.text().to_ascii_lowercase().contains("authorization"),
        "{}",
        resp.text()
    );
}
