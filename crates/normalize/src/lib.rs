//! # oktaflow-normalize
//!
//! Maps Okta System Log events (`LogEvent`, as `GET /api/v1/logs` returns them)
//! to [Elastic Common Schema](https://www.elastic.co/guide/en/ecs/current/)
//! documents. The library does no I/O: no files, no network, no clock.
//!
//! * Three input forms are recognised: the raw LogEvent object, a
//!   `{"message": "<LogEvent JSON text>"}` wrapper, and an AWS EventBridge
//!   envelope (`detail-type`/`detail`) as Okta log streaming delivers it.
//! * The layout follows the Sekoia.io Okta parser wherever it has a field and
//!   ECS beyond it; every Okta member ECS has no home for is kept under
//!   `okta.system.*`, unknown members included. The full table is in
//!   `docs/fields.md`.
//! * Every output field has one JSON type in every document (no mapping
//!   conflicts in Elasticsearch): values that parse are coerced, anything else
//!   is kept, with its Okta path, under `okta.system.unmapped`.
//! * Only three things fail an event: input that is not JSON or not an object,
//!   and a missing or unusable `uuid`, `published` or `eventType`. A field of
//!   unexpected type is normalized as far as possible, never an error.
//! * Speed: typed borrowing deserialization, direct streaming output, user
//!   agents parsed once per distinct string (bounded cache per [`Normalizer`]).
//!
//! ```
//! use oktaflow_normalize::{Normalizer, Options};
//!
//! let mut normalizer = Normalizer::new(Options::default());
//! let raw = br#"{"uuid":"0b1c","published":"2024-05-01T10:00:00.123Z",
//!               "eventType":"user.session.start","outcome":{"result":"SUCCESS"}}"#;
//! let mut out = Vec::new();
//! let summary = normalizer.normalize_into(raw, &mut out).expect("a valid LogEvent");
//! assert_eq!(summary.id, "0b1c");
//! assert_eq!(summary.category, "authentication");
//! let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON output");
//! assert_eq!(doc["@timestamp"], "2024-05-01T10:00:00.123000Z");
//! assert_eq!(doc["event"]["outcome"], "success");
//! ```

mod cache;
mod category;
mod domain;
mod ecs;
mod error;
mod geoip;
mod input;
mod json;
mod kv;
mod model;
mod outcome;
mod timestamp;
mod user_agent;
mod writer;

use std::sync::Arc;

pub use error::{GeoIpError, NormalizeError};
pub use geoip::GeoIp;

/// User agent cache size when [`Options::user_agent_cache_capacity`] is 0.
pub const DEFAULT_USER_AGENT_CACHE_CAPACITY: usize = 4096;

/// Options for building a Normalizer.
#[derive(Clone, Default, Debug)]
pub struct Options {
    /// Add `event.original` (the raw LogEvent JSON text).
    pub include_original: bool,
    /// Optional MaxMind enrichment of `source.geo.*` / `source.as.*`.
    pub geoip: Option<GeoIp>,
    /// Public Suffix List override; default = the compiled-in list.
    pub public_suffix_list: Option<Arc<publicsuffix::List>>,
    /// Distinct user agent strings cached per Normalizer; 0 = [`DEFAULT_USER_AGENT_CACHE_CAPACITY`].
    pub user_agent_cache_capacity: usize,
}

/// What the pipeline needs to know about an event without re-parsing the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// Okta uuid (= event.id, the idempotency key of every sink).
    pub id: String,
    /// `published`, which is `@timestamp`.
    pub published: chrono::DateTime<chrono::Utc>,
    /// First event.category value (for summaries/metrics).
    pub category: &'static str,
}

/// Turns LogEvents into ECS documents. `Send + Sync + Clone`: shared data is
/// behind `Arc`, the user agent cache belongs to each clone.
#[derive(Clone, Debug)]
pub struct Normalizer {
    include_original: bool,
    geoip: Option<GeoIp>,
    psl: Arc<publicsuffix::List>,
    user_agents: user_agent::UserAgentParser,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(Options::default())
    }
}

impl Normalizer {
    /// Builds a normalizer from `options`.
    pub fn new(options: Options) -> Normalizer {
        let capacity = match options.user_agent_cache_capacity {
            0 => DEFAULT_USER_AGENT_CACHE_CAPACITY,
            n => n,
        };
        Normalizer {
            include_original: options.include_original,
            geoip: options.geoip,
            psl: options
                .public_suffix_list
                .unwrap_or_else(domain::default_list),
            user_agents: user_agent::UserAgentParser::new(capacity),
        }
    }

