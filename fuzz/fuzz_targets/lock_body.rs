//! Fuzzes the LOCK body parser: arbitrary bytes must never panic; an accepted body's owner is
//! at most `MAX_OWNER` bytes, and is a self-contained fragment: put back into a lockinfo, it
//! reads back as the very same fragment (so echoing it in lockdiscovery keeps its meaning).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::dav::lockinfo::parse;
use shelf::dav::locks::MAX_OWNER;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = parse(data) else {
        return;
    };
    let Some(owner) = info.owner else {
        return;
    };
    assert!(owner.len() <= MAX_OWNER);
    let again = format!(
        "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:shared/></D:lockscope>\
         <D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>"
    );
    let reread = parse(again.as_bytes()).expect("the echoed owner reads back");
    assert_eq!(reread.owner.as_deref(), Some(owner.as_str()));
});
