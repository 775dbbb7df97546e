//! What a PROPPATCH asks (RFC 4918 §9.2): its `propertyupdate` body as instructions, in
//! document order.

use super::xml::{DAV, Element, Name};
use crate::error::Error;

/// One change to one property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Sets the property to this element (its name, attributes and content).
    Set(Element),
    /// Removes the property; removing one that is not there is no error (RFC 4918 §14.23).
    Remove(Name),
}

impl Instruction {
    /// The property this instruction changes.
    pub fn name(&self) -> &Name {
        match self {
            Instruction::Set(element) => &element.name,
            Instruction::Remove(name) => name,
        }
    }
}

const NOT_AN_UPDATE: Error =
    Error::BadRequest("a PROPPATCH body is a DAV:propertyupdate with set or remove");

/// The instructions of a `propertyupdate` body, in document order (RFC 4918 §9.2: "Instructions
/// MUST ... be processed in document order"). No body, another root, or no instruction: 400.
pub fn parse_update(body: Option<Element>) -> Result<Vec<Instruction>, Error> {
    let root = body.ok_or(NOT_AN_UPDATE)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(NOT_AN_UPDATE);
    }
    let mut instructions = Vec::new();
    for change in root.elements() {
        let set = match (change.name.ns.as_str(), change.name.local.as_str()) {
            (DAV, "set") => true,
            (DAV, "remove") => false,
            // RFC 4918 §17: elements a server does not know are ignored.
            _ => continue,
        };
        let props = change.elements().filter(|e| e.is(DAV, "prop"));
        for property in props.flat_map(Element::elements) {
            instructions.push(match set {
                true => Instruction::Set(property.clone()),
                false => Instruction::Remove(property.name.clone()),
            });
        }
    }
    match instructions.is_empty() {
        true => Err(NOT_AN_UPDATE),
        false => Ok(instructions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml::parse;

    fn instructions(body: &str) -> Result<Vec<String>, u16> {
        let root = parse(body.as_bytes()).map_err(|e| e.status())?;
        let parsed = parse_update(Some(root)).map_err(|e| e.status())?;
        Ok(parsed
            .iter()
            .map(|i| match i {
                Instruction::Set(e) => format!("set {}={}", e.name.clark(), e.text()),
                Instruction::Remove(n) => format!("remove {}", n.clark()),
            })
            .collect())
    }

    #[test]
    fn update_rows() {
        let rows: &[(&str, Result<&[&str], u16>)] = &[
            ("<propfind xmlns='DAV:'/>", Err(400)),
            (
                "<propertyupdate xmlns='urn:not-dav'><set/></propertyupdate>",
                Err(400),
            ),
            ("<propertyupdate xmlns='DAV:'/>", Err(400)),
            (
                "<propertyupdate xmlns='DAV:'><set><prop/></set></propertyupdate>",
                Err(400),
            ),
            (
                "<D:propertyupdate xmlns:D='DAV:'><D:remove><D:prop><r xmlns='urn:x'/></D:prop>\
                 </D:remove><D:set><D:prop><r xmlns='urn:x'>x</r><s>y</s></D:prop></D:set>\
                 <D:unknown/></D:propertyupdate>",
                Ok(&["remove {urn:x}r", "set {urn:x}r=x", "set {}s=y"]),
            ),
        ];
        for (body, want) in rows {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(instructions(body), want, "{body}");
        }
        assert_eq!(parse_update(None).unwrap_err().status(), 400);
    }
}
