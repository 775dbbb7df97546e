//! Request-body readers: `Content-Length` and chunked framing as `Read` adapters.
//!
//! Both read from the connection's `BufRead` and stop exactly at the end of the body, so the
//! next pipelined request stays in the connection's buffer. Neither allocates in proportion
//! to what a client sends: chunk-size and trailer lines are capped before they are buffered,
//! and trailer fields are checked, then dropped (nothing in shelf reads them).

use std::fmt;
use std::io::{self, BufRead, Read};

use super::parse::{Span, parse_field_line};

/// Longest chunk-size line accepted, extensions and line end included.
pub const MAX_SIZE_LINE: usize = 4096;

/// Most hex digits in a chunk size: 16 fill a u64, so no size can overflow.
const MAX_SIZE_DIGITS: usize = 16;

/// Why a body was refused; carried inside an `io::Error`, which `Error::from` maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The chunked framing is broken (400).
    Malformed,
    /// The decoded body is over `limit` bytes, its `max_body_bytes` (413).
    TooLarge {
        /// The limit it went over.
        limit: u64,
    },
    /// The trailer section is over its limit, `max_header_bytes` (413).
    TrailersTooLarge,
    /// The client paused longer than `body_timeout_s` (408).
    Timeout,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::Malformed => "malformed chunked body",
            BodyError::TooLarge { .. } => "request body too large",
            BodyError::TrailersTooLarge => "request trailers too large",
            BodyError::Timeout => "request body too slow",
        })
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for io::Error {
    fn from(e: BodyError) -> io::Error {
        let kind = match e {
            BodyError::Timeout => io::ErrorKind::TimedOut,
            BodyError::Malformed | BodyError::TooLarge { .. } | BodyError::TrailersTooLarge => {
                io::ErrorKind::InvalidData
            }
        };
        io::Error::new(kind, e)
    }
}

/// The error for a stream that ends inside a body.
fn early_eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "body cut short")
}

// ---------------------------------------------------------------------------------------------
// Content-Length

/// Reads exactly `n` bytes of body (`Content-Length: n`); ending early is `UnexpectedEof`.
#[derive(Debug)]
pub struct LengthReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> LengthReader<R> {
    /// A reader of the next `length` bytes of `inner`.
    pub fn new(inner: R, length: u64) -> Self {
        LengthReader {
            inner,
            remaining: length,
        }
    }

    /// Bytes of body not yet read.
    #[cfg(test)]
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// The inner reader, positioned after what has been read of the body.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// How many bytes the next read may take: at most what is left of the body.
    fn cap(&self, len: usize) -> usize {
        usize::try_from(self.remaining).map_or(len, |left| left.min(len))
    }
}

impl<R: Read> Read for LengthReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = self.cap(buf.len());
        if cap == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..cap])?;
        if n == 0 {
            return Err(early_eof());
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LengthReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.remaining == 0 {
            return Ok(&[]);
        }
        let cap = self.cap(usize::MAX);
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            return Err(early_eof());
        }
        Ok(&available[..available.len().min(cap)])
    }

    fn consume(&mut self, amount: usize) {
        let amount = self.cap(amount);
        self.inner.consume(amount);
        self.remaining -= amount as u64;
    }
}

// ---------------------------------------------------------------------------------------------
// Chunked

/// Where a chunked reader stands in RFC 9112 §7.1's grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting `chunk-size [ chunk-ext ] CRLF`.
    Size,
    /// Inside chunk data, with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer fields until an empty line.
    Trailers,
    /// The final CRLF has been read.
    Done,
}

/// Decodes a chunked body (RFC 9112 §7.1) from a `BufRead`, enforcing size limits.
///
/// After an error the reader's state is unspecified: the connection must close.
#[derive(Debug)]
pub struct ChunkedReader<R> {
    inner: R,
    state: State,
    /// Decoded bytes announced so far (sum of chunk sizes).
    decoded: u64,
    max_body_bytes: u64,
    max_trailer_bytes: usize,
    /// The line being read; kept across calls so an interrupted read loses nothing.
    line: Vec<u8>,
    /// Trailer bytes received so far, line ends included.
    trailer_used: usize,
}

impl<R: BufRead> ChunkedReader<R> {
    /// A reader that refuses more than `max_body_bytes` of decoded data or
    /// `max_trailer_bytes` of trailer section.
    pub fn new(inner: R, max_body_bytes: u64, max_trailer_bytes: usize) -> Self {
        ChunkedReader {
            inner,
            state: State::Size,
            decoded: 0,
            max_body_bytes,
            max_trailer_bytes,
            line: Vec::new(),
            trailer_used: 0,
        }
    }

