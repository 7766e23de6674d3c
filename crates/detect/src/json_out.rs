//! Compact JSON written by hand for the state's journal line ([`crate::Detector::write_changes`]):
//! every batch writes each key it changed, so the entries' fixed shapes are written directly
//! instead of through serde's generic serializer. The text is exactly what `serde_json` writes
//! for the same values (each type's tests hold it to `serde_json::to_vec`), so the journal
//! reads back with the types' `Deserialize` as before.

/// A value written as the same compact JSON `serde_json` writes for its `Serialize`.
pub(crate) trait WriteJson {
    /// Appends the value's JSON text to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it (the normalizer's
/// writer, [`oktaflow_normalize::write_json_string`]).
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    oktaflow_normalize::write_json_string(out, text);
}

/// Appends `text`, which needs no escape (hex digits, an IPv4 address), as a JSON string.
pub(crate) fn write_plain_str(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// Appends `{"key":value,…}`: each key escaped, each value written by `write`.
pub(crate) fn write_map<'k, T>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = (&'k str, T)>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write(out, value);
    }
    out.push(b'}');
}

/// Appends the last members of a rule entry with a quiet period, `"q":n,"l":n}` (`q` left
/// out when `None`, as serde does), closing the object.
pub(crate) fn write_quiet_and_last(out: &mut Vec<u8>, quiet_until: Option<i64>, last_seen: i64) {
    if let Some(quiet) = quiet_until {
        write_name(out, "q");
        write_i64(out, quiet);
        out.push(b',');
    }
    write_name(out, "l");
    write_i64(out, last_seen);
    out.push(b'}');
}

/// Appends an integer.
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a float as `serde_json` writes it (`null` when not finite).
pub(crate) fn write_f64(out: &mut Vec<u8>, n: f64) {
    // Writing to a `Vec` cannot fail; a float always serializes.
    let _ = serde_json::to_writer(&mut *out, &n);
}

/// Appends `"name":` (a member name that needs no escape).
pub(crate) fn write_name(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(text in any::<String>()) {
            let mut out = Vec::new();
            write_str(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_vec(&text).unwrap());
        }

        #[test]
        fn numbers_are_written_as_serde_json_writes_them(n in any::<i64>(), f in any::<f64>()) {
            let mut out = Vec::new();
            write_i64(&mut out, n);
            prop_assert_eq!(&out, &serde_json::to_vec(&n).unwrap());
            out.clear();
            write_f64(&mut out, f);
            prop_assert_eq!(&out, &serde_json::to_vec(&f).unwrap());
        }
    }

    #[test]
    fn control_characters_quotes_and_backslashes_are_escaped() {
        for text in [
            "a\"b",
            "a\\b",
            "\u{1}",
            "\u{7f}",
            "tab\there",
            "é\u{2028}",
            "",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
