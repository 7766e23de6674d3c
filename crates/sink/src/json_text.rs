//! Writing JSON strings fast: the escaping of long texts (a whole ECS document as a
//! ClickHouse `String` column) is the hot loop of row encoding.

/// Appends `text` to `out` as a JSON string literal (quotes included), escaping `"`, `\` and
/// control characters. Scans eight bytes at a time for bytes that need escaping and copies
/// the runs between them whole.
pub(crate) fn write_json_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8 + 2);
    out.push(b'"');
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip eight clean bytes at a time.
        while i + 8 <= bytes.len() {
            let chunk = u64::from_le_bytes(
                bytes[i..i + 8]
                    .try_into()
                    .expect("the slice is eight bytes long"),
            );
            if needs_escape(chunk) {
                break;
            }
            i += 8;
        }
        if i >= bytes.len() {
            break;
        }
        let byte = bytes[i];
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[run_start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
                i += 1;
                run_start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[run_start..i]);
        out.extend_from_slice(escape);
        i += 1;
        run_start = i;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// True when one of the eight bytes is `"`, `\` or below 0x20.
fn needs_escape(chunk: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = has_zero(chunk ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(chunk ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (for bytes < 0x80).
    let control = chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGHS;
    (quote | backslash | control) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_json_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_serde_json() {
        for text in [
            "",
            "plain text that is longer than eight bytes",
            r#"{"a":"b\"c","d":"e\\f"}"#,
            "tab\there, newline\n, cr\r, bell\u{7}, nul\u{0}, unit\u{1f}, del\u{7f}",
            "é😀 unicode stays as it is, \"quoted\" near the end\"",
            "\"\"\"\"\"\"\"\"\"",
        ] {
            assert_eq!(
                escaped(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips(text in ".*") {
            let json = escaped(&text);
            let back: String = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(back, text);
        }
    }
}
