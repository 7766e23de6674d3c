//! Normalizing saved events, outside the live pipeline: a stream of JSON values (a file, an
//! export, `jq` output, standard input) to ECS NDJSON, with the same normalizer and the same
//! dead-letter lines as the pipeline. `oktaflow normalize` is this on a file or stdin;
//! `oktaflow detect` runs the detection rules over the same inputs ([`detect_stream`]).

use std::io::{self, BufReader, Read, Write};

use chrono::{DateTime, Utc};
use oktaflow_detect::{Detector, Ecs, EventView};
use oktaflow_normalize::Normalizer;
use oktaflow_plumbing::framing::{Record, Records, MAX_RECORD_BYTES};

use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterWriter};

/// Input read buffer.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// Output is handed to the OS in chunks of about this size.
const WRITE_CHUNK_BYTES: usize = 256 * 1024;

/// What [`normalize_stream`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Records read (events, malformed and over-long records).
    pub records: u64,
    /// Events kept with the read time as `@timestamp` because `published` was missing or
    /// unparsable (tag `okta_published_unparsable`).
    pub published_unparsable: u64,
}

/// Why [`normalize_stream`] stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the input failed.
    #[error("cannot read the input: {0}")]
    Read(io::Error),
    /// Writing the output failed (a closed pipe is not an error: the run ends quietly).
    #[error("cannot write the output: {0}")]
    Write(io::Error),
    /// Writing a dead letter failed.
    #[error(transparent)]
    DeadLetter(DeadLetterError),
}

/// Normalizes every record of `input` (any stream of JSON values: objects, arrays of
/// objects, NDJSON, concatenated or pretty-printed) to one ECS line each on `output`.
/// A record that cannot be normalized goes to `dead_letters` with its reason and line,
/// never dropped. `read_at` is the `@timestamp` of an event whose `published` is
/// unparsable. A closed output pipe (`| head`) ends the run quietly, like other filters.
pub fn normalize_stream(
    normalizer: &mut Normalizer,
    input: impl Read,
    output: impl Write,
    dead_letters: &mut DeadLetterWriter,
    read_at: DateTime<Utc>,
) -> Result<StreamSummary, StreamError> {
    let mut output = Output {
        out: output,
        buf: Vec::with_capacity(WRITE_CHUNK_BYTES + 64 * 1024),
        closed: false,
    };
    let mut summary = StreamSummary::default();
    let mut records = Records::new(BufReader::with_capacity(READ_BUFFER_BYTES, input))
        .map_err(StreamError::Read)?;
    while let Some((number, record)) = records.next_record().map_err(StreamError::Read)? {
        summary.records += 1;
        let rejection = match record {
            Record::Event(bytes) => match std::str::from_utf8(bytes) {
                Err(e) => Some((
                    format!(
                        "not valid UTF-8 (invalid byte at offset {}); raw is decoded lossily",
                        e.valid_up_to()
                    ),
                    bytes,
                )),
                Ok(text) => {
                    match normalizer.normalize_fetched_str_into(text, read_at, &mut output.buf) {
                        Ok(event) => {
                            output.buf.push(b'\n');
                            summary.published_unparsable += u64::from(event.published_fallback);
                            None
                        }
                        Err(e) => Some((e.to_string(), bytes)),
                    }
                }
            },
            Record::TooLong { prefix, len } => Some((too_long_reason(prefix, len), prefix)),
            Record::Malformed { raw, reason } => Some((reason.to_owned(), raw)),
        };
        if let Some((error, raw)) = rejection {
            reject(dead_letters, number, &error, raw)?;
        }
        if output.buf.len() >= WRITE_CHUNK_BYTES {
            output.drain()?;
            if output.closed {
                break;
            }
        }
    }
    output.drain()?;
    output.flush()?;
    Ok(summary)
}

/// What [`detect_stream`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectSummary {
    /// Records read (events, malformed and over-long records).
    pub records: u64,
    /// Events the rules were evaluated on.
    pub events: u64,
    /// Alerts written.
    pub alerts: u64,
}

/// The dead-letter reason of a record longer than [`MAX_RECORD_BYTES`].
fn too_long_reason(prefix: &[u8], len: u64) -> String {
    format!(
        "record of {len} bytes exceeds the {MAX_RECORD_BYTES}-byte limit; raw holds its first {} \
         bytes",
        prefix.len()
    )
}

/// Keeps the rejected record `number` in the dead-letter file with its reason.
fn reject(
    dead_letters: &mut DeadLetterWriter,
    number: u64,
    error: &str,
    raw: &[u8],
) -> Result<(), StreamError> {
    dead_letters
        .write(&DeadLetter {
            line: Some(number),
            error,
            raw: &String::from_utf8_lossy(raw),
            ..DeadLetter::default()
        })
        .map_err(StreamError::DeadLetter)
}

