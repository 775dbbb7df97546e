//! The request ladder: method → target → `redirect_http` → 405 → CORS preflight → `[[acl]]` →
//! route answer → the method's handler; then [`finish`], the one post-processing step every
//! response goes through, whatever produced it.

use crate::access;
use crate::allow;
use crate::config::{Config, RouteTarget};
use crate::cors;
use crate::dav;
use crate::dav::locks::Resources;
use crate::error::{Error, NotAllowed};
use crate::fs::etag;
use crate::fs::path::{Resolved, normalize_path, resolve};
use crate::http::Method;
use crate::http::accept;
use crate::http::parse::{Head, split_target};
use crate::http::response::Response;
use crate::method;
use crate::request::{Request, Target};
use crate::routing::{self, RouteAnswer};

/// Answers one request. Sets `req.route_headers` when a `[[route]]` decides where it goes.
pub fn handle(req: &mut Request<'_>) -> Result<Response, Error> {
    let method = req.head.method().clone();
    match method {
        Method::Other(_) => return Err(Error::NotImplemented),
        // With `[webdav]` off a WebDAV method is as unknown as any other (501, as before).
        ref dav if dav.is_webdav() && !req.config.webdav.enabled => {
            return Err(Error::NotImplemented);
        }
        // RFC 9110 §9.3.6: CONNECT's target is an authority (`host:port`), not a path, so it
        // is refused before the target is read as one.
        Method::Connect => {
            let served = allow::served(req.config);
            return Err(Error::MethodNotAllowed {
                allow: allow::header(&served),
                why: NotAllowed::Connect,
            });
        }
        _ => {}
    }
    let (raw_path, query) = split_target(req.head.target())?;
    if raw_path == "*" {
        return method::options::asterisk(req.config, &method);
    }
    let target = locate(req.config, raw_path, query)?;
    if let Some(port) = req.https_port
        && req.config.tls.redirect_http
        && !req.secure
    {
        return to_https(req, port, &target);
    }
    if let Some(route) = target.route {
        req.route_headers.clone_from(&route.headers);
    }
    by_method(req, &method, &target)
}

/// The decoded, normalised path and where it maps: the first matching route decides, before
/// the file system.
fn locate<'a>(
    config: &'a Config,
    raw_path: &'a str,
    query: Option<&'a str>,
) -> Result<Target<'a>, Error> {
    let url_path = normalize_path(raw_path).map_err(|e| {
        log::debug!("400 for path {raw_path:?}: {e}");
        Error::BadRequest(e.reason())
    })?;
    let route = routing::first_match(config, &url_path);
    let (fs_root, fs_path) = routing::place(config, route, &url_path);
    Ok(Target {
        url_path,
        raw_path,
        query,
        fs_root,
        fs_path,
        route,
    })
}

/// Where a COPY or MOVE goes: its `Destination` (RFC 4918 §10.3), decoded, normalised and
/// routed by [`locate`] exactly as a request target is, so one set of rules confines both.
/// Resolved here rather than in the handler because routing sits above the handlers.
fn destination<'a>(config: &'a Config, head: &'a Head) -> Result<Target<'a>, Error> {
    let raw_path = dav::destination::destination(head)?;
    locate(config, raw_path, None)
}

/// `redirect_http` (SPEC §2): 308 to the same path and query on the HTTPS port.
fn to_https(req: &Request<'_>, port: u16, target: &Target<'_>) -> Result<Response, Error> {
    let host = req
        .head
        .header("host")
        .ok_or(Error::BadRequest("the Host header field is missing"))?;
    let path_and_query = target.with_query(target.raw_path);
    let location = https_location(host, port, &path_and_query).ok_or(Error::BadRequest(
        "the Host header field is not a plain host name",
    ))?;
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

/// The per-method ladder: refusals that hold whoever asks, the preflight, credentials, the
/// route's answer, then the handler.
fn by_method(
    req: &mut Request<'_>,
    method: &Method,
    target: &Target<'_>,
) -> Result<Response, Error> {
    let config = req.config;
    // The listing's delete button posts to `<entry>?delete`: it is a DELETE, checked as one.
    let delete_form = *method == Method::Post && method::post::is_delete_form(target.query);
    let checked = match delete_form {
        true => &Method::Delete,
        false => allow::judged_as(method),
    };
    if let Some(why) = allow::refusal(config, target, checked) {
        return Err(allow::not_allowed(config, target, req.client, why));
    }
    // Fetch §3.2.2: a preflight carries no credentials, so it is answered before they are asked.
    if *method == Method::Options
        && let Some(preflight) = cors::preflight(req, target)
    {
        return Ok(preflight);
    }
    req.user = access::authorize(config, &target.url_path, checked, req.client, req.head)?;
    // RFC 4918 §10.4, §7: a write's `If` header must hold (412), and a write to what someone
    // else's lock covers needs that lock's token (423).
    if config.webdav.enabled && checked.is_write() {
        let (files, user) = (Disk { config }, req.user.as_deref());
        let path = &target.url_path;
        req.locks
            .check_request(req.head, checked, path, user, &files)?;
    }
    match routing::answer(method, target) {
        RouteAnswer::Respond(response) => return Ok(response),
        RouteAnswer::File(path) => return method::get::serve_named(req, path),
        RouteAnswer::Handlers => {}
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
        Method::Propfind => method::dav::propfind::handle(req, target),
        Method::Proppatch => method::dav::proppatch::handle(req, target),
        Method::Mkcol => method::dav::mkcol::handle(req, target),
        Method::Copy | Method::Move => {
            let to = destination(config, req.head)?;
            method::dav::copymove::handle(req, target, &to, method)
        }
        Method::Lock => method::dav::lock::lock(req, target),
        Method::Unlock => method::dav::lock::unlock(req, target),
        _ => Err(Error::NotImplemented),
    }
}

/// The files behind URL paths, as the `If` header and the lock checks see them: what a
/// read of the path would find (routes, hidden files and symlinks judged as for a GET).
struct Disk<'c> {
    config: &'c Config,
}

