//! Text made safe for where it goes: hexadecimal, percent-encoded hrefs, JSON string literals
//! and HTML text. An escaped byte is a push of precomputed hex digits, never a `format!`.

/// Lower-case hexadecimal digits, by value.
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Upper-case hexadecimal digits, by value: RFC 3986 §2.1 says percent-encoders "SHOULD use
/// uppercase hexadecimal digits".
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the two digits of `byte` from `digits`.
fn push_hex_byte(out: &mut String, byte: u8, digits: &[u8; 16]) {
    out.push(char::from(digits[usize::from(byte >> 4)]));
    out.push(char::from(digits[usize::from(byte & 0x0f)]));
}

/// Appends `bytes` as lower-case hexadecimal, two digits a byte (digests, tags).
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        push_hex_byte(out, b, LOWER_HEX);
    }
}

/// `bytes` as lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Percent-encodes a file name for a relative href: every byte but the RFC 3986 unreserved
/// characters, so `?`, `#`, `:` and non-ASCII cannot change how the link is read.
pub fn encode_href(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            push_hex_byte(&mut out, b, UPPER_HEX);
        }
    }
    out
}

/// Percent-encodes a decoded URL path for an absolute href: `/`, each non-empty segment as
/// [`encode_href`] does, and a trailing `/` when the path has one. Empty segments are dropped,
/// so the href can never start with `//` (which a browser reads as another host).
pub fn encode_path(path: &str) -> String {
    let mut out = String::from("/");
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(encode_href)
        .collect();
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Appends `s` as a JSON string literal (RFC 8259 §7).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // RFC 8259 §7: control characters "MUST be escaped".
            c if u32::from(c) < 0x20 => {
                out.push_str("\\u00");
                // Exact: below 0x20, the char is a single byte.
                push_hex_byte(out, c as u8, LOWER_HEX);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_rows() {
        let rows: &[(&[u8], &str)] = &[
            (&[], ""),
            (&[0x00], "00"),
            (&[0xff], "ff"),
            (&[0x0f, 0xf0], "0ff0"),
            (&[0xde, 0xad, 0xbe, 0xef], "deadbeef"),
            (b"\x01\x23\x45\x67\x89\xab\xcd\xef", "0123456789abcdef"),
        ];
        for (bytes, want) in rows {
            assert_eq!(hex(bytes), *want, "{bytes:?}");
        }
        let every: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&(0..=255u8).collect::<Vec<_>>()), every);
        let mut appended = String::from("\"");
        push_hex(&mut appended, &[0xab]);
        assert_eq!(appended, "\"ab");
    }

    #[test]
    fn href_encoding_table() {
        let rows: &[(&str, &str)] = &[
            // Hostile rows first: what could end, redirect or re-route a link.
            ("\"'&<>", "%22%27%26%3C%3E"),
            ("a b#?.txt", "a%20b%23%3F.txt"),
            ("../x", "..%2Fx"),
            ("c:d", "c%3Ad"),
            ("//evil", "%2F%2Fevil"),
            ("a\\b", "a%5Cb"),
            ("100%", "100%25"),
            ("\0\r\n\u{7f}", "%00%0D%0A%7F"),
            ("été.txt", "%C3%A9t%C3%A9.txt"),
            ("", ""),
            ("A-z_0.9~", "A-z_0.9~"),
        ];
        for &(name, want) in rows {
            assert_eq!(encode_href(name), want, "{name:?}");
        }
    }

    #[test]
    fn path_encoding_table() {
        let rows: &[(&str, &str)] = &[
            // Hostile rows first: another host, a query, markup.
            ("//evil.example/x", "/evil.example/x"),
            ("/a?b#c/", "/a%3Fb%23c/"),
            ("/<script>\"/", "/%3Cscript%3E%22/"),
            ("", "/"),
            ("/", "/"),
            ("/photos/", "/photos/"),
            ("/my photos/été.txt", "/my%20photos/%C3%A9t%C3%A9.txt"),
        ];
        for &(path, want) in rows {
            assert_eq!(encode_path(path), want, "{path:?}");
        }
    }

    #[test]
    fn json_string_table() {
        let rows: &[(&str, &str)] = &[
            // Hostile rows first: what could end the string or break the document.
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("a\"},{\"x", r#""a\"},{\"x""#),
            (
                "\0\u{1}\n\r\t\u{1f}",
                r#""\u0000\u0001\u000a\u000d\u0009\u001f""#,
            ),
            ("</script>", r#""</script>""#),
            ("\u{7f}é\u{2028}", "\"\u{7f}é\u{2028}\""),
            ("", r#""""#),
            ("plain name.txt", r#""plain name.txt""#),
        ];
        for &(s, want) in rows {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, want, "{s:?}");
        }
    }

    #[test]
    fn html_escape_table() {
        let rows: &[(&str, &str)] = &[
            // Hostile rows first.
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("\" onmouseover=\"x", "&quot; onmouseover=&quot;x"),
            ("' onclick='x", "&#39; onclick=&#39;x"),
            ("&amp;", "&amp;amp;"),
            ("", ""),
            ("été & co", "été &amp; co"),
        ];
        for &(s, want) in rows {
            assert_eq!(escape_html(s), want, "{s:?}");
        }
    }
}
