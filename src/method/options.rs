//! OPTIONS: which methods the configuration permits here.

use crate::access;
use crate::dispatch::{Request, Target};
use crate::error::Error;
use crate::http::Method;
use crate::http::response::Response;

/// `OPTIONS /path`: 204 with the methods permitted on that path (credentials ignored).
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let allow = access::allow_header(req.config, &target.path, req.client);
    Ok(Response::new(204).header("Allow", allow))
}

/// `OPTIONS *`: every method the server implements. Any other method with `*` is malformed.
pub fn asterisk(method: &Method) -> Result<Response, Error> {
    if *method != Method::Options {
        return Err(Error::BadRequest("asterisk-form outside OPTIONS"));
    }
    Ok(Response::new(204).header("Allow", access::join(&access::SERVED)))
}
