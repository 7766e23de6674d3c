//! A read-only view of a LogEvent as the normalizer parsed it, for a caller that reads more of
//! the event than the document (the pipeline's detect stage) without parsing it again: see
//! [`crate::Normalizer::normalize_fetched_into_with`].
//!
//! The view follows the normalizer's reading of the event: a member given twice is the last
//! one; a text member holds a string, or the JSON text of a number or a boolean (then it is
//! not borrowed from the input); a member whose value has a type the model does not take
//! (an object where text is expected, `"north"` for a latitude) is absent from the view and
//! flagged in `misfits` of the object holding it; `null`, `[]` and `{}` read as absent.

use std::borrow::Cow;

use crate::json::{Json, OktaObject, Text};
use crate::model;

/// A text member: a `Cow::Borrowed` string is a string of the input without escapes (these
/// exact bytes of it) or the literal `true` / `false`; anything else is owned.
pub type TextRef<'e, 'a> = &'e Cow<'a, str>;

fn text<'e, 'a>(t: &'e Option<Text<'a>>) -> Option<TextRef<'e, 'a>> {
    t.as_ref().map(|t| &t.0)
}

/// A LogEvent in its plain form (not a wrapper or an envelope), as the normalizer parsed it.
#[derive(Clone, Copy)]
pub struct ParsedEvent<'e, 'a> {
    ev: &'e model::LogEvent<'a>,
}

impl std::fmt::Debug for ParsedEvent<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedEvent").finish_non_exhaustive()
    }
}

/// An actor or a target: `id`, `type`, `alternateId`, `displayName`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParsedParty<'e, 'a> {
    /// `id`.
    pub id: Option<TextRef<'e, 'a>>,
    /// `type`.
    pub kind: Option<TextRef<'e, 'a>>,
    /// `alternateId`.
    pub alternate_id: Option<TextRef<'e, 'a>>,
    /// `displayName`.
    pub display_name: Option<TextRef<'e, 'a>>,
    /// Some member of the object had a type the model does not take.
    pub misfits: bool,
}

/// `client`: `id`, `ipAddress`, `geographicalContext`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParsedClient<'e, 'a> {
    /// `id`.
    pub id: Option<TextRef<'e, 'a>>,
    /// `ipAddress`.
    pub ip_address: Option<TextRef<'e, 'a>>,
    /// `geographicalContext`, when it is an object.
    pub geo: Option<ParsedGeo<'e, 'a>>,
    /// Some member of the object had a type the model does not take.
    pub misfits: bool,
}

/// `client.geographicalContext`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParsedGeo<'e, 'a> {
    /// `city`.
    pub city: Option<TextRef<'e, 'a>>,
    /// `state`.
    pub state: Option<TextRef<'e, 'a>>,
    /// `country`.
    pub country: Option<TextRef<'e, 'a>>,
    /// `geolocation.lat` (a finite number, or a string holding one).
    pub lat: Option<f64>,
    /// `geolocation.lon`.
    pub lon: Option<f64>,
    /// Some member of the object or of its `geolocation` had a type the model does not take.
    pub misfits: bool,
}

/// A scalar (or the kind of a container) in a free-form part of the event.
#[derive(Debug, Clone, Copy)]
pub enum ParsedValue<'e, 'a> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(&'e serde_json::Number),
    /// A string; `Cow::Borrowed`: these exact bytes of the input (no escapes).
    Str(TextRef<'e, 'a>),
    /// An array.
    Array,
    /// An object.
    Object,
}

/// `debugContext.debugData` when it is an object: every member, as given.
#[derive(Debug, Clone, Copy)]
pub struct ParsedDebugData<'e, 'a> {
    members: &'e [(Cow<'a, str>, Json<'a>)],
}

impl<'e, 'a> ParsedDebugData<'e, 'a> {
    /// Every member, as given (a name given twice comes twice), in input order.
    pub fn members(&self) -> impl Iterator<Item = (&'e str, ParsedValue<'e, 'a>)> {
        self.members
            .iter()
            .map(|(k, value)| (k.as_ref(), value_of(value)))
    }

    /// The value of the last member named `name`.
    pub fn get(&self, name: &str) -> Option<ParsedValue<'e, 'a>> {
        let (_, value) = self.members.iter().rev().find(|(k, _)| k == name)?;
        Some(value_of(value))
    }
}

