//! [`Batch`] and [`BatchBuilder`]: pages of raw events → the ordered batch of ECS documents
//! for the sinks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_fetch::{RawEvent, SourceState};
use oktaflow_normalize::Normalizer;
use oktaflow_sink::Document;

/// An event the normalizer refused: it goes to the dead-letter file with the reason.
#[derive(Debug)]
pub struct Refusal {
    /// The raw event.
    pub event: RawEvent,
    /// The normalizer's reason.
    pub reason: String,
}

/// One or more pages, normalized: what the pipeline writes to its sinks and then commits as
/// one checkpoint.
#[derive(Debug)]
pub struct Batch {
    /// The ECS documents, in page order.
    pub documents: Vec<Document>,
    /// Events the normalizer refused.
    pub refused: Vec<Refusal>,
    /// `event.category` of each document.
    pub categories: Vec<&'static str>,
    /// The latest `published` time among the documents.
    pub latest_published: Option<DateTime<Utc>>,
    /// The source state to checkpoint once the batch is durable.
    pub state_after: SourceState,
    /// True when the last page of the batch reached "now".
    pub caught_up: bool,
    /// When the pages were taken for normalizing (the dead letters' `received_at`).
    pub received_at: DateTime<Utc>,
    /// Time spent normalizing.
    pub normalize_time: Duration,
    /// The raw events of the pages (for the dead letters of documents a store refuses).
    events: Vec<RawEvent>,
    /// For each document, the index of its raw event in `events`.
    origin: Vec<usize>,
}

impl Batch {
    /// The raw event behind the batch's document `id`, if it is in the batch.
    pub fn raw_of(&self, id: &str) -> Option<&RawEvent> {
        self.documents
            .iter()
            .position(|doc| doc.id == id)
            .and_then(|i| self.events.get(self.origin[i]))
    }
}

/// Normalizes pages into [`Batch`]es.
#[derive(Debug)]
pub struct BatchBuilder {
    normalizer: Normalizer,
}

impl BatchBuilder {
    /// A builder using `normalizer`.
    pub fn new(normalizer: Normalizer) -> BatchBuilder {
        BatchBuilder { normalizer }
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
        let mut documents = Vec::with_capacity(events.len());
        let mut origin = Vec::with_capacity(events.len());
        let mut categories = Vec::with_capacity(events.len());
        let mut refused = Vec::new();
        let mut latest: Option<DateTime<Utc>> = None;
        for (index, raw) in events.iter().enumerate() {
            // Documents are a little larger than their events (ECS names, `related.*`).
            let mut json = Vec::with_capacity(raw.len() + raw.len() / 4 + 256);
            match self.normalizer.normalize_into(raw.as_bytes(), &mut json) {
                Ok(summary) => {
                    latest = Some(latest.map_or(summary.published, |l| l.max(summary.published)));
                    categories.push(summary.category);
                    origin.push(index);
                    documents.push(Document {
                        id: summary.id,
                        json,
                    });
                }
                Err(error) => refused.push(Refusal {
                    event: raw.clone(),
                    reason: error.to_string(),
                }),
            }
        }
        Batch {
            documents,
            refused,
            categories,
            latest_published: latest,
            state_after,
            caught_up,
            received_at,
            normalize_time: started.elapsed(),
            events,
            origin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &'static str) -> Vec<RawEvent> {
        oktaflow_fetch::split_events(&bytes::Bytes::from_static(text.as_bytes())).unwrap()
    }

    fn state() -> SourceState {
        SourceState::polling("acme.okta.com", "2024-05-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn good_events_become_documents_and_bad_ones_refusals() {
        let mut builder = BatchBuilder::new(Normalizer::default());
        let events = page(
            r#"[
            {"uuid":"a1","published":"2024-05-01T10:00:00.000Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"}},
            {"uuid":"b2","eventType":"user.session.start"},
            {"uuid":"c3","published":"2024-05-01T10:00:05.000Z","eventType":"user.session.end"}
        ]"#,
        );
        let batch = builder.build(events, state(), true, Utc::now());
        let ids: Vec<&str> = batch.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a1", "c3"]);
        let doc: serde_json::Value = serde_json::from_slice(&batch.documents[0].json).unwrap();
        assert_eq!(doc["event"]["id"], "a1");
        assert_eq!(batch.categories, ["session", "session"]);
        assert_eq!(
            batch.latest_published,
            Some("2024-05-01T10:00:05Z".parse().unwrap())
        );
        assert!(batch
            .raw_of("c3")
            .unwrap()
            .text()
            .contains("user.session.end"));
        assert!(batch.raw_of("b2").is_none());
        assert_eq!(batch.refused.len(), 1);
        assert!(batch.refused[0].event.text().contains("\"b2\""));
        assert!(
            batch.refused[0].reason.contains("published"),
            "{}",
            batch.refused[0].reason
        );
        assert!(batch.caught_up);
        assert_eq!(batch.state_after, state());
    }
}
