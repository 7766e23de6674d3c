//! A streaming JSON object writer that leaves out empty values.
//!
//! Objects and arrays that end up with no member are rolled back (key
//! included), so the output never holds `null`, `""`, `{}` or `[]`.

use std::borrow::Cow;

use serde::Serialize;

use crate::json::{Json, Text};

/// An object member's name. [`k!`] makes one from a literal, quoted and
/// followed by `:` at compile time; any `&str` converts too and is escaped
/// when written.
#[derive(Clone, Copy)]
pub(crate) enum Key<'k> {
    /// `,"name":`, ready to copy (without the comma for an object's first member).
    Quoted(&'static str),
    /// A name to escape (names from the input).
    Text(&'k str),
    /// A name serde_json borrowed from its input: nothing to escape (see [`Key::parsed`]).
    Clean(&'k str),
    /// A [`Key::Clean`] name written with every space and dash as `_` (Elastic's
    /// `remove_flattened_debug` layout).
    Underscored(&'k str),
}

impl<'k> Key<'k> {
    /// The name of a member of a parsed object (a [`Json`] object or an Okta object's
    /// `extra`): a borrowed one is as serde_json found it, without escape sequences
    /// (see [`Json`]), and is copied without the escape scan.
    // The point is which `Cow` variant it is: a `&str` would not tell.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn parsed(name: &'k Cow<'_, str>) -> Self {
        match name {
            Cow::Borrowed(name) => Key::Clean(name),
            Cow::Owned(name) => Key::Text(name),
        }
    }
}

impl<'k> From<&'k str> for Key<'k> {
    fn from(name: &'k str) -> Self {
        Key::Text(name)
    }
}

impl<'k> From<&'k std::borrow::Cow<'_, str>> for Key<'k> {
    fn from(name: &'k std::borrow::Cow<'_, str>) -> Self {
        Key::Text(name)
    }
}

/// A [`Key`] from a string literal, quoted (and preceded by the separator) at compile
/// time.
macro_rules! k {
    ($name:literal) => {
        $crate::writer::Key::Quoted(concat!(",\"", $name, "\":"))
    };
}
pub(crate) use k;

struct Frame {
    /// Output length before this container's key (and comma) was written.
    start: usize,
    /// Members written so far.
    count: usize,
    is_array: bool,
}

/// Writes one JSON object into a byte buffer.
pub(crate) struct JsonWriter<'o> {
    out: &'o mut Vec<u8>,
    /// The innermost open container (kept out of `outer`: every member touches it).
    cur: Frame,
    /// The containers around `cur`, the root object first.
    outer: Vec<Frame>,
}

impl<'o> JsonWriter<'o> {
    /// Starts the root object at the end of `out`.
    pub(crate) fn new(out: &'o mut Vec<u8>) -> Self {
        let start = out.len();
        out.push(b'{');
        JsonWriter {
            out,
            cur: Frame {
                start,
                count: 0,
                is_array: false,
            },
            // Deep enough for every schema's documents: no growth while writing.
            outer: Vec::with_capacity(16),
        }
    }

    /// Writes the separator and, inside an object, the key of the next member.
    fn member(&mut self, key: Key<'_>) {
        let first = self.cur.count == 0;
        self.cur.count += 1;
        if self.cur.is_array {
            if !first {
                self.out.push(b',');
            }
            return;
        }
        match key {
            Key::Quoted(quoted) => {
                debug_assert!(
                    quoted.len() >= 4
                        && quoted.starts_with(",\"")
                        && first_escape(&quoted.as_bytes()[2..quoted.len() - 2]).is_none(),
                    "k!({quoted}) needs escaping"
                );
                let bytes = quoted.as_bytes();
                // The separator is the key's first byte.
                self.out
                    .extend_from_slice(if first { &bytes[1..] } else { bytes });
            }
            _ if !first => {
                self.out.push(b',');
                self.key(key);
            }
            _ => self.key(key),
        }
    }

    /// Writes an object key that is not [`Key::Quoted`], with its `:`.
    fn key(&mut self, key: Key<'_>) {
        match key {
            Key::Quoted(quoted) => self.out.extend_from_slice(&quoted.as_bytes()[1..]),
            Key::Text(name) => {
                self.string(name);
                self.out.push(b':');
            }
            Key::Clean(name) => {
                write_clean_str(self.out, name);
                self.out.push(b':');
            }
            Key::Underscored(name) => {
                debug_assert!(is_clean(name), "{name:?} needs escaping");
                self.out.push(b'"');
                let start = self.out.len();
                self.out.extend_from_slice(name.as_bytes());
                // Byte for byte as `str::replace`: UTF-8 has no space or dash inside a
                // multi-byte character.
                for b in &mut self.out[start..] {
                    if matches!(*b, b' ' | b'-') {
                        *b = b'_';
                    }
                }
                self.out.extend_from_slice(b"\":");
            }
        }
    }

