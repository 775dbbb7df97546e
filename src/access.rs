//! `[[acl]]` rules, Basic authentication against `[users]`, and the client address.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use md5::{Digest, Md5};

use crate::config::{AclRule, Config};
use crate::error::{Error, Login, Refusal};
use crate::http::Method;
use crate::http::parse::Head;

/// The client address: the peer's, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_address(peer: IpAddr, head: &Head, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_inside(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    let hops: Vec<&[u8]> = head.header_all("x-forwarded-for").collect();
    for field in hops.iter().rev() {
        let Ok(field) = std::str::from_utf8(field) else {
            return client;
        };
        for entry in field.rsplit(',') {
            let Some(addr) = parse_hop(entry.trim()) else {
                // A garbled hop cannot be trusted to name anyone: stop at the last good one.
                return client;
            };
            client = addr;
            if !is_inside(addr, trusted) {
                return addr;
            }
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

fn is_inside(addr: IpAddr, nets: &[IpNet]) -> bool {
    let addr = addr.to_canonical();
    nets.iter().any(|net| net.contains(&addr))
}

/// The first rule whose path and methods match.
fn rule_for<'c>(config: &'c Config, path: &str, method: &Method) -> Option<&'c AclRule> {
    config
        .acl
        .iter()
        .find(|rule| rule.methods.contains(method) && rule.path.matches(path).is_some())
}

/// What `[[acl]]` says of `method` on `path` before any address or credential is looked at.
pub enum Rule<'c> {
    /// No rule matches, and the method reads: open to everyone.
    Open,
    /// No rule matches, and the method writes: writes exist only where a rule names them.
    Closed,
    /// The first matching rule decides.
    Matched(&'c AclRule),
}

/// The rule governing `method` on `path`.
pub fn rule<'c>(config: &'c Config, path: &str, method: &Method) -> Rule<'c> {
    match rule_for(config, path, method) {
        Some(rule) => Rule::Matched(rule),
        None if method.is_write() => Rule::Closed,
        None => Rule::Open,
    }
}

/// True when `client`'s address may use `method` on `path` (credentials are asked later).
pub fn admits(config: &Config, path: &str, method: &Method, client: IpAddr) -> bool {
    match rule(config, path, method) {
        Rule::Open => true,
        Rule::Closed => false,
        Rule::Matched(rule) => check_address(rule, client).is_ok(),
    }
}

/// Decides whether `method` on `path` may proceed. `Ok(Some(user))` when a user
/// authenticated; `Ok(None)` when no authentication was needed.
pub fn authorize(
    config: &Config,
    path: &str,
    method: &Method,
    client: IpAddr,
    head: &Head,
) -> Result<Option<String>, Error> {
    let rule = match rule(config, path, method) {
        Rule::Open => return Ok(None),
        // The dispatcher answers 405 before asking (`allow::refuses`); this only backs it up.
        Rule::Closed => return Err(Error::Forbidden(Refusal::WritesClosed)),
        Rule::Matched(rule) => rule,
    };
    check_address(rule, client)?;
    if rule.users.is_empty() {
        return Ok(None);
    }
    let user = authenticate(config, head)?;
    if rule.users.contains(&user) {
        Ok(Some(user))
    } else {
        Err(Error::Forbidden(Refusal::User))
    }
}

/// `deny` wins; a non-empty `allow` must contain the client.
fn check_address(rule: &AclRule, client: IpAddr) -> Result<(), Error> {
    if is_inside(client, &rule.deny) {
        return Err(Error::Forbidden(Refusal::Address));
    }
    if !rule.allow.is_empty() && !is_inside(client, &rule.allow) {
        return Err(Error::Forbidden(Refusal::Address));
    }
    Ok(())
}

/// The user named by valid Basic credentials, or 401.
fn authenticate(config: &Config, head: &Head) -> Result<String, Error> {
    let (user, password) = head
        .header("authorization")
        .and_then(parse_basic)
        .ok_or(Error::Unauthorized(Login::Missing))?;
    let hash = (config.users.get(&user)).ok_or(Error::Unauthorized(Login::Rejected))?;
    let key = credential_key(&user, &password, hash);
    if verified().remembers(&key, Instant::now()) {
        return Ok(user);
    }
    match bcrypt::verify(password.as_bytes(), hash) {
        Ok(true) => {
            verified().remember(key, Instant::now());
            Ok(user)
        }
        _ => Err(Error::Unauthorized(Login::Rejected)),
    }
}

/// How long a successful bcrypt check is remembered.
const VERIFIED_FOR: Duration = Duration::from_secs(300);

/// At most this many remembered checks; beyond it the oldest are forgotten.
const VERIFIED_MAX: usize = 1024;

/// Successful `(user, password, stored hash)` checks, so a keep-alive client does not pay for
/// bcrypt (deliberately slow) on each request.
///
/// Keyed by a salted MD5 of the three, never the password itself; the salt is random per
/// process, so a key read from memory cannot be checked against a list of guesses offline.
/// The stored hash is part of the key: when `[users]` changes a user's hash, the old entries
/// simply stop matching, and a user removed from `[users]` fails before the lookup.
struct Verified {
    salt: [u8; 16],
    seen: Mutex<HashMap<[u8; 16], Instant>>,
}

