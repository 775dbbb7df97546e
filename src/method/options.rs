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
    let response = Response::new(204).header("Allow", allow);
    // RFC 4918 §10.1: compliance classes 1 and 2 (locks). Microsoft's clients look for
    // `MS-Author-Via` before they offer to write.
    Ok(match req.config.webdav.enabled {
        true => response
            .header("DAV", "1, 2")
            .header("MS-Author-Via", "DAV"),
        false => response,
    })
}

/// `OPTIONS *`: every method the server implements. Any other method with `*` is malformed.
pub fn asterisk(config: &Config, method: &Method) -> Result<Response, Error> {
    if *method != Method::Options {
        return Err(Error::BadRequest("the target * is for OPTIONS only"));
    }
    Ok(Response::new(204).header("Allow", allow::header(&allow::served(config))))
}