    /// True once the final CRLF after the trailers has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The inner reader, positioned after what has been read of the body.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads a chunk-size line and moves to its data, or to the trailers after `0`.
    fn read_size_line(&mut self) -> io::Result<()> {
        read_line(
            &mut self.inner,
            &mut self.line,
            MAX_SIZE_LINE,
            BodyError::Malformed,
        )?;
        let size = parse_size_line(&self.line)?;
        self.line.clear();
        // Refuse as soon as the announced size passes the limit, before reading its data.
        self.decoded = self
            .decoded
            .checked_add(size)
            .filter(|&total| total <= self.max_body_bytes)
            .ok_or(BodyError::TooLarge {
                limit: self.max_body_bytes,
            })?;
        self.state = if size == 0 {
            State::Trailers
        } else {
            State::Data(size)
        };
        Ok(())
    }

    /// Copies chunk data into `buf`; returns how many bytes it copied (at least one).
    fn read_data(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let cap = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let n = self.inner.read(&mut buf[..cap])?;
        if n == 0 {
            return Err(early_eof());
        }
        let left = left - n as u64;
        self.state = if left == 0 {
            State::DataEnd
        } else {
            State::Data(left)
        };
        Ok(n)
    }

    /// Reads the line end that must follow chunk data.
    fn read_data_end(&mut self) -> io::Result<()> {
        // RFC 9112 §7.1: "chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF".
        read_line(&mut self.inner, &mut self.line, 2, BodyError::Malformed)?;
        if !self.line.is_empty() {
            return Err(BodyError::Malformed.into());
        }
        self.state = State::Size;
        Ok(())
    }

    /// Reads and checks one trailer line, then drops it; the empty line ends the body.
    fn read_trailer_line(&mut self) -> io::Result<()> {
        let budget = self.max_trailer_bytes.saturating_sub(self.trailer_used);
        // The empty line that ends the body (up to 2 bytes) is not counted against the budget.
        let cap = budget.saturating_add(2);
        let over = BodyError::TrailersTooLarge;
        let used = read_line(&mut self.inner, &mut self.line, cap, over)?;
        if self.line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        if used > budget {
            return Err(over.into());
        }
        self.trailer_used += used;
        // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), checked like the head's.
        let line = Span {
            start: 0,
            end: self.line.len(),
        };
        parse_field_line(&self.line, line).map_err(|_| BodyError::Malformed)?;
        self.line.clear();
        Ok(())
    }
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Size => self.read_size_line()?,
                State::Data(left) => return self.read_data(buf, left),
                State::DataEnd => self.read_data_end()?,
                State::Trailers => self.read_trailer_line()?,
                State::Done => return Ok(0),
            }
        }
    }
}

/// Reads one line into `line` (without its line end), taking at most `cap` bytes including
/// the line end; more is `over`. Returns the bytes it consumed for the line, ends included.
///
/// `line` keeps a partial line if the inner reader fails, so a retried call goes on from there.
fn read_line<R: BufRead>(
    inner: &mut R,
    line: &mut Vec<u8>,
    cap: usize,
    over: BodyError,
) -> io::Result<usize> {
    loop {
        let available = inner.fill_buf()?;
        if available.is_empty() {
            return Err(early_eof());
        }
        let lf = available.iter().position(|&b| b == b'\n');
        let take = lf.map_or(available.len(), |at| at + 1);
        // Checked before copying: nothing past the cap is ever stored.
        if line.len() + take > cap {
            return Err(over.into());
        }
        line.extend_from_slice(&available[..take]);
        inner.consume(take);
        if lf.is_some() {
            return strip_line_end(line);
        }
    }
}

/// Removes the CRLF that ends `line`; a bare LF there, or a CR anywhere else, is malformed.
fn strip_line_end(line: &mut Vec<u8>) -> io::Result<usize> {
    let used = line.len();
    // RFC 9112 §7.1: the chunked grammar ends every line in CRLF. Unlike the head (§2.2 lets
    // a recipient take a bare LF there), a lenient reading of the framing is how a body is
    // cut in two places by two readers, and the rest smuggled in as a request: refused.
    if !line.ends_with(b"\r\n") {
        return Err(BodyError::Malformed.into());
    }
    line.truncate(used - 2);
    // RFC 9112 §2.2: a bare CR is invalid.
    if line.contains(&b'\r') {
        return Err(BodyError::Malformed.into());
    }
    Ok(used)
}

/// Parses `chunk-size [ chunk-ext ]` (line end already removed) into the size.
fn parse_size_line(line: &[u8]) -> Result<u64, BodyError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    // RFC 9112 §7.1: "Recipients MUST anticipate potentially large hexadecimal numerals and
    // prevent parsing errors due to integer conversion overflows". 16 digits always fit.
    if digits == 0 || digits > MAX_SIZE_DIGITS {
        return Err(BodyError::Malformed);
    }
    check_chunk_ext(&line[digits..])?;
    let digits = std::str::from_utf8(&line[..digits]).map_err(|_| BodyError::Malformed)?;
    u64::from_str_radix(digits, 16).map_err(|_| BodyError::Malformed)
}