/// The process-wide table: credentials are per user, not per server or per connection.
fn verified() -> &'static Verified {
    static VERIFIED: OnceLock<Verified> = OnceLock::new();
    VERIFIED.get_or_init(|| {
        // Two independently seeded SipHash keys give 128 unpredictable bits without a new
        // dependency.
        let a = RandomState::new().hash_one(0u8).to_le_bytes();
        let b = RandomState::new().hash_one(1u8).to_le_bytes();
        let mut salt = [0u8; 16];
        salt[..8].copy_from_slice(&a);
        salt[8..].copy_from_slice(&b);
        Verified {
            salt,
            seen: Mutex::new(HashMap::new()),
        }
    })
}

/// The table key for one credential check.
fn credential_key(user: &str, password: &str, hash: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(verified().salt);
    // Lengths first, so no two different triples hash the same bytes.
    for part in [user, password, hash] {
        md5.update((part.len() as u64).to_le_bytes());
        md5.update(part.as_bytes());
    }
    md5.finalize().into()
}

impl Verified {
    /// True when `key` was verified less than [`VERIFIED_FOR`] ago.
    fn remembers(&self, key: &[u8; 16], now: Instant) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(key)
            .is_some_and(|at| now.duration_since(*at) < VERIFIED_FOR)
    }

    /// Records a successful check, keeping the table within [`VERIFIED_MAX`].
    fn remember(&self, key: [u8; 16], now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= VERIFIED_MAX {
            seen.retain(|_, at| now.duration_since(*at) < VERIFIED_FOR);
        }
        if seen.len() >= VERIFIED_MAX
            && let Some(oldest) = seen.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
        {
            seen.remove(&oldest);
        }
        seen.insert(key, now);
    }
}

/// `Basic <base64(user:password)>` (RFC 7617); the scheme is case-insensitive.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(token.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 with padding, as RFC 7617 uses; `None` on any stray byte.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    if !text.len().is_multiple_of(4) || text.len() - bytes.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let n = chunk.len() - 1; // 2 chars → 1 byte, 3 → 2, 4 → 3
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rows() {
        let rows: &[(&str, Option<&[u8]>)] = &[
            ("", Some(b"")),
            ("=", None),
            ("YQ", None),
            ("Y!==", None),
            ("YQ===", None),
            ("YQ==", Some(b"a")),
            ("YWI=", Some(b"ab")),
            ("YWJj", Some(b"abc")),
            ("YWxpY2U6c2VjcmV0", Some(b"alice:secret")),
        ];
        for (text, want) in rows {
            assert_eq!(base64_decode(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn credential_keys_differ_by_every_part() {
        let base = credential_key("alice", "pw", "$2b$04$x");
        assert_eq!(base, credential_key("alice", "pw", "$2b$04$x"));
        assert_ne!(base, credential_key("alice", "pw2", "$2b$04$x"));
        assert_ne!(base, credential_key("bob", "pw", "$2b$04$x"));
        assert_ne!(base, credential_key("alice", "pw", "$2b$04$y"));
        // Boundaries between parts are not ambiguous.
        assert_ne!(
            credential_key("ab", "c", "h"),
            credential_key("a", "bc", "h")
        );
    }

    #[test]
    fn remembered_checks_expire_and_stay_bounded() {
        let table = Verified {
            salt: [0; 16],
            seen: Mutex::new(HashMap::new()),
        };
        let t0 = Instant::now();
        table.remember([1; 16], t0);
        assert!(table.remembers(&[1; 16], t0 + Duration::from_secs(1)));
        assert!(!table.remembers(&[1; 16], t0 + VERIFIED_FOR));
        assert!(!table.remembers(&[2; 16], t0));
        for i in 0..VERIFIED_MAX as u32 + 10 {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&i.to_le_bytes());
            table.remember(key, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(table.seen.lock().unwrap().len(), VERIFIED_MAX);
    }

    #[test]
    fn htpasswd_prefixes_verify() {
        // `htpasswd -B` writes $2y$; other tools $2a$ or $2b$: the same algorithm.
        let hash = bcrypt::hash("pw", 4).unwrap();
        let tail = &hash[3..];
        for prefix in ["$2a", "$2b", "$2y"] {
            let variant = format!("{prefix}{tail}");
            assert!(bcrypt::verify("pw", &variant).unwrap(), "{variant}");
            assert!(!bcrypt::verify("nope", &variant).unwrap(), "{variant}");
        }
    }

    #[test]
    fn basic_credentials() {
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic bm9jb2xvbg=="), None);
        assert_eq!(
            parse_basic("basic YWxpY2U6c2U6Y3JldA=="),
            Some(("alice".into(), "se:cret".into()))
        );
    }
}
