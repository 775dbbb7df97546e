//! The only place a status line and header fields are written: the response wire format.
//!
//! A handler returns a [`Response`] value; [`write_response`] frames it (`Content-Length` or
//! chunked), adds `Date` and `Server` (unless the response carries its own) and `Connection`,
//! and sends the head and a small body in one `write` so that no response waits on a delayed
//! ACK. The interim `100 Continue` a request body sends before its first read is [`CONTINUE`].
//! Where the bytes go is an [`Output`]; the socket system calls behind it live with the
//! transports.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Version;
use super::encode::{encode_path, escape_html};

/// A header name or value: mostly static strings, sometimes built per request or configured
/// (a route's `headers`).
pub type Value = Cow<'static, str>;

/// RFC 9110 §15.2.1: the interim response a client that sent `Expect: 100-continue` waits for
/// before it sends the body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Bodies at most this large are copied behind the head and sent in the same write.
const INLINE_BODY_MAX: u64 = 16 * 1024;

/// What follows the head.
pub enum Body {
    /// No body (`Content-Length: 0` unless the status forbids a length).
    Empty,
    /// Bytes in memory.
    Bytes(Cow<'static, [u8]>),
    /// `len` bytes of `file` from its current position; copied with `sendfile` where possible.
    File {
        /// The open file, positioned at the first byte to send.
        file: File,
        /// How many bytes to send.
        len: u64,
    },
    /// Bytes shared with the cache.
    Shared(Arc<[u8]>),
    /// Exactly `len` bytes from a reader (a multipart body whose length was computed first).
    Sized {
        /// Where the bytes come from.
        reader: Box<dyn Read + Send>,
        /// How many bytes it yields, promised in `Content-Length`.
        len: u64,
    },
    /// A body of unknown length, sent chunked.
    Stream(Box<dyn Read + Send>),
}

impl Body {
    /// The exact length when known up front.
    fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Shared(b) => Some(b.len() as u64),
            Body::File { len, .. } | Body::Sized { len, .. } => Some(*len),
            Body::Stream(_) => None,
        }
    }
}

/// A response as a handler builds it.
pub struct Response {
    /// The status code; its reason phrase comes from [`reason`].
    pub status: u16,
    /// Header fields in sending order; framing and `Connection` are added by
    /// [`write_response`], and `Date` and `Server` unless set here.
    pub headers: Vec<(Value, Value)>,
    /// What follows the head.
    pub body: Body,
}

