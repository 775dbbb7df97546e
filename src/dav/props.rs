//! Properties (RFC 4918 §4): which are live (computed by shelf, protected), and the dead ones,
//! stored as extended attributes of their file or folder so that they stay attached to it:
//! a `rename` (MOVE) keeps them, a restart keeps them, deleting the file drops them.
//!
//! One attribute a property, named `user.shelf.dav.{namespace}localname` ([`attr_name`]);
//! a name too long for the 255-byte limit on attribute names is hashed instead
//! (`user.shelf.dav.#<sha-256>`). The value is the whole property element, written by
//! [`xml::push_element`] as a self-contained fragment, so it carries its full name and the
//! namespaces its content needs. A value is parsed again before it is sent, and one that does
//! not parse, or whose name does not match its attribute's, is skipped: what is pasted into a
//! multistatus is always well-formed.
//!
//! Caps: a value (the element as stored) of at most [`MAX_VALUE`] bytes, at most
//! [`MAX_PROPS`] dead properties a resource. A file system without user extended attributes
//! (tmpfs before Linux 6.6, some NFS mounts) stores none: such a set is answered 507 for that
//! property.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::XattrFlags;
use rustix::io::Errno;

use super::proppatch::Instruction;
use super::xml::{self, Element, Name};
use crate::http::encode::hex;

/// Every dead property's attribute name starts with this (the `user.` namespace, which any
/// file owner may write).
pub const ATTR_PREFIX: &str = "user.shelf.dav.";

/// The largest value stored: the property element as written, in bytes (Linux caps an
/// attribute value at 64 KiB too; ext4 without `ea_inode` at about a block, 4 KiB, for all
/// of a file's attributes together: past that the set is answered 507).
pub const MAX_VALUE: usize = 64 * 1024;

/// The most dead properties one file or folder holds.
pub const MAX_PROPS: usize = 100;

/// Linux's limit on an attribute's name, `user.` included (`XATTR_NAME_MAX`).
const ATTR_NAME_MAX: usize = 255;

/// The live properties, all in `DAV:`: computed from the file, never stored, never set.
pub const LIVE: [&str; 9] = [
    "resourcetype",
    "creationdate",
    "displayname",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "lockdiscovery",
    "supportedlock",
];

/// True for a live property.
pub fn is_live(name: &Name) -> bool {
    name.ns == xml::DAV && LIVE.contains(&name.local.as_str())
}

/// The extended attribute that stores `name`: `user.shelf.dav.{ns}local`, or, when that is
/// over 255 bytes, `user.shelf.dav.#` and the SHA-256 of `{ns}local` in hexadecimal.
pub fn attr_name(name: &Name) -> String {
    let clark = name.clark();
    if ATTR_PREFIX.len() + clark.len() <= ATTR_NAME_MAX {
        return format!("{ATTR_PREFIX}{clark}");
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, clark.as_bytes());
    format!("{ATTR_PREFIX}#{}", hex(digest.as_ref()))
}

/// Reads dead properties, with one buffer for every read (64 KiB: as large as any attribute
/// value or attribute list Linux allows).
pub struct Reader {
    buf: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

impl Reader {
    /// A reader; its buffer is allocated at the first read.
    pub fn new() -> Reader {
        Reader { buf: Vec::new() }
    }

    fn buf(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = vec![0; 64 * 1024];
        }
        &mut self.buf
    }

    /// Every dead property of `path` (symlinks followed), in attribute order. None where the
    /// file system has no extended attributes.
    pub fn all(&mut self, path: &Path) -> Vec<Element> {
        let attrs = self.attrs(path);
        attrs
            .iter()
            .filter_map(|attr| self.value(path, attr))
            .collect()
    }

    /// The dead property `name` of `path`, if it has one.
    pub fn get(&mut self, path: &Path, name: &Name) -> Option<Element> {
        self.value(path, &attr_name(name))
    }

