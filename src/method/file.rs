//! One regular file for GET and HEAD: pick the representation (identity, gzip/deflate, or a
//! precompressed sibling), evaluate preconditions, then answer 200, 206, 304, 412 or 416 with
//! a body from the cache or the disk.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cache::Stamp;
use crate::compress::{self, Coding};
use crate::conditional::{self, Outcome, Validators};
use crate::config::Config;
use crate::error::Error;
use crate::fs::etag;
use crate::fs::path::canonical_within;
use crate::http::Method;
use crate::http::response::{Body, Response};
use crate::metrics::Counter;
use crate::range::{self, ByteRange, ByteRangesBody, RangeOutcome};
use crate::request::Request;

/// Single ranges up to this size are read into memory with one `pread`.
const PREAD_MAX: u64 = 16 * 1024;

/// Headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5).
const KEPT_ON_304: [&str; 4] = ["ETag", "Vary", "Cache-Control", "Last-Modified"];

/// What is known of the file before any body is produced.
struct FileInfo<'p> {
    path: &'p Path,
    len: u64,
    stamp: Stamp,
    mime: String,
    /// The identity representation's strong ETag.
    tag: String,
    /// Capped at now (RFC 9110 §8.8.2.1).
    modified: Option<SystemTime>,
    /// `[compression]` would encode this type.
    compressible: bool,
}

/// The representation selected for this request.
enum Representation {
    Identity,
    /// Encoded on the fly (or taken from the cache).
    Encoded(Coding),
    /// A `.gz` sibling on disk, at least as new as the file.
    Precompressed {
        path: PathBuf,
        meta: Metadata,
    },
}

/// Serves the regular file at `path` (canonical, inside `root`: the folder the request maps
/// into), as `meta` describes it.
#[inline(never)] // see method/mod.rs
pub fn serve(
    req: &Request<'_>,
    root: &Path,
    path: &Path,
    meta: &Metadata,
) -> Result<Response, Error> {
    // Only regular files: opening a named pipe would block this thread until a writer came.
    if !meta.is_file() {
        return Err(Error::NotFound);
    }
    let info = FileInfo::new(req.config, path, meta);
    let ranges = requested_ranges(req, &info);
    let rep = select(req, root, &info, ranges.is_some());
    let tag = rep.tag(&info);
    let response = headers(req.config, &info, &rep, &tag);
    let validators = Validators {
        etag: Some(&tag),
        last_modified: info.modified,
    };
    match conditional::evaluate(req.head, &validators) {
        Outcome::Proceed => {}
        Outcome::NotModified => return Ok(not_modified(response)),
        Outcome::Failed => return Err(Error::PreconditionFailed),
    }
    match ranges {
        Some(RangeOutcome::Satisfiable(ranges)) => partial(&info, response, ranges),
        Some(RangeOutcome::Unsatisfiable) => {
            Ok(range::unsatisfiable(info.len, range::Beyond::Ranges))
        }
        Some(RangeOutcome::Full) | None => full(req, &info, &rep, response),
    }
}

