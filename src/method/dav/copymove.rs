//! COPY and MOVE (RFC 4918 §9.8, §9.9).
//!
//! The dispatcher hands over the source (the request target, already judged by `[[acl]]` as
//! a read for COPY and as a MOVE for MOVE, and checked against locks for MOVE) and the
//! destination, decoded, normalised and routed like a request target. Here the destination
//! is judged (ACL, locks, where it may land), then the work is done by names under the
//! canonical folders, never through a link:
//! - a file COPY streams by the kernel's copy into a temporary file, renamed into place;
//! - a folder COPY fills a temporary folder, renamed into place;
//! - a MOVE is one `rename`, or, across file systems, a copy then the deletion of the source.
//!
//! A taken destination is replaced with no half state visible (`fs::tree::place`).

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::access;
use crate::allow;
use crate::config::RouteTarget;
use crate::dav::depth::{Depth, depth};
use crate::dav::destination::overwrite;
use crate::dav::multistatus::{self, MemberStatus, members};
use crate::error::{Error, NotAllowed, Refusal};
use crate::fs::path::resolve;
use crate::fs::tree::{self, Existing, Placed, TempDir, TempLink};
use crate::fs::write::{self, Parents, PathLock, TempFile, WriteTarget};
use crate::fs::xattr;
use crate::http::Method;
use crate::http::response::Response;
use crate::method::precondition;
use crate::request::{Request, Target};

/// Answers COPY or MOVE of `source` to `dest` (the request's `Destination`): 201 created, 204
/// replaced, 207 when members failed; 400 (Depth, Overwrite), 403 (same or nested, or not
/// writable there), 404 (no source, or a hidden destination name), 409 (no parent folder),
/// 412 (`Overwrite: F` and the destination exists), 423 (locked), 502 (another server).
#[inline(never)] // see method/mod.rs
pub fn handle(
    req: &mut Request<'_>,
    source: &Target<'_>,
    dest: &Target<'_>,
    method: &Method,
) -> Result<Response, Error> {
    let existing = overwrite(req.head)?;
    let requested = depth(req.head)?;
    admit_destination(req, source, dest, method)?;
    let src = find_source(req, source)?;
    let reach = reach(method, src.meta.is_dir(), requested)?;
    precondition::check(req.head, Some(&src.meta))?;
    let dst = find_destination(req, dest)?;
    refuse_overlap(&src, &dst)?;
    if existing == Existing::Keep && tree::lstat(&dst.path)?.is_some() {
        // RFC 4918 §10.6: "If the overwrite header is set to 'F' then the server MUST NOT
        // perform the COPY or MOVE operation if the state of the destination resource is
        // non-null" (412). Judged again when the copy lands, under the path's lock.
        return Err(Error::PreconditionFailed);
    }
    let done = match method {
        Method::Move => move_entry(&src, &dst, existing, source)?,
        _ => copy_entry(&src, &dst, existing, reach, dest)?,
    };
    forget(req, method, &src, &dst, &done, source, dest);
    answer(done, dest)
}

/// What the source is on disk.
struct Source {
    /// The entry the URL names: its canonical folder and its name (a symlink stays the link);
    /// the root itself when the URL names a root.
    entry: PathBuf,
    /// Where the entry leads, canonical: what a COPY reads.
    real: PathBuf,
    /// The metadata of `real`.
    meta: Metadata,
    /// The URL names a root (the document root, or a `dir` route's folder).
    is_root: bool,
}

/// What a COPY or MOVE did.
struct Done {
    /// Where the destination stands.
    placed: Placed,
    /// The members that failed, for a 207.
    failed: Vec<MemberStatus>,
}

/// The destination must be a folder served for writing, open to this method and this user
/// (COPY needs write there, MOVE too: issue 11), and not locked by someone else. A refusal is
/// 403 rather than 405: a 405 and its `Allow` speak of the request target, not of this.
fn admit_destination(
    req: &mut Request<'_>,
    source: &Target<'_>,
    dest: &Target<'_>,
    method: &Method,
) -> Result<(), Error> {
    let config = req.config;
    // The dispatcher judged COPY's source as a read: a route without a folder is refused here.
    if source.is_read_only() {
        return Err(allow::not_allowed(
            config,
            source,
            req.client,
            NotAllowed::ReadOnly,
        ));
    }
    let serves_folder = matches!(
        dest.route.map(|route| &route.target),
        None | Some(RouteTarget::Dir(_))
    );
    if !serves_folder || allow::refusal(config, dest, method).is_some() {
        return Err(Error::Forbidden(Refusal::DestinationClosed));
    }
    let user = access::authorize(config, &dest.url_path, method, req.client, req.head)?;
    if req.user.is_none() {
        req.user = user;
    }
    // RFC 4918 §7: a write to what someone else's lock covers needs that lock's token.
    req.locks.check_write(req.head, &dest.url_path)
}

