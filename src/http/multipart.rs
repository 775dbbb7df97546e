//! A streaming `multipart/form-data` reader (RFC 7578 over RFC 2046 §5.1): parts come one at
//! a time, each body a `Read`, so an upload of any size needs one small buffer.

use std::io::{self, Read};

/// Longest header section of one part; more is malformed.
const MAX_PART_HEAD: usize = 16 * 1024;

/// How many bytes one read from the underlying body asks for.
const PART_READ_CHUNK: usize = 64 * 1024;

/// Marks an `io::Error` as "the multipart body is malformed" (400), as opposed to an error
/// from the connection underneath, which the caller maps as any body error. The phrase says
/// what is wrong in words a client is shown (the body of the 400).
#[derive(Debug)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Malformed {}

fn malformed(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Malformed(why))
}

/// What a part's headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHead {
    /// The form field name.
    pub name: Option<String>,
    /// The file name as sent (`filename*` preferred); `None` for a plain field.
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Inside a part's body.
    Body,
    /// Just after a delimiter: `--` ends the body, CRLF starts a part.
    Delimited,
    /// After the close delimiter.
    End,
}

/// Parts of a multipart body read from `inner`.
pub struct FormDataReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    state: State,
    eof: bool,
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type, if that is the type.
pub fn form_data_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })?;
    // RFC 2046 §5.1.1: 1 to 70 characters.
    (1..=70).contains(&boundary.len()).then_some(boundary)
}

impl<R: Read> FormDataReader<R> {
    /// A reader of the parts of `inner`, delimited by `boundary`.
    pub fn new(inner: R, boundary: &str) -> FormDataReader<R> {
        FormDataReader {
            inner,
            // RFC 2046 §5.1.1: the CRLF before a delimiter belongs to it; the first delimiter
            // may start the body, so a CRLF is assumed before it.
            buf: b"\r\n".to_vec(),
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: State::Preamble,
            eof: false,
        }
    }

    /// Moves to the next part, skipping what is left of the current one; `None` after the last.
    pub fn next_part(&mut self) -> io::Result<Option<PartHead>> {
        let mut sink = [0u8; 8192];
        while matches!(self.state, State::Preamble | State::Body) {
            if self.state == State::Preamble {
                self.skip_preamble()?;
            } else {
                self.read_body(&mut sink)?;
            }
        }
        if self.state == State::End {
            return Ok(None);
        }
        if !self.after_delimiter()? {
            self.state = State::End;
            return Ok(None);
        }
        let head = self.read_head()?;
        self.state = State::Body;
        Ok(Some(head))
    }

    /// Reads the current part's body; 0 at its end.
    pub fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.state != State::Body || out.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                if at == 0 {
                    self.buf.drain(..self.delimiter.len());
                    self.state = State::Delimited;
                    return Ok(0);
                }
                return Ok(self.take(at.min(out.len()), out));
            }
            // Keep a tail that could be the start of a delimiter split across reads.
            let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
            if safe > 0 {
                return Ok(self.take(safe.min(out.len()), out));
            }
            if !self.fill()? {
                return Err(malformed("the multipart body ends inside a part"));
            }
        }
    }

    /// Moves `n` buffered bytes to `out`.
    fn take(&mut self, n: usize, out: &mut [u8]) -> usize {
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.drain(..n);
        n
    }

    /// Reads more of the underlying body; false at its end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let start = self.buf.len();
        self.buf.resize(start + PART_READ_CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *n.as_ref().unwrap_or(&0));
        let n = n?;
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Discards everything up to and including the first delimiter.
    fn skip_preamble(&mut self) -> io::Result<()> {
        loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                self.buf.drain(..at + self.delimiter.len());
                self.state = State::Delimited;
                return Ok(());
            }
            let keep = self.delimiter.len() - 1;
            if self.buf.len() > keep {
                self.buf.drain(..self.buf.len() - keep);
            }
            if !self.fill()? {
                return Err(malformed("the multipart body has no boundary line"));
            }
        }
    }

    /// After a delimiter: true if a part follows, false after the close delimiter (`--`).
    fn after_delimiter(&mut self) -> io::Result<bool> {
        loop {
            // RFC 2046 §5.1.1: "transport-padding" (spaces and tabs) may follow a delimiter.
            let pad = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            let rest = &self.buf[pad..];
            if rest.starts_with(b"--") {
                return Ok(false);
            }
            if rest.starts_with(b"\r\n") {
                self.buf.drain(..pad + 2);
                return Ok(true);
            }
            if rest.len() >= 2 || self.buf.len() > MAX_PART_HEAD {
                return Err(malformed("a multipart boundary line is malformed"));
            }
            if !self.fill()? {
                return Err(malformed("the multipart body ends after a boundary line"));
            }
        }
    }

    /// Reads and parses a part's header section, up to the blank line.
    fn read_head(&mut self) -> io::Result<PartHead> {
        loop {
            let end = match self.buf.starts_with(b"\r\n") {
                true => Some(0),
                false => find(&self.buf, b"\r\n\r\n").map(|at| at + 2),
            };
            if let Some(end) = end {
                let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(parse_head(&text));
            }
            if self.buf.len() > MAX_PART_HEAD {
                return Err(malformed("a multipart part's headers are too long"));
            }
            if !self.fill()? {
                return Err(malformed("the multipart body ends in a part's headers"));
            }
        }
    }
}

