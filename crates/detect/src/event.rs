//! One event as the rules see it: the Okta fields the built-in rules read, taken from the raw
//! LogEvent in one borrowing pass, and the normalized ECS document beside it.
//!
//! Reading is lenient like the normalizer: a member of an unexpected type (a number where a
//! string is expected, an object where an array is) reads as absent, never as an error. Only
//! input that is not JSON, and a missing `uuid`, `published` or `eventType`, fail.
//!
//! The three input forms of the normalizer are accepted: the LogEvent itself, an EventBridge
//! envelope (`{"detail": LogEvent}`) and a `{"message": "<LogEvent JSON text>"}` wrapper.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::DetectError;

mod fast;

pub(crate) use fast::{string_stop, top_members, top_spans};
mod parts;

pub(crate) use parts::{glance, Glance};
pub use parts::{EventParts, PartyParts, Piece, TopPart};

/// The normalized ECS document of an event, as the pipeline holds it.
#[derive(Debug, Clone, Copy)]
pub enum Ecs<'a> {
    /// Serialized JSON (what the normalizer writes).
    Bytes(&'a [u8]),
    /// An already parsed document.
    Value(&'a serde_json::Value),
}

impl Ecs<'_> {
    /// The document as a value (parsed on demand; `None` if the bytes are not JSON).
    pub fn to_value(&self) -> Option<serde_json::Value> {
        match self {
            Ecs::Bytes(bytes) => serde_json::from_slice(bytes).ok(),
            Ecs::Value(value) => Some((*value).clone()),
        }
    }
}

