//! The raw shape of `config.toml`, as serde reads it, and its validation into [`Config`].
//!
//! Single values are checked while serde reads them (the `try_from` newtypes of `value.rs`), so
//! toml's error carries their position. List elements, and checks that need several keys or the
//! disk, run afterwards and locate their key through [`Source::line_of`]: toml reports an
//! element's error at the whole list.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::locate::{Source, join_key};
use super::overrides::Overrides;
use super::problems;
use super::value::{
    self, AtLeast, FieldValue, HeaderName, Level, Listen, LogLevel, Methods, NotFound, Pattern,
    UserName, UserValue,
};
use super::{
    AclRule, CacheConfig, CompressionConfig, Config, ConfigError, CorsConfig, LogConfig, MethodSet,
    MetricsConfig, PathPattern, Route, RouteTarget, ServerConfig, TlsConfig, WebdavConfig,
    check_users_file_unserved,
};

/// The whole file. Every table may be omitted.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    server: RawServer,
    tls: RawTls,
    compression: RawCompression,
    cache: RawCache,
    cors: RawCors,
    webdav: RawWebdav,
    log: RawLog,
    metrics: RawMetrics,
    users: BTreeMap<UserName, UserValue>,
    route: Vec<RawRoute>,
    acl: Vec<RawAcl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: Listen,
    root: String,
    index: Vec<String>,
    listing: bool,
    hidden: bool,
    not_found: NotFound,
    max_connections: AtLeast<1>,
    keep_alive_s: AtLeast<1>,
    header_timeout_s: AtLeast<1>,
    body_timeout_s: AtLeast<1>,
    max_header_bytes: AtLeast<256>,
    max_uri_bytes: AtLeast<16>,
    max_body_bytes: u64,
    max_ranges: AtLeast<1>,
    trace: bool,
    shutdown_grace_s: u64,
    cache_control: FieldValue,
    trusted_proxies: Vec<String>,
    reuse_port: bool,
    users_file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    listen: Listen,
    cert: String,
    key: String,
    redirect_http: bool,
    hsts: FieldValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCompression {
    enabled: bool,
    level: Level,
    min_bytes: u64,
    types: Vec<String>,
    precompressed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCache {
    max_bytes: u64,
    max_file_bytes: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawCors {
    origins: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawWebdav {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    level: LogLevel,
    access: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    listen: Listen,
}

/// One `[[route]]`; which target keys are set is checked in [`route_target`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: Pattern,
    dir: Option<String>,
    file: Option<String>,
    redirect: Option<FieldValue>,
    status: Option<u16>,
    body: Option<String>,
    content_type: Option<FieldValue>,
    #[serde(default)]
    headers: BTreeMap<HeaderName, FieldValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcl {
    path: Pattern,
    methods: Option<Methods>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

// The defaults of SPEC §2, in one place per table.

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: Listen(vec![SocketAddr::from(([127, 0, 0, 1], 8080))]),
            root: "public".into(),
            index: vec!["index.html".into()],
            listing: true,
            hidden: false,
            not_found: NotFound::default(),
            max_connections: AtLeast(1024),
            keep_alive_s: AtLeast(5),
            header_timeout_s: AtLeast(10),
            body_timeout_s: AtLeast(30),
            max_header_bytes: AtLeast(16384),
            max_uri_bytes: AtLeast(8192),
            max_body_bytes: 1 << 30,
            max_ranges: AtLeast(16),
            trace: true,
            shutdown_grace_s: 10,
            cache_control: FieldValue(String::new()),
            trusted_proxies: Vec::new(),
            reuse_port: false,
            users_file: String::new(),
        }
    }
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            listen: Listen::default(),
            cert: String::new(),
            key: String::new(),
            redirect_http: false,
            hsts: FieldValue(String::new()),
        }
    }
}

impl Default for RawCompression {
    fn default() -> Self {
        let types = [
            "text/*",
            "application/javascript",
            "application/json",
            "application/xml",
            "application/wasm",
            "image/svg+xml",
        ];
        RawCompression {
            enabled: true,
            level: Level(6),
            min_bytes: 256,
            types: types.iter().map(|t| t.to_string()).collect(),
            precompressed: true,
        }
    }
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            max_bytes: 64 << 20,
            max_file_bytes: 1 << 20,
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: LogLevel(log::LevelFilter::Info),
            access: true,
        }
    }
}

/// Parses and validates `text`; relative paths resolve against `base_dir`.
pub(super) fn parse(text: &str, base_dir: &Path, flags: &Overrides) -> Result<Config, ConfigError> {
    let source = Source::new(text);
    let mut raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(&e, &source))?;
    raw.take_flags(flags);
    let check = Check {
        source: &source,
        base: base_dir,
    };
    let mut config = raw.validate(&check)?;
    flags.apply(&mut config);
    Ok(config)
}

/// toml reports a byte span; turn it into the line and the key it falls in.
fn toml_error(e: &toml::de::Error, source: &Source) -> ConfigError {
    let at = e.span().map(|span| span.start);
    ConfigError {
        file: None,
        line: at.map(|offset| source.line_at(offset)),
        key: at.and_then(|offset| source.key_at(offset)),
        message: e.message().trim_end().to_string(),
    }
}

/// What the checks after deserialisation need: positions, and the folder paths resolve against.
struct Check<'a> {
    source: &'a Source<'a>,
    base: &'a Path,
}

impl Check<'_> {
    fn fail(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            line: self.source.line_of(key),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// `raw` resolved against the base folder, canonicalised; it must be a directory.
    fn dir(&self, key: &str, raw: &str) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(key, raw)?;
        if !path.is_dir() {
            return Err(self.fail(key, format!("`{raw}` is not a directory")));
        }
        Ok(path)
    }

    /// `raw` resolved against the base folder, canonicalised; it must be a regular file.
    fn file(&self, key: &str, raw: &str) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(key, raw)?;
        if !path.is_file() {
            return Err(self.fail(key, format!("`{raw}` is not a file")));
        }
        Ok(path)
    }

    /// Checks each element, naming `key[i]` on refusal.
    fn list<T>(
        &self,
        key: &str,
        raw: Vec<String>,
        check: fn(String) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfigError> {
        let convert = |(i, s)| check(s).map_err(|m| self.fail(&format!("{key}[{i}]"), m));
        raw.into_iter().enumerate().map(convert).collect()
    }

    fn resolve(&self, key: &str, raw: &str) -> Result<PathBuf, ConfigError> {
        if raw.is_empty() {
            return Err(self.fail(key, "must not be empty"));
        }
        let joined = self.base.join(raw);
        std::fs::canonicalize(&joined).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                _ => e.to_string(),
            };
            self.fail(key, format!("`{raw}` ({}) {why}", joined.display()))
        })
    }
}

