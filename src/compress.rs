//! Content codings: `Accept-Encoding` negotiation (RFC 9110 §12.5.3) and the gzip and deflate
//! encoders, one-shot for cached bodies and as a `Read` adapter for streamed files.

use std::io::{Read, Write};

use flate2::Compression;

use crate::http::accept::{FULL_WEIGHT, parse_weight};

/// A content coding shelf can send.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Coding {
    /// No transformation: the representation as stored, without `Content-Encoding`.
    Identity,
    /// `gzip` (RFC 9110 §8.4.1.3), also requested as `x-gzip`.
    Gzip,
    /// `deflate` (RFC 9110 §8.4.1.2): the zlib format, not a raw deflate stream.
    Deflate,
}

impl Coding {
    /// The `Content-Encoding` token; empty for `Identity`, which sends no such header.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }

    /// What [`tag_for`] appends inside an entity tag for this coding.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gzip",
            Coding::Deflate => "-deflate",
        }
    }
}

/// The entity tag of `coding`'s form of the representation tagged `etag`: the suffix goes
/// inside the closing quote (`"abc"` → `"abc-gzip"`; `W/"abc"` → `W/"abc-gzip"`).
///
/// A strong tag promises byte-identical content (RFC 9110 §8.8.3), so the encoded bytes need a
/// tag of their own. A value without a closing quote is not a tag; it gets the suffix appended.
pub fn tag_for(etag: &str, coding: Coding) -> String {
    let suffix = coding.etag_suffix();
    match etag.strip_suffix('"') {
        Some(opaque) if opaque.contains('"') => format!("{opaque}{suffix}\""),
        _ => format!("{etag}{suffix}"),
    }
}

/// The coding to send for a request's `Accept-Encoding` (RFC 9110 §12.5.3): among gzip and
/// deflate the highest q wins, gzip on a tie; a coding with q=0 is never chosen; `Identity`
/// when identity has a higher q than both, when neither is acceptable, or when the header is
/// absent (the RFC's "no preference", where sending no coding is always acceptable).
pub fn negotiate(accept_encoding: Option<&str>) -> Coding {
    match accept_encoding {
        Some(header) => Weights::parse(header).choose(),
        None => Coding::Identity,
    }
}

/// Weights in thousandths (see [`FULL_WEIGHT`]), as listed: `None` where the header did not
/// name the coding.
#[derive(Default, Debug)]
struct Weights {
    gzip: Option<u16>,
    deflate: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
}

impl Weights {
    /// One pass over the elements, so the cost is linear in the header's length.
    fn parse(header: &str) -> Weights {
        let mut weights = Weights::default();
        for (name, q) in header.split(',').filter_map(parse_element) {
            weights.record(name, q);
        }
        weights
    }

    /// A coding listed twice keeps its lowest weight, so a refusal (q=0) is never overridden.
    fn record(&mut self, name: &str, q: u16) {
        let slot = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            // RFC 9110 §8.4.1.3: "A recipient SHOULD consider "x-gzip" to be equivalent to
            // "gzip"."
            &mut self.gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            &mut self.deflate
        } else if name.eq_ignore_ascii_case("identity") {
            &mut self.identity
        } else if name == "*" {
            &mut self.star
        } else {
            return;
        };
        *slot = Some(slot.map_or(q, |old| old.min(q)));
    }

    fn choose(&self) -> Coding {
        // RFC 9110 §12.5.3: "*" "matches any available content coding not explicitly listed".
        let gzip = self.gzip.or(self.star).unwrap_or(0);
        let deflate = self.deflate.or(self.star).unwrap_or(0);
        // RFC 9110 §12.5.3: identity is "acceptable by default unless specifically excluded",
        // which makes it the fallback, not a rival: it outranks a coding only when the client
        // gave it a weight, itself or through "*".
        let identity = self.identity.or(self.star).unwrap_or(0);
        let (best, q) = if deflate > gzip {
            (Coding::Deflate, deflate)
        } else {
            (Coding::Gzip, gzip)
        };
        // RFC 9110 §12.4.2: "a weight of 0 means "not acceptable"". When identity is excluded
        // too we still send it: the alternative, 406, helps no client.
        if q == 0 || identity > q {
            Coding::Identity
        } else {
            best
        }
    }
}

/// `coding [ OWS ";" OWS "q=" qvalue ]` as (name, thousandths); `None` for an empty element or
/// one whose parameters are anything but a single valid weight: a malformed element is ignored.
fn parse_element(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let q = match (parts.next(), parts.next()) {
        (None, _) => FULL_WEIGHT,
        (Some(param), None) => parse_weight(param)?,
        (Some(_), Some(_)) => return None,
    };
    Some((name, q))
}

