//! Conditional requests, RFC 9110 §13: one function per header, one function for their order.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::Method;
use crate::http::parse::Head;

/// What the preconditions decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carry on with the request.
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition failed.
    Failed,
}

/// The validators of the selected representation.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The strong entity tag, quotes included; `None` when the resource does not exist.
    pub etag: Option<&'a str>,
    pub last_modified: Option<SystemTime>,
}

/// Evaluates the precondition headers in the order of RFC 9110 §13.2.2.
pub fn evaluate(head: &Head, v: &Validators<'_>) -> Outcome {
    let safe = matches!(head.method(), Method::Get | Method::Head);
    // Step 1, If-Match; step 2, If-Unmodified-Since only when If-Match is absent.
    if let Some(value) = list_field(head, "if-match") {
        if !check_if_match(&value, v.etag) {
            return Outcome::Failed;
        }
    } else if let Some(value) = head.header("if-unmodified-since")
        && !check_if_unmodified_since(value, v.last_modified)
    {
        return Outcome::Failed;
    }
    // Step 3, If-None-Match; step 4, If-Modified-Since only when If-None-Match is absent.
    if let Some(value) = list_field(head, "if-none-match") {
        if !check_if_none_match(&value, v.etag) {
            // RFC 9110 §13.1.2: "304 (Not Modified) if the request method is GET or HEAD;
            // or 412 (Precondition Failed) otherwise."
            return if safe {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    } else if safe
        && let Some(value) = head.header("if-modified-since")
        && !check_if_modified_since(value, v.last_modified)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// A list-based field, every field line joined with ", ": RFC 9110 §5.3 lets a sender split
/// a list over several lines, and a recipient must read them as one.
fn list_field(head: &Head, name: &str) -> Option<String> {
    let mut lines = head
        .header_all(name)
        .filter_map(|v| std::str::from_utf8(v).ok());
    let mut value = lines.next()?.to_string();
    for line in lines {
        value.push_str(", ");
        value.push_str(line);
    }
    Some(value)
}

/// RFC 9110 §13.1.1: true when the condition holds. `*` holds if the resource exists;
/// otherwise a strong comparison with any listed tag.
pub fn check_if_match(value: &str, etag: Option<&str>) -> bool {
    let Some(etag) = etag else { return false };
    if value.trim() == "*" {
        return true;
    }
    parse_tags(value).any(|(weak, tag)| !weak && !is_weak(etag) && tag == opaque(etag))
}

/// RFC 9110 §13.1.2: true when the condition holds (no listed tag matches, weakly).
pub fn check_if_none_match(value: &str, etag: Option<&str>) -> bool {
    let Some(etag) = etag else { return true };
    if value.trim() == "*" {
        return false;
    }
    !parse_tags(value).any(|(_, tag)| tag == opaque(etag))
}

/// RFC 9110 §13.1.3: true when the resource changed after the date (an invalid date is
/// ignored: "A recipient MUST ignore the If-Modified-Since header field if the received
/// field value is not a valid HTTP-date").
pub fn check_if_modified_since(value: &str, last_modified: Option<SystemTime>) -> bool {
    match (httpdate::parse_http_date(value), last_modified) {
        (Ok(since), Some(lm)) => seconds(lm) > seconds(since),
        _ => true,
    }
}

/// RFC 9110 §13.1.4: true when the resource has not changed after the date.
pub fn check_if_unmodified_since(value: &str, last_modified: Option<SystemTime>) -> bool {
    match (httpdate::parse_http_date(value), last_modified) {
        (Ok(since), Some(lm)) => seconds(lm) <= seconds(since),
        _ => true,
    }
}

/// RFC 9110 §13.1.5: a Range applies only if `If-Range` (when present) still matches: a
/// strong comparison with the ETag, or an exact match with a Last-Modified date that is strong.
pub fn if_range_allows(head: &Head, v: &Validators<'_>) -> bool {
    let Some(value) = head.header("if-range") else {
        return true;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        let mut tags = parse_tags(value);
        return match (tags.next(), v.etag) {
            (Some((false, tag)), Some(etag)) => !is_weak(etag) && tag == opaque(etag),
            _ => false,
        };
    }
    // RFC 9110 §13.1.5: "If the HTTP-date validator provided is not a strong validator in the
    // sense defined by Section 8.8.2.2, the condition is false." A date is strong only once its
    // second has passed: until then the file may change "twice during the second" (§8.8.2.2).
    match (httpdate::parse_http_date(value), v.last_modified) {
        (Ok(date), Some(lm)) => {
            seconds(date) == seconds(lm) && seconds(lm) < seconds(SystemTime::now())
        }
        _ => false,
    }
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn is_weak(etag: &str) -> bool {
    etag.starts_with("W/")
}

/// The quoted part of an entity tag, quotes included.
fn opaque(etag: &str) -> &str {
    etag.strip_prefix("W/").unwrap_or(etag)
}

/// The entity tags of a list (`"a", W/"b"`) as (weak, quoted tag); stops at the first
/// malformed element, so a broken list matches nothing past that point.
fn parse_tags(value: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = value;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let weak = rest.starts_with("W/");
        let body = if weak { &rest[2..] } else { rest };
        let close = body.strip_prefix('"')?.find('"')? + 2;
        let tag = &body[..close];
        rest = &body[close..];
        Some((weak, tag))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_rows() {
        let rows: &[(&str, Option<&str>, bool)] = &[
            // hostile and edge rows first
            ("", Some("\"a\""), false),
            ("\"a", Some("\"a\""), false),
            ("W/\"a\"", Some("\"a\""), false),
            ("\"a\"", Some("W/\"a\""), false),
            ("*", None, false),
            ("\"a\"", None, false),
            ("*", Some("\"a\""), true),
            ("\"a\"", Some("\"a\""), true),
            ("\"x\", \"a\"", Some("\"a\""), true),
            ("\"x\",\"y\"", Some("\"a\""), false),
        ];
        for (value, etag, want) in rows {
            assert_eq!(
                check_if_match(value, *etag),
                *want,
                "If-Match {value:?} vs {etag:?}"
            );
        }
    }

    #[test]
    fn if_none_match_rows() {
        let rows: &[(&str, Option<&str>, bool)] = &[
            ("*", Some("\"a\""), false),
            ("*", None, true),
            ("W/\"a\"", Some("\"a\""), false),
            ("\"a\"", Some("\"a\""), false),
            ("\"b\", W/\"a\"", Some("\"a\""), false),
            ("\"b\"", Some("\"a\""), true),
            ("garbage", Some("\"a\""), true),
        ];
        for (value, etag, want) in rows {
            assert_eq!(
                check_if_none_match(value, *etag),
                *want,
                "INM {value:?} vs {etag:?}"
            );
        }
    }

    #[test]
    fn dates_compare_by_whole_seconds() {
        let lm = UNIX_EPOCH + std::time::Duration::from_millis(1_000_000_500);
        let same = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(1_000_000));
        let before = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(999_999));
        assert!(!check_if_modified_since(&same, Some(lm)));
        assert!(check_if_modified_since(&before, Some(lm)));
        assert!(check_if_modified_since("not a date", Some(lm)));
        assert!(check_if_unmodified_since(&same, Some(lm)));
        assert!(!check_if_unmodified_since(&before, Some(lm)));
        assert!(check_if_unmodified_since("yesterday", Some(lm)));
    }
}
