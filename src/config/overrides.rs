//! Settings from the command line, applied over the file's on every load: flags over the file
//! over the defaults, at start and on each reload alike.
//!
//! Where the file is read (`root`, the listeners) the flags replace the raw values before they
//! are validated, so a flag wins even over a value of the file that would be refused (a `root`
//! that does not exist). The rest is applied to the validated configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::value::Pattern;
use super::{AclRule, Config, ConfigError, MethodSet, PathPattern};
use crate::http::Method;

/// The port served when neither the command line nor the file names one.
pub const DEFAULT_PORT: u16 = 8080;

/// What the command line sets. `Default` sets nothing.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `shelf DIR` / `--root DIR`: the folder served, absolute.
    pub root: Option<PathBuf>,
    /// `--listen ADDR:PORT` (host names already resolved): exactly these listeners.
    pub listen: Vec<SocketAddr>,
    /// `-b ADDR`: listen on these addresses (with `-p`, or the file's port).
    pub bind: Vec<IpAddr>,
    /// `-p PORT`: listen on this port (on `-b`, or the file's addresses).
    pub port: Option<u16>,
    /// `--tls`: the command line's listeners speak HTTPS instead of plain HTTP.
    pub tls: bool,
    /// `--upload [PATH]`: writes are allowed under this pattern.
    pub upload: Option<PathPattern>,
    /// `--auth USER:PASS`: the user and the bcrypt hash of the password; every request needs it.
    pub auth: Option<(String, String)>,
    /// `--cors`: any origin may read responses.
    pub cors: bool,
    /// `--no-listing`.
    pub no_listing: bool,
    /// `--hidden`.
    pub hidden: bool,
    /// `-q` / `-v`: the log level; `-q` also turns the access log off.
    pub log_level: Option<log::LevelFilter>,
}

impl Overrides {
    /// Reads the file at `path` (or none: the defaults, paths relative to the current folder)
    /// and applies these settings over it.
    pub fn load(&self, path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            let mut config = super::file::parse("", Path::new("."), self)?;
            config.place_self_signed();
            return Ok(config);
        };
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = super::file::parse(&text, base, self).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })?;
        config.source = Some(path.to_path_buf());
        for problem in &mut config.problems {
            problem.file = Some(path.to_path_buf());
        }
        // Where the self-signed certificate is kept depends on the file and the folders served.
        config.place_self_signed();
        Ok(config)
    }

    /// The listeners the command line asks for, given the file's: `None` when it names none.
    pub fn listeners(&self, file: &[SocketAddr]) -> Option<Vec<SocketAddr>> {
        if !self.listen.is_empty() {
            return Some(self.listen.clone());
        }
        if self.bind.is_empty() && self.port.is_none() {
            return None;
        }
        let port = self.port.or(file.first().map(SocketAddr::port));
        let port = port.unwrap_or(DEFAULT_PORT);
        let ips: Vec<IpAddr> = match self.bind.is_empty() {
            false => self.bind.clone(),
            true if file.is_empty() => vec![Ipv4Addr::LOCALHOST.into()],
            true => file.iter().map(SocketAddr::ip).collect(),
        };
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in ips.into_iter().map(|ip| SocketAddr::new(ip, port)) {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Some(addrs)
    }

    /// Applies the settings that are not read from the file's raw values.
    pub(super) fn apply(&self, config: &mut Config) {
        let server = &mut config.server;
        server.listing &= !self.no_listing;
        server.hidden |= self.hidden;
        if self.cors {
            config.cors.origins = vec!["*".to_string()];
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
            config.log.access &= level >= log::LevelFilter::Info;
        }
        // Flags come first among the rules: the first matching rule decides.
        let mut rules = Vec::new();
        let user = self.auth.as_ref().map(|(user, _)| user.clone());
        if let Some(path) = &self.upload {
            rules.push(AclRule {
                path: path.clone(),
                methods: MethodSet::List(Method::WRITES.to_vec()),
                users: user.iter().cloned().collect(),
                allow: Vec::new(),
                deny: Vec::new(),
            });
        }
        if let Some((user, hash)) = &self.auth {
            config.users.insert(user.clone(), hash.clone());
            rules.push(AclRule {
                path: PathPattern::Prefix(String::new()),
                methods: MethodSet::All,
                users: vec![user.clone()],
                allow: Vec::new(),
                deny: Vec::new(),
            });
        }
        rules.append(&mut config.acl);
        config.acl = rules;
    }
}

/// The `--upload` pattern for a path as a user types it (`uploads`, `/uploads/`, `/`): that
/// folder and everything below it.
pub fn upload_pattern(path: &str) -> Result<PathPattern, String> {
    let trimmed = path.trim_matches('/');
    let pattern = match trimmed.is_empty() {
        true => "/*".to_string(),
        false => format!("/{trimmed}/*"),
    };
    Pattern::try_from(pattern).map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn listener_rows() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // (flags, the file's listeners, what the flags ask for)
        let rows: Vec<(Overrides, Vec<SocketAddr>, Option<Vec<SocketAddr>>)> = vec![
            (Overrides::default(), addrs(&["10.0.0.1:80"]), None),
            (
                Overrides {
                    listen: addrs(&["[::1]:9"]),
                    port: Some(5),
                    ..Default::default()
                },
                addrs(&["10.0.0.1:80"]),
                Some(addrs(&["[::1]:9"])),
            ),
            (
                Overrides {
                    port: Some(9000),
                    ..Default::default()
                },
                addrs(&["10.0.0.1:80", "[::1]:80"]),
                Some(addrs(&["10.0.0.1:9000", "[::1]:9000"])),
            ),
            (
                Overrides {
                    port: Some(9000),
                    ..Default::default()
                },
                Vec::new(),
                Some(addrs(&["127.0.0.1:9000"])),
            ),
            (
                Overrides {
                    bind: vec![ip("0.0.0.0"), ip("0.0.0.0")],
                    ..Default::default()
                },
                addrs(&["127.0.0.1:81"]),
                Some(addrs(&["0.0.0.0:81"])),
            ),
            (
                Overrides {
                    bind: vec![ip("::")],
                    ..Default::default()
                },
                Vec::new(),
                Some(addrs(&["[::]:8080"])),
            ),
        ];
        for (flags, file, want) in rows {
            assert_eq!(flags.listeners(&file), want, "{flags:?} over {file:?}");
        }
    }

    #[test]
    fn upload_pattern_rows() {
        let rows: &[(&str, Result<PathPattern, ()>)] = &[
            ("../x", Err(())),
            ("a/../b", Err(())),
            ("x*", Err(())),
            ("/", Ok(PathPattern::Prefix(String::new()))),
            ("", Ok(PathPattern::Prefix(String::new()))),
            ("incoming", Ok(PathPattern::Prefix("/incoming".into()))),
            ("/a/b/", Ok(PathPattern::Prefix("/a/b".into()))),
        ];
        for (path, want) in rows {
            assert_eq!(upload_pattern(path).map_err(|_| ()), *want, "{path:?}");
        }
    }
}