/// Checks what follows the size: nothing, or `*( BWS ";" ... )` without control bytes.
/// Extensions are ignored (RFC 9112 §7.1.1: "A recipient MUST ignore unrecognized chunk
/// extensions"), so only their outline is checked.
fn check_chunk_ext(ext: &[u8]) -> Result<(), BodyError> {
    let bws = ext.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let outline_ok = ext.is_empty() || ext.get(bws) == Some(&b';');
    let bytes_ok = ext
        .iter()
        .all(|&b| b == b'\t' || (0x20..=0x7E).contains(&b) || b >= 0x80);
    if outline_ok && bytes_ok {
        Ok(())
    } else {
        Err(BodyError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `BufRead` that hands out one byte per `fill_buf`, to prove fragmentation is harmless.
    struct OneByte<'a> {
        data: &'a [u8],
    }

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.fill_buf()?.len().min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.consume(n);
            Ok(n)
        }
    }

    impl BufRead for OneByte<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            Ok(&self.data[..self.data.len().min(1)])
        }
        fn consume(&mut self, amount: usize) {
            self.data = &self.data[amount..];
        }
    }

    const MAX_BODY: u64 = 1 << 20;
    const MAX_TRAILERS: usize = 64;

    /// Decodes `input` whole, both from a slice and one byte at a time; both must agree.
    fn decode(input: &[u8]) -> Result<Vec<u8>, io::Error> {
        let whole = read_all(ChunkedReader::new(input, MAX_BODY, MAX_TRAILERS));
        let bytewise = read_all(ChunkedReader::new(
            OneByte { data: input },
            MAX_BODY,
            MAX_TRAILERS,
        ));
        assert_eq!(
            whole.as_ref().map_err(kind),
            bytewise.as_ref().map_err(kind),
            "fragmentation changed the outcome for {:?}",
            String::from_utf8_lossy(input)
        );
        whole
    }

    fn read_all(mut reader: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    /// What a caller can tell apart: the error kind and the `BodyError` inside, if any.
    type Kind = (io::ErrorKind, Option<BodyError>);

    fn kind(e: &io::Error) -> Kind {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<BodyError>());
        (e.kind(), inner.copied())
    }

    #[test]
    fn hostile_chunked_bodies_are_refused() {
        use io::ErrorKind::{InvalidData, UnexpectedEof};
        let malformed = (InvalidData, Some(BodyError::Malformed));
        let too_large = (InvalidData, Some(BodyError::TooLarge { limit: MAX_BODY }));
        let trailers_too_large = (InvalidData, Some(BodyError::TrailersTooLarge));
        let eof = (UnexpectedEof, None);
        let long_size_line = [b"1;".as_slice(), &[b'x'; 10_000], b"\r\na\r\n0\r\n\r\n"].concat();
        let big_trailer = [b"0\r\nX: ".as_slice(), &[b'y'; 100], b"\r\n\r\n"].concat();
        // Five lines of 14 bytes: each fits the 64-byte budget, together they do not.
        let many_trailers = [b"0\r\n".as_slice(), &b"X: 123456789\r\n".repeat(5), b"\r\n"].concat();
        let cases: &[(&str, &[u8], Kind)] = &[
            // RFC 9112 §7.1: every line of the framing ends in CRLF. A bare LF is refused
            // wherever it stands: a proxy in front that reads it otherwise would see another
            // body end, and what follows as the next request (smuggling).
            ("bare LF after the size", b"2\nhi\r\n0\r\n\r\n", malformed),
            (
                "bare LF after an extension",
                b"2;a=b\nhi\r\n0\r\n\r\n",
                malformed,
            ),
            ("bare LF after the data", b"2\r\nhi\n0\r\n\r\n", malformed),
            (
                "bare LF after the last size",
                b"2\r\nhi\r\n0\n\r\n",
                malformed,
            ),
            ("bare LF after a trailer", b"0\r\nA: b\n\r\n", malformed),
            ("bare LF as the final line", b"0\r\n\n", malformed),
            ("LF-only lines throughout", b"2\nhi\n0\nA: b\n\n", malformed),
            ("not hex", b"zz\r\n", malformed),
            ("negative", b"-1\r\nx\r\n0\r\n\r\n", malformed),
            (
                "17 hex digits",
                b"00000000000000001\r\nx\r\n0\r\n\r\n",
                malformed,
            ),
            ("overflow", b"10000000000000000\r\n", malformed),
            ("empty size", b"\r\n", malformed),
            ("leading space", b" 1\r\nx\r\n0\r\n\r\n", malformed),
            ("trailing junk", b"1x\r\nx\r\n0\r\n\r\n", malformed),
            ("trailing space", b"1 \r\nx\r\n0\r\n\r\n", malformed),
            ("0x prefix", b"0x1\r\nx\r\n0\r\n\r\n", malformed),
            (
                "control in extension",
                b"1;a\x01\r\nx\r\n0\r\n\r\n",
                malformed,
            ),
            (
                "bare CR in size line",
                b"1\r;a\r\nx\r\n0\r\n\r\n",
                malformed,
            ),
            (
                "missing CRLF after data",
                b"3\r\nabcdef\r\n0\r\n\r\n",
                malformed,
            ),
            ("junk before CRLF", b"3\r\nabcX\r\n0\r\n\r\n", malformed),
            ("size line of 10,000 bytes", &long_size_line, malformed),
            (
                "trailer not a field",
                b"0\r\nnot a field\r\n\r\n",
                malformed,
            ),
            ("trailer obs-fold", b"0\r\nA: b\r\n c\r\n\r\n", malformed),
            ("trailer NUL", b"0\r\nA: b\0\r\n\r\n", malformed),
            ("trailer too big", &big_trailer, trailers_too_large),
            (
                "trailers too big together",
                &many_trailers,
                trailers_too_large,
            ),
            ("body over the limit", b"100001\r\n", too_large),
            ("truncated in size", b"5", eof),
            ("truncated in data", b"5\r\nab", eof),
            ("truncated after data", b"5\r\nabcde", eof),
            ("truncated in trailers", b"5\r\nabcde\r\n0\r\nA: b\r\n", eof),
            ("no final CRLF", b"0\r\n", eof),
            ("empty stream", b"", eof),
        ];
        for (name, input, want) in cases {
            match decode(input) {
                Ok(body) => panic!("{name}: decoded {body:?}"),
                Err(e) => assert_eq!(kind(&e), *want, "{name}: {e}"),
            }
        }
    }

    #[test]
    fn valid_chunked_bodies_decode() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("empty body", b"0\r\n\r\n", b""),
            ("one chunk", b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (
                "several chunks, hex sizes",
                b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
                b"abc0123456789",
            ),
            (
                "uppercase and leading zeros",
                b"0000000000000003\r\nabc\r\n00\r\n\r\n",
                b"abc",
            ),
            (
                "extensions",
                b"3;a=b;c=\"d e\"\r\nabc\r\n3 ; x\r\ndef\r\n0;last\r\n\r\n",
                b"abcdef",
            ),
            (
                "trailers",
                b"2\r\nhi\r\n0\r\nDigest: x\r\nExpires:  never \r\n\r\n",
                b"hi",
            ),
            (
                "data holding CRLF",
                b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
                b"\r\n\r\n",
            ),
        ];
        for (name, input, want) in cases {
            let body = decode(input).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(body, *want, "{name}");
        }
    }

    #[test]
    fn chunked_reader_stops_at_the_end_after_trailers() {
        let input = b"2\r\nhi\r\n0\r\nA: 1\r\nb:2\r\n\r\nGET / HTTP/1.1\r\n";
        let mut reader = ChunkedReader::new(&input[..], MAX_BODY, MAX_TRAILERS);
        assert_eq!(read_all(&mut reader).unwrap(), b"hi");
        assert!(reader.is_done());
        assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
        assert_eq!(reader.into_inner(), b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn body_limit_counts_decoded_bytes() {
        let at_limit = ChunkedReader::new(&b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"[..], 4, 0);
        assert_eq!(read_all(at_limit).unwrap(), b"abcd");
        let over = ChunkedReader::new(&b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"[..], 4, 0);
        let e = read_all(over).unwrap_err();
        assert_eq!(
            kind(&e),
            (
                io::ErrorKind::InvalidData,
                Some(BodyError::TooLarge { limit: 4 })
            )
        );
    }

    #[test]
    fn length_reader_reads_exactly_n() {
        let input = b"hello world";
        let mut reader = LengthReader::new(OneByte { data: input }, 5);
        assert_eq!(read_all(&mut reader).unwrap(), b"hello");
        assert!(reader.is_done());
        assert_eq!(reader.into_inner().data, b" world");

        let short = LengthReader::new(&b"abc"[..], 5);
        assert_eq!(
            read_all(short).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );

        let mut buffered = LengthReader::new(&b"abcdef"[..], 4);
        assert_eq!(buffered.fill_buf().unwrap(), b"abcd");
        buffered.consume(3);
        assert_eq!(buffered.remaining(), 1);
        assert_eq!(read_all(buffered).unwrap(), b"d");
    }
}
