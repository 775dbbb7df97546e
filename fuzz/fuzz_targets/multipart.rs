//! Fuzzes the streaming `multipart/form-data` reader: arbitrary bodies must never panic, never
//! loop, and yield the same parts and bytes however the input is fragmented and whatever
//! buffer size the caller reads with.
#![no_main]

use std::io::{self, BufReader, Read};

use libfuzzer_sys::fuzz_target;
use shelf::http::multipart::{FormDataReader, PartBody, PartHead};

/// Parts as (head, body), or the error kind a caller would see.
type Outcome = Result<Vec<(PartHead, Vec<u8>)>, io::ErrorKind>;

fn parse(reader: impl Read, boundary: &str, step: usize) -> Outcome {
    let mut multipart = FormDataReader::new(reader, boundary);
    let mut parts = Vec::new();
    // A body of n bytes holds fewer than n parts: this bounds the loop.
    for _ in 0..=4096 {
        let head = match multipart.next_part() {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(parts),
            Err(e) => return Err(e.kind()),
        };
        let mut body = Vec::new();
        let mut buf = vec![0; step];
        loop {
            match PartBody(&mut multipart).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e.kind()),
            }
        }
        parts.push((head, body));
    }
    panic!("more parts than bytes");
}

fuzz_target!(|data: &[u8]| {
    let [step, capacity, blen, rest @ ..] = data else {
        return;
    };
    let blen = (*blen as usize % 16 + 1).min(rest.len());
    let Ok(boundary) = std::str::from_utf8(&rest[..blen]) else {
        return;
    };
    let body = &rest[blen..];
    let whole = parse(body, boundary, 8192);
    let step = usize::from(*step).max(1);
    let fragmented = parse(
        BufReader::with_capacity(usize::from(*capacity).max(1), body),
        boundary,
        step,
    );
    assert_eq!(whole, fragmented, "fragmentation changed the outcome");
});
