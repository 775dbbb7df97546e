//! GET and HEAD: resolve the path, then a file, an index file, a listing, or a redirect.

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::path::Path;
use std::time::SystemTime;

use crate::conditional::{self, Outcome, Validators};
use crate::config::Config;
use crate::dispatch::{Request, Target};
use crate::error::Error;
use crate::fs::etag;
use crate::fs::listing;
use crate::fs::path::{ResolveError, Resolved, resolve};
use crate::http::accept;
use crate::http::response::{Body, Response};

/// Headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5).
const KEPT_ON_304: [&str; 4] = ["ETag", "Vary", "Cache-Control", "Last-Modified"];

/// Serves the file, index file or listing at `target`.
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let server = &req.config.server;
    let found = resolve(&server.root, &target.path, server.hidden).map_err(resolve_error)?;
    if !found.is_dir {
        return serve_file(req, &found.path, found.metadata);
    }
    if !target.path.ends_with('/') {
        return Ok(redirect_to_folder(target));
    }
    for name in &server.index {
        let candidate = format!("{}{}", target.path, name);
        if let Ok(index) = resolve(&server.root, &candidate, server.hidden)
            && !index.is_dir
        {
            return serve_file(req, &index.path, index.metadata);
        }
    }
    if !server.listing {
        return Err(Error::Forbidden);
    }
    serve_listing(req, target, &found)
}

fn resolve_error(e: ResolveError) -> Error {
    match e {
        ResolveError::NotFound => Error::NotFound,
        ResolveError::Io(e) => Error::Io(e),
    }
}

/// 301 to the folder's URL with a trailing slash, query kept.
fn redirect_to_folder(target: &Target<'_>) -> Response {
    let mut location = format!("{}/", target.raw_path);
    if let Some(query) = target.query {
        location.push('?');
        location.push_str(query);
    }
    Response::text(301).header("Location", location)
}

/// A file: validators, preconditions, then the body streamed from disk.
fn serve_file(req: &Request<'_>, path: &Path, meta: Metadata) -> Result<Response, Error> {
    // Only regular files: opening a named pipe would block this thread until a writer came.
    if !meta.is_file() {
        return Err(Error::NotFound);
    }
    let file = File::open(path)?;
    // Validators come from the open file, so they describe exactly the bytes we send.
    let meta = file.metadata().unwrap_or(meta);
    let tag = etag::for_file(&meta);
    // RFC 9110 §8.8.2.1: a Last-Modified "later than the server's time of message
    // origination" MUST be replaced by that time; the conditionals then use the same date.
    let modified = meta.modified().ok().map(|m| m.min(SystemTime::now()));
    let response = file_headers(req.config, path, &tag, modified);
    let validators = Validators {
        etag: Some(&tag),
        last_modified: modified,
    };
    match conditional::evaluate(req.head, &validators) {
        Outcome::Proceed => Ok(response.body(Body::File {
            file,
            len: meta.len(),
        })),
        Outcome::NotModified => Ok(not_modified(response)),
        Outcome::Failed => Err(Error::PreconditionFailed),
    }
}

/// The headers of a 200 for a file (SPEC §3).
fn file_headers(
    config: &Config,
    path: &Path,
    tag: &str,
    modified: Option<std::time::SystemTime>,
) -> Response {
    let mime = content_type(path);
    let mut response = Response::new(200);
    if is_compressible(config, &mime) {
        response = response.header("Vary", "Accept-Encoding");
    }
    response = response
        .header("Content-Type", with_charset(mime))
        .header("ETag", tag.to_string())
        .header("Accept-Ranges", "bytes");
    if let Some(modified) = modified {
        response = response.header("Last-Modified", httpdate::fmt_http_date(modified));
    }
    if let Some(cc) = &config.server.cache_control {
        response = response.header("Cache-Control", cc.clone());
    }
    response
}

/// A 304 made from the 200's headers: only those RFC 9110 §15.4.5 keeps.
fn not_modified(full: Response) -> Response {
    let mut response = Response::new(304);
    response.headers = full
        .headers
        .into_iter()
        .filter(|(name, _)| KEPT_ON_304.iter().any(|k| k.eq_ignore_ascii_case(name)))
        .collect();
    response
}

fn content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// Text types say their charset; shelf assumes the files it serves are UTF-8.
fn with_charset(mime: String) -> String {
    let textual = mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        );
    if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    }
}

/// True when `[compression]` would encode this type.
fn is_compressible(config: &Config, mime: &str) -> bool {
    let c = &config.compression;
    c.enabled
        && c.types.iter().any(|t| match t.strip_suffix("/*") {
            Some(prefix) => mime.split('/').next() == Some(prefix),
            None => t == mime,
        })
}

/// A folder without an index: JSON when the client prefers it, else HTML.
fn serve_listing(
    req: &Request<'_>,
    target: &Target<'_>,
    dir: &Resolved,
) -> Result<Response, Error> {
    let server = &req.config.server;
    let mut entries = listing::read_entries_within(&server.root, &dir.path, server.hidden)?;
    let (key, order) = listing::parse_sort(target.query);
    listing::sort_entries(&mut entries, key, order);
    let accept_header = req.head.header("accept");
    let (body, mime) = if accept::prefers(accept_header, "application/json", "text/html") {
        (listing::render_json(&entries), "application/json")
    } else {
        let html = listing::render_html(&target.path, &entries, key, order);
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
        Outcome::NotModified => Ok(not_modified(response)),
        Outcome::Failed => Err(Error::PreconditionFailed),
    }
}

/// The 404 response: the configured `not_found` page, or the built-in text.
pub fn not_found(config: &Config) -> Result<Response, Error> {
    let server = &config.server;
    let page = server.not_found.as_ref().and_then(|rel| {
        let found = resolve(&server.root, &format!("/{rel}"), true).ok()?;
        let file = File::open(&found.path).ok()?;
        let len = file.metadata().ok()?.len();
        let mime = with_charset(content_type(&found.path));
        Some(
            Response::new(404)
                .header("Content-Type", mime)
                .body(Body::File { file, len }),
        )
    });
    Ok(page.unwrap_or_else(|| Response::text(404)))
}
