//! The request-head parser: a pure function over a caller-owned buffer (no I/O).
//!
//! `parse_request` returns `Partial` until the head is complete, then a fully validated
//! [`Head`] (syntax, `Host`, framing) and the number of bytes it used.
//!
//! It scans the buffer twice: once without allocating, to find the end of the head (or an
//! error, or that more bytes are needed), and once over its own copy of a complete head to
//! record where the fields are. Nothing is allocated for a head that is not complete.

use super::{Method, Version};

/// Size limits the parser enforces before anything grows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line + header lines, including line ends (`max_header_bytes`).
    pub max_head_bytes: usize,
    /// The request target alone (`max_uri_bytes`).
    pub max_uri_bytes: usize,
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length: n` (n may be 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a head was refused. Each maps to one status in `error.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// 400, with a fixed phrase saying what is wrong: logged, and shown to the client as the
    /// why of its 400 (it never contains request bytes).
    Malformed(&'static str),
    /// 414.
    UriTooLong,
    /// 431.
    HeadTooLarge,
    /// 505.
    VersionNotSupported,
    /// 501: a transfer coding other than chunked.
    UnsupportedCoding,
}

/// The outcome of one parse attempt.
#[derive(Debug)]
pub enum Parsed {
    /// More bytes are needed (and the limits are not yet exceeded).
    Partial,
    /// A complete, validated head that used `consumed` bytes of the buffer.
    Complete { head: Head, consumed: usize },
}

/// A parsed request head. Owns a copy of the head bytes; accessors borrow from it.
#[derive(Debug, Clone)]
pub struct Head {
    /// The head as received, from the request line through the empty line that ends it.
    bytes: Box<[u8]>,
    method: Method,
    target: Span,
    version: Version,
    /// (name, value) of each field line, in order; values are trimmed of OWS.
    fields: Box<[(Span, Span)]>,
    framing: BodyFraming,
}

/// Parses one request head from the start of `buf`.
///
/// Leading empty lines are skipped and counted in `consumed`; [`Head::raw`] starts at the
/// request line.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
    // Only the first `max_head_bytes` can belong to an acceptable head, so nothing past them
    // is ever looked at.
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    match scan_head(window, limits, |_, _| {})? {
        Scan::Partial { line_done } => {
            check_partial_size(buf.len(), line_done, limits)?;
            Ok(Parsed::Partial)
        }
        Scan::Complete(layout) => {
            let head = Head::build(&window[layout.start..layout.end], layout.fields, limits)?;
            Ok(Parsed::Complete {
                head,
                consumed: layout.end,
            })
        }
    }
}

/// An incomplete head that already fills `max_head_bytes` can never be accepted.
fn check_partial_size(len: usize, line_done: bool, limits: &Limits) -> Result<(), ParseError> {
    if len < limits.max_head_bytes {
        Ok(())
    } else if line_done {
        Err(ParseError::HeadTooLarge)
    } else {
        Err(ParseError::UriTooLong)
    }
}

/// Splits a request target into its path and query (RFC 9112 §3.2).
///
/// Origin-form (`/a?b`), absolute-form (`http://host/a?b`, whose authority is ignored) and
/// asterisk-form (`*`, path `*`; the caller checks it came with OPTIONS) are accepted.
pub fn split_target(target: &str) -> Result<(&str, Option<&str>), ParseError> {
    // RFC 3986 §3.5: a fragment is never sent; a target holding `#` is not a URI we route.
    if target.contains('#') {
        return Err(ParseError::Malformed("the request target has a #fragment"));
    }
    if target == "*" {
        return Ok(("*", None));
    }
    let (rest, absolute) = match strip_http_scheme(target) {
        Some(after_scheme) => (skip_authority(after_scheme)?, true),
        None => (target, false),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    // RFC 9110 §4.2.3: in http(s) URIs an empty path is equivalent to "/".
    let path = if path.is_empty() && absolute {
        "/"
    } else {
        path
    };
    // `//x` would read as an authority (a protocol-relative URL once echoed in a redirect).
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(ParseError::Malformed(
            "the request target must be a path starting with one /",
        ));
    }
    Ok((path, query))
}

