//! WebDAV locks (RFC 4918 §6–7): the in-memory lock table, shared by every connection. Locks
//! expire, and a restart drops them.
//!
//! Write locks only (the one type RFC 4918 defines), exclusive or shared, with Depth `0` or
//! `infinity`, keyed by URL path (`Target::url_path`, without its trailing slash). One
//! `Mutex` guards the table; no file-system call is made while it is held. Expired locks are
//! ignored at once and dropped at the next LOCK.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::ifheader::{self, IfHeader, Known};
use crate::error::{DavCondition, Error, Refusal};
use crate::http::Method;
use crate::http::encode::{encode_path, hex};
use crate::http::parse::Head;

/// The longest a lock lives without a refresh; `Timeout: Infinite` gets this too. A client
/// that vanishes leaves its locks behind for at most this long.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// At most this many locks are held at once; a LOCK beyond it is refused (507). Each holds
/// at most [`MAX_OWNER`] bytes of owner, so the table stays under about 50 MiB.
pub const MAX_LOCKS: usize = 10_000;

/// The longest `<D:owner>` content kept (bytes of the self-contained fragment).
pub const MAX_OWNER: usize = 4096;

/// Exclusive or shared (RFC 4918 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No other lock may overlap it.
    Exclusive,
    /// Other shared locks may overlap it.
    Shared,
}

/// How far a lock reaches (RFC 4918 §9.10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The resource alone (for a folder: itself and its list of members).
    Zero,
    /// The resource and everything below it.
    Infinity,
}

/// One lock held now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLock {
    /// `urn:uuid:<random v4>`.
    pub token: String,
    /// The URL path the lock was taken on, as the client named it (a folder's trailing slash
    /// kept): the lock root.
    pub root: String,
    /// Exclusive or shared.
    pub scope: Scope,
    /// Depth `0` or `infinity`.
    pub depth: Depth,
    /// The content of `<D:owner>`: a self-contained XML fragment, echoed in discovery.
    pub owner: Option<String>,
    /// The user who took the lock (RFC 4918 §6.4), `None` when no login was asked.
    pub principal: Option<String>,
    /// When the lock ends unless refreshed.
    pub expires: Instant,
}

/// What a LOCK asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// Exclusive or shared.
    pub scope: Scope,
    /// Depth `0` or `infinity`.
    pub depth: Depth,
    /// The `<D:owner>` fragment, at most [`MAX_OWNER`] bytes.
    pub owner: Option<String>,
    /// The user taking the lock.
    pub principal: Option<String>,
    /// The timeout granted, at most [`MAX_TIMEOUT`].
    pub timeout: Duration,
}

/// What a write does, which decides whose lock tokens it needs (RFC 4918 §7.4, §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Changes the resource's content or properties: the locks on it, and the Depth-infinity
    /// locks of the folders above it.
    Changes,
    /// Creates a resource, which adds a member to its folder: also that folder's Depth-0 locks.
    Creates,
    /// Removes or replaces the resource and all below it (DELETE, MOVE, COPY's destination):
    /// also its folder's locks and every lock below it.
    Removes,
}

impl Effect {
    /// The effect of `method` on its target. `exists` tells whether a PUT, PATCH or POST
    /// target exists; unknown (`None`), such a write is taken to change, not create.
    pub fn of(method: &Method, exists: Option<bool>) -> Effect {
        match method {
            Method::Delete | Method::Move | Method::Copy => Effect::Removes,
            Method::Mkcol => Effect::Creates,
            Method::Put | Method::Patch | Method::Post if exists == Some(false) => Effect::Creates,
            _ => Effect::Changes,
        }
    }
}

/// Whose submitted tokens count (RFC 4918 §6.4: "a server MUST check that the authenticated
/// principal matches the lock creator").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    /// Any submitter: the caller does not know the user.
    Unchecked,
    /// This user (`None`: no login was asked); a lock taken by a user counts only for them.
    User(Option<&'a str>),
}