/// The raw LogEvent of an event.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// The event's JSON text as Okta sent it.
    Bytes(&'a [u8]),
    /// An already parsed event.
    Value(&'a serde_json::Value),
}

/// One event handed to [`crate::Detector::observe`]: the Okta facts the rules read, the raw
/// LogEvent and, when the caller has it, the normalized ECS document.
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    facts: Facts<'a>,
    raw: Raw<'a>,
    ecs: Option<Ecs<'a>>,
    /// See [`EventView::event_type_alone`].
    event_type_alone: bool,
    /// See [`EventView::top_texts`].
    top_texts: [TopText<'a>; 4],
    /// See [`EventView::values_checked`].
    values_checked: bool,
}

impl<'a> EventView<'a> {
    /// Reads an event from its raw JSON text (LogEvent, EventBridge envelope or `message`
    /// wrapper), with its normalized document if the caller has one.
    pub fn from_bytes(raw: &'a [u8], ecs: Option<Ecs<'a>>) -> Result<EventView<'a>, DetectError> {
        if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            // Not an object: refused like the normalizer refuses it (serde would read an array
            // as a struct).
            return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
                Err(e) => DetectError::NotJson(e),
                Ok(_) => DetectError::NotAnObject,
            });
        }
        let top: LogEvent<'a> = serde_json::from_slice(raw).map_err(DetectError::NotJson)?;
        Ok(EventView {
            facts: Facts::from_top(top)?,
            raw: Raw::Bytes(raw),
            ecs,
            event_type_alone: false,
            top_texts: [TopText::Other; 4],
            values_checked: false,
        })
    }

    /// Like [`EventView::from_bytes`], for text already known to be JSON: the pipeline's
    /// events, which the normalizer parsed. The members the rules read are taken by a scan that
    /// skips the rest of the text without decoding or checking it (several times cheaper than
    /// the serde pass); anything out of the ordinary (an escape in a wanted string, a number
    /// where text is wanted, a member given twice, an envelope or wrapper) is read by
    /// [`EventView::from_bytes`] instead, so the facts are the same. On text that is not JSON
    /// it may return facts where [`EventView::from_bytes`] returns an error.
    pub fn from_checked_bytes(
        raw: &'a [u8],
        ecs: Option<Ecs<'a>>,
    ) -> Result<EventView<'a>, DetectError> {
        match fast::log_event(raw) {
            Some(top) => Ok(EventView {
                event_type_alone: top.event_type_alone,
                top_texts: top.top_texts,
                values_checked: false,
                facts: Facts::from_top(top)?,
                raw: Raw::Bytes(raw),
                ecs,
            }),
            None => EventView::from_bytes(raw, ecs),
        }
    }

    /// Reads a plain LogEvent (not a wrapper or an envelope) from `parts`: the members the
    /// rules read, as a parser of `raw` found them ([`EventParts`]), so `raw` is not scanned
    /// again. With parts that follow [`EventParts`]' rules the facts are those
    /// [`EventView::from_bytes`] reads from `raw`. `None` when a piece is out of `raw`'s
    /// range or not UTF-8 (then read the bytes).
    pub fn from_parts(
        raw: &'a [u8],
        parts: &EventParts,
        ecs: Option<Ecs<'a>>,
    ) -> Option<Result<EventView<'a>, DetectError>> {
        let top = parts::log_event(raw, parts)?;
        Some(Ok(EventView {
            event_type_alone: top.event_type_alone,
            top_texts: top.top_texts,
            values_checked: top.values_checked,
            facts: match Facts::from_top(top) {
                Ok(facts) => facts,
                Err(error) => return Some(Err(error)),
            },
            raw: Raw::Bytes(raw),
            ecs,
        }))
    }

    /// Reads an event from a parsed LogEvent (or envelope).
    pub fn from_value(
        raw: &'a serde_json::Value,
        ecs: Option<Ecs<'a>>,
    ) -> Result<EventView<'a>, DetectError> {
        if !raw.is_object() {
            return Err(DetectError::NotAnObject);
        }
        let top = LogEvent::deserialize(raw).map_err(DetectError::NotJson)?;
        Ok(EventView {
            facts: Facts::from_top(top)?,
            raw: Raw::Value(raw),
            ecs,
            event_type_alone: false,
            top_texts: [TopText::Other; 4],
            values_checked: false,
        })
    }

    /// The Okta facts the built-in rules read.
    pub fn facts(&self) -> &Facts<'a> {
        &self.facts
    }

    /// The raw LogEvent (or envelope) as given.
    pub fn raw(&self) -> Raw<'a> {
        self.raw
    }

    /// The normalized ECS document, when the caller passed it.
    pub fn ecs(&self) -> Option<Ecs<'a>> {
        self.ecs
    }

    /// True when the event was read by the fast reader ([`EventView::from_checked_bytes`])
    /// from a plain LogEvent whose top level has the member `eventType` once and no other
    /// member whose name equals `eventType` without regard to ASCII case, none of those names
    /// escaped: then [`Facts::event_type`] is the only value any Sigma rule sees under that
    /// name (the Sigma event reads a one-segment name from the top-level members only).
    pub(crate) fn event_type_alone(&self) -> bool {
        self.event_type_alone
    }

    /// The [`TEXT_PATHS`] members as the fast reader (the first two) or the parts
    /// ([`EventView::from_parts`]) found them (all [`TopText::Other`] when neither read the
    /// event).
    pub(crate) fn top_texts(&self) -> &[TopText<'a>; 4] {
        &self.top_texts
    }

    /// True when the view was read from parts ([`EventView::from_parts`]) whose
    /// [`EventParts::values_checked`] is set: serde_json reads the value of every top-level
    /// member of the raw text other than `detail` as a `serde_json::Value`.
    pub(crate) fn values_checked(&self) -> bool {
        self.values_checked
    }
}

/// The top-level LogEvent members whose text the Sigma prefilter compares directly when the fast
/// reader found them plain ([`TopText`]), in this order.
pub(crate) const TOP_TEXTS: [&str; 2] = ["displayMessage", "legacyEventType"];

/// The LogEvent members whose text the Sigma prefilter compares directly when known plain
/// ([`TopText`]), in this order: the [`TOP_TEXTS`], then `debugContext.debugData.requestUri`
/// and `securityContext.isProxy` (known only from [`EventParts`]).
pub(crate) const TEXT_PATHS: [&[&str]; 4] = [
    &["displayMessage"],
    &["legacyEventType"],
    &["debugContext", "debugData", "requestUri"],
    &["securityContext", "isProxy"],
];