/// The part of an absolute-form target after `http://` or `https://` (scheme case-insensitive).
fn strip_http_scheme(target: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    })
}

/// Drops the authority of an absolute-form target, keeping the path and query.
fn skip_authority(after_scheme: &str) -> Result<&str, ParseError> {
    let end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    // RFC 9110 §4.2.1: "A recipient that processes such a URI reference [an "http" URI with an
    // empty host identifier] MUST reject it as invalid."
    if end == 0 {
        return Err(ParseError::Malformed(
            "the request target has an empty host",
        ));
    }
    // RFC 9112 §3.2.2: "the server MUST ignore the received Host header field (if any) and
    // instead use the host information of the request-target" — routing uses neither.
    Ok(&after_scheme[end..])
}

// ---------------------------------------------------------------------------------------------
// Scanning

/// A byte range inside a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    /// The bytes this span covers.
    pub(crate) fn of(self, bytes: &[u8]) -> &[u8] {
        &bytes[self.start..self.end]
    }
}

/// Where the parts of a complete head lie in the scanned buffer.
struct Layout {
    /// First byte of the request line (after skipped empty lines).
    start: usize,
    /// One past the empty line that ends the head.
    end: usize,
    method: Span,
    target: Span,
    version: Version,
    /// How many field lines the head holds.
    fields: usize,
}

/// What one scan of the buffer found.
enum Scan {
    /// More bytes are needed; `line_done` says whether the request line was complete.
    Partial {
        line_done: bool,
    },
    Complete(Layout),
}

/// Scans a head, calling `on_field(name, value)` for each field line. Allocates nothing.
fn scan_head(
    buf: &[u8],
    limits: &Limits,
    mut on_field: impl FnMut(Span, Span),
) -> Result<Scan, ParseError> {
    let partial = |line_done| Ok(Scan::Partial { line_done });
    let Some(start) = skip_empty_lines(buf)? else {
        return partial(false);
    };
    let Some((line, mut pos)) = next_line(buf, start)? else {
        // Still checked so that a long target is refused before its line ends.
        let pending = &buf[start..];
        parse_request_line(
            pending.strip_suffix(b"\r").unwrap_or(pending),
            false,
            limits,
        )?;
        return partial(false);
    };
    let Some(request) = parse_request_line(line.of(buf), true, limits)? else {
        return Err(ParseError::Malformed("malformed request line"));
    };
    let mut fields = 0;
    loop {
        let Some((line, next)) = next_line(buf, pos)? else {
            return partial(true);
        };
        pos = next;
        if line.start == line.end {
            let shift = |s: Span| Span {
                start: s.start + start,
                end: s.end + start,
            };
            return Ok(Scan::Complete(Layout {
                start,
                end: pos,
                method: shift(request.method),
                target: shift(request.target),
                version: request.version,
                fields,
            }));
        }
        let (name, value) = parse_field_line(buf, line)?;
        on_field(name, value);
        fields += 1;
    }
}

/// Skips empty lines before the request line; `None` if the buffer ends first.
fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD
    // ignore at least one empty line (CRLF) received prior to the request-line."
    let mut pos = 0;
    loop {
        match next_line(buf, pos)? {
            Some((line, next)) if line.start == line.end => pos = next,
            Some(_) => return Ok(Some(pos)),
            // A lone CR at the end may still become an empty line.
            None if matches!(&buf[pos..], [] | [b'\r']) => return Ok(None),
            None => return Ok(Some(pos)),
        }
    }
}

/// Finds the line starting at `from`: its content (without line end) and where the next
/// line starts. `None` if the buffer ends first.
fn next_line(buf: &[u8], from: usize) -> Result<Option<(Span, usize)>, ParseError> {
    let Some(offset) = buf[from..].iter().position(|&b| b == b'\n' || b == b'\r') else {
        return Ok(None);
    };
    let at = from + offset;
    let line = Span {
        start: from,
        end: at,
    };
    match (buf[at], buf.get(at + 1)) {
        (b'\n', _) => Ok(Some((line, at + 1))),
        (_, Some(b'\n')) => Ok(Some((line, at + 2))),
        (_, None) => Ok(None),
        // RFC 9112 §2.2: "A sender MUST NOT generate a bare CR ... a recipient of such a bare
        // CR MUST consider that element to be invalid or replace each bare CR with SP".
        (_, Some(_)) => Err(ParseError::Malformed("a bare CR in the request head")),
    }
}

