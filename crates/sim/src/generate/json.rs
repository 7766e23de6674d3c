//! A minimal append-only JSON writer used by the event generator.
//!
//! Every value is followed by a comma; closing an object or array removes the
//! comma that trails its last member. This keeps the generator free of
//! "first member?" bookkeeping and lets it splice pre-rendered fragments.

/// Appends JSON text to a `String`.
pub(crate) struct JsonWriter<'a> {
    out: &'a mut String,
}

impl<'a> JsonWriter<'a> {
    /// A writer appending to `out`.
    pub(crate) fn new(out: &'a mut String) -> Self {
        JsonWriter { out }
    }

    /// `{`
    pub(crate) fn open(&mut self) {
        self.out.push('{');
    }

    /// `}` (and the trailing comma of a member value).
    pub(crate) fn close(&mut self) {
        if self.out.ends_with(',') {
            self.out.pop();
        }
        self.out.push_str("},");
    }

    /// `[`
    pub(crate) fn open_array(&mut self) {
        self.out.push('[');
    }

    /// `]` (and the trailing comma of a member value).
    pub(crate) fn close_array(&mut self) {
        if self.out.ends_with(',') {
            self.out.pop();
        }
        self.out.push_str("],");
    }

    /// `"key":` — keys are compile-time identifiers that never need escaping.
    pub(crate) fn key(&mut self, key: &str) {
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// A string value, escaped.
    pub(crate) fn str(&mut self, value: &str) {
        push_json_string(self.out, value);
        self.out.push(',');
    }

    /// `"key":"value"`.
    pub(crate) fn kv(&mut self, key: &str, value: &str) {
        self.key(key);
        self.str(value);
    }

    /// `"key":"value"` or `"key":null`.
    pub(crate) fn kv_opt(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        match value {
            Some(v) => self.str(v),
            None => self.null(),
        }
    }

    /// `"key":<already valid JSON>`.
    pub(crate) fn kv_raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.raw(json);
    }

    /// An already-valid JSON value.
    pub(crate) fn raw(&mut self, json: &str) {
        self.out.push_str(json);
        self.out.push(',');
    }

    /// `null`
    pub(crate) fn null(&mut self) {
        self.out.push_str("null,");
    }

    /// A boolean value.
    pub(crate) fn bool(&mut self, value: bool) {
        self.out.push_str(if value { "true," } else { "false," });
    }

    /// An integer value.
    pub(crate) fn int(&mut self, value: i64) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{value},");
    }

    /// Removes the comma after the last top-level value.
    pub(crate) fn finish(self) {
        if self.out.ends_with(',') {
            self.out.pop();
        }
    }
}

/// Renders `f` into a standalone JSON fragment (no trailing comma).
pub(crate) fn fragment(f: impl FnOnce(&mut JsonWriter<'_>)) -> String {
    let mut s = String::new();
    let mut w = JsonWriter::new(&mut s);
    f(&mut w);
    w.finish();
    s
}

/// Appends `value` as a quoted, escaped JSON string.
pub(crate) fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            use std::fmt::Write;
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_nested_json_with_escapes() {
        let text = fragment(|w| {
            w.open();
            w.kv("a", "quote \" backslash \\ newline \n ctrl \u{1} ünï");
            w.kv_opt("b", None);
            w.key("c");
            w.open_array();
            w.int(-3);
            w.bool(true);
            w.open();
            w.close();
            w.close_array();
            w.key("d");
            w.open_array();
            w.close_array();
            w.close();
        });
        let v: serde_json::Value = serde_json::from_str(&text).expect("writer emits valid JSON");
        assert_eq!(
            v["a"].as_str(),
            Some("quote \" backslash \\ newline \n ctrl \u{1} ünï")
        );
        assert!(v["b"].is_null());
        assert_eq!(v["c"], serde_json::json!([-3, true, {}]));
        assert_eq!(v["d"], serde_json::json!([]));
    }
}