impl RawConfig {
    /// The command line's root and listeners, in place of the file's, before either is checked.
    fn take_flags(&mut self, flags: &Overrides) {
        if let Some(root) = &flags.root {
            self.server.root = root.to_string_lossy().into_owned();
        }
        let wanted = flags.listeners(&self.server.listen.0);
        match (wanted, flags.tls) {
            (Some(addrs), false) => self.server.listen = Listen(addrs),
            (wanted, true) => {
                let addrs = wanted.unwrap_or_else(|| self.server.listen.0.clone());
                self.tls.listen = Listen(addrs);
                self.server.listen = Listen::default();
                self.tls.redirect_http = false;
            }
            (None, false) => {}
        }
    }

    fn validate(self, c: &Check) -> Result<Config, ConfigError> {
        let not_found = self.server.not_found.clone();
        let server = server(self.server, c)?;
        let problems = problems::not_found(&not_found, &server.root)
            .map(|message| c.fail("server.not_found", message));
        let tls = tls(self.tls, c)?;
        if server.listen.is_empty() && tls.listen.is_empty() {
            let message = "no listener: server.listen and tls.listen are both empty";
            return Err(c.fail("server.listen", message));
        }
        let metrics = metrics(self.metrics, &server, &tls, c)?;
        let routes = self.route.into_iter().enumerate();
        let routes: Vec<Route> = routes
            .map(|(i, r)| route(i, r, c))
            .collect::<Result<_, _>>()?;
        if let Some(file) = &server.users_file {
            check_users_file_unserved(file, &server, &routes)
                .map_err(|m| c.fail("server.users_file", m))?;
        }
        let users = users(self.users, server.users_file.as_deref(), c)?;
        let acl = self.acl.into_iter().enumerate();
        let acl = acl
            .map(|(i, r)| acl_rule(i, r, &users, c))
            .collect::<Result<_, _>>()?;
        Ok(Config {
            source: None,
            server,
            tls,
            compression: compression(self.compression, c)?,
            cache: CacheConfig {
                max_bytes: self.cache.max_bytes,
                max_file_bytes: self.cache.max_file_bytes,
            },
            cors: CorsConfig {
                origins: c.list("cors.origins", self.cors.origins, value::origin)?,
            },
            webdav: WebdavConfig {
                enabled: self.webdav.enabled,
            },
            log: LogConfig {
                level: self.log.level.0,
                access: self.log.access,
            },
            metrics,
            users,
            routes,
            acl,
            problems: problems.into_iter().collect(),
        })
    }
}

fn server(raw: RawServer, c: &Check) -> Result<ServerConfig, ConfigError> {
    // The URI is part of the head, so a larger URI limit could never be reached.
    if raw.max_uri_bytes.0 > raw.max_header_bytes.0 {
        let message = format!(
            "must not exceed server.max_header_bytes ({})",
            raw.max_header_bytes.0
        );
        return Err(c.fail("server.max_uri_bytes", message));
    }
    Ok(ServerConfig {
        listen: raw.listen.0,
        root: c.dir("server.root", &raw.root)?,
        index: c.list("server.index", raw.index, value::index_name)?,
        listing: raw.listing,
        hidden: raw.hidden,
        not_found: raw.not_found.path,
        max_connections: raw.max_connections.to_usize(),
        keep_alive: Duration::from_secs(raw.keep_alive_s.0),
        header_timeout: Duration::from_secs(raw.header_timeout_s.0),
        body_timeout: Duration::from_secs(raw.body_timeout_s.0),
        max_header_bytes: raw.max_header_bytes.to_usize(),
        max_uri_bytes: raw.max_uri_bytes.to_usize(),
        max_body_bytes: raw.max_body_bytes,
        max_ranges: raw.max_ranges.to_usize(),
        trace: raw.trace,
        shutdown_grace: Duration::from_secs(raw.shutdown_grace_s),
        cache_control: raw.cache_control.non_empty(),
        trusted_proxies: nets(c, "server.trusted_proxies", raw.trusted_proxies)?,
        reuse_port: raw.reuse_port,
        users_file: if raw.users_file.is_empty() {
            None
        } else {
            Some(c.file("server.users_file", &raw.users_file)?)
        },
    })
}

fn tls(raw: RawTls, c: &Check) -> Result<TlsConfig, ConfigError> {
    if raw.redirect_http && raw.listen.0.is_empty() {
        return Err(c.fail(
            "tls.redirect_http",
            "needs tls.listen: there is no HTTPS port to redirect to",
        ));
    }
    let (cert, key) = match (raw.cert.is_empty(), raw.key.is_empty()) {
        (true, true) => (None, None),
        (false, false) => (
            Some(c.file("tls.cert", &raw.cert)?),
            Some(c.file("tls.key", &raw.key)?),
        ),
        (false, true) => return Err(c.fail("tls.key", "tls.cert is set: set tls.key too")),
        (true, false) => return Err(c.fail("tls.cert", "tls.key is set: set tls.cert too")),
    };
    Ok(TlsConfig {
        listen: raw.listen.0,
        cert,
        key,
        redirect_http: raw.redirect_http,
        hsts: raw.hsts.non_empty(),
        // Placed by `Config`, which knows the config file: see `self_signed.rs`.
        self_signed_dir: None,
    })
}

/// The metrics listeners: none may take an address a file listener has.
fn metrics(
    raw: RawMetrics,
    server: &ServerConfig,
    tls: &TlsConfig,
    c: &Check,
) -> Result<MetricsConfig, ConfigError> {
    let files = server.listen.iter().chain(&tls.listen);
    for addr in &raw.listen.0 {
        if let Some(taken) = files.clone().find(|f| value::overlap(addr, f)) {
            let message = format!(
                "{addr} is taken by the file listener {taken}: metrics need an address of their own"
            );
            return Err(c.fail("metrics.listen", message));
        }
    }
    Ok(MetricsConfig {
        listen: raw.listen.0,
    })
}