/// The parts of a request line, relative to the line's first byte.
struct RequestLine {
    method: Span,
    target: Span,
    version: Version,
}

/// Parses `method SP target SP version`. With `complete == false` the line may still be
/// growing: `None` means "so far so good", and a target over the limit is already refused.
fn parse_request_line(
    line: &[u8],
    complete: bool,
    limits: &Limits,
) -> Result<Option<RequestLine>, ParseError> {
    let more = || {
        if complete {
            Err(ParseError::Malformed("malformed request line"))
        } else {
            Ok(None)
        }
    };
    let method_end = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    if method_end == line.len() {
        return more();
    }
    if method_end == 0 || line[method_end] != b' ' {
        return Err(ParseError::Malformed("malformed method"));
    }
    let target_start = method_end + 1;
    let target_len = line[target_start..]
        .iter()
        .position(|&b| !is_target_byte(b))
        .unwrap_or(line.len() - target_start);
    // RFC 9112 §3: "A server that receives a request-target longer than any URI it wishes to
    // parse MUST respond with a 414 (URI Too Long) status code".
    if target_len > limits.max_uri_bytes {
        return Err(ParseError::UriTooLong);
    }
    let target_end = target_start + target_len;
    if target_end == line.len() {
        return more();
    }
    if target_len == 0 || line[target_end] != b' ' {
        return Err(ParseError::Malformed("malformed request target"));
    }
    if !complete {
        return Ok(None);
    }
    let version = parse_version(&line[target_end + 1..])?;
    if std::str::from_utf8(&line[target_start..target_end]).is_err() {
        return Err(ParseError::Malformed("the request target is not UTF-8"));
    }
    Ok(Some(RequestLine {
        method: Span {
            start: 0,
            end: method_end,
        },
        target: Span {
            start: target_start,
            end: target_end,
        },
        version,
    }))
}

/// Parses `HTTP/D.D` (RFC 9112 §2.3); 1.x with x > 1 is read as 1.1 (RFC 9110 §6.2).
fn parse_version(bytes: &[u8]) -> Result<Version, ParseError> {
    let [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = *bytes else {
        return Err(ParseError::Malformed("malformed HTTP version"));
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Err(ParseError::Malformed("malformed HTTP version"));
    }
    match (major, minor) {
        (b'1', b'0') => Ok(Version::Http10),
        (b'1', _) => Ok(Version::Http11),
        _ => Err(ParseError::VersionNotSupported),
    }
}

/// Parses `name ":" OWS value OWS` (RFC 9112 §5); returns the name and the trimmed value.
/// Shared with the chunked trailer reader.
pub(crate) fn parse_field_line(buf: &[u8], line: Span) -> Result<(Span, Span), ParseError> {
    let bytes = line.of(buf);
    // RFC 9112 §5.2: "A server that receives an obs-fold in a request message ... MUST either
    // reject the message by sending a 400 (Bad Request) ... or replace each received obs-fold
    // with one or more SP octets". We reject.
    if matches!(bytes.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::Malformed(
            "obsolete line folding in a header field",
        ));
    }
    let name_len = bytes
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(bytes.len());
    // RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad Request),
    // any received request message that contains whitespace between a header field name and
    // colon."
    if name_len == 0 || bytes.get(name_len) != Some(&b':') {
        return Err(ParseError::Malformed("malformed header field name"));
    }
    let raw_value = &bytes[name_len + 1..];
    // RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and
    // dangerous"; other controls are not field-vchar either.
    if !raw_value.iter().all(|&b| is_value_byte(b)) {
        return Err(ParseError::Malformed(
            "a forbidden byte in a header field value",
        ));
    }
    let value_start = line.start + name_len + 1;
    let (lead, trail) = ows_lengths(raw_value);
    let name = Span {
        start: line.start,
        end: line.start + name_len,
    };
    let value = Span {
        start: value_start + lead,
        end: (line.end - trail).max(value_start + lead),
    };
    Ok((name, value))
}

