//! Copying a file's WebDAV dead properties: the extended attributes named `user.shelf.dav.*`
//! (the brief's contract 2). A COPY carries them to each file and folder it makes; a rename
//! keeps them by itself.
//!
//! Other attributes (SELinux labels, ACLs, other programs' `user.` data) are not ours to
//! duplicate, so only this prefix is copied.

use std::io;
use std::os::fd::AsFd;

use rustix::fs::XattrFlags;
use rustix::fs::{fgetxattr, fgetxattr_query, flistxattr, flistxattr_query, fsetxattr};
use rustix::io::Errno;

/// The name prefix of the extended attributes that hold WebDAV dead properties.
pub const DAV_PREFIX: &[u8] = b"user.shelf.dav.";

/// Linux caps a name list (`XATTR_LIST_MAX`) and a value (`XATTR_SIZE_MAX`) at 64 KiB: a
/// larger answer cannot come from the kernel, so nothing larger is ever allocated.
const XATTR_MAX: usize = 64 * 1024;

/// Copies every `user.shelf.dav.*` attribute of `from` onto `to` (open files or folders).
///
/// A source on a file system without extended attributes has none to copy. A destination that
/// cannot store one is an error: the copy would silently lose its properties otherwise.
pub fn copy_dav_props(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let (from, to) = (from.as_fd(), to.as_fd());
    for name in dav_names(from)? {
        let Some(value) = read_value(from, &name)? else {
            continue; // removed meanwhile
        };
        fsetxattr(to, name.as_slice(), &value, XattrFlags::empty())?;
    }
    Ok(())
}

/// The names of `fd`'s dead-property attributes.
fn dav_names(fd: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let fd = fd.as_fd();
    let list = match read_sized(|| flistxattr_query(fd), |buf| flistxattr(fd, buf)) {
        Ok(list) => list,
        // No extended attributes on this file system: there are no properties to copy.
        Err(e) if e.raw_os_error() == Some(Errno::NOTSUP.raw_os_error()) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    // The list is NUL-terminated names one after another.
    Ok(list
        .split(|&b| b == 0)
        .filter(|name| name.starts_with(DAV_PREFIX))
        .map(<[u8]>::to_vec)
        .collect())
}

/// The value of attribute `name` of `fd`, `None` when it is gone.
fn read_value(fd: impl AsFd, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let fd = fd.as_fd();
    match read_sized(|| fgetxattr_query(fd, name), |buf| fgetxattr(fd, name, buf)) {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.raw_os_error() == Some(Errno::NODATA.raw_os_error()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Asks the size, then reads into a buffer that large; again if the attribute grew in between
/// (`ERANGE`), a few times at most.
fn read_sized(
    query: impl Fn() -> Result<usize, Errno>,
    read: impl Fn(&mut [u8]) -> Result<usize, Errno>,
) -> io::Result<Vec<u8>> {
    for _ in 0..4 {
        let size = query()?.min(XATTR_MAX);
        let mut buf = vec![0u8; size];
        match read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Errno::RANGE.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};

    /// Only the dead-property prefix travels; a file system without attributes (tmpfs has
    /// `user.` attributes on recent kernels, but not everywhere) skips the test.
    #[test]
    fn copies_only_dav_attributes() {
        let dir = std::env::temp_dir().join(format!("shelf-xattr-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, b"x").unwrap();
        fs::write(&b, b"y").unwrap();
        let (fa, fb) = (File::open(&a).unwrap(), File::open(&b).unwrap());
        let set = |name: &str, value: &[u8]| fsetxattr(&fa, name, value, XattrFlags::empty());
        if set("user.shelf.dav.test", b"value").is_err() {
            eprintln!("no user xattrs here: skipped");
            let _ = fs::remove_dir_all(&dir);
            return;
        }
        set("user.other", b"no").unwrap();
        set("user.shelf.dav.empty", b"").unwrap();
        copy_dav_props(&fa, &fb).unwrap();
        let mut names = dav_names(&fb).unwrap();
        names.sort();
        assert_eq!(
            names,
            [
                b"user.shelf.dav.empty".to_vec(),
                b"user.shelf.dav.test".to_vec()
            ]
        );
        assert_eq!(
            read_value(&fb, b"user.shelf.dav.test").unwrap().unwrap(),
            b"value"
        );
        assert_eq!(read_value(&fb, b"user.other").unwrap(), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
