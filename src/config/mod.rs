//! The validated configuration: the only type the server reads settings from.
//!
//! `file.rs` holds the raw serde shape of `config.toml`; `Config::from_toml_str` turns it into
//! this type, checking everything once so that the request path can trust every field.

mod file;
mod locate;
pub mod overrides;
mod problems;
pub mod reload;
mod self_signed;
mod users;
mod value;

pub use overrides::Overrides;

/// The commented `config.toml` with every key at its default, as shipped in the repository.
pub const TEMPLATE: &str = include_str!("template.toml");

/// What `shelf init` writes: [`TEMPLATE`] serving the folder the file is in.
pub fn init_template() -> String {
    TEMPLATE.replacen("root = \"public\"", "root = \".\"     ", 1)
}

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::http::Method;

/// Every setting of `config.toml`, validated. Built only by [`Config::load`] or
/// [`Config::from_toml_str`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from, if any.
    pub source: Option<PathBuf>,
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub compression: CompressionConfig,
    pub cache: CacheConfig,
    pub cors: CorsConfig,
    pub webdav: WebdavConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// User name → bcrypt hash: `[users]` and the users of `server.users_file`.
    pub users: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub acl: Vec<AclRule>,
    /// What [`Config::problems`] returns.
    problems: Vec<ConfigError>,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Plain-HTTP listeners; empty when `listen = ""`.
    pub listen: Vec<SocketAddr>,
    /// Absolute path of the document root.
    pub root: PathBuf,
    pub index: Vec<String>,
    pub listing: bool,
    pub hidden: bool,
    /// Path under the root of the page sent with 404s (without a leading `/`); `None` = built-in.
    pub not_found: Option<String>,
    pub max_connections: usize,
    pub keep_alive: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
    pub max_body_bytes: u64,
    pub max_ranges: usize,
    pub trace: bool,
    pub shutdown_grace: Duration,
    /// `None` when `cache_control = ""`.
    pub cache_control: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    /// Bind listeners with `SO_REUSEPORT`, so that a new process can share them while an old
    /// one drains.
    pub reuse_port: bool,
    /// Absolute path of the htpasswd file whose users join `[users]`; `None` when `""`.
    pub users_file: Option<PathBuf>,
}

/// `[tls]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// HTTPS listeners; empty when `listen = ""`.
    pub listen: Vec<SocketAddr>,
    /// `None`: a self-signed certificate is generated at start.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub redirect_http: bool,
    pub hsts: Option<String>,
    /// Where the self-signed certificate is kept (`cert.pem`, `key.pem`) when `cert` is unset:
    /// derived, not a key (see `self_signed.rs`); never inside a served folder. `None` when no
    /// such folder exists: the certificate is then generated for one run only.
    pub self_signed_dir: Option<PathBuf>,
}

/// The names every self-signed certificate is valid for.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl TlsConfig {
    /// The names the self-signed certificate must be valid for: the loopback ones, and the
    /// listeners' addresses that are specific ones (a client cannot connect to `0.0.0.0`).
    pub fn self_signed_names(&self) -> Vec<String> {
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect();
        let ips = self.listen.iter().map(|a| a.ip());
        for ip in ips
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| ip.to_string())
        {
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
        names
    }
}

/// `[compression]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressionConfig {
    pub enabled: bool,
    /// 1..=9.
    pub level: u32,
    pub min_bytes: u64,
    /// Media types, lower-case; `text/*` style wildcards allowed.
    pub types: Vec<String>,
    pub precompressed: bool,
}

/// `[cache]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub max_bytes: u64,
    pub max_file_bytes: u64,
}

/// `[webdav]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebdavConfig {
    /// Serve the WebDAV methods (RFC 4918 classes 1 and 2).
    pub enabled: bool,
}

/// `[cors]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CorsConfig {
    /// Allowed origins; `"*"` allows any; empty = no CORS headers.
    pub origins: Vec<String>,
}

impl CorsConfig {
    /// True for `origins = ["*"]`: any origin, and answers do not depend on it.
    pub fn allows_any(&self) -> bool {
        self.origins.iter().any(|o| o == "*")
    }