/// What the fast reader (or the parts) found of one of the [`TEXT_PATHS`] members. For a
/// nested path, "a member has that name in any ASCII case" means: at some level, a name that
/// equals that level's segment, or begins with it and a `.` (a dotted name), without regard to
/// ASCII case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum TopText<'a> {
    /// No member has that name, in any ASCII case.
    Absent,
    /// One member has that name (see [`TopPart::NoText`]) and holds no text: no string test
    /// with a non-empty literal holds on it.
    NoText,
    /// Exactly one member has that name in any ASCII case; it is spelled exactly so
    /// and its value is a string with no escape, these bytes (UTF-8 not checked yet: only the
    /// Sigma prefilter reads them); or (`securityContext.isProxy`, [`TopPart::Flag`]) its
    /// value is `true` / `false` or a string equal to either without regard to ASCII case,
    /// and these bytes are that word, lower case.
    Plain(&'a [u8]),
    /// Anything else (several such members, another spelling, an escape, a value that is not a
    /// string), or the event was not read by the fast reader.
    #[default]
    Other,
}

/// A point on the earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// The Okta LogEvent fields the built-in rules read (borrowed from the input where possible).
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// `uuid`.
    pub uuid: Cow<'a, str>,
    /// `published`, in milliseconds since the Unix epoch.
    pub published_ms: i64,
    /// `eventType`.
    pub event_type: Cow<'a, str>,
    /// `outcome.result` (`SUCCESS`, `FAILURE`, ...).
    pub outcome_result: Option<Cow<'a, str>>,
    /// `outcome.reason`.
    pub outcome_reason: Option<Cow<'a, str>>,
    /// `actor.id`.
    pub actor_id: Option<Cow<'a, str>>,
    /// `actor.alternateId`.
    pub actor_alternate_id: Option<Cow<'a, str>>,
    /// `actor.displayName`.
    pub actor_display_name: Option<Cow<'a, str>>,
    /// `actor.type`.
    pub actor_type: Option<Cow<'a, str>>,
    /// `target[0]`.
    pub target: Option<Party<'a>>,
    /// `client.id`.
    pub client_id: Option<Cow<'a, str>>,
    /// `client.ipAddress`.
    pub client_ip: Option<Cow<'a, str>>,
    /// `client.geographicalContext.city`.
    pub geo_city: Option<Cow<'a, str>>,
    /// `client.geographicalContext.state`.
    pub geo_state: Option<Cow<'a, str>>,
    /// `client.geographicalContext.country`.
    pub geo_country: Option<Cow<'a, str>>,
    /// `client.geographicalContext.geolocation`, when both coordinates are numbers in range.
    pub geo_point: Option<GeoPoint>,
    /// `securityContext.asNumber`.
    pub as_number: Option<i64>,
    /// `securityContext.asOrg`.
    pub as_org: Option<Cow<'a, str>>,
    /// `authenticationContext.externalSessionId`.
    pub external_session_id: Option<Cow<'a, str>>,
    /// `debugContext.debugData.privilegeGranted`.
    pub privilege_granted: Option<Cow<'a, str>>,
    /// `debugContext.debugData.dtHash`.
    pub dt_hash: Option<Cow<'a, str>>,
    /// `debugContext.debugData.factor`.
    pub factor: Option<Cow<'a, str>>,
    /// `debugContext.debugData.pushOnlyResponseType`.
    pub push_only_response_type: Option<Cow<'a, str>>,
}

/// An actor or target: `id`, `type`, `alternateId`, `displayName`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party<'a> {
    /// `id`.
    pub id: Option<Cow<'a, str>>,
    /// `type`.
    pub kind: Option<Cow<'a, str>>,
    /// `alternateId`.
    pub alternate_id: Option<Cow<'a, str>>,
    /// `displayName`.
    pub display_name: Option<Cow<'a, str>>,
}

