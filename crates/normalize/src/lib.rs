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
//! * Only a few things fail an event: input that is not JSON or not an object,
//!   and a missing or unusable `uuid` or `eventType`. A missing or unparsable
//!   `published` fails it too unless the caller says when the event was fetched
//!   ([`Normalizer::normalize_fetched_into`]): then that time is `@timestamp` and
//!   the document is marked (`error.message`, `tags`). A field of unexpected type
//!   is normalized as far as possible, never an error.
//! * The same events also map to [OCSF](https://schema.ocsf.io/) 1.8.0, one class per
//!   event ([`Normalizer::normalize_ocsf_into`]; table in `docs/fields.md`).
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
mod debug;
mod domain;
mod ecs;
mod elastic;
mod error;
mod fast;
mod geoip;
mod input;
mod json;
mod kv;
mod model;
mod ocsf;
mod outcome;
mod parsed;
mod profile;
mod timestamp;
mod user_agent;
mod writer;

use std::sync::Arc;

pub use error::{GeoIpError, NormalizeError, SchemaError};
pub use geoip::GeoIp;
pub use parsed::{
    ParsedClient, ParsedDebugContext, ParsedDebugData, ParsedDebugDataState, ParsedEvent,
    ParsedGeo, ParsedParty, ParsedSecurityContext, ParsedValue, TextRef,
};
pub use profile::{
    Device, DeviceProfile, LookupCounters, LookupCounts, Profiles, User, UserProfile,
};

/// Appends `s` to `out` as a JSON string literal, escaped exactly as `serde_json` escapes it
/// (`"`, `\\` and bytes below 0x20; the rest copied, found eight bytes at a time): the
/// normalizer's own string writer, for other crates that write JSON text by hand.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    writer::write_str(out, s);
}

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
    /// User and device profiles joined onto every event (identity enrichment); `None`
    /// writes no enrichment field at all. Replace later with [`Normalizer::set_profiles`].
    pub profiles: Option<Arc<Profiles>>,
    /// The layout of the documents written (default [`Schema::Ecs`]).
    pub schema: Schema,
}

/// The layout of the output documents (`docs/fields.md` has a table per schema).
/// Adding one: a variant, its entry in [`Schema::ALL`] and [`Schema::name`], and
/// its arm in `Normalizer::write`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Schema {
    /// Elastic Common Schema in oktaflow's own layout (Sekoia.io's where it has a
    /// field), every Okta member kept under `okta.system.*`.
    #[default]
    Ecs,
    /// The document Elastic's Okta integration (`okta` package, `system` data
    /// stream) writes: its ECS fields and `okta.*` layout, `event.dataset: okta.system`.
    Elastic,
    /// An [OCSF 1.8.0](https://schema.ocsf.io/1.8.0/) event, as
    /// [`Normalizer::normalize_ocsf_into`] writes it.
    Ocsf,
}

impl Schema {
    /// Every schema, in the order they are listed to users.
    pub const ALL: &'static [Schema] = &[Schema::Ecs, Schema::Elastic, Schema::Ocsf];

