//! The WebDAV `If` header (RFC 4918 §10.4): parsed into lists of conditions, and judged
//! against the state of the resources it names (their lock tokens and entity tags).
//!
//! ```text
//! If = "If" ":" ( 1*No-tag-list | 1*Tagged-list )
//! No-tag-list = List
//! Tagged-list = Resource-Tag 1*List
//! List = "(" 1*Condition ")"
//! Condition = ["Not"] (State-token | "[" entity-tag "]")
//! State-token = Coded-URL          ; "<" absolute-URI ">"
//! Resource-Tag = "<" Simple-ref ">"
//! ```
//!
//! Parsing is a pure function over the field value; evaluation asks a [`State`] about each
//! resource, so the lock table and the file system stay out of this module.

use std::collections::HashMap;

use crate::error::Error;
use crate::fs::path::normalize_path;
use crate::http::parse::Head;

/// More conditions than this in one `If` header are refused (400): each may cost a lookup,
/// and no client needs more than a handful.
pub const MAX_CONDITIONS: usize = 256;

/// A parsed `If` header: its productions, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfHeader {
    /// Either all untagged (about the request URI) or all tagged.
    pub productions: Vec<Production>,
}

/// A No-tag-list or a Tagged-list: the resource its lists are about, and the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Production {
    /// Which resource the lists describe.
    pub resource: Resource,
    /// Alternatives (any may hold), each a conjunction of conditions (all must hold).
    pub lists: Vec<Vec<Condition>>,
}

/// The resource a production is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// An untagged list: the request URI.
    Request,
    /// A Resource-Tag, as a normalised URL path (percent-decoded, dot segments resolved).
    Path(String),
    /// A Resource-Tag that names no path of this server (`urn:…`, or a path that climbs out
    /// of the root). RFC 4918 §10.4.4: "treat as if the URL identified a resource that exists
    /// but does not have the specified state."
    Unmapped,
}

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `Not`: the condition holds when the test does not.
    pub not: bool,
    /// What is tested.
    pub test: Test,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A state token (for shelf, a lock token), the URI between `<` and `>`.
    Token(String),
    /// An entity tag: weak or not, and the quoted opaque tag (quotes included).
    ETag {
        /// `W/` was given.
        weak: bool,
        /// The opaque tag with its quotes, `"…"`.
        tag: String,
    },
}

/// What evaluation needs to know of a resource, named by its normalised URL path.
pub trait State {
    /// The resource's current strong ETag (quotes included); `None` when it has none.
    fn etag(&self, url_path: &str) -> Option<String>;
    /// True when a lock with `token` has `url_path` in its scope (RFC 4918 §10.4.4: "A lock
    /// state token is considered to match if the resource is anywhere in the scope of the
    /// lock").
    fn has_token(&self, url_path: &str, token: &str) -> bool;
}

/// Why an `If` header is malformed, shown in the 400.
pub type Malformed = &'static str;

/// The request's `If` header parsed: `Ok(None)` when there is none, 400 when it is malformed.
/// Several `If` field lines are read as one value, joined by a space: the grammar is a
/// sequence of productions, so that is what a sender splitting it would mean.
pub fn from_head(head: &Head) -> Result<Option<IfHeader>, Error> {
    let mut value = String::new();
    for line in head.header_all("if") {
        let line = std::str::from_utf8(line).map_err(|_| Error::BadRequest(NOT_TEXT))?;
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str(line);
    }
    if !head.has_header("if") {
        return Ok(None);
    }
    parse(&value).map(Some).map_err(Error::BadRequest)
}

const NOT_TEXT: Malformed = "the If header is not text";

