//! Compression over real TCP (SPEC §2 `[compression]`, §3): `Accept-Encoding` negotiation,
//! bodies that decode to the file byte for byte, one ETag per coding, `Vary`, HEAD, streamed
//! (chunked) bodies, conditional requests on the encoded tag, and precompressed `.gz` files.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Resp, TestServer, decode, get_and_head, gzip, request};

/// Compressible text that does not repeat too simply.
fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("line {i} of the text, value {}\n", i * i % 977).as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn set_mtime(path: &Path, when: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

fn accept(coding: &str) -> String {
    format!("Accept-Encoding: {coding}\r\n")
}

/// Asserts `resp` is a 200 of `file` sent with `coding` (`None`: identity).
fn assert_coded(resp: &Resp, file: &[u8], coding: Option<&str>, what: &str) {
    assert_eq!(resp.status, 200, "{what}: status");
    assert_eq!(
        resp.header("content-encoding"),
        coding,
        "{what}: Content-Encoding"
    );
    assert!(
        decode(&resp.body, coding) == file,
        "{what}: body does not decode to the file"
    );
}

fn prepare(public: &Path) {
    std::fs::write(public.join("page.txt"), text(20_000)).unwrap();
    std::fs::write(public.join("small.txt"), text(255)).unwrap();
    std::fs::write(public.join("edge.txt"), text(256)).unwrap();
    std::fs::write(public.join("pic.png"), text(20_000)).unwrap();
    std::fs::write(public.join("data.json"), text(5_000)).unwrap();
}

#[test]
fn accept_encoding_picks_the_coding() {
    let srv = TestServer::start_with("", "", prepare);
    let file = text(20_000);
    let rows: &[(&str, Option<&str>, Option<&str>)] = &[
        // Refusals and junk first: identity.
        ("gzip refused", Some("gzip;q=0"), None),
        ("everything refused", Some("*;q=0"), None),
        ("both refused", Some("gzip;q=0, deflate;q=0"), None),
        ("refused under an alias", Some("gzip, x-gzip;q=0"), None),
        ("q above one", Some("gzip;q=2"), None),
        ("q not a number", Some("gzip;q=abc"), None),
        ("unknown coding only", Some("br, zstd"), None),
        ("empty header", Some(""), None),
        ("absent header", None, None),
        ("identity preferred", Some("identity, gzip;q=0.5"), None),
        // Choices.
        (
            "deflate preferred by q",
            Some("deflate;q=0.9, gzip;q=0.5"),
            Some("deflate"),
        ),
        (
            "gzip preferred by q",
            Some("deflate;q=0.4, gzip;q=0.5"),
            Some("gzip"),
        ),
        ("x-gzip alias", Some("x-gzip"), Some("gzip")),
        ("gzip", Some("gzip"), Some("gzip")),
        ("deflate", Some("deflate"), Some("deflate")),
        ("tie goes to gzip", Some("deflate, gzip"), Some("gzip")),
        ("star", Some("*"), Some("gzip")),
        ("refusal beats star", Some("gzip;q=0, *"), Some("deflate")),
        ("case-insensitive", Some("GZIP"), Some("gzip")),
    ];
    let mut tags: Vec<(Option<&str>, String)> = Vec::new();
    for (name, header, want) in rows {
        let headers = header.map(accept).unwrap_or_default();
        let resp = get_and_head(&srv, "/page.txt", &headers);
        assert_coded(&resp, &file, *want, name);
        assert_eq!(resp.header("vary"), Some("Accept-Encoding"), "{name}: Vary");
        let length = resp.body.len().to_string();
        assert_eq!(
            resp.header("content-length"),
            Some(length.as_str()),
            "{name}"
        );
        let tag = resp.header("etag").expect("ETag").to_string();
        assert!(!tag.starts_with("W/"), "{name}: weak ETag {tag}");
        // One tag per coding: the same coding always gets the same tag.
        match tags.iter().find(|(c, _)| c == want) {
            Some((_, seen)) => assert_eq!(&tag, seen, "{name}: ETag of {want:?}"),
            None => tags.push((*want, tag)),
        }
    }
    assert_eq!(tags.len(), 3, "identity, gzip and deflate all seen");
    assert!(
        tags[0].1 != tags[1].1 && tags[1].1 != tags[2].1 && tags[0].1 != tags[2].1,
        "one ETag per coding: {tags:?}"
    );
}

#[test]
fn what_is_not_compressed() {
    let srv = TestServer::start_with("", "", prepare);
    // (name, target, file, Vary expected)
    let rows: &[(&str, &str, Vec<u8>, bool)] = &[
        ("below min_bytes", "/small.txt", text(255), true),
        ("not a compressible type", "/pic.png", text(20_000), false),
    ];
    for (name, target, file, vary) in rows {
        for coding in ["gzip", "deflate", "*"] {
            let what = format!("{name} with {coding}");
            let resp = get_and_head(&srv, target, &accept(coding));
            assert_coded(&resp, file, None, &what);
            let want_vary = vary.then_some("Accept-Encoding");
            assert_eq!(resp.header("vary"), want_vary, "{what}: Vary");
        }
    }
    let rows: &[(&str, &str, Vec<u8>)] = &[
        ("exactly min_bytes", "/edge.txt", text(256)),
        ("application/json", "/data.json", text(5_000)),
    ];
    for (name, target, file) in rows {
        let resp = get_and_head(&srv, target, &accept("gzip"));
        assert_coded(&resp, file, Some("gzip"), name);
    }
}

#[test]
fn disabled_compression_sends_no_content_encoding() {
    let srv = TestServer::start_with("", "[compression]\nenabled = false", |public| {
        prepare(public);
        std::fs::write(public.join("app.css"), text(3000)).unwrap();
        std::fs::write(public.join("app.css.gz"), gzip(b"precompressed")).unwrap();
    });
    let rows: &[(&str, &str, Vec<u8>)] = &[
        ("precompressed sibling", "/app.css", text(3000)),
        ("compressible text", "/page.txt", text(20_000)),
    ];
    for (name, target, file) in rows {
        for coding in ["gzip", "deflate", "gzip, deflate, *"] {
            let what = format!("{name} with {coding}");
            let resp = get_and_head(&srv, target, &accept(coding));
            assert_coded(&resp, file, None, &what);
        }
    }
}

#[test]
fn a_large_file_streams_chunked_gzip() {
    let file = text(1 << 20);
    let srv = TestServer::start_with("", "[cache]\nmax_file_bytes = 65536", |public| {
        std::fs::write(public.join("big.txt"), &file).unwrap();
    });
    for coding in ["gzip", "deflate"] {
        // get_and_head: HEAD announces the same framing GET uses.
        let resp = get_and_head(&srv, "/big.txt", &accept(coding));
        assert_coded(&resp, &file, Some(coding), coding);
        assert_eq!(
            resp.header("transfer-encoding"),
            Some("chunked"),
            "{coding}"
        );
        assert_eq!(resp.header("content-length"), None, "{coding}");
        assert!(resp.body.len() < file.len() / 2, "{coding}: not compressed");
    }
    let resp = get_and_head(&srv, "/big.txt", "");
    assert_coded(&resp, &file, None, "identity");
    assert_eq!(resp.header("content-length"), Some("1048576"));
}

#[test]
fn head_sends_the_headers_get_sends() {
    let srv = TestServer::start_with("", "", prepare);
    for target in ["/page.txt", "/small.txt", "/pic.png"] {
        for headers in [
            "",
            "Accept-Encoding: gzip\r\n",
            "Accept-Encoding: deflate\r\n",
        ] {
            get_and_head(&srv, target, headers);
        }
    }
}

#[test]
fn conditional_requests_use_the_encoded_tag() {
    let srv = TestServer::start_with("", "", prepare);
    let identity = request(&srv, "GET", "/page.txt", "");
    let gzipped = request(&srv, "GET", "/page.txt", &accept("gzip"));
    let id_tag = identity.header("etag").unwrap().to_string();
    let gz_tag = gzipped.header("etag").unwrap().to_string();
    assert_ne!(id_tag, gz_tag);
    // (name, If-None-Match, Accept-Encoding, status, Content-Encoding on a 200)
    let rows: &[(&str, &str, &str, u16, Option<&str>)] = &[
        (
            "identity tag, gzip accepted",
            &id_tag,
            "gzip",
            200,
            Some("gzip"),
        ),
        ("gzip tag, gzip refused", &gz_tag, "gzip;q=0", 200, None),
        (
            "gzip tag, deflate chosen",
            &gz_tag,
            "deflate",
            200,
            Some("deflate"),
        ),
        ("gzip tag, no Accept-Encoding", &gz_tag, "", 200, None),
        ("gzip tag, gzip accepted", &gz_tag, "gzip", 304, None),
        (
            "both tags, gzip accepted",
            &format!("{id_tag}, {gz_tag}"),
            "gzip",
            304,
            None,
        ),
        ("identity tag, identity", &id_tag, "identity", 304, None),
    ];
    let file = text(20_000);
    for (name, tags, coding, status, want) in rows {
        let mut headers = format!("If-None-Match: {tags}\r\n");
        if !coding.is_empty() {
            headers.push_str(&accept(coding));
        }
        let resp = get_and_head(&srv, "/page.txt", &headers);
        assert_eq!(resp.status, *status, "{name}");
        assert_eq!(resp.header("vary"), Some("Accept-Encoding"), "{name}: Vary");
        if *status == 200 {
            assert_coded(&resp, &file, *want, name);
        } else {
            assert_eq!(
                resp.header("content-encoding"),
                None,
                "{name}: 304 body headers"
            );
            let sent = if *coding == "gzip" { &gz_tag } else { &id_tag };
            assert_eq!(resp.header("etag"), Some(sent.as_str()), "{name}: 304 ETag");
        }
    }
}

/// `app.css` beside `app.css.gz` whose content differs (so a test can tell the sibling was
/// used), the `.gz` as new as the `.css` when `gz_newer`, else an hour older.
fn precompressed_site(public: &Path, gz_newer: bool) {
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    std::fs::write(public.join("app.css"), text(3000)).unwrap();
    std::fs::write(public.join("app.css.gz"), gzip(b"from the sibling")).unwrap();
    set_mtime(&public.join("app.css"), now - hour);
    let gz_time = if gz_newer { now - hour } else { now - 2 * hour };
    set_mtime(&public.join("app.css.gz"), gz_time);
}

#[test]
fn precompressed_siblings() {
    let css = text(3000);
    let sibling = gzip(b"from the sibling");
    let outside = TestServer::start_with("", "", |public| {
        precompressed_site(public, true);
        let target = public.parent().unwrap().join("outside.gz");
        std::fs::write(&target, gzip(b"outside the root")).unwrap();
        std::fs::remove_file(public.join("app.css.gz")).unwrap();
        std::os::unix::fs::symlink(&target, public.join("app.css.gz")).unwrap();
    });
    let older = TestServer::start_with("", "", |p| precompressed_site(p, false));
    let off = TestServer::start_with("", "[compression]\nprecompressed = false", |p| {
        precompressed_site(p, true)
    });
    let used = TestServer::start_with("", "", |p| precompressed_site(p, true));
    // (name, server, Accept-Encoding, the sibling is sent, coding otherwise)
    let rows: &[(&str, &TestServer, &str, bool, Option<&str>)] = &[
        (
            "symlink out of the root",
            &outside,
            "gzip",
            false,
            Some("gzip"),
        ),
        ("older than the file", &older, "gzip", false, Some("gzip")),
        ("precompressed = false", &off, "gzip", false, Some("gzip")),
        (
            "gzip refused",
            &used,
            "gzip;q=0, deflate",
            false,
            Some("deflate"),
        ),
        (
            "deflate preferred",
            &used,
            "deflate, gzip;q=0.5",
            false,
            Some("deflate"),
        ),
        ("no Accept-Encoding", &used, "", false, None),
        ("gzip accepted", &used, "gzip", true, None),
        ("x-gzip accepted", &used, "x-gzip", true, None),
    ];
    for (name, srv, coding, from_sibling, otherwise) in rows {
        let headers = if coding.is_empty() {
            String::new()
        } else {
            accept(coding)
        };
        let resp = get_and_head(srv, "/app.css", &headers);
        assert_eq!(resp.header("vary"), Some("Accept-Encoding"), "{name}: Vary");
        let identity = request(srv, "GET", "/app.css", "");
        let id_tag = identity.header("etag").unwrap();
        if *from_sibling {
            assert_eq!(resp.status, 200, "{name}");
            assert_eq!(resp.header("content-encoding"), Some("gzip"), "{name}");
            assert!(resp.body == sibling, "{name}: not the sibling's bytes");
            let length = sibling.len().to_string();
            assert_eq!(
                resp.header("content-length"),
                Some(length.as_str()),
                "{name}"
            );
            let tag = resp.header("etag").unwrap();
            assert_ne!(tag, id_tag, "{name}: the sibling has its own ETag");
            // The sibling's tag validates: a 304 for it, with gzip accepted.
            let inm = format!("If-None-Match: {tag}\r\n{headers}");
            let revalidated = get_and_head(srv, "/app.css", &inm);
            assert_eq!(revalidated.status, 304, "{name}: revalidation");
            assert_eq!(revalidated.header("etag"), Some(tag), "{name}: 304 ETag");
        } else {
            assert_coded(&resp, &css, *otherwise, name);
        }
    }
    // Once the sibling is gone, the file is compressed on the fly, under another tag.
    let precompressed = request(&used, "GET", "/app.css", &accept("gzip"));
    std::fs::remove_file(used.public().join("app.css.gz")).unwrap();
    let on_the_fly = request(&used, "GET", "/app.css", &accept("gzip"));
    assert_coded(&on_the_fly, &css, Some("gzip"), "sibling removed");
    assert_ne!(on_the_fly.header("etag"), precompressed.header("etag"));
}

/// RFC 9112 §6.3: an HTTP/1.0 response of unknown length ends when the connection closes, so
/// a streamed (chunk-less) body must really close it, even when the client asked for
/// keep-alive. `keep_alive_s = 60`: a server that idles instead makes the read time out.
#[test]
fn http_1_0_streamed_gzip_ends_with_a_close() {
    let file = text(1 << 20);
    let srv = TestServer::start_with(
        "keep_alive_s = 60",
        "[cache]\nmax_file_bytes = 65536",
        |public| {
            std::fs::write(public.join("big.txt"), &file).unwrap();
        },
    );
    for method in ["GET", "HEAD"] {
        let mut stream = srv.connect();
        let raw = format!(
            "{method} /big.txt HTTP/1.0\r\nConnection: keep-alive\r\nAccept-Encoding: gzip\r\n\r\n"
        );
        std::io::Write::write_all(&mut stream, raw.as_bytes()).unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let resp = common::read_response(&mut reader, method == "HEAD");
        assert_eq!(resp.header("connection"), Some("close"), "{method}");
        assert_eq!(resp.header("transfer-encoding"), None, "{method}");
        if method == "GET" {
            assert_coded(&resp, &file, Some("gzip"), "HTTP/1.0 GET");
        }
        assert!(common::is_closed(reader.get_mut()), "{method}: left open");
    }
}
