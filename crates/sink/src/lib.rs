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
//!   truncates whatever was written after the last checkpoint.
//! * [`StdoutSink`] cannot take anything back: across a crash it is *at least once*
//!   (consumers deduplicate on `event.id`).
//! * Stores keyed on the event id (Elasticsearch `_id`, ClickHouse
//!   `ReplacingMergeTree`, added later as sibling modules) are idempotent instead.
//!
//! Documents a store refuses for good are returned in [`Ack::rejected`] and end up in
//! the dead-letter file through a [`DeadLetterWriter`], which `oktaflow normalize`
//! uses for events it cannot normalize too.
//!
//! Sinks are chosen on the command line with a spec ([`parse_sink_spec`]):
//! `file:PATH` or `stdout`.

mod dead_letter;
mod document;
mod error;
mod file;
mod sink;
mod spec;
mod stdout;

pub use dead_letter::{DeadLetter, DeadLetterError, DeadLetterWriter};
pub use document::{Ack, Document, Rejected};
pub use error::SinkError;
pub use file::{ExistingFile, FileSink};
pub use sink::Sink;
pub use spec::{parse_sink_spec, SinkSpec, SinkSpecError};
pub use stdout::StdoutSink;
