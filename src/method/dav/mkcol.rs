//! MKCOL (RFC 4918 §9.3): a new, empty folder at an unmapped URL.

use std::fs;
use std::io::{self, Read};

use crate::allow;
use crate::error::{Error, NotAllowed};
use crate::fs::write::{self, Parents};
use crate::http::Method;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Creates the folder `target` names: 201, or 405 (something is there), 409 (no parent
/// folder), 415 (a body), 404 (a hidden or temporary name, as PUT answers).
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    refuse_body(req)?;
    let (root, hidden) = (target.fs_root, req.config.server.hidden);
    // `/coll/` and `/coll` name the same folder; the root itself always exists.
    let norm = target.fs_path.trim_end_matches('/');
    if norm.is_empty() {
        return Err(mapped(req, target));
    }
    let dest = write::locate_with(root, norm, hidden, Parents::Conflict)?;
    // RFC 4918 §9.3.1: "405 (Method Not Allowed) - MKCOL can only be executed on an unmapped
    // URL." One `mkdir`, which fails if anything (a link too) holds the name: no race.
    match fs::create_dir(&dest.path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(mapped(req, target)),
        Err(e) => return Err(e.into()),
    }
    write::sync_dir(&dest.dir);
    req.cache.invalidate_dir(&dest.path);
    let mut location = target.raw_path.to_string();
    if !location.ends_with('/') {
        location.push('/');
    }
    Ok(Response::text(201).header("Location", location))
}

/// RFC 4918 §9.3: "If the server receives a MKCOL request entity type it does not support or
/// understand, it MUST respond with a 415". shelf understands none: any body is 415. A chunked
/// body is read one byte into to tell an empty one from the rest.
fn refuse_body(req: &mut Request<'_>) -> Result<(), Error> {
    let has_body = match req.body.declared_len() {
        Some(len) => len > 0,
        None => req.body.read(&mut [0u8; 1])? > 0,
    };
    match has_body {
        true => Err(Error::UnsupportedMediaType),
        false => Ok(()),
    }
}

/// The 405 for a name already taken, with the methods the client may use there instead.
fn mapped(req: &Request<'_>, target: &Target<'_>) -> Error {
    let mut methods = allow::permitted(req.config, target, req.client);
    methods.retain(|m| *m != Method::Mkcol);
    Error::MethodNotAllowed {
        allow: allow::header(&methods),
        why: NotAllowed::Mapped,
    }
}
