//! PATCH: write the body into an existing file at an offset (`Content-Range: bytes A-B/*`) or
//! at its end (SPEC §4).
//!
//! Unlike PUT this writes in place. To keep the window in which a crash or a reader can see a
//! half-applied patch small, the body is first received into a temporary file (the network is
//! the slow part), and only then copied into the target under its write lock and flushed.

use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use super::precondition;
use crate::error::{Clash, Error};
use crate::fs::etag;
use crate::fs::path::resolve;
use crate::fs::write::{self, TempFile};
use crate::http::response::Response;
use crate::range;
use crate::request::{Request, Target};

/// Where the body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// At the end of the file.
    Append,
    /// At `start`; the body is exactly `len` bytes (`Content-Range: bytes A-B/*`).
    At { start: u64, len: u64 },
}

/// Patches the file at `target`: 204 + the new ETag, or 404 / 409 / 412 / 416 / 400.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let root = target.fs_root;
    let found = resolve(root, &target.fs_path, req.config.server.hidden)?;
    if !found.metadata.is_file() {
        return Err(Error::Conflict(Clash::Folder));
    }
    let place = parse_content_range(req.head.header("content-range"))?;
    // Everything that can be decided before the body is read is decided now.
    precondition::check(req.head, Some(&found.metadata))?;
    if let Some(refusal) = beyond_end(place, found.metadata.len()) {
        return Ok(refusal);
    }
    if let (Place::At { len, .. }, Some(declared)) = (place, req.body.declared_len())
        && len != declared
    {
        return Err(Error::BadRequest(
            "Content-Range length differs from the body",
        ));
    }
    let dir = found.path.parent().unwrap_or(root).to_path_buf();
    let mut spool = TempFile::create_in(&dir)?;
    let received = write::copy_body(&mut req.body, spool.file(), None)?;
    if matches!(place, Place::At { len, .. } if len != received) {
        return Err(Error::BadRequest(
            "Content-Range length differs from the body",
        ));
    }
    apply(req, &found.path, place, &mut spool)
}

/// Copies the spooled body into the file under its write lock, after checking again what may
/// have changed while the body arrived.
fn apply(
    req: &Request<'_>,
    path: &Path,
    place: Place,
    spool: &mut TempFile,
) -> Result<Response, Error> {
    let _lock = write::lock(path);
    let meta = fs::metadata(path).map_err(|_| Error::NotFound)?;
    precondition::check(req.head, Some(&meta))?;
    if let Some(refusal) = beyond_end(place, meta.len()) {
        return Ok(refusal);
    }
    let offset = match place {
        Place::Append => meta.len(),
        Place::At { start, .. } => start,
    };
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let body = spool.file();
    body.seek(SeekFrom::Start(0))?;
    io::copy(body, &mut file)?;
    file.sync_data()?;
    let tag = etag::for_file(&file.metadata()?);
    req.cache.invalidate(path);
    Ok(Response::new(204).header("ETag", tag))
}

/// 416 when the patch would start after the end of a file of `len` bytes (a hole).
fn beyond_end(place: Place, len: u64) -> Option<Response> {
    match place {
        Place::At { start, .. } if start > len => {
            Some(range::unsatisfiable(len, range::Beyond::Patch))
        }
        _ => None,
    }
}

/// `bytes A-B/*` (or `/LEN`, whose value is not used: the file's length is what it is).
/// Absent: append. Anything else is malformed (400): RFC 9110 §14.4 gives a server no way to
/// guess what a broken range meant, and writing at a guessed offset would corrupt the file.
fn parse_content_range(value: Option<&str>) -> Result<Place, Error> {
    let Some(value) = value else {
        return Ok(Place::Append);
    };
    let malformed = Error::BadRequest("malformed Content-Range");
    let (unit, rest) = value.trim().split_once(' ').ok_or(malformed)?;
    let (span, complete) = rest
        .trim()
        .split_once('/')
        .ok_or(Error::BadRequest("malformed Content-Range"))?;
    let (a, b) = span
        .split_once('-')
        .ok_or(Error::BadRequest("malformed Content-Range"))?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let valid_complete = complete == "*" || number(complete).is_some();
    match (
        unit.eq_ignore_ascii_case("bytes"),
        number(a),
        number(b),
        valid_complete,
    ) {
        (true, Some(start), Some(end), true) if start <= end => Ok(Place::At {
            start,
            len: end - start + 1,
        }),
        _ => Err(Error::BadRequest("malformed Content-Range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_rows() {
        let rows: &[(Option<&str>, Option<Place>)] = &[
            // Hostile and malformed rows first.
            (Some(""), None),
            (Some("bytes"), None),
            (Some("bytes 5-4/*"), None),
            (Some("bytes -4/*"), None),
            (Some("bytes 4-/*"), None),
            (Some("bytes */10"), None),
            (Some("bytes 0-1"), None),
            (Some("bytes +1-2/*"), None),
            (Some("bytes 0-18446744073709551616/*"), None),
            (Some("items 0-1/*"), None),
            (Some("bytes 0-1/x"), None),
            // Valid rows.
            (None, Some(Place::Append)),
            (Some("bytes 0-0/*"), Some(Place::At { start: 0, len: 1 })),
            (
                Some("bytes 10-19/*"),
                Some(Place::At { start: 10, len: 10 }),
            ),
            (Some("BYTES 3-4/100"), Some(Place::At { start: 3, len: 2 })),
        ];
        for (value, want) in rows {
            assert_eq!(parse_content_range(*value).ok(), *want, "{value:?}");
        }
    }
}
