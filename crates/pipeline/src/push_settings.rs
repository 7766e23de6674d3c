//! The table of a push source (`[sources.eventbridge]`, `[sources.sqs]`): the route's keys,
//! owned by its crate (`oktaflow_push::ReceiverSettings`, `oktaflow_sqs::SqsSettings`), and
//! the keys that configure the pipeline's push run ([`StreamSettings`]: the de-duplication
//! window and gap filling), in one table ([`PushTable`]).
//!
//! [`PushTable`] reads the pipeline's keys itself and hands every other key to the route's
//! struct as they come, without buffering the table, so the route's struct refuses unknown
//! keys and a file's parser keeps each value's position (line and column) in its errors.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use oktaflow_plumbing::settings::read_each;
use oktaflow_plumbing::{Quantity, SettingError};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{GapFill, PushOptions};

/// The keys of a push source's table that [`StreamSettings`] reads.
const STREAM_KEYS: [&str; 6] = [
    "dedup_window",
    "gap_fill",
    "gap_jump",
    "gap_silence",
    "gap_overlap",
    "gap_settle",
];

/// The pipeline's keys of a push source's table, as written (docs/configuration.md); read
/// into [`PushOptions`] by [`StreamSettings::options`].
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSettings {
    /// Event ids remembered to drop redeliveries (at least 1).
    pub dedup_window: Option<usize>,
    /// Fill gaps from the System Log API (default: when the source has API credentials).
    pub gap_fill: Option<bool>,
    /// [`GapFill::jump`].
    pub gap_jump: Option<Quantity>,
    /// [`GapFill::silence`].
    pub gap_silence: Option<Quantity>,
    /// [`GapFill::overlap`].
    pub gap_overlap: Option<Quantity>,
    /// [`GapFill::settle`].
    pub gap_settle: Option<Quantity>,
}

impl StreamSettings {
    /// `defaults` with these keys applied. Gap filling is on by default when the source has
    /// `api_credentials` (`gap_fill = true` without them is refused), with its `gap_*`
    /// durations. Every problem found, each named by its key.
    pub fn options(
        &self,
        defaults: PushOptions,
        api_credentials: bool,
    ) -> Result<PushOptions, Vec<SettingError>> {
        let mut errors = Vec::new();
        let mut options = defaults;
        match self.dedup_window {
            Some(0) => errors.push(SettingError::new("dedup_window", "must be at least 1")),
            Some(window) => options.dedup_window = window,
            None => {}
        }
        if self.gap_fill == Some(true) && !api_credentials {
            errors.push(SettingError::new(
                "gap_fill",
                "gap filling reads /api/v1/logs: give the source api_token, api_token_file or oauth",
            ));
        }
        if self.gap_fill.unwrap_or(true) && api_credentials {
            let given = [
                ("gap_jump", self.gap_jump.as_ref()),
                ("gap_silence", self.gap_silence.as_ref()),
                ("gap_overlap", self.gap_overlap.as_ref()),
                ("gap_settle", self.gap_settle.as_ref()),
            ];
            let [jump, silence, overlap, settle] =
                read_each(&mut errors, given, Quantity::duration);
            let or = |value: Option<Duration>, default| value.unwrap_or(default);
            let d = GapFill::default();
            let fill = GapFill {
                jump: or(jump, d.jump),
                silence: or(silence, d.silence),
                overlap: or(overlap, d.overlap),
                settle: or(settle, d.settle),
            };
            if fill.jump.is_zero() || fill.silence.is_zero() {
                let reason = "gap_jump and gap_silence must be longer than 0s";
                errors.push(SettingError::new("gap_jump", reason));
            }
            options.gap_fill = Some(fill);
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// Reads the value of `key` (one of [`STREAM_KEYS`]) from `map`.
    fn set<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "dedup_window" => self.dedup_window = map.next_value()?,
            "gap_fill" => self.gap_fill = map.next_value()?,
            "gap_jump" => self.gap_jump = map.next_value()?,
            "gap_silence" => self.gap_silence = map.next_value()?,
            "gap_overlap" => self.gap_overlap = map.next_value()?,
            _ => self.gap_settle = map.next_value()?,
        }
        Ok(())
    }
}

/// A push source's table: the route's keys (`R`, which refuses unknown ones) and the
/// pipeline's ([`StreamSettings`]).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PushTable<R> {
    /// The route's keys: `oktaflow_push::ReceiverSettings` or `oktaflow_sqs::SqsSettings`.
    #[serde(flatten)]
    pub route: R,
    /// The de-duplication window and gap filling.
    #[serde(flatten)]
    pub stream: StreamSettings,
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for PushTable<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

struct TableVisitor<R>(PhantomData<R>);

