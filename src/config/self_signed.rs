//! Where the self-signed certificate (`tls.cert = ""`) is kept between runs, so that a browser
//! told once to trust it is not asked again at the next start.
//!
//! Beside the config file, in `.shelf/self-signed/`, when that folder is not served; else (no
//! config file, or its folder is served) in the user's state folder,
//! `$XDG_STATE_HOME/shelf/self-signed/<names>/` (by default `~/.local/state/…`). Never inside a
//! folder shelf serves, whatever `hidden` says: the private key must not be downloadable, and a
//! reload may turn `hidden` on. Only the path is chosen here; `tls` reads and writes the files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Config, LOOPBACK_NAMES, TlsConfig};

/// The folder for `config`'s self-signed certificate: beside its file when that is not
/// served, else under `state_home`; `None` when there is neither outside the served folders.
pub(super) fn choose(config: &Config, state_home: Option<&Path>) -> Option<PathBuf> {
    let beside = config.source.as_deref().and_then(beside_config);
    let shared = state_home.map(|home| shared_dir(home, &config.tls));
    let served: Vec<&Path> = config.served_folders().collect();
    let unserved = |dir: &PathBuf| !served.iter().any(|folder| dir.starts_with(folder));
    beside.into_iter().chain(shared).find(unserved)
}

/// The folder beside the config file when it exists inside a folder served with
/// `hidden = true` (see [`Config::exposed_self_signed_dir`]).
pub(super) fn exposed(config: &Config) -> Option<PathBuf> {
    if !config.server.hidden {
        return None;
    }
    let dir = config.source.as_deref().and_then(beside_config)?;
    let served = config
        .served_folders()
        .any(|folder| dir.starts_with(folder));
    (served && dir.is_dir()).then_some(dir)
}

/// `<config folder>/.shelf/self-signed`: a dot-folder, so that even where it is served (it is
/// then not chosen) listings leave it out and reads get 404 while `hidden = false`; named for
/// the program, with room beside it for other state. The folder is resolved as the served
/// folders are, so that the two compare.
fn beside_config(config_file: &Path) -> Option<PathBuf> {
    let dir = match config_file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).ok()?;
    Some(dir.join(".shelf").join("self-signed"))
}

/// `<state home>/shelf/self-signed/<names>`, `<names>` being `localhost` or the listener's
/// address: this folder is shared by every shelf the user runs, and servers on different
/// addresses must not replace each other's certificate at each start.
fn shared_dir(state_home: &Path, tls: &TlsConfig) -> PathBuf {
    let names = tls.self_signed_names();
    let extra = &names[LOOPBACK_NAMES.len().min(names.len())..];
    let key = if extra.is_empty() {
        "localhost".to_string()
    } else {
        // IPv6's `:` is legal in a file name, but not on every file system the folder may be on.
        extra.join("+").replace(':', "_")
    };
    state_home.join("shelf").join("self-signed").join(key)
}

