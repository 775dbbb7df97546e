//! Table routing (`[[route]]`, SPEC §2): the first route whose pattern matches the request path
//! decides where the request goes. Routing only decides: a `dir` route hands the request to the
//! ordinary handlers with its folder as the root, a `file` route names the file the GET handler
//! serves, and `redirect` and fixed routes come back as finished responses.

use std::borrow::Cow;
use std::path::Path;

use crate::config::{Config, Route, RouteTarget};
use crate::http::Method;
use crate::http::response::{Body, Response};
use crate::request::Target;

/// The first route whose pattern matches the normalised request path.
pub fn first_match<'c>(config: &'c Config, url_path: &str) -> Option<&'c Route> {
    let mut routes = config.routes.iter();
    routes.find(|route| route.path.matches(url_path).is_some())
}

/// The folder a request maps into and the path inside it: a `dir` route's folder and
/// `/{rest}`, else the document root and the whole request path.
pub fn place<'c>(
    config: &'c Config,
    route: Option<&'c Route>,
    url_path: &str,
) -> (&'c Path, String) {
    if let Some(route) = route
        && let RouteTarget::Dir(folder) = &route.target
        && let Some(rest) = route.path.matches(url_path)
    {
        return (folder, format!("/{rest}"));
    }
    (&config.server.root, url_path.to_string())
}

/// What a matched route decides for a request that `[[acl]]` let through.
pub enum RouteAnswer<'c> {
    /// A `redirect` or fixed route: this response, as it is.
    Respond(Response),
    /// A `file` route, read with GET or HEAD: the GET handler serves this file.
    File(&'c Path),
    /// No route, a `dir` route, or OPTIONS and TRACE on a `file` or fixed route (which keep
    /// their meaning): the ordinary handler for the method answers.
    Handlers,
}

/// What `target`'s route decides for `method`.
pub fn answer<'c>(method: &Method, target: &Target<'c>) -> RouteAnswer<'c> {
    let Some(route) = target.route else {
        return RouteAnswer::Handlers;
    };
    let read = matches!(method, Method::Get | Method::Head);
    match &route.target {
        RouteTarget::Redirect { to, status } => {
            RouteAnswer::Respond(redirect(route, to, *status, target))
        }
        RouteTarget::File(path) if read => RouteAnswer::File(path),
        RouteTarget::Fixed {
            status,
            body,
            content_type,
        } if read => RouteAnswer::Respond(fixed(*status, body, content_type)),
        RouteTarget::Dir(_) | RouteTarget::File(_) | RouteTarget::Fixed { .. } => {
            RouteAnswer::Handlers
        }
    }
}

/// Adds a route's `headers` to a response it produced. A configured header replaces the
/// server's own of the same name (a route's `Cache-Control` wins over `server.cache_control`).
pub fn add_headers(mut response: Response, headers: &[(String, String)]) -> Response {
    for (name, value) in headers {
        response
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        response = response.header(name.clone(), value.clone());
    }
    response
}

/// The redirect: `to` with `{rest}` replaced by the rest of the path as the client spelled it
/// (encoded bytes stay encoded), and the request's query carried over.
fn redirect(route: &Route, to: &str, status: u16, target: &Target<'_>) -> Response {
    let rest = route.path.matches(&target.url_path).unwrap_or("");
    let to = to.replace("{rest}", &raw_rest(target.raw_path, rest));
    Response::text(status).header("Location", target.with_query(&to))
}

/// The raw (still percent-encoded) spelling of `rest`, the decoded remainder of the request
/// path: as many trailing segments of the raw path, with dot segments resolved the way
/// `normalize_path` resolves them, so the two have the same segments one for one.
fn raw_rest(raw_path: &str, rest: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match dot_segment(segment) {
            Some(2) => {
                segments.pop();
            }
            Some(_) => {}
            None => segments.push(segment),
        }
    }
    let wanted = rest.split('/').filter(|s| !s.is_empty()).count();
    let tail = &segments[segments.len().saturating_sub(wanted)..];
    let mut out = tail.join("/");
    if rest.ends_with('/') {
        out.push('/');
    }
    out
}

/// How many dots an empty or dot segment stands for (`""`: 0, `.` or `%2e`: 1, `..`: 2);
/// `None` for an ordinary segment.
fn dot_segment(segment: &str) -> Option<usize> {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    match decoded.as_str() {
        "" => Some(0),
        "." => Some(1),
        ".." => Some(2),
        _ => None,
    }
}

/// A fixed answer. RFC 9110 §15.3.5, §15.4.5: 204 and 304 carry no content, so no type.
fn fixed(status: u16, body: &str, content_type: &str) -> Response {
    if matches!(status, 204 | 304) {
        return Response::new(status);
    }
    let bytes = Cow::Owned(body.as_bytes().to_vec());
    Response::new(status)
        .header("Content-Type", content_type.to_string())
        .body(Body::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rest_rows() {
        // (raw path, decoded rest, raw rest) — hostile rows first.
        let rows: &[(&str, &str, &str)] = &[
            ("/old/a/../b%20c", "b c", "b%20c"),
            ("/old/x/%2e%2E/y", "y", "y"),
            ("/old/./a//b/", "a/b/", "a/b/"),
            ("/old/%3F%23", "?#", "%3F%23"),
            ("/x/../old/caf%C3%A9", "café", "caf%C3%A9"),
            ("/old", "", ""),
            ("/old/", "", ""),
            ("/old/a", "a", "a"),
            ("/old/a/b.txt", "a/b.txt", "a/b.txt"),
        ];
        for (raw, rest, want) in rows {
            assert_eq!(raw_rest(raw, rest), *want, "{raw}");
        }
    }
}
