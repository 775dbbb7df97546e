//! GET and HEAD: resolve the path, then a file, an index file, a listing, or a redirect.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::path::Path;

use crate::allow;
use crate::conditional::{self, Outcome, Validators};
use crate::config::Config;
use crate::error::{Error, Refusal};
use crate::fs::etag;
use crate::fs::listing;
use crate::fs::path::{Resolved, resolve};
use crate::http::Method;
use crate::http::accept;
use crate::http::response::{Body, Response};
use crate::request::{Request, Target};

use super::file;

/// Serves the file, index file or listing at `target` (inside `target.fs_root`).
#[inline(never)] // see method/mod.rs
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let server = &req.config.server;
    let (root, hidden) = (target.fs_root, server.hidden);
    let found = resolve(root, &target.fs_path, hidden)?;
    if !found.is_dir {
        return serve_fresh(req, (root, hidden), &target.fs_path, found);
    }
    // The URL decides: `/docs` maps to a `dir` route's folder as `/`, and still needs the slash.
    if !target.url_path.ends_with('/') {
        return Ok(redirect_to_folder(target));
    }
    for name in &server.index {
        let candidate = format!("{}{}", target.fs_path, name);
        if let Ok(index) = resolve(root, &candidate, hidden)
            && !index.is_dir
        {
            return serve_fresh(req, (root, hidden), &candidate, index);
        }
    }
    if !server.listing {
        return Err(Error::Forbidden(Refusal::Listing));
    }
    serve_listing(req, target, &found)
}

/// Serves the one file of a `file` route. The operator named it, so the `hidden` policy does
/// not apply; its folder stands as the root (for the precompressed sibling and the lookup
/// again after a replace).
pub fn serve_named(req: &Request<'_>, path: &Path) -> Result<Response, Error> {
    let (Some(root), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return Err(Error::NotFound);
    };
    let norm = format!("/{name}");
    let found = resolve(root, &norm, true)?;
    serve_fresh(req, (root, true), &norm, found)
}

/// How many times a file replaced under a read is looked up again.
const RETRIES: usize = 3;

/// Serves the file `found` at `norm` under `root` (dot-names visible when `hidden`). When a write renames a new file over it between the
/// lookup and the open, `file::serve` refuses to send bytes that do not match the ETag it
/// chose (`Interrupted`); the path is then looked up again, so the reader gets the new file
/// rather than an error.
fn serve_fresh(
    req: &Request<'_>,
    (root, hidden): (&Path, bool),
    norm: &str,
    found: Resolved,
) -> Result<Response, Error> {
    let mut found = found;
    for _ in 0..RETRIES {
        match file::serve(req, root, &found.path, &found.metadata) {
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {
                found = resolve(root, norm, hidden)?;
            }
            other => return other,
        }
    }
    file::serve(req, root, &found.path, &found.metadata)
}

/// 301 to the folder's URL with a trailing slash, query kept.
fn redirect_to_folder(target: &Target<'_>) -> Response {
    let location = target.with_query(&format!("{}/", target.raw_path));
    Response::text(301).header("Location", location)
}

/// A folder without an index: JSON when the client prefers it, else HTML.
fn serve_listing(
    req: &Request<'_>,
    target: &Target<'_>,
    dir: &Resolved,
) -> Result<Response, Error> {
    let hidden = req.config.server.hidden;
    let mut entries = listing::read_entries_within(target.fs_root, &dir.path, hidden)?;
    let (key, order) = listing::parse_sort(target.query);
    listing::sort_entries(&mut entries, key, order);
    let accept_header = req.head.header("accept");
    let (body, mime) = if accept::prefers(accept_header, "application/json", "text/html") {
        (listing::render_json(&entries), "application/json")
    } else {
        let html = listing_html(req, target, &entries, key, order);
        (html, "text/html; charset=utf-8")
    };
    let tag = etag::for_bytes(body.as_bytes());
    let response = Response::new(200)
        .header("Content-Type", mime)
        .header("Cache-Control", "no-cache")
        .header("Vary", "Accept")
        .header("ETag", tag.clone());
    let validators = Validators {
        etag: Some(&tag),
        last_modified: None,
    };
    match conditional::evaluate(req.head, &validators) {
        Outcome::Proceed => Ok(response.body(Body::Bytes(Cow::Owned(body.into_bytes())))),
        Outcome::NotModified => Ok(file::not_modified(response)),
        Outcome::Failed => Err(Error::PreconditionFailed),
    }
}

/// The HTML listing, with the upload form and delete buttons the ACL would let this client use
/// (judged by address, as `Allow` is: a user is asked for credentials when submitting).
fn listing_html(
    req: &Request<'_>,
    target: &Target<'_>,
    entries: &[listing::Entry],
    key: listing::SortKey,
    order: listing::Order,
) -> String {
    let (config, client) = (req.config, req.client);
    let deletable = |entry: &listing::Entry| {
        let slash = if entry.is_dir { "/" } else { "" };
        let path = format!("{}{}{slash}", target.url_path, entry.name);
        allow::permits(config, &path, &Method::Delete, client)
    };
    let controls = listing::Controls {
        upload: allow::permits(config, &target.url_path, &Method::Post, client),
        delete: &deletable,
    };
    listing::render_html(&target.url_path, entries, key, order, &controls)
}

/// The configured `not_found` page as a 404 response; `None` when there is none (or it cannot
/// be read), and the built-in 404 applies.
pub fn not_found_page(config: &Config) -> Option<Response> {
    let server = &config.server;
    let rel = server.not_found.as_ref()?;
    let found = resolve(&server.root, &format!("/{rel}"), true).ok()?;
    let file = File::open(&found.path).ok()?;
    let len = file.metadata().ok()?.len();
    let mime = file::with_charset(&file::content_type(&found.path));
    Some(
        Response::new(404)
            .header("Content-Type", mime)
            .body(Body::File { file, len }),
    )
}
