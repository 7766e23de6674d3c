//! The members the rules read, given by a caller that has already parsed the event (the
//! pipeline's normalizer) as byte ranges of the raw event text: [`EventParts`], read by
//! [`super::EventView::from_parts`] without scanning the event again.

use std::borrow::Cow;

use super::{
    AuthenticationContext, Client, DebugContext, DebugData, GeographicalContext, Geolocation, List,
    LogEvent, Number, Obj, Outcome, RawParty, SecurityContext, Text, TopText,
};

/// The text of one member: a byte range of the raw event text (a JSON string without escapes,
/// without its quotes), or a boolean read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// `raw[start..end]`.
    Span {
        /// First byte.
        start: u32,
        /// One past the last byte.
        end: u32,
    },
    /// `true` (read as the text `true`).
    True,
    /// `false`.
    False,
}

impl Piece {
    /// The piece's text in `raw` (`None`: out of range or not on character boundaries).
    fn text(self, raw: &str) -> Option<&str> {
        match self {
            Piece::Span { start, end } => raw.get(start as usize..end as usize),
            Piece::True => Some("true"),
            Piece::False => Some("false"),
        }
    }
}

/// An actor or target's members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartyParts {
    /// `id`.
    pub id: Option<Piece>,
    /// `type`.
    pub kind: Option<Piece>,
    /// `alternateId`.
    pub alternate_id: Option<Piece>,
    /// `displayName`.
    pub display_name: Option<Piece>,
}

/// What a member the Sigma prefilter compares directly (`displayMessage`, `legacyEventType`,
/// `debugContext.debugData.requestUri`) is known to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TopPart {
    /// Exactly one top-level member has that name in any ASCII case (after unescaping),
    /// spelled exactly so, or several spelled exactly so of which this is the last; its value
    /// is a string without escapes, these bytes.
    Plain {
        /// First byte.
        start: u32,
        /// One past the last byte.
        end: u32,
    },
    /// No member has that name in any ASCII case: for `requestUri`, no top-level name begins
    /// with `debugContext` in any ASCII case other than `debugContext` itself, and that one (if
    /// given) is an object with no member other than `debugData` whose name begins with
    /// `debugData` in any case, whose `debugData` (if given) is an object with no member whose
    /// name equals `requestUri` or begins with `requestUri.` in any case.
    Absent,
    /// Exactly one top-level member has that name in any ASCII case, spelled exactly so (or
    /// several spelled exactly so, of which this is the last), and its value holds no text: it
    /// is `null`, or arrays and objects of `null` and `""` only (what the normalizer's model
    /// reads as no value). No Sigma string test with a non-empty literal holds on it, as on an
    /// absent member. For `securityContext.isProxy`: `securityContext` is an object whose
    /// members all have the types the normalizer's model takes, no member of it other than
    /// `isProxy` has that name in any ASCII case or begins with it and a `.`, no top-level
    /// name other than `securityContext` begins with `securityContext` in any ASCII case, and
    /// `isProxy` (the last one) is absent or holds no text. Not for `requestUri`.
    NoText,
    /// `securityContext.isProxy` only, under the same conditions as [`TopPart::NoText`] but
    /// that its value is `true` / `false`, or a string equal to either without regard to ASCII
    /// case: which one.
    Flag(bool),
    /// Not known.
    #[default]
    Other,
}

