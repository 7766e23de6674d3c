//! # oktaflow-sink: where normalized events are delivered
//!
//! A [`Sink`] receives ordered batches of already-serialized ECS documents
//! ([`Document`]: the Okta event `uuid` plus compact JSON) and acknowledges a batch
//! only once it is durable in its store. The acknowledgement ([`Ack`]) carries the
//! sink's *position*: an opaque JSON value that the pipeline records in its
//! checkpoint next to the Okta cursor. On the next start the pipeline hands that
//! position back through [`Sink::recover`], and the sink makes its store consistent
//! with it. That handshake is what makes delivery exactly once:
//!
//! * [`FileSink`] (NDJSON file) records its committed byte offset and, on recovery,
//!   truncates whatever was written after the last checkpoint. It can rotate its file by
//!   size and by time ([`Rotation`]; rotated files are named by [`rotated_path`]) without
//!   giving that up: the position names the active segment too.
//! * [`StdoutSink`] cannot take anything back: across a crash it is *at least once*
//!   (consumers deduplicate on `event.id`).
//! * [`ElasticsearchSink`] (Elasticsearch / OpenSearch `_bulk`) writes every document
//!   with `op_type: create` and `_id` = event id: a resent document is a 409 that
//!   counts as success, so the store holds each event once and the position is `null`.
//! * [`ClickHouseSink`] inserts into a `ReplacingMergeTree` keyed on the event id
//!   (with `insert_deduplication_token` on servers that support it); queries with
//!   `FINAL` never see a duplicate.
//! * [`HttpSink`] POSTs NDJSON to any endpoint or events to a Splunk HTTP Event
//!   Collector; like stdout it is *at least once* (the protocols cannot deduplicate).
//!
//! Documents a store refuses for good are returned in [`Ack::rejected`]; the pipeline
//! (`oktaflow-pipeline`) writes them to its dead-letter file. A sink states the batch it
//! writes best ([`Sink::preferred_batch`], a [`BatchLimits`]: ClickHouse large inserts,
//! Elasticsearch one round of `_bulk` bodies). Errors ([`SinkError`]) say whether
//! retrying may help ([`SinkError::is_retryable`]): a store that is down or busy is
//! retried by the pipeline with backoff; bad credentials or a missing table are not.
//!
//! Sinks are chosen on the command line with a spec ([`parse_sink_spec`]):
//! `file:PATH`, `stdout`, or `KIND:URL?option=value&...` for network sinks, or with
//! `[[sinks]]` tables in the configuration file ([`SinkConfig`]). Secrets (passwords,
//! API keys, tokens) are read from environment variables or files ([`SecretRef`])
//! and held in a redacting [`Secret`]. Sizes and durations in options are read by
//! [`parse_size`] and [`parse_duration`] (the syntax of every oktaflow duration).

pub mod clickhouse;
mod config;
mod document;
pub mod elasticsearch;
mod error;
mod file;
pub mod http;
mod secret;
mod sink;
mod spec;
mod stdout;
mod transport;
mod units;

pub use clickhouse::{ClickHouseConfig, ClickHouseSink};
pub use config::{BatchLimits, SinkConfigError, TlsOptions};
pub use document::{Ack, Document, Rejected};
pub use elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
pub use error::SinkError;
pub use file::{rotated_path, ExistingFile, FileConfig, FileSink, Rotation};
pub use http::{HttpConfig, HttpSink};
pub use secret::{Secret, SecretRef};
pub use sink::Sink;
pub use spec::{parse_sink_spec, SinkConfig, SinkSpec, SinkSpecError};
pub use stdout::StdoutSink;
pub use units::{parse_duration, parse_size};
