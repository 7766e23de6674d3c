//! [`FileSink`]: NDJSON into a local file, exactly once through a committed offset.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

use crate::{Ack, Document, Sink, SinkError};

/// What [`FileSink::recover`](Sink::recover) does when there is no checkpoint
/// position yet but the output file already holds data.
///
/// The default is [`Refuse`](ExistingFile::Refuse): data that no checkpoint accounts
/// for most often means the state directory was lost (or another one given) while the
/// file was kept, and a run from the configured start point would then write events
/// the file already holds a second time. Refusing turns that silent duplication into a
/// one-line error the operator can act on; [`Append`](ExistingFile::Append) and
/// [`Truncate`](ExistingFile::Truncate) are the two explicit ways forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExistingFile {
    /// Fail with [`SinkError::UnrecordedData`].
    #[default]
    Refuse,
    /// Keep the existing bytes and append after them (they stay outside oktaflow's
    /// accounting: the operator vouches that they do not overlap the new run).
    Append,
    /// Empty the file and start fresh.
    Truncate,
}

/// Writes documents as NDJSON (one document per line) to a file.
///
/// Each batch is appended and `fsync`ed (`sync_data`) before it is acknowledged; the
/// position is `{"path": "<absolute path>", "offset": <committed bytes>}`. Recovery
/// from a position truncates the file to that offset, removing lines that were
/// written but never checkpointed, so a restart after a crash at any instant writes
/// every event exactly once.
#[derive(Debug)]
pub struct FileSink {
    name: String,
    path: PathBuf,
    existing: ExistingFile,
    /// Open after a successful recovery; `None` before it or after a failed write
    /// that could not be rolled back.
    file: Option<File>,
    /// Bytes of the file that are durable and accounted for.
    committed: u64,
    buf: Vec<u8>,
}

impl FileSink {
    /// A sink writing to `path` (made absolute against the current directory, so the
    /// recorded position names the file unambiguously). Nothing is opened until
    /// [`recover`](Sink::recover).
    pub fn new(path: impl AsRef<Path>, existing: ExistingFile) -> io::Result<FileSink> {
        let path = std::path::absolute(path.as_ref())?;
        Ok(FileSink {
            name: format!("file:{}", path.display()),
            path,
            existing,
            file: None,
            committed: 0,
            buf: Vec::new(),
        })
    }

    /// The absolute path of the output file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the output file that are durable and accounted for.
    pub fn committed_offset(&self) -> u64 {
        self.committed
    }

    fn position(&self) -> Value {
        json!({ "path": self.path.to_string_lossy(), "offset": self.committed })
    }

    fn io(&self, action: &'static str) -> impl FnOnce(io::Error) -> SinkError + '_ {
        move |error| SinkError::Io {
            sink: self.name.clone(),
            action,
            error,
        }
    }

    fn invalid_position(&self, position: &Value, reason: &'static str) -> SinkError {
        SinkError::InvalidPosition {
            sink: self.name.clone(),
            position: position.to_string(),
            reason,
        }
    }

    /// Parses `{"path": .., "offset": ..}` and checks that it names this file.
    fn recorded_offset(&self, position: &Value) -> Result<u64, SinkError> {
        let recorded_path = position
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid_position(position, "no \"path\" string"))?;
        let offset = position
            .get("offset")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.invalid_position(position, "no non-negative \"offset\""))?;
        if recorded_path != self.path.to_string_lossy() {
            return Err(SinkError::PathMismatch {
                recorded: PathBuf::from(recorded_path),
                configured: self.path.clone(),
            });
        }
        Ok(offset)
    }

    /// Opens (creating if needed) the file for appending; returns it, whether it was
    /// created, and its current length.
    async fn open(&self) -> Result<(File, bool, u64), SinkError> {
        let existed = match tokio::fs::metadata(&self.path).await {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(self.io("inspect output file")(e)),
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .await
            .map_err(self.io("open output file"))?;
        let len = file
            .metadata()
            .await
            .map_err(self.io("inspect output file"))?
            .len();
        if !existed {
            self.sync_parent_dir().await?;
        }
        Ok((file, !existed, len))
    }

    /// Makes the creation of the file itself durable.
    async fn sync_parent_dir(&self) -> Result<(), SinkError> {
        #[cfg(unix)]
        if let Some(dir) = self.path.parent() {
            let dir = File::open(dir)
                .await
                .map_err(self.io("open output directory"))?;
            dir.sync_all()
                .await
                .map_err(self.io("sync output directory"))?;
        }
        Ok(())
    }

    async fn truncate(&self, file: &File, len: u64) -> Result<(), SinkError> {
        file.set_len(len)
            .await
            .map_err(self.io("truncate output file"))?;
        file.sync_data().await.map_err(self.io("sync output file"))
    }
}

