//! [`DeadLetterWriter`]: where inputs that could not be delivered go, with the reason.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One dead-lettered input.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// Where it was in the input (line number, or element number of a JSON array),
    /// counting from 1, when the input is a file.
    pub line: Option<u64>,
    /// The event id, when known (e.g. a document a store refused).
    pub id: Option<&'a str>,
    /// Why it was not delivered.
    pub error: &'a str,
    /// The input as received (decoded lossily if it is not valid UTF-8).
    pub raw: &'a [u8],
}

/// The JSON shape of a dead-letter line.
#[derive(Serialize)]
struct Record<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    error: &'a str,
    raw: &'a str,
}

/// Why a dead letter could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// The dead-letter file could not be opened.
    #[error("cannot open dead-letter file {path}: {error}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    /// Writing or syncing failed.
    #[error("cannot write dead letter to {target}: {error}")]
    Write {
        /// The file path, or `stderr`.
        target: String,
        /// The underlying error.
        error: io::Error,
    },
}

enum Target {
    Stderr,
    File(File),
    Writer(Box<dyn Write + Send>),
}

/// Writes dead letters as NDJSON lines `{"line"?, "id"?, "error", "raw"}` to a file or
/// standard error, one `write` and a flush per entry (lines are never interleaved or
/// held back in a buffer).
pub struct DeadLetterWriter {
    target: Target,
    description: String,
    written: u64,
    buf: Vec<u8>,
}

impl DeadLetterWriter {
    /// Dead letters on standard error.
    pub fn stderr() -> DeadLetterWriter {
        DeadLetterWriter::with_target(Target::Stderr, "stderr".to_owned())
    }

    /// Dead letters in a new or emptied file (one run's rejects, e.g. `oktaflow normalize`).
    pub fn create(path: impl AsRef<Path>) -> Result<DeadLetterWriter, DeadLetterError> {
        DeadLetterWriter::open(
            path.as_ref(),
            OpenOptions::new().write(true).create(true).truncate(true),
        )
    }

    /// Dead letters appended to a file that accumulates them across runs (the pipeline).
    pub fn append(path: impl AsRef<Path>) -> Result<DeadLetterWriter, DeadLetterError> {
        DeadLetterWriter::open(path.as_ref(), OpenOptions::new().append(true).create(true))
    }

    /// Dead letters to any writer, described as `description` in error messages.
    pub fn to_writer(
        out: impl Write + Send + 'static,
        description: impl Into<String>,
    ) -> DeadLetterWriter {
        DeadLetterWriter::with_target(Target::Writer(Box::new(out)), description.into())
    }

    fn open(path: &Path, options: &OpenOptions) -> Result<DeadLetterWriter, DeadLetterError> {
        let file = options.open(path).map_err(|error| DeadLetterError::Open {
            path: path.to_owned(),
            error,
        })?;
        Ok(DeadLetterWriter::with_target(
            Target::File(file),
            path.display().to_string(),
        ))
    }

    fn with_target(target: Target, description: String) -> DeadLetterWriter {
        DeadLetterWriter {
            target,
            description,
            written: 0,
            buf: Vec::new(),
        }
    }

    /// Where the dead letters go: the file path, or `stderr`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How many dead letters were written so far.
    pub fn count(&self) -> u64 {
        self.written
    }

    /// Writes one dead letter and flushes it.
    pub fn write(&mut self, letter: &DeadLetter<'_>) -> Result<(), DeadLetterError> {
        let raw = String::from_utf8_lossy(letter.raw);
        let record = Record {
            line: letter.line,
            id: letter.id,
            error: letter.error,
            raw: &raw,
        };
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &record)
            .map_err(|e| self.write_error(io::Error::other(e)))?;
        self.buf.push(b'\n');
        let result = match &mut self.target {
            Target::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(&self.buf).and_then(|()| err.flush())
            }
            Target::File(file) => file.write_all(&self.buf),
            Target::Writer(out) => out.write_all(&self.buf).and_then(|()| out.flush()),
        };
        result.map_err(|e| self.write_error(e))?;
        self.written += 1;
        Ok(())
    }

    /// Makes the dead letters written so far durable (`fsync` for a file; a flush
    /// otherwise). The pipeline calls it before it checkpoints past them.
    pub fn sync(&mut self) -> Result<(), DeadLetterError> {
        let result = match &mut self.target {
            Target::Stderr => io::stderr().flush(),
            Target::File(file) => file.sync_data(),
            Target::Writer(out) => out.flush(),
        };
        result.map_err(|e| self.write_error(e))
    }

    fn write_error(&self, error: io::Error) -> DeadLetterError {
        DeadLetterError::Write {
            target: self.description.clone(),
            error,
        }
    }
}

impl std::fmt::Debug for DeadLetterWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterWriter")
            .field("target", &self.description)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn writes_one_json_line_per_letter_with_optional_fields_omitted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.ndjson");
        let mut dead = DeadLetterWriter::create(&path).unwrap();
        dead.write(&DeadLetter {
            line: Some(7),
            id: None,
            error: "not JSON",
            raw: b"{oops\xff",
        })
        .unwrap();
        dead.write(&DeadLetter {
            line: None,
            id: Some("abc"),
            error: "mapper_parsing_exception",
            raw: br#"{"a":"x"}"#,
        })
        .unwrap();
        dead.sync().unwrap();
        assert_eq!(dead.count(), 2);
        assert_eq!(
            lines(&path),
            vec![
                json!({"line": 7, "error": "not JSON", "raw": "{oops\u{fffd}"}),
                json!({"id": "abc", "error": "mapper_parsing_exception", "raw": "{\"a\":\"x\"}"}),
            ]
        );
    }

    #[test]
    fn create_empties_and_append_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.ndjson");
        let letter = DeadLetter {
            line: Some(1),
            id: None,
            error: "e",
            raw: b"r",
        };
        DeadLetterWriter::create(&path)
            .unwrap()
            .write(&letter)
            .unwrap();
        DeadLetterWriter::append(&path)
            .unwrap()
            .write(&letter)
            .unwrap();
        assert_eq!(lines(&path).len(), 2);
        DeadLetterWriter::create(&path)
            .unwrap()
            .write(&letter)
            .unwrap();
        assert_eq!(lines(&path).len(), 1);
    }

    #[test]
    fn open_failure_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("dead.ndjson");
        let err = DeadLetterWriter::create(&path).unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }
}