    /// The names of `path`'s attributes that hold dead properties.
    fn attrs(&mut self, path: &Path) -> Vec<String> {
        let buf = self.buf();
        match rustix::fs::listxattr(path, &mut *buf) {
            Ok(len) => ours(&buf[..len]).collect(),
            Err(e) => {
                if e != Errno::OPNOTSUPP && e != Errno::NOENT {
                    log::debug!("listxattr {}: {e}", path.display());
                }
                Vec::new()
            }
        }
    }

    /// The property stored in `attr`, if it parses and is the one the attribute's name says.
    fn value(&mut self, path: &Path, attr: &str) -> Option<Element> {
        let buf = self.buf();
        let len = match rustix::fs::getxattr(path, attr, &mut *buf) {
            Ok(len) => len,
            Err(Errno::NODATA | Errno::OPNOTSUPP | Errno::NOENT) => return None,
            Err(e) => {
                log::debug!("getxattr {} {attr:?}: {e}", path.display());
                return None;
            }
        };
        let stored = xml::parse(&buf[..len]).ok();
        let valid = stored.filter(|element| attr_name(&element.name) == attr);
        if valid.is_none() {
            log::warn!(
                "{}: skipped attribute {attr:?}: not a property",
                path.display()
            );
        }
        valid
    }
}

/// The attribute names in a `listxattr` list (NUL-terminated names) that are ours.
fn ours(list: &[u8]) -> impl Iterator<Item = String> + '_ {
    list.split(|&b| b == 0)
        .filter_map(|name| std::str::from_utf8(name).ok())
        .filter(|name| name.starts_with(ATTR_PREFIX))
        .map(str::to_string)
}

/// What became of one PROPPATCH instruction (RFC 4918 §9.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropStatus {
    /// Set or removed (200).
    Done,
    /// A live property (403, `cannot-modify-protected-property`).
    Protected,
    /// The value is over [`MAX_VALUE`] (507).
    TooLarge,
    /// The resource would hold more than [`MAX_PROPS`] dead properties (507).
    TooMany,
    /// The file system stores no extended attributes here (507).
    Unsupported,
    /// The file system has no room left for it (507).
    NoSpace,
    /// The file system refused (403).
    Denied,
    /// Another failure of the file system (500).
    Failed,
    /// Not applied because another instruction failed: all or nothing (424).
    Dependency,
}

impl PropStatus {
    /// The status code of its propstat.
    pub fn code(self) -> u16 {
        match self {
            PropStatus::Done => 200,
            PropStatus::Protected | PropStatus::Denied => 403,
            PropStatus::TooLarge
            | PropStatus::TooMany
            | PropStatus::Unsupported
            | PropStatus::NoSpace => 507,
            PropStatus::Failed => 500,
            PropStatus::Dependency => 424,
        }
    }

    /// The precondition it failed, for `<D:error>`.
    pub fn condition(self) -> Option<&'static str> {
        match self {
            PropStatus::Protected => Some("cannot-modify-protected-property"),
            _ => None,
        }
    }

    /// Why, for `<D:responsedescription>`.
    pub fn description(self) -> Option<&'static str> {
        Some(match self {
            PropStatus::Done => return None,
            PropStatus::Protected => "a live property: shelf computes it",
            PropStatus::TooLarge => "the property is over 64 KiB",
            PropStatus::TooMany => "a resource holds at most 100 dead properties",
            PropStatus::Unsupported => "the file system stores no extended attributes here",
            PropStatus::NoSpace => "the file system has no room for this property",
            PropStatus::Denied => "the file system refused",
            PropStatus::Failed => "the server's log has the details",
            PropStatus::Dependency => "another change in this request failed",
        })
    }
}

/// The attribute changes a PROPPATCH makes, in the order first touched; `None` removes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    order: Vec<String>,
    desired: HashMap<String, Option<String>>,
}

impl Plan {
    fn put(&mut self, attr: String, value: Option<String>) {
        if !self.desired.contains_key(&attr) {
            self.order.push(attr.clone());
        }
        self.desired.insert(attr, value);
    }
}

