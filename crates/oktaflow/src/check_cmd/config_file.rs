//! Every schema error of a config file (unknown keys, wrongly typed values), not just the first.
//!
//! The file is checked against the real schema ([`config::check_file_schema`]); after each
//! error the offending line is blanked out and the check is repeated, so one run of
//! `oktaflow check` lists all of them with their `file:line:column`. It stops at a plain TOML
//! syntax error, at an error on a table header (blanking a header would move its keys into
//! another table and report errors that are not there), or when blanking the line would
//! break the TOML syntax (a multi-line value).

use std::path::Path;

use crate::config::{self, ConfigError};

/// At most this many errors are listed.
pub const MAX_ERRORS: usize = 20;

/// The schema errors of `text` (the contents of `path`), in file order; empty when the file
/// matches the schema.
pub fn schema_errors(path: &Path, text: &str) -> Vec<ConfigError> {
    let mut text = text.to_string();
    let mut errors = Vec::new();
    while errors.len() < MAX_ERRORS {
        let error = match config::check_file_schema(path, &text) {
            Ok(()) => break,
            Err(error) => error,
        };
        let line = match &error {
            ConfigError::Syntax { line, .. } => *line,
            _ => {
                errors.push(error);
                break;
            }
        };
        errors.push(error);
        if !is_valid_toml(&text) {
            break; // a syntax error: nothing after it can be trusted
        }
        match blank_line(&text, line) {
            Some(next) if is_valid_toml(&next) => text = next,
            _ => break,
        }
    }
    errors.sort_by_key(|error| match error {
        ConfigError::Syntax { line, column, .. } => (*line, *column),
        _ => (usize::MAX, usize::MAX),
    });
    errors
}

fn is_valid_toml(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok()
}

/// `text` with the 1-based `line` replaced by spaces; `None` for a table header line or a
/// line that does not exist.
fn blank_line(text: &str, line: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for (index, piece) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            if piece.trim_start().starts_with('[') {
                return None;
            }
            found = true;
            let content = piece.trim_end_matches(['\n', '\r']);
            out.extend(std::iter::repeat_n(' ', content.chars().count()));
            out.push_str(&piece[content.len()..]);
        } else {
            out.push_str(piece);
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        schema_errors(Path::new("o.toml"), text)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_file_has_no_errors() {
        assert!(messages("[source]\ndomain = \"acme.okta.com\"\ninterval = \"60s\"\n").is_empty());
    }

    #[test]
    fn every_unknown_key_and_bad_type_is_listed_with_its_line() {
        let text = "state_dirr = \"/x\"\n[source]\ndomain = \"acme.okta.com\"\nintervall = \"60s\"\npage_size = \"many\"\n\n[source.tls]\nverify = true\n";
        let found = messages(text);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(
            found[0].starts_with("o.toml:1:1: unknown field `state_dirr`"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("o.toml:4:1: unknown field `intervall`"),
            "{found:#?}"
        );
        assert!(found[2].starts_with("o.toml:5:13: "), "{found:#?}");
        assert!(
            found[3].starts_with("o.toml:8:1: unknown field `verify`"),
            "{found:#?}"
        );
    }

    #[test]
    fn stops_at_a_syntax_error_and_at_a_table_header() {
        let found = messages("[source]\ndomain = \n");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with("o.toml:2:"), "{found:#?}");

        // Blanking `[sourcee]` would move `domain` to the top level: no such spurious error.
        let found = messages("[sourcee]\ndomain = \"a\"\n");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("o.toml:1:2: unknown field `sourcee`"),
            "{found:#?}"
        );
    }

    #[test]
    fn blanking_keeps_line_numbers() {
        assert_eq!(
            blank_line("a = 1\nb = 2\nc = 3", 2).as_deref(),
            Some("a = 1\n     \nc = 3")
        );
        assert_eq!(blank_line("a = 1\r\n[t]\n", 2), None);
        assert_eq!(blank_line("a = 1\n", 5), None);
    }
}
