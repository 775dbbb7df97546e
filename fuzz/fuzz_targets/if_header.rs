//! Fuzzes the WebDAV `If` header parser: arbitrary values must never panic; an accepted header
//! has at least one production, all tagged or all untagged, none without a list, no empty list,
//! at most `MAX_CONDITIONS` conditions; and against a state where nothing matches, it holds
//! exactly when some list is made of `Not` conditions only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::dav::ifheader::{MAX_CONDITIONS, Resource, State, parse};

/// No resource has a lock token or an entity tag.
struct Nothing;

impl State for Nothing {
    fn etag(&self, _: &str) -> Option<String> {
        None
    }

    fn has_token(&self, _: &str, _: &str) -> bool {
        false
    }
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let Ok(header) = parse(&value) else {
        return;
    };
    let productions = &header.productions;
    assert!(!productions.is_empty());
    let untagged = productions
        .iter()
        .filter(|p| p.resource == Resource::Request)
        .count();
    assert!(untagged == 0 || untagged == productions.len(), "{value:?}");
    let lists = productions.iter().flat_map(|p| &p.lists);
    assert!(productions.iter().all(|p| !p.lists.is_empty()));
    assert!(lists.clone().all(|l| !l.is_empty()));
    assert!(lists.clone().map(Vec::len).sum::<usize>() <= MAX_CONDITIONS);
    let all_not = lists.clone().any(|l| l.iter().all(|c| c.not));
    assert_eq!(header.holds("/r", &Nothing), all_not, "{value:?}");
    let _ = header.tokens().count();
    let _ = header.etag_paths("/r");
});