impl Response {
    /// A response with no headers yet and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A short `text/plain` response whose body is the reason phrase (redirects, 201s): for
    /// errors, [`Response::error_text`].
    pub fn text(status: u16) -> Response {
        let mut body = reason(status).as_bytes().to_vec();
        body.push(b'\n');
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::Bytes(Cow::Owned(body)))
    }

    /// A short `text/plain` error: its [`error_line`] and a line end. `why` is one of our own
    /// fixed phrases (never a path, never an I/O error's text).
    pub fn error_text(status: u16, why: Option<&str>) -> Response {
        let mut body = error_line(status, why);
        body.push('\n');
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::Bytes(Cow::Owned(body.into_bytes())))
    }

    /// A small HTML error page for a browser: the status as title and heading, the one-line
    /// why, and a link back to the folder `back` (a decoded URL path starting with `/`,
    /// percent-encoded for the href and escaped for the text here).
    pub fn error_page(status: u16, why: Option<&str>, back: &str) -> Response {
        let title = format!("{status} {}", reason(status));
        let why = why.map_or(String::new(), |why| {
            format!("<p>{}</p>\n", escape_html(&sentence(why)))
        });
        let page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{why}\
             <p><a href=\"{href}\">Back to {text}</a></p>\n</main>\n</body>\n</html>\n",
            href = encode_path(back),
            text = escape_html(back),
        );
        Response::new(status)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(Body::Bytes(Cow::Owned(page.into_bytes())))
    }

    /// Adds a header field.
    pub fn header(mut self, name: impl Into<Value>, value: impl Into<Value>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// The value of the first header called `name`, if set.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// How the connection frames and ends the response.
#[derive(Debug, Clone, Copy)]
pub struct ResponseFraming {
    /// The request's version: the status line answers in kind.
    pub version: Version,
    /// HEAD: send the headers GET would send, no body.
    pub head_only: bool,
    /// The connection closes after this response (`Connection: close`).
    pub close: bool,
    /// An HTTP/1.0 client asked for keep-alive and gets it.
    pub keep_alive_10: bool,
}

impl ResponseFraming {
    /// An HTTP/1.1 response after which the connection closes, for an answer given before or
    /// instead of a request (a head that could not be read, a refused connection).
    pub fn closing() -> ResponseFraming {
        ResponseFraming {
            version: Version::Http11,
            head_only: false,
            close: true,
            keep_alive_10: false,
        }
    }
}

/// Where responses go: any `Write`, plus a zero-copy path for file bodies where the
/// transport has one (plain TCP: `sendfile`).
pub trait Output: Write {
    /// Sends `len` bytes of `file` from its current position; `None` when this output has no
    /// zero-copy path and the caller should copy instead.
    fn send_file(&mut self, _file: &mut File, _len: u64) -> Option<io::Result<u64>> {
        None
    }

    /// Writes a response head that a file body follows at once.
    fn write_head_before_file(&mut self, head: &[u8]) -> io::Result<()> {
        self.write_all(head)
    }
}

impl Output for Vec<u8> {}

/// Writes `resp` to `w`. Returns the number of body bytes sent (for the access log).
pub fn write_response<W: Output>(
    w: &mut W,
    resp: Response,
    framing: ResponseFraming,
) -> io::Result<u64> {
    let Response {
        status,
        headers,
        body,
    } = resp;
    let mut out = Vec::with_capacity(512);
    write_head(&mut out, status, &headers, body.len(), framing);
    if framing.head_only || !status_has_body(status) {
        w.write_all(&out)?;
        return Ok(0);
    }
    write_body(w, out, body, framing.version)
}

/// Appends the status line and every header field to `out`.
fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(Value, Value)],
    len: Option<u64>,
    framing: ResponseFraming,
) {
    // RFC 9110 §6.2: a server sends its own highest conformant version, 1.1.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    // A route's `headers` may set these; theirs then replaces ours (one field each).
    let set = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !set("date") {
        with_date(|date| {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(date.as_bytes());
            out.extend_from_slice(b"\r\n");
        });
    }
    if !set("server") {
        out.extend_from_slice(b"Server: shelf\r\n");
    }
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if status_has_length(status) {
        match len {
            Some(n) => {
                let _ = write!(out, "Content-Length: {n}\r\n");
            }
            // RFC 9112 §6.1: chunked is for HTTP/1.1 recipients; 1.0 reads to close.
            None if framing.version == Version::Http11 => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n")
            }
            None => {}
        }
    }
    if framing.close || (len.is_none() && framing.version == Version::Http10) {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if framing.keep_alive_10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Sends the head (already in `out`) and the body.
fn write_body<W: Output>(w: &mut W, out: Vec<u8>, body: Body, version: Version) -> io::Result<u64> {
    match body {
        Body::Empty => {
            w.write_all(&out)?;
            Ok(0)
        }
        Body::Bytes(bytes) => write_bytes(w, out, &bytes),
        Body::Shared(bytes) => write_bytes(w, out, &bytes),
        Body::Sized { reader, len } => {
            w.write_all(&out)?;
            copy_exact(&mut reader.take(len), w, len)
        }
        Body::File { file, len } => write_file(w, out, file, len),
        Body::Stream(reader) => {
            w.write_all(&out)?;
            if version == Version::Http11 {
                write_chunked(w, reader)
            } else {
                copy_all(&mut { reader }, w)
            }
        }
    }
}

/// A small body rides in the head's write; a larger one follows it.
fn write_bytes<W: Write>(w: &mut W, mut out: Vec<u8>, bytes: &[u8]) -> io::Result<u64> {
    if bytes.len() as u64 <= INLINE_BODY_MAX {
        out.extend_from_slice(bytes);
        w.write_all(&out)?;
    } else {
        write_all_pair(w, &out, bytes)?;
    }
    Ok(bytes.len() as u64)
}

/// Writes `head` then `body` with vectored writes: one `writev` for both in the usual case,
/// without copying the body behind the head.
fn write_all_pair<W: Write>(w: &mut W, head: &[u8], body: &[u8]) -> io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() {
        let n = w.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    w.write_all(body)
}

/// A small file rides in the head's write; a large one goes out through the output's
/// zero-copy path, or a plain copy.
fn write_file<W: Output>(w: &mut W, mut out: Vec<u8>, mut file: File, len: u64) -> io::Result<u64> {
    if len > INLINE_BODY_MAX {
        w.write_head_before_file(&out)?;
        if let Some(sent) = w.send_file(&mut file, len) {
            return sent;
        }
        return copy_exact(&mut file.take(len), w, len);
    }
    let mut file = file.take(len);
    {
        let start = out.len();
        file.read_to_end(&mut out)?;
        let sent = (out.len() - start) as u64;
        if sent != len {
            // The file shrank under us: the promised length can no longer be met.
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
        }
        w.write_all(&out)?;
        Ok(sent)
    }
}

/// Copies to the end. Out of line, like [`copy_exact`].
#[inline(never)]
fn copy_all<W: Write>(reader: &mut impl Read, w: &mut W) -> io::Result<u64> {
    io::copy(reader, w)
}

/// Copies exactly `len` bytes; a short source is an error (the promised length is unmet).
// Out of line: `io::copy`'s 8 KiB stack buffer must not join the frame of every response.
#[inline(never)]
fn copy_exact<W: Write>(reader: &mut impl Read, w: &mut W, len: u64) -> io::Result<u64> {
    let sent = io::copy(reader, w)?;
    if sent != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
    }
    Ok(sent)
}

