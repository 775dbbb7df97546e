//! Byte ranges (RFC 9110 §14): parse a `Range` header, cap and coalesce it, and build the
//! `Content-Range` values and the `multipart/byteranges` body that answer it.
//!
//! Everything here is pure arithmetic over the header text and the representation's length,
//! except [`ByteRangesBody::into_reader`], which streams the parts from an open file.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::response::Response;

/// One satisfiable byte range, `start..=end`, always inside the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte sent.
    pub start: u64,
    /// Offset of the last byte sent (inclusive, as in `Content-Range`).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range (never zero: `end >= start`).
    #[allow(clippy::len_without_is_empty)] // a ByteRange is never empty
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// True when the two ranges overlap or are adjacent, so one range can replace both.
    fn touches(&self, other: &ByteRange) -> bool {
        // Saturating: a parsed range ends before `len <= u64::MAX`, but the fields are public.
        self.start <= other.end.saturating_add(1) && other.start <= self.end.saturating_add(1)
    }
}

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Ignore the header and send the whole representation (200): malformed, over the cap, or
    /// not expressible as a 206.
    Full,
    /// Send these ranges (206), coalesced, in the client's order; one range means no multipart.
    Satisfiable(Vec<ByteRange>),
    /// No range overlaps the representation: 416, as [`unsatisfiable`] builds it.
    Unsatisfiable,
}

/// One `range-spec` as written, before the representation's length is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-pos "-" [ last-pos ]`
    Int { first: u64, last: Option<u64> },
    /// `"-" suffix-length`
    Suffix(u64),
}

/// The header is ignored: not a valid `bytes` ranges-specifier, or over `max_ranges`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ignored;

/// Parses a `Range` header value for a representation of `len` bytes (RFC 9110 §14.2).
///
/// Work is linear in the header and memory is bounded by `max_ranges`: parsing stops at the
/// first syntax error or at the first range past the cap.
pub fn parse_range(header: &str, len: u64, max_ranges: usize) -> RangeOutcome {
    let Ok(specs) = parse_specs(header, max_ranges) else {
        // RFC 9110 §14.2: "A server MAY ignore the Range header field." A malformed one, or
        // one with more ranges than we serve, gets the whole representation.
        return RangeOutcome::Full;
    };
    if len == 0 {
        return outcome_for_empty(&specs);
    }
    let ranges: Vec<(usize, ByteRange)> = specs
        .iter()
        .filter_map(|spec| resolve(*spec, len))
        .enumerate()
        .collect();
    if ranges.is_empty() {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Satisfiable(coalesce(ranges))
}

/// Splits `bytes=…` into its range-specs; `Err` when malformed or over `max_ranges`.
fn parse_specs(header: &str, max_ranges: usize) -> Result<Vec<Spec>, Ignored> {
    let (unit, set) = header.trim_matches(is_ows).split_once('=').ok_or(Ignored)?;
    // RFC 9110 §14.1: "range units are compared case-insensitively".
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(Ignored);
    }
    let mut specs = Vec::new();
    // RFC 9110 §5.6.1: "a recipient MUST accept empty list elements"; OWS surrounds commas.
    for element in set.split(',').map(|e| e.trim_matches(is_ows)) {
        if element.is_empty() {
            continue;
        }
        // SPEC §2: more than `max_ranges` as sent → 200. Stopping here keeps a header of
        // 10,000 ranges as cheap as one of `max_ranges + 1`.
        if specs.len() == max_ranges {
            return Err(Ignored);
        }
        specs.push(parse_spec(element)?);
    }
    // RFC 9110 §14.1.1: `range-set = 1#range-spec`: at least one non-empty element.
    if specs.is_empty() {
        return Err(Ignored);
    }
    Ok(specs)
}

/// One `range-spec`: `a-b`, `a-` or `-n`, digits only, no inner whitespace.
fn parse_spec(element: &str) -> Result<Spec, Ignored> {
    let (first, last) = element.split_once('-').ok_or(Ignored)?;
    if first.is_empty() {
        return Ok(Spec::Suffix(parse_digits(last)?));
    }
    let first = parse_digits(first)?;
    let last = match last {
        "" => None,
        digits => Some(parse_digits(digits)?),
    };
    // RFC 9110 §14.1.1: "A range-spec is invalid if the last-pos value is present and less
    // than the first-pos", and §14.1: an invalid ranges-specifier is ignored as a whole.
    if last.is_some_and(|last| last < first) {
        return Err(Ignored);
    }
    Ok(Spec::Int { first, last })
}

/// `1*DIGIT` as a `u64`; a value past `u64::MAX` makes the header malformed, not clipped.
fn parse_digits(s: &str) -> Result<u64, Ignored> {
    if s.is_empty() {
        return Err(Ignored);
    }
    s.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9).ok_or(Ignored)?;
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit)))
            .ok_or(Ignored)
    })
}

