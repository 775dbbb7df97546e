//! Strong entity tags: for files, from the cache's [`Stamp`] of their metadata; for bytes
//! generated in memory, from their MD5.

use std::fs::Metadata;

use crate::cache::Stamp;
use crate::http::encode::push_hex;

/// A strong ETag for a file's current content: its modification time to the nanosecond, its
/// size, its inode and its status-change time. A write through shelf renames a new inode into
/// place, any other edit moves the ctime (which, unlike the mtime, no program can set back),
/// so the tag changes whenever the content does. A chmod changes it too: a spurious
/// revalidation, never a stale body.
///
/// Derived from the stamp the cache checks its hits against, so a cached body and its tag
/// cannot describe two versions of the file. The device is left out, as it always has been:
/// the format is unchanged from before the stamp existed, so tags clients hold stay valid.
pub fn for_stamp(stamp: &Stamp) -> String {
    let Stamp {
        len,
        mtime: (m_secs, m_nanos),
        ctime: (c_secs, c_nanos),
        ino,
        dev: _,
    } = *stamp;
    format!("\"{m_secs:x}.{m_nanos:x}-{len:x}-{ino:x}-{c_secs:x}.{c_nanos:x}\"")
}

/// The strong ETag of the file `meta` describes: [`for_stamp`] of its [`Stamp`].
pub fn for_file(meta: &Metadata) -> String {
    for_stamp(&Stamp::of(meta))
}

/// A strong ETag for bytes generated in memory (listings): the MD5 of the content.
pub fn for_bytes(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    push_hex(&mut tag, &digest);
    tag.push('"');
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn stamp(mtime: (i64, i64), len: u64, ino: u64, ctime: (i64, i64), dev: u64) -> Stamp {
        Stamp {
            len,
            mtime,
            ctime,
            ino,
            dev,
        }
    }

    #[test]
    fn stamp_tag_rows() {
        let rows: &[(Stamp, &str)] = &[
            // Before the epoch: seconds print as two's complement, as they always did.
            (
                stamp((-1, 500_000_000), 255, 16, (1_700_000_000, 1), 7),
                "\"ffffffffffffffff.1dcd6500-ff-10-6553f100.1\"",
            ),
            (stamp((0, 0), 0, 0, (0, 0), 0), "\"0.0-0-0-0.0\""),
            (
                stamp(
                    (1_700_000_000, 999_999_999),
                    1 << 40,
                    2,
                    (1_700_000_001, 0),
                    1,
                ),
                "\"6553f100.3b9ac9ff-10000000000-2-6553f101.0\"",
            ),
        ];
        for (stamp, want) in rows {
            assert_eq!(for_stamp(stamp), *want, "{stamp:?}");
        }
        // Every field but the device changes the tag.
        let base = stamp((1, 2), 3, 4, (5, 6), 7);
        let changed = [
            stamp((9, 2), 3, 4, (5, 6), 7),
            stamp((1, 9), 3, 4, (5, 6), 7),
            stamp((1, 2), 9, 4, (5, 6), 7),
            stamp((1, 2), 3, 9, (5, 6), 7),
            stamp((1, 2), 3, 4, (9, 6), 7),
            stamp((1, 2), 3, 4, (5, 9), 7),
        ];
        for other in changed {
            assert_ne!(for_stamp(&base), for_stamp(&other), "{other:?}");
        }
        assert_eq!(for_stamp(&base), for_stamp(&stamp((1, 2), 3, 4, (5, 6), 8)));
    }

    /// The tag of a real file is the format written out field by field from its metadata.
    #[test]
    fn file_tag_is_the_metadata_format() {
        let path = std::env::temp_dir().join(format!("shelf-etag-{}", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let spelled = format!(
            "\"{:x}.{:x}-{:x}-{:x}-{:x}.{:x}\"",
            meta.mtime(),
            meta.mtime_nsec(),
            meta.size(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        );
        assert_eq!(for_file(&meta), spelled);
        std::fs::remove_file(&path).unwrap();
    }
}
