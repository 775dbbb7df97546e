//! The 207 (Multi-Status) answer of a namespace method that failed for some members
//! (RFC 4918 §13): one `<D:response>` per member, with its href and status.

use std::borrow::Cow;

use crate::error::Error;
use crate::fs::tree::Failure;
use crate::http::encode::encode_path;
use crate::http::response::{Body, Response, reason};

/// A member's URL path (decoded) and the status it failed with.
pub type MemberStatus = (String, u16);

/// The 207 listing `members`. Hrefs are percent-encoded absolute paths, so they need no XML
/// escaping: every byte that could matter to XML is encoded.
pub fn response(members: &[MemberStatus]) -> Response {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n",
    );
    for (path, status) in members {
        xml.push_str("<D:response><D:href>");
        xml.push_str(&encode_path(path));
        xml.push_str("</D:href><D:status>HTTP/1.1 ");
        xml.push_str(&status.to_string());
        xml.push(' ');
        xml.push_str(reason(*status));
        xml.push_str("</D:status></D:response>\n");
    }
    xml.push_str("</D:multistatus>\n");
    Response::new(207)
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(Body::Bytes(Cow::Owned(xml.into_bytes())))
}

/// The members below `url_path` that `failures` name (paths relative to it), as URL paths
/// with the status each failure maps to.
pub fn members(url_path: &str, failures: Vec<Failure>) -> Vec<MemberStatus> {
    let base = url_path.trim_end_matches('/');
    let failed = failures.into_iter().map(|failure| {
        let rel = failure.rel.to_string_lossy().into_owned();
        let path = match rel.is_empty() {
            true => format!("{base}/"),
            false => format!("{base}/{rel}"),
        };
        (path, Error::Io(failure.error).status())
    });
    failed.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_encoded() {
        let members = vec![
            ("/a/<&>\"'/x y".to_string(), 403),
            ("/d/é/".to_string(), 423),
        ];
        let resp = response(&members);
        assert_eq!(resp.status, 207);
        let Body::Bytes(body) = resp.body else {
            panic!("bytes");
        };
        let xml = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            xml.contains("<D:href>/a/%3C%26%3E%22%27/x%20y</D:href>"),
            "{xml}"
        );
        assert!(
            xml.contains("<D:status>HTTP/1.1 403 Forbidden</D:status>"),
            "{xml}"
        );
        assert!(xml.contains("<D:href>/d/%C3%A9/</D:href>"), "{xml}");
        assert!(xml.contains("HTTP/1.1 423 Locked"), "{xml}");
    }
}