/// True when `mime` (parameters allowed: `text/html; charset=utf-8`) matches one of `types`
/// (`type/subtype` or `type/*`, compared case-insensitively as media types are).
pub fn is_compressible(types: &[String], mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or("").trim();
    let Some((top, sub)) = essence.split_once('/') else {
        return false;
    };
    if top.is_empty() || sub.is_empty() {
        return false;
    }
    types.iter().any(|t| match t.strip_suffix("/*") {
        Some(prefix) => prefix.eq_ignore_ascii_case(top),
        None => t.eq_ignore_ascii_case(essence),
    })
}

/// `data` encoded with `coding` at `level` (clamped to 1..=9); `Identity` copies it.
pub fn compress(data: &[u8], coding: Coding, level: u32) -> Vec<u8> {
    let level = compression(level);
    let out = Vec::with_capacity(data.len() / 2 + 64);
    let encoded = match coding {
        Coding::Identity => return data.to_vec(),
        Coding::Gzip => finish(flate2::write::GzEncoder::new(out, level), data),
        Coding::Deflate => finish(flate2::write::ZlibEncoder::new(out, level), data),
    };
    // ok: the sink is a Vec, whose writes cannot fail, and the input is plain bytes, which
    // every deflate stream accepts; an error here would be a bug in flate2.
    encoded.expect("compressing into a Vec cannot fail")
}

/// The encoders' common shape, so `compress` stays one match.
trait Finish: Write {
    fn finish_vec(self) -> std::io::Result<Vec<u8>>;
}

impl Finish for flate2::write::GzEncoder<Vec<u8>> {
    fn finish_vec(self) -> std::io::Result<Vec<u8>> {
        self.finish()
    }
}

impl Finish for flate2::write::ZlibEncoder<Vec<u8>> {
    fn finish_vec(self) -> std::io::Result<Vec<u8>> {
        self.finish()
    }
}

fn finish<E: Finish>(mut encoder: E, data: &[u8]) -> std::io::Result<Vec<u8>> {
    encoder.write_all(data)?;
    encoder.finish_vec()
}

/// `inner` read through `coding`'s encoder at `level` (clamped to 1..=9), for bodies streamed
/// with chunked framing; `Identity` returns `inner` unchanged.
pub fn encoding_reader<R: Read + Send + 'static>(
    inner: R,
    coding: Coding,
    level: u32,
) -> Box<dyn Read + Send> {
    let level = compression(level);
    match coding {
        Coding::Identity => Box::new(inner),
        Coding::Gzip => Box::new(flate2::read::GzEncoder::new(inner, level)),
        Coding::Deflate => Box::new(flate2::read::ZlibEncoder::new(inner, level)),
    }
}