/// Applies `instructions` to the file or folder open as `fd`, all or nothing (RFC 4918
/// §9.2: "Instructions MUST either all be executed or none executed"), in document order, so
/// a later instruction on a name wins. The caller holds the path's write lock. Returns each
/// instruction's name and what became of it.
///
/// Checked first, nothing written: protected names, sizes, the count. Then each attribute
/// is written, its old value kept; should the file system refuse one, those already written
/// are put back as they were (best effort: a second failure while putting back is logged).
pub fn patch(fd: BorrowedFd<'_>, instructions: &[Instruction]) -> Vec<(Name, PropStatus)> {
    let present = match list_fd(fd) {
        Ok(present) => Some(present),
        Err(Errno::OPNOTSUPP) => None,
        Err(e) => {
            log::warn!("flistxattr: {e}");
            return fail(instructions, PropStatus::Failed, |_| true);
        }
    };
    let (plan, statuses) = plan(present.as_ref(), instructions);
    if statuses.iter().any(|s| *s != PropStatus::Done) {
        return with_dependencies(instructions, statuses);
    }
    match commit(fd, &plan) {
        Ok(()) => with_dependencies(instructions, statuses),
        Err((attr, e)) => {
            log::warn!("PROPPATCH: attribute {attr:?}: {e}");
            fail(instructions, from_errno(e), |i| attr_name(i.name()) == attr)
        }
    }
}

/// Checks every instruction in order against the attributes `present` (`None`: the file
/// system has none) and the caps; the plan holds what the passing ones would write.
fn plan(
    present: Option<&BTreeSet<String>>,
    instructions: &[Instruction],
) -> (Plan, Vec<PropStatus>) {
    let mut plan = Plan::default();
    let mut count = present.map_or(0, BTreeSet::len);
    let mut statuses = Vec::with_capacity(instructions.len());
    for instruction in instructions {
        let name = instruction.name();
        let attr = attr_name(name);
        let exists = match plan.desired.get(&attr) {
            Some(value) => value.is_some(),
            None => present.is_some_and(|p| p.contains(&attr)),
        };
        let status = match instruction {
            _ if is_live(name) => PropStatus::Protected,
            Instruction::Remove(_) => {
                count -= usize::from(exists);
                plan.put(attr, None);
                PropStatus::Done
            }
            Instruction::Set(element) => {
                let mut value = String::new();
                xml::push_element(&mut value, element);
                if value.len() > MAX_VALUE {
                    PropStatus::TooLarge
                } else if present.is_none() {
                    PropStatus::Unsupported
                } else if !exists && count >= MAX_PROPS {
                    PropStatus::TooMany
                } else {
                    count += usize::from(!exists);
                    plan.put(attr, Some(value));
                    PropStatus::Done
                }
            }
        };
        statuses.push(status);
    }
    (plan, statuses)
}

/// Each instruction's name with its status; when any failed, the ones that did not are 424.
fn with_dependencies(
    instructions: &[Instruction],
    statuses: Vec<PropStatus>,
) -> Vec<(Name, PropStatus)> {
    let failed = statuses.iter().any(|s| *s != PropStatus::Done);
    instructions
        .iter()
        .zip(statuses)
        .map(|(i, s)| {
            let s = match (failed, s) {
                (true, PropStatus::Done) => PropStatus::Dependency,
                (_, s) => s,
            };
            (i.name().clone(), s)
        })
        .collect()
}

/// The instructions `culprit` picks failed with `status`; the rest are 424.
fn fail(
    instructions: &[Instruction],
    status: PropStatus,
    culprit: impl Fn(&Instruction) -> bool,
) -> Vec<(Name, PropStatus)> {
    let statuses = instructions
        .iter()
        .map(|i| match culprit(i) {
            true => status,
            false => PropStatus::Done,
        })
        .collect();
    with_dependencies(instructions, statuses)
}

/// The status of a property the file system refused to store.
fn from_errno(e: Errno) -> PropStatus {
    match e {
        Errno::OPNOTSUPP => PropStatus::Unsupported,
        Errno::NOSPC | Errno::TOOBIG | Errno::DQUOT => PropStatus::NoSpace,
        Errno::ACCESS | Errno::PERM | Errno::ROFS => PropStatus::Denied,
        _ => PropStatus::Failed,
    }
}

