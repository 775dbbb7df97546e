//! PROPPATCH (RFC 4918).

use crate::error::Error;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// Answers PROPPATCH on `target`.
#[inline(never)] // see method/mod.rs
pub fn handle(_req: &mut Request<'_>, _target: &Target<'_>) -> Result<Response, Error> {
    Err(Error::NotImplemented)
}
