//! JSON framing: where one event ends and the next begins, without parsing the events.
//!
//! * [`split_events`] cuts a whole `/api/v1/logs` page body (a JSON array) into
//!   [`RawEvent`]s, zero-copy slices of the body; a body that is not an array or is cut off
//!   is an error ([`SplitError`]), and the page is fetched again.
//! * [`Records`] reads a stream (a file or standard input) in constant memory: any stream
//!   of JSON values (NDJSON, concatenated or pretty-printed objects, `jq` output, the
//!   elements of JSON arrays); a broken part of the input is a [`Record::Malformed`] for
//!   the dead letters, never an error that stops the stream, and reading resumes at the
//!   next value.
//!
//! [`ElementScan`] finds where an array element ends (strings, escapes and nesting depth);
//! [`ValueScan`] where an object or array ends, and whether it was cut off.

mod events;
mod records;
mod scan;

pub use events::{split_events, RawEvent, SplitError};
pub use records::{Record, Records, MAX_RECORD_BYTES, RAW_PREFIX_BYTES};
pub use scan::{ElementScan, ValueEnd, ValueScan};