impl<'p> FileInfo<'p> {
    fn new(config: &Config, path: &'p Path, meta: &Metadata) -> FileInfo<'p> {
        let mime = content_type(path);
        let c = &config.compression;
        let stamp = Stamp::of(meta);
        FileInfo {
            path,
            len: meta.len(),
            stamp,
            compressible: c.enabled && compress::is_compressible(&c.types, &mime),
            mime,
            tag: etag::for_stamp(&stamp),
            modified: meta.modified().ok().map(|m| m.min(SystemTime::now())),
        }
    }
}

/// The ranges to answer, when a `Range` applies: GET only (RFC 9110 §14.2: "A server MUST
/// ignore a Range header field received with a request method that is unrecognized or for
/// which range handling is not defined"; HEAD answers as HEAD without it), and only while
/// `If-Range` still matches the identity representation.
fn requested_ranges(req: &Request<'_>, info: &FileInfo<'_>) -> Option<RangeOutcome> {
    if *req.head.method() != Method::Get {
        return None;
    }
    let header = req.head.header("range")?;
    let validators = Validators {
        etag: Some(&info.tag),
        last_modified: info.modified,
    };
    if !conditional::if_range_allows(req.head, &validators) {
        return None;
    }
    match range::parse_range(header, info.len, req.config.server.max_ranges) {
        RangeOutcome::Full => None,
        outcome => Some(outcome),
    }
}

/// Picks the representation: 206 responses are never compressed; else the client's
/// preferred coding, a precompressed sibling first.
fn select(req: &Request<'_>, root: &Path, info: &FileInfo<'_>, ranged: bool) -> Representation {
    let c = &req.config.compression;
    if ranged || !c.enabled {
        return Representation::Identity;
    }
    let coding = compress::negotiate(req.head.header("accept-encoding"));
    if coding == Coding::Gzip
        && c.precompressed
        && let Some((path, meta)) = precompressed(root, info)
    {
        return Representation::Precompressed { path, meta };
    }
    if coding == Coding::Identity || !info.compressible || info.len < c.min_bytes {
        return Representation::Identity;
    }
    Representation::Encoded(coding)
}

/// `foo.css.gz` beside `foo.css`: a regular file inside `root`, at least as new.
fn precompressed(root: &Path, info: &FileInfo<'_>) -> Option<(PathBuf, Metadata)> {
    let mut name = info.path.file_name()?.to_os_string();
    name.push(".gz");
    let sibling = info.path.with_file_name(name);
    // One cheap lstat first: most files have no sibling.
    std::fs::symlink_metadata(&sibling).ok()?;
    let canonical = canonical_within(root, &sibling).ok().flatten()?;
    let meta = std::fs::metadata(&canonical).ok()?;
    let fresh = match (meta.modified(), info.modified) {
        (Ok(gz), Some(original)) => gz >= original,
        _ => false,
    };
    (meta.is_file() && fresh).then_some((canonical, meta))
}

impl Representation {
    /// The strong ETag of this representation: each coding has its own.
    fn tag(&self, info: &FileInfo<'_>) -> String {
        match self {
            Representation::Identity => info.tag.clone(),
            Representation::Encoded(coding) => compress::tag_for(&info.tag, *coding),
            Representation::Precompressed { meta, .. } => {
                compress::tag_for(&etag::for_file(meta), Coding::Gzip)
            }
        }
    }

