//! Splits an input stream into event records: NDJSON lines or the elements of JSON
//! arrays, detected from the first non-whitespace byte, in constant memory.
//!
//! Records are handed out as byte slices of one reused buffer; nothing is parsed
//! here beyond the array structure (strings, escapes and nesting depth), so a broken
//! record reaches the normalizer, which names what is wrong with it.

use std::io::{self, BufRead, Read};

use super::scan::ElementScan;

/// Longest record kept in memory (a real Okta event is a few KB); a longer one is
/// reported as [`Record::TooLong`] and skipped without being buffered.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// How much of an over-long or stray record is kept for the dead letter.
pub const RAW_PREFIX_BYTES: usize = 4096;

/// One record of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A record to normalize (a line without its line ending, or an array element).
    Event(&'a [u8]),
    /// A record longer than [`MAX_RECORD_BYTES`]; `prefix` holds its first bytes.
    TooLong {
        /// The first [`RAW_PREFIX_BYTES`] bytes.
        prefix: &'a [u8],
        /// Its full length.
        len: u64,
    },
    /// Something in the input that cannot be an event (a stray comma, data after an
    /// array, an array cut off by the end of the input).
    Malformed {
        /// The offending bytes (at most [`MAX_RECORD_BYTES`]).
        raw: &'a [u8],
        /// What is wrong.
        reason: &'static str,
    },
}

/// The two input layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One event per line; blank lines are skipped.
    Ndjson,
    /// One or more JSON arrays of events (saved `/api/v1/logs` pages), one after the other.
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Between arrays: expecting `[`, whitespace or the end of the input.
    Outside,
    /// Just after `[`: an element or `]`.
    First,
    /// Just after `,`: an element.
    Next,
    /// The input cannot be read further as arrays.
    Done,
}

/// Reads records from a buffered reader.
pub struct Records<R> {
    reader: R,
    layout: Layout,
    state: ArrayState,
    /// Line number (NDJSON) or element number (arrays) of the last record.
    number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Records<R> {
    /// Detects the layout from the first non-whitespace byte (`[` means arrays) and
    /// prepares to read. A UTF-8 byte order mark is skipped.
    pub fn new(mut reader: R) -> io::Result<Records<R>> {
        let mut skipped_lines = 0;
        let mut at_start = true;
        let first = loop {
            let available = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if at_start && available.starts_with(b"\xEF\xBB\xBF") {
                reader.consume(3);
                at_start = false;
                continue;
            }
            at_start = false;
            match available.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    skipped_lines += count_newlines(&available[..i]);
                    let first = available[i];
                    reader.consume(i);
                    break Some(first);
                }
                None if available.is_empty() => break None,
                None => {
                    let n = available.len();
                    skipped_lines += count_newlines(available);
                    reader.consume(n);
                }
            }
        };
        let layout = if first == Some(b'[') {
            Layout::Array
        } else {
            Layout::Ndjson
        };
        Ok(Records {
            reader,
            layout,
            state: ArrayState::Outside,
            number: if layout == Layout::Ndjson {
                skipped_lines
            } else {
                0
            },
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// The next record with its number (line number for NDJSON, element number
    /// counting from 1 across all arrays otherwise), or `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        match self.layout {
            Layout::Ndjson => self.next_line(),
            Layout::Array => self.next_element(),
        }
    }

    fn next_line(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        loop {
            self.buf.clear();
            let read = (&mut self.reader)
                .take(MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf)?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            let mut len = self.buf.len() as u64;
            if self.buf.last() != Some(&b'\n') && self.buf.len() > MAX_RECORD_BYTES {
                len += self.skip_line()?;
                self.buf.truncate(RAW_PREFIX_BYTES);
                return Ok(Some((
                    self.number,
                    Record::TooLong {
                        prefix: &self.buf,
                        len,
                    },
                )));
            }
            let line = trim_line_ending(&self.buf);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = line.len();
            return Ok(Some((self.number, Record::Event(&self.buf[..line]))));
        }
    }

