//! Splits an input stream into event records: any stream of JSON values (NDJSON,
//! concatenated or pretty-printed objects as `jq` prints them, JSON arrays whose elements
//! are the records, or a mix), in constant memory.
//!
//! Records are handed out as byte slices of one reused buffer; nothing is parsed here
//! beyond the JSON structure (strings, escapes, brackets), so a broken record reaches the
//! normalizer, which names what is wrong with it. A value cut off before its end (a
//! truncated line) is noticed where the next value starts, or at the line break inside
//! its string, and reading goes on from there: one broken line costs one record.

use std::io::{self, BufRead};

use super::scan::{ValueEnd, ValueScan};

/// Longest record kept in memory (a real Okta event is a few KB); a longer one is
/// reported as [`Record::TooLong`] and skipped without being buffered.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// How much of an over-long or stray record is kept for the dead letter.
pub const RAW_PREFIX_BYTES: usize = 4096;

/// One record of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A record to normalize: a JSON object or array, an element of a top-level
    /// array, or (for the normalizer to refuse with its reason) a run of text outside
    /// any JSON value, up to the end of its line.
    Event(&'a [u8]),
    /// A record longer than [`MAX_RECORD_BYTES`]; `prefix` holds its first bytes.
    TooLong {
        /// The first [`RAW_PREFIX_BYTES`] bytes.
        prefix: &'a [u8],
        /// Its full length.
        len: u64,
    },
    /// Something in the input that cannot be an event: a value cut off before its end,
    /// a stray comma or bracket, an array or value cut off by the end of the input.
    Malformed {
        /// The offending bytes (at most [`MAX_RECORD_BYTES`]).
        raw: &'a [u8],
        /// What is wrong.
        reason: &'static str,
    },
}

/// Where the reader is inside a top-level JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InArray {
    /// Just after `[`: an element or `]`.
    First,
    /// Just after an element: `,` or `]` (another element is taken too: a missing
    /// comma loses nothing).
    AfterElement,
    /// Just after `,`: an element.
    AfterComma,
}

const CUT_OFF: &str =
    "incomplete JSON value: the next value starts before it ends (truncated line?)";
const BROKEN_STRING: &str = "incomplete JSON value: a line break inside a string (truncated line?)";
const ENDS_IN_VALUE: &str = "the input ends inside a JSON value (truncated file?)";
const ENDS_IN_ARRAY: &str = "the input ends inside a JSON array (truncated file?)";
const STRAY_COMMA: &str = "empty JSON array element (stray comma)";
const STRAY_CLOSE: &str = "a closing bracket outside any JSON value";

/// Reads records from a buffered reader.
pub struct Records<R> {
    reader: R,
    /// Line number of the next unread byte, from 1.
    line: u64,
    array: Option<InArray>,
    scan: ValueScan,
    buf: Vec<u8>,
    /// Bytes of the last record still in the reader's buffer, to consume.
    pending: usize,
}

