//! Settings shared by the network sinks: [`SinkConfigError`], TLS and batching.

use std::time::Duration;

use oktaflow_plumbing::units::de;
use oktaflow_plumbing::{HttpConfigError, SecretError};
use serde::Deserialize;

/// A sink configuration that cannot be used. Messages name the setting and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkConfigError {
    /// A setting has a value that cannot work.
    #[error("{key}: {reason}")]
    Invalid {
        /// The setting, e.g. `url` or `max_docs`.
        key: &'static str,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// A secret could not be read from its environment variable or file.
    #[error("{key}: {reason}")]
    Secret {
        /// The secret's setting, e.g. `password`.
        key: &'static str,
        /// Why it could not be read (never the value).
        reason: String,
    },
    /// A TLS file could not be read or used, or the HTTP client could not be built.
    #[error("{key}: {reason}")]
    Tls {
        /// The setting, e.g. `tls.ca_file`.
        key: &'static str,
        /// Why it could not be used.
        reason: String,
    },
    /// Options given in a sink spec's URL query cannot be parsed.
    #[error("options of sink spec \"{spec}\": {reason}")]
    Query {
        /// The spec, without its query.
        spec: String,
        /// The parser's message (names the option).
        reason: String,
    },
}

impl SinkConfigError {
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> SinkConfigError {
        SinkConfigError::Invalid {
            key,
            reason: reason.into(),
        }
    }
}

impl From<SecretError> for SinkConfigError {
    fn from(error: SecretError) -> SinkConfigError {
        SinkConfigError::Secret {
            key: error.key,
            reason: error.reason,
        }
    }
}

impl From<HttpConfigError> for SinkConfigError {
    fn from(error: HttpConfigError) -> SinkConfigError {
        SinkConfigError::Tls {
            key: error.key,
            reason: error.reason,
        }
    }
}

impl From<SinkConfigError> for std::io::Error {
    /// For [`SinkSpec::build`](crate::SinkSpec::build), which reports `io::Error`s:
    /// kind `InvalidInput`, the message is the configuration error's.
    fn from(error: SinkConfigError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

/// `[sinks.batch]` (spec options `batch.max_docs`, `batch.max_bytes`): how a batch is cut
/// into requests. A key left out takes the sink's default ([`BatchLimits`]).
///
/// ```toml
/// [sinks.batch]
/// max_docs = 1000
/// max_bytes = "5MB"      # or a number of bytes
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchOptions {
    /// At most this many documents per request.
    pub max_docs: Option<usize>,
    /// At most about this many bytes of (uncompressed) body per request.
    #[serde(deserialize_with = "de::option_size")]
    pub max_bytes: Option<u64>,
}

impl BatchOptions {
    /// These options over the sink's `defaults`.
    pub fn limits(&self, defaults: BatchLimits) -> BatchLimits {
        BatchLimits {
            max_docs: self.max_docs.unwrap_or(defaults.max_docs),
            max_bytes: self.max_bytes.map_or(defaults.max_bytes, |b| {
                usize::try_from(b).unwrap_or(usize::MAX)
            }),
        }
    }
}

/// `[sinks.request]` (spec options `request.timeout`, `request.compression`): how each
/// request is sent. A key left out takes the sink's default ([`RequestDefaults`]).
///
/// ```toml
/// [sinks.request]
/// timeout = "60s"
/// compression = true     # compress request bodies (gzip; ClickHouse: LZ4 blocks)
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestOptions {
    /// Timeout of one request (connect + response + body), e.g. `"30s"`; 1 s at least.
    #[serde(deserialize_with = "de::option_duration")]
    pub timeout: Option<Duration>,
    /// Compress request bodies: gzip (Elasticsearch, HTTP, Splunk), LZ4 blocks in
    /// ClickHouse's own format (ClickHouse).
    pub compression: Option<bool>,
}

/// What a network sink uses where its `batch` and `request` tables leave a key out: the
/// batch it prefers (ClickHouse: large inserts; Elasticsearch: a body size) and how it
/// sends requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkDefaults {
    /// Default `[sinks.batch]`.
    pub batch: BatchLimits,
    /// Default `[sinks.request]`.
    pub request: RequestDefaults,
}

impl SinkDefaults {
    /// `max_docs` documents and `max_bytes` bytes per request, `timeout` per request, gzip
    /// or not.
    pub const fn new(
        max_docs: usize,
        max_bytes: usize,
        timeout: Duration,
        compression: bool,
    ) -> SinkDefaults {
        SinkDefaults {
            batch: BatchLimits {
                max_docs,
                max_bytes,
            },
            request: RequestDefaults {
                timeout,
                compression,
            },
        }
    }
}

/// A sink's defaults for [`RequestOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestDefaults {
    /// Timeout of one request.
    pub timeout: Duration,
    /// Gzip request bodies.
    pub compression: bool,
}

