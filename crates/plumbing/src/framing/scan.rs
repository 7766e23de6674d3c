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