/// Lengths of the leading and trailing OWS (SP / HTAB) of `bytes`.
fn ows_lengths(bytes: &[u8]) -> (usize, usize) {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let lead = bytes.iter().take_while(|b| is_ows(b)).count();
    let trail = bytes[lead..].iter().rev().take_while(|b| is_ows(b)).count();
    (lead, trail)
}

/// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
/// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Visible ASCII or any byte >= 0x80 (checked as UTF-8 afterwards): no SP, no control.
fn is_target_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) || b >= 0x80
}

/// field-vchar, SP, HTAB or obs-text (RFC 9110 §5.5).
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7E).contains(&b) || b >= 0x80
}

// ---------------------------------------------------------------------------------------------
// The head and its semantics

impl Head {
    /// Copies a complete head (request line through the empty line) and indexes its fields.
    fn build(bytes: &[u8], field_count: usize, limits: &Limits) -> Result<Head, ParseError> {
        let bytes: Box<[u8]> = bytes.into();
        let mut fields = Vec::with_capacity(field_count);
        let scan = scan_head(&bytes, limits, |name, value| fields.push((name, value)))?;
        let Scan::Complete(layout) = scan else {
            // The same bytes were found complete a moment ago; this cannot happen.
            return Err(ParseError::Malformed("malformed request head"));
        };
        let method = Method::from_token(ascii(layout.method.of(&bytes)));
        let mut head = Head {
            method,
            target: layout.target,
            version: layout.version,
            fields: fields.into_boxed_slice(),
            framing: BodyFraming::None,
            bytes,
        };
        check_host(&head)?;
        head.framing = framing(&head)?;
        Ok(head)
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target exactly as sent (any form; see [`split_target`]).
    pub fn target(&self) -> &str {
        ascii(self.target.of(&self.bytes))
    }

    /// The protocol version (1.x with x > 1 reads as 1.1).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first field named `name` (case-insensitive) as text; `None` if absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.header_bytes(name)?).ok()
    }

    /// The first field named `name` (case-insensitive), its value trimmed of OWS.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.header_all(name).next()
    }

    /// Every field named `name` (case-insensitive), in order received.
    pub fn header_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every field as (name as received, trimmed value), in order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|(name, value)| (ascii(name.of(&self.bytes)), value.of(&self.bytes)))
    }

    /// True if at least one field is named `name` (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.header_all(name).next().is_some()
    }

    /// The head exactly as received from the request line through the final empty line
    /// (for TRACE).
    pub fn raw(&self) -> &[u8] {
        &self.bytes
    }

    /// How the body that follows is framed.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// True if the connection may carry another request after this one (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        // RFC 9112 §9.6: a "close" option means the connection closes, whatever the version.
        if self.has_list_token("Connection", "close") {
            return false;
        }
        match self.version {
            Version::Http11 => true,
            Version::Http10 => self.has_list_token("Connection", "keep-alive"),
        }
    }

    /// True for `Expect: 100-continue` on an HTTP/1.1 request.
    pub fn expects_continue(&self) -> bool {
        // RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
        // request MUST ignore that expectation."
        self.version == Version::Http11 && self.has_list_token("Expect", "100-continue")
    }

    /// True if any `name` field lists `token` (comma-separated, case-insensitive).
    fn has_list_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .flat_map(list_elements)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// Text that was validated as ASCII (tchar names, method) or UTF-8 (target) while parsing.
fn ascii(bytes: &[u8]) -> &str {
    // ok: callers only pass spans the scanner checked, so the fallback is never taken.
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The elements of a comma-separated list (RFC 9110 §5.6.1), trimmed, empty ones skipped.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|element| {
            let (lead, trail) = ows_lengths(element);
            &element[lead..element.len() - trail]
        })
        .filter(|element| !element.is_empty())
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
/// request message that lacks a Host header field and to any request message that contains
/// more than one Host header field line or a Host header field with an invalid field value."
fn check_host(head: &Head) -> Result<(), ParseError> {
    let mut hosts = head.header_all("Host");
    match (hosts.next(), hosts.next()) {
        (None, _) if head.version == Version::Http11 => {
            Err(ParseError::Malformed("the Host header field is missing"))
        }
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(ParseError::Malformed("more than one Host header field")),
        (Some(host), None) if host.iter().all(|&b| is_host_byte(b)) => Ok(()),
        (Some(_), None) => Err(ParseError::Malformed(
            "the Host header field is not a host name",
        )),
    }
}