/// `OWS = *( SP / HTAB )` (RFC 9110 §5.6.3).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A zero-length representation: no byte can be named by a `Content-Range`.
fn outcome_for_empty(specs: &[Spec]) -> RangeOutcome {
    // RFC 9110 §14.1.2: "If the selected representation has zero length, the only
    // satisfiable form of range-spec is a suffix-range with a non-zero suffix-length", and
    // then "the entire representation is used". A 206 cannot describe zero bytes, so the
    // whole (empty) representation goes out as a 200; anything else is a 416.
    if specs.iter().any(|s| matches!(s, Spec::Suffix(n) if *n > 0)) {
        RangeOutcome::Full
    } else {
        RangeOutcome::Unsatisfiable
    }
}

/// The bytes a spec names in a representation of `len > 0` bytes, or `None` if unsatisfiable.
fn resolve(spec: Spec, len: u64) -> Option<ByteRange> {
    let last = len - 1;
    match spec {
        // RFC 9110 §14.1.2: an int-range is satisfiable when "the first-pos is less than the
        // current length"; a last-pos past the end is replaced by "one less than the current
        // length of the selected representation".
        Spec::Int { first, .. } if first >= len => None,
        Spec::Int { first, last: pos } => Some(ByteRange {
            start: first,
            end: pos.map_or(last, |p| p.min(last)),
        }),
        // RFC 9110 §14.1.2: a suffix-range is satisfiable with "a non-zero suffix-length";
        // "If the selected representation is shorter than the specified suffix-length, the
        // entire representation is used."
        Spec::Suffix(0) => None,
        Spec::Suffix(n) => Some(ByteRange {
            start: len - n.min(len),
            end: last,
        }),
    }
}

/// Merges ranges that overlap or touch; each merged range takes the place of its earliest
/// member, and ranges that touch nothing keep the client's order.
///
/// RFC 9110 §14.2: "a server MAY coalesce any of the ranges that overlap, or that are
/// separated by a gap that is smaller than the overhead of sending multiple parts". We merge
/// overlapping and adjacent ranges only, so the bytes sent are exactly the bytes asked for.
/// RFC 9110 §15.3.7.2: the server "SHOULD send the parts in the same order that the
/// corresponding range-spec appeared in the received Range header field, excluding those
/// ranges that were deemed unsatisfiable or that were coalesced into other ranges".
fn coalesce(mut ranges: Vec<(usize, ByteRange)>) -> Vec<ByteRange> {
    // Sort by start and sweep, then restore the client's order by each group's first index:
    // O(k log k) for k ranges, where merging pairwise until nothing touches would be O(k²).
    ranges.sort_unstable_by_key(|(_, r)| r.start);
    let mut merged: Vec<(usize, ByteRange)> = Vec::with_capacity(ranges.len());
    for (order, range) in ranges {
        match merged.last_mut() {
            Some((first, group)) if group.touches(&range) => {
                group.end = group.end.max(range.end);
                *first = (*first).min(order);
            }
            _ => merged.push((order, range)),
        }
    }
    merged.sort_unstable_by_key(|(order, _)| *order);
    merged.into_iter().map(|(_, r)| r).collect()
}

/// The `Content-Range` value of a 206 part: `bytes 0-99/1000`.
pub fn content_range(r: &ByteRange, len: u64) -> String {
    format!("bytes {}-{}/{}", r.start, r.end, len)
}

/// What a 416 refuses: what lies past the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beyond {
    /// Every range of a GET's `Range`.
    Ranges,
    /// The start of a PATCH's `Content-Range`.
    Patch,
}

/// The one 416 response: for a `Range` that no byte of a `len`-byte representation satisfies
/// (GET), and for a PATCH that would start past the end of a `len`-byte file. RFC 9110
/// §15.5.17: "the sender SHOULD generate a Content-Range header field specifying the current
/// length of the selected representation".
///
/// A 416 is an outcome, not an `Error` (a route's `headers` apply to it), so its one-line body
/// is written here, in the form `error.rs` gives every error.
pub fn unsatisfiable(len: u64, beyond: Beyond) -> Response {
    let why = match beyond {
        Beyond::Ranges => {
            format!("none of the requested ranges lies within the file ({len} bytes)")
        }
        Beyond::Patch => format!("the patch starts past the end of the file ({len} bytes)"),
    };
    Response::error_text(416, Some(&why)).header("Content-Range", unsatisfied_range(len))
}

/// The `Content-Range` value of a 416: `bytes */1000` (RFC 9110 §15.5.17).
fn unsatisfied_range(len: u64) -> String {
    format!("bytes */{len}")
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) whose length is known before it is sent.
///
/// The layout is Go's (`mime/multipart`): each part is `--BOUNDARY`, its header fields and a
/// blank line, then the bytes; parts are separated by CRLF and the body ends with
/// `CRLF--BOUNDARY--CRLF`. No preamble, no epilogue.
#[derive(Debug, Clone)]
pub struct ByteRangesBody {
    ranges: Vec<ByteRange>,
    len: u64,
    content_type: String,
    boundary: String,
}

impl ByteRangesBody {
    /// A body of `ranges` (each inside `0..len`) of a representation of type `content_type`
    /// (which must hold no CR or LF; empty means the parts carry no `Content-Type`).
    pub fn new(ranges: Vec<ByteRange>, len: u64, content_type: &str) -> ByteRangesBody {
        ByteRangesBody::with_boundary(ranges, len, content_type, new_boundary())
    }

