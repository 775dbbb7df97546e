//! Checks on single values of `config.toml`. Scalars are newtypes read through serde's
//! `try_from`, so toml attaches the value's position to a refusal. List elements are plain
//! `fn(String) -> Result<_, String>` checks that `file.rs` runs per element, because toml
//! reports an element's error at the whole list.
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use super::{MethodSet, PathPattern};
use crate::fs::path::normalize_path;
use crate::http::Method;
use crate::http::parse::is_tchar;

/// Listener addresses: one (`"127.0.0.1:8080"`), several (`["127.0.0.1:8080", "[::1]:8080"]`),
/// or none (`""` or `[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Listen(pub Vec<SocketAddr>);

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListenVisitor)
    }
}

struct ListenVisitor;

impl<'de> serde::de::Visitor<'de> for ListenVisitor {
    type Value = Listen;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an address like \"127.0.0.1:8080\", a list of them, or \"\" for none")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Listen, E> {
        match s.is_empty() {
            true => Ok(Listen(Vec::new())),
            false => socket_addr(s).map(|a| Listen(vec![a])).map_err(E::custom),
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Listen, A::Error> {
        let mut addrs = Vec::new();
        while let Some(s) = seq.next_element::<String>()? {
            let addr = socket_addr(&s).map_err(serde::de::Error::custom)?;
            if addrs.contains(&addr) {
                return Err(serde::de::Error::custom(format!("`{s}` is listed twice")));
            }
            addrs.push(addr);
        }
        Ok(Listen(addrs))
    }
}

/// One listener address. Host names are refused rather than resolved: a listener must not
/// depend on DNS (the command line's `--listen` resolves them once, at start).
pub fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        let hint = match s.split_once(':') {
            Some(("localhost", port)) => format!(" (for localhost write `127.0.0.1:{port}`)"),
            _ => String::new(),
        };
        format!("`{s}` is not an IP address and port like `127.0.0.1:8080` or `[::1]:8080`{hint}")
    })
}

/// True when listeners on `a` and `b` could not both be bound: the same port (not 0, which
/// picks a free one), and the same address, or a wildcard that covers the other (`0.0.0.0`
/// covers IPv4; `::` covers both families, as Linux binds it dual-stack).
pub(super) fn overlap(a: &SocketAddr, b: &SocketAddr) -> bool {
    let covers = |w: &SocketAddr, other: &SocketAddr| {
        w.ip().is_unspecified() && (w.is_ipv6() || other.is_ipv4())
    };
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || covers(a, b) || covers(b, a))
}

/// A CIDR block; a bare address means that one address (`/32` or `/128`).
pub(super) fn cidr(s: String) -> Result<IpNet, String> {
    let net = match IpNet::from_str(&s) {
        Ok(net) => net,
        Err(_) => IpAddr::from_str(&s)
            .map(IpNet::from)
            .map_err(|_| format!("`{s}` is not a CIDR block like `10.0.0.0/8` or an IP address"))?,
    };
    // `10.0.0.1/8` means the same set as `10.0.0.0/8`; store the network form.
    Ok(net.trunc())
}

/// An integer with a lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "u64")]
pub(super) struct AtLeast<const MIN: u64>(pub u64);

impl<const MIN: u64> TryFrom<u64> for AtLeast<MIN> {
    type Error = String;
    fn try_from(n: u64) -> Result<Self, String> {
        if n < MIN {
            return Err(format!("must be at least {MIN}, got {n}"));
        }
        Ok(AtLeast(n))
    }
}

impl<const MIN: u64> AtLeast<MIN> {
    /// The value as a `usize`, saturating on 32-bit targets (a limit that large is unlimited).
    pub(super) fn to_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// A compression level, 1..=9.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "u32")]
pub(super) struct Level(pub u32);

impl TryFrom<u32> for Level {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        if !(1..=9).contains(&n) {
            return Err(format!("must be between 1 and 9, got {n}"));
        }
        Ok(Level(n))
    }
}

/// `off`, `error`, `warn`, `info`, `debug` or `trace`, any case.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct LogLevel(pub log::LevelFilter);

impl TryFrom<String> for LogLevel {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        log::LevelFilter::from_str(&s)
            .map(LogLevel)
            .map_err(|_| format!("`{s}` is not one of off, error, warn, info, debug, trace"))
    }
}

/// Text that goes into a response header: no control characters except tab (RFC 9110 §5.5),
/// so a config value can never split or inject a header line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct FieldValue(pub String);