/// What the lock checks need to know of the files behind URL paths; the dispatcher answers
/// from the disk, which this module never touches.
pub trait Resources {
    /// The strong ETag of the file at `url_path`, quotes included; `None` when there is no
    /// file there (nothing, or a folder).
    fn etag(&self, url_path: &str) -> Option<String>;
    /// True when a file or a folder is at `url_path`.
    fn exists(&self, url_path: &str) -> bool;
}

/// The locks held now, by URL path.
#[derive(Default)]
pub struct Locks {
    table: Mutex<Table>,
}

impl Locks {
    /// An empty table.
    pub fn new() -> Locks {
        Locks::default()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere never leaves the table half-changed: every change is one insert
        // or remove. So a poisoned lock is still a consistent table.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses a write to `url_path` (and, for a folder, what is below it) that a lock held by
    /// someone else covers, unless the request's `If` header submits its token (423). Which
    /// locks count follows the request's method ([`Effect::of`]; a PUT is taken to change an
    /// existing file). The `If` header's truth is judged once per request, by
    /// [`Locks::check_request`]; here only the tokens it names matter (malformed: 400).
    pub fn check_write(&self, head: &Head, url_path: &str) -> Result<(), Error> {
        let header = ifheader::from_head(head)?;
        let effect = Effect::of(head.method(), None);
        self.check_tokens(header.as_ref(), url_path, effect, Principal::Unchecked)
    }

    /// Everything locks ask of a write (`method`, which may differ from the head's: a form's
    /// POST that deletes) to `url_path` by `user`, in RFC 4918's order: the `If` header
    /// parsed (400) and evaluated (412, RFC 4918 §10.4.1: "If the header evaluates to false,
    /// the server MUST reject the request with a 412"), then the tokens of the locks the
    /// write needs (423). LOCK and UNLOCK judge locks themselves, and COPY only reads its
    /// source (its handler checks the destination with [`Locks::check_write`]).
    pub fn check_request(
        &self,
        head: &Head,
        method: &Method,
        url_path: &str,
        user: Option<&str>,
        files: &dyn Resources,
    ) -> Result<(), Error> {
        let header = ifheader::from_head(head)?;
        if let Some(header) = &header
            && !self.holds(header, url_path, files)
        {
            return Err(Error::PreconditionFailed);
        }
        if matches!(method, Method::Lock | Method::Unlock | Method::Copy) || self.is_empty() {
            return Ok(());
        }
        let creates = matches!(method, Method::Put | Method::Patch | Method::Post);
        let exists = creates.then(|| files.exists(url_path));
        let effect = Effect::of(method, exists);
        self.check_tokens(header.as_ref(), url_path, effect, Principal::User(user))
    }

    /// Refuses (423) a write with `effect` on `url_path` unless, for every resource it
    /// touches that is locked, `header` submits the token of one of the locks on it (taken
    /// by `principal`): an exclusive lock's own, or any one of shared locks (RFC 4918 §6.1).
    pub fn check_tokens(
        &self,
        header: Option<&IfHeader>,
        url_path: &str,
        effect: Effect,
        principal: Principal<'_>,
    ) -> Result<(), Error> {
        let submitted: Vec<&str> = header.map_or_else(Vec::new, |h| h.tokens().collect());
        let held = |lock: &ActiveLock| {
            submitted.contains(&lock.token.as_str()) && may_use(lock, principal)
        };
        let table = self.table();
        let now = Instant::now();
        for touched in table.touched(key(url_path), effect, now) {
            let mut locks = table.covering(&touched, now).peekable();
            let Some(first) = locks.peek().copied() else {
                continue;
            };
            if !locks.any(held) {
                let href = encode_path(&first.root);
                return Err(Error::Dav(DavCondition::LockTokenSubmitted(href)));
            }
        }
        Ok(())
    }

    /// True when `header` holds for a request to `request_path`. The ETags it compares are
    /// looked up first, so no file-system call happens under the table's lock.
    pub fn holds(&self, header: &IfHeader, request_path: &str, files: &dyn Resources) -> bool {
        let etags: HashMap<String, String> = header
            .etag_paths(request_path)
            .into_iter()
            .filter_map(|path| Some((path.to_string(), files.etag(path)?)))
            .collect();
        let table = self.table();
        let now = Instant::now();
        let tokens = |path: &str, token: &str| {
            table
                .covering(key(path), now)
                .any(|lock| lock.token == token)
        };
        header.holds(
            request_path,
            &Known {
                etags: &etags,
                tokens: &tokens,
            },
        )
    }

    /// Grants a new lock on `url_path`, unless it conflicts with one held (423 with the
    /// conflicting locks' roots) or the table is full (507). RFC 4918 §6.1: an exclusive lock
    /// conflicts with any other lock whose scope overlaps it; shared locks coexist.
    pub fn lock(&self, url_path: &str, request: LockRequest) -> Result<ActiveLock, Error> {
        let token = new_token()?;
        let now = Instant::now();
        let mut table = self.table();
        // Expired locks are invisible already; their memory is taken back when it matters.
        if table.count >= MAX_LOCKS {
            table.purge(now);
        }
        if table.count >= MAX_LOCKS {
            return Err(Error::TooManyLocks);
        }
        let conflicts: Vec<String> = table
            .conflicts(key(url_path), request.scope, request.depth, now)
            .map(|lock| encode_path(&lock.root))
            .collect();
        if !conflicts.is_empty() {
            return Err(Error::Dav(DavCondition::NoConflictingLock(conflicts)));
        }
        let lock = ActiveLock {
            token,
            root: url_path.to_string(),
            scope: request.scope,
            depth: request.depth,
            owner: request.owner,
            principal: request.principal,
            expires: now + request.timeout.min(MAX_TIMEOUT),
        };
        table.insert(lock.clone());
        Ok(lock)
    }

    /// RFC 4918 §9.10.2: a LOCK without a body refreshes the lock its `If` header names, which
    /// must have `url_path` in its scope (else 412), with a new `timeout`. A lock taken by
    /// another user is theirs to refresh (403).
    pub fn refresh(
        &self,
        url_path: &str,
        header: &IfHeader,
        user: Option<&str>,
        timeout: Duration,
    ) -> Result<ActiveLock, Error> {
        let submitted: Vec<&str> = header.tokens().collect();
        let now = Instant::now();
        let mut table = self.table();
        let lock = table
            .covering(key(url_path), now)
            .find(|lock| submitted.contains(&lock.token.as_str()))
            .ok_or(Error::PreconditionFailed)?;
        if !may_use(lock, Principal::User(user)) {
            return Err(Error::Forbidden(Refusal::User));
        }
        let (root, token) = (key(&lock.root).to_string(), lock.token.clone());
        // Found just above under the same guard, so this finds it again.
        let lock = table
            .get_mut(&root, &token)
            .ok_or(Error::PreconditionFailed)?;
        lock.expires = now + timeout.min(MAX_TIMEOUT);
        Ok(lock.clone())
    }

    /// RFC 4918 §9.11: removes the lock whose token is `token`, which must have `url_path` in
    /// its scope (else 409 `lock-token-matches-request-uri`). Only its creator may (403).
    pub fn unlock(&self, url_path: &str, token: &str, user: Option<&str>) -> Result<(), Error> {
        let now = Instant::now();
        let mut table = self.table();
        let lock = table
            .covering(key(url_path), now)
            .find(|lock| lock.token == token)
            .ok_or(Error::Dav(DavCondition::LockTokenMatchesRequestUri))?;
        if !may_use(lock, Principal::User(user)) {
            return Err(Error::Forbidden(Refusal::User));
        }
        let root = key(&lock.root).to_string();
        table.remove(&root, token);
        Ok(())
    }

    /// Drops the locks on `url_path` and below it: what they covered was deleted or moved away.
    pub fn forget(&self, url_path: &str) {
        let mut table = self.table();
        let at = key(url_path);
        let below = table
            .by_root
            .range(format!("{at}/")..)
            .take_while(|(root, _)| is_below(root, at))
            .map(|(root, _)| root.clone());
        let roots: Vec<String> = std::iter::once(at.to_string()).chain(below).collect();
        for root in roots {
            if let Some(locks) = table.by_root.remove(&root) {
                table.count -= locks.len();
            }
        }
    }

    /// The `<D:lockdiscovery>` element's content for `url_path`: one `<D:activelock>` per lock
    /// that covers it (empty when none).
    pub fn discovery_xml(&self, url_path: &str) -> String {
        let now = Instant::now();
        let table = self.table();
        let mut out = String::new();
        for lock in table.covering(key(url_path), now) {
            push_activelock(&mut out, lock, now);
        }
        out
    }

    /// True when no lock is held (expired ones may still be counted).
    fn is_empty(&self) -> bool {
        self.table().count == 0
    }
}

/// Appends `lock` as a `<D:activelock>` element (RFC 4918 §14.1), `D:` bound to `DAV:` by
/// the caller; its timeout is what remains of it at `now`, in whole seconds rounded up.
pub fn push_activelock(out: &mut String, lock: &ActiveLock, now: Instant) {
    out.push_str("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>");
    out.push_str(match lock.scope {
        Scope::Exclusive => "<D:exclusive/>",
        Scope::Shared => "<D:shared/>",
    });
    out.push_str("</D:lockscope><D:depth>");
    out.push_str(match lock.depth {
        Depth::Zero => "0",
        Depth::Infinity => "infinity",
    });
    out.push_str("</D:depth>");
    if let Some(owner) = &lock.owner {
        out.push_str("<D:owner>");
        out.push_str(owner);
        out.push_str("</D:owner>");
    }
    let left = lock.expires.saturating_duration_since(now);
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    out.push_str(&format!("<D:timeout>Second-{seconds}</D:timeout>"));
    out.push_str("<D:locktoken><D:href>");
    out.push_str(&lock.token);
    out.push_str("</D:href></D:locktoken><D:lockroot><D:href>");
    out.push_str(&encode_path(&lock.root));
    out.push_str("</D:href></D:lockroot></D:activelock>");
}

/// True when `principal` may use `lock`'s token.
fn may_use(lock: &ActiveLock, principal: Principal<'_>) -> bool {
    match principal {
        Principal::Unchecked => true,
        Principal::User(user) => lock.principal.is_none() || lock.principal.as_deref() == user,
    }
}

/// The table's key for a URL path: without a trailing slash, so `/docs` and `/docs/` are one
/// resource; the root is the empty key, and every other key starts with `/`.
fn key(url_path: &str) -> &str {
    url_path.trim_end_matches('/')
}

/// True when the key `path` lies strictly below the key `folder`.
fn is_below(path: &str, folder: &str) -> bool {
    path.len() > folder.len() && path.starts_with(folder) && path.as_bytes()[folder.len()] == b'/'
}

/// The keys of the folders above `path`, nearest first, the root (`""`) last.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let slash = rest.rfind('/')?;
        rest = &rest[..slash];
        Some(rest)
    })
}