impl<'a> Facts<'a> {
    fn from_top(top: LogEvent<'a>) -> Result<Facts<'a>, DetectError> {
        if top.event_type.0.is_none() && top.uuid.0.is_none() {
            if let Some(detail) = top.detail.0 {
                return Facts::from_event(*detail);
            }
            if let Some(message) = top.message.0 {
                // The wrapper's text is parsed on its own; its strings cannot borrow from the
                // input, so they are owned.
                let inner: LogEvent<'_> =
                    serde_json::from_str(&message).map_err(DetectError::NotJson)?;
                return Facts::from_event(inner).map(Facts::into_owned);
            }
        }
        Facts::from_event(top)
    }

    fn from_event(ev: LogEvent<'a>) -> Result<Facts<'a>, DetectError> {
        let uuid = non_empty(ev.uuid.0).ok_or(DetectError::MissingField("uuid"))?;
        let published = non_empty(ev.published.0).ok_or(DetectError::MissingField("published"))?;
        let event_type =
            non_empty(ev.event_type.0).ok_or(DetectError::MissingField("eventType"))?;
        let published_ms = match ev.published_ms {
            Some(ms) => ms,
            None => parse_published(&published)?,
        };
        let actor = ev.actor.0.unwrap_or_default();
        let client = ev.client.0.unwrap_or_default();
        let geo = client.geographical_context.0.unwrap_or_default();
        let geo_point = geo.geolocation.0.and_then(|g| match (g.lat.0, g.lon.0) {
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                Some(GeoPoint { lat, lon })
            }
            _ => None,
        });
        let outcome = ev.outcome.0.unwrap_or_default();
        let security = ev.security_context.0.unwrap_or_default();
        let auth = ev.authentication_context.0.unwrap_or_default();
        let debug = ev
            .debug_context
            .0
            .and_then(|d| d.debug_data.0)
            .unwrap_or_default();
        let target = ev
            .target
            .0
            .and_then(|targets| targets.into_iter().find_map(|t| t.0))
            .map(RawParty::into_party);
        Ok(Facts {
            uuid,
            published_ms,
            event_type,
            outcome_result: non_empty(outcome.result.0),
            outcome_reason: non_empty(outcome.reason.0),
            actor_id: non_empty(actor.id.0),
            actor_alternate_id: non_empty(actor.alternate_id.0),
            actor_display_name: non_empty(actor.display_name.0),
            actor_type: non_empty(actor.kind.0),
            target,
            client_id: non_empty(client.id.0),
            client_ip: non_empty(client.ip_address.0),
            geo_city: non_empty(geo.city.0),
            geo_state: non_empty(geo.state.0),
            geo_country: non_empty(geo.country.0),
            geo_point,
            as_number: security.as_number.0.and_then(|n| {
                // A whole number only; 1.5 is no AS number.
                (n.fract() == 0.0 && n >= 0.0 && n <= u32::MAX as f64).then_some(n as i64)
            }),
            as_org: non_empty(security.as_org.0),
            external_session_id: non_empty(auth.external_session_id.0).filter(|s| s != "unknown"),
            privilege_granted: non_empty(debug.privilege_granted.0),
            dt_hash: non_empty(debug.dt_hash.0).filter(|s| s != "unknown"),
            factor: non_empty(debug.factor.0),
            push_only_response_type: non_empty(debug.push_only_response_type.0),
        })
    }

    fn into_owned(self) -> Facts<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        Facts {
            uuid: Cow::Owned(self.uuid.into_owned()),
            published_ms: self.published_ms,
            event_type: Cow::Owned(self.event_type.into_owned()),
            outcome_result: own(self.outcome_result),
            outcome_reason: own(self.outcome_reason),
            actor_id: own(self.actor_id),
            actor_alternate_id: own(self.actor_alternate_id),
            actor_display_name: own(self.actor_display_name),
            actor_type: own(self.actor_type),
            target: self.target.map(|t| Party {
                id: own(t.id),
                kind: own(t.kind),
                alternate_id: own(t.alternate_id),
                display_name: own(t.display_name),
            }),
            client_id: own(self.client_id),
            client_ip: own(self.client_ip),
            geo_city: own(self.geo_city),
            geo_state: own(self.geo_state),
            geo_country: own(self.geo_country),
            geo_point: self.geo_point,
            as_number: self.as_number,
            as_org: own(self.as_org),
            external_session_id: own(self.external_session_id),
            privilege_granted: own(self.privilege_granted),
            dt_hash: own(self.dt_hash),
            factor: own(self.factor),
            push_only_response_type: own(self.push_only_response_type),
        }
    }

    /// `outcome.result` is `result` (Okta writes it upper case).
    pub fn outcome_is(&self, result: &str) -> bool {
        self.outcome_result.as_deref() == Some(result)
    }

    /// The actor's `alternateId`, lower case (logins are case-insensitive in Okta).
    pub fn actor_key(&self) -> Option<String> {
        self.actor_alternate_id
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
    }
}

