//! [`BatchBuilder`]: a page of raw events → the ordered batch of ECS documents for the sinks.

use chrono::{DateTime, Utc};
use oktaflow_normalize::Normalizer;
use oktaflow_sink::Document;
use serde_json::value::RawValue;

use super::dead_letter::DeadLetterFile;

/// Normalizes pages into batches, reusing the documents' buffers from one batch to the next
/// (no allocation per event once the pool has grown to the page size).
#[derive(Debug)]
pub struct BatchBuilder {
    normalizer: Normalizer,
    /// Document pool; the first `len` are the current batch.
    docs: Vec<Document>,
    len: usize,
    /// For each document of the batch, the index of its raw event in the page.
    origin: Vec<usize>,
    /// `event.category` of each document of the batch.
    categories: Vec<&'static str>,
    /// Latest `published` in the batch.
    latest: Option<DateTime<Utc>>,
}

impl BatchBuilder {
    /// A builder using `normalizer`.
    pub fn new(normalizer: Normalizer) -> BatchBuilder {
        BatchBuilder {
            normalizer,
            docs: Vec::new(),
            len: 0,
            origin: Vec::new(),
            categories: Vec::new(),
            latest: None,
        }
    }

    /// Normalizes `events` in order into the batch; an event the normalizer refuses is queued
    /// in `dead` with the reason instead. Returns the number of refused events.
    pub fn build(
        &mut self,
        events: &[Box<RawValue>],
        dead: &mut DeadLetterFile,
        received_at: DateTime<Utc>,
    ) -> usize {
        self.len = 0;
        self.origin.clear();
        self.categories.clear();
        self.latest = None;
        let mut refused = 0;
        for (index, raw) in events.iter().enumerate() {
            if self.len == self.docs.len() {
                self.docs.push(Document {
                    id: String::new(),
                    json: Vec::with_capacity(4096),
                });
            }
            let doc = &mut self.docs[self.len];
            doc.json.clear();
            match self
                .normalizer
                .normalize_into(raw.get().as_bytes(), &mut doc.json)
            {
                Ok(summary) => {
                    doc.id = summary.id;
                    self.latest =
                        Some(self.latest.map_or(summary.published, |l: DateTime<Utc>| {
                            l.max(summary.published)
                        }));
                    self.categories.push(summary.category);
                    self.origin.push(index);
                    self.len += 1;
                }
                Err(error) => {
                    refused += 1;
                    dead.reject_event(raw.get(), &error.to_string(), received_at);
                }
            }
        }
        refused
    }

    /// The documents of the current batch, in page order.
    pub fn documents(&self) -> &[Document] {
        &self.docs[..self.len]
    }

    /// The `event.category` of each document of the current batch.
    pub fn categories(&self) -> &[&'static str] {
        &self.categories
    }

    /// The latest `published` time among the batch's documents.
    pub fn latest_published(&self) -> Option<DateTime<Utc>> {
        self.latest
    }

    /// The raw event behind the batch's document `id`, if it is in the batch.
    pub fn raw_of<'p>(&self, id: &str, events: &'p [Box<RawValue>]) -> Option<&'p RawValue> {
        self.documents()
            .iter()
            .position(|doc| doc.id == id)
            .and_then(|i| events.get(self.origin[i]))
            .map(|raw| &**raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Vec<Box<RawValue>> {
        serde_json::from_str(text).unwrap()
    }

    #[tokio::test]
    async fn good_events_become_documents_and_bad_ones_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let mut dead = DeadLetterFile::new(&dir.path().join("dead.ndjson"), "okta").unwrap();
        dead.recover(None).await.unwrap();
        let mut builder = BatchBuilder::new(Normalizer::default());
        let events = page(
            r#"[
            {"uuid":"a1","published":"2024-05-01T10:00:00.000Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"}},
            {"uuid":"b2","eventType":"user.session.start"},
            {"uuid":"c3","published":"2024-05-01T10:00:05.000Z","eventType":"user.session.end"}
        ]"#,
        );
        let at = Utc::now();
        assert_eq!(builder.build(&events, &mut dead, at), 1);
        let ids: Vec<&str> = builder.documents().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a1", "c3"]);
        let doc: serde_json::Value = serde_json::from_slice(&builder.documents()[0].json).unwrap();
        assert_eq!(doc["event"]["id"], "a1");
        assert_eq!(builder.categories(), ["session", "session"]);
        assert_eq!(
            builder.latest_published(),
            Some("2024-05-01T10:00:05Z".parse().unwrap())
        );
        assert!(builder
            .raw_of("c3", &events)
            .unwrap()
            .get()
            .contains("user.session.end"));
        assert!(builder.raw_of("b2", &events).is_none());
        assert_eq!(dead.pending(), 1);

        // The pool is reused: a smaller second batch holds only its own documents.
        let second = page(
            r#"[{"uuid":"d4","published":"2024-05-01T11:00:00.000Z","eventType":"user.session.start"}]"#,
        );
        assert_eq!(builder.build(&second, &mut dead, at), 0);
        assert_eq!(builder.documents().len(), 1);
        assert_eq!(builder.documents()[0].id, "d4");
    }
}
