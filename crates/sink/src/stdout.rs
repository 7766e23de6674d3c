//! [`StdoutSink`]: NDJSON to standard output (or any async writer).

use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{Ack, Document, Sink, SinkError};

/// Writes documents as NDJSON to standard output, flushing after every batch.
///
/// A stream cannot take back what it already emitted, so this sink has no position
/// (it records `null`) and [`recover`](Sink::recover) does nothing: across a crash,
/// lines written after the last checkpoint are written again. Delivery through it is
/// therefore *at least once*; a consumer deduplicates on `event.id`.
pub struct StdoutSink {
    name: String,
    out: Box<dyn AsyncWrite + Send + Unpin>,
    buf: Vec<u8>,
}

impl StdoutSink {
    /// A sink writing to the process's standard output, named `stdout`.
    pub fn new() -> StdoutSink {
        StdoutSink::to_writer("stdout", tokio::io::stdout())
    }

    /// The same NDJSON stream written to another writer (a pipe, a socket, a test
    /// buffer), under the given sink name.
    pub fn to_writer(
        name: impl Into<String>,
        out: impl AsyncWrite + Send + Unpin + 'static,
    ) -> StdoutSink {
        StdoutSink {
            name: name.into(),
            out: Box::new(out),
            buf: Vec::new(),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink::new()
    }
}

impl std::fmt::Debug for StdoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn recover(&mut self, _position: Option<&Value>) -> Result<(), SinkError> {
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        self.buf.clear();
        for doc in batch {
            self.buf.extend_from_slice(&doc.json);
            self.buf.push(b'\n');
        }
        let written = async {
            self.out.write_all(&self.buf).await?;
            self.out.flush().await
        }
        .await;
        written.map_err(|error| SinkError::Io {
            sink: self.name.clone(),
            action: "write batch",
            error,
        })?;
        Ok(Ack::accepted(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn writes_one_line_per_document_and_flushes_each_batch() {
        let (writer, mut reader) = tokio::io::duplex(1 << 16);
        let mut sink = StdoutSink::to_writer("test", writer);
        sink.recover(None).await.unwrap();
        let ack = sink
            .write_batch(&[
                Document {
                    id: "1".into(),
                    json: b"{\"a\":1}".to_vec(),
                },
                Document {
                    id: "2".into(),
                    json: b"{\"a\":2}".to_vec(),
                },
            ])
            .await
            .unwrap();
        assert_eq!(ack, Ack::accepted(Value::Null));
        drop(sink);
        let mut out = String::new();
        reader.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "{\"a\":1}\n{\"a\":2}\n");
    }
}