impl TryFrom<String> for FieldValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.chars().any(|c| c.is_control() && c != '\t') {
            return Err(
                "must not contain control characters (CR, LF, …): it goes into a header".into(),
            );
        }
        Ok(FieldValue(s))
    }
}

impl FieldValue {
    /// `""` means "not set".
    pub(super) fn non_empty(self) -> Option<String> {
        (!self.0.is_empty()).then_some(self.0)
    }
}

/// A header field name: a token (RFC 9110 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct HeaderName(pub String);

impl TryFrom<String> for HeaderName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !is_token(&s) {
            return Err(format!("`{s}` is not a valid header name"));
        }
        // The server owns message framing; a route that set these would corrupt the stream.
        if ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|h| s.eq_ignore_ascii_case(h))
        {
            return Err(format!(
                "`{s}` is set by the server and cannot be configured"
            ));
        }
        Ok(HeaderName(s))
    }
}

/// RFC 9110 §5.6.2: `token = 1*tchar`.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A `[[route]]`/`[[acl]]` path pattern: `/x` exact, `/x/*` prefix, `/*` everything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct Pattern(pub PathPattern);

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("`{s}` must start with `/`"));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let pattern = match s.strip_suffix("/*") {
            Some(prefix) => PathPattern::Prefix(prefix.to_string()),
            None => PathPattern::Exact(s.clone()),
        };
        let (PathPattern::Prefix(rest) | PathPattern::Exact(rest)) = &pattern;
        if rest.contains('*') {
            return Err(format!("`{s}`: `*` is only allowed as a final `/*`"));
        }
        // Patterns are compared with the decoded, normalised request path: any other spelling
        // would silently never match (a hole in an `[[acl]]`).
        if !rest.is_empty() {
            match normalize_path(rest) {
                Ok(norm) if norm == *rest => {}
                Ok(norm) => {
                    return Err(format!(
                        "`{s}` never matches a request path: write it decoded and normalised (`{norm}`)"
                    ));
                }
                Err(e) => return Err(format!("`{s}` never matches a request path: {e}")),
            }
        }
        Ok(Pattern(pattern))
    }
}

/// An `[[acl]]` method list: names (any case) or `["*"]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub(super) struct Methods(pub MethodSet);

impl TryFrom<Vec<String>> for Methods {
    type Error = String;
    fn try_from(names: Vec<String>) -> Result<Self, String> {
        if names.iter().any(|n| n == "*") {
            if names.len() > 1 {
                return Err("`*` must be the only entry".into());
            }
            return Ok(Methods(MethodSet::All));
        }
        if names.is_empty() {
            return Err("must not be empty (`[\"*\"]` covers every method)".into());
        }
        let mut list = Vec::new();
        for name in &names {
            let method = Method::from_token(&name.to_ascii_uppercase());
            if !Method::IMPLEMENTED.contains(&method) && !method.is_webdav() {
                return Err(format!(
                    "`{name}` is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, \
                     PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK"
                ));
            }
            if !list.contains(&method) {
                list.push(method);
            }
        }
        Ok(Methods(MethodSet::List(list)))
    }
}

/// A compressible media type: `type/subtype` or `type/*`, stored lower-case.
pub(super) fn media_range(s: String) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let plain = |t: &str| is_token(t) && !t.contains('*');
    let valid = match lower.split_once('/') {
        Some((ty, sub)) => plain(ty) && (sub == "*" || plain(sub)),
        None => false,
    };
    if !valid {
        return Err(format!(
            "`{s}` is not a media type like `text/html` or `text/*`"
        ));
    }
    Ok(lower)
}

/// A file name tried in a directory: no path separators, not `.` or `..`.
pub(super) fn index_name(s: String) -> Result<String, String> {
    let bad_char = |c: char| c == '/' || c == '\\' || c.is_control();
    if s.is_empty() || s == "." || s == ".." || s.contains(bad_char) {
        return Err(format!("`{s}` must be a plain file name (no `/`)"));
    }
    Ok(s)
}

/// The 404 page, a path under the root; `""` = built-in page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct NotFound {
    /// Under the root, without a leading `/`; `None` for the built-in page.
    pub path: Option<String>,
    /// As the file spells it, for messages about it.
    pub written: String,
}

