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
//! Sinks are configured with one type, [`SinkSpec`]: a spec on the command line
//! ([`parse_sink_spec`]: `file:PATH`, `stdout`, or `KIND:URL?option=value&...` for network
//! sinks) or a `[[sinks]]` table of the configuration file, with the same keys. Every
//! network sink shares the source's vocabulary: a `tls` table (`ca_file`, `cert_file`,
//! `key_file`, `verify_certificate`: `oktaflow_plumbing::TlsConfig`), a `batch` table
//! ([`BatchOptions`]) and a `request` table ([`RequestOptions`], `timeout = "30s"`); in a
//! spec they are dotted options (`?tls.ca_file=/ca.pem&request.timeout=30s`). Secrets
//! (passwords, API keys, tokens) are read from environment variables or files
//! (`oktaflow_plumbing::SecretRef`) and held in a redacting `oktaflow_plumbing::Secret`;
//! sizes and durations use `oktaflow_plumbing::units`.

#![forbid(unsafe_code)]

pub mod clickhouse;
mod config;
mod document;
pub mod elasticsearch;
mod error;
mod file;
pub mod http;
mod query;
mod sink;
mod spec;
mod stdout;
mod transport;

pub use clickhouse::{ClickHouseConfig, ClickHouseSink};
pub use config::{
    BatchLimits, BatchOptions, RequestDefaults, RequestOptions, SinkConfigError, SinkDefaults,
};
pub use document::{Ack, Document, Rejected};
pub use elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
pub use error::{io_kind, io_may_pass, SinkError};
pub use file::{rotated_path, ExistingFile, FileConfig, FileSink, Rotation};
pub use http::{HttpConfig, HttpSink};
pub use sink::Sink;
pub use spec::{parse_sink_spec, SinkSpec, SinkSpecError};
pub use stdout::StdoutSink;