/// A part's body as a `Read`, for `io::copy`.
pub struct PartBody<'m, R>(pub &'m mut FormDataReader<R>);

impl<R: Read> Read for PartBody<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read_body(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The fields of `Content-Disposition` that matter here; other headers are ignored.
fn parse_head(text: &str) -> PartHead {
    let mut head = PartHead::default();
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let mut extended = None;
        for (key, value) in disposition_params(value) {
            match key.to_ascii_lowercase().as_str() {
                "name" => head.name = Some(value),
                "filename" => head.filename = Some(value),
                "filename*" => extended = decode_ext_value(&value),
                _ => {}
            }
        }
        // RFC 6266 §4.3: filename* is preferred when both are present.
        if extended.is_some() {
            head.filename = extended;
        }
    }
    head
}

/// The `key=value` parameters after `form-data;`, values unquoted (`\"` → `"`).
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = value.split_once(';').map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some(eq) = rest.find('=') else {
            return params;
        };
        let key = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let value = match rest.strip_prefix('"') {
            Some(quoted) => {
                let (value, used) = unquote(quoted);
                rest = &quoted[used..];
                value
            }
            None => {
                let end = rest.find(';').unwrap_or(rest.len());
                let value = rest[..end].trim().to_string();
                rest = &rest[end..];
                value
            }
        };
        params.push((key, value));
    }
}

/// The content of a quoted string (after its opening quote) and the bytes used, closing quote
/// included. A backslash escapes the next character, as `curl -F` writes `\"`.
fn unquote(quoted: &str) -> (String, usize) {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, i + 1),
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    value.push(next);
                }
            }
            c => value.push(c),
        }
    }
    (value, quoted.len())
}

/// RFC 8187 `UTF-8''%E2%82%AC.txt`; other charsets are not decoded.
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_, encoded) = rest.split_once('\'')?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads every part of `body` through a reader that yields `step` bytes at a time.
    fn parts(body: &[u8], boundary: &str, step: usize) -> io::Result<Vec<(PartHead, Vec<u8>)>> {
        struct Dribble<'a>(&'a [u8], usize);
        impl Read for Dribble<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut mp = FormDataReader::new(Dribble(body, step), boundary);
        let mut out = Vec::new();
        while let Some(head) = mp.next_part()? {
            let mut data = Vec::new();
            PartBody(&mut mp).read_to_end(&mut data)?;
            out.push((head, data));
        }
        Ok(out)
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"files\"; filename=\"a\\\"b.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line one\r\n--Xy\r\n\
        --XyZ  \r\n\
        Content-Disposition: form-data; name=note\r\n\r\n\
        hello\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"f\"; filename=\"x\"; filename*=UTF-8''%E2%82%AC.txt\r\n\r\n\
        \r\n--XyZ--\r\nepilogue";

    #[test]
    fn parts_survive_any_read_size() {
        for step in [1, 2, 3, 7, 64, 100_000] {
            let got = parts(BODY, "XyZ", step).unwrap();
            assert_eq!(got.len(), 3, "step {step}");
            assert_eq!(got[0].0.filename.as_deref(), Some("a\"b.txt"));
            assert_eq!(got[0].0.name.as_deref(), Some("files"));
            assert_eq!(got[0].1, b"line one\r\n--Xy");
            assert_eq!(got[1].0.filename, None);
            assert_eq!(got[1].1, b"hello");
            assert_eq!(got[2].0.filename.as_deref(), Some("\u{20ac}.txt"));
            assert_eq!(got[2].1, b"");
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let rows: &[&[u8]] = &[
            b"",
            b"no delimiter at all",
            b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated",
            b"--XyZ\r\nContent-Disposition: form-data; name=a",
            b"--XyZgarbage",
        ];
        for body in rows {
            let err = parts(body, "XyZ", 5).unwrap_err();
            assert!(
                err.get_ref().is_some_and(|e| e.is::<Malformed>()),
                "{body:?}"
            );
        }
        assert!(parts(b"--XyZ--", "XyZ", 5).unwrap().is_empty());
    }

    #[test]
    fn boundary_rows() {
        let rows: &[(&str, Option<&str>)] = &[
            ("multipart/form-data", None),
            ("multipart/form-data; boundary=", None),
            ("multipart/mixed; boundary=a", None),
            ("text/plain; boundary=a", None),
            ("multipart/form-data; boundary=abc", Some("abc")),
            (
                "Multipart/Form-Data; charset=x; BOUNDARY=\"a b\"",
                Some("a b"),
            ),
        ];
        for (value, want) in rows {
            assert_eq!(form_data_boundary(value).as_deref(), *want, "{value}");
        }
        let long = format!("multipart/form-data; boundary={}", "a".repeat(71));
        assert_eq!(form_data_boundary(&long), None);
    }
}