    /// True when a page of `origin` may read responses and send writes. Origins compare
    /// case-insensitively: their scheme and host are (RFC 6454 §4).
    pub fn allows(&self, origin: &str) -> bool {
        self.allows_any() || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub level: log::LevelFilter,
    pub access: bool,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Listeners for `/metrics` and `/healthz`; empty when `listen = ""` (the default).
    pub listen: Vec<SocketAddr>,
}

/// A URL path pattern of `[[route]]` and `[[acl]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// `"/x"`: that path only.
    Exact(String),
    /// `"/x/*"`, stored as `"/x"`: `/x` itself and everything below `/x/`. `"/*"` is `Prefix("")`.
    Prefix(String),
}

impl PathPattern {
    /// If `path` matches, the remainder after the prefix (`{rest}`, without a leading `/`).
    pub fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        match self {
            PathPattern::Exact(p) => (p == path).then_some(""),
            PathPattern::Prefix(p) => {
                let rest = path.strip_prefix(p.as_str())?;
                if rest.is_empty() {
                    Some("")
                } else {
                    rest.strip_prefix('/')
                }
            }
        }
    }
}

/// One `[[route]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: PathPattern,
    pub target: RouteTarget,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

/// What a route serves: exactly one per route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    /// An absolute folder served as the prefix.
    Dir(PathBuf),
    /// An absolute file path.
    File(PathBuf),
    /// A redirect; `to` may hold `{rest}`.
    Redirect { to: String, status: u16 },
    /// A fixed response.
    Fixed {
        status: u16,
        body: String,
        content_type: String,
    },
}

/// Which methods an `[[acl]]` rule covers.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodSet {
    /// `["*"]`.
    All,
    List(Vec<Method>),
}

impl MethodSet {
    /// True if the set covers `method`.
    /// A rule naming GET covers HEAD too: HEAD is GET without the body (RFC 9110 §9.3.2).
    pub fn contains(&self, method: &Method) -> bool {
        match self {
            MethodSet::All => true,
            MethodSet::List(list) => {
                list.contains(method) || (*method == Method::Head && list.contains(&Method::Get))
            }
        }
    }
}

/// One `[[acl]]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AclRule {
    pub path: PathPattern,
    pub methods: MethodSet,
    pub users: Vec<String>,
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// Why a configuration was refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `server.listen` or `acl[1].allow`, when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a config file. Relative paths resolve against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Overrides::default().load(Some(path))
    }

    /// Parses and validates TOML text; relative paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config = file::parse(text, base_dir, &Overrides::default())?;
        config.place_self_signed();
        Ok(config)
    }

    /// Settings that are valid but, as the disk stood at load, will not do what they say (a
    /// `not_found` that names no file under the root), each located like a load error. The
    /// server runs with them and logs each as a warning once per load; `shelf check` refuses
    /// them.
    pub fn problems(&self) -> &[ConfigError] {
        &self.problems
    }

    /// The folders requests can read: the root, and every `dir` route's folder.
    pub fn served_folders(&self) -> impl Iterator<Item = &Path> {
        served_folders(&self.server.root, &self.routes)
    }

    /// The state folder beside the config file when it exists inside a folder served with
    /// `hidden = true`: its private key can be downloaded. It is no longer used (see
    /// [`TlsConfig::self_signed_dir`]), but an earlier run may have left it there.
    pub fn exposed_self_signed_dir(&self) -> Option<PathBuf> {
        self_signed::exposed(self)
    }

    /// Sets `tls.self_signed_dir` for where this configuration's file and folders are; again
    /// whenever the served folders change (`--root`).
    fn place_self_signed(&mut self) {
        let home = self_signed::state_home();
        self.tls.self_signed_dir = self_signed::choose(self, home.as_deref());
    }

    /// What differs between two configurations, one short line per changed key, named as in
    /// `config.toml` (`server.listen: 127.0.0.1:8080 -> 127.0.0.1:9090`, `acl: 2 rules -> 3
    /// rules`); for the one log line of a reload. Password hashes are never shown.
    pub fn describe_changes(old: &Config, new: &Config) -> Vec<String> {
        let mut changes = Changes(Vec::new());
        changes.server(&old.server, &new.server);
        changes.tls(&old.tls, &new.tls);
        changes.others(old, new);
        changes.users(&old.users, &new.users);
        changes.rules("route", &old.routes, &new.routes);
        changes.rules("acl", &old.acl, &new.acl);
        changes.0
    }
}