    /// The schema's name, as `--schema` and `schema = "..."` take it.
    pub const fn name(self) -> &'static str {
        match self {
            Schema::Ecs => "ecs",
            Schema::Elastic => "elastic",
            Schema::Ocsf => "ocsf",
        }
    }

    /// The names of every schema, comma-separated (for messages).
    pub fn names() -> String {
        Schema::ALL
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Schema {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Schema, SchemaError> {
        Schema::ALL
            .iter()
            .copied()
            .find(|schema| schema.name() == s)
            .ok_or_else(|| SchemaError {
                name: s.to_owned(),
                known: Schema::names(),
            })
    }
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
    /// True when `published` was missing or unparsable and `published` above is the
    /// fetch time given to [`Normalizer::normalize_fetched_into`] (the document has
    /// the tag [`PUBLISHED_UNPARSABLE_TAG`]).
    pub published_fallback: bool,
}

/// The `tags` value of a document whose `@timestamp` is the fetch time because
/// `published` was missing or unparsable.
pub const PUBLISHED_UNPARSABLE_TAG: &str = "okta_published_unparsable";

/// Turns LogEvents into ECS documents. `Send + Sync + Clone`: shared data is
/// behind `Arc`, the user agent cache belongs to each clone.
#[derive(Clone, Debug)]
pub struct Normalizer {
    include_original: bool,
    geoip: Option<GeoIp>,
    psl: Arc<publicsuffix::List>,
    user_agents: user_agent::UserAgentParser,
    profiles: Option<Arc<Profiles>>,
    schema: Schema,
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
            profiles: options.profiles,
            schema: options.schema,
        }
    }

    /// The schema this normalizer writes.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// Joins `profiles` onto the events normalized from now on (`None`: no enrichment).
    /// The snapshot is read-only; a newer one replaces it (cheap: an `Arc`).
    pub fn set_profiles(&mut self, profiles: Option<Arc<Profiles>>) {
        self.profiles = profiles;
    }

    /// The profiles joined onto events, if any.
    pub fn profiles(&self) -> Option<&Arc<Profiles>> {
        self.profiles.as_ref()
    }

    /// Normalize one input (raw LogEvent, {"message": "<LogEvent JSON text>"} wrapper, or EventBridge
    /// envelope) and append its ECS JSON document (compact, no trailing newline) to `out`.
    /// On error `out` is left exactly as it was.
    pub fn normalize_into(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        self.normalize_at(input, None, out)
    }

    /// As [`normalize_into`](Self::normalize_into), for an event fetched at
    /// `fetched_at`: when its `published` is missing or cannot be parsed, the event
    /// is not refused; `@timestamp` is `fetched_at`, `error.message` says why and
    /// `tags` holds [`PUBLISHED_UNPARSABLE_TAG`] (`EventSummary::published_fallback`
    /// is true). Input that is not a JSON object, or has no usable `uuid` or
    /// `eventType`, is still an error.
    pub fn normalize_fetched_into(
        &mut self,
        input: &[u8],
        fetched_at: chrono::DateTime<chrono::Utc>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        self.normalize_at(input, Some(fetched_at), out)
    }

    /// As [`normalize_fetched_into`](Self::normalize_fetched_into), for input already
    /// known to be UTF-8 (a reader that checked it does not pay for a second check).
    pub fn normalize_fetched_str_into(
        &mut self,
        input: &str,
        fetched_at: chrono::DateTime<chrono::Utc>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        let top = input::parse_top_str(input)?;
        self.normalize_parsed(input.as_bytes(), top, Some(fetched_at), out, None)
    }

    /// As [`normalize_fetched_into`](Self::normalize_fetched_into), and when the input is a
    /// plain LogEvent (not a wrapper or an envelope) and its document was written, `inspect`
    /// is called with the event as the normalizer parsed it ([`ParsedEvent`]), borrowed from
    /// `input`, and its answer returned beside the summary: a caller that needs more of the
    /// event than the document reads it without parsing it again.
    pub fn normalize_fetched_into_with<T>(
        &mut self,
        input: &[u8],
        fetched_at: chrono::DateTime<chrono::Utc>,
        out: &mut Vec<u8>,
        inspect: impl FnOnce(&ParsedEvent<'_, '_>) -> T,
    ) -> Result<(EventSummary, Option<T>), NormalizeError> {
        let top = input::parse_top(input)?;
        let mut inspect = Some(inspect);
        let mut answer = None;
        let summary = self.normalize_parsed(
            input,
            top,
            Some(fetched_at),
            out,
            Some(&mut |event: &ParsedEvent<'_, '_>| {
                if let Some(inspect) = inspect.take() {
                    answer = Some(inspect(event));
                }
            }),
        )?;
        Ok((summary, answer))
    }

    fn normalize_at(
        &mut self,
        input: &[u8],
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        let top = input::parse_top(input)?;
        self.normalize_parsed(input, top, fetched_at, out, None)
    }

    /// The rest of [`normalize_at`](Self::normalize_at), `top` being `input` parsed;
    /// `inspect` sees a plain LogEvent whose document was written.
    fn normalize_parsed(
        &mut self,
        input: &[u8],
        top: model::LogEvent<'_>,
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        out: &mut Vec<u8>,
        inspect: Option<&mut dyn FnMut(&ParsedEvent<'_, '_>)>,
    ) -> Result<EventSummary, NormalizeError> {
        let form = input::form(&top)?;
        let start = out.len();
        let result = match input::parse_inner(form) {
            None => {
                let original = self.include_original.then(|| raw_text(input));
                let result = self.write(&top, None, original.as_deref(), fetched_at, out);
                if let (Ok(_), Some(inspect)) = (&result, inspect) {
                    inspect(&ParsedEvent::new(&top));
                }
                result
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
                    fetched_at,
                    out,
                )
            }
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// As [`normalize_fetched_into`](Self::normalize_fetched_into) (or
    /// [`normalize_into`](Self::normalize_into) when `fetched_at` is `None`), but the
    /// document is an [OCSF 1.8.0](https://schema.ocsf.io/1.8.0/) event: one class per
    /// eventType family (Authentication, Account Change, Authorize Session, Entity
    /// Management, User Access Management, Group Management, Detection Finding, API
    /// Activity as the fallback), `time` in epoch milliseconds, `metadata.uid` the Okta
    /// `uuid`, and every Okta member without an OCSF attribute under `unmapped`. An event
    /// whose `time` is the fetch time has `metadata.labels` [`PUBLISHED_UNPARSABLE_TAG`].
    /// `EventSummary::category` is the ECS `event.category`, as for ECS.
    /// On error `out` is left exactly as it was.
    pub fn normalize_ocsf_into(
        &mut self,
        input: &[u8],
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        let top = input::parse_top(input)?;
        let form = input::form(&top)?;
        let start = out.len();
        let mut cx = ocsf::Context {
            geoip: self.geoip.as_ref(),
            user_agents: &mut self.user_agents,
            fetched_at,
            profiles: self.profiles.as_deref(),
        };
        let result = match input::parse_inner(form) {
            None => {
                let original = self.include_original.then(|| raw_text(input));
                ocsf::write_event(&mut cx, &top, None, original.as_deref(), out)
            }
            Some(inner) => {
                let inner = inner?;
                let envelope = input::parse_envelope(input)?;
                let (outer, original) = match form {
                    input::Form::EventBridge(text) => (ocsf::Outer::EventBridge(&envelope), text),
                    input::Form::Wrapper(text) => (ocsf::Outer::Wrapper(&envelope), text),
                    input::Form::Raw => (ocsf::Outer::Wrapper(&envelope), ""),
                };
                let original = self.include_original.then_some(original);
                ocsf::write_event(&mut cx, &inner, Some(outer), original, out)
            }
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Convenience: the OCSF event (see [`normalize_ocsf_into`](Self::normalize_ocsf_into))
    /// as a serde_json::Value.
    pub fn normalize_ocsf_value(
        &mut self,
        input: &[u8],
    ) -> Result<serde_json::Value, NormalizeError> {
        let mut out = Vec::with_capacity(input.len() * 2);
        self.normalize_ocsf_into(input, None, &mut out)?;
        serde_json::from_slice(&out).map_err(NormalizeError::NotJson)
    }

    /// Convenience: the ECS document as a serde_json::Value.
    pub fn normalize_value(&mut self, input: &[u8]) -> Result<serde_json::Value, NormalizeError> {
        let mut out = Vec::with_capacity(input.len() + input.len() / 2);
        self.normalize_into(input, &mut out)?;
        // The writer only produces valid JSON; a failure here would be a bug
        // in this crate, reported rather than hidden.
        serde_json::from_slice(&out).map_err(NormalizeError::NotJson)
    }

    /// Normalizes one input (as [`normalize_fetched_into`](Self::normalize_fetched_into),
    /// or [`normalize_into`](Self::normalize_into) when `fetched_at` is `None`) into several
    /// schemas at once: the input is parsed once and written once per entry of `outputs`,
    /// each document appended to its buffer (this normalizer's own [`Schema`] is not used).
    /// The outer error is an input no schema can map (not JSON, no LogEvent in an envelope);
    /// otherwise there is one result per output, in order, and a failed output's buffer is
    /// left as it was. With the same profiles and options, each document is byte for byte
    /// the one a normalizer of that schema writes.
    pub fn normalize_each_into(
        &mut self,
        input: &[u8],
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        outputs: &mut [(Schema, &mut Vec<u8>)],
    ) -> Result<Vec<Result<EventSummary, NormalizeError>>, NormalizeError> {
        let top = input::parse_top(input)?;
        let form = input::form(&top)?;
        let mut results = Vec::with_capacity(outputs.len());
        match input::parse_inner(form) {
            None => {
                let original = self.include_original.then(|| raw_text(input));
                for (schema, out) in outputs.iter_mut() {
                    let start = out.len();
                    let result =
                        self.write_as(*schema, &top, None, original.as_deref(), fetched_at, out);
                    if result.is_err() {
                        out.truncate(start);
                    }
                    results.push(result);
                }
            }
            Some(inner) => {
                let inner = inner?;
                let envelope = input::parse_envelope(input)?;
                let (outer, original) = match form {
                    input::Form::Wrapper(text) => (ecs::Outer::Wrapper(&envelope), text),
                    input::Form::EventBridge(text) => (ecs::Outer::EventBridge(&envelope), text),
                    input::Form::Raw => (ecs::Outer::Wrapper(&envelope), ""),
                };
                let original = self.include_original.then_some(original);
                for (schema, out) in outputs.iter_mut() {
                    let start = out.len();
                    let result =
                        self.write_as(*schema, &inner, Some(outer), original, fetched_at, out);
                    if result.is_err() {
                        out.truncate(start);
                    }
                    results.push(result);
                }
            }
        }
        Ok(results)
    }

    fn write(
        &mut self,
        ev: &model::LogEvent<'_>,
        outer: Option<ecs::Outer<'_, '_>>,
        original: Option<&str>,
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        self.write_as(self.schema, ev, outer, original, fetched_at, out)
    }

    fn write_as(
        &mut self,
        schema: Schema,
        ev: &model::LogEvent<'_>,
        outer: Option<ecs::Outer<'_, '_>>,
        original: Option<&str>,
        fetched_at: Option<chrono::DateTime<chrono::Utc>>,
        out: &mut Vec<u8>,
    ) -> Result<EventSummary, NormalizeError> {
        if schema == Schema::Ocsf {
            let mut cx = ocsf::Context {
                geoip: self.geoip.as_ref(),
                user_agents: &mut self.user_agents,
                fetched_at,
                profiles: self.profiles.as_deref(),
            };
            let outer = outer.map(|outer| match outer {
                ecs::Outer::Wrapper(envelope) => ocsf::Outer::Wrapper(envelope),
                ecs::Outer::EventBridge(envelope) => ocsf::Outer::EventBridge(envelope),
            });
            return ocsf::write_event(&mut cx, ev, outer, original, out);
        }
        let mut cx = ecs::Context {
            psl: &self.psl,
            geoip: self.geoip.as_ref(),
            user_agents: &mut self.user_agents,
            fetched_at,
            profiles: self.profiles.as_deref(),
        };
        match schema {
            Schema::Elastic => elastic::write_document(&mut cx, ev, outer, original, out),
            Schema::Ecs | Schema::Ocsf => ecs::write_document(&mut cx, ev, outer, original, out),
        }
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
    fn schema_names_round_trip_and_bad_names_are_refused() {
        for schema in Schema::ALL {
            assert_eq!(schema.name().parse::<Schema>().ok(), Some(*schema));
            assert_eq!(schema.to_string(), schema.name());
        }
        assert_eq!(Schema::default(), Schema::Ecs);
        let err = "ESC".parse::<Schema>().expect_err("not a schema");
        assert_eq!(
            err.to_string(),
            "unknown schema `ESC` (expected one of: ecs, elastic, ocsf)"
        );
    }

    #[test]
    fn the_elastic_schema_writes_elastics_layout_from_the_same_event() {
        let event = br#"{"uuid":"u7","published":"2024-05-01T10:00:00.123Z","eventType":"user.session.start",
            "actor":{"id":"00u1","type":"User","alternateId":"jdoe@example.com","displayName":"J Doe"},
            "client":{"ipAddress":"81.2.69.142","zone":"null"},"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},
            "debugContext":{"debugData":{"risk":"{reasons=Anomalous Device, Anomalous Location, level=MEDIUM}","threatSuspected":"false"}}}"#;
        let mut elastic = Normalizer::new(Options {
            schema: Schema::Elastic,
            ..Options::default()
        });
        assert_eq!(elastic.schema(), Schema::Elastic);
        let doc = elastic.normalize_value(event).expect("normalizes");
        assert_eq!(doc["@timestamp"], "2024-05-01T10:00:00.123Z");
        assert_eq!(doc["event"]["dataset"], "okta.system");
        assert_eq!(
            doc["event"]["category"],
            serde_json::json!(["authentication", "session"])
        );
        assert_eq!(doc["event"]["outcome"], "failure");
        assert_eq!(doc["user"]["name"], "jdoe@example.com");
        assert_eq!(doc["source"]["user"]["id"], "00u1");
        assert_eq!(doc["okta"]["actor"]["alternate_id"], "jdoe@example.com");
        assert_eq!(doc["okta"]["client"]["ip"], "81.2.69.142");
        assert_eq!(doc["okta"]["outcome"]["reason"], "INVALID_CREDENTIALS");
        let debug = &doc["okta"]["debug_context"]["debug_data"];
        assert_eq!(debug["risk_level"], "MEDIUM");
        assert_eq!(
            debug["risk_reasons"],
            serde_json::json!(["Anomalous Device", "Anomalous Location"])
        );
        assert_eq!(debug["threat_suspected"], "false");
        assert_eq!(debug["flattened"]["risk"]["level"], "MEDIUM");
        // The default schema is unchanged by the option's existence.
        let ecs = Normalizer::default()
            .normalize_value(event)
            .expect("normalizes");
        assert_eq!(ecs["event"]["dataset"], "system-log");
        assert!(ecs["okta"].get("actor").is_none());
    }

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
    fn user_target_prefers_the_okta_user_over_an_app_account() {
        let app_user = r#"{"id":"0ua1appaccount","type":"AppUser","alternateId":"a.m@app.example","displayName":"A M (app)"}"#;
        let user = r#"{"id":"00u1oktauser","type":"User","alternateId":"a.m@example.com","displayName":"A M"}"#;
        let event = |targets: &str| {
            format!(
                r#"{{"uuid":"u3","published":"2024-05-01T10:00:00Z","eventType":"application.user_membership.add","target":[{targets}]}}"#
            )
        };
        let mut normalizer = Normalizer::default();
        for targets in [format!("{app_user},{user}"), format!("{user},{app_user}")] {
            let doc = normalizer
                .normalize_value(event(&targets).as_bytes())
                .expect("normalizes");
            assert_eq!(doc["user"]["target"]["id"], "00u1oktauser", "{targets}");
            assert_eq!(doc["user"]["target"]["name"], "a.m@example.com");
            assert_eq!(doc["user"]["target"]["full_name"], "A M");
        }
        // Without a User, the app account is the target user.
        let doc = normalizer
            .normalize_value(event(app_user).as_bytes())
            .expect("normalizes");
        assert_eq!(doc["user"]["target"]["id"], "0ua1appaccount");
    }

    #[test]
    fn unparsable_published_falls_back_to_the_fetch_time() {
        let fetched: chrono::DateTime<chrono::Utc> =
            "2024-05-01T10:00:05.123456Z".parse().expect("a time");
        let event = br#"{"uuid":"u4","published":"01/05/2024 10:00","eventType":"system.idp.lifecycle.create"}"#;
        let mut normalizer = Normalizer::default();
        // Without a fetch time, the event is refused (as before).
        let mut out = Vec::new();
        assert!(matches!(
            normalizer.normalize_into(event, &mut out),
            Err(NormalizeError::InvalidField {
                field: "published",
                ..
            })
        ));
        assert!(out.is_empty());

        let summary = normalizer
            .normalize_fetched_into(event, fetched, &mut out)
            .expect("kept with the fetch time");
        assert!(summary.published_fallback);
        assert_eq!(summary.published, fetched);
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(doc["@timestamp"], "2024-05-01T10:00:05.123456Z");
        assert_eq!(doc["tags"], serde_json::json!([PUBLISHED_UNPARSABLE_TAG]));
        let message = doc["error"]["message"].as_str().expect("error.message");
        assert!(
            message.contains("published") && message.contains("fetched"),
            "{message}"
        );
        assert_eq!(doc["okta"]["system"]["published"], "01/05/2024 10:00");
        assert_eq!(doc["event"]["action"], "system.idp.lifecycle.create");

        // A missing `published` too; a usable one is unchanged and unmarked.
        let missing = br#"{"uuid":"u5","eventType":"user.session.start"}"#;
        let summary = normalizer
            .normalize_fetched_into(missing, fetched, &mut Vec::new())
            .expect("kept");
        assert!(summary.published_fallback);
        let good =
            br#"{"uuid":"u6","published":"2024-05-01T09:00:00Z","eventType":"user.session.start"}"#;
        let mut out = Vec::new();
        let summary = normalizer
            .normalize_fetched_into(good, fetched, &mut out)
            .expect("normalizes");
        assert!(!summary.published_fallback);
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(doc["@timestamp"], "2024-05-01T09:00:00.000000Z");
        assert!(doc.get("tags").is_none() && doc.get("error").is_none());

        // What is not an event stays refused.
        for bad in [
            &b"[1]"[..],
            b"not json",
            br#"{"published":"x","eventType":"e"}"#,
        ] {
            assert!(normalizer
                .normalize_fetched_into(bad, fetched, &mut Vec::new())
                .is_err());
        }
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

    #[test]
    fn each_schema_of_one_parse_is_the_document_of_that_schemas_normalizer() {
        let event = r#"{"uuid":"e1","published":"2024-05-01T10:00:00.123Z","eventType":"user.session.start",
            "actor":{"id":"00u1","type":"User","alternateId":"jdoe@example.com","displayName":"J Doe"},
            "client":{"ipAddress":"81.2.69.142","userAgent":{"rawUserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"}},
            "outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}"#;
        let wrapped = serde_json::json!({ "message": event, "host": "collector" }).to_string();
        let bridged = serde_json::json!({
            "version": "0", "id": "b1", "detail-type": "SystemLog", "source": "okta",
            "detail": serde_json::from_str::<serde_json::Value>(event).expect("JSON"),
        })
        .to_string();
        let unparsable =
            r#"{"uuid":"e2","published":"yesterday","eventType":"group.user_membership.add"}"#;
        let fetched: chrono::DateTime<chrono::Utc> = "2024-05-01T10:00:09Z".parse().expect("time");
        for include_original in [false, true] {
            let options = || Options {
                include_original,
                ..Options::default()
            };
            let mut both = Normalizer::new(options());
            for input in [event, wrapped.as_str(), bridged.as_str(), unparsable] {
                let (mut ecs, mut ocsf, mut elastic) = (b"x".to_vec(), Vec::new(), Vec::new());
                let results = both
                    .normalize_each_into(
                        input.as_bytes(),
                        Some(fetched),
                        &mut [
                            (Schema::Ecs, &mut ecs),
                            (Schema::Ocsf, &mut ocsf),
                            (Schema::Elastic, &mut elastic),
                        ],
                    )
                    .expect("an event");
                for ((schema, out), result) in [
                    (Schema::Ecs, &ecs[1..]),
                    (Schema::Ocsf, &ocsf[..]),
                    (Schema::Elastic, &elastic[..]),
                ]
                .into_iter()
                .zip(results)
                {
                    let mut alone = Normalizer::new(Options {
                        schema,
                        ..options()
                    });
                    let mut expected = Vec::new();
                    let summary = alone
                        .normalize_fetched_into(input.as_bytes(), fetched, &mut expected)
                        .expect("normalizes");
                    assert_eq!(result.expect("normalizes"), summary, "{schema}");
                    assert_eq!(
                        String::from_utf8_lossy(out),
                        String::from_utf8_lossy(&expected),
                        "{schema} of {input}"
                    );
                }
            }
        }
        // Input no schema can map is one error; a LogEvent without uuid fails in each
        // schema, and leaves every buffer as it was.
        let mut normalizer = Normalizer::default();
        let mut out = b"kept".to_vec();
        assert!(normalizer
            .normalize_each_into(b"[1]", None, &mut [(Schema::Ecs, &mut out)])
            .is_err());
        let results = normalizer
            .normalize_each_into(
                br#"{"published":"2024-05-01T10:00:00Z","eventType":"e"}"#,
                None,
                &mut [(Schema::Ecs, &mut out)],
            )
            .expect("an object");
        assert!(matches!(
            results[..],
            [Err(NormalizeError::MissingField("uuid"))]
        ));
        assert_eq!(out, b"kept");
    }
}