    /// Discards the rest of an over-long line (including its newline); returns how
    /// many bytes precede the newline.
    fn skip_line(&mut self) -> io::Result<u64> {
        let mut skipped = 0u64;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(skipped);
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.reader.consume(i + 1);
                    return Ok(skipped + i as u64);
                }
                None => {
                    let n = available.len();
                    skipped += n as u64;
                    self.reader.consume(n);
                }
            }
        }
    }

    fn next_element(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        loop {
            match self.state {
                ArrayState::Done => return Ok(None),
                ArrayState::Outside => match self.skip_whitespace()? {
                    None => return Ok(None),
                    Some(b'[') => {
                        self.reader.consume(1);
                        self.state = ArrayState::First;
                    }
                    Some(_) => {
                        self.state = ArrayState::Done;
                        self.buf.clear();
                        (&mut self.reader)
                            .take(RAW_PREFIX_BYTES as u64)
                            .read_to_end(&mut self.buf)?;
                        return Ok(Some((
                            self.number + 1,
                            Record::Malformed {
                                raw: &self.buf,
                                reason: "data after the end of the JSON array",
                            },
                        )));
                    }
                },
                ArrayState::First | ArrayState::Next => {
                    let first = self.state == ArrayState::First;
                    match self.skip_whitespace()? {
                        None => {
                            self.state = ArrayState::Done;
                            return Ok(Some((
                                self.number + 1,
                                Record::Malformed {
                                    raw: b"",
                                    reason: "the input ends inside a JSON array (truncated file?)",
                                },
                            )));
                        }
                        Some(b']') if first => {
                            self.reader.consume(1);
                            self.state = ArrayState::Outside;
                        }
                        Some(_) => return self.scan_element(),
                    }
                }
            }
        }
    }

    /// Reads one array element up to the `,` or `]` that ends it at depth 0.
    fn scan_element(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        self.buf.clear();
        self.number += 1;
        let mut scan = ElementScan::default();
        let mut len = 0u64;
        let terminator = loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break None;
            }
            let (taken, end) = scan.feed(available);
            let room = MAX_RECORD_BYTES.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..taken.min(room)]);
            len += taken as u64;
            match end {
                Some(t) => {
                    self.reader.consume(taken + 1);
                    break Some(t);
                }
                None => self.reader.consume(taken),
            }
        };
        self.state = match terminator {
            Some(b',') => ArrayState::Next,
            Some(_) => ArrayState::Outside,
            None => ArrayState::Done,
        };
        let number = self.number;
        if len > MAX_RECORD_BYTES as u64 {
            self.buf.truncate(RAW_PREFIX_BYTES);
            return Ok(Some((
                number,
                Record::TooLong {
                    prefix: &self.buf,
                    len,
                },
            )));
        }
        let element = self.buf.trim_ascii_end();
        let record = if terminator.is_none() {
            Record::Malformed {
                raw: element,
                reason: "the input ends inside a JSON array (truncated file?)",
            }
        } else if element.is_empty() {
            Record::Malformed {
                raw: element,
                reason: "empty JSON array element (stray comma)",
            }
        } else {
            Record::Event(element)
        };
        Ok(Some((number, record)))
    }

    /// Consumes whitespace; returns the next byte without consuming it.
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
                    self.reader.consume(i);
                    return Ok(Some(next));
                }
                None => {
                    let n = available.len();
                    self.reader.consume(n);
                }
            }
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn trim_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects every record as (number, kind, bytes) reading through a tiny
    /// buffer, so records and whitespace straddle buffer boundaries.
    fn collect(input: &[u8]) -> (Layout, Vec<(u64, String)>) {
        let reader = io::BufReader::with_capacity(3, input);
        let mut records = Records::new(reader).unwrap();
        let layout = records.layout;
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
        (layout, out)
    }

    #[test]
    fn ndjson_lines_are_numbered_and_blank_lines_skipped() {
        let (layout, records) = collect(b"\n  \n{\"a\":1}\r\n\n{\"b\":\"[\"}\n  \t\n{\"c\":3}");
        assert_eq!(layout, Layout::Ndjson);
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
        assert_eq!(collect(b"").1, vec![]);
        assert_eq!(collect(b" \n\n ").1, vec![]);
        assert_eq!(collect(b"[]").1, vec![]);
        assert_eq!(collect(b" [ \n ] ").1, vec![]);
    }

    #[test]
    fn array_elements_are_split_on_top_level_commas_only() {
        let input = br#"
        [ {"a": "x,]\"y", "b": [1, {"c": 2}]} ,
          {"d": "\\"},{"e":{}}
        ]"#;
        let (layout, records) = collect(input);
        assert_eq!(layout, Layout::Array);
        assert_eq!(
            records,
            vec![
                (1, r#"event {"a": "x,]\"y", "b": [1, {"c": 2}]}"#.to_owned()),
                (2, r#"event {"d": "\\"}"#.to_owned()),
                (3, r#"event {"e":{}}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn concatenated_arrays_continue_the_numbering() {
        let (_, records) = collect(b"\xEF\xBB\xBF[{\"a\":1}]\n[{\"b\":2},{\"c\":3}]\n");
        let numbers: Vec<u64> = records.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        assert!(records.iter().all(|(_, r)| r.starts_with("event ")));
    }

    #[test]
    fn broken_arrays_yield_malformed_records_not_errors() {
        let (_, records) = collect(b"[{\"a\":1},,{\"b\":2},]");
        assert_eq!(
            records,
            vec![
                (1, "event {\"a\":1}".to_owned()),
                (
                    2,
                    "malformed empty JSON array element (stray comma): ".to_owned()
                ),
                (3, "event {\"b\":2}".to_owned()),
                (
                    4,
                    "malformed empty JSON array element (stray comma): ".to_owned()
                ),
            ]
        );
        let (_, records) = collect(b"[{\"a\":1}, {\"b\": [2");
        assert_eq!(
            records[1],
            (
                2,
                "malformed the input ends inside a JSON array (truncated file?): {\"b\": [2"
                    .to_owned()
            )
        );
        assert_eq!(records.len(), 2);
        let (_, records) = collect(b"[{\"a\":1}] trailing");
        assert_eq!(
            records[1],
            (
                2,
                "malformed data after the end of the JSON array: trailing".to_owned()
            )
        );
        // A missing comma leaves two values in one element: the normalizer rejects it.
        let (_, records) = collect(b"[{\"a\":1} {\"b\":2}]");
        assert_eq!(records, vec![(1, "event {\"a\":1} {\"b\":2}".to_owned())]);
    }

    #[test]
    fn over_long_records_are_skipped_without_buffering_them() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"a\":\"");
        input.resize(MAX_RECORD_BYTES + 100, b'x');
        input.extend_from_slice(b"\"}\n{\"b\":1}\n");
        let (_, records) = collect(&input);
        assert_eq!(
            records,
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
        let (_, records) = collect(&array);
        assert_eq!(
            records,
            vec![
                (
                    1,
                    format!("too long {} {RAW_PREFIX_BYTES}", MAX_RECORD_BYTES + 102)
                ),
                (2, "event {\"b\":1}".to_owned()),
            ]
        );
    }
}
