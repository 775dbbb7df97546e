//! Fuzzes `ChunkedReader`: arbitrary bytes must never panic, never yield more than the body
//! limit, and decode the same way however the input is fragmented.
#![no_main]

use std::io::{self, BufReader, Read};

use libfuzzer_sys::fuzz_target;
use shelf::http::body::{BodyError, ChunkedReader};

const MAX_BODY: u64 = 4096;
const MAX_TRAILERS: usize = 256;

/// The decoded body, or the error kind and `BodyError` a caller would see.
type Outcome = Result<Vec<u8>, (io::ErrorKind, Option<BodyError>)>;

fn decode(reader: impl io::BufRead, step: usize) -> Outcome {
    let mut chunked = ChunkedReader::new(reader, MAX_BODY, MAX_TRAILERS);
    let mut out = Vec::new();
    let mut buf = vec![0; step];
    loop {
        match chunked.read(&mut buf) {
            Ok(0) => {
                assert!(chunked.is_done());
                return Ok(out);
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<BodyError>());
                return Err((e.kind(), inner.copied()));
            }
        }
        assert!(out.len() as u64 <= MAX_BODY);
    }
}

fuzz_target!(|data: &[u8]| {
    let [step, capacity, body @ ..] = data else {
        return;
    };
    let whole = decode(body, 8192);
    let step = usize::from(*step).max(1);
    let capacity = usize::from(*capacity).max(1);
    let fragmented = decode(BufReader::with_capacity(capacity, body), step);
    assert_eq!(whole, fragmented);
});