/// The names of our attributes on `fd`.
fn list_fd(fd: BorrowedFd<'_>) -> Result<BTreeSet<String>, Errno> {
    let mut buf = vec![0u8; 64 * 1024];
    let len = rustix::fs::flistxattr(fd, &mut buf[..])?;
    Ok(ours(&buf[..len]).collect())
}

/// The value of `attr` on `fd`; `None` when it has none.
fn value_fd(fd: BorrowedFd<'_>, attr: &str, buf: &mut [u8]) -> Result<Option<Vec<u8>>, Errno> {
    match rustix::fs::fgetxattr(fd, attr, &mut *buf) {
        Ok(len) => Ok(Some(buf[..len].to_vec())),
        // Without extended attributes here there is no old value; the write then says so.
        Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `value` to `attr`, or removes it (`None`; already gone, or never possible on a file
/// system without extended attributes, is fine).
fn write_fd(fd: BorrowedFd<'_>, attr: &str, value: Option<&[u8]>) -> Result<(), Errno> {
    match value {
        Some(value) => rustix::fs::fsetxattr(fd, attr, value, XattrFlags::empty()),
        None => match rustix::fs::fremovexattr(fd, attr) {
            Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(()),
            other => other,
        },
    }
}

/// Writes the plan; on a failure puts back what it had written and names the attribute.
fn commit(fd: BorrowedFd<'_>, plan: &Plan) -> Result<(), (String, Errno)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut written: Vec<(&str, Option<Vec<u8>>)> = Vec::new();
    for attr in &plan.order {
        let desired = plan.desired.get(attr).and_then(|v| v.as_deref());
        let step = value_fd(fd, attr, &mut buf)
            .and_then(|old| write_fd(fd, attr, desired.map(str::as_bytes)).map(|()| old));
        match step {
            Ok(old) => written.push((attr, old)),
            Err(e) => {
                put_back(fd, written);
                return Err((attr.clone(), e));
            }
        }
    }
    Ok(())
}

/// Restores attributes to their old values, last written first.
fn put_back(fd: BorrowedFd<'_>, written: Vec<(&str, Option<Vec<u8>>)>) {
    for (attr, old) in written.into_iter().rev() {
        if let Err(e) = write_fd(fd, attr, old.as_deref()) {
            log::error!("PROPPATCH: could not put attribute {attr:?} back: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn set(ns: &str, local: &str, text: &str) -> Instruction {
        let mut element = Element::empty(Name::new(ns, local));
        element.children.push(xml::Node::Text(text.to_string()));
        Instruction::Set(element)
    }

    fn remove(ns: &str, local: &str) -> Instruction {
        Instruction::Remove(Name::new(ns, local))
    }

    fn statuses(results: &[(Name, PropStatus)]) -> Vec<PropStatus> {
        results.iter().map(|(_, s)| *s).collect()
    }

    #[test]
    fn attribute_names() {
        let short = Name::new("urn:x", "y");
        assert_eq!(attr_name(&short), "user.shelf.dav.{urn:x}y");
        // Exactly at the limit stays readable; one byte more is hashed.
        let fits = ATTR_NAME_MAX - ATTR_PREFIX.len() - "{}y".len();
        let at_limit = Name::new(&"n".repeat(fits), "y");
        assert_eq!(attr_name(&at_limit).len(), ATTR_NAME_MAX);
        let over = Name::new(&"n".repeat(fits + 1), "y");
        let hashed = attr_name(&over);
        assert!(hashed.starts_with("user.shelf.dav.#") && hashed.len() == 16 + 64);
        assert_ne!(hashed, attr_name(&Name::new(&"n".repeat(fits + 2), "y")));
    }

    /// All or nothing, decided before anything is written: hostile rows first.
    #[test]
    fn plan_rows() {
        let big = "x".repeat(MAX_VALUE);
        let full: BTreeSet<String> = (0..MAX_PROPS)
            .map(|i| attr_name(&Name::new("urn:x", &format!("p{i}"))))
            .collect();
        let empty = BTreeSet::new();
        use PropStatus::*;
        type Row<'a> = (
            &'a str,
            Option<&'a BTreeSet<String>>,
            Vec<Instruction>,
            Vec<PropStatus>,
        );
        let rows: Vec<Row<'_>> = vec![
            (
                "a live property among others",
                Some(&empty),
                vec![set("urn:x", "a", "1"), set(xml::DAV, "getetag", "\"x\"")],
                vec![Dependency, Protected],
            ),
            (
                "removing a live property",
                Some(&empty),
                vec![remove(xml::DAV, "resourcetype")],
                vec![Protected],
            ),
            (
                "a value over the cap",
                Some(&empty),
                vec![set("urn:x", "a", &big), set("urn:x", "b", "1")],
                vec![TooLarge, Dependency],
            ),
            (
                "one property too many",
                Some(&full),
                vec![set("urn:x", "p0", "replaced"), set("urn:x", "new", "1")],
                vec![Dependency, TooMany],
            ),
            (
                "a file system without attributes",
                None,
                vec![remove("urn:x", "a"), set("urn:x", "b", "1")],
                vec![Dependency, Unsupported],
            ),
            (
                "room made by a remove first",
                Some(&full),
                vec![remove("urn:x", "p1"), set("urn:x", "new", "1")],
                vec![Done, Done],
            ),
            (
                "a dead property in DAV: is not live",
                Some(&empty),
                vec![set(xml::DAV, "author", "me")],
                vec![Done],
            ),
        ];
        for (what, present, instructions, want) in rows {
            let (_, got) = plan(present, &instructions);
            let got = with_dependencies(&instructions, got);
            assert_eq!(statuses(&got), want, "{what}");
        }
    }

    #[test]
    fn plan_follows_document_order() {
        let empty = BTreeSet::new();
        let instructions = [
            remove("urn:x", "a"),
            set("urn:x", "a", "x"),
            set("urn:x", "a", "y"),
            set("urn:x", "b", "x"),
            remove("urn:x", "b"),
        ];
        let (plan, _) = plan(Some(&empty), &instructions);
        let a = attr_name(&Name::new("urn:x", "a"));
        let b = attr_name(&Name::new("urn:x", "b"));
        assert_eq!(plan.order, [a.clone(), b.clone()]);
        assert_eq!(
            plan.desired[&a].as_deref(),
            Some("<a xmlns=\"urn:x\">y</a>")
        );
        assert_eq!(plan.desired[&b], None);
    }

    /// On a real file (when this file system stores user attributes): set, read back, remove;
    /// an attribute that is not a property is skipped.
    #[test]
    fn store_round_trip() {
        let path = std::env::temp_dir().join(format!("shelf-props-{}", std::process::id()));
        std::fs::write(&path, b"x").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let results = patch(file.as_fd(), &[set("urn:x", "a", "1 < 2")]);
        if results[0].1 == PropStatus::Unsupported {
            eprintln!(
                "SKIPPED: {} stores no user extended attributes",
                path.display()
            );
            return;
        }
        assert_eq!(statuses(&results), [PropStatus::Done]);
        rustix::fs::setxattr(
            &path,
            "user.shelf.dav.{urn:x}b",
            b"<c/>",
            XattrFlags::empty(),
        )
        .unwrap();
        let mut reader = Reader::new();
        let all = reader.all(&path);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, Name::new("urn:x", "a"));
        assert_eq!(all[0].text(), "1 < 2");
        let gone = patch(file.as_fd(), &[remove("urn:x", "a"), remove("urn:x", "zz")]);
        assert_eq!(statuses(&gone), [PropStatus::Done, PropStatus::Done]);
        assert_eq!(reader.get(&path, &Name::new("urn:x", "a")), None);
        std::fs::remove_file(&path).unwrap();
    }
}
