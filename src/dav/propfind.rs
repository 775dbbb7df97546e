//! What a PROPFIND asks (RFC 4918 §9.1): how deep, from its `Depth` header, and which
//! properties, from its body.

use super::xml::{DAV, Element, Name};
use crate::error::Error;

/// The `Depth` header's value (RFC 4918 §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The resource only.
    Zero,
    /// The resource and, for a folder, its members.
    One,
    /// The resource and everything below it; a missing header means this.
    Infinity,
}

/// Reads a `Depth` header; without one, `infinity` (RFC 4918 §10.2: "If the Depth header is
/// not present, it MUST be treated as if it were 'infinity'" for PROPFIND, §9.1). Anything
/// else than `0`, `1` or `infinity`: 400.
pub fn parse_depth(header: Option<&str>) -> Result<Depth, Error> {
    match header.map(str::trim) {
        None => Ok(Depth::Infinity),
        Some("0") => Ok(Depth::Zero),
        Some("1") => Ok(Depth::One),
        Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
        Some(_) => Err(Error::BadRequest(
            "the Depth header must be 0, 1 or infinity",
        )),
    }
}

/// Which properties a PROPFIND asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Find {
    /// Every dead property and the live ones, plus those `include` names (RFC 4918 §9.1).
    AllProp {
        /// Properties asked for besides.
        include: Vec<Name>,
    },
    /// The names of every property, without values.
    PropName,
    /// These properties, with their values (404 for those the resource does not have).
    Prop(Vec<Name>),
}

const NOT_A_PROPFIND: Error =
    Error::BadRequest("a PROPFIND body is a DAV:propfind with allprop, propname or prop");

/// What a PROPFIND body asks for; an empty body asks for `allprop` (RFC 4918 §9.1: "A client
/// may choose not to submit a request body. An empty PROPFIND request body MUST be treated as
/// if it were an 'allprop' request."). Unknown elements are ignored (§17).
pub fn parse_find(body: Option<Element>) -> Result<Find, Error> {
    let Some(root) = body else {
        return Ok(Find::AllProp {
            include: Vec::new(),
        });
    };
    if !root.is(DAV, "propfind") {
        return Err(NOT_A_PROPFIND);
    }
    let names = |e: &Element| e.elements().map(|p| p.name.clone()).collect();
    for child in root.elements().filter(|e| e.name.ns == DAV) {
        match child.name.local.as_str() {
            "propname" => return Ok(Find::PropName),
            "prop" => return Ok(Find::Prop(names(child))),
            "allprop" => {
                let include = root.child(DAV, "include").map_or(Vec::new(), names);
                return Ok(Find::AllProp { include });
            }
            _ => {}
        }
    }
    Err(NOT_A_PROPFIND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml::parse;

    #[test]
    fn depth_rows() {
        let rows: &[(Option<&str>, Result<Depth, u16>)] = &[
            (Some("2"), Err(400)),
            (Some("-1"), Err(400)),
            (Some(""), Err(400)),
            (Some("0, 1"), Err(400)),
            (None, Ok(Depth::Infinity)),
            (Some("Infinity"), Ok(Depth::Infinity)),
            (Some("0"), Ok(Depth::Zero)),
            (Some(" 1 "), Ok(Depth::One)),
        ];
        for (header, want) in rows {
            let got = parse_depth(*header).map_err(|e| e.status());
            assert_eq!(got, *want, "{header:?}");
        }
    }

    #[test]
    fn find_rows() {
        let n = |ns: &str, l: &str| Name::new(ns, l);
        let rows: Vec<(&str, Result<Find, u16>)> = vec![
            ("<propfind xmlns='urn:x'><allprop/></propfind>", Err(400)),
            ("<propfind xmlns='DAV:'/>", Err(400)),
            (
                "<propfind xmlns='DAV:'><x:allprop xmlns:x='urn:x'/></propfind>",
                Err(400),
            ),
            (
                // litmus propextended: an unknown element before allprop.
                "<propfind xmlns='DAV:'><foobar/><allprop/></propfind>",
                Ok(Find::AllProp { include: vec![] }),
            ),
            (
                "<propfind xmlns='DAV:'><allprop/><include><x xmlns='urn:x'/></include></propfind>",
                Ok(Find::AllProp {
                    include: vec![n("urn:x", "x")],
                }),
            ),
            (
                "<propfind xmlns='DAV:'><propname/></propfind>",
                Ok(Find::PropName),
            ),
            (
                "<D:propfind xmlns:D='DAV:'><D:prop><D:getetag/><x xmlns=''/></D:prop></D:propfind>",
                Ok(Find::Prop(vec![n(DAV, "getetag"), n("", "x")])),
            ),
        ];
        for (body, want) in rows {
            let got = parse_find(Some(parse(body.as_bytes()).unwrap())).map_err(|e| e.status());
            assert_eq!(got, want, "{body}");
        }
        assert_eq!(
            parse_find(None).ok(),
            Some(Find::AllProp { include: vec![] })
        );
    }
}
