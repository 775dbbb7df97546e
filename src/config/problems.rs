//! Settings that are valid but will not do what they say, judged against the disk at load: the
//! server logs them as warnings, `shelf check` refuses them ([`Config::problems`]).
//!
//! They are not load errors: the server has a fallback for each, and a file that appears later
//! (a 404 page written after the config) must not stop a restart in the meantime.
//!
//! [`Config::problems`]: super::Config::problems

use std::path::Path;

use super::value::NotFound;
use crate::fs::path::resolve;

/// Why `not_found` would serve the built-in page instead of its own; `None` when it names a
/// file under `root` (canonical), found the way a 404 finds it (dot-files included).
///
/// Messages quote the value as written and name no host path: the log may be read by others.
pub(super) fn not_found(page: &NotFound, root: &Path) -> Option<String> {
    let (rel, written) = (page.path.as_deref()?, page.written.as_str());
    match resolve(root, &format!("/{rel}"), true) {
        Ok(found) if found.metadata.is_file() => None,
        Ok(_) => Some(format!(
            "`{written}` is a folder under the root, not a file; the built-in 404 page is sent \
             instead (name a file such as `{}/404.html`)",
            rel.trim_end_matches('/')
        )),
        Err(_) if written.starts_with('/') => Some(absolute(written, root)),
        Err(_) => Some(format!(
            "`{written}` does not exist under the root (server.root); the built-in 404 page is \
             sent until it does"
        )),
    }
}

/// A leading `/` reads as the root, as in a URL; a value that finds nothing there was most
/// likely meant as a path on this machine.
fn absolute(written: &str, root: &Path) -> String {
    let hint = match Path::new(written).strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("write \"{}\"", rel.display()),
        _ => "copy the page under the root and name it from there, e.g. \"404.html\"".to_string(),
    };
    format!(
        "`{written}` names no file under the root: not_found is relative to the root \
         (server.root), not a path on this machine; {hint}. The built-in 404 page is sent \
         until then"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_rows() {
        let dir = std::env::temp_dir().join(format!("shelf-problems-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/errors")).unwrap();
        std::fs::write(dir.join("root/404.html"), "x").unwrap();
        std::fs::write(dir.join("root/.404.html"), "x").unwrap();
        std::fs::write(dir.join("outside.html"), "x").unwrap();
        std::os::unix::fs::symlink(dir.join("outside.html"), dir.join("root/out.html")).unwrap();
        let root = dir.join("root").canonicalize().unwrap();
        let on_host = format!("{}/404.html", root.display());
        // (value as written, None = fine, or words the message holds)
        let rows: Vec<(&str, Option<&[&str]>)> = vec![
            // Hostile and mistaken rows first.
            (
                &on_host,
                Some(&["relative to the root", "write \"404.html\""]),
            ),
            (
                "/srv/site/404.html",
                Some(&["`/srv/site/404.html`", "e.g. \"404.html\""]),
            ),
            ("missing.html", Some(&["`missing.html`", "does not exist"])),
            (
                "errors",
                Some(&["`errors` is a folder", "`errors/404.html`"]),
            ),
            ("errors/", Some(&["`errors/` is a folder"])),
            ("out.html", Some(&["`out.html`", "does not exist"])),
            ("404.html/x", Some(&["does not exist"])),
            // Pages that are served.
            ("404.html", None),
            ("/404.html", None),
            ("//404.html", None),
            (".404.html", None),
            ("", None),
        ];
        for (written, want) in rows {
            let page = match written {
                "" => NotFound::default(),
                _ => NotFound::try_from(written.to_string()).unwrap(),
            };
            let got = not_found(&page, &root);
            match (want, &got) {
                (None, None) => {}
                (Some(words), Some(message)) => {
                    for word in words {
                        assert!(message.contains(word), "{written}: {word:?} in {message}");
                    }
                    let host = dir.display().to_string();
                    assert!(
                        written == on_host || !message.contains(&host),
                        "{written}: a host path in {message}"
                    );
                }
                _ => panic!("{written}: want {want:?}, got {got:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