#[async_trait::async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn recover(&mut self, position: Option<&Value>) -> Result<(), SinkError> {
        self.file = None;
        let recorded = position.map(|p| self.recorded_offset(p)).transpose()?;
        let (file, created, len) = self.open().await?;
        self.committed = match recorded {
            Some(offset) if len < offset => {
                return Err(SinkError::ShortFile {
                    path: self.path.clone(),
                    actual: len,
                    recorded: offset,
                });
            }
            Some(offset) => {
                if len > offset {
                    self.truncate(&file, offset).await?;
                }
                offset
            }
            None if created || len == 0 => 0,
            None => match self.existing {
                ExistingFile::Refuse => {
                    return Err(SinkError::UnrecordedData {
                        path: self.path.clone(),
                        len,
                    });
                }
                ExistingFile::Append => len,
                ExistingFile::Truncate => {
                    self.truncate(&file, 0).await?;
                    0
                }
            },
        };
        self.file = Some(file);
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        let Some(mut file) = self.file.take() else {
            return Err(SinkError::NotRecovered {
                sink: self.name.clone(),
            });
        };
        if batch.is_empty() {
            self.file = Some(file);
            return Ok(Ack::accepted(self.position()));
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for doc in batch {
            buf.extend_from_slice(&doc.json);
            buf.push(b'\n');
        }
        let written = async {
            file.write_all(&buf).await?;
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        let len = buf.len() as u64;
        self.buf = buf;
        match written {
            Ok(()) => {
                self.committed += len;
                self.file = Some(file);
                Ok(Ack::accepted(self.position()))
            }
            Err(error) => {
                // Take back whatever part of the batch reached the file, so a retry
                // starts from the committed offset. If even that fails the file is in
                // an unknown state: stay unrecovered until the next start.
                if self.truncate(&file, self.committed).await.is_ok() {
                    self.file = Some(file);
                }
                Err(self.io("write batch")(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str) -> Document {
        Document {
            id: id.to_owned(),
            json: format!(r#"{{"event":{{"id":"{id}"}}}}"#).into_bytes(),
        }
    }

    fn offset(ack: &Ack) -> u64 {
        ack.position["offset"]
            .as_u64()
            .expect("file sink positions carry an offset")
    }

    #[tokio::test]
    async fn writes_ndjson_and_positions_grow_with_committed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        sink.recover(None).await.unwrap();
        let first = sink.write_batch(&[doc("a"), doc("b")]).await.unwrap();
        let empty = sink.write_batch(&[]).await.unwrap();
        let second = sink.write_batch(&[doc("c")]).await.unwrap();
        assert!(first.rejected.is_empty());
        assert_eq!(offset(&empty), offset(&first));
        assert!(offset(&second) > offset(&first));
        let content = std::fs::read_to_string(&path).unwrap();
        assert_eq!(offset(&second), content.len() as u64);
        assert_eq!(
            content,
            "{\"event\":{\"id\":\"a\"}}\n{\"event\":{\"id\":\"b\"}}\n{\"event\":{\"id\":\"c\"}}\n"
        );
        assert_eq!(first.position["path"], path.to_string_lossy().as_ref());
        assert_eq!(sink.name(), format!("file:{}", path.display()));
    }

    #[tokio::test]
    async fn recover_truncates_what_was_written_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        sink.recover(None).await.unwrap();
        let checkpointed = sink.write_batch(&[doc("a")]).await.unwrap().position;
        // Written and durable, but the process "crashed" before the checkpoint.
        sink.write_batch(&[doc("b"), doc("c")]).await.unwrap();
        drop(sink);

        let mut restarted = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        restarted.recover(Some(&checkpointed)).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"event\":{\"id\":\"a\"}}\n"
        );
        let ack = restarted.write_batch(&[doc("b")]).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"event\":{\"id\":\"a\"}}\n{\"event\":{\"id\":\"b\"}}\n"
        );
        assert_eq!(offset(&ack), 2 * checkpointed["offset"].as_u64().unwrap());
    }

    #[tokio::test]
    async fn recover_refuses_a_file_shorter_than_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        sink.recover(None).await.unwrap();
        let position = sink
            .write_batch(&[doc("a"), doc("b")])
            .await
            .unwrap()
            .position;
        std::fs::write(&path, b"{}\n").unwrap();

        let mut restarted = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        let err = restarted.recover(Some(&position)).await.unwrap_err();
        assert!(
            matches!(err, SinkError::ShortFile { actual: 3, .. }),
            "{err}"
        );
        assert!(!err.is_retryable());
        // Nothing was changed and nothing can be written.
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        assert!(matches!(
            restarted.write_batch(&[doc("c")]).await,
            Err(SinkError::NotRecovered { .. })
        ));
    }

    #[tokio::test]
    async fn recover_refuses_a_position_for_another_file_or_a_malformed_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        let other = json!({"path": dir.path().join("other.ndjson"), "offset": 0});
        assert!(matches!(
            sink.recover(Some(&other)).await,
            Err(SinkError::PathMismatch { .. })
        ));
        let malformed = json!({"path": path, "offset": -1});
        assert!(matches!(
            sink.recover(Some(&malformed)).await,
            Err(SinkError::InvalidPosition { .. })
        ));
        assert!(!path.exists(), "a refused recovery creates nothing");
    }

    #[tokio::test]
    async fn missing_file_with_a_zero_position_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        sink.recover(Some(&json!({"path": path, "offset": 0})))
            .await
            .unwrap();
        sink.write_batch(&[doc("a")]).await.unwrap();
        assert!(path.exists());
    }

    #[tokio::test]
    async fn existing_data_without_a_checkpoint_follows_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let before = b"{\"old\":1}\n";

        std::fs::write(&path, before).unwrap();
        let mut refuse = FileSink::new(&path, ExistingFile::Refuse).unwrap();
        let err = refuse.recover(None).await.unwrap_err();
        assert!(
            matches!(err, SinkError::UnrecordedData { len: 10, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let mut append = FileSink::new(&path, ExistingFile::Append).unwrap();
        append.recover(None).await.unwrap();
        let ack = append.write_batch(&[doc("a")]).await.unwrap();
        assert_eq!(offset(&ack), std::fs::metadata(&path).unwrap().len());
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("{\"old\":1}\n{\"event\""));

        let mut fresh = FileSink::new(&path, ExistingFile::Truncate).unwrap();
        fresh.recover(None).await.unwrap();
        fresh.write_batch(&[doc("b")]).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"event\":{\"id\":\"b\"}}\n"
        );
    }

    #[tokio::test]
    async fn write_before_recover_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink::new(dir.path().join("out.ndjson"), ExistingFile::Refuse).unwrap();
        let err = sink.write_batch(&[doc("a")]).await.unwrap_err();
        assert!(matches!(err, SinkError::NotRecovered { .. }));
    }
}
