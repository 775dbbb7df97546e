//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11): a new lock (on an unmapped URL, an empty file
//! made for it), a refresh, or the end of a lock. The lock table is `dav::locks`; the request
//! is read by `dav::lockinfo`.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io;
use std::time::{Duration, Instant};

use crate::dav::ifheader;
use crate::dav::lockinfo::{self, LockInfo};
use crate::dav::locks::{ActiveLock, Effect, LockRequest, Principal, push_activelock};
use crate::error::{Clash, Error};
use crate::fs::path::{ResolveError, is_visible_name, resolve};
use crate::fs::write;
use crate::http::response::{Body, Response};
use crate::request::{Request, Target};

/// Answers LOCK on `target`: a new lock, or a refresh.
#[inline(never)] // see method/mod.rs
pub fn lock(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let declared = req.body.declared_len();
    let info = lockinfo::read(&mut req.body, declared)?;
    let timeout = lockinfo::timeout(req.head);
    match info {
        Some(info) => create(req, target, info, timeout),
        None => refresh(req, target, timeout),
    }
}

/// RFC 4918 §9.10.2: a LOCK without a body refreshes the lock its `If` header names; the
/// `Depth` header is ignored, and no `Lock-Token` comes back.
fn refresh(req: &Request<'_>, target: &Target<'_>, timeout: Duration) -> Result<Response, Error> {
    let header = ifheader::from_head(req.head)?.ok_or(Error::BadRequest(
        "a LOCK without a body refreshes a lock: name its token in an If header",
    ))?;
    let user = req.user.as_deref();
    let lock = req
        .locks
        .refresh(&target.url_path, &header, user, timeout)?;
    Ok(answer(200, &lock))
}

/// A new lock on `target`. RFC 4918 §7.3: on an unmapped URL, "A successful lock request to
/// an unmapped URL MUST result in the creation of a locked (non-collection) resource with
/// empty content", answered 201.
fn create(
    req: &Request<'_>,
    target: &Target<'_>,
    info: LockInfo,
    timeout: Duration,
) -> Result<Response, Error> {
    let depth = lockinfo::depth(req.head)?;
    let mapped = is_mapped(req, target)?;
    if !mapped {
        check_new_member(req, target)?;
    }
    let request = LockRequest {
        scope: info.scope,
        depth,
        owner: info.owner,
        principal: req.user.clone(),
        timeout,
    };
    let lock = req.locks.lock(&target.url_path, request)?;
    let created = !mapped && make_file(req, target, &lock)?;
    let status = if created { 201 } else { 200 };
    Ok(answer(status, &lock).header("Lock-Token", format!("<{}>", lock.token)))
}

/// True when something (a file or a folder) is at `target`, as a read would find it.
fn is_mapped(req: &Request<'_>, target: &Target<'_>) -> Result<bool, Error> {
    match resolve(target.fs_root, &target.fs_path, req.config.server.hidden) {
        Ok(_) => Ok(true),
        Err(ResolveError::NotFound) => Ok(false),
        Err(ResolveError::Io(e)) => Err(Error::Io(e)),
    }
}

/// The file a LOCK makes is a new member of its folder: the folder's locks need their tokens
/// (RFC 4918 §7.4), as for a PUT that creates.
fn check_new_member(req: &Request<'_>, target: &Target<'_>) -> Result<(), Error> {
    let header = ifheader::from_head(req.head)?;
    let principal = Principal::User(req.user.as_deref());
    let path = &target.url_path;
    req.locks
        .check_tokens(header.as_ref(), path, Effect::Creates, principal)
}

/// Makes the empty file for the new `lock`; if that fails, the lock goes too.
fn make_file(req: &Request<'_>, target: &Target<'_>, lock: &ActiveLock) -> Result<bool, Error> {
    create_empty(req, target).inspect_err(|_| {
        let _ = req
            .locks
            .unlock(&target.url_path, &lock.token, req.user.as_deref());
    })
}

/// Creates the empty file a LOCK on an unmapped URL stands for: in an existing folder only
/// (409 otherwise, as for MKCOL), never over a file that appeared meanwhile (`O_EXCL`: a
/// reader sees no file or an empty one, never a partial one). `Ok(false)` when a file
/// appeared first.
fn create_empty(req: &Request<'_>, target: &Target<'_>) -> Result<bool, Error> {
    let hidden = req.config.server.hidden;
    let segments = target.fs_path.split('/').filter(|s| !s.is_empty());
    if segments.clone().any(|s| !is_visible_name(s, hidden)) {
        return Err(Error::NotFound);
    }
    let dest = match write::locate(target.fs_root, &target.fs_path, hidden, false) {
        // RFC 4918 §9.10.4 has no word on a missing folder; MKCOL's 409 (§9.3.1) fits.
        Err(Error::NotFound) => return Err(Error::Conflict(Clash::FileInTheWay)),
        other => other?,
    };
    let _lock = write::lock(&dest.path);
    let made = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dest.path);
    match made {
        Ok(file) => {
            file.sync_all()?;
            write::sync_dir(&dest.dir);
            req.cache.invalidate(&dest.path);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::Io(e)),
    }
}

/// The answer to a LOCK (RFC 4918 §9.10.1): `<D:prop><D:lockdiscovery>` holding the lock
/// granted or refreshed.
fn answer(status: u16, lock: &ActiveLock) -> Response {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>",
    );
    push_activelock(&mut xml, lock, Instant::now());
    xml.push_str("</D:lockdiscovery></D:prop>\n");
    Response::new(status)
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(Body::Bytes(Cow::Owned(xml.into_bytes())))
}

/// Answers UNLOCK on `target`: RFC 4918 §9.11, the lock named by `Lock-Token` ends (204)
/// if `target` is in its scope.
#[inline(never)] // see method/mod.rs
pub fn unlock(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let token = lockinfo::lock_token(req.head)?;
    req.locks
        .unlock(&target.url_path, token, req.user.as_deref())?;
    Ok(Response::new(204))
}