    fn string(&mut self, s: &str) {
        write_str(self.out, s);
    }

    /// A string member, left out when absent or empty.
    pub(crate) fn str<'k>(&mut self, key: impl Into<Key<'k>>, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.member(key.into());
            self.string(v);
        }
    }

    /// A string member from the model, left out when absent or empty. A borrowed
    /// [`Text`] is a string serde_json handed over as it stood in the input, without
    /// escape sequences, so it holds no `"`, `\\` or control byte: it is copied without
    /// the escape scan.
    pub(crate) fn text<'k>(&mut self, key: impl Into<Key<'k>>, value: &Option<Text<'_>>) {
        match value {
            Some(Text(Cow::Borrowed(v))) if !v.is_empty() => {
                self.member(key.into());
                write_clean_str(self.out, v);
            }
            Some(Text(Cow::Owned(v))) => self.str(key, Some(v)),
            _ => {}
        }
    }

    /// A string of a parsed [`Json`] value, left out when empty; a borrowed one is
    /// copied without the escape scan (see [`Json`]).
    // The point is which `Cow` variant it is: a `&str` would not tell.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn parsed_str<'k>(&mut self, key: impl Into<Key<'k>>, value: &Cow<'_, str>) {
        match value {
            Cow::Borrowed(v) if !v.is_empty() => {
                self.member(key.into());
                write_clean_str(self.out, v);
            }
            Cow::Borrowed(_) => {}
            Cow::Owned(v) => self.str(key, Some(v)),
        }
    }

    /// A string member from this crate's own tables (a constant, a category name),
    /// left out when empty: such strings hold nothing to escape (checked in debug
    /// builds, which the goldens run in), so they are copied without the escape scan.
    pub(crate) fn known_str<'k>(&mut self, key: impl Into<Key<'k>>, value: &'static str) {
        if !value.is_empty() {
            self.member(key.into());
            write_clean_str(self.out, value);
        }
    }

    /// A string member known to hold nothing to escape (cut out of a string serde_json
    /// borrowed, see [`Json`]; checked in debug builds), left out when empty.
    pub(crate) fn clean_str<'k>(&mut self, key: impl Into<Key<'k>>, value: &str) {
        if !value.is_empty() {
            self.member(key.into());
            write_clean_str(self.out, value);
        }
    }

    /// A string member, left out when absent or empty; copied without the escape scan
    /// when `clean` (it is, or was cut out of, a string serde_json borrowed: see
    /// [`JsonWriter::clean_str`]).
    pub(crate) fn str_clean_if<'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        value: Option<&str>,
        clean: bool,
    ) {
        if clean {
            self.clean_str(key, value.unwrap_or_default());
        } else {
            self.str(key, value);
        }
    }

    /// An array of strings from this crate's own tables (see [`JsonWriter::known_str`]),
    /// left out when empty.
    pub(crate) fn known_str_array<'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        values: impl IntoIterator<Item = &'static str>,
    ) {
        self.open_array(key);
        for v in values {
            self.known_str(k!(""), v);
        }
        self.close();
    }

    /// An unsigned integer member, left out when absent.
    pub(crate) fn u64<'k>(&mut self, key: impl Into<Key<'k>>, value: Option<u64>) {
        if let Some(v) = value {
            self.member(key.into());
            write_u64(self.out, v);
        }
    }

    /// A float member, left out when absent or not finite.
    pub(crate) fn f64<'k>(&mut self, key: impl Into<Key<'k>>, value: Option<f64>) {
        if let Some(n) = value.and_then(serde_json::Number::from_f64) {
            self.member(key.into());
            let mut ser = serde_json::Serializer::new(&mut *self.out);
            // Writing a number into a Vec cannot fail.
            let _ = n.serialize(&mut ser);
        }
    }

    /// A boolean member.
    pub(crate) fn bool<'k>(&mut self, key: impl Into<Key<'k>>, value: Option<bool>) {
        if let Some(v) = value {
            self.member(key.into());
            self.out
                .extend_from_slice(if v { b"true" } else { b"false" });
        }
    }

    /// A free-form member (empty parts dropped), left out when empty.
    pub(crate) fn json<'k>(&mut self, key: impl Into<Key<'k>>, value: Option<&Json<'_>>) {
        let Some(v) = value else {
            return;
        };
        if matches!(v, Json::Null) || matches!(v, Json::Str(s) if s.is_empty()) {
            return;
        }
        let before = self.out.len();
        self.member(key.into());
        if !write_json_kept(self.out, v) {
            // Empty after all: the member is taken back.
            self.out.truncate(before);
            self.cur.count -= 1;
        }
    }

    /// A member whose value is `object`, an already rendered, non-empty JSON object
    /// (`{...}`), copied as it is.
    pub(crate) fn raw_object<'k>(&mut self, key: impl Into<Key<'k>>, object: &str) {
        debug_assert!(object.len() > 2 && object.starts_with('{') && object.ends_with('}'));
        self.member(key.into());
        self.out.extend_from_slice(object.as_bytes());
    }

    /// An array of strings (empty strings dropped), left out when empty.
    pub(crate) fn str_array<'s, 'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        values: impl IntoIterator<Item = &'s str>,
    ) {
        self.open_array(key);
        for v in values {
            self.str(k!(""), Some(v));
        }
        self.close();
    }

    fn open(&mut self, key: Key<'_>, is_array: bool) {
        let start = self.out.len();
        self.member(key);
        self.out.push(if is_array { b'[' } else { b'{' });
        let parent = std::mem::replace(
            &mut self.cur,
            Frame {
                start,
                count: 0,
                is_array,
            },
        );
        self.outer.push(parent);
    }

    /// Opens an object member (the key is ignored inside an array).
    pub(crate) fn open_object<'k>(&mut self, key: impl Into<Key<'k>>) {
        self.open(key.into(), false);
    }

    /// Opens an array member.
    pub(crate) fn open_array<'k>(&mut self, key: impl Into<Key<'k>>) {
        self.open(key.into(), true);
    }

    /// Closes the innermost container, removing it if it stayed empty.
    pub(crate) fn close(&mut self) {
        self.close_kept();
    }

    /// Closes the innermost container, removing it if it stayed empty; false when it
    /// was removed.
    pub(crate) fn close_kept(&mut self) -> bool {
        let Some(parent) = self.outer.pop() else {
            return false;
        };
        let frame = std::mem::replace(&mut self.cur, parent);
        if frame.count == 0 {
            self.out.truncate(frame.start);
            self.cur.count -= 1;
            false
        } else {
            self.out.push(if frame.is_array { b']' } else { b'}' });
            true
        }
    }

    /// Closes every open container and the root object.
    pub(crate) fn finish(mut self) {
        while !self.outer.is_empty() {
            self.close();
        }
        self.out.push(b'}');
    }
}

