//! Fuzzes `normalize_path`: arbitrary request paths must never panic, and every accepted path
//! must come out absolute, free of dot segments, and stable when normalised again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::fs::path::normalize_path;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let Ok(norm) = normalize_path(&raw) else {
        return;
    };
    assert!(norm.starts_with('/'), "{norm:?}");
    assert!(!norm.split('/').any(|s| s == "." || s == ".."), "{norm:?}");
    // The output is decoded: a `%` in it is a literal percent sign, so it goes back in as
    // `%25` (normalising "/%41" again would decode it to "/A").
    let again = normalize_path(&norm.replace('%', "%25"));
    assert_eq!(again.as_deref(), Ok(norm.as_str()));
});
