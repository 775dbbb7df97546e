//! Method → handler. Reads as the original flow: hash the request, read its headers, then per
//! method the access check and the handler.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use md5::{Digest, Md5};

use crate::access;
use crate::cache::Cache;
use crate::config::{Config, Route};
use crate::conn::RequestBody;
use crate::cors;
use crate::error::Error;
use crate::fs::path::normalize_path;
use crate::http::Method;
use crate::http::parse::{Head, split_target};
use crate::http::response::Response;
use crate::method;
use crate::routing;
use crate::tls;

/// One request as the handlers see it.
pub struct Request<'a> {
    pub head: &'a Head,
    pub peer: SocketAddr,
    /// The client per `trusted_proxies`: used by `[[acl]]` and the access log.
    pub client: IpAddr,
    /// The configuration snapshot this request runs under, start to end.
    pub config: &'a Arc<Config>,
    /// The server's body cache.
    pub cache: &'a Cache,
    pub body: RequestBody<'a>,
    /// MD5 of the method and target; PUT extends it with the body.
    pub hash: Md5,
    /// The user who authenticated, for the access log.
    pub user: Option<String>,
    /// The request came over TLS.
    pub secure: bool,
    /// The port the HTTPS listener is bound to, if there is one (for `redirect_http`).
    pub https_port: Option<u16>,
}

impl<'a> Request<'a> {
    /// Wraps a parsed head and its body.
    pub fn new(
        head: &'a Head,
        peer: SocketAddr,
        config: &'a Arc<Config>,
        cache: &'a Cache,
        body: RequestBody<'a>,
    ) -> Request<'a> {
        let client = access::client_address(peer.ip(), head, &config.server.trusted_proxies);
        let mut hash = Md5::new();
        hash.update(head.method().as_str());
        hash.update(b" ");
        hash.update(head.target());
        Request {
            head,
            peer,
            client,
            config,
            cache,
            body,
            hash,
            user: None,
            secure: false,
            https_port: None,
        }
    }
}

/// The request target, decoded and normalised, and the folder it maps into.
pub struct Target<'a> {
    /// The request path: percent-decoded, dot segments resolved; starts with `/`. What
    /// `[[acl]]` judges and what listings, redirects and `Location` headers show.
    pub url_path: String,
    /// The canonical folder this request maps into: `server.root`, or a `dir` route's folder.
    pub root: &'a Path,
    /// The path inside `root`, starting with `/`: what handlers read and write.
    pub path: String,
    /// The path as sent (still encoded), for redirects.
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    /// The first `[[route]]` matching `url_path`, if any.
    pub route: Option<&'a Route>,
}

/// Answers one request.
pub fn handle(req: &mut Request<'_>) -> Result<Response, Error> {
    let method = req.head.method().clone();
    match method {
        Method::Other(_) => return Err(Error::NotImplemented),
        // RFC 9110 §9.3.6: CONNECT's target is an authority (`host:port`), not a path, so it
        // is refused before the target is read as one.
        Method::Connect => {
            return Err(Error::MethodNotAllowed(method::options::all_methods(
                req.config,
            )));
        }
        _ => {}
    }
    let (raw_path, query) = split_target(req.head.target())?;
    if raw_path == "*" {
        return method::options::asterisk(req.config, &method);
    }
    let url_path = normalize_path(raw_path).map_err(|_| Error::BadRequest("bad path"))?;
    // Routes apply before the filesystem: the first match decides where the request maps.
    let matched = routing::first_match(req.config, &url_path);
    let (root, path) = routing::place(req.config, matched, &url_path);
    let target = Target {
        url_path,
        root,
        path,
        raw_path,
        query,
        route: matched,
    };
    if let Some(port) = req.https_port
        && req.config.tls.redirect_http
        && !req.secure
    {
        return to_https(req, port, &target);
    }
    let mut result = route(req, &method, &target);
    if let Some(matched) = matched {
        result = result.map(|response| routing::add_headers(response, &matched.headers));
    }
    match result {
        Err(Error::NotFound) if matches!(method, Method::Get | Method::Head) => {
            method::get::not_found(req.config)
        }
        other => other,
    }
}

/// `redirect_http` (SPEC §2): 308 to the same path and query on the HTTPS port.
fn to_https(req: &Request<'_>, port: u16, target: &Target<'_>) -> Result<Response, Error> {
    let host = req
        .head
        .header("host")
        .ok_or(Error::BadRequest("no Host"))?;
    let path_and_query = match target.query {
        Some(query) => format!("{}?{query}", target.raw_path),
        None => target.raw_path.to_string(),
    };
    let location =
        tls::https_location(host, port, &path_and_query).ok_or(Error::BadRequest("bad Host"))?;
    Ok(Response::text(308).header("Location", location))
}

/// Adds what every response carries by configuration, whatever produced it (a handler or an
/// error): `Strict-Transport-Security` over HTTPS, and the CORS headers.
pub fn finish(mut resp: Response, head: &Head, config: &Config, secure: bool) -> Response {
    if secure && let Some(hsts) = &config.tls.hsts {
        resp.headers
            .push(("Strict-Transport-Security".into(), hsts.clone().into()));
    }
    cors::decorate(&mut resp, head, config);
    resp
}

/// The per-method ladder: access, then the handler.
fn route(req: &mut Request<'_>, method: &Method, target: &Target<'_>) -> Result<Response, Error> {
    let config = req.config;
    if method.is_write() && routing::is_read_only(target) {
        // A `file` or fixed route serves no folder to write into, whatever `[[acl]]` says.
        return Err(Error::MethodNotAllowed(routing::allow_header(
            config, target, req.client,
        )));
    }
    if *method == Method::Trace && !config.server.trace {
        return Err(Error::MethodNotAllowed(routing::allow_header(
            config, target, req.client,
        )));
    }
    // Fetch §3.2.2: a preflight carries no credentials, so it is answered before they are asked.
    if *method == Method::Options
        && let Some(preflight) = cors::preflight(req, target)
    {
        return Ok(preflight);
    }
    // The listing's delete button posts to `<entry>?delete`: it is a DELETE, checked as one.
    let delete_form = *method == Method::Post && method::post::is_delete_form(target.query);
    let checked = if delete_form { &Method::Delete } else { method };
    req.user = access::authorize(config, &target.url_path, checked, req.client, req.head)?;
    if let Some(answer) = routing::answer(req, method, target) {
        return answer;
    }
    match method {
        Method::Post if delete_form => method::post::delete_form(req, target),
        Method::Post => method::post::handle(req, target),
        Method::Get | Method::Head => method::get::handle(req, target),
        Method::Options => method::options::handle(req, target),
        Method::Trace => method::trace::handle(req),
        Method::Put => method::put::handle(req, target),
        Method::Patch => method::patch::handle(req, target),
        Method::Delete => method::delete::handle(req, target),
        _ => Err(Error::NotImplemented),
    }
}
