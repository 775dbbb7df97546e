//! Conditional requests (SPEC §3, RFC 9110 §13) over real TCP: one table of header sets and
//! the status they must produce, each row run with GET and HEAD, then the methods that
//! preconditions do not touch.

mod common;

use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Resp, TestServer, get_and_head, request};

const BODY: &str = "body{color:red}\n";
const CACHE_CONTROL: &str = "public, max-age=60";

/// The file's modification time: half a second past a whole second, so that a server
/// comparing below the second (the resolution of HTTP dates) gets the equal-date rows wrong.
fn mtime() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_609_459_200_500)
}

/// A server with `cache_control` set, over `style.css` (a compressible type, so its 200
/// carries `Vary`) with a known modification time.
fn start() -> TestServer {
    TestServer::start_with(&format!("cache_control = \"{CACHE_CONTROL}\""), "", |p| {
        let path = p.join("style.css");
        fs::write(&path, BODY).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(mtime()).unwrap();
        fs::create_dir_all(p.join("dir")).unwrap();
    })
}

/// Fills `{etag}`, `{bare}` (the tag without quotes), `{lm}`, `{before}`, `{after}`,
/// `{lm850}` and `{lmasctime}` (the same instant in the obsolete formats RFC 9110 §5.6.7
/// says recipients MUST accept).
fn fill(template: &str, etag: &str) -> String {
    let whole = UNIX_EPOCH + Duration::from_secs(1_609_459_200);
    let day = Duration::from_secs(86_400);
    template
        .replace("{etag}", etag)
        .replace("{bare}", etag.trim_matches('"'))
        .replace("{lm}", &httpdate::fmt_http_date(whole))
        .replace("{before}", &httpdate::fmt_http_date(whole - day))
        .replace("{after}", &httpdate::fmt_http_date(whole + day))
        .replace("{lm850}", "Friday, 01-Jan-21 00:00:00 GMT")
        .replace("{lmasctime}", "Fri Jan  1 00:00:00 2021")
}