/// Config guarantees 1..=9; clamping keeps these functions total for any other caller.
fn compression(level: u32) -> Compression {
    Compression::new(level.clamp(1, 9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    use Coding::{Deflate, Gzip, Identity};

    #[test]
    fn negotiate_rows() {
        let rows: &[(&str, Option<&str>, Coding)] = &[
            ("gzip refused", Some("gzip;q=0"), Identity),
            ("everything refused", Some("*;q=0"), Identity),
            ("refusal beats star", Some("gzip;q=0, *"), Deflate),
            (
                "refusal of both beats star",
                Some("gzip;q=0, deflate;q=0, *"),
                Identity,
            ),
            (
                "refusal sticks when listed twice",
                Some("gzip, gzip;q=0"),
                Identity,
            ),
            (
                "refusal via x-gzip alias",
                Some("gzip, x-gzip;q=0"),
                Identity,
            ),
            ("q above one ignored", Some("gzip;q=1.0001"), Identity),
            ("q=1.001 ignored", Some("gzip;q=1.001"), Identity),
            ("q=2 ignored", Some("gzip;q=2"), Identity),
            ("q not a number ignored", Some("gzip;q=abc"), Identity),
            ("negative q ignored", Some("gzip;q=-0.5"), Identity),
            ("signed q ignored", Some("gzip;q=+1"), Identity),
            ("exponent q ignored", Some("gzip;q=1e0"), Identity),
            ("four decimals ignored", Some("gzip;q=0.0001"), Identity),
            ("empty q ignored", Some("gzip;q="), Identity),
            ("leading dot ignored", Some("gzip;q=.5"), Identity),
            ("two q params ignored", Some("gzip;q=0.5;q=1"), Identity),
            ("unknown param ignored", Some("gzip;level=9"), Identity),
            ("trailing semicolon ignored", Some("gzip;"), Identity),
            (
                "malformed element ignored, others kept",
                Some("gzip;q=abc, deflate"),
                Deflate,
            ),
            ("unknown only", Some("br"), Identity),
            ("unknown coding is not star", Some("br, zstd;q=1"), Identity),
            ("empty header wants no coding", Some(""), Identity),
            ("only commas", Some(",,,"), Identity),
            ("only whitespace", Some(" \t "), Identity),
            ("only semicolons", Some(";;;"), Identity),
            ("absent header", None, Identity),
            ("star alone", Some("*"), Gzip),
            ("star below identity", Some("identity, *;q=0.5"), Identity),
            (
                "star covers unlisted deflate",
                Some("*;q=0.5, gzip;q=0.3"),
                Deflate,
            ),
            (
                "star gives identity its weight",
                Some("*;q=0.5, gzip;q=0.3, deflate;q=0.2"),
                Identity,
            ),
            ("unlisted identity is no rival", Some("gzip;q=0.001"), Gzip),
            ("x-gzip alias", Some("x-gzip"), Gzip),
            (
                "case-insensitive names and q",
                Some("GZIP;Q=0.5, deflate;q=0.6"),
                Deflate,
            ),
            (
                "identity preferred",
                Some("identity;q=1, gzip;q=0.5"),
                Identity,
            ),
            ("identity tie goes to coding", Some("identity, gzip"), Gzip),
            (
                "identity refused still sent",
                Some("identity;q=0"),
                Identity,
            ),
            ("tie goes to gzip", Some("deflate, gzip"), Gzip),
            (
                "tie by q goes to gzip",
                Some("deflate;q=0.5, gzip;q=0.500"),
                Gzip,
            ),
            ("deflate higher", Some("gzip;q=0.1, deflate;q=0.2"), Deflate),
            (
                "three decimals compare exactly",
                Some("gzip;q=0.333, deflate;q=0.334"),
                Deflate,
            ),
            (
                "OWS everywhere",
                Some(" gzip ; q = 0.4 ,\tdeflate\t;\tq=0.3 "),
                Gzip,
            ),
            (
                "q=1. and 0. allowed",
                Some("gzip;q=0., deflate;q=1."),
                Deflate,
            ),
            ("q=1.000 allowed", Some("gzip;q=1.000"), Gzip),
            ("browser default", Some("gzip, deflate, br, zstd"), Gzip),
        ];
        for (name, header, want) in rows {
            assert_eq!(negotiate(*header), *want, "{name}: {header:?}");
        }
    }

    /// 10,000 elements in one header: one pass, and the last element still counts.
    #[test]
    fn negotiate_many_elements() {
        let mut header = "br;q=0.9, x-foo;q=abc, ".repeat(5_000);
        header.push_str("deflate;q=0.1");
        assert_eq!(negotiate(Some(&header)), Deflate);
        let refused = "gzip;q=1, ".repeat(10_000) + "gzip;q=0";
        assert_eq!(negotiate(Some(&refused)), Identity);
    }

    #[test]
    fn compressible_rows() {
        let types: Vec<String> = ["text/*", "application/javascript", "image/svg+xml"]
            .iter()
            .map(|t| t.to_string())
            .collect();
        let rows: &[(&str, bool)] = &[
            ("", false),
            ("text", false),
            ("text/", false),
            ("/html", false),
            ("texts/html", false),
            ("image/png", false),
            ("application/javascriptx", false),
            ("application/octet-stream", false),
            ("image/svg", false),
            ("text/html", true),
            ("TEXT/HTML", true),
            ("text/html; charset=utf-8", true),
            ("text/plain;charset=utf-8", true),
            (" application/javascript ; charset=utf-8", true),
            ("Application/JavaScript", true),
            ("image/svg+xml", true),
        ];
        for (mime, want) in rows {
            assert_eq!(is_compressible(&types, mime), *want, "{mime:?}");
        }
        assert!(!is_compressible(&[], "text/html"));
    }

    #[test]
    fn tag_rows() {
        let rows: &[(&str, Coding, &str)] = &[
            ("", Gzip, "-gzip"),
            ("\"", Gzip, "\"-gzip"),
            ("abc", Gzip, "abc-gzip"),
            ("\"abc\"", Identity, "\"abc\""),
            ("\"abc\"", Gzip, "\"abc-gzip\""),
            ("\"abc\"", Deflate, "\"abc-deflate\""),
            ("W/\"abc\"", Gzip, "W/\"abc-gzip\""),
            ("\"\"", Gzip, "\"-gzip\""),
        ];
        for (etag, coding, want) in rows {
            assert_eq!(tag_for(etag, *coding), *want, "{etag:?} {coding:?}");
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(Identity.token(), "");
        assert_eq!(Gzip.token(), "gzip");
        assert_eq!(Deflate.token(), "deflate");
    }

    fn decode(data: &[u8], coding: Coding) -> Vec<u8> {
        let mut out = Vec::new();
        let result = match coding {
            Identity => {
                out.extend_from_slice(data);
                Ok(data.len())
            }
            Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
            Deflate => flate2::read::ZlibDecoder::new(data).read_to_end(&mut out),
        };
        result.expect("decodes");
        out
    }

    /// xorshift64: reproducible incompressible bytes without a dependency.
    fn random_bytes(len: usize) -> Vec<u8> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// 1 MiB: alternating 4 KiB of random bytes and of repetitive text.
    fn mixed_megabyte() -> Vec<u8> {
        let text =
            "function render(node, props) { return node.children.map(child => child.id + 42); }\n";
        let random = random_bytes(1 << 19);
        let mut data = Vec::with_capacity(1 << 20);
        for block in random.chunks(4096) {
            data.extend_from_slice(block);
            data.extend(text.bytes().cycle().take(4096));
        }
        data
    }

    fn inputs() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("empty", Vec::new()),
            ("one byte", vec![0]),
            ("random", random_bytes(70_000)),
            ("mixed megabyte", mixed_megabyte()),
        ]
    }

    #[test]
    fn one_shot_round_trips() {
        for (name, data) in inputs() {
            for coding in [Identity, Gzip, Deflate] {
                for level in [0, 1, 6, 9, 99] {
                    let encoded = compress(&data, coding, level);
                    assert_eq!(decode(&encoded, coding), data, "{name} {coding:?} {level}");
                }
            }
        }
    }

    #[test]
    fn formats_are_gzip_and_zlib() {
        // gzip magic (RFC 1952 §2.3.1); zlib CMF 0x78 = deflate, 32K window (RFC 1950 §2.2).
        assert_eq!(compress(b"x", Gzip, 6)[..2], [0x1f, 0x8b]);
        let zlib = compress(b"x", Deflate, 6);
        assert_eq!(zlib[0], 0x78);
        assert_eq!(u16::from_be_bytes([zlib[0], zlib[1]]) % 31, 0);
    }

    #[test]
    fn text_shrinks() {
        let text = mixed_megabyte();
        for coding in [Gzip, Deflate] {
            assert!(
                compress(&text, coding, 6).len() < text.len() * 6 / 10,
                "{coding:?}"
            );
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        for (name, data) in inputs() {
            for coding in [Identity, Gzip, Deflate] {
                let mut streamed = Vec::new();
                let source = std::io::Cursor::new(data.clone());
                encoding_reader(source, coding, 6)
                    .read_to_end(&mut streamed)
                    .expect("reads");
                let one_shot = compress(&data, coding, 6);
                assert_eq!(
                    decode(&streamed, coding),
                    decode(&one_shot, coding),
                    "{name}"
                );
                assert_eq!(decode(&streamed, coding), data, "{name} {coding:?}");
            }
        }
    }

    /// A file that fails mid-read must fail the stream, not end it as if complete: a chunked
    /// body cut short by an error is then closed without its last chunk.
    #[test]
    fn streaming_propagates_read_errors() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk gone"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(b'a');
                self.0 -= n;
                Ok(n)
            }
        }
        for coding in [Identity, Gzip, Deflate] {
            let mut out = Vec::new();
            let result = encoding_reader(Failing(10_000), coding, 6).read_to_end(&mut out);
            assert!(result.is_err(), "{coding:?}");
        }
    }

    /// A reader that hands out one byte per call still yields a complete stream.
    #[test]
    fn streaming_from_a_trickling_reader() {
        struct Trickle(std::io::Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        let data = mixed_megabyte()[..20_000].to_vec();
        for coding in [Gzip, Deflate] {
            let mut out = Vec::new();
            let source = Trickle(std::io::Cursor::new(data.clone()));
            encoding_reader(source, coding, 6)
                .read_to_end(&mut out)
                .expect("reads");
            assert_eq!(decode(&out, coding), data, "{coding:?}");
        }
    }
}