/// Bytes of `uri-host [ ":" port ]` (RFC 3986 §3.2.2: reg-name, IP literal, percent escapes).
/// Keeps anything else (`/`, `@`, spaces) out of redirects built from the Host.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%:[]".contains(&b)
}

/// Decides the body framing from `Transfer-Encoding` and `Content-Length` (RFC 9112 §6).
fn framing(head: &Head) -> Result<BodyFraming, ParseError> {
    let has_te = head.has_header("Transfer-Encoding");
    // RFC 9112 §6.1: "A server MAY reject a request that contains both Content-Length and
    // Transfer-Encoding ... Regardless, the server MUST close the connection". We reject.
    if has_te && head.has_header("Content-Length") {
        return Err(ParseError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if has_te {
        check_transfer_codings(head)?;
        return Ok(BodyFraming::Chunked);
    }
    Ok(match content_length(head)? {
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::None,
    })
}

/// Accepts only `Transfer-Encoding: chunked` (as the one coding) on HTTP/1.1.
fn check_transfer_codings(head: &Head) -> Result<(), ParseError> {
    // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
    // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
    if head.version == Version::Http10 {
        return Err(ParseError::Malformed(
            "Transfer-Encoding in an HTTP/1.0 request",
        ));
    }
    let codings = || head.header_all("Transfer-Encoding").flat_map(list_elements);
    let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
    // RFC 9112 §6.3: "If a Transfer-Encoding header field is present in a request and the
    // chunked transfer coding is not the final encoding ... the server MUST respond with the
    // 400 (Bad Request) status code and then close the connection."
    if !codings().last().is_some_and(is_chunked) {
        return Err(ParseError::Malformed(
            "chunked must be the final transfer coding",
        ));
    }
    // RFC 9112 §7: "A sender MUST NOT apply the chunked transfer coding more than once".
    if codings().filter(|c| is_chunked(c)).count() > 1 {
        return Err(ParseError::Malformed("chunked is applied twice"));
    }
    if codings().any(|c| !c.iter().all(|&b| is_tchar(b))) {
        return Err(ParseError::Malformed("malformed transfer coding"));
    }
    // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does
    // not understand SHOULD respond with 501 (Not Implemented)."
    if codings().count() > 1 {
        return Err(ParseError::UnsupportedCoding);
    }
    Ok(())
}

/// The `Content-Length`, if any: every value in every field must be 1*DIGIT and all equal.
fn content_length(head: &Head) -> Result<Option<u64>, ParseError> {
    // RFC 9112 §6.3: an invalid Content-Length is an unrecoverable error "unless the field
    // value can be successfully parsed as a comma-separated list ..., all values in the list
    // are valid, and all values in the list are the same".
    let mut length = None;
    for field in head.header_all("Content-Length") {
        for element in field.split(|&b| b == b',') {
            let (lead, trail) = ows_lengths(element);
            let n = parse_decimal(&element[lead..element.len() - trail])?;
            if length.is_some_and(|seen| seen != n) {
                return Err(ParseError::Malformed("differing Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Parses `1*DIGIT` into a u64, refusing signs, spaces, empty input and overflow.
fn parse_decimal(digits: &[u8]) -> Result<u64, ParseError> {
    let bad = ParseError::Malformed("malformed Content-Length");
    if digits.is_empty() {
        return Err(bad);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return Err(bad);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(bad)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_head_bytes: 16384,
        max_uri_bytes: 8192,
    };

    fn parse(input: &[u8]) -> Result<Parsed, ParseError> {
        parse_request(input, &LIMITS)
    }

    fn complete(input: &[u8]) -> (Head, usize) {
        match parse(input) {
            Ok(Parsed::Complete { head, consumed }) => (head, consumed),
            other => panic!("{:?}: expected Complete, got {other:?}", lossy(input)),
        }
    }

    fn lossy(input: &[u8]) -> String {
        String::from_utf8_lossy(&input[..input.len().min(80)]).into_owned()
    }

    fn malformed(e: Result<Parsed, ParseError>) -> bool {
        matches!(e, Err(ParseError::Malformed(_)))
    }

    /// Hostile heads, each with the exact error it must produce.
    #[test]
    fn hostile_heads_are_refused() {
        use ParseError::*;
        let m = Malformed("");
        let cases: &[(&str, &[u8], ParseError)] = &[
            ("bare CR first", b"\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("bare CR in line", b"GET / HTTP/1.1\rX\nHost: x\r\n\r\n", m),
            ("bare CR in value", b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", m),
            ("bare CR ends head", b"GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", m),
            ("control in target", b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("DEL in target", b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("tab in target", b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("target not UTF-8", b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("double space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("double space 2", b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("trailing space", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", m),
            ("tab separator", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("empty method", b" / HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("method not token", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", m),
            ("no version", b"GET /\r\nHost: x\r\n\r\n", m),
            ("HTTP/0.9 style", b"GET\r\n\r\n", m),
            ("version HTTP/1", b"GET / HTTP/1\r\nHost: x\r\n\r\n", m),
            ("version lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", m),
            ("version 1.1x", b"GET / HTTP/1.1x\r\nHost: x\r\n\r\n", m),
            ("version 1.a", b"GET / HTTP/1.a\r\nHost: x\r\n\r\n", m),
            ("version 2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", VersionNotSupported),
            ("version 0.9", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", VersionNotSupported),
            ("version 3.0", b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", VersionNotSupported),
            ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", m),
            ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", m),
            ("empty name", b"GET / HTTP/1.1\r\nHost: x\r\n: y\r\n\r\n", m),
            ("name not token", b"GET / HTTP/1.1\r\nHost: x\r\nA(b: y\r\n\r\n", m),
            ("no colon", b"GET / HTTP/1.1\r\nHost: x\r\nAbc\r\n\r\n", m),
            ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", m),
            ("space before first field", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", m),
            ("NUL in value", b"GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n", m),
            ("control in value", b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x1bc\r\n\r\n", m),
            ("DEL in value", b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n", m),
            ("no Host in 1.1", b"GET / HTTP/1.1\r\n\r\n", m),
            ("Host twice", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", m),
            ("Host twice in 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", m),
            ("Host with slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", m),
            ("Host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", m),
            ("CL negative", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", m),
            ("CL plus sign", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", m),
            ("CL empty", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", m),
            ("CL hex", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", m),
            (
                "CL overflow",
                b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                m,
            ),
            ("CL differing list", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", m),
            ("CL empty element", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,\r\n\r\n", m),
            (
                "CL differing fields",
                b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                m,
            ),
            (
                "CL and TE",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                m,
            ),
            (
                "TE chunked, identity",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
                m,
            ),
            ("TE gzip only", b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", m),
            ("TE empty", b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", m),
            (
                "TE chunked twice",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                m,
            ),
            (
                "TE chunked twice in two fields",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                m,
            ),
            (
                "TE chunked with parameter",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;a=b\r\n\r\n",
                m,
            ),
            (
                "TE in HTTP/1.0",
                b"PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                m,
            ),
            (
                "TE gzip, chunked",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                UnsupportedCoding,
            ),
            (
                "TE gzip then chunked fields",
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
                UnsupportedCoding,
            ),
        ];
        for (name, input, want) in cases {
            let got = parse(input);
            let ok = match want {
                Malformed(_) => malformed(got),
                other => matches!(got, Err(e) if e == *other),
            };
            assert!(ok, "{name}: want {want:?}, got {:?}", parse(input));
        }
    }

    #[test]
    fn limits_are_enforced_before_the_head_completes() {
        let small = Limits {
            max_head_bytes: 64,
            max_uri_bytes: 16,
        };
        let cases: &[(&str, &[u8], ParseError)] = &[
            (
                "long target, partial",
                b"GET /aaaaaaaaaaaaaaaaaaaaaaaa",
                ParseError::UriTooLong,
            ),
            (
                "long target, complete",
                b"GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n",
                ParseError::UriTooLong,
            ),
            (
                "window full in request line",
                &[b'G'; 64],
                ParseError::UriTooLong,
            ),
            (
                "window full in fields",
                b"GET / HTTP/1.1\r\nHost: x\r\nA: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                ParseError::HeadTooLarge,
            ),
            (
                "complete but too large",
                b"GET / HTTP/1.1\r\nHost: x\r\nA: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
                ParseError::HeadTooLarge,
            ),
            ("endless empty lines", &[b'\n'; 64], ParseError::UriTooLong),
        ];
        for (name, input, want) in cases {
            let got = parse_request(input, &small);
            assert_eq!(got.as_ref().err(), Some(want), "{name}: {got:?}");
        }
        // One byte under the window is still Partial; a head of exactly the limit is accepted.
        let exact = b"GET / HTTP/1.1\r\nHost: x\r\nA: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n";
        assert_eq!(exact.len(), 64);
        assert!(matches!(
            parse_request(&exact[..63], &small),
            Ok(Parsed::Partial)
        ));
        assert!(matches!(
            parse_request(exact, &small),
            Ok(Parsed::Complete { consumed: 64, .. })
        ));
    }

    #[test]
    fn huge_and_numerous_headers_hit_the_head_limit() {
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nA: ".to_vec();
        big.extend(std::iter::repeat_n(b'b', 20_000));
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&big).err(), Some(ParseError::HeadTooLarge));

        let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for _ in 0..10_000 {
            many.extend_from_slice(b"a:b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many).err(), Some(ParseError::HeadTooLarge));
        let roomy = Limits {
            max_head_bytes: 1 << 20,
            max_uri_bytes: 8192,
        };
        let Ok(Parsed::Complete { head, .. }) = parse_request(&many, &roomy) else {
            panic!("10,000 tiny headers fit in a roomy limit");
        };
        assert_eq!(head.headers().count(), 10_001);
    }

    #[test]
    fn every_prefix_of_a_valid_request_is_partial() {
        let requests: &[&[u8]] = &[
            b"\r\n\nPOST /up?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n",
            b"GET / HTTP/1.0\nUser-Agent: t\n\n",
            b"PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX:  \t\r\n\r\n",
        ];
        for request in requests {
            for len in 0..request.len() {
                let got = parse(&request[..len]);
                assert!(matches!(got, Ok(Parsed::Partial)), "{len}: {got:?}");
            }
            assert_eq!(complete(request).1, request.len());
        }
    }

    #[test]
    fn valid_heads_parse() {
        struct Case {
            name: &'static str,
            input: &'static [u8],
            method: Method,
            target: &'static str,
            version: Version,
            headers: &'static [(&'static str, &'static [u8])],
            framing: BodyFraming,
            /// `None`: the whole input.
            consumed: Option<usize>,
        }
        let cases = [
            Case {
                name: "simple GET",
                input: b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
                method: Method::Get,
                target: "/index.html",
                version: Version::Http11,
                headers: &[("Host", b"example.com")],
                framing: BodyFraming::None,
                consumed: None,
            },
            Case {
                name: "pipelined: consumed stops at the first head",
                input: b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
                method: Method::Get,
                target: "/a",
                version: Version::Http11,
                headers: &[("Host", b"h")],
                framing: BodyFraming::None,
                consumed: Some(28),
            },
            Case {
                name: "LF-only lines and leading empty lines",
                input: b"\r\n\n\r\nHEAD /x HTTP/1.0\nX-A:1\n\n",
                method: Method::Head,
                target: "/x",
                version: Version::Http10,
                headers: &[("X-A", b"1")],
                framing: BodyFraming::None,
                consumed: None,
            },
            Case {
                name: "OWS trimmed, obs-text kept, empty value",
                input: b"OPTIONS * HTTP/1.1\r\nhost:h\r\nX-T: \t a b\xe9 \t\r\nX-E:\r\n\r\n",
                method: Method::Options,
                target: "*",
                version: Version::Http11,
                headers: &[("host", b"h"), ("X-T", b"a b\xe9"), ("X-E", b"")],
                framing: BodyFraming::None,
                consumed: None,
            },
            Case {
                name: "Content-Length list of equal values",
                input: b"PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
                method: Method::Put,
                target: "/f",
                version: Version::Http11,
                headers: &[("Host", b"h"), ("Content-Length", b"5, 5"), ("Content-Length", b"5")],
                framing: BodyFraming::Length(5),
                consumed: None,
            },
            Case {
                name: "chunked, any case; HTTP/1.9 read as 1.1; unknown method kept",
                input: b"BREW /pot HTTP/1.9\r\nHost: h\r\nTransfer-Encoding: , Chunked\r\n\r\n",
                method: Method::Other("BREW".into()),
                target: "/pot",
                version: Version::Http11,
                headers: &[("Host", b"h"), ("Transfer-Encoding", b", Chunked")],
                framing: BodyFraming::Chunked,
                consumed: None,
            },
            Case {
                name: "absolute-form with UTF-8 target",
                input: "GET http://h:8080/é?q HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".as_bytes(),
                method: Method::Get,
                target: "http://h:8080/é?q",
                version: Version::Http11,
                headers: &[("Host", b"[::1]:80")],
                framing: BodyFraming::None,
                consumed: None,
            },
        ];
        for case in cases {
            let (head, consumed) = complete(case.input);
            let name = case.name;
            assert_eq!(head.method(), &case.method, "{name}");
            assert_eq!(head.target(), case.target, "{name}");
            assert_eq!(head.version(), case.version, "{name}");
            assert_eq!(head.headers().collect::<Vec<_>>(), case.headers, "{name}");
            assert_eq!(head.framing(), case.framing, "{name}");
            assert_eq!(
                consumed,
                case.consumed.unwrap_or(case.input.len()),
                "{name}"
            );
        }
    }

    #[test]
    fn accessors_borrow_from_the_head() {
        let input =
            b"\r\nPOST /a HTTP/1.1\r\nHost: h\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Bin: \xff\r\n\r\n";
        let (head, _) = complete(input);
        assert_eq!(head.header("HOST"), Some("h"));
        assert_eq!(head.header("x-MULTI"), Some("1"));
        assert_eq!(head.header_all("X-Multi").collect::<Vec<_>>(), [b"1", b"2"]);
        assert_eq!(head.header("X-Bin"), None);
        assert_eq!(head.header_bytes("X-Bin"), Some(&b"\xff"[..]));
        assert!(head.has_header("x-bin"));
        assert!(!head.has_header("Cookie"));
        assert_eq!(head.raw(), &input[2..]);
    }

    #[test]
    fn keep_alive_and_expect_follow_the_version() {
        let cases: &[(&[u8], bool, bool)] = &[
            (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, false),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n",
                false,
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n",
                true,
                true,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false, false),
            (
                b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                true,
                false,
            ),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                false,
                false,
            ),
            (
                b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
                false,
                false,
            ),
        ];
        for (input, keep_alive, expects) in cases {
            let (head, _) = complete(input);
            assert_eq!(head.keep_alive(), *keep_alive, "{}", lossy(input));
            assert_eq!(head.expects_continue(), *expects, "{}", lossy(input));
        }
    }

    #[test]
    fn split_target_refuses_other_forms_first() {
        for bad in [
            "a/b",
            "//x",
            "//",
            "",
            "/a#f",
            "http://",
            "http:///a",
            "ftp://h/a",
            "http:/a",
        ] {
            assert!(
                matches!(split_target(bad), Err(ParseError::Malformed(_))),
                "{bad}"
            );
        }
        let good: &[(&str, &str, Option<&str>)] = &[
            ("/", "/", None),
            ("/a?b", "/a", Some("b")),
            ("/a?", "/a", Some("")),
            ("/a?b?c", "/a", Some("b?c")),
            ("*", "*", None),
            ("http://h:8080/a?b", "/a", Some("b")),
            ("HTTPS://h", "/", None),
            ("http://h?q", "/", Some("q")),
            ("http://user@h/x", "/x", None),
        ];
        for (target, path, query) in good {
            assert_eq!(split_target(target), Ok((*path, *query)), "{target}");
        }
    }
}