/// Runs `detector` over every record of `input` (the same inputs as [`normalize_stream`]),
/// in input order, and writes each alert as one JSON line on `output`. Each event is
/// normalized first and the rules see both the raw event and its ECS document. A record that
/// cannot be normalized or read by the rules goes to `dead_letters` with its reason and line.
/// A closed output pipe ends the run quietly.
pub fn detect_stream(
    detector: &mut Detector,
    normalizer: &mut Normalizer,
    input: impl Read,
    output: impl Write,
    dead_letters: &mut DeadLetterWriter,
    read_at: DateTime<Utc>,
) -> Result<DetectSummary, StreamError> {
    let mut output = Output {
        out: output,
        buf: Vec::with_capacity(64 * 1024),
        closed: false,
    };
    let mut summary = DetectSummary::default();
    let mut document = Vec::with_capacity(4096);
    let mut alerts = Vec::new();
    let mut records = Records::new(BufReader::with_capacity(READ_BUFFER_BYTES, input))
        .map_err(StreamError::Read)?;
    while let Some((number, record)) = records.next_record().map_err(StreamError::Read)? {
        summary.records += 1;
        let rejection = match record {
            Record::Event(bytes) => {
                document.clear();
                match normalizer.normalize_fetched_into(bytes, read_at, &mut document) {
                    Err(e) => Some((e.to_string(), bytes)),
                    Ok(_) => {
                        match EventView::from_checked_bytes(bytes, Some(Ecs::Bytes(&document))) {
                            Err(e) => Some((format!("the rules cannot read it: {e}"), bytes)),
                            Ok(event) => {
                                summary.events += 1;
                                alerts.clear();
                                detector.observe_into(&event, &mut alerts);
                                for alert in &alerts {
                                    summary.alerts += 1;
                                    output.buf.extend_from_slice(alert.json());
                                    output.buf.push(b'\n');
                                }
                                None
                            }
                        }
                    }
                }
            }
            Record::TooLong { prefix, len } => Some((too_long_reason(prefix, len), prefix)),
            Record::Malformed { raw, reason } => Some((reason.to_owned(), raw)),
        };
        if let Some((error, raw)) = rejection {
            reject(dead_letters, number, &error, raw)?;
        }
        if !output.buf.is_empty() {
            // Alerts are few: each goes out at once (a back-test watched with `| head`).
            output.drain()?;
            if output.closed {
                break;
            }
        }
    }
    output.drain()?;
    output.flush()?;
    Ok(summary)
}

/// The output with its pending bytes. A closed pipe (`oktaflow normalize | head`)
/// ends the run quietly, like other Unix filters.
struct Output<W> {
    out: W,
    buf: Vec<u8>,
    closed: bool,
}

impl<W: Write> Output<W> {
    fn drain(&mut self) -> Result<(), StreamError> {
        if !self.closed {
            let written = self.out.write_all(&self.buf);
            self.check(written)?;
        }
        self.buf.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        if !self.closed {
            let flushed = self.out.flush();
            self.check(flushed)?;
        }
        Ok(())
    }

    fn check(&mut self, result: io::Result<()>) -> Result<(), StreamError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(error) => Err(StreamError::Write(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oktaflow_detect::RulesConfig;
    use oktaflow_normalize::Options;

    fn token_event(uuid: &str, minute: u32) -> String {
        format!(
            r#"{{"uuid":"{uuid}","published":"2024-05-01T10:{minute:02}:00.000Z",
               "eventType":"system.api_token.create","outcome":{{"result":"SUCCESS"}},
               "actor":{{"id":"00u1","type":"User","alternateId":"admin@example.com"}},
               "target":[{{"id":"00T{uuid}","type":"Token","displayName":"token-{uuid}"}}]}}"#
        )
    }

    #[test]
    fn detect_stream_writes_one_alert_line_per_alert_and_dead_letters_the_rest() {
        let input = format!(
            "{}\n[1, 2]\n{}\n{{\"uuid\":\"x\",\"eventType\":\"user.session.start\",\"published\":\"not a time\"}}\n",
            token_event("t1", 0),
            token_event("t2", 1)
        );
        let mut detector = Detector::new(RulesConfig::default()).expect("default rules");
        let mut normalizer = Normalizer::new(Options::default());
        let mut out = Vec::new();
        let mut dead = DeadLetterWriter::to_writer(io::sink(), "test");
        let summary = detect_stream(
            &mut detector,
            &mut normalizer,
            input.as_bytes(),
            &mut out,
            &mut dead,
            Utc::now(),
        )
        .expect("runs");
        let lines: Vec<serde_json::Value> = std::str::from_utf8(&out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON alert per line"))
            .collect();
        let rules: Vec<&str> = lines
            .iter()
            .map(|a| a["rule"]["id"].as_str().expect("rule.id"))
            .collect();
        assert_eq!(rules, vec!["okta.api_key_created", "okta.api_key_created"]);
        assert_eq!(lines[1]["oktaflow"]["alert"]["event_ids"][0], "t2");
        // The array's two numbers are not events; the unparsable `published` is refused by
        // the rules (the normalizer would keep it with the read time).
        assert_eq!(dead.count(), 3);
        assert_eq!(summary.events, 2);
        assert_eq!(summary.alerts, 2);
    }
}