fn value_of<'e, 'a>(value: &'e Json<'a>) -> ParsedValue<'e, 'a> {
    match value {
        Json::Null => ParsedValue::Null,
        Json::Bool(b) => ParsedValue::Bool(*b),
        Json::Num(n) => ParsedValue::Number(n),
        Json::Str(s) => ParsedValue::Str(s),
        Json::Arr(_) => ParsedValue::Array,
        Json::Obj(_) => ParsedValue::Object,
    }
}

impl<'e, 'a> ParsedEvent<'e, 'a> {
    pub(crate) fn new(ev: &'e model::LogEvent<'a>) -> Self {
        ParsedEvent { ev }
    }

    /// `uuid`.
    pub fn uuid(&self) -> Option<TextRef<'e, 'a>> {
        text(&self.ev.uuid)
    }

    /// `published`.
    pub fn published(&self) -> Option<TextRef<'e, 'a>> {
        text(&self.ev.published)
    }

    /// `eventType`.
    pub fn event_type(&self) -> Option<TextRef<'e, 'a>> {
        text(&self.ev.event_type)
    }

    /// `displayMessage`.
    pub fn display_message(&self) -> Option<TextRef<'e, 'a>> {
        text(&self.ev.display_message)
    }

    /// `legacyEventType`.
    pub fn legacy_event_type(&self) -> Option<TextRef<'e, 'a>> {
        text(&self.ev.legacy_event_type)
    }

    /// The names of the top-level members the model does not know (unescaped), in input order.
    pub fn other_names(&self) -> impl Iterator<Item = &'e str> {
        self.ev.extra.iter().map(|(k, _)| k.as_ref())
    }

    /// Some top-level member had a type the model does not take.
    pub fn misfits(&self) -> bool {
        !self.ev.misfits.is_empty()
    }

    /// `actor`, when it is an object.
    pub fn actor(&self) -> Option<ParsedParty<'e, 'a>> {
        let a = self.ev.actor.as_ref().filter(|a| a.other().is_none())?;
        Some(ParsedParty {
            id: text(&a.id),
            kind: text(&a.kind),
            alternate_id: text(&a.alternate_id),
            display_name: text(&a.display_name),
            misfits: !a.misfits.is_empty(),
        })
    }

    /// The first element of `target` that is an object (`None` also when `target` is not an
    /// array).
    pub fn first_target(&self) -> Option<ParsedParty<'e, 'a>> {
        let list = self.ev.target.as_ref()?;
        let t = list.items.iter().find(|t| t.other().is_none())?;
        Some(ParsedParty {
            id: text(&t.id),
            kind: text(&t.kind),
            alternate_id: text(&t.alternate_id),
            display_name: text(&t.display_name),
            misfits: !t.misfits.is_empty(),
        })
    }

    /// `client`, when it is an object.
    pub fn client(&self) -> Option<ParsedClient<'e, 'a>> {
        let c = self.ev.client.as_ref().filter(|c| c.other().is_none())?;
        let geo = c
            .geographical_context
            .as_ref()
            .filter(|g| g.other().is_none())
            .map(|g| {
                let location = g.geolocation.as_ref().filter(|l| l.other().is_none());
                ParsedGeo {
                    city: text(&g.city),
                    state: text(&g.state),
                    country: text(&g.country),
                    lat: location.and_then(|l| l.lat).map(|f| f.0),
                    lon: location.and_then(|l| l.lon).map(|f| f.0),
                    misfits: !g.misfits.is_empty()
                        || location.is_some_and(|l| !l.misfits.is_empty()),
                }
            });
        Some(ParsedClient {
            id: text(&c.id),
            ip_address: text(&c.ip_address),
            geo,
            misfits: !c.misfits.is_empty(),
        })
    }

    /// `outcome.result` and `outcome.reason`, when `outcome` is an object; and whether one of
    /// its members had a type the model does not take.
    pub fn outcome(&self) -> Option<(Option<TextRef<'e, 'a>>, Option<TextRef<'e, 'a>>, bool)> {
        let o = self.ev.outcome.as_ref().filter(|o| o.other().is_none())?;
        Some((text(&o.result), text(&o.reason), !o.misfits.is_empty()))
    }

    /// `securityContext.asNumber` (a non-negative whole number, or a string holding one) and
    /// `securityContext.asOrg`, when `securityContext` is an object; and whether one of its
    /// members had a type the model does not take.
    pub fn security_context(&self) -> Option<(Option<u64>, Option<TextRef<'e, 'a>>, bool)> {
        let s = self
            .ev
            .security_context
            .as_ref()
            .filter(|s| s.other().is_none())?;
        Some((
            s.as_number.map(|n| n.0),
            text(&s.as_org),
            !s.misfits.is_empty(),
        ))
    }

    /// `authenticationContext.externalSessionId`, when `authenticationContext` is an object;
    /// and whether one of its members had a type the model does not take.
    pub fn external_session_id(&self) -> Option<(Option<TextRef<'e, 'a>>, bool)> {
        let a = self
            .ev
            .authentication_context
            .as_ref()
            .filter(|a| a.other().is_none())?;
        Some((text(&a.external_session_id), !a.misfits.is_empty()))
    }

    /// `debugContext.debugData`, when both are objects.
    pub fn debug_data(&self) -> Option<ParsedDebugData<'e, 'a>> {
        let d = self
            .ev
            .debug_context
            .as_ref()
            .filter(|d| d.other().is_none())?;
        match d.debug_data.as_ref()? {
            Json::Obj(members) => Some(ParsedDebugData { members }),
            _ => None,
        }
    }

    /// `debugContext` as given: `None` when absent.
    pub fn debug_context(&self) -> Option<ParsedDebugContext<'e, 'a>> {
        self.ev
            .debug_context
            .as_ref()
            .map(|dc| ParsedDebugContext { dc })
    }

    /// `securityContext` as given: `None` when absent (or read as absent: `null`, ...).
    pub fn security_context_fields(&self) -> Option<ParsedSecurityContext<'e, 'a>> {
        self.ev
            .security_context
            .as_ref()
            .map(|sc| ParsedSecurityContext { sc })
    }
}

