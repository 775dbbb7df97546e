//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11).

use crate::error::Error;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Answers LOCK on `target`: a new lock, or a refresh.
#[inline(never)] // see method/mod.rs
pub fn lock(_req: &mut Request<'_>, _target: &Target<'_>) -> Result<Response, Error> {
    Err(Error::NotImplemented)
}

/// Answers UNLOCK on `target`.
#[inline(never)] // see method/mod.rs
pub fn unlock(_req: &mut Request<'_>, _target: &Target<'_>) -> Result<Response, Error> {
    Err(Error::NotImplemented)
}
