//! JSON framing: where one event ends and the next begins, without parsing the events.
//!
//! * [`split_events`] cuts a whole `/api/v1/logs` page body (a JSON array) into
//!   [`RawEvent`]s, zero-copy slices of the body; a body that is not an array or is cut off
//!   is an error ([`SplitError`]), and the page is fetched again.
//! * [`Records`] reads a stream (a file or standard input) in constant memory: NDJSON lines
//!   or the elements of one or more JSON arrays; a broken part of the input is a
//!   [`Record::Malformed`] for the dead letters, never an error that stops the stream.
//!
//! Both find where an array element ends with [`ElementScan`] (strings, escapes and nesting
//! depth), so a page body and a saved page read from a file are split by the same rule.

mod events;
mod records;
mod scan;

pub use events::{split_events, RawEvent, SplitError};
pub use records::{Layout, Record, Records, MAX_RECORD_BYTES, RAW_PREFIX_BYTES};
pub use scan::ElementScan;