impl<R: BufRead> Records<R> {
    /// Prepares to read `reader`. A UTF-8 byte order mark at the start is skipped.
    pub fn new(mut reader: R) -> io::Result<Records<R>> {
        let bom = loop {
            match reader.fill_buf() {
                Ok(b) => break b.starts_with(b"\xEF\xBB\xBF"),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if bom {
            reader.consume(3);
        }
        Ok(Records {
            reader,
            line: 1,
            array: None,
            scan: ValueScan::default(),
            buf: Vec::with_capacity(64 * 1024),
            pending: 0,
        })
    }

    /// The next record with the line it starts on (from 1), or `None` at the end of
    /// the input.
    pub fn next_record(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        if self.pending > 0 {
            self.reader.consume(self.pending);
            self.pending = 0;
        }
        loop {
            let Some(next) = self.skip_whitespace()? else {
                if self.array.take().is_some() {
                    return Ok(Some((
                        self.line,
                        Record::Malformed {
                            raw: b"",
                            reason: ENDS_IN_ARRAY,
                        },
                    )));
                }
                return Ok(None);
            };
            match (self.array, next) {
                (None, b'[') => {
                    self.reader.consume(1);
                    self.array = Some(InArray::First);
                }
                (None, b'{') => {
                    if let Some(len) = self.one_line_object()? {
                        return Ok(Some(self.take_line(len)));
                    }
                    return self.value();
                }
                (None, b']' | b'}') => {
                    let line = self.line;
                    self.buf.clear();
                    self.buf.push(next);
                    self.reader.consume(1);
                    return Ok(Some((
                        line,
                        Record::Malformed {
                            raw: &self.buf,
                            reason: STRAY_CLOSE,
                        },
                    )));
                }
                (None, _) => return self.text(false),
                (Some(position), b']') => {
                    self.reader.consume(1);
                    self.array = None;
                    if position == InArray::AfterComma {
                        return Ok(Some((self.line, stray_comma())));
                    }
                }
                (Some(position), b',') => {
                    self.reader.consume(1);
                    self.array = Some(InArray::AfterComma);
                    if position != InArray::AfterElement {
                        return Ok(Some((self.line, stray_comma())));
                    }
                }
                (Some(_), b'{' | b'[') => {
                    self.array = Some(InArray::AfterElement);
                    return self.value();
                }
                (Some(_), _) => {
                    self.array = Some(InArray::AfterElement);
                    return self.text(true);
                }
            }
        }
    }

    /// The fast path for NDJSON: when the rest of the line (all in the reader's buffer)
    /// starts with `{`, ends with `}` and has no `}` followed by another `{` or `[` (a
    /// second value on the line), it is taken as one object without scanning its strings:
    /// returns its length. A line that is in fact broken reaches the normalizer, which
    /// refuses it with its reason, and costs that line only, as with the full scan. A
    /// value whose first line both starts with `{` and ends with `}` but goes on over the
    /// next lines is cut there (no JSON printer lays a value out that way).
    fn one_line_object(&mut self) -> io::Result<Option<usize>> {
        let available = loop {
            match self.reader.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let Some(end) = memchr::memchr(b'\n', available) else {
            return Ok(None);
        };
        let line = available[..end].trim_ascii_end();
        if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
            return Ok(None);
        }
        let last = line.len() - 1;
        let second_value = memchr::memchr_iter(b'}', &line[..last]).any(|i| {
            line[i + 1..]
                .iter()
                .find(|b| !matches!(b, b' ' | b'\t'))
                .is_some_and(|b| matches!(b, b'{' | b'['))
        });
        Ok((!second_value).then_some(end))
    }

    /// The line of `len` bytes found by [`one_line_object`](Self::one_line_object), straight
    /// from the reader's buffer (not copied); it and its line feed are consumed at the next
    /// call.
    fn take_line(&mut self, len: usize) -> (u64, Record<'_>) {
        let line = self.line;
        self.line += 1;
        self.pending = len + 1;
        // `one_line_object` saw these bytes in the buffer: asking again does not read.
        let available = self.reader.fill_buf().unwrap_or_default();
        let record = &available[..len.min(available.len())];
        (line, Record::Event(record.trim_ascii_end()))
    }

    /// Reads the object or array that starts at the next byte.
    fn value(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        let line = self.line;
        self.buf.clear();
        self.scan.reset();
        let mut len = 0u64;
        let end = loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break None;
            }
            let (taken, end) = self.scan.feed(available);
            let room = MAX_RECORD_BYTES.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..taken.min(room)]);
            self.line += count_newlines(&available[..taken]);
            len += taken as u64;
            self.reader.consume(taken);
            if end.is_some() {
                break end;
            }
        };
        if len > MAX_RECORD_BYTES as u64 {
            self.buf.truncate(RAW_PREFIX_BYTES);
            return Ok(Some((
                line,
                Record::TooLong {
                    prefix: &self.buf,
                    len,
                },
            )));
        }
        let raw = self.buf.trim_ascii_end();
        let record = match end {
            Some(ValueEnd::Complete) => Record::Event(raw),
            Some(ValueEnd::NewValue) => Record::Malformed {
                raw,
                reason: CUT_OFF,
            },
            Some(ValueEnd::BrokenString) => Record::Malformed {
                raw,
                reason: BROKEN_STRING,
            },
            None => {
                self.array = None;
                Record::Malformed {
                    raw,
                    reason: ENDS_IN_VALUE,
                }
            }
        };
        Ok(Some((line, record)))
    }

    /// Reads text that does not start an object or array: up to the end of its line or
    /// the next `{` / `[` outside a string, and, in an array, up to the next `,` or `]`.
    /// It is handed to the normalizer (a scalar is not an event; garbage is not JSON),
    /// which says what is wrong with it.
    fn text(&mut self, in_array: bool) -> io::Result<Option<(u64, Record<'_>)>> {
        let line = self.line;
        self.buf.clear();
        let mut len = 0u64;
        let mut in_string = false;
        let mut escaped = false;
        'read: loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let mut taken = available.len();
            let mut end = false;
            for (i, &b) in available.iter().enumerate() {
                if in_string {
                    match (escaped, b) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_string = false,
                        (false, b'\n') => {
                            taken = i;
                            end = true;
                            break;
                        }
                        _ => {}
                    }
                    continue;
                }
                let stop = match b {
                    b'\n' | b'{' | b'[' => true,
                    b',' | b']' => in_array,
                    _ => false,
                };
                if stop && (i > 0 || len > 0) {
                    taken = i;
                    end = true;
                    break;
                }
                if b == b'"' {
                    in_string = true;
                }
            }
            let room = MAX_RECORD_BYTES.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..taken.min(room)]);
            len += taken as u64;
            self.reader.consume(taken);
            if end {
                break 'read;
            }
        }
        if len > MAX_RECORD_BYTES as u64 {
            self.buf.truncate(RAW_PREFIX_BYTES);
            return Ok(Some((
                line,
                Record::TooLong {
                    prefix: &self.buf,
                    len,
                },
            )));
        }
        Ok(Some((line, Record::Event(self.buf.trim_ascii_end()))))
    }

    /// Consumes whitespace (counting lines); returns the next byte without consuming it.
    fn skip_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(None);
            }
            match available.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let next = available[i];
                    self.line += count_newlines(&available[..i]);
                    self.reader.consume(i);
                    return Ok(Some(next));
                }
                None => {
                    let n = available.len();
                    self.line += count_newlines(available);
                    self.reader.consume(n);
                }
            }
        }
    }
}

