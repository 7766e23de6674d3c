//! [`ElementScan`]: where an element of a JSON array ends.

/// The bytes that matter inside brackets: quotes and brackets.
const STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'[' as usize] = true;
    table[b'}' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// The lexical state of one array element being scanned, possibly across several chunks of
/// input: whether the scan is inside a string (and just after a backslash) and how deeply
/// brackets are nested. Brackets are counted as one depth: that `{` closes with `}` is the
/// normalizer's to check; here only where the element ends matters.
///
/// Feed it the bytes that follow the element's start (after `[` or `,`); it stops at the
/// `,` or `]` that ends the element at depth 0.
#[derive(Debug, Default, Clone)]
pub struct ElementScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A non-whitespace byte was seen at depth 0.
    started: bool,
    /// A whole value was seen (a bracket closed or a string ended at depth 0, or a scalar
    /// was followed by whitespace).
    complete: bool,
    /// Something other than whitespace followed a complete value.
    trailing: bool,
}

impl ElementScan {
    /// Scans `bytes`; returns how many belong to the element and, when the element ends
    /// inside `bytes`, the terminator (`,` or `]` at depth 0) that follows them.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<u8>) {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    None => return (bytes.len(), None),
                    Some(found) => {
                        i += found;
                        if bytes[i] == b'"' {
                            self.in_string = false;
                            if self.depth == 0 {
                                self.complete = true;
                            }
                        } else {
                            self.escaped = true;
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            if self.depth > 0 {
                // Inside brackets only quotes and brackets matter: skip the rest quickly.
                match bytes[i..].iter().position(|&b| STRUCTURAL[usize::from(b)]) {
                    Some(skip) => i += skip,
                    None => return (bytes.len(), None),
                }
            }
            let b = bytes[i];
            match b {
                b',' | b']' if self.depth == 0 => return (i, Some(b)),
                b' ' | b'\n' | b'\r' | b'\t' => {
                    if self.depth == 0 && self.started {
                        self.complete = true;
                    }
                }
                _ => {
                    if self.depth == 0 {
                        if self.complete {
                            self.trailing = true;
                        }
                        self.started = true;
                    }
                    match b {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' if self.depth > 0 => {
                            self.depth -= 1;
                            if self.depth == 0 {
                                self.complete = true;
                            }
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        (bytes.len(), None)
    }

    /// True when a whole value has been seen (the element could end here).
    pub fn is_complete(&self) -> bool {
        self.complete && self.depth == 0 && !self.in_string
    }

    /// True when the element holds more than one value (`{"a":1} {"b":2}`): something
    /// other than whitespace followed a complete value.
    pub fn has_trailing_data(&self) -> bool {
        self.trailing
    }
}

/// How a JSON object or array being scanned by [`ValueScan`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueEnd {
    /// Its closing bracket was the last byte taken.
    Complete,
    /// The `{` or `[` just after the bytes taken cannot continue the value (it follows
    /// a value, not a `:`, `,` or `[`; or it follows a `:` at the start of a line, where
    /// no JSON printer puts a member's value): the value was cut off and a new one starts
    /// there.
    NewValue,
    /// The byte just after the bytes taken is a line break inside a string, which JSON
    /// does not allow: the value was cut off at the end of its line.
    BrokenString,
}

/// Where a JSON object or array read from a stream ends, possibly across several chunks
/// of input, and whether it was cut off: the lexical state (inside a string, after a
/// backslash), the open brackets, and the last significant byte, so that a bracket that
/// cannot continue the value (`{"a":1` then `{"b":2}`) is seen as the start of the next.
///
/// Only where the value ends is checked, not that it is valid JSON: that is the
/// normalizer's job. Valid JSON is never cut.
#[derive(Debug, Default, Clone)]
pub struct ValueScan {
    /// Open brackets, innermost last.
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// The last byte outside strings that is not whitespace (`"` for a string).
    prev: u8,
    /// The byte before the current position is a line feed.
    line_start: bool,
}

impl ValueScan {
    /// Prepares to scan a new value (whose first byte is `{` or `[`).
    pub fn reset(&mut self) {
        self.stack.clear();
        self.in_string = false;
        self.escaped = false;
        self.prev = 0;
        self.line_start = false;
    }

    /// Scans `bytes`; returns how many belong to the value and, when it ends inside
    /// `bytes`, how.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<ValueEnd>) {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr3(b'"', b'\\', b'\n', &bytes[i..]) {
                    None => return (bytes.len(), None),
                    Some(found) => {
                        i += found;
                        match bytes[i] {
                            b'"' => {
                                self.in_string = false;
                                self.prev = b'"';
                                self.line_start = false;
                            }
                            b'\\' => self.escaped = true,
                            _ => return (i, Some(ValueEnd::BrokenString)),
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            let run = i;
            match bytes[i..].iter().position(|&b| STRUCTURAL[usize::from(b)]) {
                Some(skip) => i += skip,
                None => {
                    self.note(&bytes[run..]);
                    return (bytes.len(), None);
                }
            }
            self.note(&bytes[run..i]);
            let b = bytes[i];
            match b {
                b'"' => {
                    self.in_string = true;
                    self.line_start = false;
                }
                b'{' | b'[' => {
                    let fits = match self.stack.last() {
                        None => true,
                        // `"key":` then a line starting with `{`: a line cut after its colon.
                        Some(b'{') => self.prev == b':' && !self.line_start,
                        Some(_) => matches!(self.prev, b'[' | b','),
                    };
                    if !fits {
                        return (i, Some(ValueEnd::NewValue));
                    }
                    self.stack.push(b);
                    self.prev = b;
                    self.line_start = false;
                }
                _ => {
                    // `}` or `]`.
                    self.stack.pop();
                    self.prev = b;
                    self.line_start = false;
                    if self.stack.is_empty() {
                        return (i + 1, Some(ValueEnd::Complete));
                    }
                }
            }
            i += 1;
        }
        (bytes.len(), None)
    }

    /// Remembers the last significant byte of a run outside strings, and whether the run
    /// ends a line.
    fn note(&mut self, run: &[u8]) {
        if let Some(&last) = run.last() {
            self.line_start = last == b'\n';
        }
        if let Some(&b) = run.iter().rev().find(|b| !b.is_ascii_whitespace()) {
            self.prev = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_top_level_terminators_across_chunks() {
        let mut scan = ElementScan::default();
        assert_eq!(scan.feed(br#"{"a":"x,]\"#), (10, None));
        assert_eq!(scan.feed(br#""}", [1]}, {}"#), (9, Some(b',')));
        assert!(scan.is_complete());
        assert!(!scan.has_trailing_data());
    }

    fn scan_all(chunks: &[&[u8]]) -> (usize, Option<ValueEnd>) {
        let mut scan = ValueScan::default();
        let mut total = 0;
        for chunk in chunks {
            let (taken, end) = scan.feed(chunk);
            total += taken;
            if end.is_some() {
                return (total, end);
            }
        }
        (total, None)
    }

    #[test]
    fn values_end_at_their_closing_bracket_across_chunks() {
        assert_eq!(
            scan_all(&[br#"{"a":"}\"","#, br#""b":[1,{"c":[]}]} {"d":1}"#]),
            (28, Some(ValueEnd::Complete))
        );
        assert_eq!(
            scan_all(&[b"[[], {}, [ {} ]]x"]),
            (16, Some(ValueEnd::Complete))
        );
        assert_eq!(
            scan_all(&[b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n"]).1,
            Some(ValueEnd::Complete)
        );
    }

    #[test]
    fn cut_off_values_are_noticed() {
        // A line cut short, then the next object.
        assert_eq!(
            scan_all(&[b"{\"a\":1\n", b"{\"b\":2}"]),
            (7, Some(ValueEnd::NewValue))
        );
        assert_eq!(
            scan_all(&[b"{\"a\":[1, 2\n{\"b\":2}"]).1,
            Some(ValueEnd::NewValue)
        );
        assert_eq!(scan_all(&[b"{\"a\":1,{"]).1, Some(ValueEnd::NewValue));
        // A line cut after a colon, then the next object at the start of a line.
        assert_eq!(
            scan_all(&[b"{\"a\": \n", b"{\"b\":2}"]),
            (7, Some(ValueEnd::NewValue))
        );
        assert_eq!(scan_all(&[b"{\"a\":\r\n{}"]).1, Some(ValueEnd::NewValue));
        // But a value after a colon on the same line, or indented, is a value.
        assert_eq!(scan_all(&[b"{\"a\":\n  {}}"]).1, Some(ValueEnd::Complete));
        // An array element at the start of a line (Python's indent=0) is an element.
        assert_eq!(
            scan_all(&[b"{\n\"a\": [\n{\n\"b\": 1\n},\n{}\n]\n}"]).1,
            Some(ValueEnd::Complete)
        );
        // A string cut short by the end of its line.
        assert_eq!(
            scan_all(&[b"{\"a\":\"xy\n{}"]),
            (8, Some(ValueEnd::BrokenString))
        );
        // Still open at the end of the input.
        assert_eq!(scan_all(&[b"{\"a\":{\"b\":"]).1, None);
    }

    #[test]
    fn notices_two_values_in_one_element() {
        let mut scan = ElementScan::default();
        assert_eq!(scan.feed(br#"{"a":1} {"b":2}]"#), (15, Some(b']')));
        assert!(scan.has_trailing_data());
        let mut scan = ElementScan::default();
        assert_eq!(scan.feed(b"tru]"), (3, Some(b']')));
        assert!(!scan.has_trailing_data());
    }
}
