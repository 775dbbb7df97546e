//! `server.users_file` and `htpasswd -nB` lines over real TCP: a user from an htpasswd file
//! authenticates like one from `[users]`, a `[users]` value may be a whole `name:hash` line, and
//! an edit to the users file applies without a restart (a broken edit keeps the users in force).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Resp, TestServer, poll_until};

/// `name:hash` as `htpasswd -nB name` prints it (cost 4 keeps the tests fast).
fn line(name: &str, password: &str) -> String {
    format!("{name}:{}", bcrypt::hash(password, 4).unwrap())
}

/// A server whose `/private/*` needs alice (from `users.htpasswd`) or bob (an htpasswd line
/// in `[users]`), both with password "pw".
fn start() -> TestServer {
    let bob = line("bob", "pw");
    let extra = format!(
        "[users]\nbob = \"{bob}\"\n\n[[acl]]\npath = \"/private/*\"\nusers = [\"alice\", \"bob\"]\n"
    );
    TestServer::start_with(
        "users_file = \"users.htpasswd\"",
        &extra,
        |public: &Path| {
            let file = format!("# written by htpasswd -nB\n{}\n", line("alice", "pw"));
            std::fs::write(public.parent().unwrap().join("users.htpasswd"), file).unwrap();
            std::fs::create_dir_all(public.join("private")).unwrap();
            std::fs::write(public.join("private/s.txt"), "secret\n").unwrap();
        },
    )
}

/// `GET /private/s.txt` as `user:password` (no credentials when `None`).
fn get_as(server: &TestServer, credentials: Option<&str>) -> Resp {
    let auth = credentials.map_or(String::new(), |c| {
        format!("Authorization: Basic {}\r\n", base64(c.as_bytes()))
    });
    server.get("/private/s.txt", &auth)
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

#[test]
fn users_from_the_file_and_from_htpasswd_lines_authenticate() {
    let server = start();
    let rows = [
        ("no credentials", None, 401),
        ("file user, wrong password", Some("alice:nope"), 401),
        ("unknown user", Some("carol:pw"), 401),
        ("file user", Some("alice:pw"), 200),
        ("[users] htpasswd line", Some("bob:pw"), 200),
    ];
    for (name, credentials, status) in rows {
        assert_eq!(get_as(&server, credentials).status, status, "{name}");
    }
}

#[test]
fn an_edit_to_the_users_file_applies_live() {
    let server = start();
    let file = server.dir.path().join("users.htpasswd");
    assert_eq!(get_as(&server, Some("alice:pw")).status, 200);

    // Saved as editors do: a new file renamed over the old one.
    let temp = server.dir.path().join(".users.htpasswd.swp");
    std::fs::write(&temp, line("alice", "new") + "\n").unwrap();
    std::fs::rename(&temp, &file).unwrap();
    poll_until("alice's new password", || {
        get_as(&server, Some("alice:new")).status == 200
    });
    assert_eq!(get_as(&server, Some("alice:pw")).status, 401);

    // A line that is not bcrypt: the reload is refused and the users in force stay, for at
    // least the reload budget (SPEC §2: 1 s), after which a reload would have been applied.
    let md5 = "carol:$apr1$abc$0123456789abcdefghijkl\n";
    std::fs::write(&file, line("alice", "third") + "\n" + md5).unwrap();
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        assert_eq!(
            get_as(&server, Some("alice:new")).status,
            200,
            "a bad file was applied"
        );
        assert_eq!(get_as(&server, Some("alice:third")).status, 401);
        std::thread::sleep(Duration::from_millis(20));
    }

    // Fixed in place: watched still, applied.
    std::fs::write(&file, line("alice", "third") + "\n").unwrap();
    poll_until("the fixed users file", || {
        get_as(&server, Some("alice:third")).status == 200
    });
    assert_eq!(server.config().users.len(), 2, "alice and bob");
}
