//! Bytes to text: hexadecimal digits, each byte a push of two precomputed digits (no
//! `format!` per byte).

/// Lower-case hexadecimal digits, by value.
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the two digits of `byte` from `digits`.
fn push_hex_byte(out: &mut String, byte: u8, digits: &[u8; 16]) {
    out.push(char::from(digits[usize::from(byte >> 4)]));
    out.push(char::from(digits[usize::from(byte & 0x0f)]));
}

/// Appends `bytes` as lower-case hexadecimal, two digits a byte (digests, tags).
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        push_hex_byte(out, b, LOWER_HEX);
    }
}

/// `bytes` as lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_rows() {
        let rows: &[(&[u8], &str)] = &[
            (&[], ""),
            (&[0x00], "00"),
            (&[0xff], "ff"),
            (&[0x0f, 0xf0], "0ff0"),
            (&[0xde, 0xad, 0xbe, 0xef], "deadbeef"),
            (b"\x01\x23\x45\x67\x89\xab\xcd\xef", "0123456789abcdef"),
        ];
        for (bytes, want) in rows {
            assert_eq!(hex(bytes), *want, "{bytes:?}");
        }
        let every: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&(0..=255u8).collect::<Vec<_>>()), every);
        let mut appended = String::from("\"");
        push_hex(&mut appended, &[0xab]);
        assert_eq!(appended, "\"ab");
    }
}
