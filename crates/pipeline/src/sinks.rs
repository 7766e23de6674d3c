//! Building the configured sinks before any work starts.
//!
//! [`per_source_spec`] derives one file per source when several sources share a file sink.
//!
//! [`build_sinks`] turns each [`SinkSpec`] into its [`Sink`] (reading secrets and TLS files
//! and building HTTP clients, so a missing secret fails the run before anything is fetched),
//! refuses two sinks with the same name (the name keys the sink's position in the checkpoint),
//! and wraps each sink so that a store that is down at start (a retryable
//! [`SinkError`] from [`Sink::recover`]) is waited for with capped exponential backoff instead
//! of ending the run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oktaflow_plumbing::{Backoff, RetryPolicy};
use oktaflow_sink::{Ack, BatchLimits, Document, ExistingFile, Sink, SinkError, SinkSpec};
use tracing::warn;

/// Backoff between attempts to recover a sink whose store is unreachable or busy at start.
pub const RECOVER_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(500),
    cap: Duration::from_secs(30),
};

/// Why the configured sinks could not be built; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum SinksError {
    /// A sink's configuration cannot be used (missing secret, unreadable TLS file, bad
    /// option) or its file cannot be resolved.
    #[error("sink {sink}: {error}")]
    Build {
        /// The spec, without options (never a secret).
        sink: String,
        /// Why.
        error: std::io::Error,
    },
    /// Two configured sinks have the same name (same file, or same store and index/table).
    #[error("sink {name} is configured twice; list each sink once")]
    Duplicate {
        /// The sink's name.
        name: String,
    },
}

/// Builds every sink of `specs`, in order; `existing` applies to file sinks. Each returned
/// sink retries a retryable [`Sink::recover`] failure with [`RECOVER_RETRY`] (a second
/// SIGINT/SIGTERM during that wait exits at once, like everywhere else).
pub fn build_sinks(
    specs: &[SinkSpec],
    existing: ExistingFile,
) -> Result<Vec<Box<dyn Sink>>, SinksError> {
    let mut names = HashSet::with_capacity(specs.len());
    let mut sinks: Vec<Box<dyn Sink>> = Vec::with_capacity(specs.len());
    for spec in specs {
        let sink = spec.build(existing).map_err(|error| SinksError::Build {
            sink: spec.to_string(),
            error,
        })?;
        if !names.insert(sink.name().to_owned()) {
            return Err(SinksError::Duplicate {
                name: sink.name().to_owned(),
            });
        }
        sinks.push(Box::new(RecoverRetry {
            inner: sink,
            policy: RECOVER_RETRY,
        }));
    }
    Ok(sinks)
}

/// A sink whose [`Sink::recover`] is retried while its error is retryable.
struct RecoverRetry {
    inner: Box<dyn Sink>,
    policy: RetryPolicy,
}

#[async_trait::async_trait]
impl Sink for RecoverRetry {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
        let mut backoff = Backoff::new(self.policy);
        loop {
            match self.inner.recover(position).await {
                Err(error) if error.is_retryable() => {
                    let delay = backoff.next_delay(&mut rand::rng());
                    warn!(
                        sink = self.inner.name(),
                        error = %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "the store is not ready; waiting before starting"
                    );
                    tokio::time::sleep(delay).await;
                }
                result => return result,
            }
        }
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        self.inner.write_batch(batch).await
    }

    /// The wrapped sink's preference (the pipeline sizes its batches from it).
    fn preferred_batch(&self) -> BatchLimits {
        self.inner.preferred_batch()
    }

    fn file(&self) -> Option<&Path> {
        self.inner.file()
    }
}

/// With several sources, each source writes its own file: `PATH` becomes `STEM.SOURCE.EXT`
/// beside it (the file sink's exactly-once offset belongs to one writer), rotated with the
/// same settings. Other sinks are built once per source with the same settings.
pub fn per_source_spec(spec: &SinkSpec, source: &str, several: bool) -> SinkSpec {
    match spec {
        SinkSpec::File(file) if several => SinkSpec::File(oktaflow_sink::FileConfig {
            path: per_source_path(&file.path, source),
            rotation: file.rotation,
        }),
        other => other.clone(),
    }
}