/// Parses Okta's `published` as the normalizer does: RFC 3339 with any offset and fraction; a
/// timestamp without offset is UTC.
pub(crate) fn parse_published(published: &str) -> Result<i64, DetectError> {
    let s = published.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp_millis());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc().timestamp_millis())
        .map_err(|_| DetectError::InvalidPublished(s.to_owned()))
}

/// Milliseconds since the epoch as `2024-05-01T10:00:00.123Z`.
pub(crate) fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

pub(crate) fn non_empty(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|s| match s.as_bytes().first() {
        // What `trim` would keep: an ASCII character that is not white space (`char::
        // is_whitespace` holds for U+0009 to U+000D and U+0020 only, among ASCII).
        Some(b) if b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ') => true,
        _ => !s.trim().is_empty(),
    })
}

// ---- The borrowed, lenient LogEvent model -------------------------------------------------

#[derive(Default)]
struct LogEvent<'a> {
    uuid: Text<'a>,
    published: Text<'a>,
    event_type: Text<'a>,
    actor: Obj<RawParty<'a>>,
    target: List<Obj<RawParty<'a>>>,
    client: Obj<Client<'a>>,
    outcome: Obj<Outcome<'a>>,
    security_context: Obj<SecurityContext<'a>>,
    authentication_context: Obj<AuthenticationContext<'a>>,
    debug_context: Obj<DebugContext<'a>>,
    /// EventBridge envelope.
    detail: Obj<Box<LogEvent<'a>>>,
    /// `{"message": "<LogEvent JSON text>"}` wrapper.
    message: Text<'a>,
    /// Set by the fast reader only: see [`EventView::event_type_alone`].
    event_type_alone: bool,
    /// Set by the fast reader only: see [`EventView::top_texts`].
    top_texts: [TopText<'a>; 4],
    /// Set from [`EventParts::published_ms`] only: `published` already parsed.
    published_ms: Option<i64>,
    /// Set from [`EventParts::values_checked`] only: see [`EventView::values_checked`].
    values_checked: bool,
}

#[derive(Default)]
struct RawParty<'a> {
    id: Text<'a>,
    kind: Text<'a>,
    alternate_id: Text<'a>,
    display_name: Text<'a>,
}

impl<'a> RawParty<'a> {
    fn into_party(self) -> Party<'a> {
        Party {
            id: non_empty(self.id.0),
            kind: non_empty(self.kind.0),
            alternate_id: non_empty(self.alternate_id.0),
            display_name: non_empty(self.display_name.0),
        }
    }
}

#[derive(Default)]
struct Client<'a> {
    id: Text<'a>,
    ip_address: Text<'a>,
    geographical_context: Obj<GeographicalContext<'a>>,
}

#[derive(Default)]
struct GeographicalContext<'a> {
    city: Text<'a>,
    state: Text<'a>,
    country: Text<'a>,
    geolocation: Obj<Geolocation>,
}

#[derive(Default)]
struct Geolocation {
    lat: Number,
    lon: Number,
}

#[derive(Default)]
struct Outcome<'a> {
    result: Text<'a>,
    reason: Text<'a>,
}

#[derive(Default)]
struct SecurityContext<'a> {
    as_number: Number,
    as_org: Text<'a>,
}

#[derive(Default)]
struct AuthenticationContext<'a> {
    external_session_id: Text<'a>,
}

#[derive(Default)]
struct DebugContext<'a> {
    debug_data: Obj<DebugData<'a>>,
}

#[derive(Default)]
struct DebugData<'a> {
    privilege_granted: Text<'a>,
    dt_hash: Text<'a>,
    factor: Text<'a>,
    push_only_response_type: Text<'a>,
}

/// Reads a model struct from a JSON object: each listed member into its field (a member
/// given twice: the last one, as the normalizer and `serde_json::Value` read it), every other
/// member skipped; a value that is not an object is an error (callers reach these structs
/// through [`Obj`], which hands them objects only).
macro_rules! last_wins {
    ([$($gen:tt)*] $ty:ty { $($key:literal => $field:ident),* $(,)? }) => {
        impl<$($gen)*> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<T>(PhantomData<T>);
                impl<$($gen)*> Visitor<'de> for V<$ty> {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        let mut out = <$ty>::default();
                        while let Some(key) = map.next_key::<Key<'de>>()? {
                            match key.0.as_ref() {
                                $($key => out.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(PhantomData))
            }
        }
    };
}