impl Disk<'_> {
    /// What is at `url_path`; `None` when nothing is, or a route other than `dir` answers it.
    fn find(&self, url_path: &str) -> Option<Resolved> {
        let route = routing::first_match(self.config, url_path);
        if route.is_some_and(|route| !matches!(route.target, RouteTarget::Dir(_))) {
            return None;
        }
        let (root, fs_path) = routing::place(self.config, route, url_path);
        resolve(root, &fs_path, self.config.server.hidden).ok()
    }
}

impl Resources for Disk<'_> {
    fn etag(&self, url_path: &str) -> Option<String> {
        let found = self.find(url_path)?;
        (!found.is_dir).then(|| etag::for_file(&found.metadata))
    }

    fn exists(&self, url_path: &str) -> bool {
        self.find(url_path).is_some()
    }
}

/// What the post-processing needs of a request besides its outcome.
pub struct Finish<'a> {
    /// The request head (its method, its `Origin`).
    pub head: &'a Head,
    /// The configuration the request ran under.
    pub config: &'a Config,
    /// The request came over TLS.
    pub secure: bool,
    /// What the `[[route]]` that decided where the request went adds to its handler's answer.
    pub route_headers: &'a [(String, String)],
}

/// Turns a request's outcome into the response sent, in this order:
/// 1. a route's `headers`, on what the route's handler answered (not on errors);
/// 2. an error becomes its response ([`error_response`]);
/// 3. `Strict-Transport-Security` over HTTPS;
/// 4. the CORS headers, on every response whatever produced it (errors included).
pub fn finish(outcome: Result<Response, Error>, ctx: &Finish<'_>) -> Response {
    let mut resp = match outcome {
        Ok(resp) => routing::add_headers(resp, ctx.route_headers),
        Err(e) => error_response(&e, ctx.head, ctx.config),
    };
    if ctx.secure
        && let Some(hsts) = &ctx.config.tls.hsts
    {
        resp.headers
            .push(("Strict-Transport-Security".into(), hsts.clone().into()));
    }
    cors::decorate(&mut resp, ctx.head, ctx.config);
    resp
}

/// The one place an error meets its request: a 404 to GET or HEAD is the `not_found` page when
/// one is configured; else a browser (whose `Accept` prefers `text/html` to `text/plain`) gets
/// the error's HTML page with a link back to the folder the request was about, and every other
/// client its one line of text. `Vary: Accept`, since the body depends on it (RFC 9110 §12.5.5).
fn error_response(e: &Error, head: &Head, config: &Config) -> Response {
    let reads = matches!(head.method(), Method::Get | Method::Head);
    if reads
        && matches!(e, Error::NotFound)
        && let Some(page) = method::get::not_found_page(config)
    {
        return page;
    }
    let response = match accept::prefers(head.header("accept"), "text/html", "text/plain") {
        true => e.page(&back_to(head)),
        false => e.response(),
    };
    response.header("Vary", "Accept")
}

/// The folder an error page links back to: the folder a form posted to (the listing's upload
/// form posts to `./`), else the parent of the request's path; `/` when the path is not one.
/// Built from the request line alone, never from `Referer`, and decoded and normalised like
/// any path, so the link cannot lead off the site.
fn back_to(head: &Head) -> String {
    let Ok((raw_path, query)) = split_target(head.target()) else {
        return "/".to_string();
    };
    let Ok(path) = normalize_path(raw_path) else {
        return "/".to_string();
    };
    let upload = *head.method() == Method::Post && !method::post::is_delete_form(query);
    if upload && path.ends_with('/') {
        return path;
    }
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(slash) => trimmed[..=slash].to_string(),
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed head of `method target` (HTTP/1.1, `Host: t`).
    fn head(method: &str, target: &str) -> Head {
        use crate::http::parse::{Limits, Parsed, parse_request};
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        let limits = Limits {
            max_head_bytes: 16384,
            max_uri_bytes: 8192,
        };
        match parse_request(raw.as_bytes(), &limits) {
            Ok(Parsed::Complete { head, .. }) => head,
            other => panic!("{target}: {other:?}"),
        }
    }

    #[test]
    fn back_links() {
        let rows: &[(&str, &str, &str)] = &[
            // Hostile rows first: climbs, other hosts, encoded separators, markup.
            ("GET", "/a/../../etc/passwd", "/"),
            ("GET", "/a%2fb/c", "/"),
            ("GET", "http://evil.example/x/y", "/x/"),
            ("GET", "/%3Cscript%3E/x", "/<script>/"),
            ("OPTIONS", "*", "/"),
            ("GET", "/", "/"),
            ("GET", "/photos", "/"),
            ("GET", "/photos/", "/"),
            ("GET", "/photos/cat.jpg", "/photos/"),
            ("PUT", "/up/a/b.txt?x=1", "/up/a/"),
            // The listing's forms: the upload posts to the folder, a delete to the entry.
            ("POST", "/photos/", "/photos/"),
            ("POST", "/photos/cat.jpg?delete", "/photos/"),
            ("POST", "/photos/old/?delete", "/photos/"),
            ("POST", "/photos/cat.jpg", "/photos/"),
        ];
        for (method, target, want) in rows {
            assert_eq!(back_to(&head(method, target)), *want, "{method} {target}");
        }
    }

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
