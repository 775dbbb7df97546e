//! COPY and MOVE (RFC 4918 §9.8, §9.9).

use crate::error::Error;
use crate::http::Method;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Answers COPY or MOVE of `target` to the request's `Destination`.
#[inline(never)] // see method/mod.rs
pub fn handle(
    _req: &mut Request<'_>,
    _target: &Target<'_>,
    _method: &Method,
) -> Result<Response, Error> {
    Err(Error::NotImplemented)
}