/// `securityContext`, for a caller that must know every member under it a reader could take
/// for one of its members (names compared without regard to case, say).
#[derive(Debug, Clone, Copy)]
pub struct ParsedSecurityContext<'e, 'a> {
    sc: &'e model::SecurityContext<'a>,
}

impl<'e, 'a> ParsedSecurityContext<'e, 'a> {
    /// Whether `securityContext` is an object whose members all had a type the model takes.
    pub fn is_object(&self) -> bool {
        self.sc.other().is_none() && self.sc.misfits.is_empty()
    }

    /// The names of its members the model does not know (unescaped), in input order.
    pub fn other_names(&self) -> impl Iterator<Item = &'e str> {
        self.sc.extra.iter().map(|(k, _)| k.as_ref())
    }

    /// `isProxy` (the last one given): `true` / `false`, or a string equal to either without
    /// regard to ASCII case; `None` when absent or read as absent (`null`, `""`, containers of
    /// those). Meaningful when [`ParsedSecurityContext::is_object`] (a value of another type is
    /// a misfit).
    pub fn is_proxy(&self) -> Option<bool> {
        self.sc.is_proxy.map(|f| f.0)
    }
}

/// `debugContext`, for a caller that must know every member under it a reader could take for
/// one of its members (names compared without regard to case, say).
#[derive(Debug, Clone, Copy)]
pub struct ParsedDebugContext<'e, 'a> {
    dc: &'e model::DebugContext<'a>,
}

/// What `debugContext.debugData` is, as given.
#[derive(Debug, Clone, Copy)]
pub enum ParsedDebugDataState<'e, 'a> {
    /// No member named exactly `debugData`.
    Absent,
    /// An object: every member, as given.
    Object(ParsedDebugData<'e, 'a>),
    /// Any other value.
    Other,
}

impl<'e, 'a> ParsedDebugContext<'e, 'a> {
    /// Whether `debugContext` is an object whose members all had a type the model takes.
    pub fn is_object(&self) -> bool {
        self.dc.other().is_none() && self.dc.misfits.is_empty()
    }

    /// The names of its members other than `debugData` (unescaped), in input order.
    pub fn other_names(&self) -> impl Iterator<Item = &'e str> {
        self.dc.extra.iter().map(|(k, _)| k.as_ref())
    }

    /// Its `debugData` (the last one given).
    pub fn debug_data(&self) -> ParsedDebugDataState<'e, 'a> {
        match self.dc.debug_data.as_ref() {
            None => ParsedDebugDataState::Absent,
            Some(Json::Obj(members)) => ParsedDebugDataState::Object(ParsedDebugData { members }),
            Some(_) => ParsedDebugDataState::Other,
        }
    }
}