    fn coding(&self) -> Coding {
        match self {
            Representation::Identity => Coding::Identity,
            Representation::Encoded(coding) => *coding,
            Representation::Precompressed { .. } => Coding::Gzip,
        }
    }
}

/// The headers of a 200 for a file (SPEC §3).
fn headers(config: &Config, info: &FileInfo<'_>, rep: &Representation, tag: &str) -> Response {
    let mut response = Response::new(200);
    let precompressed = matches!(rep, Representation::Precompressed { .. });
    if info.compressible || precompressed {
        response = response.header("Vary", "Accept-Encoding");
    }
    response = response
        .header("Content-Type", with_charset(&info.mime))
        .header("ETag", tag.to_string())
        .header("Accept-Ranges", "bytes");
    if rep.coding() != Coding::Identity {
        response = response.header("Content-Encoding", rep.coding().token());
    }
    if let Some(modified) = info.modified {
        response = response.header("Last-Modified", httpdate::fmt_http_date(modified));
    }
    if let Some(cc) = &config.server.cache_control {
        response = response.header("Cache-Control", cc.clone());
    }
    response
}

/// A 304 made from the 200's headers: only those RFC 9110 §15.4.5 keeps.
pub fn not_modified(full: Response) -> Response {
    let mut response = Response::new(304);
    response.headers = full
        .headers
        .into_iter()
        .filter(|(name, _)| KEPT_ON_304.iter().any(|k| k.eq_ignore_ascii_case(name)))
        .collect();
    response
}

/// The whole representation.
fn full(
    req: &Request<'_>,
    info: &FileInfo<'_>,
    rep: &Representation,
    response: Response,
) -> Result<Response, Error> {
    let body = match rep {
        Representation::Identity => identity_body(req, info)?,
        Representation::Encoded(coding) => encoded_body(req, info, *coding)?,
        Representation::Precompressed { path, meta } => {
            let gz = FileInfo::new(req.config, path, meta);
            identity_body(req, &gz)?
        }
    };
    Ok(response.body(body))
}

/// The file's bytes: from the cache when small enough, else streamed from disk.
fn identity_body(req: &Request<'_>, info: &FileInfo<'_>) -> Result<Body, Error> {
    if cacheable(req.config, info.len) {
        let bytes = req
            .cache
            .get_or_load(info.path, Coding::Identity, info.stamp, || {
                read_checked(info)
            })?;
        return Ok(Body::Shared(bytes));
    }
    let file = open_checked(info)?;
    Ok(Body::File {
        file,
        len: info.len,
    })
}

/// The encoded bytes: compressed once and cached when the file is small enough, else
/// compressed while it streams (chunked: the length is unknown up front).
fn encoded_body(req: &Request<'_>, info: &FileInfo<'_>, coding: Coding) -> Result<Body, Error> {
    let level = req.config.compression.level;
    if cacheable(req.config, info.len) {
        let bytes = req.cache.get_or_load(info.path, coding, info.stamp, || {
            let identity = read_checked(info)?;
            let encoded = compress::compress(&identity, coding, level);
            req.metrics
                .add(Counter::CompressionInput, identity.len() as u64);
            req.metrics
                .add(Counter::CompressionOutput, encoded.len() as u64);
            Ok(encoded)
        })?;
        return Ok(Body::Shared(bytes));
    }
    let file = open_checked(info)?;
    let input = req
        .metrics
        .tally(file.take(info.len), Counter::CompressionInput);
    let encoded = compress::encoding_reader(input, coding, level);
    let output = req.metrics.tally(encoded, Counter::CompressionOutput);
    Ok(Body::Stream(Box::new(output)))
}

/// True when a body of `len` bytes goes through the cache.
fn cacheable(config: &Config, len: u64) -> bool {
    config.cache.max_bytes > 0 && len <= config.cache.max_file_bytes
}

/// Opens the file and checks it is still the one `info` describes, so the body matches the
/// ETag and length already chosen.
fn open_checked(info: &FileInfo<'_>) -> io::Result<File> {
    let file = File::open(info.path)?;
    if Stamp::of(&file.metadata()?) != info.stamp {
        // Replaced between the stat and the open: a retry by the client sees the new file.
        return Err(io::Error::new(io::ErrorKind::Interrupted, "file changed"));
    }
    Ok(file)
}

/// The whole file, if it is still the one `info` describes.
fn read_checked(info: &FileInfo<'_>) -> io::Result<Vec<u8>> {
    let file = open_checked(info)?;
    let mut bytes = Vec::with_capacity(info.len as usize);
    file.take(info.len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != info.len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
    }
    Ok(bytes)
}

/// 206: one range as a plain body, several as `multipart/byteranges`.
fn partial(
    info: &FileInfo<'_>,
    response: Response,
    ranges: Vec<ByteRange>,
) -> Result<Response, Error> {
    let file = open_checked(info)?;
    let mut response = response;
    response.status = 206;
    if let [one] = ranges.as_slice() {
        let body = single_range(file, one)?;
        return Ok(response
            .header("Content-Range", range::content_range(one, info.len))
            .body(body));
    }
    let multipart = ByteRangesBody::new(ranges, info.len, &with_charset(&info.mime));
    response
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("Content-Type"));
    let len = multipart.content_length();
    Ok(response
        .header("Content-Type", multipart.content_type())
        .body(Body::Sized {
            reader: Box::new(multipart.into_reader(file)),
            len,
        }))
}

/// One range: a small one read with one `pread` (no seek), a large one streamed from its
/// offset.
fn single_range(mut file: File, range: &ByteRange) -> io::Result<Body> {
    if range.len() <= PREAD_MAX {
        let mut bytes = vec![0; range.len() as usize];
        file.read_exact_at(&mut bytes, range.start)?;
        return Ok(Body::Bytes(bytes.into()));
    }
    file.seek(SeekFrom::Start(range.start))?;
    Ok(Body::File {
        file,
        len: range.len(),
    })
}

/// The media type by extension.
pub fn content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// Text types say their charset; shelf assumes the files it serves are UTF-8.
pub fn with_charset(mime: &str) -> String {
    let textual = mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        );
    if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}