impl RequestOptions {
    /// The timeout (this sink's default when not given); refused below 1 s.
    pub fn timeout(&self, defaults: RequestDefaults) -> Result<Duration, SinkConfigError> {
        let timeout = self.timeout.unwrap_or(defaults.timeout);
        if timeout < Duration::from_secs(1) {
            return Err(SinkConfigError::invalid(
                "request.timeout",
                "must be at least 1s",
            ));
        }
        Ok(timeout)
    }

    /// Whether bodies are gzipped (this sink's default when not given).
    pub fn compression(&self, defaults: RequestDefaults) -> bool {
        self.compression.unwrap_or(defaults.compression)
    }
}

/// A batch size in documents and bytes: how a network sink cuts a batch into requests, and
/// the batch a sink prefers ([`Sink::preferred_batch`](crate::Sink::preferred_batch)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// At most this many documents per request.
    pub max_docs: usize,
    /// At most about this many bytes of (uncompressed) body per request; a single
    /// larger document still goes alone.
    pub max_bytes: usize,
}

impl BatchLimits {
    /// The batch a sink prefers unless it says otherwise ([`Sink::preferred_batch`](crate::Sink::preferred_batch)):
    /// 3,000 documents or 8 MB, small enough that a batch is durable soon after its pages
    /// arrive, large enough that a backfill pays one round of fsyncs for several pages.
    pub const DEFAULT_PREFERRED: BatchLimits = BatchLimits {
        max_docs: 3_000,
        max_bytes: 8_000_000,
    };

    /// Checks that both limits are positive.
    pub(crate) fn validate(&self) -> Result<(), SinkConfigError> {
        if self.max_docs == 0 {
            return Err(SinkConfigError::invalid(
                "batch.max_docs",
                "must be at least 1",
            ));
        }
        if self.max_bytes < 1024 {
            return Err(SinkConfigError::invalid(
                "batch.max_bytes",
                "must be at least 1024",
            ));
        }
        Ok(())
    }

    /// Splits `sizes` (the encoded size of each item, in order) into consecutive
    /// ranges within the limits.
    pub(crate) fn chunks(
        &self,
        sizes: impl IntoIterator<Item = usize>,
    ) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let (mut start, mut docs, mut bytes) = (0, 0, 0);
        let mut end = 0;
        for size in sizes {
            if docs > 0 && (docs == self.max_docs || bytes + size > self.max_bytes) {
                ranges.push(start..end);
                start = end;
                docs = 0;
                bytes = 0;
            }
            docs += 1;
            bytes += size;
            end += 1;
        }
        if docs > 0 {
            ranges.push(start..end);
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes_and_keep_order() {
        let limits = BatchLimits {
            max_docs: 3,
            max_bytes: 2000,
        };
        assert_eq!(limits.chunks([]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(limits.chunks([10; 7]), vec![0..3, 3..6, 6..7]);
        // A document larger than max_bytes travels alone.
        assert_eq!(limits.chunks([900, 900, 5000, 10]), vec![0..2, 2..3, 3..4]);
    }

    #[test]
    fn batch_and_request_tables_fill_in_the_sink_defaults() {
        let defaults = BatchLimits {
            max_docs: 1000,
            max_bytes: 5_000_000,
        };
        let batch: BatchOptions =
            serde_json::from_value(serde_json::json!({"max_bytes": "1MiB"})).unwrap();
        assert_eq!(
            batch.limits(defaults),
            BatchLimits {
                max_docs: 1000,
                max_bytes: 1 << 20
            }
        );
        let request: RequestOptions =
            serde_json::from_value(serde_json::json!({"timeout": "2m"})).unwrap();
        let defaults = RequestDefaults {
            timeout: Duration::from_secs(60),
            compression: true,
        };
        assert_eq!(request.timeout(defaults), Ok(Duration::from_secs(120)));
        assert!(request.compression(defaults));
        let short = RequestOptions {
            timeout: Some(Duration::from_millis(10)),
            compression: None,
        };
        assert_eq!(
            short.timeout(defaults).unwrap_err().to_string(),
            "request.timeout: must be at least 1s"
        );
        let err = serde_json::from_value::<RequestOptions>(serde_json::json!({"timeout_secs": 5}))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `timeout_secs`"),
            "{err}"
        );
    }
}
