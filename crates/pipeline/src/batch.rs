//! [`Batch`] and [`BatchBuilder`]: pages of raw events → the ordered batch of ECS documents
//! for the sinks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_detect::EventParts;
use oktaflow_fetch::{RawEvent, SourceState};
use oktaflow_normalize::{Normalizer, Schema};
use oktaflow_sink::Document;

/// An event the normalizer refused: it goes to the dead-letter file with the reason.
#[derive(Debug)]
pub struct Refusal {
    /// The raw event.
    pub event: RawEvent,
    /// The normalizer's reason.
    pub reason: String,
}

/// The documents of a batch in a schema other than the source's, for the sinks configured
/// with that `schema` (see [`BatchBuilder::with_schemas`]).
#[derive(Debug)]
pub struct SchemaDocuments {
    /// The schema.
    pub schema: Schema,
    /// Its documents, in page order: one per document of [`Batch::documents`] (same ids),
    /// less the events this schema could not map.
    pub documents: Vec<Document>,
    /// Events the source's schema mapped but this one did not: dead-lettered once each,
    /// naming the schema and its sinks, and left out of those sinks only.
    pub refused: Vec<Refusal>,
}

/// One or more pages, normalized: what the pipeline writes to its sinks and then commits as
/// one checkpoint.
#[derive(Debug)]
pub struct Batch {
    /// The documents in the source's schema, in page order.
    pub documents: Vec<Document>,
    /// The same events in each other schema the sinks need (empty when every sink takes
    /// the source's schema).
    pub others: Vec<SchemaDocuments>,
    /// Events the normalizer refused.
    pub refused: Vec<Refusal>,
    /// Documents whose `published` was missing or unparsable: their `@timestamp` is
    /// [`received_at`](Self::received_at) and they carry the tag
    /// `okta_published_unparsable` (they are not refused).
    pub published_fallbacks: usize,
    /// `event.category` of each document.
    pub categories: Vec<&'static str>,
    /// The latest `published` time among the documents (fetch-time fallbacks left out).
    pub latest_published: Option<DateTime<Utc>>,
    /// The source state to checkpoint once the batch is durable.
    pub state_after: SourceState,
    /// True when the last page of the batch reached "now".
    pub caught_up: bool,
    /// When the pages were taken for normalizing (the dead letters' `received_at`).
    pub received_at: DateTime<Utc>,
    /// Time spent normalizing.
    pub normalize_time: Duration,
    /// What the detect stage made of the batch (`None`: detections are off).
    pub detect: Option<crate::detect::BatchDetections>,
    /// The raw events of the pages (for the dead letters of documents a store refuses).
    events: Vec<RawEvent>,
    /// For each document, the index of its raw event in `events`.
    origin: Vec<usize>,
    /// For each document, what the detect stage reads of its raw event, taken from the
    /// normalizer's parse ([`crate::detect::event_parts`]); empty unless the builder collects
    /// them ([`BatchBuilder::with_detect_parts`]), `None` where they could not be taken.
    parts: Vec<Option<EventParts>>,
}

impl Batch {
    /// The raw event behind the batch's document `id`, if it is in the batch.
    pub fn raw_of(&self, id: &str) -> Option<&RawEvent> {
        self.documents
            .iter()
            .position(|doc| doc.id == id)
            .and_then(|i| self.events.get(self.origin[i]))
    }

    /// The raw event behind the batch's `index`-th document.
    pub fn raw_at(&self, index: usize) -> Option<&RawEvent> {
        self.origin.get(index).and_then(|&i| self.events.get(i))
    }

    /// What the detect stage reads of the batch's `index`-th document's raw event, when the
    /// normalizer's parse gave it ([`BatchBuilder::with_detect_parts`]).
    pub fn parts_at(&self, index: usize) -> Option<&EventParts> {
        self.parts.get(index).and_then(Option::as_ref)
    }

    /// The documents for sinks of `slot`: 0 the source's schema ([`Batch::documents`]),
    /// `k + 1` the schema of [`Batch::others`]`[k]` (none when there is no such slot).
    pub fn documents_for(&self, slot: usize) -> &[Document] {
        match slot {
            0 => &self.documents,
            k => self.others.get(k - 1).map_or(&[], |o| &o.documents),
        }
    }

    /// The alert documents of the batch (none when detections are off).
    pub fn alerts(&self) -> &[Document] {
        self.detect.as_ref().map_or(&[], |d| &d.alerts)
    }
}

