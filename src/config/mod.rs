//! The validated configuration: the only type the server reads settings from.
//!
//! `file.rs` holds the raw serde shape of `config.toml`; `Config::from_toml_str` turns it into
//! this type, checking everything once so that the request path can trust every field.

mod file;
mod locate;
pub mod reload;
mod value;

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
    pub log: LogConfig,
    /// User name → bcrypt hash.
    pub users: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub acl: Vec<AclRule>,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Plain-HTTP listener; `None` when `listen = ""`.
    pub listen: Option<SocketAddr>,
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
}

/// `[tls]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub listen: Option<SocketAddr>,
    /// `None`: a self-signed certificate is generated at start.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub redirect_http: bool,
    pub hsts: Option<String>,
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

/// `[cors]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CorsConfig {
    /// Allowed origins; `"*"` allows any; empty = no CORS headers.
    pub origins: Vec<String>,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub level: log::LevelFilter,
    pub access: bool,
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
    pub fn contains(&self, method: &Method) -> bool {
        match self {
            MethodSet::All => true,
            MethodSet::List(list) => list.contains(method),
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
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::from_toml_str(&text, base).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates TOML text; relative paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        file::parse(text, base_dir)
    }
}
