//! PROPPATCH (RFC 4918 §9.2): set and remove dead properties of a file or folder, all or
//! nothing, answered with a 207 that gives each property its status.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::dav::proppatch::parse_update;
use crate::dav::props::{self, PropStatus};
use crate::dav::xml::{self, Name, Propstat};
use crate::error::Error;
use crate::fs::path::resolve;
use crate::fs::write;
use crate::http::response::Response;
use crate::method::precondition;
use crate::request::{Request, Target};

/// Answers PROPPATCH on `target`: 207, or 400 (body), 404 (nothing there), 412, 413.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let (root, hidden) = (target.fs_root, req.config.server.hidden);
    let found = resolve(root, &target.fs_path, hidden)?;
    if !found.is_dir && !found.metadata.is_file() {
        return Err(Error::NotFound);
    }
    // The body is read before the lock is taken: a slow client never holds it.
    let declared = req.body.declared_len();
    let instructions = parse_update(xml::read_body(&mut req.body, declared)?)?;
    let _lock = write::lock(&found.path);
    let file = open(&found.path)?;
    precondition::check(req.head, Some(&file.metadata()?))?;
    let results = props::patch(file.as_fd(), &instructions);
    // The attributes moved the ctime, and with it the ETag: nothing cached stays valid.
    req.cache.invalidate(&found.path);
    let mut document = String::from(xml::MULTISTATUS_START);
    let groups = by_status(&results);
    let propstats: Vec<Propstat<'_>> = groups
        .iter()
        .map(|(status, props)| Propstat {
            status: status.code(),
            props,
            error: status.condition(),
            description: status.description(),
        })
        .collect();
    let href = xml::href(&target.url_path, found.is_dir);
    xml::push_response(&mut document, &href, &propstats);
    document.push_str(xml::MULTISTATUS_END);
    Ok(xml::response(207, document))
}

/// Opens the file or folder whose attributes change. Not through a symlink (the path is
/// canonical: one now would have been swapped in since), and without blocking should a named
/// pipe have been swapped in instead.
fn open(path: &Path) -> Result<File, Error> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(std::io::Error::from)?;
    Ok(File::from(fd))
}

/// Each property once, with its status (a name changed twice takes the status of its
/// failure if it had one), grouped by status in order of first appearance, the property
/// elements written.
fn by_status(results: &[(Name, PropStatus)]) -> Vec<(PropStatus, String)> {
    let mut names: Vec<(&Name, PropStatus)> = Vec::new();
    for (name, status) in results {
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, kept)) if *kept == PropStatus::Done || *kept == PropStatus::Dependency => {
                *kept = *status;
            }
            Some(_) => {}
            None => names.push((name, *status)),
        }
    }
    let mut groups: Vec<(PropStatus, String)> = Vec::new();
    for (name, status) in names {
        let index = match groups.iter().position(|(s, _)| *s == status) {
            Some(index) => index,
            None => {
                groups.push((status, String::new()));
                groups.len() - 1
            }
        };
        xml::push_empty(&mut groups[index].1, name);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_status_a_name() {
        use PropStatus::*;
        let n = |l: &str| Name::new("urn:x", l);
        let results = [
            (n("a"), Dependency),
            (n("b"), TooLarge),
            (n("a"), Protected),
            (n("c"), Dependency),
            (n("b"), Dependency),
        ];
        let groups = by_status(&results);
        let want = [
            (Protected, "<a xmlns=\"urn:x\"/>".to_string()),
            (TooLarge, "<b xmlns=\"urn:x\"/>".to_string()),
            (Dependency, "<c xmlns=\"urn:x\"/>".to_string()),
        ];
        assert_eq!(groups, want);
    }
}