/// Chunked transfer coding (RFC 9112 §7.1) with 16 KiB chunks.
fn write_chunked<W: Write>(w: &mut W, mut reader: Box<dyn Read + Send>) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024 + 16];
    let mut total = 0;
    loop {
        // Leave room in front for the size line so each chunk is one write.
        let n = reader.read(&mut buf[8..8 + 16 * 1024])?;
        if n == 0 {
            w.write_all(b"0\r\n\r\n")?;
            return Ok(total);
        }
        let size = format!("{n:x}\r\n");
        let start = 8 - size.len();
        buf[start..8].copy_from_slice(size.as_bytes());
        buf[8 + n..8 + n + 2].copy_from_slice(b"\r\n");
        w.write_all(&buf[start..8 + n + 2])?;
        total += n as u64;
    }
}

/// RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
fn status_has_body(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// RFC 9110 §8.6: no Content-Length in 1xx or 204; a 304 may carry the 200's, but we have none.
fn status_has_length(status: u16) -> bool {
    status_has_body(status)
}

/// Calls `f` with the current `Date` value, formatted at most once per second per thread.
fn with_date(f: impl FnOnce(&str)) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs {
            *cache = (secs, httpdate::fmt_http_date(now));
        }
        f(&cache.1);
    });
}

/// The one line an error body says: `404 Not Found`, or with a why,
/// `409 Conflict: the folder is not empty`.
pub fn error_line(status: u16, why: Option<&str>) -> String {
    match why {
        Some(why) => format!("{status} {}: {why}", reason(status)),
        None => format!("{status} {}", reason(status)),
    }
}

/// `why` as a sentence for the HTML page: its first letter in capitals.
fn sentence(why: &str) -> String {
    let mut chars = why.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The reason phrase of a status code (RFC 9110 §15).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes a call, vectored or not.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let n = data.len().min(self.step);
            self.out.extend_from_slice(&data[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut budget = self.step;
            for buf in bufs {
                let n = buf.len().min(budget);
                self.out.extend_from_slice(&buf[..n]);
                budget -= n;
                if budget == 0 {
                    break;
                }
            }
            Ok(self.step - budget)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Whatever the split of partial writes, the head and the body arrive whole and in order.
    #[test]
    fn pair_survives_partial_writes() {
        let head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let body: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
        for step in [1, 7, 19, 20, 21, 4096, 1 << 20] {
            let mut w = Trickle {
                out: Vec::new(),
                step,
            };
            write_all_pair(&mut w, &head, &body).unwrap();
            assert_eq!(w.out.len(), head.len() + body.len(), "step {step}");
            assert_eq!(&w.out[..head.len()], &head[..], "step {step}");
            assert_eq!(&w.out[head.len()..], &body[..], "step {step}");
        }
    }
}