/// `[users]` and the users of `server.users_file`, merged; a name in both is refused.
fn users(
    table: BTreeMap<UserName, UserValue>,
    file: Option<&Path>,
    c: &Check,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut users = BTreeMap::new();
    for (UserName(name), value) in table {
        // `bob = "alice:$2y$…"`: a line pasted under the wrong key would let no one in.
        if let Some(named) = value.named.filter(|named| *named != name) {
            let message = format!(
                "the value is an htpasswd line for `{named}`, not `{name}`: \
                 rename the key to `{named}`, or make {name}'s line with `htpasswd -nB {name}`"
            );
            return Err(c.fail(&join_key("users", &name), message));
        }
        users.insert(name, value.hash);
    }
    let Some(file) = file else {
        return Ok(users);
    };
    let listed = super::users::read(file).map_err(|m| c.fail("server.users_file", m))?;
    for user in listed {
        if users.contains_key(&user.name) {
            let message = format!(
                "user `{}` is defined here and in {}:{} too: remove one of the two",
                user.name,
                file.display(),
                user.line
            );
            return Err(c.fail(&join_key("users", &user.name), message));
        }
        users.insert(user.name, user.hash);
    }
    Ok(users)
}

fn compression(raw: RawCompression, c: &Check) -> Result<CompressionConfig, ConfigError> {
    let types = c.list("compression.types", raw.types, value::media_range)?;
    Ok(CompressionConfig {
        enabled: raw.enabled,
        level: raw.level.0,
        min_bytes: raw.min_bytes,
        types,
        precompressed: raw.precompressed,
    })
}

fn nets(c: &Check, key: &str, raw: Vec<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    c.list(key, raw, value::cidr)
}

fn route(i: usize, raw: RawRoute, c: &Check) -> Result<Route, ConfigError> {
    let headers = raw.headers.into_iter().map(|(n, v)| (n.0, v.0)).collect();
    let target = RouteTargetRaw {
        dir: raw.dir,
        file: raw.file,
        redirect: raw.redirect,
        body: raw.body,
        status: raw.status,
        content_type: raw.content_type,
    };
    let target = target.validate(i, c)?;
    // An exact `dir` route could only ever serve the folder itself, whose listing needs the
    // trailing-slash URL that the pattern does not match.
    if matches!(target, RouteTarget::Dir(_)) && matches!(raw.path.0, PathPattern::Exact(_)) {
        let message = "a `dir` route needs a prefix pattern such as `/docs/*`";
        return Err(c.fail(&format!("route[{i}].path"), message));
    }
    Ok(Route {
        path: raw.path.0,
        target,
        headers,
    })
}

/// The keys of a `[[route]]` that together say what it serves.
struct RouteTargetRaw {
    dir: Option<String>,
    file: Option<String>,
    redirect: Option<FieldValue>,
    body: Option<String>,
    status: Option<u16>,
    content_type: Option<FieldValue>,
}

/// The one target key a route set.
enum TargetKey {
    Dir(String),
    File(String),
    Redirect(String),
    Body(String),
}

impl RouteTargetRaw {
    /// Exactly one of `dir`, `file`, `redirect`, `body`; `status` and `content_type` only where
    /// they mean something.
    fn validate(self, i: usize, c: &Check) -> Result<RouteTarget, ConfigError> {
        let key = |name: &str| format!("route[{i}].{name}");
        let mut set = [
            self.dir.map(|d| ("dir", TargetKey::Dir(d))),
            self.file.map(|f| ("file", TargetKey::File(f))),
            self.redirect
                .map(|r| ("redirect", TargetKey::Redirect(r.0))),
            self.body.map(|b| ("body", TargetKey::Body(b))),
        ]
        .into_iter()
        .flatten();
        let Some((name, target)) = set.next() else {
            if self.status.is_some() {
                return Err(c.fail(&key("status"), "needs `redirect` or `body`"));
            }
            let message = "needs one of `dir`, `file`, `redirect`, `body`";
            return Err(c.fail(&format!("route[{i}]"), message));
        };
        if let Some((second, _)) = set.next() {
            let message = format!(
                "`{name}` is set too: a route has exactly one of `dir`, `file`, `redirect`, `body`"
            );
            return Err(c.fail(&key(second), message));
        }
        if self.content_type.is_some() && name != "body" {
            return Err(c.fail(&key("content_type"), "only applies with `body`"));
        }
        if self.status.is_some() && matches!(target, TargetKey::Dir(_) | TargetKey::File(_)) {
            return Err(c.fail(&key("status"), "only applies with `redirect` or `body`"));
        }
        match target {
            TargetKey::Dir(dir) => Ok(RouteTarget::Dir(c.dir(&key("dir"), &dir)?)),
            TargetKey::File(file) => Ok(RouteTarget::File(c.file(&key("file"), &file)?)),
            TargetKey::Redirect(to) => redirect(to, self.status, &key, c),
            TargetKey::Body(body) => {
                let content_type = self.content_type.map(|t| t.0);
                fixed(body, self.status, content_type, &key, c)
            }
        }
    }
}

fn redirect(
    to: String,
    status: Option<u16>,
    key: &dyn Fn(&str) -> String,
    c: &Check,
) -> Result<RouteTarget, ConfigError> {
    if to.is_empty() {
        return Err(c.fail(&key("redirect"), "must not be empty"));
    }
    let status = status.unwrap_or(308);
    if ![301, 302, 303, 307, 308].contains(&status) {
        let message = format!("{status} is not a redirect status (301, 302, 303, 307, 308)");
        return Err(c.fail(&key("status"), message));
    }
    Ok(RouteTarget::Redirect { to, status })
}

fn fixed(
    body: String,
    status: Option<u16>,
    content_type: Option<String>,
    key: &dyn Fn(&str) -> String,
    c: &Check,
) -> Result<RouteTarget, ConfigError> {
    let status = status.unwrap_or(200);
    // A 1xx is never a final response (RFC 9110 §15.2), so a route cannot answer with one.
    if !(200..=599).contains(&status) {
        return Err(c.fail(
            &key("status"),
            format!("{status} is not between 200 and 599"),
        ));
    }
    // RFC 9110 §15.3.5, §15.4.5: 204 and 304 responses have no content.
    if matches!(status, 204 | 304) && !body.is_empty() {
        return Err(c.fail(&key("body"), format!("must be empty with status {status}")));
    }
    let content_type = content_type.unwrap_or_else(|| "text/plain; charset=utf-8".into());
    Ok(RouteTarget::Fixed {
        status,
        body,
        content_type,
    })
}

