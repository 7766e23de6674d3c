//! Dead letters: inputs that could not be delivered, with the reason. One line format
//! ([`DeadLetter`]) and one writer ([`DeadLetterWriter`]) for the whole program.
//!
//! Each letter is one JSON line:
//!
//! ```text
//! {"error": "...", "raw": "...", "source"?: "...", "received_at"?: "...", "line"?: N, "id"?: "...", "sink"?: "..."}
//! ```
//!
//! * `error`: why it was not delivered; `raw`: the input as received (decoded lossily if it
//!   is not valid UTF-8).
//! * `source`, `received_at` (RFC 3339, milliseconds): the pipeline's source and when the
//!   pages were taken for normalizing.
//! * `line`: where it was in an input file (line, or element of a JSON array, from 1):
//!   `oktaflow normalize`.
//! * `id`, `sink`: the event id and the sink whose store refused the document for good.
//!
//! Optional fields are omitted when they do not apply, so a reader keys on `error` and `raw`.
//!
//! The writer lives here, in the pipeline crate, rather than in `oktaflow-sink`: the
//! pipeline's file is part of its exactly-once checkpoint (its committed offset is a position
//! recorded next to the sinks'), which is pipeline business; `oktaflow normalize` (in the
//! binary, which depends on this crate anyway) writes the same lines to a file or stderr
//! through the same writer, without a checkpoint.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// The key of the dead-letter file's position in the checkpoint's `sinks` map (no configured
/// sink can have this name: theirs are `stdout`, `file:PATH` or `KIND:URL`).
pub const DEAD_LETTER_KEY: &str = "dead-letter";

/// One dead letter: the one line format of every dead-letter output (see the module
/// documentation).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DeadLetter<'a> {
    /// Why it was not delivered.
    pub error: &'a str,
    /// The input as received.
    pub raw: &'a str,
    /// The pipeline's source (`None` outside a pipeline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    /// When the input was received (RFC 3339 with milliseconds when written).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_time"
    )]
    pub received_at: Option<DateTime<Utc>>,
    /// Where it was in an input file (line or array element, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The event id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// The sink whose store refused the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<&'a str>,
}

fn serialize_time<S: serde::Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => serializer.serialize_none(),
    }
}

impl DeadLetter<'_> {
    /// Appends the letter's JSON line (with its `\n`) to `out`.
    pub fn encode_line(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self)
            .expect("a record of strings, numbers and times always serializes to JSON");
        out.push(b'\n');
    }
}

/// Why a dead letter could not be recorded, or the dead-letter file not made consistent with
/// the checkpoint.
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
    /// The checkpointed position does not fit the file (shorter than recorded, another
    /// file, or not a position at all).
    #[error("dead-letter file {path}: {reason}")]
    Position {
        /// The file.
        path: PathBuf,
        /// What does not fit, and the fix.
        reason: String,
    },
}

impl DeadLetterError {
    /// True for a failure while writing (I/O at run time), false for a file that cannot be
    /// opened or does not match the checkpoint (found before any work).
    pub fn is_write(&self) -> bool {
        matches!(self, DeadLetterError::Write { .. })
    }
}

enum Target {
    Stderr,
    Writer(Box<dyn Write + Send>),
    /// A file; `checkpointed` files keep their committed offset (see
    /// [`DeadLetterWriter::checkpointed`]).
    File {
        path: PathBuf,
        file: Option<File>,
        checkpointed: bool,
    },
}

/// Writes dead letters as [`DeadLetter`] lines.
///
/// * To a stream ([`stderr`](Self::stderr), [`create`](Self::create),
///   [`to_writer`](Self::to_writer)): [`write`](Self::write) writes and flushes each letter
///   at once (lines are never interleaved or held back).
/// * To the pipeline's file ([`checkpointed`](Self::checkpointed)), exactly once: letters are
///   [`push`](Self::push)ed while a batch is written, [`commit`](Self::commit) appends and
///   fsyncs them and returns the position for the batch's checkpoint
///   (`{"path": ABSOLUTE_PATH, "offset": COMMITTED_BYTES}`), and [`recover`](Self::recover)
///   truncates letters written after the checkpointed position. A crash therefore never
///   leaves a letter twice. On a first run (no position) letters already in the file are
///   kept and appended to.
///
/// Its methods do blocking file I/O; async callers run [`commit`](Self::commit) and
/// [`recover`](Self::recover) on a blocking thread.
pub struct DeadLetterWriter {
    target: Target,
    description: String,
    /// Bytes of the file that are durable and accounted for (checkpointed files).
    committed: u64,
    pending: Vec<u8>,
    pending_letters: usize,
    written: u64,
    /// Letters were written but their sync failed: the next commit syncs before it reports
    /// a position (a retried commit never reports unsynced bytes as durable).
    unsynced: bool,
}

