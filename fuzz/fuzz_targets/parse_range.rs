//! Fuzzes `parse_range`: arbitrary headers, lengths and caps must never panic, and every
//! satisfiable outcome must hold ranges inside `0..len`, pairwise non-touching, no more than
//! the cap, whose multipart body length accounts for every byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shelf::range::{ByteRangesBody, RangeOutcome, content_range, parse_range};

fuzz_target!(|data: &[u8]| {
    // Input: 8 bytes of length (little-endian), 1 byte of cap (1..=32), then the header.
    let Some((len, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Some((&cap, header)) = rest.split_first() else {
        return;
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let len = u64::from_le_bytes(*len);
    let max_ranges = usize::from(cap % 32) + 1;
    let RangeOutcome::Satisfiable(ranges) = parse_range(header, len, max_ranges) else {
        return;
    };
    assert!(!ranges.is_empty() && ranges.len() <= max_ranges);
    for (i, a) in ranges.iter().enumerate() {
        assert!(a.start <= a.end && a.end < len);
        assert!(content_range(a, len).starts_with("bytes "));
        for b in &ranges[i + 1..] {
            assert!(a.end + 1 < b.start || b.end + 1 < a.start);
        }
    }
    let total: u64 = ranges.iter().map(|r| r.len()).sum();
    assert!(total <= len);
    let body = ByteRangesBody::new(ranges, len, "text/plain");
    // Below 2^63 (the largest file Linux allows) the length is exact; above, it saturates.
    if len < 1 << 63 {
        assert!(body.content_length() > total);
    } else {
        assert!(body.content_length() >= total);
    }
});
