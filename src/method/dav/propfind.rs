//! PROPFIND (RFC 4918 §9.1): the properties of a file or folder, and with `Depth: 1` of a
//! folder's members, as a 207 multistatus.
//!
//! `Depth: 0` (or a file) is answered in one piece. `Depth: 1` on a folder streams: the folder
//! is read one entry at a time while the body is sent chunked, so a folder of 100,000 entries
//! costs the memory of one entry's `<D:response>`, never the whole list. The live properties
//! are those GET would show: the same strong ETag (`fs::etag`), the same media type
//! (`method::file`).

use std::fs::Metadata;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::dav::locks::Locks;
use crate::dav::propfind::{Depth, Find, parse_depth, parse_find};
use crate::dav::props::{self, LIVE, is_live};
use crate::dav::xml::{self, Name, Propstat};
use crate::error::{Error, Refusal};
use crate::fs::etag;
use crate::fs::listing::{Visible, VisibleEntries, visible_entries};
use crate::fs::path::resolve;
use crate::http::encode::encode_href;
use crate::http::response::{Body, Response};
use crate::method::file;
use crate::request::{Request, Target};
use crate::time::format_rfc3339;

/// `<D:supportedlock>`'s content: exclusive and shared write locks (RFC 4918 §15.10).
const SUPPORTED_LOCKS: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
    <D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/>\
    </D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// Answers PROPFIND on `target`: 207, or 400 (body, `Depth`), 403 (`Depth: infinity`, or
/// `Depth: 1` on a folder while `listing = false`), 404, 413.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let depth = parse_depth(req.head.header("depth"))?;
    if depth == Depth::Infinity {
        // RFC 4918 §9.1: a server may refuse Depth infinity, with this precondition.
        return Ok(xml::condition_response(403, "propfind-finite-depth"));
    }
    let (root, server) = (target.fs_root, &req.config.server);
    let found = resolve(root, &target.fs_path, server.hidden)?;
    // As for GET: only regular files and folders are served (a named pipe is not).
    if !found.is_dir && !found.metadata.is_file() {
        return Err(Error::NotFound);
    }
    let declared = req.body.declared_len();
    let find = parse_find(xml::read_body(&mut req.body, declared)?)?;
    let members = depth == Depth::One && found.is_dir;
    if members && !server.listing {
        return Err(Error::Forbidden(Refusal::Listing));
    }
    let mut props = Props {
        find,
        sources: Sources {
            locks: Arc::clone(req.locks),
            dead: props::Reader::new(),
        },
    };
    let mut document = String::from(xml::MULTISTATUS_START);
    let itself = Resource {
        href: &xml::href(&target.url_path, found.is_dir),
        url_path: &target.url_path,
        name: last_segment(&target.url_path),
        path: &found.path,
        meta: &found.metadata,
    };
    props.push(&mut document, &itself);
    if !members {
        document.push_str(xml::MULTISTATUS_END);
        return Ok(xml::response(207, document));
    }
    let stream = Members {
        entries: visible_entries(root, &found.path, server.hidden)?,
        base_href: itself.href.to_string(),
        base_url: with_slash(&target.url_path),
        props,
        text: document,
        sent: 0,
        done: false,
    };
    Ok(Response::new(207)
        .header("Content-Type", xml::CONTENT_TYPE)
        .body(Body::Stream(Box::new(stream))))
}

/// The last segment of a decoded URL path, for `displayname`: `b` for `/a/b/`, empty for `/`.
fn last_segment(url_path: &str) -> &str {
    let trimmed = url_path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or("")
}

/// `path` ending in `/`.
fn with_slash(path: &str) -> String {
    match path.ends_with('/') {
        true => path.to_string(),
        false => format!("{path}/"),
    }
}

/// One file or folder whose properties are written.
struct Resource<'a> {
    /// Its `<D:href>`, encoded.
    href: &'a str,
    /// Its decoded URL path, for the lock table.
    url_path: &'a str,
    /// Its name, for `displayname`.
    name: &'a str,
    /// Where it is on disk (canonical), for its dead properties and media type.
    path: &'a Path,
    /// Its metadata, symlinks followed.
    meta: &'a Metadata,
}

/// What one PROPFIND writes for each resource: the request, and what it reads with.
struct Props {
    find: Find,
    sources: Sources,
}

/// Where property values come from besides the file's metadata.
struct Sources {
    locks: Arc<Locks>,
    dead: props::Reader,
}

impl Props {
    /// Appends `res`'s `<D:response>`: a 200 propstat with what it has, a 404 one with what
    /// was asked and it has not.
    fn push(&mut self, out: &mut String, res: &Resource<'_>) {
        let (mut found, mut missing) = (String::new(), String::new());
        match &self.find {
            Find::AllProp { include } => {
                self.sources.all(&mut found, &mut missing, res, include);
            }
            Find::PropName => self.sources.names(&mut found, res),
            Find::Prop(names) => {
                for name in names {
                    self.sources.one(&mut found, &mut missing, res, name);
                }
            }
        }
        let mut propstats = Vec::with_capacity(2);
        if !found.is_empty() || missing.is_empty() {
            propstats.push(propstat(200, &found));
        }
        if !missing.is_empty() {
            propstats.push(propstat(404, &missing));
        }
        xml::push_response(out, res.href, &propstats);
    }
}

impl Sources {
    /// `allprop`: every live property that applies, every dead one, and the `include`d names
    /// (404 for those it has not).
    fn all(
        &mut self,
        found: &mut String,
        missing: &mut String,
        res: &Resource<'_>,
        include: &[Name],
    ) {
        for local in LIVE {
            push_live(found, local, res, &self.locks);
        }
        let dead = self.dead.all(res.path);
        for element in dead.iter().filter(|e| !is_live(&e.name)) {
            xml::push_element(found, element);
        }
        for name in include {
            let has = match is_live(name) {
                true => applies(&name.local, res),
                false => dead.iter().any(|e| e.name == *name),
            };
            if !has {
                xml::push_empty(missing, name);
            }
        }
    }

