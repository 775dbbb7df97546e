//! What a write finds at its target before it acts: the current file, if any, and the
//! preconditions (RFC 9110 §13.2.2) evaluated against it.

use std::fs::{self, Metadata};
use std::path::Path;

use crate::conditional::{self, Outcome, Validators};
use crate::error::{Clash, Error};
use crate::fs::etag;
use crate::fs::path::{canonical_within, is_absent};
use crate::http::parse::Head;

/// The metadata of the file at `path` (symlinks followed), or `None` when nothing servable is
/// there: missing, dangling, or a symlink leading outside `root` (absent, as for reads). A
/// folder is a conflict for a method that writes a file.
pub fn current_file(root: &Path, path: &Path) -> Result<Option<Metadata>, Error> {
    let canonical = match canonical_within(root, path) {
        Ok(Some(canonical)) => canonical,
        Ok(None) => return Ok(None),
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(Error::Io(e)),
    };
    let meta = fs::metadata(&canonical)?;
    if meta.is_dir() {
        return Err(Error::Conflict(Clash::Folder));
    }
    Ok(Some(meta))
}

/// `If-Match`, `If-Unmodified-Since` and `If-None-Match` against the file a write would
/// replace (`None`: there is none). RFC 9110 §13.1.1: "the origin server MUST NOT perform the
/// requested method if the condition evaluates to false"; every failure is 412 here, since a
/// write is never answered 304 (§13.1.2: "412 (Precondition Failed) otherwise").
pub fn check(head: &Head, meta: Option<&Metadata>) -> Result<(), Error> {
    let tag = meta.map(etag::for_file);
    let validators = Validators {
        etag: tag.as_deref(),
        last_modified: meta.and_then(|m| m.modified().ok()),
    };
    match conditional::evaluate(head, &validators) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified | Outcome::Failed => Err(Error::PreconditionFailed),
    }
}
