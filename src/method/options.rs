//! OPTIONS: which methods the configuration permits here.

use crate::allow;
use crate::config::Config;
use crate::error::Error;
use crate::http::Method;
use crate::http::response::Response;
use crate::request::{Request, Target};

/// `OPTIONS /path`: 204 with the methods permitted on that path (credentials ignored).
#[inline(never)] // see method/mod.rs
pub fn handle(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    let allow = allow::header(&allow::permitted(req.config, target, req.client));
    Ok(Response::new(204).header("Allow", allow))
}

/// `OPTIONS *`: every method the server implements. Any other method with `*` is malformed.
pub fn asterisk(config: &Config, method: &Method) -> Result<Response, Error> {
    if *method != Method::Options {
        return Err(Error::BadRequest("the target * is for OPTIONS only"));
    }
    Ok(Response::new(204).header("Allow", allow::header(&allow::served(config))))
}
