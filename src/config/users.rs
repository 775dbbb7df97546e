//! `server.users_file`: reading a users file in htpasswd format (`name:hash` lines, bcrypt
//! only), for the users `[users]` does not list itself.
//!
//! Pure over text apart from [`read`]; `file.rs` merges the result with `[users]` and places
//! each error under the key `server.users_file`.

use std::io::Read;
use std::path::Path;

use super::value::{bcrypt_hash, user_name};

/// The most a users file may hold: some ten thousand users. A path that names something else by
/// mistake (a log, a disk image) is refused before it is read into memory.
const MAX_BYTES: u64 = 1 << 20;

/// One user of a users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileUser {
    pub name: String,
    pub hash: String,
    /// 1-based line in the file, for errors that name it.
    pub line: usize,
}

/// The users of the htpasswd file at `path`; an error names the file and, for a bad line, the
/// line, and says what to do.
pub(super) fn read(path: &Path) -> Result<Vec<FileUser>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{shown}: larger than {MAX_BYTES} bytes: is it really a users file (`name:hash` lines)?"
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{shown}: not UTF-8 text: a users file holds `name:hash` lines"))?;
    parse(&text).map_err(|(line, message)| format!("{shown}:{line}: {message}"))
}

/// Parses htpasswd text: one `name:hash` per line, `#` comments and blank lines allowed,
/// surrounding spaces ignored. An error is a 1-based line and what is wrong with it.
pub(super) fn parse(text: &str) -> Result<Vec<FileUser>, (usize, String)> {
    let mut users: Vec<FileUser> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let entry = raw.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let user = parse_line(entry, line).map_err(|message| (line, message))?;
        if let Some(first) = users.iter().find(|u| u.name == user.name) {
            let message = format!(
                "user `{}` is already defined on line {}: keep one of the two lines",
                user.name, first.line
            );
            return Err((line, message));
        }
        users.push(user);
    }
    Ok(users)
}

/// One non-blank, non-comment line.
fn parse_line(entry: &str, line: usize) -> Result<FileUser, String> {
    let Some((name, hash)) = entry.split_once(':') else {
        return Err("not a `name:hash` line (as `htpasswd -nB NAME` prints)".into());
    };
    user_name(name)?;
    // The hash is not repeated in the message: it is a secret of sorts, and long.
    bcrypt_hash(hash).map_err(|why| {
        if why.contains("only bcrypt") {
            format!("user `{name}`: the hash {why}")
        } else {
            format!("user `{name}`: the hash {why}; only bcrypt (htpasswd -B) is supported")
        }
    })?;
    Ok(FileUser {
        name: name.to_string(),
        hash: hash.to_string(),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bcrypt hash (cost 4), shaped as `htpasswd -B` writes it.
    const HASH: &str = "$2y$04$abcdefghijklmnopqrstuuK0bVl6O8zOcH7fbeEGc1yVJ7c4vzM9O";

    /// (what it proves, file text, line, part of the message) — hostile rows first.
    #[rustfmt::skip]
    const REFUSED: &[(&str, &str, usize, &str)] = &[
        ("MD5 apr1 line", "alice:$apr1$abc$0123456789abcdefghijkl", 1, "only bcrypt (htpasswd -B) is supported"),
        ("SHA-1 line", "# users\n\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", 3, "SHA-1"),
        ("crypt line", "carol:rqXexS6ZhobKA", 1, "only bcrypt (htpasswd -B) is supported"),
        ("SHA-512-crypt line", "dan:$6$salt$hash", 1, "only bcrypt"),
        ("plain-text password", "alice:secret", 1, "only bcrypt (htpasswd -B) is supported"),
        ("truncated bcrypt", "alice:$2y$05$abc", 1, "not a bcrypt hash"),
        ("control character in name", "al\u{7}ice:HASH", 1, "must be non-empty"),
        ("empty name", ":HASH", 1, "must be non-empty"),
        ("no colon", "alice HASH", 1, "not a `name:hash` line"),
        ("hash with trailing junk", "alice:HASH:extra", 1, "not a bcrypt hash"),
        ("same name twice", "alice:HASH\n# again\nalice:HASH", 3, "already defined on line 1"),
        ("bad line after good ones", "alice:HASH\nbob:HASH\nbob2:x", 3, "user `bob2`"),
    ];

    #[test]
    fn refuses_non_bcrypt_and_malformed_lines_naming_the_line() {
        for &(name, text, line, message) in REFUSED {
            let text = text.replace("HASH", HASH);
            let (got_line, got) = parse(&text).expect_err(name);
            assert_eq!(got_line, line, "{name}: {got}");
            assert!(got.contains(message), "{name}: {got}");
            assert!(
                !got.contains("$2y$04$"),
                "{name}: the hash is echoed: {got}"
            );
        }
    }

    #[test]
    fn accepts_htpasswd_lines_comments_blanks_and_crlf() {
        /// The names a file gives, each with its line.
        type Users = &'static [(&'static str, usize)];
        let cases: &[(&str, &str, Users)] = &[
            ("empty file", "", &[]),
            ("comments only", "# nobody yet\n   \n", &[]),
            (
                "one line as htpasswd -nB prints it",
                "alice:HASH\n\n",
                &[("alice", 1)],
            ),
            (
                "CRLF and spaces",
                "  alice:HASH  \r\n# x\r\nbob:HASH\r\n",
                &[("alice", 1), ("bob", 3)],
            ),
            ("no final newline", "alice:HASH", &[("alice", 1)]),
            (
                "dotted and unicode names",
                "a.b:HASH\nzoë:HASH",
                &[("a.b", 1), ("zoë", 2)],
            ),
        ];
        for (name, text, want) in cases {
            let users =
                parse(&text.replace("HASH", HASH)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let got: Vec<(&str, usize)> = users.iter().map(|u| (u.name.as_str(), u.line)).collect();
            assert_eq!(&got, want, "{name}");
            assert!(users.iter().all(|u| u.hash == HASH), "{name}");
        }
    }

    #[test]
    fn read_names_the_file_and_refuses_what_is_not_a_users_file() {
        let dir = std::env::temp_dir().join(format!("shelf-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.htpasswd");
        std::fs::write(&path, format!("alice:{HASH}\nbob:$apr1$x$y\n")).unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
        std::fs::write(&path, vec![b'#'; MAX_BYTES as usize + 1]).unwrap();
        assert!(read(&path).unwrap_err().contains("larger than"));
        std::fs::write(&path, b"alice:\xff\n").unwrap();
        assert!(read(&path).unwrap_err().contains("not UTF-8"));
        assert!(
            read(&dir.join("missing"))
                .unwrap_err()
                .contains("cannot read")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