/// The source, found as a read finds it: missing, hidden, a temporary file or a symlink
/// leading out of the root is 404.
fn find_source(req: &Request<'_>, source: &Target<'_>) -> Result<Source, Error> {
    let (root, norm, hidden) = (source.fs_root, &source.fs_path, req.config.server.hidden);
    let found = resolve(root, norm, hidden)?;
    let is_root = found.path == *root;
    let entry = match is_root {
        true => root.to_path_buf(),
        false => write::locate(root, norm.trim_end_matches('/'), hidden, false)?.path,
    };
    Ok(Source {
        entry,
        real: found.path,
        meta: found.metadata,
        is_root,
    })
}

/// How deep the method reaches. RFC 4918 §9.8.3: COPY on a folder without `Depth` "MUST act as
/// if a Depth header with value 'infinity' was included", and takes "0" or "infinity";
/// §9.9.2: MOVE on a folder "MUST act as if a 'Depth: infinity' header was used", and a client
/// "MUST NOT submit a Depth header on a MOVE on a collection with any value but 'infinity'".
fn reach(method: &Method, is_dir: bool, requested: Option<Depth>) -> Result<Depth, Error> {
    match (method, requested) {
        (_, None | Some(Depth::Infinity)) => Ok(Depth::Infinity),
        (Method::Copy, Some(Depth::One)) => {
            Err(Error::BadRequest("COPY takes Depth 0 or infinity"))
        }
        (Method::Copy, Some(depth)) => Ok(depth),
        (_, Some(_)) if is_dir => Err(Error::BadRequest("MOVE of a folder takes Depth infinity")),
        (_, Some(_)) => Ok(Depth::Infinity),
    }
}

/// Where the destination lands: a visible name (404 otherwise, as PUT answers) in an existing
/// folder canonically inside its root (409 when the folder is missing, 404 when it leads out).
/// `/x/` and `/x` name the same entry; a root is never replaced.
fn find_destination(req: &Request<'_>, dest: &Target<'_>) -> Result<WriteTarget, Error> {
    let norm = dest.fs_path.trim_end_matches('/');
    if norm.is_empty() {
        return Err(Error::Forbidden(Refusal::Root));
    }
    let hidden = req.config.server.hidden;
    write::locate_with(dest.fs_root, norm, hidden, Parents::Conflict)
}

/// RFC 4918 §9.8.5: 403 "The source and destination resources are the same"; and a folder
/// cannot go inside itself (the copy would never end), nor replace a folder that holds it
/// (the replacement would remove the source first).
fn refuse_overlap(src: &Source, dst: &WriteTarget) -> Result<(), Error> {
    let leads_to = fs::canonicalize(&dst.path).ok();
    if dst.path == src.entry || leads_to.as_ref() == Some(&src.real) {
        return Err(Error::Forbidden(Refusal::SameResource));
    }
    let into_itself =
        src.meta.is_dir() && (dst.dir.starts_with(&src.real) || dst.dir.starts_with(&src.entry));
    if into_itself || src.entry.starts_with(&dst.path) {
        return Err(Error::Forbidden(Refusal::Nested));
    }
    Ok(())
}

/// COPY: what the source leads to, at `reach`, into a temporary entry beside the destination,
/// renamed into place under the destination's write lock.
fn copy_entry(
    src: &Source,
    dst: &WriteTarget,
    existing: Existing,
    reach: Depth,
    dest: &Target<'_>,
) -> Result<Done, Error> {
    if !src.meta.is_dir() {
        let temp = copy_file(&src.real, dst)?;
        let _lock = write::lock(&dst.path);
        return Ok(done(temp.place(&dst.path, existing)?, Vec::new()));
    }
    let from = tree::open_dir(&src.real)?;
    let temp = TempDir::create_in(&dst.dir)?;
    xattr::copy_dav_props(&from, temp.dir())?;
    let failures = match reach {
        Depth::Infinity => temp.fill_from(&from),
        Depth::Zero | Depth::One => Vec::new(),
    };
    let _lock = write::lock(&dst.path);
    let placed = temp.place(&dst.path, existing)?;
    write::sync_dir(&dst.dir);
    Ok(done(placed, members(&dest.url_path, failures)))
}