fn acl_rule(
    i: usize,
    raw: RawAcl,
    users: &BTreeMap<String, String>,
    c: &Check,
) -> Result<AclRule, ConfigError> {
    if let Some(j) = raw.users.iter().position(|u| !users.contains_key(u)) {
        let message = format!(
            "user `{}` is not defined in [users] or server.users_file",
            raw.users[j]
        );
        return Err(c.fail(&format!("acl[{i}].users[{j}]"), message));
    }
    Ok(AclRule {
        path: raw.path.0,
        methods: raw.methods.map_or(MethodSet::All, |m| m.0),
        users: raw.users,
        allow: nets(c, &format!("acl[{i}].allow"), raw.allow)?,
        deny: nets(c, &format!("acl[{i}].deny"), raw.deny)?,
    })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::config::PathPattern;
    use crate::http::Method;

    /// A bcrypt hash of "secret" (cost 4), shaped as `htpasswd -B` writes it.
    const HASH: &str = "$2y$04$abcdefghijklmnopqrstuuK0bVl6O8zOcH7fbeEGc1yVJ7c4vzM9O";

    /// A per-test folder holding `public/`, `docs/`, `page.html`, `cert.pem`, `key.pem`, and
    /// users files `users.htpasswd` and `.htpasswd` (alice) and `md5.htpasswd` (alice, then bob
    /// with an MD5 hash); removed on drop. Unique per test, so tests run in parallel.
    struct Fixture(PathBuf);

    impl Fixture {
        fn new() -> Fixture {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("shelf-config-{}-{n}", std::process::id()));
            std::fs::create_dir_all(dir.join("public")).unwrap();
            std::fs::create_dir_all(dir.join("docs")).unwrap();
            for file in ["public/index.html", "page.html", "cert.pem", "key.pem"] {
                std::fs::write(dir.join(file), "x").unwrap();
            }
            let users = format!("# alice\nalice:{HASH}\n");
            for file in ["users.htpasswd", ".htpasswd"] {
                std::fs::write(dir.join(file), &users).unwrap();
            }
            let md5 = format!("alice:{HASH}\nbob:$apr1$abc$0123456789abcdefghijkl\n");
            std::fs::write(dir.join("md5.htpasswd"), md5).unwrap();
            Fixture(dir)
        }

        fn parse(&self, text: &str) -> Result<Config, ConfigError> {
            parse(text, &self.0, &Overrides::default())
        }

        fn path(&self, rel: &str) -> PathBuf {
            std::fs::canonicalize(self.0.join(rel)).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// (what it proves, config text, key, line, part of the message) — hostile rows first.
    #[rustfmt::skip]
    const REFUSED: &[(&str, &str, &str, Option<usize>, &str)] = &[
        ("CRLF in cache_control", "[server]\ncache_control = \"a\\r\\nX-Evil: 1\"", "server.cache_control", Some(2), "control characters"),
        ("LF in hsts", "[tls]\nhsts = \"max-age=1\\n\"", "tls.hsts", Some(2), "control characters"),
        ("CRLF in route header", "[[route]]\npath = \"/\"\nbody = \"\"\nheaders = { \"X-A\" = \"a\\r\\nb\" }", "route[0].headers.X-A", Some(4), "control characters"),
        ("CR in redirect", "[[route]]\npath = \"/\"\nredirect = \"/a\\rb\"", "route[0].redirect", Some(3), "control characters"),
        ("header name with space", "[[route]]\npath = \"/\"\nbody = \"\"\nheaders = { \"X A\" = \"b\" }", "route[0].headers.\"X A\"", Some(4), "not a valid header name"),
        ("framing header", "[[route]]\npath = \"/\"\nbody = \"\"\nheaders = { \"content-length\" = \"9\" }", "route[0].headers.content-length", Some(4), "set by the server"),
        ("not_found climbs", "[server]\nnot_found = \"../etc/passwd\"", "server.not_found", Some(2), "no `..`"),
        ("not_found climbs midway", "[server]\nnot_found = \"/a/../../b\"", "server.not_found", Some(2), "no `..`"),
        ("index with slash", "[server]\nindex = [\"index.html\",\n  \"../x\"]", "server.index[1]", Some(3), "plain file name"),
        ("NUL in route path", "[[route]]\npath = \"/a\\u0000b\"\nbody = \"\"", "route[0].path", Some(2), "control characters"),
        ("not_found is the root", "[server]\nnot_found = \"/\"", "server.not_found", Some(2), "must name a file"),
        ("index dot-dot", "[server]\nindex = [\"..\"]", "server.index[0]", Some(2), "plain file name"),
        ("index empty name", "[server]\nindex = [\"\"]", "server.index[0]", Some(2), "plain file name"),
        ("unknown key", "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"", "server.lisen", Some(3), "unknown field `lisen`"),
        ("unknown table", "\n[serevr]\nlisten = \"\"", "serevr", Some(2), "unknown field `serevr`"),
        ("unknown key in route", "[[route]]\npath = \"/\"\nbody = \"\"\n[[route]]\npath = \"/\"\npat = \"/x\"", "route[1].pat", Some(6), "unknown field `pat`"),
        ("wrong type", "[server]\nkeep_alive_s = \"5\"", "server.keep_alive_s", Some(2), "invalid type"),
        ("negative size", "[server]\nmax_body_bytes = -1", "server.max_body_bytes", Some(2), "invalid value"),
        ("host name listen", "[server]\nlisten = \"localhost:8080\"", "server.listen", Some(2), "not an IP address and port"),
        ("host name listen hint", "[server]\nlisten = \"localhost:8080\"", "server.listen", Some(2), "write `127.0.0.1:8080`"),
        ("listen listed twice", "[server]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]", "server.listen", Some(2), "listed twice"),
        ("listen list with a host name", "[server]\nlisten = [\"[::1]:1\", \"x:1\"]", "server.listen", Some(2), "not an IP address"),
        ("listen as a number", "[server]\nlisten = 8080", "server.listen", Some(2), "an address like"),
        ("empty listen list", "[server]\nlisten = []", "server.listen", Some(2), "no listener"),
        ("listen without port", "[tls]\nlisten = \"127.0.0.1\"", "tls.listen", Some(2), "not an IP address and port"),
        ("no listener", "[server]\nlisten = \"\"", "server.listen", Some(2), "no listener"),
        ("metrics on the plain listener", "[metrics]\nlisten = \"127.0.0.1:8080\"", "metrics.listen", Some(2), "taken by the file listener 127.0.0.1:8080"),
        ("metrics under a wildcard", "[server]\nlisten = \"0.0.0.0:9000\"\n[metrics]\nlisten = \"127.0.0.1:9000\"", "metrics.listen", Some(4), "taken by the file listener"),
        ("metrics on a dual-stack wildcard", "[server]\nlisten = \"[::]:9000\"\n[metrics]\nlisten = \"127.0.0.1:9000\"", "metrics.listen", Some(4), "taken by the file listener"),
        ("metrics on the TLS listener", "[tls]\nlisten = \"[::1]:8443\"\n[metrics]\nlisten = [\"127.0.0.1:9090\", \"[::1]:8443\"]", "metrics.listen", Some(4), "[::1]:8443 is taken"),
        ("metrics on a host name", "[metrics]\nlisten = \"localhost:9090\"", "metrics.listen", Some(2), "not an IP address and port"),
        ("metrics unknown key", "[metrics]\npath = \"/m\"", "metrics.path", Some(2), "unknown field `path`"),
        ("bad CIDR", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]", "server.trusted_proxies[0]", Some(2), "not a CIDR"),
        ("bad CIDR on a later line", "[server]\ntrusted_proxies = [\n  \"::1\",\n  \"fe80::/129\",\n]", "server.trusted_proxies[1]", Some(4), "not a CIDR"),
        ("zero keep-alive", "[server]\nkeep_alive_s = 0", "server.keep_alive_s", Some(2), "at least 1"),
        ("zero header timeout", "[server]\nheader_timeout_s = 0", "server.header_timeout_s", Some(2), "at least 1"),
        ("zero body timeout", "[server]\nbody_timeout_s = 0", "server.body_timeout_s", Some(2), "at least 1"),
        ("zero connections", "[server]\nmax_connections = 0", "server.max_connections", Some(2), "at least 1"),
        ("tiny header limit", "[server]\nmax_header_bytes = 255", "server.max_header_bytes", Some(2), "at least 256"),
        ("tiny URI limit", "[server]\nmax_uri_bytes = 15", "server.max_uri_bytes", Some(2), "at least 16"),
        ("zero ranges", "[server]\nmax_ranges = 0", "server.max_ranges", Some(2), "at least 1"),
        ("URI limit above head limit", "[server]\nmax_header_bytes = 1000\nmax_uri_bytes = 2000", "server.max_uri_bytes", Some(3), "must not exceed"),
        ("root missing", "[server]\nroot = \"nope\"", "server.root", Some(2), "does not exist"),
        ("root is a file", "[server]\nroot = \"page.html\"", "server.root", Some(2), "not a directory"),
        ("root empty", "[server]\nroot = \"\"", "server.root", Some(2), "must not be empty"),
        ("cert without key", "[tls]\ncert = \"cert.pem\"", "tls.key", Some(1), "set tls.key too"),
        ("key without cert", "[tls]\nkey = \"key.pem\"", "tls.cert", Some(1), "set tls.cert too"),
        ("cert missing", "[tls]\ncert = \"nope.pem\"\nkey = \"key.pem\"", "tls.cert", Some(2), "does not exist"),
        ("key is a folder", "[tls]\ncert = \"cert.pem\"\nkey = \"docs\"", "tls.key", Some(3), "not a file"),
        ("redirect_http without TLS", "[tls]\nredirect_http = true", "tls.redirect_http", Some(2), "needs tls.listen"),
        ("level 0", "[compression]\nlevel = 0", "compression.level", Some(2), "between 1 and 9"),
        ("level 10", "[compression]\nlevel = 10", "compression.level", Some(2), "between 1 and 9"),
        ("type without subtype", "[compression]\ntypes = [\"text\"]", "compression.types[0]", Some(2), "not a media type"),
        ("any type", "[compression]\ntypes = [\"*/*\"]", "compression.types[0]", Some(2), "not a media type"),
        ("type with parameter", "[compression]\ntypes = [\"text/html; q=1\"]", "compression.types[0]", Some(2), "not a media type"),
        ("log level", "[log]\nlevel = \"verbose\"", "log.level", Some(2), "not one of off"),
        ("htpasswd line under another name", "[users]\nbob = \"alice:HASH\"", "users.bob", Some(2), "an htpasswd line for `alice`, not `bob`: rename the key to `alice`"),
        ("htpasswd line with an MD5 hash", "[users]\nalice = \"alice:$apr1$abc$0123456789abcdefghijkl\"", "users.alice", Some(2), "only bcrypt (htpasswd -B) is supported"),
        ("MD5 hash", "[users]\nalice = \"$apr1$abc$0123456789abcdefghijkl\"", "users.alice", Some(2), "an MD5 (`$apr1$`) hash: only bcrypt"),
        ("htpasswd line without a name", "[users]\nalice = \":HASH\"", "users.alice", Some(2), "the htpasswd line's user name"),
        ("htpasswd line with a plain-text password", "[users]\nalice = \"alice:secret\"", "users.alice", Some(2), "not a bcrypt hash"),
        ("users_file under [users]", "[users]\nusers_file = \"users.htpasswd\"", "users.users_file", Some(2), "belongs under [server]"),
        ("users file with an MD5 line", "[server]\nusers_file = \"md5.htpasswd\"", "server.users_file", Some(2), "md5.htpasswd:2: user `bob`: the hash is an MD5"),
        ("users file name also in [users]", "[server]\nusers_file = \"users.htpasswd\"\n[users]\nalice = \"HASH\"", "users.alice", Some(4), "users.htpasswd:2 too: remove one"),
        ("users file served", "[server]\nroot = \".\"\nusers_file = \"users.htpasswd\"", "server.users_file", Some(3), "so anyone could download its hashes"),
        ("dot-named users file served with hidden", "[server]\nroot = \".\"\nhidden = true\nusers_file = \".htpasswd\"", "server.users_file", Some(4), "move it out of the served folders"),
        ("users file missing", "[server]\nusers_file = \"nope.htpasswd\"", "server.users_file", Some(2), "does not exist"),
        ("users file is a folder", "[server]\nusers_file = \"docs\"", "server.users_file", Some(2), "not a file"),
        ("plain-text password", "[users]\nalice = \"secret\"", "users.alice", Some(2), "not a bcrypt hash"),
        ("truncated hash", "[users]\nalice = \"$2y$05$abc\"", "users.alice", Some(2), "not a bcrypt hash"),
        ("colon in user name", "[users]\n\"a:b\" = \"x\"", "users.\"a:b\"", Some(2), "without `:`"),
        ("empty user name", "[users]\n\"\" = \"x\"", "users.\"\"", Some(2), "non-empty"),
        ("CORS origin with path", "[cors]\norigins = [\"https://app.example/\"]", "cors.origins[0]", Some(2), "not an origin"),
        ("exact dir route", "[[route]]\npath = \"/x\"\ndir = \"docs\"", "route[0].path", Some(2), "prefix pattern"),
        ("encoded route path", "[[route]]\npath = \"/a%20b/*\"\nbody = \"\"", "route[0].path", Some(2), "`/a b`"),
        ("dot segment in acl path", "[[acl]]\npath = \"/a/../b\"", "acl[0].path", Some(2), "never matches"),
        ("route path relative", "[[route]]\npath = \"docs\"\nbody = \"\"", "route[0].path", Some(2), "must start with `/`"),
        ("star inside route path", "[[route]]\npath = \"/a*\"\nbody = \"\"", "route[0].path", Some(2), "final `/*`"),
        ("star segment", "[[route]]\npath = \"/*/x\"\nbody = \"\"", "route[0].path", Some(2), "final `/*`"),
        ("route without path", "[[route]]\nbody = \"\"", "route[0]", Some(1), "missing field `path`"),
        ("route without target", "\n[[route]]\npath = \"/x\"", "route[0]", Some(2), "needs one of"),
        ("route with two targets", "[[route]]\npath = \"/x\"\ndir = \"docs\"\nfile = \"page.html\"", "route[0].file", Some(4), "exactly one"),
        ("status alone", "[[route]]\npath = \"/x\"\nstatus = 200", "route[0].status", Some(3), "needs `redirect` or `body`"),
        ("status with dir", "[[route]]\npath = \"/x/*\"\ndir = \"docs\"\nstatus = 200", "route[0].status", Some(4), "only applies"),
        ("redirect status 200", "[[route]]\npath = \"/x\"\nredirect = \"/y\"\nstatus = 200", "route[0].status", Some(4), "not a redirect status"),
        ("empty redirect", "[[route]]\npath = \"/x\"\nredirect = \"\"", "route[0].redirect", Some(3), "must not be empty"),
        ("fixed status 100", "[[route]]\npath = \"/x\"\nbody = \"\"\nstatus = 100", "route[0].status", Some(4), "between 200 and 599"),
        ("fixed status 600", "[[route]]\npath = \"/x\"\nbody = \"\"\nstatus = 600", "route[0].status", Some(4), "between 200 and 599"),
        ("204 with a body", "[[route]]\npath = \"/x\"\nbody = \"hi\"\nstatus = 204", "route[0].body", Some(3), "must be empty"),
        ("content_type on redirect", "[[route]]\npath = \"/x\"\nredirect = \"/y\"\ncontent_type = \"a/b\"", "route[0].content_type", Some(4), "only applies with `body`"),
        ("route dir missing", "[[route]]\npath = \"/x/*\"\ndir = \"nope\"", "route[0].dir", Some(3), "does not exist"),
        ("route file is a folder", "[[route]]\npath = \"/x\"\nfile = \"docs\"", "route[0].file", Some(3), "not a file"),
        ("acl CONNECT", "[[acl]]\npath = \"/*\"\nmethods = [\"CONNECT\"]", "acl[0].methods", Some(3), "not one of GET"),
        ("acl star with others", "[[acl]]\npath = \"/*\"\nmethods = [\"GET\", \"*\"]", "acl[0].methods", Some(3), "only entry"),
        ("acl no methods", "[[acl]]\npath = \"/*\"\nmethods = []", "acl[0].methods", Some(3), "must not be empty"),
        ("acl unknown user", "[users]\nalice = \"HASH\"\n[[acl]]\npath = \"/*\"\nusers = [\"alice\",\n  \"bob\"]", "acl[0].users[1]", Some(6), "`bob` is not defined"),
        ("acl bad deny", "[[acl]]\npath = \"/*\"\ndeny = [\"1.2.3\"]", "acl[0].deny[0]", Some(3), "not a CIDR"),
        ("star in media type", "[compression]\ntypes = [\"te*t/*\"]", "compression.types[0]", Some(2), "not a media type"),
        ("CRLF line endings", "[server]\r\n\r\nkeep_alive_s = 0\r\n", "server.keep_alive_s", Some(3), "at least 1"),
        ("dotted key", "\nserver.keep_alive_s = 0", "server.keep_alive_s", Some(2), "at least 1"),
        ("inline table", "server = { listen = \"\" }", "server.listen", Some(1), "no listener"),
        ("syntax error", "[server\nlisten = \"\"", "", Some(1), ""),
    ];

    #[test]
    fn refuses_invalid_config_naming_line_and_key() {
        let fx = Fixture::new();
        for &(name, text, key, line, message) in REFUSED {
            let text = text.replace("HASH", HASH);
            let err = fx.parse(&text).expect_err(name);
            let want_key = (!key.is_empty()).then_some(key);
            assert_eq!(err.key.as_deref(), want_key, "{name}: {err:?}");
            assert_eq!(err.line, line, "{name}: {err:?}");
            assert!(err.message.contains(message), "{name}: {err:?}");
        }
    }

    #[test]
    fn load_error_shows_file_line_and_key() {
        let fx = Fixture::new();
        let path = fx.0.join("config.toml");
        std::fs::write(&path, "[server]\nroot = \"public\"\nlisen = \"x\"\n").unwrap();
        let shown = Config::load(&path).unwrap_err().to_string();
        let want = format!(
            "{}:3: key `server.lisen`: unknown field `lisen`",
            path.display()
        );
        assert!(shown.starts_with(&want), "{shown}");
    }

    /// A `not_found` naming no file loads, with a problem located like a load error; one
    /// naming a file (`public/index.html` exists) has none.
    #[test]
    fn not_found_without_a_file_is_a_located_problem() {
        let fx = Fixture::new();
        let path = fx.0.join("config.toml");
        std::fs::write(
            &path,
            "[server]\nroot = \"public\"\n\nnot_found = \"/404.html\"\n",
        )
        .unwrap();
        let config = Config::load(&path).expect("a problem is not a load error");
        let shown: Vec<String> = config.problems().iter().map(|p| p.to_string()).collect();
        let want = format!("{}:4: key `server.not_found`: `/404.html`", path.display());
        assert!(
            matches!(&shown[..], [one] if one.starts_with(&want)),
            "{shown:?}"
        );
        let fine = fx.parse("[server]\nnot_found = \"/index.html\"").unwrap();
        assert!(fine.problems().is_empty(), "{:?}", fine.problems());
    }

    #[test]
    fn empty_file_gives_spec_defaults() {
        let fx = Fixture::new();
        let c = fx.parse("").unwrap();
        let s = &c.server;
        assert_eq!(s.listen, [SocketAddr::from(([127, 0, 0, 1], 8080))]);
        assert_eq!(s.root, fx.path("public"));
        assert_eq!(s.index, ["index.html"]);
        assert!(s.listing && !s.hidden && s.trace);
        assert_eq!(s.not_found, None);
        assert_eq!(s.max_connections, 1024);
        assert_eq!(s.keep_alive, Duration::from_secs(5));
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.body_timeout, Duration::from_secs(30));
        assert_eq!((s.max_header_bytes, s.max_uri_bytes), (16384, 8192));
        assert_eq!((s.max_body_bytes, s.max_ranges), (1073741824, 16));
        assert_eq!(s.shutdown_grace, Duration::from_secs(10));
        assert_eq!(s.cache_control, None);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(
            c.tls,
            TlsConfig {
                listen: Vec::new(),
                cert: None,
                key: None,
                redirect_http: false,
                hsts: None,
                // Chosen by `Config::load`, which knows the config file; see `self_signed.rs`.
                self_signed_dir: None,
            }
        );
        assert_eq!(s.users_file, None);
        let z = &c.compression;
        assert!(z.enabled && z.precompressed);
        assert_eq!((z.level, z.min_bytes), (6, 256));
        assert_eq!(z.types[0], "text/*");
        assert_eq!(z.types.len(), 6);
        assert_eq!(
            (c.cache.max_bytes, c.cache.max_file_bytes),
            (67108864, 1048576)
        );
        assert!(c.cors.origins.is_empty());
        assert_eq!(c.log.level, log::LevelFilter::Info);
        assert!(c.log.access);
        assert!(c.metrics.listen.is_empty(), "metrics are off by default");
        assert!(c.users.is_empty() && c.routes.is_empty() && c.acl.is_empty());
    }

    #[test]
    fn the_template_parses_to_defaults() {
        // The template, not the repository's config.toml: that one is the user's to edit.
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let none = Overrides::default();
        let template = parse(super::super::TEMPLATE, base, &none).unwrap();
        assert_eq!(template, parse("", base, &none).unwrap());
    }

    #[test]
    fn the_init_template_serves_its_own_folder() {
        let fx = Fixture::new();
        let written = fx.parse(&super::super::init_template()).unwrap();
        assert_eq!(written.server.root, fx.path("."));
        let mut defaults = fx.parse("[server]\nroot = \".\"").unwrap();
        defaults.source = written.source.clone();
        assert_eq!(written, defaults);
    }

    #[test]
    fn accepts_valid_values() {
        let fx = Fixture::new();
        type Expect = fn(&Config, &Fixture);
        let cases: &[(&str, &str, Expect)] = &[
            (
                "two listeners",
                "[server]\nlisten = [\"127.0.0.1:0\", \"[::1]:0\"]",
                |c, _| {
                    let want: [SocketAddr; 2] =
                        ["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
                    assert_eq!(c.server.listen, want);
                },
            ),
            ("IPv6 port 0", "[server]\nlisten = \"[::1]:0\"", |c, _| {
                assert_eq!(c.server.listen, ["[::1]:0".parse().unwrap()])
            }),
            (
                "metrics listener",
                "[metrics]\nlisten = \"127.0.0.1:9090\"",
                |c, _| assert_eq!(c.metrics.listen, ["127.0.0.1:9090".parse().unwrap()]),
            ),
            (
                "metrics and files both on port 0",
                "[server]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = [\"127.0.0.1:0\"]",
                |c, _| assert_eq!(c.metrics.listen, ["127.0.0.1:0".parse().unwrap()]),
            ),
            (
                "metrics on an IPv4 wildcard, files on IPv6, one port",
                "[server]\nlisten = \"[::1]:9000\"\n[metrics]\nlisten = \"0.0.0.0:9000\"",
                |c, _| assert_eq!(c.metrics.listen, ["0.0.0.0:9000".parse().unwrap()]),
            ),
            (
                "TLS only",
                "[server]\nlisten = \"\"\n[tls]\nlisten = \"127.0.0.1:8443\"",
                |c, _| {
                    assert!(c.server.listen.is_empty());
                    assert_eq!(c.tls.listen, ["127.0.0.1:8443".parse().unwrap()]);
                },
            ),
            (
                "bare addresses and host bits",
                "[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\", \"10.1.2.3/8\"]",
                |c, _| {
                    let want: Vec<ipnet::IpNet> = ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
                        .iter()
                        .map(|n| n.parse().unwrap())
                        .collect();
                    assert_eq!(c.server.trusted_proxies, want);
                },
            ),
            (
                "not_found without slash",
                "[server]\nnot_found = \"/errors/404.html\"",
                |c, _| assert_eq!(c.server.not_found.as_deref(), Some("errors/404.html")),
            ),
            (
                "durations",
                "[server]\nkeep_alive_s = 1\nshutdown_grace_s = 0",
                |c, _| {
                    assert_eq!(c.server.keep_alive, Duration::from_secs(1));
                    assert_eq!(c.server.shutdown_grace, Duration::ZERO);
                },
            ),
            (
                "URI limit equal to head limit",
                "[server]\nmax_header_bytes = 256\nmax_uri_bytes = 256",
                |c, _| assert_eq!(c.server.max_uri_bytes, 256),
            ),
            (
                "header values",
                "[server]\ncache_control = \"max-age=60\"\n[tls]\nlisten = \"[::1]:0\"\nhsts = \"max-age=63072000\"\nredirect_http = true",
                |c, _| {
                    assert_eq!(c.server.cache_control.as_deref(), Some("max-age=60"));
                    assert_eq!(c.tls.hsts.as_deref(), Some("max-age=63072000"));
                },
            ),
            (
                "absolute root, cert and key",
                "[server]\nroot = \"ROOT/docs\"\n[tls]\ncert = \"cert.pem\"\nkey = \"ROOT/key.pem\"",
                |c, fx| {
                    assert_eq!(c.server.root, fx.path("docs"));
                    assert_eq!(c.tls.cert, Some(fx.path("cert.pem")));
                    assert_eq!(c.tls.key, Some(fx.path("key.pem")));
                },
            ),
            (
                "case-insensitive values",
                "[log]\nlevel = \"DEBUG\"\n[compression]\ntypes = [\"TEXT/HTML\", \"Image/*\"]",
                |c, _| {
                    assert_eq!(c.log.level, log::LevelFilter::Debug);
                    assert_eq!(c.compression.types, ["text/html", "image/*"]);
                },
            ),
            (
                "an htpasswd -nB line as the value, newline and all",
                "[users]\nalice = \"\"\"alice:HASH\n\"\"\"",
                |c, _| assert_eq!(c.users.get("alice").map(String::as_str), Some(HASH)),
            ),
            (
                "users file merged with [users]",
                "[server]\nusers_file = \"users.htpasswd\"\n[users]\nbob = \"bob:HASH\"\n[[acl]]\npath = \"/*\"\nusers = [\"alice\", \"bob\"]",
                |c, fx| {
                    assert_eq!(c.server.users_file, Some(fx.path("users.htpasswd")));
                    let names: Vec<&str> = c.users.keys().map(String::as_str).collect();
                    assert_eq!(names, ["alice", "bob"]);
                    assert!(c.users.values().all(|h| h == HASH));
                },
            ),
            (
                "dot-named users file in a root served with hidden = false",
                "[server]\nroot = \".\"\nusers_file = \".htpasswd\"",
                |c, _| assert!(c.users.contains_key("alice")),
            ),
            (
                "users and origins",
                "[users]\nalice = \"HASH\"\n[cors]\norigins = [\"*\", \"http://localhost:3000\"]",
                |c, _| {
                    assert_eq!(c.users.get("alice").map(String::as_str), Some(HASH));
                    assert_eq!(c.cors.origins, ["*", "http://localhost:3000"]);
                },
            ),
            ("routes", ROUTES, |c, fx| {
                let r = &c.routes;
                assert_eq!(r[0].path, PathPattern::Prefix("/docs".into()));
                assert_eq!(r[0].target, RouteTarget::Dir(fx.path("docs")));
                assert_eq!(
                    r[0].headers,
                    [("Cache-Control".to_string(), "max-age=60".to_string())]
                );
                assert_eq!(r[1].path, PathPattern::Exact("/readme".into()));
                assert_eq!(r[1].target, RouteTarget::File(fx.path("page.html")));
                assert_eq!(
                    r[2].target,
                    RouteTarget::Redirect {
                        to: "/new/{rest}".into(),
                        status: 308
                    }
                );
                assert_eq!(
                    r[3].target,
                    RouteTarget::Redirect {
                        to: "/".into(),
                        status: 302
                    }
                );
                assert_eq!(r[4].path, PathPattern::Prefix("".into()));
                let ok = RouteTarget::Fixed {
                    status: 200,
                    body: "ok".into(),
                    content_type: "text/plain; charset=utf-8".into(),
                };
                assert_eq!(r[4].target, ok);
                let gone = RouteTarget::Fixed {
                    status: 410,
                    body: "{}".into(),
                    content_type: "application/json".into(),
                };
                assert_eq!(r[5].target, gone);
            }),
            ("acl", ACL, |c, _| {
                let a = &c.acl;
                assert_eq!(a[0].path, PathPattern::Prefix("/uploads".into()));
                assert_eq!(
                    a[0].methods,
                    MethodSet::List(vec![Method::Put, Method::Post])
                );
                assert_eq!(a[0].users, ["alice"]);
                assert_eq!(a[0].allow, ["10.0.0.0/8".parse::<ipnet::IpNet>().unwrap()]);
                assert_eq!(a[1].methods, MethodSet::All);
                assert_eq!(a[1].deny, ["::1/128".parse::<ipnet::IpNet>().unwrap()]);
                assert_eq!(a[2].methods, MethodSet::All);
            }),
        ];
        for (name, text, expect) in cases {
            let text = text
                .replace("HASH", HASH)
                .replace("ROOT", &fx.0.display().to_string());
            let config = fx.parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            expect(&config, &fx);
        }
    }

    #[test]
    fn describe_changes_names_each_changed_key() {
        let fx = Fixture::new();
        let hash2 = HASH.replace("uuK0", "uuK1");
        let old = "[users]\nalice = \"HASH\"\nbob = \"HASH\"\n[[acl]]\npath = \"/a\"\n[[acl]]\npath = \"/b\"";
        let new = format!(
            "[server]\nlisten = \"127.0.0.1:9090\"\nkeep_alive_s = 7\ncache_control = \"no-cache\"\n\
             trusted_proxies = [\"10.0.0.0/8\"]\n[tls]\nlisten = \"[::1]:8443\"\n[log]\nlevel = \"debug\"\n\
             [metrics]\nlisten = \"127.0.0.1:9100\"\n\
             [users]\nalice = \"{hash2}\"\ncarol = \"HASH\"\n\
             [[acl]]\npath = \"/a\"\n[[acl]]\npath = \"/b\"\n[[acl]]\npath = \"/c\"\n[[route]]\npath = \"/x\"\nbody = \"\""
        );
        let old = fx.parse(&old.replace("HASH", HASH)).unwrap();
        let new = fx.parse(&new.replace("HASH", HASH)).unwrap();
        let want = [
            "server.listen: 127.0.0.1:8080 -> 127.0.0.1:9090",
            "server.keep_alive_s: 5s -> 7s",
            "server.cache_control: none -> \"no-cache\"",
            "server.trusted_proxies: [] -> [10.0.0.0/8]",
            "tls.listen: none -> [::1]:8443",
            "log.level: info -> debug",
            "metrics.listen: none -> 127.0.0.1:9100",
            "users: added carol; removed bob; new password for alice",
            "route: 0 rules -> 1 rule",
            "acl: 2 rules -> 3 rules",
        ];
        assert_eq!(Config::describe_changes(&old, &new), want);
        assert!(Config::describe_changes(&new, &new).is_empty());
        let edited = fx
            .parse("[[route]]\npath = \"/x\"\nbody = \"changed\"")
            .unwrap();
        let changes = Config::describe_changes(&new, &edited);
        assert!(
            changes.contains(&"route: 1 rule changed".to_string()),
            "{changes:?}"
        );
        assert!(!format!("{:?}", Config::describe_changes(&old, &new)).contains("$2y$"));
    }

    const ROUTES: &str = r#"
[[route]]
path = "/docs/*"
dir = "docs"
headers = { "Cache-Control" = "max-age=60" }
[[route]]
path = "/readme"
file = "page.html"
[[route]]
path = "/old/*"
redirect = "/new/{rest}"
[[route]]
path = "/home"
redirect = "/"
status = 302
[[route]]
path = "/*"
body = "ok"
[[route]]
path = "/gone"
body = "{}"
status = 410
content_type = "application/json"
"#;

    const ACL: &str = r#"
[users]
alice = "HASH"
[[acl]]
path = "/uploads/*"
methods = ["put", "Post", "PUT"]
users = ["alice"]
allow = ["10.0.0.0/8"]
[[acl]]
path = "/admin"
methods = ["*"]
deny = ["::1"]
[[acl]]
path = "/*"
"#;
}