/// Writes a JSON string literal, escaped exactly as serde_json does. The
/// common case, nothing to escape, is found eight bytes at a time and copied
/// in one go.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut done = 0;
    while let Some(at) = first_escape(&bytes[done..]).map(|i| done + i) {
        out.extend_from_slice(&bytes[done..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        done = at + 1;
    }
    out.extend_from_slice(&bytes[done..]);
    out.push(b'"');
}

/// Writes a JSON string literal of `s`, which holds nothing to escape (a string
/// serde_json borrowed from its input: see [`JsonWriter::text`]).
fn write_clean_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(first_escape(s.as_bytes()).is_none(), "{s:?} needs escaping");
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// True when `s` holds no byte JSON strings must escape.
pub(crate) fn is_clean(s: &str) -> bool {
    first_escape(s.as_bytes()).is_none()
}

/// Bytes that JSON strings must escape: quote, backslash, controls.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The high bit of every byte of `x` that JSON strings must escape (quote, backslash,
/// control), and possibly of some bytes after the first such byte: the lowest set bit
/// is exact (a borrow only runs towards higher bytes), so it names the first one.
const fn escape_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let quote = x ^ (ONES * b'"' as u64);
    let backslash = x ^ (ONES * b'\\' as u64);
    // A byte below 0x20 has no bit of 0xE0 set: clear the others and test for zero.
    let control = x & 0xE0E0_E0E0_E0E0_E0E0;
    ((quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (control.wrapping_sub(ONES) & !control))
        & HIGHS
}

/// The eight bytes at `at` as a little-endian word.
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Position of the first byte to escape. Checks eight bytes at a time, the last
/// (partial) word as the overlapping final eight bytes.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(x) = word_at(bytes, i) {
        let mask = escape_mask(x);
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i == bytes.len() {
        return None;
    }
    if let Some(last) = bytes.len().checked_sub(8) {
        // Bytes last..i were checked already (1 to 7 of them).
        let seen = i - last;
        let x = word_at(bytes, last)?;
        let mask = escape_mask(x) & (u64::MAX << (8 * seen));
        return (mask != 0).then(|| last + (mask.trailing_zeros() / 8) as usize);
    }
    bytes.iter().position(|&b| needs_escape(b))
}

