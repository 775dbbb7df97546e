//! Strong entity tags derived from file metadata.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// A strong ETag for a file's current content: its modification time to the nanosecond, its
/// size and its inode. A write through shelf renames a new inode into place, and any other
/// edit moves the mtime, so the tag changes whenever the content does.
pub fn for_file(meta: &Metadata) -> String {
    format!(
        "\"{:x}.{:x}-{:x}-{:x}\"",
        meta.mtime(),
        meta.mtime_nsec(),
        meta.size(),
        meta.ino()
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