/// Parses an `If` field value.
pub fn parse(value: &str) -> Result<IfHeader, Malformed> {
    let mut cursor = Cursor { rest: value };
    let mut productions: Vec<Production> = Vec::new();
    let mut conditions = 0;
    cursor.skip_space();
    while !cursor.rest.is_empty() {
        let resource = match cursor.peek() {
            Some('<') => Some(cursor.resource_tag()?),
            Some('(') => None,
            _ => return Err("the If header expects a list \"(…)\" or a resource tag \"<…>\""),
        };
        let tagged = resource.is_some();
        if productions
            .first()
            .is_some_and(|p| (p.resource != Resource::Request) != tagged)
        {
            return Err("the If header mixes tagged and untagged lists");
        }
        let lists = cursor.lists(&mut conditions)?;
        productions.push(Production {
            resource: resource.unwrap_or(Resource::Request),
            lists,
        });
    }
    if productions.is_empty() {
        return Err("the If header is empty");
    }
    Ok(IfHeader { productions })
}

/// A position in the field value.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    /// Skips optional white space (RFC 9110's OWS; a parsed field holds no line folds).
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    /// `<…>` with no white space inside: the text between the brackets.
    fn bracketed(&mut self) -> Result<&'a str, Malformed> {
        let inner = self.rest.strip_prefix('<').ok_or("expected \"<\"")?;
        let end = inner
            .find(|c: char| c == '>' || c == '<' || c.is_whitespace())
            .filter(|&i| inner[i..].starts_with('>'))
            .ok_or("a \"<…>\" in the If header is not closed, or holds white space")?;
        self.rest = &inner[end + 1..];
        match &inner[..end] {
            "" => Err("the If header has an empty \"<>\""),
            uri => Ok(uri),
        }
    }

    /// A Resource-Tag and the white space after it.
    fn resource_tag(&mut self) -> Result<Resource, Malformed> {
        let reference = self.bracketed()?;
        self.skip_space();
        Ok(resource_of(reference))
    }

    /// `1*List`: at least one list, up to the next resource tag or the end.
    fn lists(&mut self, conditions: &mut usize) -> Result<Vec<Vec<Condition>>, Malformed> {
        let mut lists = Vec::new();
        while self.peek() == Some('(') {
            lists.push(self.list(conditions)?);
            self.skip_space();
        }
        match lists.is_empty() {
            true => Err("a resource tag in the If header has no list after it"),
            false => Ok(lists),
        }
    }

    /// `"(" 1*Condition ")"`.
    fn list(&mut self, conditions: &mut usize) -> Result<Vec<Condition>, Malformed> {
        self.rest = &self.rest[1..];
        let mut list = Vec::new();
        loop {
            self.skip_space();
            if let Some(rest) = self.rest.strip_prefix(')') {
                self.rest = rest;
                return match list.is_empty() {
                    true => Err("the If header has an empty list \"()\""),
                    false => Ok(list),
                };
            }
            *conditions += 1;
            if *conditions > MAX_CONDITIONS {
                return Err("the If header has more than 256 conditions");
            }
            list.push(self.condition()?);
        }
    }

    /// `["Not"] (State-token | "[" entity-tag "]")`.
    fn condition(&mut self) -> Result<Condition, Malformed> {
        // RFC 4918 §10.4.2 spells it "Not"; ABNF string literals match in any case.
        let not = self
            .rest
            .get(..3)
            .is_some_and(|w| w.eq_ignore_ascii_case("not"));
        if not {
            self.rest = &self.rest[3..];
            self.skip_space();
        }
        let test = match self.peek() {
            Some('<') => Test::Token(state_token(self.bracketed()?)?),
            Some('[') => self.entity_tag()?,
            Some(_) => return Err("a condition in the If header is not <token> or [etag]"),
            None => return Err("a list in the If header is not closed"),
        };
        Ok(Condition { not, test })
    }

    /// `"[" entity-tag "]"`, no white space inside (RFC 4918 §10.4.2).
    fn entity_tag(&mut self) -> Result<Test, Malformed> {
        const BAD: Malformed = "an entity tag in the If header is not [\"…\"] or [W/\"…\"]";
        let inner = &self.rest[1..];
        let weak = inner.starts_with("W/");
        let quoted = if weak { &inner[2..] } else { inner };
        let body = quoted.strip_prefix('"').ok_or(BAD)?;
        let close = body.find('"').ok_or(BAD)?;
        let tag = &quoted[..close + 2];
        // RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text.
        if !tag[1..tag.len() - 1]
            .chars()
            .all(|c| c > ' ' && c != '\x7f')
        {
            return Err(BAD);
        }
        self.rest = quoted[close + 2..].strip_prefix(']').ok_or(BAD)?;
        Ok(Test::ETag {
            weak,
            tag: tag.to_string(),
        })
    }
}

