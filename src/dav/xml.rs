//! WebDAV's XML (RFC 4918 §14): request bodies read under a cap and parsed, namespace-aware,
//! into a small tree; and the writing side, escaping and the pieces of a 207 multistatus.
//!
//! Reading goes through quick-xml's `NsReader`, which never reads a DTD nor expands an entity:
//! a `DOCTYPE` is refused outright, and the only references resolved are the five predefined
//! entities and character references, so neither XXE nor "billion laughs" can happen. Limits
//! are checked before the tree grows: [`MAX_BODY`] bytes, [`MAX_ELEMENTS`] elements,
//! [`MAX_DEPTH`] levels (413). Malformed XML, an undeclared prefix, a character XML does not
//! allow: 400.
//!
//! Writing never echoes input as it came: every element is written from the tree, with its
//! namespace declared on itself (`xmlns="…"`), so a fragment stays correct wherever it is
//! pasted in a document that binds no default namespace, as ours never do (`D:` is `DAV:`).

use std::io::Read;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::{Error, Oversize};
use crate::http::encode::encode_path;
use crate::http::response::{Body, Response, reason};

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";

/// The namespace of the `xml:` prefix, bound in every document without a declaration.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A request body larger than this is refused (413) before it is parsed.
pub const MAX_BODY: u64 = 1024 * 1024;

/// A body with more elements than this is refused (413): the tree stays small whatever the
/// bytes (a 1 MiB body of `<a/>` would otherwise be 250,000 elements).
pub const MAX_ELEMENTS: usize = 10_000;

/// Elements nested deeper than this are refused (413), so nothing that walks the tree
/// recursively can run out of stack.
pub const MAX_DEPTH: usize = 64;

/// The start of every multistatus: the declaration and the root, `D:` bound to `DAV:`.
pub const MULTISTATUS_START: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n";

/// The end of every multistatus.
pub const MULTISTATUS_END: &str = "</D:multistatus>\n";

/// The media type of every XML body shelf sends.
pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";

/// An expanded name: a namespace (empty for none) and a local name, `{ns}local` in Clark's
/// notation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    /// The namespace name; empty when the name is in no namespace.
    pub ns: String,
    /// The local name (an XML NCName).
    pub local: String,
}

impl Name {
    /// `{ns}local`.
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    /// `{DAV:}local`.
    pub fn dav(local: &str) -> Name {
        Name::new(DAV, local)
    }

    /// True for `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The name in Clark's notation, `{ns}local` (`{}local` in no namespace).
    pub fn clark(&self) -> String {
        format!("{{{}}}{}", self.ns, self.local)
    }

    /// Reads Clark's notation back; `None` when `s` is not `{ns}local` with a valid local name.
    /// The split is at the last `}`, which a local name cannot hold.
    pub fn from_clark(s: &str) -> Option<Name> {
        let rest = s.strip_prefix('{')?;
        let end = rest.rfind('}')?;
        let (ns, local) = (&rest[..end], &rest[end + 1..]);
        (is_ncname(local) && ns.chars().all(is_xml_char)).then(|| Name::new(ns, local))
    }
}

/// An element of a parsed body: its name, its attributes (namespace declarations aside) and
/// its children in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The expanded name.
    pub name: Name,
    /// Attributes with their expanded names and normalised values.
    pub attrs: Vec<(Name, String)>,
    /// Elements and text, in order; adjacent text is merged.
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data, references resolved.
    Text(String),
}

impl Element {
    /// An element with no attributes and no children.
    pub fn empty(name: Name) -> Element {
        Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// True when this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    /// The child elements, text skipped.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element called `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The text directly inside this element, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text(t) = node {
                out.push_str(t);
            }
        }
        out
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes and parses it; `None` for an empty
/// body. `declared` is the `Content-Length`, when there is one: over the cap, the body is
/// refused before a byte of it is read.
pub fn read_body(body: &mut impl Read, declared: Option<u64>) -> Result<Option<Element>, Error> {
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(Error::BodyTooLarge(Oversize::Xml));
    }
    let mut bytes = Vec::new();
    body.take(MAX_BODY + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BODY {
        return Err(Error::BodyTooLarge(Oversize::Xml));
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    parse(&bytes).map(Some)
}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| NOT_UTF8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut tree = Tree::default();
    loop {
        match reader.read_event().map_err(from_quick)? {
            Event::Start(e) => {
                let element = open(&reader, &e)?;
                tree.push(element)?;
            }
            Event::Empty(e) => {
                let element = open(&reader, &e)?;
                tree.push(element)?;
                tree.pop()?;
            }
            Event::End(_) => tree.pop()?,
            Event::Text(t) => tree.text(&t.xml10_content())?,
            Event::CData(c) => tree.text(&c.xml10_content())?,
            Event::GeneralRef(r) => tree.text(&resolve_reference(&r)?)?,
            // No DTD is ever read: it could declare entities (XXE, billion laughs).
            Event::DocType(_) => return Err(DOCTYPE),
            Event::Decl(d) => check_encoding(&d)?,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(),
        }
    }
}