/// Below this many events a batch is normalized on one thread (splitting costs more).
const MIN_EVENTS_PER_THREAD: usize = 256;

/// Normalizes pages into [`Batch`]es, on up to `threads` threads at once: the events are cut
/// into contiguous runs, one per thread, each normalized by its own [`Normalizer`] clone (so
/// each keeps its own user-agent cache), and the results are joined in page order.
#[derive(Debug)]
pub struct BatchBuilder {
    normalizers: Vec<Normalizer>,
    /// The schemas written besides the normalizers' own (see [`BatchBuilder::with_schemas`]).
    others: Vec<Schema>,
    /// Whether each document's [`EventParts`] are taken (see
    /// [`BatchBuilder::with_detect_parts`]).
    detect_parts: bool,
}

/// What one thread made of its run of events.
#[derive(Default)]
struct Part {
    documents: Vec<Document>,
    origin: Vec<usize>,
    /// One per document when parts are taken.
    parts: Vec<Option<EventParts>>,
    categories: Vec<&'static str>,
    refused: Vec<Refusal>,
    published_fallbacks: usize,
    latest: Option<DateTime<Utc>>,
    /// Documents and refusals of each other schema.
    others: Vec<(Vec<Document>, Vec<Refusal>)>,
}

impl BatchBuilder {
    /// A builder using `normalizer` on up to `threads` threads (at least one).
    pub fn new(normalizer: Normalizer, threads: usize) -> BatchBuilder {
        BatchBuilder {
            normalizers: vec![normalizer; threads.max(1)],
            others: Vec::new(),
            detect_parts: false,
        }
    }

    /// Whether to take from the normalizer's parse of each event what the detect stage reads
    /// of it ([`Batch::parts_at`]), so that the stage does not read the raw event again.
    /// Only the source's schema alone is read so (with [`BatchBuilder::with_schemas`] the
    /// stage reads the raw events).
    pub fn with_detect_parts(mut self, on: bool) -> BatchBuilder {
        self.detect_parts = on;
        self
    }

    /// Also writes each event in `others` (schemas besides the normalizer's, each once):
    /// the event is parsed once and written once per schema
    /// ([`Normalizer::normalize_each_into`]), the documents in [`Batch::others`]. Without
    /// them a batch costs what it did before there were per-sink schemas.
    pub fn with_schemas(mut self, others: Vec<Schema>) -> BatchBuilder {
        self.others = others;
        self
    }

    /// Joins `profiles` onto the events of the next batches (identity enrichment).
    pub fn set_profiles(&mut self, profiles: Option<std::sync::Arc<oktaflow_normalize::Profiles>>) {
        for normalizer in &mut self.normalizers {
            normalizer.set_profiles(profiles.clone());
        }
    }

    /// Normalizes `events` in order; an event the normalizer refuses becomes a [`Refusal`].
    pub fn build(
        &mut self,
        events: Vec<RawEvent>,
        state_after: SourceState,
        caught_up: bool,
        received_at: DateTime<Utc>,
    ) -> Batch {
        let started = std::time::Instant::now();
        let threads = self
            .normalizers
            .len()
            .min(events.len() / MIN_EVENTS_PER_THREAD)
            .max(1);
        let run = events.len().div_ceil(threads).max(1);
        let parts: Vec<Part> = if threads == 1 {
            vec![normalize_run(
                &mut self.normalizers[0],
                &self.others,
                self.detect_parts,
                &events,
                0,
                received_at,
            )]
        } else {
            let others = &self.others;
            let detect_parts = self.detect_parts;
            std::thread::scope(|scope| {
                let mut normalizers = self.normalizers.iter_mut();
                let mut chunks = events.chunks(run).enumerate();
                let first = chunks.next();
                let first_normalizer = normalizers.next();
                let handles: Vec<_> = chunks
                    .zip(normalizers)
                    .map(|((i, chunk), normalizer)| {
                        scope.spawn(move || {
                            normalize_run(
                                normalizer,
                                others,
                                detect_parts,
                                chunk,
                                i * run,
                                received_at,
                            )
                        })
                    })
                    .collect();
                let mut parts = Vec::with_capacity(threads);
                if let (Some((_, chunk)), Some(normalizer)) = (first, first_normalizer) {
                    parts.push(normalize_run(
                        normalizer,
                        others,
                        detect_parts,
                        chunk,
                        0,
                        received_at,
                    ));
                }
                for handle in handles {
                    // A panic in the normalizer is a bug; re-raise it on this thread.
                    parts.push(
                        handle
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    );
                }
                parts
            })
        };
        let mut batch = Batch {
            documents: Vec::with_capacity(events.len()),
            others: self
                .others
                .iter()
                .map(|&schema| SchemaDocuments {
                    schema,
                    documents: Vec::with_capacity(events.len()),
                    refused: Vec::new(),
                })
                .collect(),
            refused: Vec::new(),
            published_fallbacks: 0,
            categories: Vec::with_capacity(events.len()),
            latest_published: None,
            state_after,
            caught_up,
            received_at,
            normalize_time: Duration::ZERO,
            detect: None,
            events: Vec::new(),
            origin: Vec::with_capacity(events.len()),
            parts: Vec::new(),
        };
        for part in parts {
            batch.documents.extend(part.documents);
            batch.origin.extend(part.origin);
            batch.parts.extend(part.parts);
            batch.categories.extend(part.categories);
            batch.refused.extend(part.refused);
            batch.published_fallbacks += part.published_fallbacks;
            batch.latest_published = batch.latest_published.max(part.latest);
            for (other, (documents, refused)) in batch.others.iter_mut().zip(part.others) {
                other.documents.extend(documents);
                other.refused.extend(refused);
            }
        }
        batch.events = events;
        batch.normalize_time = started.elapsed();
        batch
    }
}

