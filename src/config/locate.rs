//! Maps byte offsets of `config.toml` to lines and dotted key paths, so that every error can
//! say where it is (toml's own error keeps its key path private).
use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// The config text and its spanned parse tree.
pub(super) struct Source<'t> {
    text: &'t str,
    doc: DeTable<'t>,
}

impl<'t> Source<'t> {
    /// Parses `text` for positions only; syntax errors are reported by the serde pass, so a
    /// best-effort tree is enough here.
    pub(super) fn new(text: &'t str) -> Source<'t> {
        let (doc, _errors) = DeTable::parse_recoverable(text);
        Source {
            text,
            doc: doc.into_inner(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        // Counting bytes, not chars: `offset` may sit inside a multi-byte character.
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// The dotted path (`server.listen`, `acl[1].allow[0]`) of the innermost key or value whose
    /// source text holds byte `offset`.
    pub(super) fn key_at(&self, offset: usize) -> Option<String> {
        key_in_table(&self.doc, offset, "")
    }

    /// The line of `key` (as built by the validator: bare segments, `[i]` indices). A key that
    /// is absent (left at its default) reports the line of its nearest present ancestor.
    pub(super) fn line_of(&self, key: &str) -> Option<usize> {
        let mut table = Some(&self.doc);
        let mut offset = None;
        for segment in key.split('.') {
            let (name, indices) = split_indices(segment);
            let Some((k, v)) = table.and_then(|t| t.get_key_value(name)) else {
                break;
            };
            offset = Some(k.span().start);
            let mut value = v;
            for i in indices {
                match value.get_ref() {
                    DeValue::Array(array) if i < array.len() => value = &array[i],
                    _ => return offset.map(|o| self.line_at(o)),
                }
                offset = Some(value.span().start);
            }
            table = value.get_ref().as_table();
        }
        offset.map(|o| self.line_at(o))
    }
}

/// `route[2]` → (`route`, [2]); a segment without brackets has no indices.
fn split_indices(segment: &str) -> (&str, Vec<usize>) {
    let name_end = segment.find('[').unwrap_or(segment.len());
    let indices = segment[name_end..]
        .split(['[', ']'])
        .filter_map(|s| s.parse().ok())
        .collect();
    (&segment[..name_end], indices)
}

fn key_in_table(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    for (k, v) in table.iter() {
        let path = join_key(prefix, k.get_ref());
        // Deeper first: a table header's span does not include its keys, so children are
        // searched whether or not the parent matched.
        if let Some(deeper) = key_in_value(v.get_ref(), offset, &path) {
            return Some(deeper);
        }
        if holds(k.span(), offset) || holds(v.span(), offset) {
            return Some(path);
        }
    }
    None
}

fn key_in_value(value: &DeValue<'_>, offset: usize, path: &str) -> Option<String> {
    match value {
        DeValue::Table(table) => key_in_table(table, offset, path),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(i, element)| {
            let path = format!("{path}[{i}]");
            key_in_value(element.get_ref(), offset, &path)
                .or_else(|| holds(element.span(), offset).then_some(path))
        }),
        _ => None,
    }
}

fn holds(span: Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

/// Appends `key` to a dotted path, quoting it when it is not a bare TOML key.
pub(super) fn join_key(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nlisten = \"x\"\ntrusted_proxies = [\"a\",\n  \"b\"]\n\n[[route]]\npath = \"/a\"\n[[route]]\npath = \"/b\"\nheaders = { \"X.Y\" = \"1\" }\n";

    #[test]
    fn key_at_finds_innermost_key() {
        let src = Source::new(TEXT);
        let at = |needle: &str| src.key_at(TEXT.find(needle).unwrap());
        let cases = [
            ("\"b\"]", Some("server.trusted_proxies[1]")),
            ("\"/b\"", Some("route[1].path")),
            ("\"1\"", Some("route[1].headers.\"X.Y\"")),
            ("listen", Some("server.listen")),
            ("[server]", Some("server")),
            ("[[route]]\npath = \"/b\"", Some("route[1]")),
        ];
        for (needle, want) in cases {
            assert_eq!(at(needle).as_deref(), want, "at {needle:?}");
        }
    }

    #[test]
    fn line_of_walks_keys_and_falls_back_to_ancestor() {
        let src = Source::new(TEXT);
        let cases = [
            ("server.listen", Some(2)),
            ("server.trusted_proxies[1]", Some(4)),
            ("route[1].path", Some(9)),
            ("route[1].status", Some(8)),
            ("route[5].path", Some(6)),
            ("tls.cert", None),
        ];
        for (key, want) in cases {
            assert_eq!(src.line_of(key), want, "{key}");
        }
    }
}