/// A fresh lock token: `urn:uuid:` and a random (version 4) UUID (RFC 4918 §6.5, RFC 9562).
fn new_token() -> Result<String, Error> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Io(io::Error::other("the system has no randomness for a token")))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // the RFC 9562 variant
    let h = hex(&bytes);
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// The locks, by the key of their root; expired locks stay until [`Table::purge`].
#[derive(Default)]
struct Table {
    by_root: BTreeMap<String, Vec<ActiveLock>>,
    /// How many locks `by_root` holds.
    count: usize,
}

impl Table {
    /// The live locks rooted exactly at `key`.
    fn at<'t>(&'t self, key: &str, now: Instant) -> impl Iterator<Item = &'t ActiveLock> + use<'t> {
        let locks = self.by_root.get(key).map_or(&[][..], Vec::as_slice);
        locks.iter().filter(move |lock| lock.expires > now)
    }

    /// The live locks whose scope holds `key`: those on it, and the Depth-infinity locks of
    /// the folders above it.
    fn covering<'t>(&'t self, key: &'t str, now: Instant) -> impl Iterator<Item = &'t ActiveLock> {
        let above = ancestors(key).flat_map(move |folder| {
            self.at(folder, now)
                .filter(|lock| lock.depth == Depth::Infinity)
        });
        self.at(key, now).chain(above)
    }

    /// The live lock rooted at the key `root` with `token`, for a change.
    fn get_mut(&mut self, root: &str, token: &str) -> Option<&mut ActiveLock> {
        let locks = self.by_root.get_mut(root)?;
        locks.iter_mut().find(|lock| lock.token == token)
    }

    /// The live locks rooted strictly below `key`.
    fn below<'t>(&'t self, key: &'t str, now: Instant) -> impl Iterator<Item = &'t ActiveLock> {
        let start = format!("{key}/");
        self.by_root
            .range(start..)
            .take_while(move |(root, _)| is_below(root, key))
            .flat_map(|(_, locks)| locks.iter())
            .filter(move |lock| lock.expires > now)
    }

    /// The keys of the resources a write with `effect` on `key` touches, whose locks it
    /// must hold one of: the target; for a new or removed member, its folder (whose list of
    /// members changes); for a removal, every locked resource below the target.
    fn touched(&self, key: &str, effect: Effect, now: Instant) -> Vec<String> {
        let mut keys = vec![key.to_string()];
        if effect != Effect::Changes
            && let Some(parent) = ancestors(key).next()
        {
            keys.push(parent.to_string());
        }
        if effect == Effect::Removes {
            let below = self
                .below(key, now)
                .map(|lock| self::key(&lock.root).to_string());
            keys.extend(below);
            keys.dedup();
        }
        keys
    }

    /// The live locks a new lock of `scope` and `depth` on `key` would overlap and conflict
    /// with: an exclusive lock on either side conflicts (RFC 4918 §6.1).
    fn conflicts<'t>(
        &'t self,
        key: &'t str,
        scope: Scope,
        depth: Depth,
        now: Instant,
    ) -> impl Iterator<Item = &'t ActiveLock> {
        let below = (depth == Depth::Infinity)
            .then(|| self.below(key, now))
            .into_iter()
            .flatten();
        self.covering(key, now)
            .chain(below)
            .filter(move |lock| scope == Scope::Exclusive || lock.scope == Scope::Exclusive)
    }

    fn insert(&mut self, lock: ActiveLock) {
        let root = key(&lock.root).to_string();
        self.by_root.entry(root).or_default().push(lock);
        self.count += 1;
    }

    /// Removes the lock `token` rooted at `root` (a key).
    fn remove(&mut self, root: &str, token: &str) {
        let Some(locks) = self.by_root.get_mut(root) else {
            return;
        };
        let before = locks.len();
        locks.retain(|lock| lock.token != token);
        self.count -= before - locks.len();
        if locks.is_empty() {
            self.by_root.remove(root);
        }
    }

    /// Drops the expired locks.
    fn purge(&mut self, now: Instant) {
        let mut count = 0;
        self.by_root.retain(|_, locks| {
            locks.retain(|lock| lock.expires > now);
            count += locks.len();
            !locks.is_empty()
        });
        self.count = count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(scope: Scope, depth: Depth) -> LockRequest {
        LockRequest {
            scope,
            depth,
            owner: None,
            principal: None,
            timeout: MAX_TIMEOUT,
        }
    }

    fn excl(depth: Depth) -> LockRequest {
        request(Scope::Exclusive, depth)
    }

    fn shared(depth: Depth) -> LockRequest {
        request(Scope::Shared, depth)
    }

    /// Tokens as an `If` header would submit them.
    fn submitting(tokens: &[&str]) -> IfHeader {
        let lists: String = tokens.iter().map(|t| format!("(<{t}>)")).collect();
        ifheader::parse(&lists).unwrap()
    }

    fn check(locks: &Locks, path: &str, effect: Effect, tokens: &[&str]) -> Result<(), Error> {
        let header = (!tokens.is_empty()).then(|| submitting(tokens));
        locks.check_tokens(header.as_ref(), path, effect, Principal::Unchecked)
    }

    fn is_locked(result: Result<(), Error>) -> bool {
        matches!(result, Err(Error::Dav(DavCondition::LockTokenSubmitted(_))))
    }

    /// Which locks conflict: (held lock path, scope, depth), (new lock path, scope, depth),
    /// conflicts? Hostile rows first: overlaps through ancestors and descendants, and
    /// prefixes that are not ancestors.
    #[test]
    fn conflict_rows() {
        use Depth::{Infinity as Inf, Zero};
        use Scope::{Exclusive as X, Shared as S};
        type Lock<'a> = (&'a str, Scope, Depth);
        let rows: &[(Lock, Lock, bool)] = &[
            (("/a/", X, Inf), ("/a/b/c.txt", S, Zero), true),
            (("/a/b/c.txt", S, Zero), ("/a", X, Inf), true),
            (("/a/b/c.txt", X, Zero), ("/", S, Inf), true),
            (("/", X, Inf), ("/anything", S, Zero), true),
            (("/a", X, Zero), ("/a/", S, Zero), true),
            (("/a", X, Zero), ("/a/b", X, Zero), false),
            (("/a/b", X, Zero), ("/a", X, Zero), false),
            (("/ab", X, Inf), ("/a", X, Inf), false),
            (("/a", X, Inf), ("/ab", X, Zero), false),
            (("/a/b.txt", X, Zero), ("/a/b.txt.bak", X, Zero), false),
            (("/a.txt", S, Zero), ("/a.txt", S, Zero), false),
            (("/a.txt", S, Zero), ("/a.txt", X, Zero), true),
            (("/a.txt", X, Zero), ("/a.txt", S, Zero), true),
            (("/a/", S, Inf), ("/a/b", S, Inf), false),
            (("/a/", S, Inf), ("/a/b", X, Zero), true),
        ];
        for (held, new, conflicts) in rows {
            let locks = Locks::new();
            locks.lock(held.0, request(held.1, held.2)).unwrap();
            let result = locks.lock(new.0, request(new.1, new.2));
            let refused = matches!(result, Err(Error::Dav(DavCondition::NoConflictingLock(_))));
            assert_eq!(
                refused, *conflicts,
                "held {held:?}, new {new:?}: {result:?}"
            );
        }
    }

    #[test]
    fn a_conflict_names_the_lock_in_the_way() {
        let locks = Locks::new();
        locks.lock("/docs/a b.txt", excl(Depth::Zero)).unwrap();
        let err = locks.lock("/docs/", excl(Depth::Infinity)).unwrap_err();
        let hrefs = vec!["/docs/a%20b.txt".to_string()];
        assert!(matches!(err, Error::Dav(DavCondition::NoConflictingLock(h)) if h == hrefs));
    }

    /// Which writes need which tokens: (lock path, depth), (write path, effect), locked?
    #[test]
    fn write_rows() {
        use Depth::{Infinity as Inf, Zero};
        use Effect::{Changes, Creates, Removes};
        type Write<'a> = (&'a str, Effect);
        let rows: &[((&str, Depth), Write, bool)] = &[
            // Hostile rows first: a near-miss name must not escape, nor a trailing slash.
            (("/a.txt", Zero), ("/a.txt/", Changes), true),
            (("/dir/", Zero), ("/dir", Changes), true),
            (("/dir/", Inf), ("/dir/x/y/z", Changes), true),
            (("/dir/x/y", Zero), ("/dir", Removes), true),
            (("/dir/x/y", Zero), ("/", Removes), true),
            (("/a.txt", Zero), ("/a.txt.bak", Removes), false),
            (("/dirx/y", Zero), ("/dir", Removes), false),
            // RFC 4918 §7.4: a Depth-0 folder lock guards its membership, not its members.
            (("/dir/", Zero), ("/dir/x", Changes), false),
            (("/dir/", Zero), ("/dir/x", Creates), true),
            (("/dir/", Zero), ("/dir/x", Removes), true),
            (("/dir/", Zero), ("/dir/x/y", Creates), false),
            (("/dir/x/y", Zero), ("/dir/x", Changes), false),
            (("/dir/x/y", Zero), ("/dir/x", Creates), false),
            (("/", Inf), ("/x", Changes), true),
            (("/", Zero), ("/x", Creates), true),
            (("/", Zero), ("/", Changes), true),
        ];
        for ((lock_path, depth), (path, effect), locked) in rows {
            let locks = Locks::new();
            let lock = locks.lock(lock_path, excl(*depth)).unwrap();
            let without = check(&locks, path, *effect, &[]);
            assert_eq!(
                is_locked(without),
                *locked,
                "{lock_path} {depth:?}; {path} {effect:?}"
            );
            check(&locks, path, *effect, &[&lock.token]).unwrap();
            let wrong = format!("{}x", lock.token);
            assert_eq!(is_locked(check(&locks, path, *effect, &[&wrong])), *locked);
        }
    }

    #[test]
    fn one_of_several_shared_locks_suffices() {
        let locks = Locks::new();
        let first = locks.lock("/a.txt", shared(Depth::Zero)).unwrap();
        let second = locks.lock("/a.txt", shared(Depth::Zero)).unwrap();
        assert!(is_locked(check(&locks, "/a.txt", Effect::Changes, &[])));
        check(&locks, "/a.txt", Effect::Changes, &[&first.token]).unwrap();
        check(&locks, "/a.txt", Effect::Changes, &[&second.token]).unwrap();
        // Removing a folder touches every locked resource below it: each needs one of its own.
        let folder = locks.lock("/d/", shared(Depth::Zero)).unwrap();
        let member = locks.lock("/d/m", shared(Depth::Zero)).unwrap();
        let both = [folder.token.as_str(), member.token.as_str()];
        assert!(is_locked(check(&locks, "/d/", Effect::Removes, &both[..1])));
        assert!(is_locked(check(&locks, "/d/", Effect::Removes, &both[1..])));
        check(&locks, "/d/", Effect::Removes, &both).unwrap();
        // A shared Depth-infinity lock above covers the member too: its token is one of its.
        let above = locks.lock("/", shared(Depth::Infinity)).unwrap();
        check(&locks, "/d/", Effect::Removes, &[&above.token]).unwrap();
    }

    #[test]
    fn another_users_token_does_not_count() {
        let locks = Locks::new();
        let mut mine = excl(Depth::Zero);
        mine.principal = Some("alice".into());
        let lock = locks.lock("/a.txt", mine).unwrap();
        let header = submitting(&[&lock.token]);
        let by = |p| locks.check_tokens(Some(&header), "/a.txt", Effect::Changes, p);
        assert!(by(Principal::User(Some("alice"))).is_ok());
        assert!(by(Principal::Unchecked).is_ok());
        assert!(is_locked(by(Principal::User(Some("bob")))));
        assert!(is_locked(by(Principal::User(None))));
        let refused = locks.unlock("/a.txt", &lock.token, Some("bob"));
        assert!(matches!(refused, Err(Error::Forbidden(Refusal::User))));
        locks.unlock("/a.txt", &lock.token, Some("alice")).unwrap();
    }

    #[test]
    fn unlock_needs_the_token_of_a_lock_covering_the_path() {
        let locks = Locks::new();
        let folder = locks.lock("/dir/", excl(Depth::Infinity)).unwrap();
        let file = locks.lock("/f.txt", excl(Depth::Zero)).unwrap();
        let mismatch = Error::Dav(DavCondition::LockTokenMatchesRequestUri);
        for (path, token) in [
            ("/f.txt", "urn:uuid:unknown"),
            ("/f.txt", folder.token.as_str()),
            ("/dir/", file.token.as_str()),
            ("/", folder.token.as_str()),
        ] {
            let err = locks.unlock(path, token, None).unwrap_err();
            assert_eq!(err.status(), mismatch.status(), "{path} {token}");
        }
        // Through a member of the folder: the member is in the lock's scope.
        locks.unlock("/dir/sub/x", &folder.token, None).unwrap();
        assert!(locks.unlock("/dir/", &folder.token, None).is_err());
        locks.unlock("/f.txt", &file.token, None).unwrap();
        assert_eq!(locks.table().count, 0);
    }

    #[test]
    fn expired_locks_vanish() {
        let locks = Locks::new();
        let mut brief = excl(Depth::Zero);
        brief.timeout = Duration::ZERO;
        let lock = locks.lock("/a.txt", brief).unwrap();
        assert!(check(&locks, "/a.txt", Effect::Changes, &[]).is_ok());
        assert_eq!(locks.discovery_xml("/a.txt"), "");
        assert!(locks.unlock("/a.txt", &lock.token, None).is_err());
        let header = submitting(&[&lock.token]);
        assert!(locks.refresh("/a.txt", &header, None, MAX_TIMEOUT).is_err());
        // A new LOCK may take its place; a full table drops it for good.
        locks.lock("/a.txt", excl(Depth::Zero)).unwrap();
        locks.table().purge(Instant::now());
        assert_eq!(locks.table().count, 1);
    }

    #[test]
    fn timeouts_are_capped_and_refresh_renews() {
        let locks = Locks::new();
        let mut long = excl(Depth::Infinity);
        long.timeout = Duration::from_secs(u64::from(u32::MAX));
        let lock = locks.lock("/dir/", long).unwrap();
        assert!(lock.expires <= Instant::now() + MAX_TIMEOUT);
        let header = submitting(&["urn:uuid:other", &lock.token]);
        let renewed = locks
            .refresh("/dir/inner.txt", &header, None, Duration::from_secs(60))
            .unwrap();
        assert_eq!(renewed.token, lock.token);
        assert!(renewed.expires <= Instant::now() + Duration::from_secs(60));
        let xml = locks.discovery_xml("/dir/inner.txt");
        assert!(xml.contains("<D:timeout>Second-60</D:timeout>"), "{xml}");
        let unknown = submitting(&["urn:uuid:other"]);
        let err = locks
            .refresh("/dir/", &unknown, None, MAX_TIMEOUT)
            .unwrap_err();
        assert_eq!(err.status(), 412);
    }

    #[test]
    fn forget_drops_locks_at_and_below_a_path_only() {
        let locks = Locks::new();
        for path in ["/d/", "/d/a", "/d/a/b", "/dx", "/e"] {
            locks.lock(path, shared(Depth::Zero)).unwrap();
        }
        locks.forget("/d");
        let left: Vec<String> = locks.table().by_root.keys().cloned().collect();
        assert_eq!(left, ["/dx", "/e"]);
        assert_eq!(locks.table().count, 2);
        locks.forget("/");
        assert_eq!(locks.table().count, 0);
    }

    #[test]
    fn discovery_lists_the_locks_covering_a_path() {
        let locks = Locks::new();
        let mut owned = shared(Depth::Infinity);
        owned.owner = Some("<href xmlns=\"DAV:\">mailto:a@example.org</href>".into());
        let folder = locks.lock("/my docs/", owned).unwrap();
        let file = locks.lock("/my docs/a.txt", shared(Depth::Zero)).unwrap();
        let xml = locks.discovery_xml("/my docs/a.txt");
        assert_eq!(xml.matches("<D:activelock>").count(), 2, "{xml}");
        assert!(xml.contains(&format!("<D:href>{}</D:href>", file.token)));
        assert!(xml.contains(&format!("<D:href>{}</D:href>", folder.token)));
        assert!(xml.contains("<D:lockroot><D:href>/my%20docs/</D:href></D:lockroot>"));
        assert!(xml.contains("<D:owner><href xmlns=\"DAV:\">mailto:a@example.org</href>"));
        assert!(xml.contains("<D:depth>infinity</D:depth>"));
        assert!(xml.contains("<D:shared/>"));
        assert_eq!(
            locks
                .discovery_xml("/my docs/")
                .matches("<D:activelock>")
                .count(),
            1
        );
        assert_eq!(locks.discovery_xml("/other"), "");
    }

    #[test]
    fn the_table_is_bounded() {
        let locks = Locks::new();
        for i in 0..MAX_LOCKS {
            locks.lock(&format!("/f{i}"), shared(Depth::Zero)).unwrap();
        }
        let err = locks.lock("/one-more", shared(Depth::Zero)).unwrap_err();
        assert_eq!(err.status(), 507);
    }

    #[test]
    fn tokens_are_random_v4_uuids() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&uuid[14..15], "4");
        assert!("89ab".contains(&uuid[19..20]), "{uuid}");
    }

    #[test]
    fn ancestors_of_keys() {
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a", ""]);
        assert_eq!(ancestors("/a").collect::<Vec<_>>(), [""]);
        assert_eq!(ancestors("").count(), 0);
        assert_eq!(key("/"), "");
        assert_eq!(key("/a/"), "/a");
    }
}