/// One file, by the kernel's copy, with its dead properties, into a temporary file beside
/// the destination, which becomes it by one rename (`TempFile::place`), like a PUT.
fn copy_file(from: &Path, dst: &WriteTarget) -> Result<TempFile, Error> {
    let from = tree::open_regular(from)?;
    let mut temp = TempFile::create_in(&dst.dir)?;
    tree::copy_data(&from, temp.file())?;
    xattr::copy_dav_props(&from, temp.file())?;
    Ok(temp)
}

/// MOVE: the entry itself (a link stays a link) takes the destination's name by one
/// `rename`, which keeps its dead properties; across file systems (`EXDEV`: a `dir` route on
/// another disk), a copy then the deletion of the source.
fn move_entry(
    src: &Source,
    dst: &WriteTarget,
    existing: Existing,
    source: &Target<'_>,
) -> Result<Done, Error> {
    if src.is_root {
        return Err(Error::Forbidden(Refusal::Root));
    }
    let _locks = lock_both(&src.entry, &dst.path);
    if tree::lstat(&src.entry)?.is_none() {
        return Err(Error::NotFound); // moved or deleted while this request waited
    }
    let placed = match tree::place(&src.entry, &dst.path, existing) {
        Ok(placed) => placed,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
            return move_across(src, dst, existing, source);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(dir) = src.entry.parent() {
        write::sync_dir(dir);
    }
    write::sync_dir(&dst.dir);
    Ok(done(placed, Vec::new()))
}

/// A MOVE across file systems, under the write locks of both paths: the source is copied whole beside the destination and put in
/// place, then deleted. All or nothing for the copy: when a member cannot be copied, the copy
/// is dropped, the source stays, and the 207 names the members (at the source). Members that
/// then cannot be deleted stay at the source and are named in the 207.
fn move_across(
    src: &Source,
    dst: &WriteTarget,
    existing: Existing,
    source: &Target<'_>,
) -> Result<Done, Error> {
    let kind = fs::symlink_metadata(&src.entry)?.file_type();
    let placed = if kind.is_symlink() {
        TempLink::copy_in(&dst.dir, &src.entry)?.place(&dst.path, existing)?
    } else if kind.is_dir() {
        let from = tree::open_dir(&src.entry)?;
        let temp = TempDir::create_in(&dst.dir)?;
        xattr::copy_dav_props(&from, temp.dir())?;
        let failures = temp.fill_from(&from);
        if !failures.is_empty() {
            return Ok(done(Placed::Kept, members(&source.url_path, failures)));
        }
        temp.place(&dst.path, existing)?
    } else {
        // Under the locks `move_entry` holds.
        copy_file(&src.entry, dst)?.place(&dst.path, existing)?
    };
    if placed == Placed::Kept {
        return Ok(done(placed, Vec::new()));
    }
    write::sync_dir(&dst.dir);
    let left = tree::remove_entry(&src.entry)?;
    Ok(done(placed, members(&source.url_path, left)))
}

/// The write locks of two paths, always taken in the same order, so two MOVEs between the same
/// two names in opposite directions cannot wait for each other.
fn lock_both(a: &Path, b: &Path) -> (PathLock, PathLock) {
    match a < b {
        true => {
            let first = write::lock(a);
            (first, write::lock(b))
        }
        false => {
            let first = write::lock(b);
            (write::lock(a), first)
        }
    }
}

fn done(placed: Placed, failed: Vec<MemberStatus>) -> Done {
    Done { placed, failed }
}

/// The cache forgets what moved or was replaced, and the lock table the locks of what is gone:
/// a MOVE's source, and a destination that was replaced.
fn forget(
    req: &Request<'_>,
    method: &Method,
    src: &Source,
    dst: &WriteTarget,
    done: &Done,
    source: &Target<'_>,
    dest: &Target<'_>,
) {
    req.cache.invalidate_dir(&dst.path);
    if *method == Method::Move && done.placed != Placed::Kept {
        req.cache.invalidate_dir(&src.entry);
        req.cache.invalidate_dir(&src.real);
        req.locks.forget(&source.url_path);
    }
    if done.placed == Placed::Replaced {
        req.locks.forget(&dest.url_path);
    }
}

/// 201 (with `Location`) or 204; 207 when members failed; 412 when the destination was
/// taken and `Overwrite: F` kept it.
fn answer(done: Done, dest: &Target<'_>) -> Result<Response, Error> {
    if !done.failed.is_empty() {
        return Ok(multistatus::response(&done.failed));
    }
    match done.placed {
        Placed::Created => Ok(Response::text(201).header("Location", dest.raw_path.to_string())),
        Placed::Replaced => Ok(Response::new(204)),
        Placed::Kept => Err(Error::PreconditionFailed),
    }
}
