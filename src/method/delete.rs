//! DELETE: a file or an empty folder (SPEC §4); a non-empty folder is a conflict, the root is
//! never deleted.

use std::fs;
use std::path::Path;

use super::precondition;
use crate::error::{Error, Refusal};
use crate::fs::path::resolve;
use crate::fs::write;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Deletes what `target` names: 204, or 404 / 409 / 412.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    delete(req, target)?;
    Ok(Response::new(204))
}

/// Removes the entry `target` names, under its write lock.
pub fn delete(req: &Request<'_>, target: &Target<'_>) -> Result<(), Error> {
    let (root, norm, hidden) = (target.fs_root, &target.fs_path, req.config.server.hidden);
    // Missing, hidden, or a symlink leading outside the root: absent, as for a read.
    let found = resolve(root, norm, hidden)?;
    if found.path == *root {
        // Never the root (or a `dir` route's folder) itself, however it is named.
        return Err(Error::Forbidden(Refusal::Root));
    }
    // The entry itself: a symlink is removed, never what it points to.
    let entry = write::locate(root, norm.trim_end_matches('/'), hidden, false)?.path;
    let _lock = write::lock(&entry);
    let meta = fs::metadata(&entry).map_err(|_| Error::NotFound)?;
    precondition::check(req.head, Some(&meta))?;
    remove(&entry)?;
    req.cache.invalidate_dir(&entry);
    req.cache.invalidate_dir(&found.path);
    if let Some(dir) = entry.parent() {
        write::sync_dir(dir);
    }
    Ok(())
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