/// Writes a free-form value, leaving out empty members and elements. `v` is not empty
/// (see [`Json::is_empty`]); an empty one writes nothing.
pub(crate) fn write_json(out: &mut Vec<u8>, v: &Json<'_>) {
    write_json_kept(out, v);
}

/// Writes `v` as [`write_json`] does, in one pass: a member or element is written and
/// taken back when it turns out empty (instead of asking [`Json::is_empty`] of every
/// nested value first, which walks each subtree once per level above it). Returns false,
/// with `out` as it was, when `v` is empty.
fn write_json_kept(out: &mut Vec<u8>, v: &Json<'_>) -> bool {
    match v {
        Json::Null => return false,
        Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Json::Num(n) => {
            let mut ser = serde_json::Serializer::new(&mut *out);
            // Writing a number into a Vec cannot fail.
            let _ = n.serialize(&mut ser);
        }
        Json::Str(s) if s.is_empty() => return false,
        // Borrowed: as serde_json found it in the input, without escape sequences.
        Json::Str(Cow::Borrowed(s)) => write_clean_str(out, s),
        Json::Str(Cow::Owned(s)) => write_str(out, s),
        Json::Arr(items) => {
            let start = out.len();
            out.push(b'[');
            let mut first = true;
            for item in items {
                let before = out.len();
                if !first {
                    out.push(b',');
                }
                if write_json_kept(out, item) {
                    first = false;
                } else {
                    out.truncate(before);
                }
            }
            if first {
                out.truncate(start);
                return false;
            }
            out.push(b']');
        }
        Json::Obj(members) => {
            let start = out.len();
            out.push(b'{');
            let mut first = true;
            for (k, v) in members {
                // Scalars that carry nothing are skipped before their key is written.
                if matches!(v, Json::Null) || matches!(v, Json::Str(s) if s.is_empty()) {
                    continue;
                }
                let before = out.len();
                if !first {
                    out.push(b',');
                }
                match k {
                    Cow::Borrowed(k) => write_clean_str(out, k),
                    Cow::Owned(k) => write_str(out, k),
                }
                out.push(b':');
                if write_json_kept(out, v) {
                    first = false;
                } else {
                    out.truncate(before);
                }
            }
            if first {
                out.truncate(start);
                return false;
            }
            out.push(b'}');
        }
    }
    true
}

/// Writes the decimal digits of `v`, without allocating.
fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_containers_and_values_disappear() {
        let mut out = b"prefix".to_vec();
        let mut w = JsonWriter::new(&mut out);
        w.str("a", Some("x"));
        w.open_object("empty");
        w.str("b", None);
        w.str("c", Some(""));
        w.open_array("nested");
        w.close();
        w.close();
        w.open_array("list");
        w.open_object("");
        w.u64("n", Some(1));
        w.u64("zero", Some(0));
        w.u64("max", Some(u64::MAX));
        w.close();
        w.open_object("");
        w.close();
        w.close();
        w.f64("nan", Some(f64::NAN));
        w.bool("t", Some(true));
        w.finish();
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"prefix{"a":"x","list":[{"n":1,"zero":0,"max":18446744073709551615}],"t":true}"#
        );
    }

    #[test]
    fn escape_detection_matches_serde_json() {
        let samples = [
            "",
            "plain",
            "exactly8",
            "sixteen-bytes-ok",
            "quote\"",
            "back\\slash",
            "tab\there",
            "\u{1f}",
            "long string without anything special in it at all",
            "ünïcödé ok",
            "ünïcödé \"no\"",
            "\u{7f}del",
            "\u{0}\u{8}\u{c}\r\n\t\u{1b}x",
            "many \"quotes\" and \\backslashes\\ over eight bytes \"",
        ];
        for s in samples {
            let mut ours = Vec::new();
            write_str(&mut ours, s);
            assert_eq!(ours, serde_json::to_vec(s).expect("serializable"), "{s:?}");
        }
    }

    #[test]
    fn first_escape_finds_the_first_byte_at_every_position_and_length() {
        for len in 0..=24 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    // A later byte to escape must not hide the first one.
                    if at + 1 < len {
                        bytes[len - 1] = b'"';
                    }
                    assert_eq!(first_escape(&bytes), Some(at), "{bytes:?}");
                }
            }
            let clean: Vec<u8> = (0..len)
                .map(|i| [b' ', b'~', 0x7f, 0xc3, b'!'][i % 5])
                .collect();
            assert_eq!(first_escape(&clean), None, "{clean:?}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        let mut w = JsonWriter::new(&mut out);
        w.str("k\"ey", Some("va\\lue\n"));
        w.str_array("arr", ["a", "", "b"]);
        w.finish();
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"k\"ey":"va\\lue\n","arr":["a","b"]}"#
        );
    }
}