/// Building the tree: open elements on a stack, the finished root aside.
#[derive(Default)]
struct Tree {
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
}

impl Tree {
    fn push(&mut self, element: Element) -> Result<(), Error> {
        self.elements += 1;
        if self.open.len() >= MAX_DEPTH || self.elements > MAX_ELEMENTS {
            return Err(Error::BodyTooLarge(Oversize::Xml));
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err(MALFORMED); // a second root element
        }
        self.open.push(element);
        Ok(())
    }

    fn pop(&mut self) -> Result<(), Error> {
        let done = self.open.pop().ok_or(MALFORMED)?;
        match self.open.last_mut() {
            Some(parent) => parent.children.push(Node::Element(done)),
            None => self.root = Some(done),
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), Error> {
        let Some(parent) = self.open.last_mut() else {
            // Outside the root only white space may stand (XML 1.0 §2.8, `Misc`).
            return match text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
                true => Ok(()),
                false => Err(MALFORMED),
            };
        };
        check_chars(text)?;
        match parent.children.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(text),
            _ => parent.children.push(Node::Text(text.to_string())),
        }
        Ok(())
    }

    fn finish(self) -> Result<Element, Error> {
        // An element still open at the end (`<foo>`) is not well-formed.
        match (self.open.is_empty(), self.root) {
            (true, Some(root)) => Ok(root),
            _ => Err(MALFORMED),
        }
    }
}

const MALFORMED: Error = Error::BadRequest("the XML body is not well-formed");
const NOT_UTF8: Error = Error::BadRequest("the XML body is not UTF-8");
const DOCTYPE: Error = Error::BadRequest("the XML body has a DOCTYPE; shelf reads no DTD");
const UNDECLARED: Error = Error::BadRequest("the XML body uses an undeclared namespace prefix");
const ENTITY: Error = Error::BadRequest("the XML body refers to an entity it cannot define");
const BAD_CHAR: Error = Error::BadRequest("the XML body has a character XML does not allow");

/// A quick-xml error as the client's fault: an undeclared prefix, or malformed XML.
fn from_quick(e: quick_xml::Error) -> Error {
    use quick_xml::name::NamespaceError;
    log::debug!("XML body refused: {e}");
    match e {
        quick_xml::Error::Namespace(NamespaceError::UnknownPrefix(_)) => UNDECLARED,
        quick_xml::Error::Namespace(NamespaceError::TooDeeplyNested(_)) => {
            Error::BodyTooLarge(Oversize::Xml)
        }
        _ => MALFORMED,
    }
}