/// The folders requests can read under `root` and `routes`.
fn served_folders<'a>(root: &'a Path, routes: &'a [Route]) -> impl Iterator<Item = &'a Path> {
    let folders = routes.iter().filter_map(|route| match &route.target {
        RouteTarget::Dir(folder) => Some(folder.as_path()),
        _ => None,
    });
    std::iter::once(root).chain(folders)
}

/// Refuses a users file that requests could read: its hashes would be anyone's to guess at
/// offline (bcrypt slows that down; it does not stop it).
fn check_users_file_unserved(
    file: &Path,
    server: &ServerConfig,
    routes: &[Route],
) -> Result<(), String> {
    for folder in served_folders(&server.root, routes) {
        let Ok(below) = file.strip_prefix(folder) else {
            continue;
        };
        let dotted = below
            .components()
            .any(|part| part.as_os_str().as_encoded_bytes().starts_with(b"."));
        if dotted && !server.hidden {
            continue;
        }
        let fix = if server.hidden {
            "move it out of the served folders (beside config.toml)"
        } else {
            "move it out of the served folders (beside config.toml), or give it a dot-name such \
             as `.htpasswd` (not served while server.hidden = false)"
        };
        return Err(format!(
            "{} lies inside the served folder {}, so anyone could download its hashes: {fix}",
            file.display(),
            folder.display()
        ));
    }
    Ok(())
}

/// The lines [`Config::describe_changes`] collects.
struct Changes(Vec<String>);

impl Changes {
    fn key<T: PartialEq + Shown>(&mut self, key: &str, old: &T, new: &T) {
        if old != new {
            self.0
                .push(format!("{key}: {} -> {}", old.shown(), new.shown()));
        }
    }

    fn server(&mut self, old: &ServerConfig, new: &ServerConfig) {
        self.key("server.listen", &Addrs(&old.listen), &Addrs(&new.listen));
        self.key("server.root", &old.root, &new.root);
        self.key("server.index", &old.index, &new.index);
        self.key("server.listing", &old.listing, &new.listing);
        self.key("server.hidden", &old.hidden, &new.hidden);
        self.key("server.reuse_port", &old.reuse_port, &new.reuse_port);
        self.key("server.not_found", &old.not_found, &new.not_found);
        self.key(
            "server.max_connections",
            &old.max_connections,
            &new.max_connections,
        );
        self.key("server.keep_alive_s", &old.keep_alive, &new.keep_alive);
        self.key(
            "server.header_timeout_s",
            &old.header_timeout,
            &new.header_timeout,
        );
        self.key(
            "server.body_timeout_s",
            &old.body_timeout,
            &new.body_timeout,
        );
        self.key(
            "server.max_header_bytes",
            &old.max_header_bytes,
            &new.max_header_bytes,
        );
        self.key(
            "server.max_uri_bytes",
            &old.max_uri_bytes,
            &new.max_uri_bytes,
        );
        self.key(
            "server.max_body_bytes",
            &old.max_body_bytes,
            &new.max_body_bytes,
        );
        self.key("server.max_ranges", &old.max_ranges, &new.max_ranges);
        self.key("server.trace", &old.trace, &new.trace);
        self.key(
            "server.shutdown_grace_s",
            &old.shutdown_grace,
            &new.shutdown_grace,
        );
        self.key(
            "server.cache_control",
            &old.cache_control,
            &new.cache_control,
        );
        self.key(
            "server.trusted_proxies",
            &old.trusted_proxies,
            &new.trusted_proxies,
        );
        self.key("server.users_file", &old.users_file, &new.users_file);
    }

    fn tls(&mut self, old: &TlsConfig, new: &TlsConfig) {
        self.key("tls.listen", &Addrs(&old.listen), &Addrs(&new.listen));
        self.key("tls.cert", &old.cert, &new.cert);
        self.key("tls.key", &old.key, &new.key);
        self.key("tls.redirect_http", &old.redirect_http, &new.redirect_http);
        self.key("tls.hsts", &old.hsts, &new.hsts);
    }