#[test]
fn preconditions_table_for_get_and_head() {
    let srv = start();
    let full = get_and_head(&srv, "/style.css", "");
    assert_eq!(full.status, 200);
    let etag = full.header("etag").expect("ETag").to_string();
    assert_eq!(
        full.header("last-modified"),
        Some("Fri, 01 Jan 2021 00:00:00 GMT")
    );

    // (what the row proves, header lines, status)
    let rows: &[(&str, &str, u16)] = &[
        // Hostile and precedence rows first.
        (
            "If-Match weak tag fails the strong comparison",
            "If-Match: W/{etag}",
            412,
        ),
        ("If-Match unquoted tag is no tag", "If-Match: {bare}", 412),
        (
            "If-Match failing wins over If-None-Match",
            "If-Match: \"nope\"\r\nIf-None-Match: {etag}",
            412,
        ),
        (
            "If-Unmodified-Since failing wins over If-None-Match",
            "If-Unmodified-Since: {before}\r\nIf-None-Match: {etag}",
            412,
        ),
        (
            "If-Unmodified-Since ignored when If-Match is present",
            "If-Match: {etag}\r\nIf-Unmodified-Since: {before}",
            200,
        ),
        (
            "If-Modified-Since ignored when If-None-Match is present",
            "If-None-Match: \"nope\"\r\nIf-Modified-Since: {lm}",
            200,
        ),
        (
            "If-None-Match match decides over an earlier If-Modified-Since",
            "If-None-Match: {etag}\r\nIf-Modified-Since: {before}",
            304,
        ),
        (
            "If-None-Match split over two field lines",
            "If-None-Match: \"x\"\r\nIf-None-Match: {etag}",
            304,
        ),
        (
            "If-Match split over two field lines",
            "If-Match: \"x\"\r\nIf-Match: {etag}",
            200,
        ),
        (
            "If-Modified-Since invalid date ignored",
            "If-Modified-Since: yesterday",
            200,
        ),
        (
            "If-Modified-Since with a bad date and an equal one",
            "If-Modified-Since: {lm}, {lm}",
            200,
        ),
        (
            "If-Unmodified-Since invalid date ignored",
            "If-Unmodified-Since: 2021-01-01",
            200,
        ),
        (
            "If-Modified-Since equal, sub-second mtime",
            "If-Modified-Since: {lm}",
            304,
        ),
        (
            "If-Modified-Since equal in RFC 850 form",
            "If-Modified-Since: {lm850}",
            304,
        ),
        (
            "If-Modified-Since equal in asctime form",
            "If-Modified-Since: {lmasctime}",
            304,
        ),
        (
            "If-Unmodified-Since equal, sub-second mtime",
            "If-Unmodified-Since: {lm}",
            200,
        ),
        ("If-Range alone changes nothing", "If-Range: \"nope\"", 200),
        // If-Match (RFC 9110 §13.1.1).
        ("If-Match the current tag", "If-Match: {etag}", 200),
        ("If-Match star on an existing file", "If-Match: *", 200),
        (
            "If-Match a list holding the tag",
            "If-Match: \"a\", {etag}, \"b\"",
            200,
        ),
        ("If-Match another tag", "If-Match: \"nope\"", 412),
        // If-Unmodified-Since (§13.1.4).
        (
            "If-Unmodified-Since before the change",
            "If-Unmodified-Since: {before}",
            412,
        ),
        (
            "If-Unmodified-Since after the change",
            "If-Unmodified-Since: {after}",
            200,
        ),
        // If-None-Match (§13.1.2).
        (
            "If-None-Match the current tag",
            "If-None-Match: {etag}",
            304,
        ),
        ("If-None-Match star", "If-None-Match: *", 304),
        (
            "If-None-Match weak form of the tag (weak comparison)",
            "If-None-Match: W/{etag}",
            304,
        ),
        (
            "If-None-Match a list holding the tag",
            "If-None-Match: \"a\",{etag}",
            304,
        ),
        ("If-None-Match another tag", "If-None-Match: \"nope\"", 200),
        // If-Modified-Since (§13.1.3).
        ("If-Modified-Since later", "If-Modified-Since: {after}", 304),
        (
            "If-Modified-Since earlier",
            "If-Modified-Since: {before}",
            200,
        ),
    ];
    for &(name, headers, status) in rows {
        let headers = format!("{}\r\n", fill(headers, &etag));
        let resp = get_and_head(&srv, "/style.css", &headers);
        assert_eq!(resp.status, status, "{name}");
        match status {
            200 => assert_eq!(resp.text(), BODY, "{name}"),
            304 => assert_not_modified(name, &resp, &full),
            _ => assert_eq!(
                resp.text(),
                "412 Precondition Failed: the file does not meet the request's If-* conditions\n",
                "{name}"
            ),
        }
    }
}

/// RFC 9110 §15.4.5: a 304 carries the ETag, Last-Modified, Vary and Cache-Control the 200
/// would, no body, and no Content-Length other than the 200's.
fn assert_not_modified(name: &str, resp: &Resp, full: &Resp) {
    for header in ["etag", "last-modified", "vary", "cache-control"] {
        assert!(
            full.header(header).is_some(),
            "{name}: the 200 lacks {header}"
        );
        assert_eq!(
            resp.header(header),
            full.header(header),
            "{name}: {header} on 304"
        );
    }
    assert_eq!(resp.header("cache-control"), Some(CACHE_CONTROL));
    assert!(resp.body.is_empty(), "{name}: 304 with a body");
    if let Some(len) = resp.header("content-length") {
        assert_eq!(
            Some(len),
            full.header("content-length"),
            "{name}: Content-Length on 304"
        );
    }
    assert!(resp.header("transfer-encoding").is_none(), "{name}");
}

#[test]
fn preconditions_do_not_apply_where_the_response_would_not_be_2xx() {
    let srv = start();
    // RFC 9110 §13.2.1: "A server MUST ignore all received preconditions if its response to
    // the same request without those conditions ... would have been a status code other than
    // a 2xx (Successful) or 412 (Precondition Failed)."
    let rows: &[(&str, &str, &str, u16)] = &[
        (
            "missing file with If-Match star",
            "/missing.css",
            "If-Match: *",
            404,
        ),
        (
            "missing file with If-None-Match star",
            "/missing.css",
            "If-None-Match: *",
            404,
        ),
        (
            "bad path with If-None-Match star",
            "/%zz",
            "If-None-Match: *",
            400,
        ),
        (
            "folder redirect with If-Match",
            "/dir",
            "If-Match: \"nope\"",
            301,
        ),
        (
            "folder redirect with If-None-Match star",
            "/dir",
            "If-None-Match: *",
            301,
        ),
    ];
    for &(name, target, headers, status) in rows {
        let resp = get_and_head(&srv, target, &format!("{headers}\r\n"));
        assert_eq!(resp.status, status, "{name}");
    }
}

