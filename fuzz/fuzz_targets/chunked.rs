//! Fuzzes `ChunkedReader`: arbitrary bytes must never panic, never yield more than the body
//! limit, and decode the same way however the input is fragmented. An accepted body's framing
//! ends in CRLF CRLF (RFC 9112 §7.1 has no bare-LF line end, and the reader takes none).
#![no_main]

use std::io::{self, BufReader, Read};

use libfuzzer_sys::fuzz_target;
use shelf::http::body::{BodyError, ChunkedReader};

const MAX_BODY: u64 = 4096;
const MAX_TRAILERS: usize = 256;

/// The decoded body, or the error kind and `BodyError` a caller would see.
type Outcome = Result<Vec<u8>, (io::ErrorKind, Option<BodyError>)>;

/// Decodes with reads of `step` bytes; the outcome, and the reader after it.
fn decode<R: io::BufRead>(reader: R, step: usize) -> (Outcome, R) {
    let mut chunked = ChunkedReader::new(reader, MAX_BODY, MAX_TRAILERS);
    let mut out = Vec::new();
    let mut buf = vec![0; step];
    loop {
        match chunked.read(&mut buf) {
            Ok(0) => {
                assert!(chunked.is_done());
                return (Ok(out), chunked.into_inner());
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<BodyError>());
                return (Err((e.kind(), inner.copied())), chunked.into_inner());
            }
        }
        assert!(out.len() as u64 <= MAX_BODY);
    }
}

fuzz_target!(|data: &[u8]| {
    let [step, capacity, body @ ..] = data else {
        return;
    };
    let (whole, rest) = decode(body, 8192);
    if whole.is_ok() {
        // The last chunk's line and the empty line that ends the trailers, both CRLF.
        let used = &body[..body.len() - rest.len()];
        assert!(used.ends_with(b"\r\n\r\n"));
    }
    let step = usize::from(*step).max(1);
    let capacity = usize::from(*capacity).max(1);
    let (fragmented, _) = decode(BufReader::with_capacity(capacity, body), step);
    assert_eq!(whole, fragmented);
});