    /// `propname`: the names of every property it has.
    fn names(&mut self, found: &mut String, res: &Resource<'_>) {
        for local in LIVE.iter().filter(|local| applies(local, res)) {
            xml::push_empty(found, &Name::dav(local));
        }
        for element in self.dead.all(res.path) {
            if !is_live(&element.name) {
                xml::push_empty(found, &element.name);
            }
        }
    }

    /// One named property: its value, or its name among the missing.
    fn one(&mut self, found: &mut String, missing: &mut String, res: &Resource<'_>, name: &Name) {
        if is_live(name) {
            if !push_live(found, &name.local, res, &self.locks) {
                xml::push_empty(missing, name);
            }
            return;
        }
        match self.dead.get(res.path, name) {
            Some(element) => xml::push_element(found, &element),
            None => xml::push_empty(missing, name),
        }
    }
}

fn propstat(status: u16, props: &str) -> Propstat<'_> {
    Propstat {
        status,
        props,
        error: None,
        description: None,
    }
}

/// True when the live property `local` has a value for `res`: the length, media type and
/// ETag are a file's (a folder's GET is a generated listing, with neither a stable length nor
/// an ETag worth keeping); the modification time is whatever the file system gives.
fn applies(local: &str, res: &Resource<'_>) -> bool {
    match local {
        "getcontentlength" | "getcontenttype" | "getetag" => !res.meta.is_dir(),
        "getlastmodified" => res.meta.modified().is_ok(),
        _ => LIVE.contains(&local),
    }
}

/// Appends the live property `local` of `res`; false when it has none.
fn push_live(out: &mut String, local: &str, res: &Resource<'_>, locks: &Locks) -> bool {
    if !applies(local, res) {
        return false;
    }
    out.push_str("<D:");
    out.push_str(local);
    out.push('>');
    let meta = res.meta;
    match local {
        "resourcetype" if meta.is_dir() => out.push_str("<D:collection/>"),
        "resourcetype" => {}
        "creationdate" => out.push_str(&format_rfc3339(created(meta))),
        "displayname" => xml::push_text(out, res.name),
        "getcontentlength" => out.push_str(&meta.len().to_string()),
        "getcontenttype" => xml::push_text(out, &file::with_charset(&file::content_type(res.path))),
        "getetag" => xml::push_text(out, &etag::for_file(meta)),
        "getlastmodified" => out.push_str(&last_modified(meta)),
        "lockdiscovery" => out.push_str(&locks.discovery_xml(res.url_path)),
        "supportedlock" => out.push_str(SUPPORTED_LOCKS),
        _ => {}
    }
    out.push_str("</D:");
    out.push_str(local);
    out.push('>');
    true
}

/// `creationdate`: the birth time where the file system records one (`statx`'s `btime`: ext4,
/// XFS, btrfs, tmpfs), else the modification time, the oldest time the others keep (the
/// status-change time moves with every chmod or property set).
fn created(meta: &Metadata) -> SystemTime {
    meta.created()
        .or_else(|_| meta.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// `getlastmodified` as GET's `Last-Modified`: an IMF-fixdate, capped at now.
fn last_modified(meta: &Metadata) -> String {
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    httpdate::fmt_http_date(modified.min(SystemTime::now()))
}

/// The rest of a Depth 1 multistatus, made while it is sent: one member's `<D:response>` at
/// a time from the directory, then the end of the document.
struct Members {
    entries: VisibleEntries,
    /// The folder's href, ending in `/`.
    base_href: String,
    /// The folder's decoded URL path, ending in `/`.
    base_url: String,
    props: Props,
    /// Written and not yet sent from `sent` on; starts with the folder's own response.
    text: String,
    sent: usize,
    done: bool,
}

impl Read for Members {
    /// Fills `out` as far as it goes (the chunked writer sends each read as one chunk, so
    /// one small response a read would mean one small chunk a member).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < out.len() {
            if self.sent == self.text.len() {
                if self.done {
                    break;
                }
                self.refill()?;
                continue;
            }
            let pending = &self.text.as_bytes()[self.sent..];
            let n = pending.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&pending[..n]);
            (filled, self.sent) = (filled + n, self.sent + n);
        }
        Ok(filled)
    }
}

impl Members {
    /// Replaces the sent text with the next member's response, or the document's end.
    fn refill(&mut self) -> io::Result<()> {
        self.text.clear();
        self.sent = 0;
        match self.entries.next() {
            Some(entry) => self.push_member(&entry?),
            None => {
                self.text.push_str(xml::MULTISTATUS_END);
                self.done = true;
            }
        }
        Ok(())
    }

    fn push_member(&mut self, entry: &Visible) {
        let is_dir = entry.meta.is_dir();
        if !is_dir && !entry.meta.is_file() {
            return; // as GET: a named pipe or socket is not served
        }
        let slash = if is_dir { "/" } else { "" };
        let href = format!("{}{}{slash}", self.base_href, encode_href(&entry.name));
        let url_path = format!("{}{}{slash}", self.base_url, entry.name);
        let member = Resource {
            href: &href,
            url_path: &url_path,
            name: &entry.name,
            path: &entry.path,
            meta: &entry.meta,
        };
        self.props.push(&mut self.text, &member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        let rows = [("/", ""), ("/a", "a"), ("/a/b/", "b"), ("/a b/é", "é")];
        for (path, want) in rows {
            assert_eq!(last_segment(path), want, "{path}");
        }
    }
}