/// Normalizes `events` (which start at index `offset` of the batch, received at
/// `received_at`: the `@timestamp` of an event without a usable `published`) in order; with
/// `detect_parts`, each document's [`EventParts`] are taken from the normalizer's parse.
fn normalize_run(
    normalizer: &mut Normalizer,
    others: &[Schema],
    detect_parts: bool,
    events: &[RawEvent],
    offset: usize,
    received_at: DateTime<Utc>,
) -> Part {
    if !others.is_empty() {
        return normalize_run_each(normalizer, others, events, offset, received_at);
    }
    let mut part = Part {
        documents: Vec::with_capacity(events.len()),
        origin: Vec::with_capacity(events.len()),
        parts: Vec::with_capacity(if detect_parts { events.len() } else { 0 }),
        categories: Vec::with_capacity(events.len()),
        ..Part::default()
    };
    for (index, raw) in events.iter().enumerate() {
        // Documents are a little larger than their events (ECS names, `related.*`).
        let mut json = Vec::with_capacity(raw.len() + raw.len() / 4 + 256);
        let bytes = raw.as_bytes();
        let normalized = if detect_parts {
            normalizer
                .normalize_fetched_into_with(bytes, received_at, &mut json, |event| {
                    crate::detect::event_parts(bytes, event)
                })
                .map(|(summary, parts)| {
                    let parts = crate::detect::with_published(parts.flatten(), &summary);
                    (summary, Some(parts))
                })
        } else {
            normalizer
                .normalize_fetched_into(bytes, received_at, &mut json)
                .map(|summary| (summary, None))
        };
        match normalized {
            Ok((summary, parts)) => {
                if summary.published_fallback {
                    part.published_fallbacks += 1;
                } else {
                    part.latest = part.latest.max(Some(summary.published));
                }
                part.categories.push(summary.category);
                part.origin.push(offset + index);
                if let Some(parts) = parts {
                    part.parts.push(parts);
                }
                part.documents.push(Document {
                    id: summary.id,
                    json,
                });
            }
            Err(error) => part.refused.push(Refusal {
                event: raw.clone(),
                reason: error.to_string(),
            }),
        }
    }
    part
}