/// The members of a plain LogEvent (not a wrapper or an envelope) the rules read, as a
/// parser read them with the reading of [`super::EventView::from_bytes`]: a member given
/// twice is the last one; a member of another type than the rules take is absent (`None`),
/// except that the caller must not build parts for an event where a text member is a number
/// (read as its text with `from_bytes`) or an escaped string: those are read from the bytes.
/// `None` for an object (`actor`, `client`, ...) means it is absent or not an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventParts {
    /// `uuid`.
    pub uuid: Option<Piece>,
    /// `published`.
    pub published: Option<Piece>,
    /// `published` in milliseconds since the epoch, when the caller already parsed it the way
    /// the detector does (RFC 3339, else a date and time without offset taken as UTC; the
    /// normalizer's parse): the detector then does not parse it again. `None`: the detector
    /// parses [`EventParts::published`] (and refuses the event if it does not parse).
    pub published_ms: Option<i64>,
    /// `eventType`.
    pub event_type: Option<Piece>,
    /// `actor`.
    pub actor: Option<PartyParts>,
    /// The first element of `target` that is an object.
    pub target: Option<PartyParts>,
    /// `client.id`.
    pub client_id: Option<Piece>,
    /// `client.ipAddress`.
    pub client_ip: Option<Piece>,
    /// `client.geographicalContext.city`.
    pub geo_city: Option<Piece>,
    /// `client.geographicalContext.state`.
    pub geo_state: Option<Piece>,
    /// `client.geographicalContext.country`.
    pub geo_country: Option<Piece>,
    /// `client.geographicalContext.geolocation.lat`: a finite number, or a string holding one.
    pub lat: Option<f64>,
    /// `client.geographicalContext.geolocation.lon`.
    pub lon: Option<f64>,
    /// `outcome.result`.
    pub outcome_result: Option<Piece>,
    /// `outcome.reason`.
    pub outcome_reason: Option<Piece>,
    /// `securityContext.asNumber`: a finite number, or a string holding one.
    pub as_number: Option<f64>,
    /// `securityContext.asOrg`.
    pub as_org: Option<Piece>,
    /// `authenticationContext.externalSessionId`.
    pub external_session_id: Option<Piece>,
    /// `debugContext.debugData.privilegeGranted`.
    pub privilege_granted: Option<Piece>,
    /// `debugContext.debugData.dtHash`.
    pub dt_hash: Option<Piece>,
    /// `debugContext.debugData.factor`.
    pub factor: Option<Piece>,
    /// `debugContext.debugData.pushOnlyResponseType`.
    pub push_only_response_type: Option<Piece>,
    /// True only when no top-level member other than `eventType` has that name in any ASCII
    /// case (after unescaping): then [`super::Facts::event_type`] is the only value any Sigma
    /// rule sees under that name (see [`super::EventView::event_type_alone`]).
    pub event_type_alone: bool,
    /// `displayMessage`, for the Sigma prefilter.
    pub display_message: TopPart,
    /// `legacyEventType`, for the Sigma prefilter.
    pub legacy_event_type: TopPart,
    /// `debugContext.debugData.requestUri`, for the Sigma prefilter: [`TopPart::Plain`] when
    /// the conditions of [`TopPart::Absent`] hold except that `debugData` has exactly one
    /// member whose name equals `requestUri` or begins with `requestUri.` in any case, spelled
    /// `requestUri`, a string without escapes.
    pub request_uri: TopPart,
    /// `securityContext.isProxy`, for the Sigma prefilter: [`TopPart::Flag`],
    /// [`TopPart::NoText`], [`TopPart::Absent`] (no `securityContext`, nor any top-level
    /// name beginning with it in any ASCII case) or [`TopPart::Other`].
    pub is_proxy: TopPart,
    /// True when the caller's parser read the value of every top-level member of `raw` other
    /// than `detail` the way `serde_json` reads it into a `serde_json::Value` (every string,
    /// escape and number checked, nesting within its limit), and `raw` as one JSON object:
    /// the normalizer's parse of a plain LogEvent does (it takes `detail` as a raw value, which
    /// serde_json checks less). The Sigma path then skips the members its rules do not read
    /// without checking them again. False: they are checked.
    pub values_checked: bool,
}

fn text(raw: &str, piece: Option<Piece>) -> Option<Text<'_>> {
    match piece {
        None => Some(Text(None)),
        Some(p) => p.text(raw).map(|s| Text(Some(Cow::Borrowed(s)))),
    }
}

fn party<'a>(raw: &'a str, p: &PartyParts) -> Option<RawParty<'a>> {
    Some(RawParty {
        id: text(raw, p.id)?,
        kind: text(raw, p.kind)?,
        alternate_id: text(raw, p.alternate_id)?,
        display_name: text(raw, p.display_name)?,
    })
}

fn top(raw: &[u8], part: TopPart) -> TopText<'_> {
    match part {
        TopPart::Plain { start, end } => raw
            .get(start as usize..end as usize)
            .map_or(TopText::Other, TopText::Plain),
        TopPart::Absent => TopText::Absent,
        TopPart::NoText => TopText::NoText,
        TopPart::Flag(true) => TopText::Plain(b"true"),
        TopPart::Flag(false) => TopText::Plain(b"false"),
        TopPart::Other => TopText::Other,
    }
}