impl DeadLetterWriter {
    /// Dead letters on standard error.
    pub fn stderr() -> DeadLetterWriter {
        DeadLetterWriter::with_target(Target::Stderr, "stderr".to_owned())
    }

    /// Dead letters in a new or emptied file (one run's rejects, e.g. `oktaflow normalize`).
    pub fn create(path: impl AsRef<Path>) -> Result<DeadLetterWriter, DeadLetterError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|error| DeadLetterError::Open {
                path: path.to_owned(),
                error,
            })?;
        Ok(DeadLetterWriter::with_target(
            Target::File {
                path: path.to_owned(),
                file: Some(file),
                checkpointed: false,
            },
            path.display().to_string(),
        ))
    }

    /// Dead letters to any writer, described as `description` in error messages.
    pub fn to_writer(
        out: impl Write + Send + 'static,
        description: impl Into<String>,
    ) -> DeadLetterWriter {
        DeadLetterWriter::with_target(Target::Writer(Box::new(out)), description.into())
    }

    /// The pipeline's dead-letter file at `path` (made absolute: the position names it), kept
    /// consistent with the checkpoint. Nothing is opened until [`recover`](Self::recover).
    pub fn checkpointed(path: impl AsRef<Path>) -> Result<DeadLetterWriter, DeadLetterError> {
        let path = path.as_ref();
        let path = std::path::absolute(path).map_err(|error| DeadLetterError::Open {
            path: path.to_owned(),
            error,
        })?;
        let description = path.display().to_string();
        Ok(DeadLetterWriter::with_target(
            Target::File {
                path,
                file: None,
                checkpointed: true,
            },
            description,
        ))
    }

    fn with_target(target: Target, description: String) -> DeadLetterWriter {
        DeadLetterWriter {
            target,
            description,
            committed: 0,
            pending: Vec::new(),
            pending_letters: 0,
            unsynced: false,
            written: 0,
        }
    }

    /// Where the dead letters go: the file path, or `stderr`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The file's path (absolute for a checkpointed file); `None` for a stream.
    pub fn path(&self) -> Option<&Path> {
        match &self.target {
            Target::File { path, .. } => Some(path),
            Target::Stderr | Target::Writer(_) => None,
        }
    }

    /// How many dead letters were written so far (committed, for a checkpointed file).
    pub fn count(&self) -> u64 {
        self.written
    }

    /// Letters pushed and not yet committed.
    pub fn pending(&self) -> usize {
        self.pending_letters
    }

    /// Writes one dead letter and flushes it (for a file: written, not fsynced; see
    /// [`sync`](Self::sync)). On a checkpointed file the letter is pushed and written by
    /// the next [`commit`](Self::commit).
    pub fn write(&mut self, letter: &DeadLetter<'_>) -> Result<(), DeadLetterError> {
        self.push(letter);
        if let Target::File {
            checkpointed: true, ..
        } = self.target
        {
            return Ok(());
        }
        self.write_pending()
    }

    /// Queues a letter for the next [`commit`](Self::commit).
    pub fn push(&mut self, letter: &DeadLetter<'_>) {
        letter.encode_line(&mut self.pending);
        self.pending_letters += 1;
    }

    /// Makes the dead letters written so far durable (`fsync` for a file, a flush
    /// otherwise).
    pub fn sync(&mut self) -> Result<(), DeadLetterError> {
        let result = match &mut self.target {
            Target::Stderr => io::stderr().flush(),
            Target::Writer(out) => out.flush(),
            Target::File { file: Some(f), .. } => f.sync_data(),
            Target::File { file: None, .. } => Ok(()),
        };
        result.map_err(|e| self.write_error(e))
    }

    /// Writes and makes durable the letters pushed since the last commit; returns the
    /// position to checkpoint (`null` for a stream). With nothing pushed it only reports
    /// the position (no fsync).
    pub fn commit(&mut self) -> Result<serde_json::Value, DeadLetterError> {
        if self.pending_letters > 0 {
            self.write_pending()?;
            self.unsynced = true;
        }
        if self.unsynced {
            self.sync()?;
            self.unsynced = false;
        }
        Ok(self.position())
    }

    /// Whether [`commit`](Self::commit) has anything to do: letters pushed, or written
    /// letters whose sync failed.
    pub fn needs_commit(&self) -> bool {
        self.pending_letters > 0 || self.unsynced
    }

    /// The position of what is committed: `{"path", "offset"}` for a checkpointed file,
    /// `null` otherwise.
    pub fn position(&self) -> serde_json::Value {
        match &self.target {
            Target::File {
                path,
                checkpointed: true,
                ..
            } => serde_json::json!({ "path": path.to_string_lossy(), "offset": self.committed }),
            _ => serde_json::Value::Null,
        }
    }

    fn write_pending(&mut self) -> Result<(), DeadLetterError> {
        let letters = self.pending_letters;
        let result = match &mut self.target {
            Target::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(&self.pending).and_then(|()| err.flush())
            }
            Target::Writer(out) => out.write_all(&self.pending).and_then(|()| out.flush()),
            Target::File {
                file: Some(file),
                checkpointed,
                ..
            } => {
                let written = file.write_all(&self.pending);
                if written.is_err() && *checkpointed {
                    // Take back what reached the file, so a retry starts from the
                    // committed offset; if even that fails, reopen on the next start.
                    if file.set_len(self.committed).is_err() {
                        if let Target::File { file, .. } = &mut self.target {
                            *file = None;
                        }
                    }
                }
                written
            }
            Target::File { file: None, .. } => Err(io::Error::other(
                "the dead-letter file is not open (not recovered)",
            )),
        };
        result.map_err(|e| self.write_error(e))?;
        self.committed += self.pending.len() as u64;
        self.written += letters as u64;
        self.pending.clear();
        self.pending_letters = 0;
        Ok(())
    }

    /// Makes a checkpointed file consistent with the position recorded in the checkpoint
    /// (truncating letters written after it); `None` on a first run, which keeps the
    /// letters already in the file. Drops letters pushed and not committed. For a stream it
    /// only drops those.
    pub fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), DeadLetterError> {
        self.pending.clear();
        self.pending_letters = 0;
        self.unsynced = false;
        let Target::File {
            path,
            file,
            checkpointed: true,
        } = &mut self.target
        else {
            return Ok(());
        };
        *file = None;
        let fail = |reason: String| DeadLetterError::Position {
            path: path.clone(),
            reason,
        };
        let recorded = match position {
            None => None,
            Some(position) => {
                let recorded_path = position
                    .get("path")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| {
                        fail(format!("invalid position {position}: no \"path\" string"))
                    })?;
                if recorded_path != path.to_string_lossy() {
                    return Err(fail(format!(
                        "the checkpoint records the dead-letter file {recorded_path}; move it back or use the same state directory"
                    )));
                }
                Some(
                    position
                        .get("offset")
                        .and_then(serde_json::Value::as_u64)
                        .ok_or_else(|| {
                            fail(format!(
                                "invalid position {position}: no non-negative \"offset\""
                            ))
                        })?,
                )
            }
        };
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
            .and_then(|f| f.metadata().map(|m| (f, m.len())));
        let (opened, len) = opened.map_err(|error| DeadLetterError::Open {
            path: path.clone(),
            error,
        })?;
        let committed = match recorded {
            None => len,
            Some(offset) if len < offset => {
                return Err(fail(format!(
                    "is {len} bytes but the checkpoint recorded {offset}; it was truncated or replaced outside oktaflow: restore it, or move the checkpoint away to start over"
                )));
            }
            Some(offset) => {
                if len > offset {
                    opened
                        .set_len(offset)
                        .and_then(|()| opened.sync_data())
                        .map_err(|error| DeadLetterError::Write {
                            target: path.display().to_string(),
                            error,
                        })?;
                }
                offset
            }
        };
        *file = Some(opened);
        self.committed = committed;
        Ok(())
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
            .field("pending", &self.pending_letters)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn refused<'a>(raw: &'a str, error: &'a str, at: DateTime<Utc>) -> DeadLetter<'a> {
        DeadLetter {
            error,
            raw,
            source: Some("prod"),
            received_at: Some(at),
            ..DeadLetter::default()
        }
    }

    #[test]
    fn letters_have_their_fields_and_uncommitted_ones_are_truncated_on_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead-letter.ndjson");
        let at: DateTime<Utc> = "2024-05-01T10:00:00Z".parse().unwrap();

        let mut dead = DeadLetterWriter::checkpointed(&path).unwrap();
        dead.recover(None).unwrap();
        let empty = dead.commit().unwrap();
        assert_eq!(empty["offset"], 0);
        dead.push(&refused("{\"uuid\":1}", "missing field published", at));
        assert_eq!(dead.pending(), 1);
        let committed = dead.commit().unwrap();
        assert_eq!(dead.pending(), 0);
        // Written and fsynced, but the process dies before the checkpoint records it.
        let store_refusal = DeadLetter {
            id: Some("u2"),
            sink: Some("file:/x"),
            ..refused(
                "{\"uuid\":\"u2\"}",
                "file:/x refused the document: mapping error",
                at,
            )
        };
        dead.push(&store_refusal);
        dead.commit().unwrap();
        assert_eq!(lines(&path).len(), 2);
        drop(dead);

        let mut again = DeadLetterWriter::checkpointed(&path).unwrap();
        again.recover(Some(&committed)).unwrap();
        assert_eq!(
            lines(&path),
            vec![json!({
                "error": "missing field published",
                "raw": "{\"uuid\":1}",
                "source": "prod",
                "received_at": "2024-05-01T10:00:00.000Z",
            })]
        );
        again.push(&store_refusal);
        again.commit().unwrap();
        let letters = lines(&path);
        assert_eq!(letters.len(), 2);
        assert_eq!(letters[1]["id"], "u2");
        assert_eq!(letters[1]["sink"], "file:/x");
        assert_eq!(
            letters[1]["error"],
            "file:/x refused the document: mapping error"
        );
        assert_eq!(again.count(), 1);
    }

    #[test]
    fn a_first_run_keeps_old_letters_and_a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.ndjson");
        std::fs::write(&path, "{\"error\":\"old\",\"raw\":\"\"}\n").unwrap();
        let mut dead = DeadLetterWriter::checkpointed(&path).unwrap();
        dead.recover(None).unwrap();
        let position = dead.commit().unwrap();
        assert_eq!(position["offset"], 25);
        let too_far = json!({"path": position["path"], "offset": 1000});
        let err = dead.recover(Some(&too_far)).unwrap_err();
        assert!(!err.is_write());
        assert!(err.to_string().contains("recorded 1000"), "{err}");
        let elsewhere = json!({"path": "/elsewhere/dead.ndjson", "offset": 0});
        let err = dead.recover(Some(&elsewhere)).unwrap_err();
        assert!(err.to_string().contains("/elsewhere/dead.ndjson"), "{err}");
    }

    #[test]
    fn writes_one_json_line_per_letter_with_optional_fields_omitted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.ndjson");
        let mut dead = DeadLetterWriter::create(&path).unwrap();
        dead.write(&DeadLetter {
            line: Some(7),
            error: "not JSON",
            raw: &String::from_utf8_lossy(b"{oops\xff"),
            ..DeadLetter::default()
        })
        .unwrap();
        dead.write(&DeadLetter {
            id: Some("abc"),
            error: "mapper_parsing_exception",
            raw: r#"{"a":"x"}"#,
            ..DeadLetter::default()
        })
        .unwrap();
        dead.sync().unwrap();
        assert_eq!(dead.count(), 2);
        assert_eq!(dead.position(), Value::Null);
        assert_eq!(
            lines(&path),
            vec![
                json!({"line": 7, "error": "not JSON", "raw": "{oops\u{fffd}"}),
                json!({"id": "abc", "error": "mapper_parsing_exception", "raw": "{\"a\":\"x\"}"}),
            ]
        );
    }

    #[test]
    fn create_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.ndjson");
        let letter = DeadLetter {
            line: Some(1),
            error: "e",
            raw: "r",
            ..DeadLetter::default()
        };
        let mut first = DeadLetterWriter::create(&path).unwrap();
        first.write(&letter).unwrap();
        first.write(&letter).unwrap();
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