    fn with_boundary(
        ranges: Vec<ByteRange>,
        len: u64,
        ct: &str,
        boundary: String,
    ) -> ByteRangesBody {
        debug_assert!(ranges.iter().all(|r| r.start <= r.end && r.end < len));
        debug_assert!(!ct.contains(['\r', '\n']));
        ByteRangesBody {
            ranges,
            len,
            content_type: ct.to_string(),
            boundary,
        }
    }

    /// The response's `Content-Type`: `multipart/byteranges; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }

    /// The exact number of bytes [`ByteRangesBody::into_reader`] produces, for `Content-Length`;
    /// `u64::MAX` if that would overflow, which takes a representation within a few KB of
    /// 2^64 bytes (no file system holds one: Linux caps files at 2^63).
    pub fn content_length(&self) -> u64 {
        // The heads are measured by the very code that writes them, so the sum cannot drift
        // from what is sent.
        let mut scratch = Vec::new();
        let mut total: u64 = 0;
        for (i, range) in self.ranges.iter().enumerate() {
            scratch.clear();
            self.write_part_head(i, &mut scratch);
            total = total
                .saturating_add(scratch.len() as u64)
                .saturating_add(range.len());
        }
        scratch.clear();
        self.write_closing(&mut scratch);
        total.saturating_add(scratch.len() as u64)
    }

    /// Streams the body from `file`, seeking to each part in turn: memory stays bounded by
    /// one part head whatever the file's size.
    pub fn into_reader(self, file: std::fs::File) -> impl Read + Send {
        self.reader(file)
    }

    fn reader<R: Read + Seek>(self, src: R) -> PartsReader<R> {
        PartsReader {
            src,
            body: self,
            next: 0,
            text: Vec::new(),
            text_pos: 0,
            data_left: 0,
            closed: false,
        }
    }

    /// The delimiter and header fields that open part `i`.
    fn write_part_head(&self, i: usize, out: &mut Vec<u8>) {
        let separator = if i == 0 { "" } else { "\r\n" };
        let _ = write!(out, "{separator}--{}\r\n", self.boundary);
        // RFC 9110 §15.3.7.2: "If the selected representation would have had a Content-Type
        // header field in a 200 (OK) response, the sender SHOULD generate that same
        // Content-Type header field in the header area of each body part."
        if !self.content_type.is_empty() {
            let _ = write!(out, "Content-Type: {}\r\n", self.content_type);
        }
        // RFC 9110 §15.3.7.2: "the sender MUST generate a Content-Range header field
        // corresponding to the range being enclosed in that body part."
        let range = content_range(&self.ranges[i], self.len);
        let _ = write!(out, "Content-Range: {range}\r\n\r\n");
    }

    /// The close delimiter that ends the body.
    fn write_closing(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "\r\n--{}--\r\n", self.boundary);
    }
}

/// 32 hex digits: two SipHash values keyed by `RandomState` (random keys per thread, seeded
/// by the OS) over the time and a process-wide counter, so no two bodies share a boundary and
/// a client cannot predict one to plant it in a file.
fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let state = RandomState::new();
    let half = |salt: u8| state.hash_one((salt, count, nanos));
    format!("{:016x}{:016x}", half(0), half(1))
}

/// The `Read` side of a [`ByteRangesBody`]: part head, part bytes (read straight from `src`), next
/// part, …, close delimiter.
struct PartsReader<R> {
    src: R,
    body: ByteRangesBody,
    /// Index of the next part to open.
    next: usize,
    /// A head or the close delimiter, sent from `text_pos` on.
    text: Vec<u8>,
    text_pos: usize,
    /// Bytes of the current part not yet read from `src`.
    data_left: u64,
    /// The close delimiter has been queued.
    closed: bool,
}

impl<R: Read + Seek> PartsReader<R> {
    /// Queues the next head (seeking `src` to its range) or the close delimiter; false at
    /// the end of the body.
    fn advance(&mut self) -> io::Result<bool> {
        self.text.clear();
        self.text_pos = 0;
        if let Some(range) = self.body.ranges.get(self.next).copied() {
            self.src.seek(SeekFrom::Start(range.start))?;
            self.body.write_part_head(self.next, &mut self.text);
            self.data_left = range.len();
            self.next += 1;
            return Ok(true);
        }
        if self.closed {
            return Ok(false);
        }
        self.body.write_closing(&mut self.text);
        self.closed = true;
        Ok(true)
    }