/// A new element from its start tag: expanded name and attributes.
fn open(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<Element, Error> {
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let name = expanded(ns, local.as_ref())?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| from_quick(e.into()))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let name = expanded(ns, local.as_ref())?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| ENTITY)?;
        check_chars(&value)?;
        attrs.push((name, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// The expanded name of a resolved element or attribute name.
fn expanded(ns: ResolveResult<'_>, local: &str) -> Result<Name, Error> {
    if !is_ncname(local) {
        return Err(MALFORMED);
    }
    let ns = match ns {
        // The resolver keeps the declaration's value as written: its references still need
        // resolving (`xmlns="urn:&amp;"` names `urn:&`).
        ResolveResult::Bound(ns) => {
            quick_xml::escape::unescape(ns.into_inner()).map_err(|_| ENTITY)?
        }
        ResolveResult::Unbound => "".into(),
        ResolveResult::Unknown(_) => return Err(UNDECLARED),
    };
    check_chars(&ns)?;
    Ok(Name::new(&ns, local))
}

/// `&lt;`, `&#65536;` and the like. XML 1.0 §4.6: only the five predefined entities exist
/// without a DTD, and shelf reads none, so any other name is undefined (not well-formed).
fn resolve_reference(r: &BytesRef<'_>) -> Result<String, Error> {
    if r.is_char_ref() {
        let c = r.resolve_char_ref().ok().flatten().ok_or(BAD_CHAR)?;
        return match is_xml_char(c) {
            true => Ok(c.to_string()),
            false => Err(BAD_CHAR),
        };
    }
    let text = match r.as_ref() {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return Err(ENTITY),
    };
    Ok(text.to_string())
}

/// The declaration may name UTF-8 (or its subset US-ASCII) only: the bytes were read as UTF-8.
fn check_encoding(decl: &quick_xml::events::BytesDecl<'_>) -> Result<(), Error> {
    let Some(encoding) = decl.encoding() else {
        return Ok(());
    };
    let encoding = encoding.map_err(|_| MALFORMED)?;
    match encoding.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "us-ascii" => Ok(()),
        _ => Err(NOT_UTF8),
    }
}

/// Refuses text holding a character outside XML 1.0's `Char` production.
fn check_chars(text: &str) -> Result<(), Error> {
    match text.chars().all(is_xml_char) {
        true => Ok(()),
        false => Err(BAD_CHAR),
    }
}

/// XML 1.0 §2.2 `Char`: tab, line feed, carriage return, and the rest of Unicode but the
/// other C0 controls, surrogates, U+FFFE and U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// An XML `NCName` (a name without a colon), in the conservative reading: ASCII letters, `_`
/// or any non-ASCII character first; then also digits, `-` and `.`. Anything that could end
/// a tag or an attribute is refused, which is what writing names back out relies on.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && is_xml_char(c));
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// Appends `s` as character data: `&`, `<` and `>` escaped. A character XML cannot carry at
/// all (a file name may hold U+0001) becomes U+FFFD, so the document stays well-formed.
pub fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A raw CR would be read back as LF (XML 1.0 §2.11).
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// Appends `s` for a double-quoted attribute value: as [`push_text`], plus `"`, and white
/// space other than a space as references, which attribute-value normalisation would change.
pub fn push_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c => push_text(out, c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// Appends `element` as a self-contained fragment: it declares its own namespace, and every
/// descendant whose namespace differs from its parent's declares its own, so the fragment
/// means the same wherever it stands, provided no default namespace is bound there.
pub fn push_element(out: &mut String, element: &Element) {
    push_element_in(out, element, "");
}

/// [`push_element`] where `default_ns` is the default namespace in scope.
fn push_element_in(out: &mut String, element: &Element, default_ns: &str) {
    out.push('<');
    out.push_str(&element.name.local);
    if element.name.ns != default_ns {
        out.push_str(" xmlns=\"");
        push_attr(out, &element.name.ns);
        out.push('"');
    }
    push_attributes(out, &element.attrs);
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for child in &element.children {
        match child {
            Node::Text(text) => push_text(out, text),
            Node::Element(e) => push_element_in(out, e, &element.name.ns),
        }
    }
    out.push_str("</");
    out.push_str(&element.name.local);
    out.push('>');
}

/// Attributes in no namespace as they are, `xml:` ones with that prefix, and any other each
/// with a prefix of its own declared beside it (`xmlns:a0="…" a0:name="…"`).
fn push_attributes(out: &mut String, attrs: &[(Name, String)]) {
    for (n, (name, value)) in attrs.iter().enumerate() {
        out.push(' ');
        if name.ns == XML_NS {
            out.push_str("xml:");
        } else if !name.ns.is_empty() {
            out.push_str(&format!("xmlns:a{n}=\""));
            push_attr(out, &name.ns);
            out.push_str(&format!("\" a{n}:"));
        }
        out.push_str(&name.local);
        out.push_str("=\"");
        push_attr(out, value);
        out.push('"');
    }
}

/// Appends an empty element named `name`: `<D:local/>` in `DAV:` (the multistatus binds
/// `D:`), `<local xmlns="ns"/>` in another namespace, `<local/>` in none.
pub fn push_empty(out: &mut String, name: &Name) {
    push_empty_in(out, name, "");
}

/// [`push_empty`] where `default_ns` is the default namespace in scope.
fn push_empty_in(out: &mut String, name: &Name, default_ns: &str) {
    if name.ns == DAV {
        out.push_str("<D:");
        out.push_str(&name.local);
        out.push_str("/>");
        return;
    }
    push_element_in(out, &Element::empty(name.clone()), default_ns);
}

/// The `<D:href>` of the decoded URL path `url_path` (RFC 4918 §8.3): percent-encoded per
/// segment, absolute, and ending in `/` for a folder (§5.2: a collection's URL "SHOULD" end
/// in `/`), however the request spelled it.
pub fn href(url_path: &str, is_dir: bool) -> String {
    let mut href = encode_path(url_path);
    if is_dir && !href.ends_with('/') {
        href.push('/');
    }
    href
}

/// `HTTP/1.1 404 Not Found`: a `<D:status>` line.
pub fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} {}", reason(status))
}

