//! Fuzzes `dav::xml::parse`: arbitrary request bodies must never panic, and every accepted
//! tree, written back out as a fragment, must parse again to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::dav::xml::{parse, push_element};

fuzz_target!(|data: &[u8]| {
    let Ok(tree) = parse(data) else {
        return;
    };
    let mut out = String::new();
    push_element(&mut out, &tree);
    let again = parse(out.as_bytes());
    assert_eq!(again.as_ref().ok(), Some(&tree), "{out}");
});
