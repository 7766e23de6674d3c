//! [`DeadLetterFile`]: events that could not be delivered, kept exactly once.
//!
//! The file (`<state-dir>/dead-letter.ndjson`) holds one JSON line per event
//! `{"error", "raw", "source", "received_at", "id"?, "sink"?}`. It is written through a
//! [`FileSink`], so it behaves like the output file: letters of a page are appended and
//! fsynced before the page's checkpoint, the committed offset is recorded in that checkpoint,
//! and recovery truncates letters written after it. A crash therefore never leaves a letter
//! twice.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use oktaflow_sink::{Document, ExistingFile, FileSink, Sink, SinkError};
use serde::Serialize;

/// The key of the dead-letter file's position in the checkpoint's `sinks` map (no configured
/// sink can have this name: theirs are `stdout` or `file:PATH`).
pub const DEAD_LETTER_KEY: &str = "dead-letter";

/// The JSON shape of one dead letter.
#[derive(Serialize)]
struct Record<'a> {
    error: &'a str,
    raw: &'a str,
    source: &'a str,
    received_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sink: Option<&'a str>,
}

/// The pipeline's dead-letter file.
#[derive(Debug)]
pub struct DeadLetterFile {
    file: FileSink,
    source: String,
    pending: Vec<Document>,
}

impl DeadLetterFile {
    /// Dead letters of `source` in `path` (opened by [`recover`](Self::recover)). Letters that
    /// are already in the file on a first run (no checkpoint) are kept and appended to.
    pub fn new(path: &Path, source: &str) -> std::io::Result<DeadLetterFile> {
        Ok(DeadLetterFile {
            file: FileSink::new(path, ExistingFile::Append)?,
            source: source.to_string(),
            pending: Vec::new(),
        })
    }

    /// The file's absolute path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Makes the file consistent with the checkpointed position (truncating letters written
    /// after it); `None` on a first run.
    pub async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
        self.pending.clear();
        self.file.recover(position).await
    }

    /// Queues a letter for an event the normalizer refused.
    pub fn reject_event(&mut self, raw: &str, error: &str, received_at: DateTime<Utc>) {
        self.push(raw, error, None, None, received_at);
    }

    /// Queues a letter for a document the store behind `sink` refused for good.
    pub fn reject_document(
        &mut self,
        sink: &str,
        id: &str,
        raw: &str,
        reason: &str,
        received_at: DateTime<Utc>,
    ) {
        let error = format!("{sink} refused the document: {reason}");
        self.push(raw, &error, Some(id), Some(sink), received_at);
    }

    /// Letters queued and not yet committed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn push(
        &mut self,
        raw: &str,
        error: &str,
        id: Option<&str>,
        sink: Option<&str>,
        received_at: DateTime<Utc>,
    ) {
        let received_at = received_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let record = Record {
            error,
            raw,
            source: &self.source,
            received_at: &received_at,
            id,
            sink,
        };
        let json =
            serde_json::to_vec(&record).expect("a record of strings always serializes to JSON");
        self.pending.push(Document {
            id: id.unwrap_or_default().to_string(),
            json,
        });
    }

    /// Appends and fsyncs the queued letters; returns the position to checkpoint. With nothing
    /// queued it only reports the current position.
    pub async fn commit(&mut self) -> Result<serde_json::Value, SinkError> {
        let ack = self.file.write_batch(&self.pending).await?;
        self.pending.clear();
        Ok(ack.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn letters_have_their_fields_and_uncommitted_ones_are_truncated_on_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead-letter.ndjson");
        let at: DateTime<Utc> = "2024-05-01T10:00:00Z".parse().unwrap();

        let mut dead = DeadLetterFile::new(&path, "prod").unwrap();
        dead.recover(None).await.unwrap();
        let empty = dead.commit().await.unwrap();
        assert_eq!(empty["offset"], 0);
        dead.reject_event("{\"uuid\":1}", "missing field published", at);
        assert_eq!(dead.pending(), 1);
        let committed = dead.commit().await.unwrap();
        assert_eq!(dead.pending(), 0);
        // Written and fsynced, but the process dies before the checkpoint records it.
        dead.reject_document("file:/x", "u2", "{\"uuid\":\"u2\"}", "mapping error", at);
        dead.commit().await.unwrap();
        assert_eq!(lines(&path).len(), 2);
        drop(dead);

        let mut again = DeadLetterFile::new(&path, "prod").unwrap();
        again.recover(Some(&committed)).await.unwrap();
        let letters = lines(&path);
        assert_eq!(
            letters,
            vec![serde_json::json!({
                "error": "missing field published",
                "raw": "{\"uuid\":1}",
                "source": "prod",
                "received_at": "2024-05-01T10:00:00.000Z",
            })]
        );
        again.reject_document("file:/x", "u2", "{\"uuid\":\"u2\"}", "mapping error", at);
        again.commit().await.unwrap();
        let letters = lines(&path);
        assert_eq!(letters.len(), 2);
        assert_eq!(letters[1]["id"], "u2");
        assert_eq!(letters[1]["sink"], "file:/x");
        assert_eq!(
            letters[1]["error"],
            "file:/x refused the document: mapping error"
        );
    }
}