    fn others(&mut self, old: &Config, new: &Config) {
        self.key("webdav.enabled", &old.webdav.enabled, &new.webdav.enabled);
        let (oz, nz) = (&old.compression, &new.compression);
        self.key("compression.enabled", &oz.enabled, &nz.enabled);
        self.key("compression.level", &oz.level, &nz.level);
        self.key("compression.min_bytes", &oz.min_bytes, &nz.min_bytes);
        self.key("compression.types", &oz.types, &nz.types);
        self.key(
            "compression.precompressed",
            &oz.precompressed,
            &nz.precompressed,
        );
        let (oc, nc) = (&old.cache, &new.cache);
        self.key("cache.max_bytes", &oc.max_bytes, &nc.max_bytes);
        self.key(
            "cache.max_file_bytes",
            &oc.max_file_bytes,
            &nc.max_file_bytes,
        );
        self.key("cors.origins", &old.cors.origins, &new.cors.origins);
        self.key("log.level", &old.log.level, &new.log.level);
        self.key("log.access", &old.log.access, &new.log.access);
        let (om, nm) = (&old.metrics.listen, &new.metrics.listen);
        self.key("metrics.listen", &Addrs(om), &Addrs(nm));
    }

    /// Names who was added, removed or given a new password; hashes stay out of the log.
    fn users(&mut self, old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) {
        let repassed = old
            .iter()
            .filter(|(n, h)| new.get(*n).is_some_and(|nh| nh != *h));
        let parts = [
            ("added", names_only_in(new, old)),
            ("removed", names_only_in(old, new)),
            (
                "new password for",
                repassed.map(|(n, _)| n.as_str()).collect(),
            ),
        ];
        let parts: Vec<String> = parts
            .iter()
            .filter(|(_, who)| !who.is_empty())
            .map(|(what, who)| format!("{what} {}", who.join(", ")))
            .collect();
        if !parts.is_empty() {
            self.0.push(format!("users: {}", parts.join("; ")));
        }
    }

    fn rules<T: PartialEq>(&mut self, key: &str, old: &[T], new: &[T]) {
        let count = |n: usize| format!("{n} rule{}", if n == 1 { "" } else { "s" });
        if old.len() != new.len() {
            self.0.push(format!(
                "{key}: {} -> {}",
                count(old.len()),
                count(new.len())
            ));
        } else if old != new {
            self.0.push(format!("{key}: {} changed", count(old.len())));
        }
    }
}

/// The names in `a` that `b` lacks.
fn names_only_in<'a>(
    a: &'a BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Vec<&'a str> {
    let names = a.keys().filter(|n| !b.contains_key(*n));
    names.map(String::as_str).collect()
}

/// How a setting's value reads in a change description.
trait Shown {
    fn shown(&self) -> String;
}

macro_rules! shown_by_display {
    ($($t:ty),*) => {$(
        impl Shown for $t {
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

shown_by_display!(bool, u32, u64, usize, SocketAddr, IpNet);

impl Shown for String {
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Shown for Duration {
    fn shown(&self) -> String {
        format!("{}s", self.as_secs())
    }
}

impl Shown for log::LevelFilter {
    fn shown(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// Listener addresses as `config.toml` spells them: `none`, one address, or `a, b`.
#[derive(PartialEq)]
struct Addrs<'a>(&'a [SocketAddr]);

impl Shown for Addrs<'_> {
    fn shown(&self) -> String {
        let all: Vec<String> = self.0.iter().map(SocketAddr::to_string).collect();
        match all.is_empty() {
            true => "none".to_string(),
            false => all.join(", "),
        }
    }
}

impl<T: Shown> Shown for Option<T> {
    fn shown(&self) -> String {
        self.as_ref().map_or_else(|| "none".to_string(), T::shown)
    }
}

impl<T: Shown> Shown for Vec<T> {
    fn shown(&self) -> String {
        let items: Vec<String> = self.iter().map(T::shown).collect();
        format!("[{}]", items.join(", "))
    }
}