/// [`normalize_run`] into the normalizer's schema and each of `others`: one parse per event,
/// one document per schema. An event the source's schema cannot map is refused as always
/// (no schema gets it); one that only another schema cannot map is refused there alone.
fn normalize_run_each(
    normalizer: &mut Normalizer,
    others: &[Schema],
    events: &[RawEvent],
    offset: usize,
    received_at: DateTime<Utc>,
) -> Part {
    let mut part = Part {
        documents: Vec::with_capacity(events.len()),
        origin: Vec::with_capacity(events.len()),
        categories: Vec::with_capacity(events.len()),
        others: others
            .iter()
            .map(|_| (Vec::with_capacity(events.len()), Vec::new()))
            .collect(),
        ..Part::default()
    };
    let schemas: Vec<Schema> = std::iter::once(normalizer.schema())
        .chain(others.iter().copied())
        .collect();
    for (index, raw) in events.iter().enumerate() {
        let capacity = raw.len() + raw.len() / 4 + 256;
        let mut buffers: Vec<Vec<u8>> = schemas
            .iter()
            .map(|_| Vec::with_capacity(capacity))
            .collect();
        let mut outputs: Vec<(Schema, &mut Vec<u8>)> =
            schemas.iter().copied().zip(buffers.iter_mut()).collect();
        let results =
            normalizer.normalize_each_into(raw.as_bytes(), Some(received_at), &mut outputs);
        drop(outputs);
        let mut results = match results {
            Ok(results) => results.into_iter(),
            Err(error) => {
                part.refused.push(Refusal {
                    event: raw.clone(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let mut buffers = buffers.into_iter();
        let (Some(first), Some(json)) = (results.next(), buffers.next()) else {
            continue;
        };
        let summary = match first {
            Ok(summary) => summary,
            Err(error) => {
                part.refused.push(Refusal {
                    event: raw.clone(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        if summary.published_fallback {
            part.published_fallbacks += 1;
        } else {
            part.latest = part.latest.max(Some(summary.published));
        }
        for ((documents, refused), (result, json)) in
            part.others.iter_mut().zip(results.zip(buffers))
        {
            match result {
                Ok(other) => documents.push(Document { id: other.id, json }),
                Err(error) => refused.push(Refusal {
                    event: raw.clone(),
                    reason: error.to_string(),
                }),
            }
        }
        part.categories.push(summary.category);
        part.origin.push(offset + index);
        part.documents.push(Document {
            id: summary.id,
            json,
        });
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &'static str) -> Vec<RawEvent> {
        oktaflow_plumbing::split_events(&bytes::Bytes::from_static(text.as_bytes())).unwrap()
    }

    fn state() -> SourceState {
        SourceState::polling("acme.okta.com", "2024-05-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn good_events_become_documents_and_bad_ones_refusals() {
        let mut builder = BatchBuilder::new(Normalizer::default(), 1);
        let events = page(
            r#"[
            {"uuid":"a1","published":"2024-05-01T10:00:00.000Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"}},
            {"eventType":"user.session.start"},
            {"uuid":"c3","published":"2024-05-01T10:00:05.000Z","eventType":"user.session.end"}
        ]"#,
        );
        let batch = builder.build(events, state(), true, Utc::now());
        let ids: Vec<&str> = batch.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a1", "c3"]);
        let doc: serde_json::Value = serde_json::from_slice(&batch.documents[0].json).unwrap();
        assert_eq!(doc["event"]["id"], "a1");
        // Sign-ins and sign-outs are authentication first, then session (issue 11, bug 1).
        assert_eq!(batch.categories, ["authentication", "authentication"]);
        assert_eq!(
            batch.latest_published,
            Some("2024-05-01T10:00:05Z".parse().unwrap())
        );
        assert!(batch
            .raw_of("c3")
            .unwrap()
            .text()
            .contains("user.session.end"));
        assert_eq!(batch.refused.len(), 1);
        assert!(batch.refused[0]
            .event
            .text()
            .contains("{\"eventType\":\"user.session.start\"}"));
        assert!(
            batch.refused[0].reason.contains("uuid"),
            "{}",
            batch.refused[0].reason
        );
        assert_eq!(batch.published_fallbacks, 0);
        assert!(batch.caught_up);
        assert_eq!(batch.state_after, state());
    }

    #[test]
    fn an_unparsable_published_is_kept_at_the_receive_time_and_counted() {
        let mut builder = BatchBuilder::new(Normalizer::default(), 1);
        let events = page(
            r#"[
            {"uuid":"a1","published":"2024-05-01T10:00:00.000Z","eventType":"user.session.start"},
            {"uuid":"i2","published":"Wed May 1 10:00:01 2024","eventType":"system.idp.lifecycle.create"},
            {"uuid":"m3","eventType":"system.idp.lifecycle.update"}
        ]"#,
        );
        let received_at: DateTime<Utc> = "2024-05-01T10:00:09Z".parse().unwrap();
        let batch = builder.build(events, state(), true, received_at);
        let ids: Vec<&str> = batch.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a1", "i2", "m3"]);
        assert!(batch.refused.is_empty());
        assert_eq!(batch.published_fallbacks, 2);
        let doc: serde_json::Value = serde_json::from_slice(&batch.documents[1].json).unwrap();
        assert_eq!(doc["@timestamp"], "2024-05-01T10:00:09.000000Z");
        assert_eq!(
            doc["tags"],
            serde_json::json!(["okta_published_unparsable"])
        );
        // The receive time does not pass for a published time.
        assert_eq!(
            batch.latest_published,
            Some("2024-05-01T10:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn several_threads_keep_page_order_and_every_refusal() {
        let mut text = String::from("[");
        for i in 0..2000 {
            if i > 0 {
                text.push(',');
            }
            if i % 97 == 0 {
                text.push_str(&format!(r#"{{"uuid":"bad{i}"}}"#));
            } else {
                text.push_str(&format!(
                    r#"{{"uuid":"e{i}","published":"2024-05-01T10:{:02}:{:02}.000Z","eventType":"user.session.start"}}"#,
                    (i / 60) % 60,
                    i % 60
                ));
            }
        }
        text.push(']');
        let events =
            oktaflow_plumbing::split_events(&bytes::Bytes::from(text.into_bytes())).unwrap();
        let one = BatchBuilder::new(Normalizer::default(), 1).build(
            events.clone(),
            state(),
            false,
            Utc::now(),
        );
        let four =
            BatchBuilder::new(Normalizer::default(), 4).build(events, state(), false, Utc::now());
        assert_eq!(four.documents, one.documents);
        assert_eq!(four.origin, one.origin);
        assert_eq!(four.categories, one.categories);
        assert_eq!(four.latest_published, one.latest_published);
        let refused = |b: &Batch| -> Vec<String> {
            b.refused
                .iter()
                .map(|r| r.event.text().into_owned())
                .collect()
        };
        assert_eq!(refused(&four), refused(&one));
        assert_eq!(four.refused.len(), 21);
        assert_eq!(four.documents.len(), 2000 - 21);
        assert!(four.raw_of("e1999").unwrap().text().contains("e1999"));
    }

    #[test]
    fn other_schemas_get_the_same_events_with_the_profiles_and_refusals_stay_single() {
        let mut text = String::from("[");
        for i in 0..600 {
            if i > 0 {
                text.push(',');
            }
            if i % 100 == 7 {
                text.push_str(&format!(r#"{{"uuid":"bad{i}"}}"#));
            } else {
                text.push_str(&format!(
                    r#"{{"uuid":"e{i}","published":"2024-05-01T10:00:{:02}.000Z","eventType":"user.session.start","actor":{{"id":"00u1","type":"User","alternateId":"jane@example.com"}}}}"#,
                    i % 60
                ));
            }
        }
        text.push(']');
        let events =
            oktaflow_plumbing::split_events(&bytes::Bytes::from(text.into_bytes())).unwrap();
        let mut profiles = oktaflow_normalize::Profiles::new(true, false);
        profiles.insert_user(oktaflow_normalize::UserProfile {
            id: "00u1".into(),
            department: Some("Finance".into()),
            ..oktaflow_normalize::UserProfile::default()
        });
        let profiles = Some(std::sync::Arc::new(profiles));
        let received_at = Utc::now();
        let mut builder = BatchBuilder::new(Normalizer::default(), 2)
            .with_schemas(vec![Schema::Ocsf, Schema::Elastic]);
        builder.set_profiles(profiles.clone());
        let batch = builder.build(events.clone(), state(), false, received_at);
        assert_eq!(batch.refused.len(), 6, "refused once, not once per schema");
        assert_eq!(batch.documents.len(), 594);
        for (slot, schema) in [(0, Schema::Ecs), (1, Schema::Ocsf), (2, Schema::Elastic)] {
            let mut alone = BatchBuilder::new(
                Normalizer::new(oktaflow_normalize::Options {
                    schema,
                    ..oktaflow_normalize::Options::default()
                }),
                1,
            );
            alone.set_profiles(profiles.clone());
            let expected = alone.build(events.clone(), state(), false, received_at);
            assert_eq!(
                batch.documents_for(slot),
                &expected.documents[..],
                "{schema}"
            );
            let text = String::from_utf8_lossy(&batch.documents_for(slot)[0].json).into_owned();
            assert!(text.contains("Finance"), "{schema}: {text}");
        }
        assert!(batch.others.iter().all(|o| o.refused.is_empty()));
        assert!(batch.documents_for(3).is_empty());
    }
}