/// The user's state folder: `$XDG_STATE_HOME`, else `$HOME/.local/state` (a relative value is
/// ignored, as the XDG Base Directory spec says); resolved when it exists, as the served
/// folders are.
pub(super) fn state_home() -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let home = std::env::var_os("XDG_STATE_HOME")
        .and_then(absolute)
        .or_else(|| {
            let home = std::env::var_os("HOME").and_then(absolute)?;
            Some(home.join(".local").join("state"))
        })?;
    Some(std::fs::canonicalize(&home).unwrap_or(home))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A folder holding `site/` (the config file's folder, with `public/docs/`) and `state/`
    /// (the user's state folder); removed on drop.
    struct Fixture(PathBuf);

    impl Fixture {
        fn new() -> Fixture {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("shelf-placed-{}-{n}", std::process::id()));
            std::fs::create_dir_all(dir.join("site/public/docs")).unwrap();
            std::fs::create_dir_all(dir.join("state")).unwrap();
            Fixture(std::fs::canonicalize(dir).unwrap())
        }

        fn site(&self) -> PathBuf {
            self.0.join("site")
        }

        /// The configuration of `text` as if read from `site/config.toml`.
        fn config(&self, text: &str) -> Config {
            let mut config = Config::from_toml_str(text, &self.site()).unwrap();
            config.source = Some(self.site().join("config.toml"));
            config
        }

        fn choose(&self, text: &str, with_file: bool) -> Option<PathBuf> {
            let mut config = self.config(text);
            if !with_file {
                config.source = None;
            }
            choose(&config, Some(&self.0.join("state")))
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn never_inside_a_served_folder() {
        let fx = Fixture::new();
        let shared = |key: &str| Some(fx.0.join("state/shelf/self-signed").join(key));
        let rows: &[(&str, &str, bool, Option<PathBuf>)] = &[
            (
                "root is the config folder",
                "[server]\nroot = \".\"",
                true,
                shared("localhost"),
            ),
            (
                "root is the config folder, hidden",
                "[server]\nroot = \".\"\nhidden = true",
                true,
                shared("localhost"),
            ),
            (
                "a dir route serves the config folder",
                "[server]\nroot = \"public\"\n[[route]]\npath = \"/all/*\"\ndir = \".\"",
                true,
                shared("localhost"),
            ),
            (
                "root serves everything",
                "[server]\nroot = \"/\"",
                true,
                None,
            ),
            ("root above both", "[server]\nroot = \"..\"", true, None),
            (
                "beside an unserved config file",
                "[server]\nroot = \"public\"",
                true,
                Some(fx.site().join(".shelf/self-signed")),
            ),
            ("no config file", "", false, shared("localhost")),
            (
                "keyed by a specific listener address",
                "[tls]\nlisten = \"192.168.1.5:8443\"",
                false,
                shared("192.168.1.5"),
            ),
            (
                "an IPv6 listener without colons",
                "[tls]\nlisten = \"[fd00::1]:8443\"",
                false,
                shared("fd00__1"),
            ),
            (
                "loopback adds nothing",
                "[tls]\nlisten = \"[::1]:0\"",
                false,
                shared("localhost"),
            ),
            (
                "the wildcard adds nothing",
                "[tls]\nlisten = \"0.0.0.0:0\"",
                false,
                shared("localhost"),
            ),
        ];
        // The default root, `public`, exists in the fixture.
        for (name, text, with_file, want) in rows {
            assert_eq!(&fx.choose(text, *with_file), want, "{name}");
        }
    }

    #[test]
    fn names_are_loopback_plus_a_specific_listener() {
        let fx = Fixture::new();
        let names = |listen: &str| {
            let text = format!("[server]\nroot = \"public\"\n[tls]\nlisten = \"{listen}\"");
            fx.config(&text).tls.self_signed_names()
        };
        assert_eq!(names("127.0.0.1:0"), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names("[::]:0"), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(
            names("10.0.0.7:8443"),
            ["localhost", "127.0.0.1", "::1", "10.0.0.7"]
        );
    }

    #[test]
    fn exposed_only_when_it_exists_served_and_hidden_is_on() {
        let fx = Fixture::new();
        let text = "[server]\nroot = \".\"\nhidden = true";
        assert_eq!(fx.config(text).exposed_self_signed_dir(), None, "absent");
        let dir = fx.site().join(".shelf/self-signed");
        std::fs::create_dir_all(&dir).unwrap();
        let dir = Some(dir);
        assert_eq!(fx.config(text).exposed_self_signed_dir(), dir);
        let hidden_off = "[server]\nroot = \".\"";
        assert_eq!(fx.config(hidden_off).exposed_self_signed_dir(), None);
        let unserved = "[server]\nroot = \"public\"\nhidden = true";
        assert_eq!(fx.config(unserved).exposed_self_signed_dir(), None);
    }
}
