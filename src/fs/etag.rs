//! Strong entity tags derived from file metadata.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// A strong ETag for a file's current content: its modification time to the nanosecond, its
/// size, its inode and its status-change time. A write through shelf renames a new inode into
/// place, any other edit moves the ctime (which, unlike the mtime, no program can set back),
/// so the tag changes whenever the content does. A chmod changes it too: a spurious
/// revalidation, never a stale body.
pub fn for_file(meta: &Metadata) -> String {
    format!(
        "\"{:x}.{:x}-{:x}-{:x}-{:x}.{:x}\"",
        meta.mtime(),
        meta.mtime_nsec(),
        meta.size(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// A strong ETag for bytes generated in memory (listings): the MD5 of the content.
pub fn for_bytes(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in digest.iter() {
        tag.push_str(&format!("{b:02x}"));
    }
    tag.push('"');
    tag
}