last_wins!(['de: 'a, 'a] LogEvent<'a> {
    "uuid" => uuid,
    "published" => published,
    "eventType" => event_type,
    "actor" => actor,
    "target" => target,
    "client" => client,
    "outcome" => outcome,
    "securityContext" => security_context,
    "authenticationContext" => authentication_context,
    "debugContext" => debug_context,
    "detail" => detail,
    "message" => message,
});
last_wins!(['de: 'a, 'a] RawParty<'a> {
    "id" => id,
    "type" => kind,
    "alternateId" => alternate_id,
    "displayName" => display_name,
});
last_wins!(['de: 'a, 'a] Client<'a> {
    "id" => id,
    "ipAddress" => ip_address,
    "geographicalContext" => geographical_context,
});
last_wins!(['de: 'a, 'a] GeographicalContext<'a> {
    "city" => city,
    "state" => state,
    "country" => country,
    "geolocation" => geolocation,
});
last_wins!(['de] Geolocation { "lat" => lat, "lon" => lon });
last_wins!(['de: 'a, 'a] Outcome<'a> { "result" => result, "reason" => reason });
last_wins!(['de: 'a, 'a] SecurityContext<'a> { "asNumber" => as_number, "asOrg" => as_org });
last_wins!(['de: 'a, 'a] AuthenticationContext<'a> { "externalSessionId" => external_session_id });
last_wins!(['de: 'a, 'a] DebugContext<'a> { "debugData" => debug_data });
last_wins!(['de: 'a, 'a] DebugData<'a> {
    "privilegeGranted" => privilege_granted,
    "dtHash" => dt_hash,
    "factor" => factor,
    "pushOnlyResponseType" => push_only_response_type,
});

/// A member name, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A string member; a number or boolean reads as its text, anything else as absent.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Text<'a>, D2::Error> {
                Text::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A number member; a numeric string reads as its number, anything else as absent.
#[derive(Default)]
struct Number(Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v.is_finite().then_some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                Ok(Number(
                    v.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                ))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Number, D2::Error> {
                Number::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Number, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Number, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object member; anything that is not an object reads as absent.
struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Obj<T>, D2::Error> {
                Obj::deserialize(d)
            }
            fn visit_none<E: de::Error>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array member; anything that is not an array reads as absent.
struct List<T>(Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(List(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<List<T>, D2::Error> {
                List::deserialize(d)
            }
            fn visit_none<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                Ok(List(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    /// `non_empty` keeps exactly what has something left after `trim`.
    #[test]
    fn non_empty_is_what_trim_leaves() {
        let mut texts: Vec<String> = (0u8..128).map(|b| format!("{}x", b as char)).collect();
        texts.extend((0u8..128).map(|b| (b as char).to_string()));
        texts.extend(
            [
                "",
                " ",
                "\u{a0}",
                "\u{85}a",
                "\u{3000}",
                "é",
                " a ",
                "\u{2028}\u{2029}",
                "\u{1c}",
            ]
            .map(str::to_owned),
        );
        for t in texts {
            let kept = super::non_empty(Some(std::borrow::Cow::Borrowed(t.as_str()))).is_some();
            assert_eq!(kept, !t.trim().is_empty(), "{t:?}");
        }
    }

    use super::*;

    #[test]
    fn reads_the_fields_rules_need() {
        let raw = br#"{"uuid":"u1","published":"2024-05-01T10:00:00.123Z","eventType":"user.session.start",
            "actor":{"id":"00u1","type":"User","alternateId":"Alice@Example.com","displayName":"Alice"},
            "client":{"ipAddress":"203.0.113.9","geographicalContext":{"city":"Paris","country":"France",
              "geolocation":{"lat":48.85,"lon":2.35}}},
            "outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},
            "securityContext":{"asNumber":3215,"asOrg":"orange"},
            "authenticationContext":{"externalSessionId":"102abc"},
            "debugContext":{"debugData":{"dtHash":"ff00","privilegeGranted":"Super administrator"}},
            "target":[{"id":"00u2","type":"User","alternateId":"bob@example.com","displayName":"Bob"}]}"#;
        let view = EventView::from_bytes(raw, None).expect("a LogEvent");
        let f = view.facts();
        assert_eq!(f.uuid, "u1");
        assert_eq!(f.published_ms, 1_714_557_600_123);
        assert!(f.outcome_is("FAILURE"));
        assert_eq!(f.actor_key().as_deref(), Some("alice@example.com"));
        assert_eq!(
            f.geo_point,
            Some(GeoPoint {
                lat: 48.85,
                lon: 2.35
            })
        );
        assert_eq!(f.as_number, Some(3215));
        assert_eq!(f.external_session_id.as_deref(), Some("102abc"));
        assert_eq!(f.dt_hash.as_deref(), Some("ff00"));
        assert_eq!(
            f.target.as_ref().and_then(|t| t.alternate_id.as_deref()),
            Some("bob@example.com")
        );
    }

    #[test]
    fn members_of_unexpected_type_read_as_absent() {
        let raw = br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x",
            "actor":"not an object","target":{"not":"an array"},
            "client":{"ipAddress":42,"geographicalContext":{"geolocation":{"lat":"48.5","lon":[1]}}},
            "securityContext":{"asNumber":"3215"},"outcome":null,"debugContext":[1,2]}"#;
        let view = EventView::from_bytes(raw, None).expect("lenient");
        let f = view.facts();
        assert_eq!(f.actor_alternate_id, None);
        assert_eq!(f.target, None);
        assert_eq!(f.client_ip.as_deref(), Some("42"));
        assert_eq!(f.geo_point, None);
        assert_eq!(f.as_number, Some(3215));
        assert_eq!(f.outcome_result, None);
    }

    #[test]
    fn a_member_given_twice_is_the_last_one() {
        // As the normalizer and `serde_json::Value` read it (the pipeline takes the members
        // from the normalizer's parse): not an error that would hide the event from the rules.
        let raw = br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x",
            "eventType":"y","actor":{"alternateId":"a","alternateId":"b"},"actor":{"id":"c"},
            "debugContext":{"debugData":{"dtHash":"d1","dtHash":null}}}"#;
        let view = EventView::from_bytes(raw, None).expect("read");
        let f = view.facts();
        assert_eq!(f.event_type, "y");
        assert_eq!(f.actor_id.as_deref(), Some("c"));
        assert_eq!(f.actor_alternate_id, None);
        assert_eq!(f.dt_hash, None);
        let value: serde_json::Value = serde_json::from_slice(raw).expect("JSON");
        let view = EventView::from_value(&value, None).expect("read");
        assert_eq!(view.facts().event_type, "y");
        assert_eq!(view.facts().actor_id.as_deref(), Some("c"));
    }

    #[test]
    fn envelopes_are_unwrapped() {
        let bridge = br#"{"version":"0","detail-type":"SystemLog","detail":{"uuid":"u2",
            "published":"2024-05-01T10:00:00Z","eventType":"system.api_token.create"}}"#;
        let view = EventView::from_bytes(bridge, None).expect("EventBridge");
        assert_eq!(view.facts().uuid, "u2");
        let wrapper = br#"{"message":"{\"uuid\":\"u3\",\"published\":\"2024-05-01T10:00:00Z\",\"eventType\":\"a.b\"}"}"#;
        let view = EventView::from_bytes(wrapper, None).expect("wrapper");
        assert_eq!(view.facts().uuid, "u3");
        let value: serde_json::Value = serde_json::from_slice(bridge).expect("json");
        let view = EventView::from_value(&value, None).expect("value");
        assert_eq!(view.facts().event_type, "system.api_token.create");
    }

    #[test]
    fn missing_required_fields_fail() {
        let err = EventView::from_bytes(br#"{"uuid":"u","eventType":"x"}"#, None).unwrap_err();
        assert!(matches!(err, DetectError::MissingField("published")));
        let err = EventView::from_bytes(
            br#"{"uuid":"u","eventType":"x","published":"yesterday"}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, DetectError::InvalidPublished(_)));
        assert!(matches!(
            EventView::from_bytes(b" [1]", None).unwrap_err(),
            DetectError::NotAnObject
        ));
        assert!(matches!(
            EventView::from_bytes(b"{\"uuid\":", None).unwrap_err(),
            DetectError::NotJson(_)
        ));
        assert!(matches!(
            EventView::from_bytes(b"nope", None).unwrap_err(),
            DetectError::NotJson(_)
        ));
    }
}