impl TryFrom<String> for NotFound {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() {
            return Ok(NotFound::default());
        }
        let path = s.trim_start_matches('/');
        if path.is_empty() || path.split(['/', '\\']).any(|seg| seg == "..") {
            return Err(format!("`{s}` must name a file under the root (no `..`)"));
        }
        if path.contains(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(NotFound {
            path: Some(path.to_string()),
            written: s,
        })
    }
}

/// A `[users]` name: non-empty, no `:` (Basic credentials split at the first colon).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct UserName(pub String);

impl TryFrom<String> for UserName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // `users_file` typed under `[users]` would read as a user of that name whose "hash" is
        // a path: say where the key belongs instead of "not a bcrypt hash".
        if s == "users_file" {
            return Err("`users_file` belongs under [server], not [users]: move it there".into());
        }
        user_name(&s)?;
        Ok(UserName(s))
    }
}

/// Checks a user name, from `[users]` or a users file.
pub(super) fn user_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.contains(':') || s.contains(char::is_control) {
        return Err(format!(
            "user name `{}` must be non-empty, without `:`",
            s.escape_default()
        ));
    }
    Ok(())
}

/// A `[users]` value: a bcrypt hash, or a whole `htpasswd -nB` line `name:hash` (whose name
/// `file.rs` compares with the key, which serde does not show a value).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct UserValue {
    /// The name before the `:`, when the value is an htpasswd line.
    pub named: Option<String>,
    pub hash: String,
}

impl TryFrom<String> for UserValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // A pasted line may carry the newline `htpasswd -nB` prints; a hash has no spaces.
        let s = s.trim();
        // A bcrypt hash never holds `:`, so a colon can only end an htpasswd name.
        let Some((name, hash)) = s.split_once(':') else {
            bcrypt_hash(s)?;
            return Ok(UserValue {
                named: None,
                hash: s.to_string(),
            });
        };
        user_name(name).map_err(|e| format!("the htpasswd line's {e}"))?;
        bcrypt_hash(hash)?;
        Ok(UserValue {
            named: Some(name.to_string()),
            hash: hash.to_string(),
        })
    }
}

/// Checks a bcrypt hash as `htpasswd -B` or `shelf hash-password` write it: `$2y$NN$` + 53
/// characters. Checked at load so that a truncated paste fails there, not as a 401 on every
/// request. The message names another scheme when it recognises one.
pub(super) fn bcrypt_hash(s: &str) -> Result<(), String> {
    let prefix_ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p));
    let cost_ok = s.len() == 60
        && s.as_bytes()[4..6].iter().all(u8::is_ascii_digit)
        && s.as_bytes()[6] == b'$';
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/';
    if prefix_ok && cost_ok && s.as_bytes()[7..].iter().all(alphabet) {
        return Ok(());
    }
    Err(match other_scheme(s) {
        Some(scheme) => format!(
            "is {scheme}: only bcrypt (htpasswd -B) is supported; \
             make one with `htpasswd -nB NAME` or `shelf hash-password`"
        ),
        None => {
            "is not a bcrypt hash ($2a$/$2b$/$2y$, 60 characters; see `shelf hash-password`)".into()
        }
    })
}

/// The scheme of a non-bcrypt hash that `htpasswd` or `crypt(3)` write, by its prefix.
fn other_scheme(s: &str) -> Option<&'static str> {
    const SCHEMES: [(&str, &str); 5] = [
        ("$apr1$", "an MD5 (`$apr1$`) hash"),
        ("$1$", "an MD5-crypt (`$1$`) hash"),
        ("{SHA}", "a SHA-1 (`{SHA}`) hash"),
        ("$5$", "a SHA-256-crypt (`$5$`) hash"),
        ("$6$", "a SHA-512-crypt (`$6$`) hash"),
    ];
    SCHEMES
        .iter()
        .find(|(prefix, _)| s.starts_with(prefix))
        .map(|(_, name)| *name)
}

/// A CORS origin: `*` or `scheme://host[:port]`, no path.
pub(super) fn origin(s: String) -> Result<String, String> {
    if s == "*" {
        return Ok(s);
    }
    let host = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let valid = host.is_some_and(|h| {
        !h.is_empty()
            && !h.contains(['/', '?', '#'])
            && !h.contains(|c: char| c.is_control() || c.is_whitespace())
    });
    if !valid {
        // Browsers send `Origin` without a path or trailing slash, so such an entry never matches.
        return Err(format!(
            "`{s}` is not an origin like `https://app.example` (no path, no trailing `/`) or `*`"
        ));
    }
    Ok(s)
}