impl<'de, R: Deserialize<'de>> Visitor<'de> for TableVisitor<R> {
    type Value = PushTable<R>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PushTable<R>, A::Error> {
        let mut stream = StreamSettings::default();
        let route = R::deserialize(RouteKeys {
            map,
            stream: &mut stream,
        })?;
        Ok(PushTable { route, stream })
    }
}

/// The table as the route's struct sees it: its own keys only, the pipeline's taken out.
struct RouteKeys<'s, A> {
    map: A,
    stream: &'s mut StreamSettings,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for RouteKeys<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RouteKeys<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        mut seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key_seed(SortKey(seed))? {
                None => return Ok(None),
                Some(Sorted::Route(key)) => return Ok(Some(key)),
                Some(Sorted::Stream(key, unused)) => {
                    self.stream.set(key, &mut self.map)?;
                    seed = unused;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key read: the route's (its seed's value, errors at the key's position) or the
/// pipeline's (with the route's seed, unused).
enum Sorted<V, K> {
    Route(V),
    Stream(&'static str, K),
}

struct SortKey<K>(K);

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for SortKey<K> {
    type Value = Sorted<K::Value, K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let name = String::deserialize(deserializer)?;
        match STREAM_KEYS.into_iter().find(|key| *key == name) {
            Some(key) => Ok(Sorted::Stream(key, self.0)),
            None => {
                let key: de::value::StringDeserializer<D::Error> = name.clone().into_deserializer();
                self.0.deserialize(key).map(Sorted::Route).map_err(|e| {
                    // An unknown key: the route's struct named its own keys; add the others.
                    match e.to_string() {
                        m if m.starts_with("unknown field") => {
                            let ours = STREAM_KEYS.map(|k| format!("`{k}`")).join(", ");
                            de::Error::custom(format!("{m}, or one of {ours}"))
                        }
                        _ => e,
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Route {
        queue: Option<String>,
        messages: Option<u32>,
    }

    fn keys(errors: &[SettingError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn the_route_and_the_stream_keys_share_one_table() {
        let table: PushTable<Route> = serde_json::from_str(
            r#"{"queue": "q", "gap_jump": "2m", "messages": 3, "dedup_window": 7, "gap_fill": true}"#,
        )
        .unwrap();
        assert_eq!(table.route.queue.as_deref(), Some("q"));
        assert_eq!(table.route.messages, Some(3));
        assert_eq!(table.stream.dedup_window, Some(7));
        assert_eq!(table.stream.gap_jump, Some(Quantity::Text("2m".into())));
        let back = serde_json::to_value(&table).unwrap();
        assert_eq!(back["queue"], "q");
        assert_eq!(back["gap_fill"], true);
        let unknown = serde_json::from_str::<PushTable<Route>>(r#"{"gap_jum": "2m"}"#);
        let e = unknown.unwrap_err().to_string();
        assert!(e.contains("unknown field `gap_jum`"), "{e}");
        assert!(e.contains("`gap_jump`"), "{e}");
        let wrong = serde_json::from_str::<PushTable<Route>>(r#"{"dedup_window": "x"}"#);
        assert!(wrong.is_err());
    }

    #[test]
    fn gap_filling_follows_the_api_credentials() {
        let none = StreamSettings::default();
        let defaults = PushOptions::default();
        let on = none.options(defaults, true).unwrap();
        assert_eq!(on.gap_fill, Some(GapFill::default()));
        assert_eq!(none.options(defaults, false).unwrap().gap_fill, None);
        let tuned = StreamSettings {
            gap_jump: Some(Quantity::Text("2m".into())),
            gap_settle: Some(Quantity::Number(5)),
            dedup_window: Some(9),
            ..StreamSettings::default()
        };
        let options = tuned.options(defaults, true).unwrap();
        let fill = options.gap_fill.unwrap();
        assert_eq!(fill.jump, Duration::from_secs(120));
        assert_eq!(fill.settle, Duration::from_secs(5));
        assert_eq!(options.dedup_window, 9);
        let off = StreamSettings {
            gap_fill: Some(false),
            ..StreamSettings::default()
        };
        assert_eq!(off.options(defaults, true).unwrap().gap_fill, None);
        let bad = StreamSettings {
            gap_fill: Some(true),
            dedup_window: Some(0),
            ..StreamSettings::default()
        };
        let errors = bad.options(defaults, false).unwrap_err();
        assert_eq!(keys(&errors), ["dedup_window", "gap_fill"]);
        let zero = StreamSettings {
            gap_silence: Some(Quantity::Text("0s".into())),
            gap_overlap: Some(Quantity::Text("later".into())),
            ..StreamSettings::default()
        };
        let errors = zero.options(defaults, true).unwrap_err();
        assert_eq!(keys(&errors), ["gap_overlap", "gap_jump"]);
    }
}
