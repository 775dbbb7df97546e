//! Byte ranges over real TCP (SPEC §3, RFC 9110 §14): every range form, coalescing,
//! `multipart/byteranges` parsed back and compared with the file, 416, ignored headers,
//! `max_ranges`, `If-Range`, HEAD, large files, and ranges never compressed.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{Resp, TestServer, request};

/// Length of `f.bin`, the file most rows ask ranges of.
const LEN: usize = 100;

/// Bytes where no offset repeats a neighbour's value, so a shifted slice never compares equal.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A text file long enough to be compressed (`min_bytes = 256`).
fn text(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[i % 27])
        .collect()
}

/// An hour ago: an mtime old enough that Last-Modified is a strong validator.
fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

fn write_old(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(an_hour_ago()).unwrap();
}

fn prepare(public: &Path) {
    write_old(&public.join("f.bin"), &pattern(LEN));
    write_old(&public.join("empty.bin"), b"");
    write_old(&public.join("page.txt"), &text(4000));
    std::fs::create_dir(public.join("dir")).unwrap();
    std::fs::write(public.join("dir/x.txt"), b"x").unwrap();
}

fn server(keys: &str) -> TestServer {
    TestServer::start_with(keys, "", prepare)
}

/// What a GET with a `Range` should get.
#[derive(Debug)]
enum Want {
    /// 200 with the whole file: the header is ignored.
    Full,
    /// 206 with one plain body `start..=end`.
    One(u64, u64),
    /// 206 `multipart/byteranges` with these parts, in this order.
    Parts(&'static [(u64, u64)]),
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Checks `resp` against `want` for a file whose bytes are `file` and type `mime`.
fn check(resp: &Resp, want: &Want, file: &[u8], mime: &str, what: &str) {
    let len = file.len();
    match want {
        Want::Full => {
            assert_eq!(resp.status, 200, "{what}: status");
            assert_eq!(resp.header("content-range"), None, "{what}: Content-Range");
            assert_eq!(resp.header("content-type"), Some(mime), "{what}: type");
            assert!(resp.body == file, "{what}: body is not the file");
        }
        Want::One(start, end) => {
            assert_eq!(resp.status, 206, "{what}: status");
            let range = format!("bytes {start}-{end}/{len}");
            assert_eq!(resp.header("content-range"), Some(range.as_str()), "{what}");
            assert_eq!(resp.header("content-type"), Some(mime), "{what}: type");
            let slice = &file[*start as usize..=*end as usize];
            let length = slice.len().to_string();
            assert_eq!(
                resp.header("content-length"),
                Some(length.as_str()),
                "{what}"
            );
            assert!(
                resp.body == slice,
                "{what}: body is not bytes {start}-{end}"
            );
        }
        Want::Parts(ranges) => {
            assert_eq!(resp.status, 206, "{what}: status");
            assert_eq!(
                resp.header("content-range"),
                None,
                "{what}: top Content-Range"
            );
            let parts = parse_multipart(resp, what);
            assert_eq!(parts.len(), ranges.len(), "{what}: part count");
            for (i, (part, (start, end))) in parts.iter().zip(ranges.iter()).enumerate() {
                let range = format!("bytes {start}-{end}/{len}");
                assert_eq!(
                    part.header("content-range"),
                    Some(range.as_str()),
                    "{what} #{i}"
                );
                assert_eq!(part.header("content-type"), Some(mime), "{what} #{i}: type");
                let slice = &file[*start as usize..=*end as usize];
                assert!(part.body == slice, "{what} #{i}: not bytes {start}-{end}");
            }
        }
        Want::Unsatisfiable => {
            assert_eq!(resp.status, 416, "{what}: status");
            let range = format!("bytes */{len}");
            assert_eq!(resp.header("content-range"), Some(range.as_str()), "{what}");
        }
    }
}

/// Splits a `multipart/byteranges` body at its delimiters (RFC 2046 §5.1.1) into parts, each
/// with its header fields and bytes; checks the declared `Content-Length` and the closing
/// delimiter. Each part's bytes run to the next delimiter, independently of its
/// `Content-Range`, so a wrong length shows up as wrong bytes.
fn parse_multipart(resp: &Resp, what: &str) -> Vec<Resp> {
    let ct = resp.header("content-type").unwrap_or("");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{what}: Content-Type {ct:?}"));
    let length = resp
        .header("content-length")
        .expect("multipart Content-Length");
    assert_eq!(
        length,
        resp.body.len().to_string(),
        "{what}: Content-Length"
    );
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // Prefix a CRLF so the first delimiter looks like every other one.
    let mut body = b"\r\n".to_vec();
    body.extend_from_slice(&resp.body);
    let mut parts = Vec::new();
    let mut rest = body
        .strip_prefix(delimiter.as_slice())
        .unwrap_or_else(|| panic!("{what}: body does not open with the boundary"));
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .unwrap_or_else(|| panic!("{what}: no CRLF after a delimiter"));
        let end = find(rest, &delimiter).unwrap_or_else(|| panic!("{what}: unterminated part"));
        let (part, next) = rest.split_at(end);
        let head_end = find(part, b"\r\n\r\n").expect("part head");
        let head = std::str::from_utf8(&part[..head_end]).expect("ASCII part head");
        let headers = head
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(':').expect("part header colon");
                (name.to_string(), value.trim().to_string())
            })
            .collect();
        parts.push(Resp {
            status: 0,
            version: String::new(),
            headers,
            body: part[head_end + 4..].to_vec(),
        });
        rest = &next[delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn range(value: &str) -> String {
    format!("Range: {value}\r\n")
}

#[test]
fn every_range_form_on_a_small_file() {
    let srv = server("");
    let file = pattern(LEN);
    let mime = "application/octet-stream";
    let rows: &[(&str, &str, Want)] = &[
        // Hostile and malformed first: each is ignored as a whole (RFC 9110 §14.2).
        ("unit is not bytes", "items=0-1", Want::Full),
        ("no equals sign", "bytes", Want::Full),
        ("letters", "bytes=abc", Want::Full),
        ("last before first", "bytes=5-1", Want::Full),
        ("empty set", "bytes=", Want::Full),
        ("only commas", "bytes=,,", Want::Full),
        ("lone dash", "bytes=-", Want::Full),
        ("double dash", "bytes=--5", Want::Full),
        ("negative first", "bytes=-5-10", Want::Full),
        ("past u64", "bytes=0-99999999999999999999999", Want::Full),
        ("inner whitespace", "bytes=1 - 2", Want::Full),
        ("signed number", "bytes=+1-2", Want::Full),
        ("one bad spec spoils all", "bytes=0-1,x", Want::Full),
        ("start past the end", "bytes=100-200", Want::Unsatisfiable),
        ("zero suffix", "bytes=-0", Want::Unsatisfiable),
        (
            "none satisfiable",
            "bytes=200-,300-400",
            Want::Unsatisfiable,
        ),
        // Every form.
        ("a-b", "bytes=10-19", Want::One(10, 19)),
        ("a-", "bytes=90-", Want::One(90, 99)),
        ("-n", "bytes=-5", Want::One(95, 99)),
        ("clipped end", "bytes=95-1000", Want::One(95, 99)),
        (
            "suffix larger than the file",
            "bytes=-1000",
            Want::One(0, 99),
        ),
        ("first byte", "bytes=0-0", Want::One(0, 0)),
        ("last byte", "bytes=99-99", Want::One(99, 99)),
        ("unit case-insensitive", "BYTES=3-4", Want::One(3, 4)),
        (
            "whitespace and empty elements",
            "bytes= 1-2 , ,",
            Want::One(1, 2),
        ),
        (
            "unsatisfiable dropped",
            "bytes=200-300,0-4",
            Want::One(0, 4),
        ),
        // Coalescing (RFC 9110 §14.2).
        ("overlapping coalesced", "bytes=0-9,5-14", Want::One(0, 14)),
        ("adjacent coalesced", "bytes=0-9,10-19", Want::One(0, 19)),
        ("contained coalesced", "bytes=0-50,10-20", Want::One(0, 50)),
        ("chain coalesced", "bytes=50-59,0-9,5-54", Want::One(0, 59)),
        ("suffix overlaps a-", "bytes=90-,-5", Want::One(90, 99)),
        (
            "apart, client order",
            "bytes=20-29,0-9",
            Want::Parts(&[(20, 29), (0, 9)]),
        ),
        (
            "merge takes the place of its first member",
            "bytes=80-89,0-4,40-49,45-60",
            Want::Parts(&[(80, 89), (0, 4), (40, 60)]),
        ),
        (
            "three forms",
            "bytes=0-0,50-59,-1",
            Want::Parts(&[(0, 0), (50, 59), (99, 99)]),
        ),
    ];
    for (name, value, want) in rows {
        let resp = request(&srv, "GET", "/f.bin", &range(value));
        check(&resp, want, &file, mime, &format!("{name} ({value})"));
    }
}

#[test]
fn ranges_of_an_empty_file() {
    let srv = server("");
    let rows: &[(&str, &str, Want)] = &[
        ("first byte", "bytes=0-0", Want::Unsatisfiable),
        ("open range", "bytes=0-", Want::Unsatisfiable),
        ("zero suffix", "bytes=-0", Want::Unsatisfiable),
        // RFC 9110 §14.1.2: a non-zero suffix uses "the entire representation".
        ("suffix", "bytes=-5", Want::Full),
    ];
    for (name, value, want) in rows {
        let resp = request(&srv, "GET", "/empty.bin", &range(value));
        check(&resp, want, b"", "application/octet-stream", name);
    }
}

#[test]
fn more_than_max_ranges_get_the_whole_file() {
    let srv = server("max_ranges = 2");
    let file = pattern(LEN);
    let mime = "application/octet-stream";
    let rows: &[(&str, &str, Want)] = &[
        ("three apart", "bytes=0-0,2-2,4-4", Want::Full),
        // SPEC §2: "counted as sent", before coalescing.
        ("three that coalesce", "bytes=0-9,5-14,10-19", Want::Full),
        ("three, one unsatisfiable", "bytes=0-0,2-2,500-", Want::Full),
        ("two apart", "bytes=0-0,2-2", Want::Parts(&[(0, 0), (2, 2)])),
        (
            "two and empty elements",
            "bytes=0-0,,2-2,",
            Want::Parts(&[(0, 0), (2, 2)]),
        ),
    ];
    for (name, value, want) in rows {
        let resp = request(&srv, "GET", "/f.bin", &range(value));
        check(&resp, want, &file, mime, name);
    }
}

#[test]
fn ten_thousand_ranges_are_answered_quickly() {
    let file = pattern(LEN);
    let mime = "application/octet-stream";
    let many_apart = format!("bytes={}", vec!["0-0"; 10_000].join(","));
    let many_coalescing = (0..10_000)
        .map(|i| format!("{}-{}", i % 90, i % 90 + 5))
        .collect::<Vec<_>>()
        .join(",");
    let many_coalescing = format!("bytes={many_coalescing}");
    let keys = "max_header_bytes = 262144";
    let capped = server(keys);
    let uncapped = server(&format!("{keys}\nmax_ranges = 20000"));
    let rows: &[(&str, &TestServer, &str, Want)] = &[
        ("over the default cap", &capped, &many_apart, Want::Full),
        (
            "same range 10,000 times",
            &uncapped,
            &many_apart,
            Want::One(0, 0),
        ),
        (
            "10,000 overlapping",
            &uncapped,
            &many_coalescing,
            Want::One(0, 94),
        ),
    ];
    for (name, srv, value, want) in rows {
        let start = Instant::now();
        let resp = request(srv, "GET", "/f.bin", &range(value));
        let took = start.elapsed();
        check(&resp, want, &file, mime, name);
        // Tens of milliseconds on an idle machine; the budget leaves room for a loaded CI
        // box while still catching quadratic work (seconds at this size).
        assert!(took < Duration::from_secs(5), "{name}: took {took:?}");
    }
}

#[test]
fn if_range_decides_between_206_and_200() {
    let srv = server("");
    let file = pattern(LEN);
    let mime = "application/octet-stream";
    let plain = request(&srv, "GET", "/f.bin", "");
    let etag = plain.header("etag").unwrap().to_string();
    let modified = plain.header("last-modified").unwrap().to_string();
    let later = httpdate::fmt_http_date(SystemTime::now());
    let rows: &[(&str, String, Want)] = &[
        ("old ETag", "\"old\"".to_string(), Want::Full),
        ("weak form of the ETag", format!("W/{etag}"), Want::Full),
        ("another date", later, Want::Full),
        (
            "a date one second off",
            one_second_later(&modified),
            Want::Full,
        ),
        ("garbage", "yesterday".to_string(), Want::Full),
        ("empty", String::new(), Want::Full),
        (
            "ETag without quotes",
            etag.trim_matches('"').to_string(),
            Want::Full,
        ),
        ("current ETag", etag.clone(), Want::One(10, 19)),
        ("Last-Modified date", modified.clone(), Want::One(10, 19)),
    ];
    for (name, value, want) in rows {
        let headers = format!("Range: bytes=10-19\r\nIf-Range: {value}\r\n");
        let resp = request(&srv, "GET", "/f.bin", &headers);
        check(&resp, want, &file, mime, &format!("If-Range {name}"));
    }
}

/// RFC 9110 §13.1.5: "If the HTTP-date validator provided is not a strong validator in the
/// sense defined by Section 8.8.2.2, the condition is false." A file stamped in the future has
/// `Last-Modified` capped at the current second, during which it may still change (§8.8.2.2),
/// so its date is weak and a date `If-Range` gets the whole file.
#[test]
fn if_range_with_a_weak_date_gets_the_whole_file() {
    let file = pattern(LEN);
    let srv = TestServer::start_with("", "", |public| {
        let path = public.join("f.bin");
        std::fs::write(&path, &file).unwrap();
        let handle = std::fs::File::options().write(true).open(&path).unwrap();
        handle
            .set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
    });
    let plain = request(&srv, "GET", "/f.bin", "");
    let modified = plain.header("last-modified").unwrap();
    let headers = format!("Range: bytes=10-19\r\nIf-Range: {modified}\r\n");
    let resp = request(&srv, "GET", "/f.bin", &headers);
    check(
        &resp,
        &Want::Full,
        &file,
        "application/octet-stream",
        "future mtime",
    );
}

fn one_second_later(date: &str) -> String {
    let t = httpdate::parse_http_date(date).unwrap();
    httpdate::fmt_http_date(t + Duration::from_secs(1))
}

#[test]
fn head_with_range_answers_as_head_without() {
    let srv = server("");
    let without_date = |r: &Resp| {
        r.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .cloned()
            .collect::<Vec<_>>()
    };
    for target in ["/f.bin", "/page.txt"] {
        let plain = request(&srv, "HEAD", target, "");
        assert_eq!(plain.status, 200);
        for value in ["bytes=0-9", "bytes=0-0,5-5", "bytes=500-", "bytes=abc"] {
            let ranged = request(&srv, "HEAD", target, &range(value));
            let what = format!("HEAD {target} Range: {value}");
            assert_eq!(ranged.status, 200, "{what}");
            assert_eq!(without_date(&ranged), without_date(&plain), "{what}");
        }
    }
}

#[test]
fn ranges_of_a_large_file_near_its_end() {
    const BIG: usize = 8 << 20;
    let file = pattern(BIG);
    let srv = TestServer::start_with("", "", |public| {
        std::fs::write(public.join("big.bin"), &file).unwrap();
    });
    let mime = "application/octet-stream";
    let rows: &[(&str, &str, Want)] = &[
        ("past the end", "bytes=8388608-", Want::Unsatisfiable),
        (
            "last byte",
            "bytes=8388607-",
            Want::One(8_388_607, 8_388_607),
        ),
        ("suffix", "bytes=-100", Want::One(8_388_508, 8_388_607)),
        (
            "near the end",
            "bytes=8388000-8388600",
            Want::One(8_388_000, 8_388_600),
        ),
        (
            "a large tail",
            "bytes=4000000-",
            Want::One(4_000_000, 8_388_607),
        ),
        (
            "far apart",
            "bytes=8388600-8388607,1-2,5000000-5100000",
            Want::Parts(&[(8_388_600, 8_388_607), (1, 2), (5_000_000, 5_100_000)]),
        ),
    ];
    for (name, value, want) in rows {
        let resp = request(&srv, "GET", "/big.bin", &range(value));
        check(&resp, want, &file, mime, name);
    }
}

#[test]
fn a_206_is_never_compressed() {
    let srv = server("");
    let file = text(4000);
    let mime = "text/plain; charset=utf-8";
    let identity = request(&srv, "GET", "/page.txt", "");
    let etag = identity.header("etag").unwrap().to_string();
    let rows: &[(&str, &str, Want)] = &[
        ("one range", "bytes=0-9", Want::One(0, 9)),
        ("suffix", "bytes=-300", Want::One(3700, 3999)),
        (
            "several",
            "bytes=100-199,0-9",
            Want::Parts(&[(100, 199), (0, 9)]),
        ),
    ];
    for (name, value, want) in rows {
        for accept in ["gzip", "deflate", "gzip, deflate, *"] {
            let headers = format!("Range: {value}\r\nAccept-Encoding: {accept}\r\n");
            let resp = request(&srv, "GET", "/page.txt", &headers);
            let what = format!("{name} with {accept}");
            check(&resp, want, &file, mime, &what);
            assert_eq!(resp.header("content-encoding"), None, "{what}");
            assert_eq!(resp.header("etag"), Some(etag.as_str()), "{what}: ETag");
        }
    }
    // A Range that is ignored leaves compression as it was.
    let headers = "Range: bytes=abc\r\nAccept-Encoding: gzip\r\n";
    let resp = request(&srv, "GET", "/page.txt", headers);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
}

#[test]
fn range_on_a_listing_or_a_404_is_ignored() {
    let srv = server("");
    let plain = request(&srv, "GET", "/dir/", "");
    assert_eq!(plain.status, 200, "listing");
    let rows: &[(&str, &str, u16)] = &[
        ("listing", "/dir/", 200),
        ("missing file", "/nope.bin", 404),
        ("missing folder", "/nope/", 404),
    ];
    for (name, target, status) in rows {
        for value in ["bytes=0-0", "bytes=0-0,2-3", "bytes=100000-"] {
            let resp = request(&srv, "GET", target, &range(value));
            let what = format!("{name} Range: {value}");
            assert_eq!(resp.status, *status, "{what}");
            assert_eq!(resp.header("content-range"), None, "{what}");
            if *status == 200 {
                assert_eq!(resp.body, plain.body, "{what}: listing body");
            }
        }
    }
}