/// One `<D:propstat>`: the properties (elements, already written), their status, and the
/// optional precondition element and description RFC 4918 §14.22 allows.
pub struct Propstat<'a> {
    /// The status every property in `props` has.
    pub status: u16,
    /// The property elements, written.
    pub props: &'a str,
    /// A precondition or postcondition code (`cannot-modify-protected-property`) for
    /// `<D:error>`.
    pub error: Option<&'static str>,
    /// A sentence for `<D:responsedescription>`.
    pub description: Option<&'static str>,
}

/// Appends one `<D:response>` for `href` (already percent-encoded) with its propstats.
pub fn push_response(out: &mut String, href: &str, propstats: &[Propstat<'_>]) {
    out.push_str("<D:response><D:href>");
    push_text(out, href);
    out.push_str("</D:href>");
    for p in propstats {
        out.push_str("<D:propstat><D:prop>");
        out.push_str(p.props);
        out.push_str("</D:prop><D:status>");
        out.push_str(&status_line(p.status));
        out.push_str("</D:status>");
        if let Some(code) = p.error {
            out.push_str(&format!("<D:error><D:{code}/></D:error>"));
        }
        if let Some(description) = p.description {
            out.push_str("<D:responsedescription>");
            push_text(out, description);
            out.push_str("</D:responsedescription>");
        }
        out.push_str("</D:propstat>");
    }
    out.push_str("</D:response>\n");
}

/// A response whose body is an XML document.
pub fn response(status: u16, document: String) -> Response {
    Response::new(status)
        .header("Content-Type", CONTENT_TYPE)
        .body(Body::Bytes(document.into_bytes().into()))
}

/// RFC 4918 §16: an error answered with the precondition or postcondition it failed, such as
/// `propfind-finite-depth` or `lock-token-submitted`, as `<D:error><D:code/></D:error>`.
pub fn condition_response(status: u16, code: &str) -> Response {
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <D:error xmlns:D=\"DAV:\"><D:{code}/></D:error>\n"
    );
    response(status, document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(result: Result<Element, Error>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(e) => e.status(),
        }
    }

    /// Hostile bodies first: each is refused with the status that names its fault.
    #[test]
    fn parse_refusals() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        let wide = format!("<r>{}</r>", "<a/>".repeat(MAX_ELEMENTS));
        let rows: &[(&str, &str, u16)] = &[
            (
                "XXE",
                "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                 <D:propfind xmlns:D=\"DAV:\"><D:prop>&x;</D:prop></D:propfind>",
                400,
            ),
            (
                "billion laughs",
                "<!DOCTYPE l [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>",
                400,
            ),
            ("an entity never declared", "<a>&x;</a>", 400),
            ("a bare &", "<a>x & y</a>", 400),
            (
                "an undeclared prefix",
                "<D:propfind xmlns:D=\"DAV:\"><D:prop><x:y/></D:prop></D:propfind>",
                400,
            ),
            (
                "a prefix bound to nothing (litmus propfind_invalid2)",
                "<D:propfind xmlns:D=\"DAV:\"><D:prop><bar:foo xmlns:bar=\"\"/></D:prop></D:propfind>",
                400,
            ),
            ("an undeclared attribute prefix", "<a x:y=\"1\"/>", 400),
            ("an unclosed root (litmus propfind_invalid)", "<foo>", 400),
            ("mismatched tags", "<a><b></a></b>", 400),
            ("two roots", "<a/><b/>", 400),
            ("text after the root", "<a/>x", 400),
            ("no root", "  ", 400),
            ("a control character by reference", "<a>&#1;</a>", 400),
            ("a control character raw", "<a>\u{1}</a>", 400),
            (
                "a control character in an attribute",
                "<a b=\"&#2;\"/>",
                400,
            ),
            ("a lone surrogate by reference", "<a>&#xD800;</a>", 400),
            (
                "another encoding",
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
                400,
            ),
            ("a duplicate attribute", "<a b=\"1\" b=\"2\"/>", 400),
            ("too deep", &deep, 413),
            ("too many elements", &wide, 413),
            ("ordinary", "<a>x &amp; &#65536; <![CDATA[<y>]]></a>", 200),
        ];
        for (what, body, want) in rows {
            assert_eq!(status(parse(body.as_bytes())), *want, "{what}");
        }
        assert_eq!(status(parse(b"<a>\xff</a>")), 400, "not UTF-8");
    }

    #[test]
    fn parse_resolves_names_and_text() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <!-- c --><D:propfind xmlns:D=\"DAV:\" xmlns=\"urn:x\">\n\
            <D:prop><foo xml:lang=\"en\" a=\"1&#10;2\">a&lt;b&#65536;<![CDATA[&]]></foo>\
            <bar xmlns=\"\"/></D:prop></D:propfind>";
        let root = parse(body.as_bytes()).unwrap();
        assert!(root.is(DAV, "propfind"));
        let prop = root.child(DAV, "prop").unwrap();
        let names: Vec<_> = prop.elements().map(|e| e.name.clark()).collect();
        assert_eq!(names, ["{urn:x}foo", "{}bar"]);
        let foo = prop.child("urn:x", "foo").unwrap();
        assert_eq!(foo.text(), "a<b\u{10000}&");
        assert_eq!(
            foo.attrs,
            [
                (Name::new(XML_NS, "lang"), "en".to_string()),
                (Name::new("", "a"), "1\n2".to_string()),
            ]
        );
    }

    #[test]
    fn body_cap() {
        let over = MAX_BODY + 1;
        let mut nothing: &[u8] = b"";
        let declared = read_body(&mut nothing, Some(over)).unwrap_err();
        assert_eq!(declared.status(), 413);
        let big = vec![b' '; over as usize];
        assert_eq!(read_body(&mut &big[..], None).unwrap_err().status(), 413);
        assert_eq!(read_body(&mut nothing, None).unwrap(), None);
        let line = String::from_utf8(match Error::BodyTooLarge(Oversize::Xml).response().body {
            Body::Bytes(b) => b.to_vec(),
            _ => unreachable!(),
        })
        .unwrap();
        // The why in error.rs spells the limits out; it must say what this module enforces.
        assert!(line.contains(&format!("{} MiB", MAX_BODY >> 20)), "{line}");
        assert!(line.contains("10,000 elements") && MAX_ELEMENTS == 10_000);
        assert!(line.contains(&format!("{MAX_DEPTH} levels")), "{line}");
    }

    /// What is written reads back as the same tree, whatever the names and text held.
    #[test]
    fn elements_round_trip() {
        let rows = [
            "<v xmlns=\"urn:a\"><foo xmlns=\"http://bar\"/></v>",
            "<v>plain</v>",
            "<v xmlns=\"urn:&quot;&lt;&amp;\" xml:lang=\"fr\">&lt;/v&gt; &amp; \"'\u{10000}\r</v>",
            "<p:v xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" q:x=\"1\" y=\"&#9;\"><q:w><v/></q:w></p:v>",
            "<v xmlns=\"DAV:\"><x xmlns=\"\">t</x></v>",
        ];
        for row in rows {
            let tree = parse(row.as_bytes()).unwrap();
            let mut out = String::new();
            push_element(&mut out, &tree);
            assert_eq!(parse(out.as_bytes()).unwrap(), tree, "{row} -> {out}");
        }
    }

    /// The fuzz target's property over random documents from an alphabet of XML pieces
    /// (`fuzz/fuzz_targets/dav_xml.rs` runs it on arbitrary bytes): never a panic, and an
    /// accepted tree written back out parses to the same tree.
    #[test]
    fn random_documents_round_trip() {
        const PIECES: [&str; 24] = [
            "<a>",
            "</a>",
            "<b:c xmlns:b='urn:b'>",
            "</b:c>",
            "<d/>",
            "<D:e xmlns:D='DAV:'/>",
            " x='1'",
            "xmlns='urn:d'",
            "text",
            " ",
            "&amp;",
            "&#65536;",
            "&#10;",
            "&lt;",
            "<![CDATA[<&>]]>",
            "<!-- c -->",
            "<?pi x?>",
            "\r\n",
            "é",
            "<f xml:lang='fr'>",
            "</f>",
            "<g xmlns=''>",
            "</g>",
            "&quot;",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut doc = String::from("<r>");
            for _ in 0..next() % 16 {
                doc.push_str(PIECES[(next() % 24) as usize]);
            }
            doc.push_str("</r>");
            let Ok(tree) = parse(doc.as_bytes()) else {
                continue;
            };
            accepted += 1;
            let mut out = String::new();
            push_element(&mut out, &tree);
            assert_eq!(parse(out.as_bytes()).ok(), Some(tree), "{doc} -> {out}");
        }
        assert!(
            accepted > 1000,
            "only {accepted} accepted: the alphabet needs work"
        );
    }

    #[test]
    fn text_escaping() {
        let rows: &[(&str, &str)] = &[
            ("<script>&", "&lt;script&gt;&amp;"),
            ("a\u{1}b\u{fffe}", "a\u{fffd}b\u{fffd}"),
            ("\r\n", "&#13;\n"),
            ("été \u{10000}", "été \u{10000}"),
        ];
        for (raw, want) in rows {
            let mut out = String::new();
            push_text(&mut out, raw);
            assert_eq!(out, *want, "{raw:?}");
        }
        let mut out = String::new();
        push_attr(&mut out, "\"a\"\t\n<");
        assert_eq!(out, "&quot;a&quot;&#9;&#10;&lt;");
    }

    #[test]
    fn hrefs() {
        let rows: &[(&str, bool, &str)] = &[
            ("/a b/#?%/", true, "/a%20b/%23%3F%25/"),
            ("//x", false, "/x"),
            ("/", true, "/"),
            ("/dir", true, "/dir/"),
            ("/dir/", true, "/dir/"),
            ("/été.txt", false, "/%C3%A9t%C3%A9.txt"),
        ];
        for (path, is_dir, want) in rows {
            assert_eq!(href(path, *is_dir), *want, "{path}");
        }
    }

    #[test]
    fn clark_names() {
        let rows: &[(&str, Option<(&str, &str)>)] = &[
            ("{urn:}}x}y", Some(("urn:}}x", "y"))),
            ("{}y", Some(("", "y"))),
            ("{DAV:}getetag", Some(("DAV:", "getetag"))),
            ("{a}", None),
            ("{a}b:c", None),
            ("{a}b c", None),
            ("a}b", None),
            ("{a\u{1}}b", None),
        ];
        for (s, want) in rows {
            let got = Name::from_clark(s);
            assert_eq!(got, want.map(|(ns, l)| Name::new(ns, l)), "{s}");
            if let Some(name) = got {
                assert_eq!(name.clark(), *s);
            }
        }
    }

    #[test]
    fn multistatus_pieces_are_well_formed() {
        let mut doc = String::from(MULTISTATUS_START);
        let mut props = String::new();
        push_empty(&mut props, &Name::dav("getetag"));
        push_empty(&mut props, &Name::new("urn:x", "y"));
        push_empty(&mut props, &Name::new("", "z"));
        let stat = Propstat {
            status: 403,
            props: &props,
            error: Some("cannot-modify-protected-property"),
            description: Some("a <b>"),
        };
        push_response(&mut doc, "/a%20b/", &[stat]);
        doc.push_str(MULTISTATUS_END);
        let root = parse(doc.as_bytes()).unwrap();
        let response = root.child(DAV, "response").unwrap();
        let propstat = response.child(DAV, "propstat").unwrap();
        let names: Vec<_> = propstat
            .child(DAV, "prop")
            .unwrap()
            .elements()
            .map(|e| e.name.clark())
            .collect();
        assert_eq!(names, ["{DAV:}getetag", "{urn:x}y", "{}z"]);
        let status = propstat.child(DAV, "status").unwrap().text();
        assert_eq!(status, "HTTP/1.1 403 Forbidden");
    }
}
