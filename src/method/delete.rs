//! DELETE: a file or an empty folder (SPEC §4); a non-empty folder is a conflict, the root is
//! never deleted. With WebDAV on, a folder goes with everything in it (RFC 4918 §9.6.1).

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use super::precondition;
use crate::dav::depth::{Depth, depth};
use crate::dav::multistatus::{self, members};
use crate::error::{Error, Refusal};
use crate::fs::path::resolve;
use crate::fs::tree;
use crate::fs::write;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Deletes what `target` names: 204, or 404 / 409 / 412; with WebDAV on, a whole folder
/// (207 when members could not be deleted).
#[inline(never)] // see method/mod.rs
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    if req.config.webdav.enabled {
        return delete_tree(req, target);
    }
    delete(req, target)?;
    Ok(Response::new(204))
}

/// Removes the entry `target` names, under its write lock; a folder only when empty. The
/// listing's delete button comes here whether WebDAV is on or not: a click in a browser never
/// takes a whole tree with it.
pub fn delete(req: &Request<'_>, target: &Target<'_>) -> Result<(), Error> {
    let (entry, canonical) = find(req, target)?;
    let _lock = write::lock(&entry);
    let meta = current(&entry)?;
    precondition::check(req.head, Some(&meta))?;
    remove(&entry)?;
    settle(req, &entry, &canonical);
    Ok(())
}

/// RFC 4918 §9.6.1: "the DELETE method on a collection MUST act as if a 'Depth: infinity'
/// header was used on it", and §9.6.2: "If an error occurs deleting a member resource …
/// the response … MUST be a 207 (Multi-Status)". The folder is renamed aside before anything
/// in it goes, so no reader lists it half deleted; members that cannot go are put back under
/// the folder's name, as the RFC keeps their ancestors, and listed in the 207.
fn delete_tree(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let (entry, canonical) = find(req, target)?;
    let _lock = write::lock(&entry);
    let meta = current(&entry)?;
    // §9.6.1: "Clients MUST NOT submit a Depth header with a DELETE on a collection with any
    // value but infinity": a client that meant less is refused rather than served more.
    if meta.is_dir() && matches!(depth(req.head)?, Some(Depth::Zero | Depth::One)) {
        return Err(Error::BadRequest(
            "DELETE of a folder takes Depth: infinity",
        ));
    }
    precondition::check(req.head, Some(&meta))?;
    let failures = tree::remove_entry(&entry)?;
    settle(req, &entry, &canonical);
    // Every lock below was this client's (another's would have refused it with 423 before).
    req.locks.forget(&target.url_path);
    match failures.is_empty() {
        true => Ok(Response::new(204)),
        false => Ok(multistatus::response(&members(&target.url_path, failures))),
    }
}

/// The entry `target` names (a symlink itself, never what it points to) and where it leads.
fn find(req: &Request<'_>, target: &Target<'_>) -> Result<(PathBuf, PathBuf), Error> {
    let (root, norm, hidden) = (target.fs_root, &target.fs_path, req.config.server.hidden);
    // Missing, hidden, or a symlink leading outside the root: absent, as for a read.
    let found = resolve(root, norm, hidden)?;
    if found.path == *root {
        // Never the root (or a `dir` route's folder) itself, however it is named.
        return Err(Error::Forbidden(Refusal::Root));
    }
    let entry = write::locate(root, norm.trim_end_matches('/'), hidden, false)?.path;
    Ok((entry, found.path))
}

/// The entry's metadata now, under the lock (links followed, as for the preconditions).
fn current(entry: &Path) -> Result<Metadata, Error> {
    fs::metadata(entry).map_err(|_| Error::NotFound)
}

/// What every deletion does after: the cache forgets the entry and what it led to, and the
/// folder's new state is flushed.
fn settle(req: &Request<'_>, entry: &Path, canonical: &Path) {
    req.cache.invalidate_dir(entry);
    req.cache.invalidate_dir(canonical);
    if let Some(dir) = entry.parent() {
        write::sync_dir(dir);
    }
}

/// `rmdir` for a real folder (ENOTEMPTY becomes 409), `unlink` for anything else.
fn remove(entry: &Path) -> Result<(), Error> {
    let is_dir = fs::symlink_metadata(entry)?.is_dir();
    match is_dir {
        true => fs::remove_dir(entry)?,
        false => fs::remove_file(entry)?,
    }
    Ok(())
}