#[test]
fn other_methods_are_not_affected() {
    let srv = start();
    let etag = request(&srv, "GET", "/style.css", "")
        .header("etag")
        .unwrap()
        .to_string();
    let rows: &[(&str, &str, &str, u16)] = &[
        (
            "OPTIONS ignores a failing If-Match",
            "OPTIONS",
            "If-Match: \"nope\"",
            204,
        ),
        (
            "OPTIONS ignores If-None-Match star",
            "OPTIONS",
            "If-None-Match: *",
            204,
        ),
        (
            "TRACE ignores a failing If-Match",
            "TRACE",
            "If-Match: \"nope\"",
            200,
        ),
        (
            "TRACE ignores a matching If-None-Match",
            "TRACE",
            "If-None-Match: {etag}",
            200,
        ),
        // Writes are refused before preconditions are looked at (405 is not 2xx or 412).
        (
            "PUT with a failing If-Match is still 405",
            "PUT",
            "If-Match: \"nope\"",
            405,
        ),
        (
            "PUT with If-None-Match star is still 405",
            "PUT",
            "If-None-Match: *",
            405,
        ),
        (
            "DELETE with a matching If-Match is still 405",
            "DELETE",
            "If-Match: {etag}",
            405,
        ),
    ];
    for &(name, method, headers, status) in rows {
        let headers = format!("{}\r\nContent-Length: 0\r\n", fill(headers, &etag));
        let resp = request(&srv, method, "/style.css", &headers);
        assert_eq!(resp.status, status, "{name}");
    }
    // Nothing changed on disk.
    let after = get_and_head(&srv, "/style.css", "");
    assert_eq!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(after.text(), BODY);
}

#[test]
fn listing_revalidates_by_etag_only() {
    let srv = start();
    let full = get_and_head(&srv, "/dir/", "");
    let tag = full.header("etag").expect("listing ETag").to_string();
    let rows: &[(&str, String, u16)] = &[
        (
            "weak form of the listing tag",
            format!("If-None-Match: W/{tag}"),
            304,
        ),
        ("listing tag", format!("If-None-Match: {tag}"), 304),
        (
            "listing If-Match another tag",
            "If-Match: \"nope\"".to_string(),
            412,
        ),
        ("listing If-Match its tag", format!("If-Match: {tag}"), 200),
        // No Last-Modified on a listing: a date cannot validate it.
        (
            "listing If-Modified-Since",
            format!("If-Modified-Since: {}", fill("{after}", "")),
            200,
        ),
    ];
    for (name, headers, status) in rows {
        let resp = get_and_head(&srv, "/dir/", &format!("{headers}\r\n"));
        assert_eq!(resp.status, *status, "{name}");
        if *status == 304 {
            assert_eq!(resp.header("etag"), Some(tag.as_str()), "{name}");
            assert_eq!(resp.header("cache-control"), Some("no-cache"), "{name}");
            assert_eq!(resp.header("vary"), full.header("vary"), "{name}");
        }
    }
}

#[test]
fn a_304_follows_the_file_when_it_changes() {
    let srv = start();
    let old = get_and_head(&srv, "/style.css", "")
        .header("etag")
        .unwrap()
        .to_string();
    let path = srv.public().join("style.css");
    fs::write(&path, "body{color:blue}\n").unwrap();
    let resp = get_and_head(&srv, "/style.css", &format!("If-None-Match: {old}\r\n"));
    assert_eq!(resp.status, 200, "a stale tag no longer revalidates");
    assert_eq!(resp.text(), "body{color:blue}\n");
    let fresh = resp.header("etag").unwrap().to_string();
    assert_ne!(fresh, old);
    let resp = get_and_head(&srv, "/style.css", &format!("If-None-Match: {fresh}\r\n"));
    assert_eq!(resp.status, 304);
}