/// `out/okta.ndjson` → `out/okta.SOURCE.ndjson`; `out/events` → `out/events.SOURCE`.
pub fn per_source_path(path: &Path, source: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{source}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{source}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn several_sources_write_one_file_each() {
        assert_eq!(
            per_source_path(Path::new("/var/log/okta.ndjson"), "acme"),
            Path::new("/var/log/okta.acme.ndjson")
        );
        assert_eq!(
            per_source_path(Path::new("events"), "eu"),
            Path::new("events.eu")
        );
        let file = SinkSpec::File("out.ndjson".into());
        assert_eq!(per_source_spec(&file, "a", false), file);
        assert_eq!(
            per_source_spec(&file, "a", true),
            SinkSpec::File("out.a.ndjson".into())
        );
        let rotation = oktaflow_sink::Rotation {
            size: Some(1 << 20),
            ..oktaflow_sink::Rotation::default()
        };
        let rotating = SinkSpec::File(oktaflow_sink::FileConfig {
            path: "out.ndjson".into(),
            rotation,
        });
        assert_eq!(
            per_source_spec(&rotating, "a", true),
            SinkSpec::File(oktaflow_sink::FileConfig {
                path: "out.a.ndjson".into(),
                rotation,
            }),
            "each source's file rotates like the configured one"
        );
    }

    #[test]
    fn builds_each_spec_and_refuses_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.ndjson");
        let file = SinkSpec::File(out.clone().into());
        let es = oktaflow_sink::parse_sink_spec("elasticsearch:http://127.0.0.1:9200").unwrap();
        let sinks =
            build_sinks(&[file.clone(), es, SinkSpec::Stdout], ExistingFile::Refuse).unwrap();
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                format!("file:{}", out.display()).as_str(),
                "elasticsearch:http://127.0.0.1:9200/logs-okta.system-default",
                "stdout"
            ]
        );
        // The same index reached through a URL with a trailing slash is the same sink.
        let a = oktaflow_sink::parse_sink_spec("elasticsearch:http://127.0.0.1:9200").unwrap();
        let b = oktaflow_sink::parse_sink_spec("elasticsearch:http://127.0.0.1:9200/").unwrap();
        let err = build_sinks(&[a, b], ExistingFile::Refuse).err().unwrap();
        assert_eq!(
            err.to_string(),
            "sink elasticsearch:http://127.0.0.1:9200/logs-okta.system-default is configured \
             twice; list each sink once"
        );
        let err = build_sinks(&[file.clone(), file], ExistingFile::Refuse)
            .err()
            .unwrap();
        assert!(matches!(err, SinksError::Duplicate { .. }), "{err}");
    }

    #[test]
    fn a_missing_secret_fails_the_build() {
        let spec = oktaflow_sink::parse_sink_spec(
            "elasticsearch:http://127.0.0.1:9200?api_key_env=OKTAFLOW_SINKS_TEST_UNSET_KEY",
        )
        .unwrap();
        let err = build_sinks(&[spec], ExistingFile::Refuse).err().unwrap();
        assert_eq!(
            err.to_string(),
            "sink elasticsearch:http://127.0.0.1:9200: api_key: environment variable \
             OKTAFLOW_SINKS_TEST_UNSET_KEY is not set (or not UTF-8)"
        );
    }

    #[test]
    fn built_sinks_keep_their_batch_preference() {
        let specs: Vec<SinkSpec> = [
            "clickhouse:http://127.0.0.1:8123",
            "clickhouse:http://127.0.0.1:8123?table=t2&batch.max_docs=50000",
            "elasticsearch:http://127.0.0.1:9200",
        ]
        .iter()
        .map(|s| oktaflow_sink::parse_sink_spec(s).unwrap())
        .collect();
        let sinks = build_sinks(&specs, ExistingFile::Refuse).unwrap();
        for (spec, sink) in specs.iter().zip(&sinks) {
            let own = spec.build(ExistingFile::Refuse).unwrap().preferred_batch();
            // These sinks state their own preference, so the wrapper must not hide it behind
            // the trait's default.
            assert_ne!(own, BatchLimits::DEFAULT_PREFERRED, "{spec}");
            assert_eq!(sink.preferred_batch(), own, "{spec}");
        }
    }

    /// Fails `recover` with a given error a number of times, then succeeds.
    struct Flaky {
        failures: usize,
        retryable: bool,
        calls: Arc<AtomicUsize>,
    }

    #[async_trait::async_trait]
    impl Sink for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }

        async fn recover(&mut self, _: Option<&serde_json::Value>) -> Result<(), SinkError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call >= self.failures {
                return Ok(());
            }
            Err(if self.retryable {
                SinkError::Unreachable {
                    sink: "flaky".into(),
                    detail: "connection refused".into(),
                }
            } else {
                SinkError::Refused {
                    sink: "flaky".into(),
                    status: 404,
                    detail: "no such table".into(),
                }
            })
        }

        async fn write_batch(&mut self, _: &[Document]) -> Result<Ack, SinkError> {
            Ok(Ack {
                position: serde_json::Value::Null,
                rejected: Vec::new(),
            })
        }
    }

    fn wrapped(failures: usize, retryable: bool) -> (RecoverRetry, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let sink = RecoverRetry {
            inner: Box::new(Flaky {
                failures,
                retryable,
                calls: calls.clone(),
            }),
            policy: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(2),
            },
        };
        (sink, calls)
    }

    #[tokio::test]
    async fn recover_waits_for_a_store_that_is_down_and_gives_up_on_a_refusal() {
        let (mut sink, calls) = wrapped(3, true);
        sink.recover(None).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let (mut sink, calls) = wrapped(3, false);
        let err = sink.recover(None).await.unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
