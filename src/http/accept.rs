//! Weights and `Accept` negotiation: the one q-value parser every `Accept*` field uses (RFC 9110
//! §12.4.2), and how much a client wants a media type (RFC 9110 §12.5.1).

/// Weights are thousandths: a qvalue has at most three decimals (RFC 9110 §12.4.2), so
/// integers compare exactly.
pub const FULL_WEIGHT: u16 = 1000;

/// The weight of one `;`-separated parameter `q=qvalue`, in thousandths; `None` when the
/// parameter is not a `q` or its value is not a qvalue. The name is case-insensitive; OWS
/// around `=` is tolerated though the grammar has none.
pub fn parse_weight(param: &str) -> Option<u16> {
    parse_qvalue(q_value(param)?)
}

/// The trimmed value of a `q` parameter (empty for a bare `q`); `None` for any other parameter.
fn q_value(param: &str) -> Option<&str> {
    let (name, value) = param.split_once('=').unwrap_or((param, ""));
    name.trim().eq_ignore_ascii_case("q").then(|| value.trim())
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = frac.bytes().chain(std::iter::repeat(b'0')).take(3);
    let thousandths = padded.fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL_WEIGHT),
        _ => None,
    }
}

/// The weight `accept` gives `media` (`type/subtype`), in thousandths: the most specific
/// matching range wins; an absent header accepts everything (1000), a header that names no
/// matching range nothing (0). A range whose `q` is not a qvalue, or that has two, is
/// malformed and ignored, as `Accept-Encoding` elements are.
pub fn quality(accept: Option<&str>, media: &str) -> u16 {
    let Some(accept) = accept else {
        return FULL_WEIGHT;
    };
    let (mtype, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, u16)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let name = params.next().unwrap_or("").trim();
        let specificity = if name.eq_ignore_ascii_case(media) {
            3
        } else if name
            .split_once('/')
            .is_some_and(|(t, s)| s == "*" && t.eq_ignore_ascii_case(mtype))
        {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        let Some(q) = range_weight(params) else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0, |(_, q)| q)
}

/// The weight among a media range's parameters (others, such as `charset`, are skipped):
/// [`FULL_WEIGHT`] without a `q`; `None` when a `q` is not a qvalue or comes twice.
fn range_weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut weight = None;
    for value in params.filter_map(q_value) {
        if weight.is_some() {
            return None;
        }
        weight = Some(parse_qvalue(value)?);
    }
    Some(weight.unwrap_or(FULL_WEIGHT))
}

/// True when `accept` strictly prefers `a` over `b`.
pub fn prefers(accept: Option<&str>, a: &str, b: &str) -> bool {
    quality(accept, a) > quality(accept, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalue_rows() {
        let rows: &[(&str, Option<u16>)] = &[
            ("", None),
            (".", None),
            (".5", None),
            ("1.0001", None),
            ("1.01", None),
            ("1.5", None),
            ("2", None),
            ("-0.5", None),
            ("+1", None),
            ("1e0", None),
            ("0.1234", None),
            ("00", None),
            ("01", None),
            ("0x1", None),
            ("0.5a", None),
            ("abc", None),
            (" 0.5", None),
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.005", Some(5)),
            ("0.999", Some(999)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
        ];
        for (s, want) in rows {
            assert_eq!(parse_qvalue(s), *want, "{s:?}");
        }
    }

    #[test]
    fn weight_rows() {
        let rows: &[(&str, Option<u16>)] = &[
            // Hostile and malformed rows first.
            ("q=abc", None),
            ("q=2", None),
            ("q=-1", None),
            ("q=", None),
            ("q", None),
            ("q=0.5=1", None),
            ("qq=1", None),
            ("level=1", None),
            ("", None),
            // Valid rows.
            ("q=0", Some(0)),
            ("q=0.25", Some(250)),
            ("Q=0.5", Some(500)),
            (" q = 0.5 ", Some(500)),
            ("q=1", Some(1000)),
        ];
        for (param, want) in rows {
            assert_eq!(parse_weight(param), *want, "{param:?}");
        }
    }

    #[test]
    fn quality_rows() {
        let json = "application/json";
        let rows: &[(Option<&str>, u16)] = &[
            // Malformed weights: the range is ignored, not read as q=1.
            (Some("application/json;q=abc"), 0),
            (Some("application/json;q=2"), 0),
            (Some("application/json;q=-1"), 0),
            (Some("application/json;q"), 0),
            (Some("application/json;q=0.5;q=1"), 0),
            (Some("*/*;q=0.1, application/json;q=abc"), 100),
            (Some(""), 0),
            (Some(";;;,,"), 0),
            (Some("text/html"), 0),
            (Some("application/jsonx"), 0),
            // Valid rows.
            (None, 1000),
            (Some("application/json"), 1000),
            (Some("APPLICATION/JSON;Q=0.5"), 500),
            (Some("application/json;charset=utf-8;q=0.5"), 500),
            (Some("application/json ; q=0.5"), 500),
            (Some("application/*;q=0.3, */*;q=0.1"), 300),
            (
                Some("*/*;q=0.1, application/*;q=0.3, application/json;q=0.2"),
                200,
            ),
            (Some("*/*;q=0"), 0),
        ];
        for (accept, want) in rows {
            assert_eq!(quality(*accept, json), *want, "{accept:?}");
        }
    }

    #[test]
    fn preference_rows() {
        let json = "application/json";
        let html = "text/html";
        let rows: &[(Option<&str>, bool)] = &[
            // Hostile rows first.
            (Some(""), false),
            (Some(";;;,,"), false),
            (Some("application/json;q=abc"), false),
            (Some("application/json;q=abc, text/html;q=0.5"), false),
            (None, false),
            (Some("*/*"), false),
            (Some("application/json"), true),
            (Some("application/*"), true),
            (Some("text/html,application/xhtml+xml,*/*;q=0.8"), false),
            (Some("application/json, text/html;q=0.9"), true),
            (Some("text/html;q=0.5, application/json;q=0.4"), false),
            (Some("*/*;q=0.1, application/json;q=0"), false),
        ];
        for (accept, want) in rows {
            assert_eq!(prefers(*accept, json, html), *want, "{accept:?}");
        }
    }
}
