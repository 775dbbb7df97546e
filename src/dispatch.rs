//! Method → handler. Reads as the original flow: hash the request, read its headers, then per
//! method the access check and the handler.

use crate::access;
use crate::config::Config;
use crate::cors;
use crate::error::Error;
use crate::fs::path::normalize_path;
use crate::http::Method;
use crate::http::parse::{Head, split_target};
use crate::http::response::Response;
use crate::method;
use crate::request::{Request, Target};
use crate::routing;

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
    let (fs_root, fs_path) = routing::place(req.config, matched, &url_path);
    let target = Target {
        url_path,
        raw_path,
        query,
        fs_root,
        fs_path,
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
        https_location(host, port, &path_and_query).ok_or(Error::BadRequest("bad Host"))?;
    Ok(Response::text(308).header("Location", location))
}

/// `redirect_http`: where a plain-HTTP request goes, `https://<Host name>:<port><target>`;
/// `None` when the Host is not a plain host name or address (it is sent back in a header).
fn https_location(host: &str, port: u16, path_and_query: &str) -> Option<String> {
    let name = host_name(host)?;
    Some(format!("https://{name}:{port}{path_and_query}"))
}

/// The host of a `Host` value without its port; an IPv6 literal keeps its brackets.
fn host_name(host: &str) -> Option<&str> {
    if let Some(rest) = host.strip_prefix('[') {
        let inner = &rest[..rest.find(']')?];
        let literal = |c: char| c.is_ascii_hexdigit() || ".:".contains(c);
        return (!inner.is_empty() && inner.chars().all(literal)).then(|| &host[..inner.len() + 2]);
    }
    let name = host.split_once(':').map_or(host, |(name, _)| name);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    (!name.is_empty() && name.chars().all(allowed)).then_some(name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        let rows: &[(&str, Option<&str>)] = &[
            ("", None),
            ("evil.example/x", None),
            ("a b", None),
            ("[::1", None),
            (":8080", None),
            ("example.com", Some("example.com")),
            ("example.com:8080", Some("example.com")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("[::1]:8080", Some("[::1]")),
            ("[::1]", Some("[::1]")),
            ("[v1.x]", None),
            ("a:b:c", Some("a")),
        ];
        for (host, want) in rows {
            assert_eq!(host_name(host), *want, "{host:?}");
        }
    }
}