/// A State-token is a Coded-URL: an absolute URI, so it starts with a scheme and a colon
/// (RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`).
fn state_token(uri: &str) -> Result<String, Malformed> {
    let scheme = uri.split_once(':').map(|(scheme, _)| scheme);
    let valid = scheme.is_some_and(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    match valid {
        true => Ok(uri.to_string()),
        false => Err("a state token in the If header is not an absolute URI"),
    }
}

/// The resource a Resource-Tag names: an absolute path, or an absolute `http(s)` URI whose
/// authority is not compared (a proxy may have rewritten the Host); anything else is unmapped.
fn resource_of(reference: &str) -> Resource {
    let path = match reference.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        Some(_) => return Resource::Unmapped,
        None if reference.starts_with('/') && !reference.starts_with("//") => reference,
        None => return Resource::Unmapped,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    match normalize_path(path) {
        Ok(path) => Resource::Path(path),
        Err(_) => Resource::Unmapped,
    }
}

impl IfHeader {
    /// Every state token the header names, `Not` or not. RFC 4918 §10.4.1: "the mere fact that
    /// a state token appears in an If header means that it has been 'submitted' with the
    /// request."
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        let conditions = self
            .productions
            .iter()
            .flat_map(|p| p.lists.iter().flatten());
        conditions.filter_map(|c| match &c.test {
            Test::Token(token) => Some(token.as_str()),
            Test::ETag { .. } => None,
        })
    }

    /// The paths whose ETags evaluation may ask for (`request_path` for untagged lists),
    /// so a caller can look them up before it takes a lock on its own state.
    pub fn etag_paths<'a>(&'a self, request_path: &'a str) -> Vec<&'a str> {
        let mut paths: Vec<&str> = Vec::new();
        for production in &self.productions {
            let has_etag = production
                .lists
                .iter()
                .flatten()
                .any(|c| matches!(c.test, Test::ETag { .. }));
            let path = match &production.resource {
                Resource::Request => request_path,
                Resource::Path(path) => path,
                Resource::Unmapped => continue,
            };
            if has_etag && !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    /// RFC 4918 §10.4.3: "the whole If header evaluates to true if and only if at least one
    /// of the No-tag-list or Tagged-list productions evaluates to true"; a production holds
    /// when any of its lists does, and a list when all its conditions do.
    pub fn holds(&self, request_path: &str, state: &dyn State) -> bool {
        self.productions.iter().any(|production| {
            let path = match &production.resource {
                Resource::Request => Some(request_path),
                Resource::Path(path) => Some(path.as_str()),
                Resource::Unmapped => None,
            };
            production
                .lists
                .iter()
                .any(|list| list.iter().all(|c| c.holds(path, state)))
        })
    }
}

impl Condition {
    /// The condition against the resource at `path` (`None`: an unmapped resource, which has
    /// no state at all).
    fn holds(&self, path: Option<&str>, state: &dyn State) -> bool {
        let matched = path.is_some_and(|path| match &self.test {
            Test::Token(token) => state.has_token(path, token),
            // RFC 4918 §10.4.4 allows the weak or the strong comparison; strong, as If-Match
            // uses for a write (RFC 9110 §13.1.1): a weak tag never matches.
            Test::ETag { weak, tag } => {
                !weak && state.etag(path).is_some_and(|current| current == *tag)
            }
        });
        matched != self.not
    }
}

/// A [`State`] whose ETags were looked up beforehand (`etags`, by path) and whose tokens are
/// asked of `tokens`: evaluation then runs without touching the file system.
pub struct Known<'a> {
    /// ETags by normalised URL path; a path missing here has none.
    pub etags: &'a HashMap<String, String>,
    /// Answers [`State::has_token`].
    pub tokens: &'a dyn Fn(&str, &str) -> bool,
}

impl State for Known<'_> {
    fn etag(&self, url_path: &str) -> Option<String> {
        self.etags.get(url_path).cloned()
    }

    fn has_token(&self, url_path: &str, token: &str) -> bool {
        (self.tokens)(url_path, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource state for the tables: `/locked` holds `urn:uuid:a` (its lock has Depth 0),
    /// `/folder/` holds `urn:uuid:f` with Depth infinity; `/locked` has ETag `"e1"`.
    struct Fixed;

    impl State for Fixed {
        fn etag(&self, url_path: &str) -> Option<String> {
            (url_path == "/locked").then(|| "\"e1\"".to_string())
        }

        fn has_token(&self, url_path: &str, token: &str) -> bool {
            match token {
                "urn:uuid:a" => url_path == "/locked",
                "urn:uuid:f" => url_path.starts_with("/folder/"),
                _ => false,
            }
        }
    }

    /// Malformed values: 400. Hostile and truncated input first.
    #[test]
    fn malformed_rows() {
        let rows: &[&str] = &[
            "",
            "   ",
            "(",
            ")",
            "()",
            "( )",
            "(<urn:uuid:a>",
            "(<urn:uuid:a)",
            "(<urn:uuid:a >)",
            "(< urn:uuid:a>)",
            "(<>)",
            "(<no-scheme>)",
            "(<1urn:x>)",
            "([\"e1\")",
            "([e1])",
            "([ \"e1\"])",
            "([\"e1\" ])",
            "([\"e 1\"])",
            "([W/ \"e1\"])",
            "(Not)",
            "(Not Not <urn:uuid:a>)",
            "(urn:uuid:a)",
            "<http://h/locked>",
            "<http://h/locked> <http://h/other> (<urn:uuid:a>)",
            "(<urn:uuid:a>) <http://h/locked> (<urn:uuid:a>)",
            "<http://h/locked> (<urn:uuid:a>) (<urn:uuid:a>) (Not <DAV:no-lock>) x",
            "<http://h/x y> (<urn:uuid:a>)",
            "(<urn:uuid:a>)garbage",
            "\u{0}(<urn:uuid:a>)",
        ];
        for value in rows {
            assert!(
                parse(value).is_err(),
                "{value:?} parsed: {:?}",
                parse(value)
            );
        }
    }

    #[test]
    fn too_many_conditions_are_refused() {
        let at_cap = format!("({})", "<DAV:no-lock> ".repeat(MAX_CONDITIONS));
        assert!(parse(&at_cap).is_ok());
        let over = format!(
            "({} <DAV:no-lock>)",
            "<DAV:no-lock> ".repeat(MAX_CONDITIONS)
        );
        assert!(parse(&over).is_err());
        let spread = "(Not <DAV:no-lock>) ".repeat(MAX_CONDITIONS + 1);
        assert!(parse(&spread).is_err());
    }

    /// Well-formed values evaluated against [`Fixed`] for a request to `/locked`.
    #[test]
    fn evaluation_rows() {
        let rows: &[(&str, bool)] = &[
            // Hostile rows first: states that are not this resource's must not match.
            ("(<urn:uuid:f>)", false),
            ("(<urn:uuid:a-not-quite>)", false),
            ("(<URN:UUID:A>)", false),
            ("([W/\"e1\"])", false),
            ("([\"E1\"])", false),
            ("<http://h/other> (<urn:uuid:a>)", false),
            ("<urn:x:y> (<urn:uuid:a>)", false),
            ("<http://h/../../etc/passwd> ([\"e1\"])", false),
            ("<http://h/../../etc/passwd> (Not [\"e1\"])", true),
            ("(<DAV:no-lock>)", false),
            ("(<DAV:no-lock> [\"e1\"])", false),
            // litmus's conditional PUTs.
            ("(<urn:uuid:a> [\"e1\"])", true),
            ("(<urn:uuid:a>) (Not <DAV:no-lock>)", true),
            ("(<urn:uuid:ax>) (Not <DAV:no-lock>)", true),
            ("(<urn:uuid:a> [\"e1\"]) (Not <DAV:no-lock> [\"e1\"])", true),
            (
                "(<urn:uuid:a> [\"e2\"]) (Not <DAV:no-lock> [\"e2\"])",
                false,
            ),
            // Not, in any case, with or without space.
            ("(Not <urn:uuid:a>)", false),
            ("(not<DAV:no-lock>)", true),
            ("(NOT [\"e2\"])", true),
            ("(Not [\"e1\"])", false),
            // Tagged lists, absolute URIs and paths; a tag for another resource is judged
            // against that resource.
            ("<http://h/locked> (<urn:uuid:a>)", true),
            (
                "<https://other.example:8443/locked?q#f> (<urn:uuid:a>)",
                true,
            ),
            ("</locked> ([\"e1\"])", true),
            ("</%6cocked> ([\"e1\"])", true),
            ("</x/../locked> ([\"e1\"])", true),
            ("<http://h/folder/> (<urn:uuid:f>)", true),
            ("<http://h/folder/deep/file> (<urn:uuid:f>)", true),
            (
                "<http://h/other> (<urn:uuid:a>) <http://h/locked> (<urn:uuid:a>)",
                true,
            ),
            ("<http://h/other> (Not <DAV:no-lock>)", true),
            // Several field lines joined, white space around.
            ("  (<urn:uuid:a>)\t(<DAV:no-lock>)  ", true),
            ("([\"e1\"]) ", true),
        ];
        for (value, want) in rows {
            let header = parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(header.holds("/locked", &Fixed), *want, "{value:?}");
        }
    }

    #[test]
    fn tokens_are_submitted_whatever_the_conditions_say() {
        let header =
            parse("<http://h/x> (Not <urn:uuid:1> [\"e\"]) (<urn:uuid:2>) (<DAV:no-lock>)")
                .unwrap();
        let tokens: Vec<&str> = header.tokens().collect();
        assert_eq!(tokens, ["urn:uuid:1", "urn:uuid:2", "DAV:no-lock"]);
    }

    #[test]
    fn etag_paths_name_each_resource_once() {
        let header =
            parse("</a> ([\"1\"]) </a> ([\"2\"]) </b> (<urn:x:y>) <urn:z> ([\"3\"])").unwrap();
        assert_eq!(header.etag_paths("/req"), ["/a"]);
        let untagged = parse("([\"1\"]) (Not [\"2\"])").unwrap();
        assert_eq!(untagged.etag_paths("/req"), ["/req"]);
    }

    #[test]
    fn resource_tags_map_to_paths() {
        let rows: &[(&str, Resource)] = &[
            ("urn:uuid:x", Resource::Unmapped),
            ("ftp://h/x", Resource::Unmapped),
            ("//evil.example/x", Resource::Unmapped),
            ("relative/x", Resource::Unmapped),
            ("/a/%2e%2e/%2e%2e/b", Resource::Unmapped),
            ("http://h", Resource::Path("/".into())),
            ("HTTP://h/a%20b/", Resource::Path("/a b/".into())),
            ("/a/./b?x=1", Resource::Path("/a/b".into())),
        ];
        for (reference, want) in rows {
            assert_eq!(resource_of(reference), *want, "{reference:?}");
        }
    }
}