    /// Copies at most `buf.len()` bytes of the current part from `src`.
    fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.data_left).map_or(buf.len(), |left| left.min(buf.len()));
        let n = self.src.read(&mut buf[..want])?;
        if n == 0 {
            // The file shrank since its length was taken: the promised Content-Length can no
            // longer be met, so the connection must fail rather than send a short body.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while its ranges were sent",
            ));
        }
        self.data_left -= n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Read for PartsReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.text_pos < self.text.len() {
                let n = (self.text.len() - self.text_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.text[self.text_pos..self.text_pos + n]);
                self.text_pos += n;
                return Ok(n);
            }
            if self.data_left > 0 {
                return self.read_data(buf);
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeOutcome::{Full, Satisfiable, Unsatisfiable};

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn sat(ranges: &[(u64, u64)]) -> RangeOutcome {
        Satisfiable(ranges.iter().map(|&(s, e)| r(s, e)).collect())
    }

    /// `n` copies of `element` joined by commas behind `bytes=`.
    fn repeated(element: &str, n: usize) -> String {
        format!("bytes={}", vec![element; n].join(","))
    }

    /// Hostile headers: huge, numerous or overflowing. `max_ranges = 16` throughout.
    #[test]
    #[rustfmt::skip]
    fn parse_range_hostile() {
        let ten_k: Vec<String> = (0..10_000).map(|i| format!("{i}-{i}")).collect();
        let distinct: Vec<String> = (0..17).map(|i| format!("{0}-{0}", 2 * i)).collect();
        let cases: Vec<(&str, String, u64, RangeOutcome)> = vec![
            ("10,000 ranges are over the cap", format!("bytes={}", ten_k.join(",")), 100_000, Full),
            ("100 KB of ranges is over the cap", repeated("0-0", 25_000), 10, Full),
            ("100 KB of empty elements do not count", format!("bytes={}0-1", ", ".repeat(50_000)), 10, sat(&[(0, 1)])),
            ("100 KB of digits overflow", format!("bytes=0-{}", "9".repeat(100_000)), 10, Full),
            ("17 distinct ranges are over a cap of 16", format!("bytes={}", distinct.join(",")), 100, Full),
            ("17 ranges count as sent, before coalescing", repeated("0-0", 17), 100, Full),
            ("16 ranges coalesce to one", repeated("0-0", 16), 100, sat(&[(0, 0)])),
            ("17 unsatisfiable ranges are over the cap", repeated("500-", 17), 100, Full),
            ("a syntax error past the cap is never reached", format!("{},x", repeated("0-0", 17)), 100, Full),
        ];
        for (name, header, len, want) in cases {
            assert_eq!(parse_range(&header, len, 16), want, "{name}");
        }
    }

    /// Go's `range_test.go` layout: (name, header, length, expected), hostile rows first;
    /// every row uses `max_ranges = 16`.
    #[test]
    #[rustfmt::skip]
    fn parse_range_table() {
        let cases: Vec<(&str, &str, u64, RangeOutcome)> = vec![
            // Hostile numbers.
            ("30-digit first-pos overflows", "bytes=123456789012345678901234567890-", 10, Full),
            ("30-digit last-pos overflows", "bytes=0-123456789012345678901234567890", 10, Full),
            ("30-digit suffix overflows", "bytes=-123456789012345678901234567890", 10, Full),
            ("u64::MAX + 1 overflows", "bytes=0-18446744073709551616", 10, Full),
            ("u64::MAX is a number", "bytes=0-18446744073709551615", 10, sat(&[(0, 9)])),
            ("u64::MAX first-pos is past the end", "bytes=18446744073709551615-", 10, Unsatisfiable),
            ("u64::MAX suffix is the whole file", "bytes=-18446744073709551615", 10, sat(&[(0, 9)])),
            ("range ending at u64::MAX - 1", "bytes=18446744073709551613-", u64::MAX, sat(&[(u64::MAX - 2, u64::MAX - 1)])),
            // Syntax: every error ignores the whole header.
            ("no equals sign", "bytes 0-1", 10, Full),
            ("unit other than bytes", "items=0-1", 10, Full),
            ("empty unit", "=0-1", 10, Full),
            ("space before equals", "bytes =0-1", 10, Full),
            ("empty header", "", 10, Full),
            ("empty range-set", "bytes=", 10, Full),
            ("only empty elements", "bytes= , ,", 10, Full),
            ("no dash", "bytes=5", 10, Full),
            ("lone dash", "bytes=-", 10, Full),
            ("double dash", "bytes=--1", 10, Full),
            ("three parts", "bytes=1-2-3", 10, Full),
            ("first after last", "bytes=5-4", 10, Full),
            ("one bad range spoils the set", "bytes=0-1,5-4", 10, Full),
            ("one bad range after good ones", "bytes=0-1,2-3,x", 10, Full),
            ("letters", "bytes=a-b", 10, Full),
            ("plus sign", "bytes=+1-2", 10, Full),
            ("negative last-pos", "bytes=1--2", 10, Full),
            ("hex digits", "bytes=0x1-2", 10, Full),
            ("space inside a range", "bytes=0 -1", 10, Full),
            ("space after the dash", "bytes=0- 1", 10, Full),
            ("non-ASCII digit", "bytes=0-\u{0661}", 10, Full),
            ("semicolon separator", "bytes=0-1;2-3", 10, Full),
            ("two equals signs", "bytes=0-1=2", 10, Full),
            ("bad syntax beats zero length", "bytes=x", 0, Full),
            // Unit and list syntax that is accepted.
            ("unit is case-insensitive", "BYTES=0-1", 10, sat(&[(0, 1)])),
            ("unit in mixed case", "ByTeS=0-1", 10, sat(&[(0, 1)])),
            ("OWS around commas", "bytes=0-1 ,\t3-4 , 6-7", 10, sat(&[(0, 1), (3, 4), (6, 7)])),
            ("empty elements tolerated", "bytes=,0-1,,3-4,", 10, sat(&[(0, 1), (3, 4)])),
            ("OWS around the whole value", " bytes=0-1 ", 10, sat(&[(0, 1)])),
            ("leading zeros", "bytes=007-0009", 10, sat(&[(7, 9)])),
            // Single ranges and clipping.
            ("first byte", "bytes=0-0", 10, sat(&[(0, 0)])),
            ("last byte", "bytes=9-9", 10, sat(&[(9, 9)])),
            ("whole file", "bytes=0-9", 10, sat(&[(0, 9)])),
            ("open-ended", "bytes=3-", 10, sat(&[(3, 9)])),
            ("last-pos clipped", "bytes=3-100", 10, sat(&[(3, 9)])),
            ("last-pos exactly len clipped", "bytes=0-10", 10, sat(&[(0, 9)])),
            ("first-pos at len", "bytes=10-", 10, Unsatisfiable),
            ("first-pos past len", "bytes=11-20", 10, Unsatisfiable),
            // Suffix ranges.
            ("suffix", "bytes=-3", 10, sat(&[(7, 9)])),
            ("suffix of len", "bytes=-10", 10, sat(&[(0, 9)])),
            ("suffix longer than len", "bytes=-11", 10, sat(&[(0, 9)])),
            ("suffix of zero", "bytes=-0", 10, Unsatisfiable),
            ("suffix of zero dropped", "bytes=-0,0-1", 10, sat(&[(0, 1)])),
            // Satisfiability of sets.
            ("unsatisfiable ones dropped", "bytes=20-30,0-1,15-", 10, sat(&[(0, 1)])),
            ("all unsatisfiable", "bytes=20-30,15-,-0", 10, Unsatisfiable),
            ("zero length: int-range", "bytes=0-", 0, Unsatisfiable),
            ("zero length: bounded", "bytes=0-0", 0, Unsatisfiable),
            ("zero length: suffix of zero", "bytes=-0", 0, Unsatisfiable),
            ("zero length: suffix serves the empty whole", "bytes=-5", 0, Full),
            ("zero length: suffix among others", "bytes=0-1,-5", 0, Full),
            // Coalescing.
            ("overlap", "bytes=0-5,3-8", 10, sat(&[(0, 8)])),
            ("adjacent", "bytes=0-4,5-9", 10, sat(&[(0, 9)])),
            ("adjacent reversed", "bytes=5-9,0-4", 10, sat(&[(0, 9)])),
            ("containment", "bytes=0-9,2-3", 10, sat(&[(0, 9)])),
            ("contained first", "bytes=2-3,0-9", 10, sat(&[(0, 9)])),
            ("duplicate", "bytes=1-2,1-2", 10, sat(&[(1, 2)])),
            ("gap of one byte kept", "bytes=0-3,5-9", 10, sat(&[(0, 3), (5, 9)])),
            ("out of order kept", "bytes=6-7,0-1,3-4", 10, sat(&[(6, 7), (0, 1), (3, 4)])),
            ("merged range takes the earliest place", "bytes=8-9,0-1,2-3", 10, sat(&[(8, 9), (0, 3)])),
            ("later range merges into an earlier one", "bytes=0-1,8-9,1-2", 10, sat(&[(0, 2), (8, 9)])),
            ("bridge joins two earlier ranges", "bytes=0-2,6-8,3-5", 10, sat(&[(0, 8)])),
            ("chain through a suffix", "bytes=-2,0-3,4-7", 10, sat(&[(0, 9)])),
            ("clipped ranges coalesce", "bytes=5-100,8-", 10, sat(&[(5, 9)])),
            ("unsatisfiable ones between do not bridge", "bytes=0-1,20-30,3-4", 10, sat(&[(0, 1), (3, 4)])),
            ("16 distinct ranges allowed", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30", 100,
                sat(&[(0, 0), (2, 2), (4, 4), (6, 6), (8, 8), (10, 10), (12, 12), (14, 14), (16, 16), (18, 18), (20, 20), (22, 22), (24, 24), (26, 26), (28, 28), (30, 30)])),
        ];
        for (name, header, len, want) in cases {
            assert_eq!(parse_range(header, len, 16), want, "{name}: {header}");
        }
    }

    #[test]
    fn cap_of_one_allows_a_single_range_only() {
        assert_eq!(parse_range("bytes=0-1", 10, 1), sat(&[(0, 1)]));
        assert_eq!(parse_range("bytes=0-1,,", 10, 1), sat(&[(0, 1)]));
        assert_eq!(parse_range("bytes=0-1,0-1", 10, 1), Full);
    }

    #[test]
    fn range_len_is_inclusive() {
        assert_eq!(r(0, 0).len(), 1);
        assert_eq!(r(0, 99).len(), 100);
        assert_eq!(r(0, u64::MAX - 1).len(), u64::MAX);
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(&r(0, 99), 1000), "bytes 0-99/1000");
        assert_eq!(content_range(&r(999, 999), 1000), "bytes 999-999/1000");
        assert_eq!(unsatisfied_range(1000), "bytes */1000");
        assert_eq!(unsatisfied_range(0), "bytes */0");
        let refusal = unsatisfiable(1000, Beyond::Ranges);
        assert_eq!(refusal.status, 416);
        assert_eq!(refusal.get_header("content-range"), Some("bytes */1000"));
    }

    /// Reads `reader` to the end in reads of `step` bytes.
    fn read_in_steps(mut reader: impl Read, step: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0; step];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    const DIGITS: &[u8] = b"0123456789";

    #[test]
    fn multipart_layout_is_go_s() {
        let body =
            ByteRangesBody::with_boundary(vec![r(0, 1), r(7, 9)], 10, "text/plain", "B".into());
        let want = "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
                    \r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789\
                    \r\n--B--\r\n";
        assert_eq!(body.content_length(), want.len() as u64);
        assert_eq!(body.content_type(), "multipart/byteranges; boundary=B");
        let got = read_in_steps(body.reader(io::Cursor::new(DIGITS)), 8192).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }

    #[test]
    fn multipart_without_content_type_omits_the_field() {
        let body = ByteRangesBody::with_boundary(vec![r(3, 3), r(5, 5)], 10, "", "B".into());
        let want = "--B\r\nContent-Range: bytes 3-3/10\r\n\r\n3\
                    \r\n--B\r\nContent-Range: bytes 5-5/10\r\n\r\n5\r\n--B--\r\n";
        assert_eq!(body.content_length(), want.len() as u64);
        let got = read_in_steps(body.reader(io::Cursor::new(DIGITS)), 1).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }

    #[test]
    fn multipart_parts_keep_their_order_and_may_repeat_bytes() {
        let body =
            ByteRangesBody::with_boundary(vec![r(8, 9), r(0, 0), r(8, 8)], 10, "", "B".into());
        let got = read_in_steps(body.reader(io::Cursor::new(DIGITS)), 3).unwrap();
        let text = String::from_utf8(got).unwrap();
        let parts: Vec<&str> = text.split("\r\n\r\n").skip(1).map(|p| &p[..1]).collect();
        assert_eq!(parts, ["8", "0", "8"]);
    }

    #[test]
    fn boundaries_are_long_hex_and_distinct() {
        let a = ByteRangesBody::new(vec![r(0, 0)], 1, "text/plain");
        let b = ByteRangesBody::new(vec![r(0, 0)], 1, "text/plain");
        assert_eq!(a.boundary.len(), 32);
        assert!(a.boundary.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.boundary, b.boundary);
        assert_eq!(
            a.content_type(),
            format!("multipart/byteranges; boundary={}", a.boundary)
        );
    }

    #[test]
    fn multipart_reads_a_real_file() {
        let path = std::env::temp_dir().join(format!("shelf-range-{}", std::process::id()));
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let ranges = vec![r(99_000, 99_999), r(0, 65_535), r(70_000, 70_000)];
        let body = ByteRangesBody::new(ranges.clone(), 100_000, "application/octet-stream");
        let want = read_in_steps(body.clone().reader(io::Cursor::new(&data)), 8192).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let length = body.content_length();
        let got = read_in_steps(body.into_reader(file), 8192).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got.len() as u64, length);
        assert!(
            got == want,
            "the file and an in-memory copy give the same body"
        );
    }

    #[test]
    fn multipart_fails_when_the_file_shrank() {
        let body = ByteRangesBody::with_boundary(vec![r(0, 1), r(5, 9)], 10, "", "B".into());
        let err = read_in_steps(body.reader(io::Cursor::new(&DIGITS[..7])), 64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// xorshift64*: a deterministic PRNG so property failures replay exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len() as u64) as usize]
        }
    }

    /// One generated list element: what was written and what it means.
    enum Element {
        Empty,
        Bad,
        Valid(Spec),
    }

    /// A representation length: often tiny, sometimes zero or near `u64::MAX`.
    fn random_len(rng: &mut Rng) -> u64 {
        match rng.below(10) {
            0 => 0,
            1 => rng.next(),
            2 => u64::MAX,
            3..=5 => rng.below(20),
            _ => rng.below(200),
        }
    }

    /// A position near the interesting edges of a representation of `len` bytes.
    fn random_pos(rng: &mut Rng, len: u64) -> u64 {
        match rng.below(8) {
            0 => 0,
            1 => len,
            2 => len.saturating_sub(1),
            3 => len.saturating_add(1),
            4 => u64::MAX,
            _ => rng.below(len.saturating_add(2)),
        }
    }

    /// An element: mostly valid range-specs, sometimes empty, rarely (1%) malformed, so
    /// that many headers carry several ranges and survive to coalescing.
    fn random_element(rng: &mut Rng, len: u64) -> (String, Element) {
        if rng.below(100) == 0 {
            let bad = [
                "x",
                "1-2-3",
                "--1",
                "-",
                "1 -2",
                "+1-2",
                "9-1",
                "1",
                "0-99999999999999999999",
            ];
            return (rng.pick(&bad).into(), Element::Bad);
        }
        match rng.below(10) {
            0 => (rng.pick(&["", " ", "\t", " \t "]).into(), Element::Empty),
            1 => {
                let n = random_pos(rng, len);
                (format!("-{n}"), Element::Valid(Spec::Suffix(n)))
            }
            2 => {
                let first = random_pos(rng, len);
                (
                    format!("{first}-"),
                    Element::Valid(Spec::Int { first, last: None }),
                )
            }
            3..=5 => {
                let (a, b) = (random_pos(rng, len), random_pos(rng, len));
                int_range(a.min(b), a.max(b))
            }
            _ => {
                let first = random_pos(rng, len);
                int_range(first, first.saturating_add(rng.below(4)))
            }
        }
    }

    fn int_range(first: u64, last: u64) -> (String, Element) {
        let spec = Spec::Int {
            first,
            last: Some(last),
        };
        (format!("{first}-{last}"), Element::Valid(spec))
    }

    /// A random `Range` header for `len` and the elements it was built from.
    fn random_header(rng: &mut Rng, len: u64) -> (String, Vec<Element>) {
        let mut header = rng.pick(&["bytes=", "BYTES=", "Bytes="]).to_string();
        let mut elements = Vec::new();
        for i in 0..rng.below(22) {
            if i > 0 {
                header.push_str(rng.pick(&[",", ", ", " ,", "\t,\t"]));
            }
            let (text, element) = random_element(rng, len);
            header.push_str(&text);
            elements.push(element);
        }
        (header, elements)
    }

    /// The spec restated: the bytes a valid range-spec names, clipped, if satisfiable.
    fn model_range(spec: &Spec, len: u64) -> Option<(u64, u64)> {
        match *spec {
            Spec::Int { first, last } if first < len => {
                Some((first, last.unwrap_or(u64::MAX).min(len - 1)))
            }
            Spec::Suffix(n) if n > 0 && len > 0 => Some((len - n.min(len), len - 1)),
            _ => None,
        }
    }

    /// The outcome the spec demands when the header is malformed, over the cap or names no
    /// satisfiable byte; `None` when ranges must be served.
    fn model_outcome(
        elements: &[Element],
        len: u64,
        max: usize,
        wanted: &[(u64, u64)],
    ) -> Option<RangeOutcome> {
        let sent = elements
            .iter()
            .filter(|e| !matches!(e, Element::Empty))
            .count();
        let bad = elements.iter().any(|e| matches!(e, Element::Bad));
        let nonzero_suffix = elements
            .iter()
            .any(|e| matches!(e, Element::Valid(Spec::Suffix(n)) if *n > 0));
        if bad || sent == 0 || sent > max || (len == 0 && nonzero_suffix) {
            Some(Full)
        } else if wanted.is_empty() {
            Some(Unsatisfiable)
        } else {
            None
        }
    }

    /// Membership of `x` in a union of inclusive intervals.
    fn covers(set: &[(u64, u64)], x: u64) -> bool {
        set.iter().any(|&(s, e)| s <= x && x <= e)
    }

    /// Two unions of intervals are equal iff they agree on every interval end and the point
    /// just outside it: membership can only change at those points.
    fn same_union(a: &[(u64, u64)], b: &[(u64, u64)]) -> bool {
        let edges = a
            .iter()
            .chain(b)
            .flat_map(|&(s, e)| [s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
        edges.into_iter().all(|x| covers(a, x) == covers(b, x))
    }

    /// Properties of `parse_range` over 20,000 random headers, lengths and caps:
    /// 1. the outcome is `Full` exactly when the header is malformed, sends more than
    ///    `max_ranges` ranges, or names only the empty whole; `Unsatisfiable` exactly when no
    ///    range-spec is satisfiable;
    /// 2. every returned range lies within `0..len` (`start <= end < len`);
    /// 3. returned ranges are pairwise non-touching (neither overlapping nor adjacent);
    /// 4. the union of returned ranges equals the union of the satisfiable requested ranges,
    ///    clipped;
    /// 5. returned ranges keep the client's order: ordered by the first requested range each
    ///    contains.
    #[test]
    fn parse_range_properties() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..20_000 {
            let len = random_len(&mut rng);
            let max = rng.below(20) as usize + 1;
            let (header, elements) = random_header(&mut rng, len);
            let wanted: Vec<(u64, u64)> = elements
                .iter()
                .filter_map(|e| match e {
                    Element::Valid(spec) => model_range(spec, len),
                    _ => None,
                })
                .collect();
            let got = parse_range(&header, len, max);
            let ctx = format!("case {case}: {header:?} len {len} max {max} → {got:?}");
            if let Some(want) = model_outcome(&elements, len, max, &wanted) {
                assert_eq!(got, want, "{ctx}");
                continue;
            }
            let Satisfiable(ranges) = got else {
                panic!("{ctx}: expected ranges")
            };
            let got: Vec<(u64, u64)> = ranges.iter().map(|r| (r.start, r.end)).collect();
            assert!(
                got.iter().all(|&(s, e)| s <= e && e < len),
                "within 0..len: {ctx}"
            );
            for (i, &(s1, e1)) in got.iter().enumerate() {
                for &(s2, e2) in &got[i + 1..] {
                    assert!(e1 + 1 < s2 || e2 + 1 < s1, "non-touching: {ctx}");
                }
            }
            assert!(same_union(&got, &wanted), "same union: {ctx}");
            let first_member =
                |&(s, e): &(u64, u64)| wanted.iter().position(|&(ws, we)| s <= ws && we <= e);
            let order: Vec<Option<usize>> = got.iter().map(first_member).collect();
            assert!(
                order.iter().all(Option::is_some),
                "each holds a request: {ctx}"
            );
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "client's order: {ctx}"
            );
        }
    }

    /// One parsed body part: its header fields and its bytes.
    type Part = (Vec<(String, String)>, Vec<u8>);

    /// A minimal `multipart/byteranges` parser, independent of the writer: split on
    /// `CRLF--boundary`, expect no preamble, parts that open with CRLF, and a final `--`
    /// followed by CRLF and nothing else. Returns each part's header fields and bytes.
    fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
        let mut text = b"\r\n".to_vec();
        text.extend_from_slice(body);
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let mut pieces = split_on(&text, &delimiter).into_iter();
        assert_eq!(pieces.next(), Some(&b""[..]), "no preamble");
        let mut parts = Vec::new();
        for piece in pieces {
            if piece == b"--\r\n" {
                return parts;
            }
            let piece = piece
                .strip_prefix(b"\r\n")
                .expect("CRLF after the delimiter");
            let blank = find(piece, b"\r\n\r\n").expect("a blank line ends the head");
            let head = std::str::from_utf8(&piece[..blank]).expect("ASCII head");
            let fields = head
                .split("\r\n")
                .map(|line| line.split_once(": ").expect("name: value"))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            parts.push((fields, piece[blank + 4..].to_vec()));
        }
        panic!("no close delimiter");
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn split_on<'a>(mut text: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        while let Some(at) = find(text, delimiter) {
            pieces.push(&text[..at]);
            text = &text[at + delimiter.len()..];
        }
        pieces.push(text);
        pieces
    }

    /// Properties of `ByteRangesBody` over 3,000 random files, range lists (coalesced by
    /// `parse_range` or raw, overlapping and unordered) and read sizes:
    /// 1. `content_length()` equals the number of bytes the reader produces;
    /// 2. parsing the body back yields one part per range, in order, each with the
    ///    representation's `Content-Type`, the `Content-Range` of its range, and exactly the
    ///    file's bytes of that range.
    #[test]
    fn multipart_properties() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for case in 0..3_000 {
            let len = rng.below(300) + 1;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let ranges = random_ranges(&mut rng, len);
            let ct = rng.pick(&["text/plain; charset=utf-8", "image/png", ""]);
            let body = ByteRangesBody::new(ranges.clone(), len, ct);
            let (boundary, length) = (body.boundary.clone(), body.content_length());
            let step = rng.below(64) as usize + 1;
            let produced = read_in_steps(body.reader(io::Cursor::new(&data)), step).unwrap();
            let ctx = format!("case {case}: len {len} {ranges:?} step {step}");
            assert_eq!(produced.len() as u64, length, "content_length: {ctx}");
            let parts = parse_multipart(&produced, &boundary);
            assert_eq!(parts.len(), ranges.len(), "{ctx}");
            for ((fields, bytes), range) in parts.iter().zip(&ranges) {
                let mut want = vec![("Content-Range".to_string(), content_range(range, len))];
                if !ct.is_empty() {
                    want.insert(0, ("Content-Type".to_string(), ct.to_string()));
                }
                assert_eq!(fields, &want, "{ctx}");
                let slice = &data[range.start as usize..=range.end as usize];
                assert!(bytes == slice, "bytes of {range:?}: {ctx}");
            }
        }
    }

    /// Half the time the outcome of a random header, else up to 6 raw ranges inside `0..len`.
    fn random_ranges(rng: &mut Rng, len: u64) -> Vec<ByteRange> {
        if rng.below(2) == 0 {
            let (header, _) = random_header(rng, len);
            if let Satisfiable(ranges) = parse_range(&header, len, 16) {
                return ranges;
            }
        }
        let count = rng.below(6) + 1;
        (0..count)
            .map(|_| {
                let (a, b) = (rng.below(len), rng.below(len));
                r(a.min(b), a.max(b))
            })
            .collect()
    }

    #[test]
    fn content_length_saturates_near_u64_max() {
        let whole = vec![r(0, u64::MAX - 1)];
        assert_eq!(
            ByteRangesBody::new(whole, u64::MAX, "").content_length(),
            u64::MAX
        );
        let big = 1u64 << 62;
        let body = ByteRangesBody::with_boundary(vec![r(0, big - 1)], big, "", "B".into());
        let head = format!("--B\r\nContent-Range: bytes 0-{}/{big}\r\n\r\n", big - 1);
        assert_eq!(
            body.content_length(),
            head.len() as u64 + big + "\r\n--B--\r\n".len() as u64
        );
    }
}
