//! Fuzzes `parse_request`: arbitrary bytes must never panic, and a complete head must report
//! a consumed count inside the buffer and answer every accessor without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::http::parse::{Limits, Parsed, parse_request, split_target};

fuzz_target!(|data: &[u8]| {
    // Small limits so that both size errors and complete heads are reachable; odd lengths
    // get a URI limit above the head limit, where the head window cuts the target short.
    let limits = Limits {
        max_head_bytes: 512,
        max_uri_bytes: if data.len().is_multiple_of(2) {
            64
        } else {
            1024
        },
    };
    let Ok(Parsed::Complete { head, consumed }) = parse_request(data, &limits) else {
        return;
    };
    assert!(consumed <= data.len());
    assert!(head.raw().len() <= consumed);
    assert!(data[..consumed].ends_with(head.raw()));
    let _ = (
        head.method(),
        head.version(),
        head.framing(),
        split_target(head.target()),
    );
    let _ = (
        head.keep_alive(),
        head.expects_continue(),
        head.has_header("host"),
    );
    for (name, value) in head.headers() {
        assert!(head.header_bytes(name).is_some());
        let _ = (
            head.header(name),
            head.header_all(name).count(),
            value.len(),
        );
    }
});