    /// Normalize one input (raw LogEvent, {"message": "<LogEvent JSON text>"} wrapper, or EventBridge
    /// envelope) and append its ECS JSON document (compact, no trailing newline) to `out`.
    /// On error `out` is left exactly as it was.
    pub fn normalize_into(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        let top = input::parse_top(input)?;
        let form = input::form(&top)?;
        let start = out.len();
        let result = match input::parse_inner(form) {
            None => {
                let original = self.include_original.then(|| raw_text(input));
                self.write(&top, None, original.as_deref(), out)
            }
            Some(inner) => {
                let inner = inner?;
                // The object around the LogEvent: everything in it is kept.
                let envelope = input::parse_envelope(input)?;
                let (outer, original) = match form {
                    input::Form::Wrapper(text) => (ecs::Outer::Wrapper(&envelope), text),
                    input::Form::EventBridge(text) => (ecs::Outer::EventBridge(&envelope), text),
                    input::Form::Raw => (ecs::Outer::Wrapper(&envelope), ""),
                };
                self.write(
                    &inner,
                    Some(outer),
                    self.include_original.then_some(original),
                    out,
                )
            }
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Convenience: the ECS document as a serde_json::Value.
    pub fn normalize_value(&mut self, input: &[u8]) -> Result<serde_json::Value, NormalizeError> {
        let mut out = Vec::with_capacity(input.len() + input.len() / 2);
        self.normalize_into(input, &mut out)?;
        // The writer only produces valid JSON; a failure here would be a bug
        // in this crate, reported rather than hidden.
        serde_json::from_slice(&out).map_err(NormalizeError::NotJson)
    }

    fn write(
        &mut self,
        ev: &model::LogEvent<'_>,
        outer: Option<ecs::Outer<'_, '_>>,
        original: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        let mut cx = ecs::Context {
            psl: &self.psl,
            geoip: self.geoip.as_ref(),
            user_agents: &mut self.user_agents,
        };
        ecs::write_document(&mut cx, ev, outer, original, out)
    }
}

/// The input as text for `event.original` (it parsed as JSON, so it is UTF-8).
fn raw_text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Normalizer>();
        check::<Options>();
        check::<GeoIp>();
    }

    #[test]
    fn wrapper_and_envelope_members_are_kept() {
        let event =
            r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start"}"#;
        let wrapper = serde_json::json!({"message": event, "host": "collector-1", "id": 7});
        let mut normalizer = Normalizer::default();
        let doc = normalizer
            .normalize_value(wrapper.to_string().as_bytes())
            .expect("wrapper normalizes");
        assert_eq!(doc["okta"]["wrapper"]["host"], "collector-1");
        assert_eq!(doc["okta"]["wrapper"]["id"], "7");
        assert!(doc.get("cloud").is_none());

        let envelope = format!(
            r#"{{"version":"0","id":"e1","detail-type":"SystemLog","source":"aws.partner/okta.com/o/s","account":"1234","time":"2024-05-01T10:00:01Z","region":"eu-west-1","resources":["arn:a",{{"x":1}}],"extra":true,"detail":{event}}}"#
        );
        let doc = normalizer
            .normalize_value(envelope.as_bytes())
            .expect("envelope normalizes");
        assert_eq!(doc["event"]["id"], "u1");
        assert_eq!(
            doc["cloud"],
            serde_json::json!({"provider": "aws", "account": {"id": "1234"}, "region": "eu-west-1"})
        );
        assert_eq!(
            doc["okta"]["eventbridge"],
            serde_json::json!({
                "id": "e1", "version": "0", "detail_type": "SystemLog",
                "source": "aws.partner/okta.com/o/s", "time": "2024-05-01T10:00:01Z",
                "resources": ["arn:a"], "extra": true
            })
        );
        assert_eq!(
            doc["okta"]["system"]["unmapped"],
            serde_json::json!([{"path": "eventbridge.resources[1]", "value": "{\"x\":1}"}])
        );
    }

    #[test]
    fn verbatim_members_that_mix_types_go_to_unmapped() {
        let event = r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start","futureContext":[1,"x"],"other":[1,2]}"#;
        let wrapper =
            serde_json::json!({"message": event, "device": ["a", [false]], "tags": ["a", ["b"]]});
        let doc = Normalizer::default()
            .normalize_value(wrapper.to_string().as_bytes())
            .expect("wrapper normalizes");
        assert_eq!(
            doc["okta"]["wrapper"],
            serde_json::json!({"tags": ["a", ["b"]]})
        );
        assert_eq!(doc["okta"]["system"]["other"], serde_json::json!([1, 2]));
        assert!(doc["okta"]["system"].get("futureContext").is_none());
        assert_eq!(
            doc["okta"]["system"]["unmapped"],
            serde_json::json!([
                {"path": "wrapper.device", "value": "[\"a\",[false]]"},
                {"path": "futureContext", "value": "[1,\"x\"]"}
            ])
        );
    }

    #[test]
    fn missing_outcome_is_unknown_and_placeholders_stay_out_of_user() {
        let event = r#"{"uuid":"u2","published":"2024-05-01T10:00:00Z","eventType":"user.session.start",
            "actor":{"id":"unknown","type":"User","alternateId":"UNKNOWN","displayName":"unknown"}}"#;
        let doc = Normalizer::default()
            .normalize_value(event.as_bytes())
            .expect("normalizes");
        assert_eq!(doc["event"]["outcome"], "unknown");
        assert!(doc.get("user").is_none(), "{doc}");
        assert!(doc["related"].get("user").is_none());
        assert_eq!(doc["okta"]["system"]["actor"]["id"], "unknown");
    }
}
