//! PUT: create or replace a file (SPEC §4). The body streams into a temporary file beside the
//! target, is flushed, then renamed over it: a reader sees the old file or the new one, and a
//! failed upload leaves the old file and no temporary file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use md5::{Digest, Md5};

use super::precondition;
use crate::error::Error;
use crate::fs::etag;
use crate::fs::write::{self, Parents, TempFile, WriteTarget};
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Stores the body at `target` and answers 201 + `Location` (created) or 204 (replaced), with
/// the new ETag.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let (root, hidden) = (target.fs_root, req.config.server.hidden);
    // Preconditions before the body is read: a refused request gets no `100 Continue`.
    let before = write::locate(root, &target.fs_path, hidden, false)
        .ok()
        .map(|t| precondition::current_file(root, &t.path))
        .transpose()?
        .flatten();
    precondition::check(req.head, before.as_ref())?;
    // RFC 4918 §9.7.1: "A PUT that would result in the creation of a resource without an
    // appropriately scoped parent collection MUST fail with a 409 (Conflict)": with WebDAV
    // on, folders come from MKCOL; over plain HTTP, PUT creates them (SPEC §4).
    let parents = match req.config.webdav.enabled {
        true => Parents::Conflict,
        false => Parents::Create,
    };
    let dest = write::locate_with(root, &target.fs_path, hidden, parents)?;
    let result = receive(req, root, &dest);
    if result.is_err() {
        write::remove_created(&dest.created);
    }
    let (created, tag) = result?;
    Ok(match created {
        true => Response::text(201).header("Location", target.raw_path.to_string()),
        false => Response::new(204),
    }
    .header("ETag", tag))
}

/// Streams the body into a temporary file, then commits it under the path's write lock.
/// Returns whether the file is new, and its ETag.
fn receive(
    req: &mut Request<'_>,
    root: &Path,
    dest: &WriteTarget,
) -> Result<(bool, String), Error> {
    let mut temp = TempFile::create_in(&dest.dir)?;
    let mut hash = request_hash(req);
    write::copy_body(&mut req.body, temp.file(), Some(&mut hash))?;
    let digest: [u8; 16] = hash.finalize().into();
    let _lock = write::lock(&dest.path);
    // Again under the lock: another writer may have committed while this body arrived.
    let now = precondition::current_file(root, &dest.path)?;
    precondition::check(req.head, now.as_ref())?;
    if let Some(meta) = &now {
        let tag = etag::for_file(meta);
        if applied().repeats(&dest.path, &digest, &tag) {
            // SPEC §4: the same request already produced this very file: nothing to write.
            return Ok((false, tag));
        }
    }
    let meta = temp.persist(&dest.path)?;
    let tag = etag::for_file(&meta);
    applied().record(&dest.path, digest, &tag);
    req.cache.invalidate(&dest.path);
    Ok((now.is_none(), tag))
}

/// The MD5 of the request line's method and target, to be extended with the body: the
/// request's identity, for recognising a repeated PUT.
fn request_hash(req: &Request<'_>) -> Md5 {
    let mut hash = Md5::new();
    hash.update(req.head.method().as_str());
    hash.update(b" ");
    hash.update(req.head.target());
    hash
}

/// At most this many paths remember their last PUT.
const APPLIED_MAX: usize = 4096;

/// The last PUT applied to each recently written path: its request MD5 (method, target,
/// body) and the ETag it produced. A repeat of that request while the file still has that
/// ETag is answered 204 without a rename, so the file keeps its ETag and `Last-Modified`
/// and the clients' caches stay valid. The body is still received: the hash needs it.
struct Applied {
    entries: Mutex<HashMap<PathBuf, LastPut>>,
}

/// One path's last PUT.
struct LastPut {
    /// Insertion order, to forget the oldest path when the table is full.
    tick: u64,
    digest: [u8; 16],
    tag: String,
}

/// Process-wide, keyed by canonical path like the write locks.
fn applied() -> &'static Applied {
    static APPLIED: OnceLock<Applied> = OnceLock::new();
    APPLIED.get_or_init(|| Applied {
        entries: Mutex::new(HashMap::new()),
    })
}

impl Applied {
    /// True when `digest` was the last PUT to `path` and produced `tag`.
    fn repeats(&self, path: &Path, digest: &[u8; 16], tag: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(path)
            .is_some_and(|last| last.digest == *digest && last.tag == tag)
    }

    /// Remembers the PUT just applied to `path`, forgetting the oldest path when full.
    fn record(&self, path: &Path, digest: [u8; 16], tag: &str) {
        static TICK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tick = TICK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= APPLIED_MAX && !entries.contains_key(path) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, last)| last.tick)
                .map(|(p, _)| p.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let last = LastPut {
            tick,
            digest,
            tag: tag.to_string(),
        };
        entries.insert(path.to_path_buf(), last);
    }
}
