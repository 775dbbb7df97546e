//! Which methods may be used where: the one computation behind every `Allow` header (405,
//! OPTIONS, CORS preflights), the TRACE switch, and the listing's upload and delete buttons.

use std::net::IpAddr;

use crate::access;
use crate::config::Config;
use crate::error::{Error, NotAllowed};
use crate::http::Method;
use crate::request::Target;

/// True when the server answers `method` at all: implemented, TRACE only while
/// `server.trace` is on, the WebDAV methods only while `[webdav]` is enabled.
pub fn is_served(config: &Config, method: &Method) -> bool {
    let http = Method::IMPLEMENTED.contains(method);
    let dav = method.is_webdav() && config.webdav.enabled;
    (http || dav) && (*method != Method::Trace || config.server.trace)
}

/// Every method the server answers (`OPTIONS *`, and the `Allow` of a CONNECT's 405).
pub fn served(config: &Config) -> Vec<Method> {
    let methods = Method::IMPLEMENTED.iter().chain(&Method::WEBDAV);
    methods.filter(|m| is_served(config, m)).cloned().collect()
}

/// True when `client` may use `method` on `url_path` as far as its address tells (credentials
/// are asked when the request comes). Ignores routes: for a listing's own buttons.
pub fn permits(config: &Config, url_path: &str, method: &Method, client: IpAddr) -> bool {
    is_served(config, method) && access::admits(config, url_path, judged_as(method), client)
}

/// The method `[[acl]]` judges on the request target for `method`: itself, but COPY, which
/// only reads its source and is judged as GET there (issue 11: "COPY needs read on the source
/// and write on the destination"); the COPY handler judges the destination as COPY.
pub fn judged_as(method: &Method) -> &Method {
    match method {
        Method::Copy => &Method::Get,
        other => other,
    }
}

/// The methods `client` may use on `target`: `[[acl]]` on the request path, minus the writes
/// a route that serves no folder refuses anyway.
pub fn permitted(config: &Config, target: &Target<'_>, client: IpAddr) -> Vec<Method> {
    let read_only = target.is_read_only();
    Method::IMPLEMENTED
        .iter()
        .chain(&Method::WEBDAV)
        .filter(|m| !(read_only && m.is_write()))
        .filter(|m| permits(config, &target.url_path, m, client))
        .cloned()
        .collect()
}

/// Why `method` is refused on `target` whoever asks (405), if it is: TRACE while switched
/// off, a write to a `file` or fixed route, a write where no `[[acl]]` rule names it.
pub fn refusal(config: &Config, target: &Target<'_>, method: &Method) -> Option<NotAllowed> {
    if !is_served(config, method) {
        // Unknown methods and CONNECT are answered before; TRACE is the one that can be off.
        return Some(NotAllowed::TraceOff);
    }
    if !method.is_write() {
        return None;
    }
    if target.is_read_only() {
        return Some(NotAllowed::ReadOnly);
    }
    let rule = access::rule(config, &target.url_path, method);
    matches!(rule, access::Rule::Closed).then_some(NotAllowed::Writes)
}

/// The 405 for `target`, with the `Allow` that `client` may use instead.
pub fn not_allowed(config: &Config, target: &Target<'_>, client: IpAddr, why: NotAllowed) -> Error {
    let allow = header(&permitted(config, target, client));
    Error::MethodNotAllowed { allow, why }
}

/// Methods as an `Allow` value: `GET, HEAD, OPTIONS`.
pub fn header(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.join(", ")
}
