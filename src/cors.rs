//! CORS (`[cors]`, SPEC §5): preflight answers, and the headers that let a page of an allowed
//! origin read a response.
//!
//! The headers are added in one place, `dispatch::finish`, whatever produced the response; a
//! preflight is answered by [`preflight`] before access checks, as browsers send it without
//! credentials (Fetch §3.2.2).

use crate::allow;
use crate::config::Config;
use crate::http::parse::{Head, is_tchar};
use crate::http::response::Response;
use crate::request::{Request, Target};

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_S: &str = "600";

/// Response headers a page may read besides the CORS-safelisted ones.
const EXPOSE: &str = "ETag, Content-Range, Location";

/// The `Access-Control-Allow-Origin` a request from `origin` gets, if any.
enum Allowed<'a> {
    /// `origins = ["*"]`: any origin, and the answer does not depend on it.
    Any,
    /// This origin, named in `origins`: the answer varies with `Origin`.
    Origin(&'a str),
}

impl Allowed<'_> {
    fn value(&self) -> String {
        match self {
            Allowed::Any => "*".to_string(),
            Allowed::Origin(origin) => origin.to_string(),
        }
    }
}

/// True when the answer to a request depends on its `Origin` (a list of origins, not `*`).
fn varies(config: &Config) -> bool {
    !config.cors.origins.is_empty() && !config.cors.allows_any()
}

/// Whether `origin` may read responses, and what it is told.
fn allowed<'a>(config: &Config, origin: &'a str) -> Option<Allowed<'a>> {
    match config.cors.allows_any() {
        true => Some(Allowed::Any),
        false => config
            .cors
            .allows(origin)
            .then_some(Allowed::Origin(origin)),
    }
}

/// Answers a CORS preflight: an `OPTIONS` with `Origin` and `Access-Control-Request-Method`
/// from an allowed origin. `None` for anything else, which then gets the plain OPTIONS answer.
pub fn preflight(req: &Request<'_>, target: &Target<'_>) -> Option<Response> {
    let head = req.head;
    let origin = head.header("origin")?;
    let method = head.header("access-control-request-method")?;
    if !is_token(method) {
        return None;
    }
    let allow = allowed(req.config, origin)?;
    let methods = allow::permitted(req.config, target, req.client);
    if methods.is_empty() {
        return None; // this client may do nothing here: let the usual refusal answer
    }
    let methods = allow::header(&methods);
    let mut resp = Response::new(204)
        .header("Allow", methods.clone())
        .header("Access-Control-Allow-Origin", allow.value())
        .header("Access-Control-Allow-Methods", methods)
        .header("Access-Control-Max-Age", MAX_AGE_S);
    if let Some(headers) = requested_headers(head) {
        resp = resp.header("Access-Control-Allow-Headers", headers);
    }
    Some(resp)
}

/// `Access-Control-Request-Headers`, echoed when it is a list of header names (tokens).
fn requested_headers(head: &Head) -> Option<String> {
    let value = head.header("access-control-request-headers")?;
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    (!names.is_empty() && names.iter().all(|n| is_token(n))).then(|| names.join(", "))
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Adds the CORS headers to a response (not a preflight, which has its own): `Vary: Origin`
/// whenever the answer depends on the origin, and for an allowed `Origin`,
/// `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers`.
pub fn decorate(resp: &mut Response, head: &Head, config: &Config) {
    if config.cors.origins.is_empty() {
        return;
    }
    // On every response, not only those to an allowed Origin: a cache must not hand an answer
    // without the CORS headers to a request that has one.
    add_vary_origin(resp, config);
    if resp.get_header("access-control-allow-origin").is_some() {
        return; // a preflight
    }
    let Some(allow) = head.header("origin").and_then(|o| allowed(config, o)) else {
        return;
    };
    resp.headers
        .push(("Access-Control-Allow-Origin".into(), allow.value().into()));
    resp.headers
        .push(("Access-Control-Expose-Headers".into(), EXPOSE.into()));
}

/// Adds `Origin` to the response's `Vary`, merging with one already there.
fn add_vary_origin(resp: &mut Response, config: &Config) {
    if !varies(config) {
        return;
    }
    match resp
        .headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("vary"))
    {
        Some((_, value)) if value.split(',').any(|v| v.trim() == "*") => {}
        Some((_, value)) => *value = format!("{value}, Origin").into(),
        None => resp.headers.push(("Vary".into(), "Origin".into())),
    }
}