fn stray_comma<'a>() -> Record<'a> {
    Record::Malformed {
        raw: b",",
        reason: STRAY_COMMA,
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects every record as (line, kind and bytes) reading through a tiny buffer, so
    /// records and whitespace straddle buffer boundaries, and through a large one (the
    /// NDJSON fast path), which must agree.
    fn collect(input: &[u8]) -> Vec<(u64, String)> {
        let tiny = collect_with(input, 3);
        assert_eq!(tiny, collect_with(input, 1 << 16), "buffer sizes disagree");
        tiny
    }

    fn collect_with(input: &[u8], capacity: usize) -> Vec<(u64, String)> {
        let reader = io::BufReader::with_capacity(capacity, input);
        let mut records = Records::new(reader).unwrap();
        let mut out = Vec::new();
        while let Some((n, record)) = records.next_record().unwrap() {
            let text = match record {
                Record::Event(b) => format!("event {}", String::from_utf8_lossy(b)),
                Record::TooLong { prefix, len } => format!("too long {len} {}", prefix.len()),
                Record::Malformed { raw, reason } => {
                    format!("malformed {reason}: {}", String::from_utf8_lossy(raw))
                }
            };
            out.push((n, text));
        }
        out
    }

    fn events(input: &[u8]) -> Vec<String> {
        collect(input)
            .into_iter()
            .map(|(_, r)| r.strip_prefix("event ").map(str::to_owned).unwrap_or(r))
            .collect()
    }

    #[test]
    fn ndjson_lines_are_numbered_and_blank_lines_skipped() {
        let records = collect(b"\n  \n{\"a\":1}\r\n\n{\"b\":\"[\"}\n  \t\n{\"c\":3}");
        assert_eq!(
            records,
            vec![
                (3, "event {\"a\":1}".to_owned()),
                (5, "event {\"b\":\"[\"}".to_owned()),
                (7, "event {\"c\":3}".to_owned()),
            ]
        );
    }

    #[test]
    fn empty_input_has_no_records() {
        assert_eq!(collect(b""), vec![]);
        assert_eq!(collect(b" \n\n "), vec![]);
        assert_eq!(collect(b"[]"), vec![]);
        assert_eq!(collect(b" [ \n ] "), vec![]);
    }

    #[test]
    fn pretty_printed_and_concatenated_objects_are_records() {
        // jq output: pretty objects one after the other.
        let jq = b"{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [\n      1,\n      {}\n    ]\n  }\n}\n{\n  \"d\": \"}{\"\n}\n";
        assert_eq!(
            collect(jq),
            vec![
                (
                    1,
                    "event {\n  \"a\": 1,\n  \"b\": {\n    \"c\": [\n      1,\n      {}\n    ]\n  }\n}"
                        .to_owned()
                ),
                (10, "event {\n  \"d\": \"}{\"\n}".to_owned()),
            ]
        );
        assert_eq!(
            events(b"{\"a\":1}{\"b\":2} {\"c\":3}\n\xEF\xBB\xBF"),
            ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "\u{FEFF}"]
        );
        assert_eq!(
            events(b"\xEF\xBB\xBF{\"a\":1}"),
            ["{\"a\":1}"],
            "a byte order mark at the start is skipped"
        );
    }

    #[test]
    fn array_elements_are_split_on_top_level_commas_only() {
        let input = br#"
        [ {"a": "x,]\"y", "b": [1, {"c": 2}]} ,
          {"d": "\\"},{"e":{}}
        ]"#;
        assert_eq!(
            collect(input),
            vec![
                (2, r#"event {"a": "x,]\"y", "b": [1, {"c": 2}]}"#.to_owned()),
                (3, r#"event {"d": "\\"}"#.to_owned()),
                (3, r#"event {"e":{}}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn arrays_and_objects_mix() {
        assert_eq!(
            events(b"\xEF\xBB\xBF[{\"a\":1}]\n{\"b\":2}\n[{\"c\":3},\n{\"d\":4}] [] {\"e\":5}"),
            [
                "{\"a\":1}",
                "{\"b\":2}",
                "{\"c\":3}",
                "{\"d\":4}",
                "{\"e\":5}"
            ]
        );
        // A missing comma between elements loses nothing.
        assert_eq!(events(b"[{\"a\":1} {\"b\":2}]"), ["{\"a\":1}", "{\"b\":2}"]);
        // Scalars are records too (the normalizer refuses them, naming why).
        assert_eq!(events(b"[1, \"x,]\", null]"), ["1", "\"x,]\"", "null"]);
    }

    #[test]
    fn broken_arrays_yield_malformed_records_not_errors() {
        assert_eq!(
            events(b"[{\"a\":1},,{\"b\":2},]"),
            [
                "{\"a\":1}",
                "malformed empty JSON array element (stray comma): ,",
                "{\"b\":2}",
                "malformed empty JSON array element (stray comma): ,",
            ]
        );
        assert_eq!(
            events(b"[{\"a\":1}, {\"b\": [2"),
            [
                "{\"a\":1}",
                "malformed the input ends inside a JSON value (truncated file?): {\"b\": [2",
            ]
        );
        assert_eq!(
            events(b"[{\"a\":1},"),
            [
                "{\"a\":1}",
                "malformed the input ends inside a JSON array (truncated file?): ",
            ]
        );
        assert_eq!(
            events(b"[{\"a\":1}] trailing\n{\"b\":2}"),
            ["{\"a\":1}", "trailing", "{\"b\":2}"]
        );
    }

    #[test]
    fn a_truncated_line_costs_that_line_only() {
        let input = b"{\"a\":1}\n{\"b\":{\"c\":2\n{\"d\":3}\n{\"e\":\"cut\n{\"f\":4}\nnot json\n}\n{\"g\":5}\n";
        assert_eq!(
            collect(input),
            vec![
                (1, "event {\"a\":1}".to_owned()),
                (2, format!("malformed {CUT_OFF}: {{\"b\":{{\"c\":2")),
                (3, "event {\"d\":3}".to_owned()),
                (4, format!("malformed {BROKEN_STRING}: {{\"e\":\"cut")),
                (5, "event {\"f\":4}".to_owned()),
                (6, "event not json".to_owned()),
                (7, format!("malformed {STRAY_CLOSE}: }}")),
                (8, "event {\"g\":5}".to_owned()),
            ]
        );
        // A line that starts with `{` and ends with `}` is one record, whatever its middle.
        assert_eq!(
            collect_with(b"{\"a\":{\"b\":1}\n{\"c\":2}\n", 1 << 16),
            vec![
                (1, "event {\"a\":{\"b\":1}".to_owned()),
                (2, "event {\"c\":2}".to_owned()),
            ]
        );
        // Cut at the end of the input.
        assert_eq!(
            events(b"{\"a\":1}\n{\"b\":"),
            [
                "{\"a\":1}",
                "malformed the input ends inside a JSON value (truncated file?): {\"b\":",
            ]
        );
    }

    #[test]
    fn over_long_records_are_skipped_without_buffering_them() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"a\":\"");
        input.resize(MAX_RECORD_BYTES + 100, b'x');
        input.extend_from_slice(b"\"}\n{\"b\":1}\n");
        assert_eq!(
            collect(&input),
            vec![
                (
                    1,
                    format!("too long {} {RAW_PREFIX_BYTES}", MAX_RECORD_BYTES + 102)
                ),
                (2, "event {\"b\":1}".to_owned()),
            ]
        );
        let mut array = b"[".to_vec();
        array.extend_from_slice(&input[..input.len() - 9]);
        array.extend_from_slice(b",{\"b\":1}]");
        assert_eq!(
            collect(&array),
            vec![
                (
                    1,
                    format!("too long {} {RAW_PREFIX_BYTES}", MAX_RECORD_BYTES + 102)
                ),
                (1, "event {\"b\":1}".to_owned()),
            ]
        );
    }
}