/// The [`LogEvent`] model of `parts` over `raw` (`None`: `raw` is not UTF-8, or a piece is out
/// of range).
pub(super) fn log_event<'a>(raw: &'a [u8], parts: &EventParts) -> Option<LogEvent<'a>> {
    // One check of the whole text (the normalizer's parts come from UTF-8 input) costs less
    // than one per piece; then each piece is a slice of it.
    let bytes = raw;
    let raw = simdutf8::basic::from_utf8(bytes).ok()?;
    let geo_present = parts.geo_city.is_some()
        || parts.geo_state.is_some()
        || parts.geo_country.is_some()
        || parts.lat.is_some()
        || parts.lon.is_some();
    let geographical_context = if geo_present {
        Obj(Some(GeographicalContext {
            city: text(raw, parts.geo_city)?,
            state: text(raw, parts.geo_state)?,
            country: text(raw, parts.geo_country)?,
            geolocation: Obj(Some(Geolocation {
                lat: Number(parts.lat),
                lon: Number(parts.lon),
            })),
        }))
    } else {
        Obj(None)
    };
    Some(LogEvent {
        uuid: text(raw, parts.uuid)?,
        published: text(raw, parts.published)?,
        event_type: text(raw, parts.event_type)?,
        actor: Obj(match &parts.actor {
            Some(p) => Some(party(raw, p)?),
            None => None,
        }),
        target: List(match &parts.target {
            Some(p) => Some(vec![Obj(Some(party(raw, p)?))]),
            None => None,
        }),
        client: Obj(Some(Client {
            id: text(raw, parts.client_id)?,
            ip_address: text(raw, parts.client_ip)?,
            geographical_context,
        })),
        outcome: Obj(Some(Outcome {
            result: text(raw, parts.outcome_result)?,
            reason: text(raw, parts.outcome_reason)?,
        })),
        security_context: Obj(Some(SecurityContext {
            as_number: Number(parts.as_number),
            as_org: text(raw, parts.as_org)?,
        })),
        authentication_context: Obj(Some(AuthenticationContext {
            external_session_id: text(raw, parts.external_session_id)?,
        })),
        debug_context: Obj(Some(DebugContext {
            debug_data: Obj(Some(DebugData {
                privilege_granted: text(raw, parts.privilege_granted)?,
                dt_hash: text(raw, parts.dt_hash)?,
                factor: text(raw, parts.factor)?,
                push_only_response_type: text(raw, parts.push_only_response_type)?,
            })),
        })),
        detail: Obj(None),
        message: Text(None),
        event_type_alone: parts.event_type_alone && parts.event_type.is_some(),
        published_ms: parts.published_ms,
        values_checked: parts.values_checked,
        top_texts: top_texts(bytes, parts),
    })
}

/// The members the Sigma prefilter compares directly ([`super::EventView::top_texts`]).
fn top_texts<'a>(raw: &'a [u8], parts: &EventParts) -> [TopText<'a>; 4] {
    [
        top(raw, parts.display_message),
        top(raw, parts.legacy_event_type),
        top(raw, parts.request_uri),
        top(raw, parts.is_proxy),
    ]
}

/// What the detector looks at before it reads the rest of an event ([`glance`]).
pub(crate) struct Glance<'a> {
    /// `eventType`: the text [`super::Facts::event_type`] holds.
    pub(crate) event_type: &'a str,
    /// `published` in ms (the normalizer's parse).
    pub(crate) published_ms: i64,
    /// See [`super::EventView::event_type_alone`].
    pub(crate) event_type_alone: bool,
    /// See [`super::EventView::top_texts`].
    pub(crate) top_texts: [TopText<'a>; 4],
}

/// The [`Glance`] of `parts` over `raw`, when the event's view would certainly read (the
/// facts' required members, `uuid`, `published` and `eventType`, are text that is not blank,
/// and `published` was parsed by the caller): `None` otherwise (the caller reads the event).
/// Checks only those three pieces as UTF-8, not the whole text.
pub(crate) fn glance<'a>(raw: &'a [u8], parts: &EventParts) -> Option<Glance<'a>> {
    let published_ms = parts.published_ms?;
    let piece = |p: Option<Piece>| -> Option<&'a str> {
        let Piece::Span { start, end } = p? else {
            return None;
        };
        let text = std::str::from_utf8(raw.get(start as usize..end as usize)?).ok()?;
        super::non_empty(Some(Cow::Borrowed(text)))?;
        Some(text)
    };
    piece(parts.uuid)?;
    piece(parts.published)?;
    let event_type = piece(parts.event_type)?;
    Some(Glance {
        event_type,
        published_ms,
        event_type_alone: parts.event_type_alone,
        top_texts: top_texts(raw, parts),
    })
}
