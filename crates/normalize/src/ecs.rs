//! The mapping of one [`LogEvent`] to its ECS document (see `docs/fields.md`).
//!
//! Every output field has one JSON type in every document, so that a search
//! engine's mapping never rejects a document: a value whose JSON type does not
//! fit its field (a *misfit*, see [`crate::json`]) is not written there but
//! under `okta.system.unmapped`, as `{path, value}` with its Okta path and its
//! JSON text.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::SubsecRound;

use crate::category::{classify, Class};
use crate::debug::DebugData;
use crate::domain::{self, DomainParts};
use crate::error::NormalizeError;
use crate::geoip::{GeoFacts, GeoIp};
use crate::json::{Json, List, OktaObject, Text};
use crate::model::{
    is_borrowed, json, text, Actor, Client, DebugContext, Envelope, Geo, Geolocation, IpChainEntry,
    LogEvent, Outcome, Request, SecurityContext, Target, UserAgent,
};
use crate::outcome::{event_outcome, event_severity};
use crate::profile::{
    write_device_details, write_stamp, write_user_details, write_users_details, DeviceLookup,
    Profiles, UserLookup,
};
use crate::timestamp;
use crate::user_agent::{os_name_and_version, UserAgentInfo, UserAgentParser};
use crate::writer::{k, write_json, JsonWriter, Key};
use crate::EventSummary;

/// `event.dataset` (as Sekoia.io).
pub(crate) const DATASET: &str = "system-log";
/// `observer.vendor`.
pub(crate) const VENDOR: &str = "Okta";
/// `observer.product`.
pub(crate) const PRODUCT: &str = "Okta Identity Cloud";
/// `observer.type`.
pub(crate) const OBSERVER_TYPE: &str = "iam";

/// `okta.system.*` keys this mapping writes; an unknown top-level LogEvent
/// member with one of these names goes to `okta.system.unmapped` instead.
const SYSTEM_KEYS: &[&str] = &[
    "version",
    "published",
    "severity",
    "legacy_event_type",
    "actor",
    "target",
    "targets",
    "client",
    "device",
    "authentication_context",
    "security_context",
    "debug",
    "debug_context",
    "outcome",
    "transaction",
    "ip_chain",
    "request",
    "unmapped",
];

/// Okta's placeholder for an unknown actor or target value (`"unknown"`).
const PLACEHOLDER: &str = "unknown";

/// What the mapping needs besides the event.
pub(crate) struct Context<'n> {
    pub(crate) psl: &'n publicsuffix::List,
    pub(crate) geoip: Option<&'n GeoIp>,
    pub(crate) user_agents: &'n mut UserAgentParser,
    /// When the event was fetched: `@timestamp` when `published` is unusable.
    pub(crate) fetched_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Identity enrichment, when on.
    pub(crate) profiles: Option<&'n Profiles>,
}

/// The object a LogEvent arrived in, when it was not sent bare.
#[derive(Clone, Copy)]
pub(crate) enum Outer<'s, 'a> {
    /// `{"message": "<LogEvent JSON text>", ...}`.
    Wrapper(&'s Envelope<'a>),
    /// AWS EventBridge envelope (`detail-type`, `detail`, ...).
    EventBridge(&'s Envelope<'a>),
}

/// Where a value sits in the LogEvent, for `okta.system.unmapped.path`:
/// `base[index].sub.<key>`; built only when something is unmapped.
#[derive(Clone, Copy)]
pub(crate) struct At {
    base: &'static str,
    index: Option<usize>,
    sub: &'static str,
}

impl At {
    const ROOT: At = At::key("");

    pub(crate) const fn key(base: &'static str) -> At {
        At {
            base,
            index: None,
            sub: "",
        }
    }

    pub(crate) const fn index(base: &'static str, index: usize) -> At {
        At {
            base,
            index: Some(index),
            sub: "",
        }
    }

    pub(crate) const fn sub(self, sub: &'static str) -> At {
        At { sub, ..self }
    }

    /// The dotted Okta path of member `key` here (`key` may be empty).
    fn join(self, key: &str) -> String {
        let mut path = String::from(self.base);
        if let Some(i) = self.index {
            let _ = write!(path, "[{i}]");
        }
        for part in [self.sub, key] {
            if !part.is_empty() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(part);
            }
        }
        path
    }
}

/// Values kept verbatim under `okta.system.unmapped`, by Okta path.
#[derive(Default)]
pub(crate) struct Unmapped<'s>(Vec<(String, &'s Json<'s>)>);

impl<'s> Unmapped<'s> {
    pub(crate) fn push(&mut self, at: At, key: &str, value: &'s Json<'s>) {
        if !value.is_empty() {
            self.0.push((at.join(key), value));
        }
    }

    /// The misfits of `obj` (see [`crate::json::Member`]).
    pub(crate) fn misfits<'a: 's, T: OktaObject<'a>>(&mut self, at: At, obj: &'s T) {
        for (key, value) in obj.misfits() {
            self.push(at, key, value);
        }
    }
}

/// What every schema needs first: the event's id, type and time.
pub(crate) struct Essentials<'s> {
    pub(crate) id: &'s str,
    pub(crate) event_type: &'s str,
    pub(crate) published_text: Option<&'s str>,
    /// `published`, or the fetch time when it is unusable (then `published_error` says why).
    pub(crate) published: chrono::DateTime<chrono::Utc>,
    pub(crate) published_error: Option<NormalizeError>,
}

/// Reads `uuid`, `eventType` and `published`; without a usable `published` the
/// event is kept at `fetched_at`, when known.
pub(crate) fn essentials<'s>(
    ev: &'s LogEvent<'_>,
    fetched_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Essentials<'s>, NormalizeError> {
    let id = text(&ev.uuid).ok_or(NormalizeError::MissingField("uuid"))?;
    let event_type = text(&ev.event_type).ok_or(NormalizeError::MissingField("eventType"))?;
    let published_text = text(&ev.published);
    let parsed = match published_text {
        Some(t) => timestamp::parse(t).map_err(|reason| NormalizeError::InvalidField {
            field: "published",
            reason,
        }),
        None => Err(NormalizeError::MissingField("published")),
    };
    let (published, published_error) = match (parsed, fetched_at) {
        (Ok(t), _) => (t, None),
        (Err(e), Some(fetched_at)) => (fetched_at, Some(e)),
        (Err(e), None) => return Err(e),
    };
    Ok(Essentials {
        id,
        event_type,
        published_text,
        published,
        published_error,
    })
}

/// Maps `ev` and appends its document to `out`. `original` is the raw LogEvent
/// text for `event.original`, when wanted. On error nothing is written.
pub(crate) fn write_document(
    cx: &mut Context<'_>,
    ev: &LogEvent<'_>,
    outer: Option<Outer<'_, '_>>,
    original: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<EventSummary, NormalizeError> {
    let Essentials {
        id,
        event_type,
        published_text,
        published,
        published_error,
    } = essentials(ev, cx.fetched_at)?;
    let class = classify(event_type);

    let mut unmapped = Unmapped::default();
    let u = &mut unmapped;
    let Sections {
        client,
        security,
        actor,
        outcome,
        targets,
        request,
        ip_chain,
        debug_context,
        debug_data,
    } = sections(ev, u);
    let debug = DebugData::new(debug_data);

    // Source address facts.
    let ip_text = client.and_then(|c| text(&c.ip_address)).map(str::trim);
    let ip: Option<IpAddr> = ip_text.and_then(|s| s.parse().ok());
    let domain_text = security.and_then(|s| text(&s.domain));
    let domain_parts = domain_text.and_then(|d| domain::split(cx.psl, d));
    let facts = match (cx.geoip, ip) {
        (Some(g), Some(ip)) => g.lookup(ip),
        _ => GeoFacts::default(),
    };
    let geo = client.and_then(|c| {
        object(
            &c.geographical_context,
            At::key("client.geographicalContext"),
            u,
        )
    });
    let geolocation = geo.and_then(|g| {
        object(
            &g.geolocation,
            At::key("client.geographicalContext.geolocation"),
            u,
        )
    });

    // User agent.
    let okta_ua = client.and_then(|c| object(&c.user_agent, At::key("client.userAgent"), u));
    let raw_ua = okta_ua.and_then(|ua| text(&ua.raw_user_agent));
    let usable_ua = raw_ua.filter(|raw| !contains_ignore_case(raw, "unknown"));
    let ua_info = usable_ua.map(|raw| cx.user_agents.parse(raw));

    // People.
    let actor_name = actor
        .and_then(|a| text(&a.alternate_id))
        .map(strip_backslashes)
        .filter(|s| known(s));
    // The Okta user first: an app account (AppUser) only when no User is targeted, so
    // `user.target.id` joins on the user whatever the order of the targets.
    let user_target =
        first_target(targets, &["User"]).or_else(|| first_target(targets, &["AppUser"]));
    let target_name = user_target
        .and_then(|t| text(&t.alternate_id))
        .map(strip_backslashes)
        .filter(|s| known(s));
    let group_target = first_target(targets, &["UserGroup"]);
    let app_target = first_target(targets, &["AppInstance"]);
    let roles = debug_data
        .iter()
        .filter_map(|(key, value)| match (key.as_ref(), value) {
            ("privilegeGranted" | "privilegeRevoked", Json::Str(list)) => Some(list.as_ref()),
            _ => None,
        });

    // Identity enrichment: the actor's, the target user's and the device's profiles.
    let actor_id = actor.and_then(|a| text(&a.id)).filter(|s| known(s));
    let target_id = user_target
        .filter(|t| text(&t.kind) == Some("User"))
        .and_then(|t| text(&t.id))
        .filter(|s| known(s));
    let event_device_id = match json(&ev.device) {
        Some(Json::Obj(device)) => device_id(device),
        _ => None,
    };
    let (actor_profile, target_profile, device_profile) = match cx.profiles {
        Some(p) => (
            p.lookup_user(
                actor_id.filter(|_| actor.is_some_and(|a| text(&a.kind) == Some("User"))),
            ),
            p.lookup_user(target_id),
            p.lookup_device(event_device_id),
        ),
        None => (UserLookup::Off, UserLookup::Off, DeviceLookup::Off),
    };
    let actor_found = match &actor_profile {
        UserLookup::Found(p) => Some(*p),
        _ => None,
    };
    let target_found = match &target_profile {
        UserLookup::Found(p) => Some(*p),
        _ => None,
    };

    let start = out.len();
    let mut w = JsonWriter::new(out);
    let mut stamp = [0u8; timestamp::LEN];
    // Digits and `-:.TZ+`: nothing to escape.
    w.clean_str(k!("@timestamp"), &timestamp::format(&published, &mut stamp));

    // event.*
    w.open_object(k!("event"));
    w.known_str(k!("kind"), class.event_kind());
    // `id` and `event_type` are these two, not empty.
    w.text(k!("id"), &ev.uuid);
    w.text(k!("action"), &ev.event_type);
    w.known_str_array(k!("category"), class.category.iter().copied());
    w.known_str_array(k!("type"), class.kind.iter().copied());
    // ECS: "unknown" when the outcome could not be determined, missing included.
    w.known_str(
        k!("outcome"),
        outcome
            .and_then(|o| text(&o.result))
            .map_or("unknown", event_outcome),
    );
    let severity = text(&ev.severity);
    w.u64(
        k!("severity"),
        severity.and_then(event_severity).map(u64::from),
    );
    w.text(k!("reason"), &ev.display_message);
    w.known_str(k!("dataset"), DATASET);
    w.str(k!("original"), original);
    w.close();

    if let Some(e) = &published_error {
        w.open_object(k!("error"));
        let message = format!("{e}; @timestamp is the time the event was fetched");
        w.str(k!("message"), Some(&message));
        w.close();
        w.str_array(k!("tags"), [crate::PUBLISHED_UNPARSABLE_TAG]);
    }

    w.open_object(k!("observer"));
    w.known_str(k!("vendor"), VENDOR);
    w.known_str(k!("product"), PRODUCT);
    w.known_str(k!("type"), OBSERVER_TYPE);
    w.close();

    if let Some(Outer::EventBridge(envelope)) = outer {
        w.open_object(k!("cloud"));
        w.str(k!("provider"), Some("aws"));
        w.open_object(k!("account"));
        w.text(k!("id"), &envelope.account);
        w.close();
        w.text(k!("region"), &envelope.region);
        w.close();
    }

    write_source(
        &mut w,
        client,
        security,
        SourceParts {
            ip_text,
            ip_clean: client.is_some_and(|c| is_borrowed(&c.ip_address)),
            ip,
            domain_text,
            domain_clean: security.is_some_and(|s| is_borrowed(&s.domain)),
            domain_parts: domain_parts.as_ref(),
            geo,
            geolocation,
            facts: &facts,
        },
    );

    w.open_object(k!("user"));
    if let Some(a) = actor {
        // From Okta's borrowed strings (nothing to escape), else from the profile.
        let name_clean = is_borrowed(&a.alternate_id);
        w.str_clean_if(
            k!("id"),
            text(&a.id).filter(|s| known(s)),
            is_borrowed(&a.id),
        );
        w.str_clean_if(k!("name"), actor_name, name_clean);
        let email = actor_name.filter(|n| n.contains('@'));
        w.str_clean_if(
            k!("email"),
            email.or(actor_found.and_then(|p| p.email())),
            email.is_some() && name_clean,
        );
        let full_name = text(&a.display_name).filter(|s| known(s));
        w.str_clean_if(
            k!("full_name"),
            full_name.or(actor_found.and_then(|p| p.display_name())),
            full_name.is_some() && is_borrowed(&a.display_name),
        );
    }
    if let Some(p) = actor_found {
        w.str_array(k!("roles"), p.roles().iter().map(|r| r.as_ref()));
        w.open_object(k!("group"));
        w.str_array(k!("name"), p.groups().iter().map(|g| g.as_ref()));
        w.close();
    }
    w.open_object(k!("target"));
    if let Some(t) = user_target {
        let name_clean = is_borrowed(&t.alternate_id);
        w.str_clean_if(
            k!("id"),
            text(&t.id).filter(|s| known(s)),
            is_borrowed(&t.id),
        );
        w.str_clean_if(k!("name"), target_name, name_clean);
        let email = target_name.filter(|n| n.contains('@'));
        w.str_clean_if(
            k!("email"),
            email.or(target_found.and_then(|p| p.email())),
            email.is_some() && name_clean,
        );
        let full_name = text(&t.display_name).filter(|s| known(s));
        w.str_clean_if(
            k!("full_name"),
            full_name.or(target_found.and_then(|p| p.display_name())),
            full_name.is_some() && is_borrowed(&t.display_name),
        );
        if let Some(g) = group_target {
            w.open_object(k!("group"));
            w.text(k!("id"), &g.id);
            w.text(k!("name"), &g.display_name);
            w.close();
        }
    }
    w.str_array(
        k!("roles"),
        roles.flat_map(|list| list.split(", ")).map(str::trim),
    );
    w.close();
    w.close();

    if let Some(group) = group_target {
        w.open_object(k!("group"));
        w.text(k!("id"), &group.id);
        w.text(k!("name"), &group.display_name);
        w.close();
    }

    if let Some(Json::Obj(device)) = json(&ev.device) {
        w.open_object(k!("device"));
        w.str(k!("id"), device_id(device));
        if let DeviceLookup::Found(d) = &device_profile {
            w.str(k!("manufacturer"), d.manufacturer());
            w.open_object(k!("model"));
            w.str(k!("identifier"), d.model());
            w.close();
        }
        w.close();
    }

    if let (Some(raw), Some(info)) = (usable_ua, ua_info.as_deref()) {
        let raw_clean = okta_ua.is_some_and(|ua| is_borrowed(&ua.raw_user_agent));
        write_user_agent(
            &mut w,
            raw,
            raw_clean,
            info,
            okta_ua.and_then(|ua| text(&ua.os)),
        );
    }

    // related.*
    w.open_object(k!("related"));
    let mut ips: Vec<&str> = Vec::with_capacity(1 + ip_chain.len());
    ips.extend(ip.and(ip_text));
    ips.extend(
        ip_chain
            .iter()
            .filter_map(|e| text(&e.ip).map(str::trim))
            .filter(|s| s.parse::<IpAddr>().is_ok()),
    );
    w.str_array(k!("ip"), sorted_unique(ips));
    w.str_array(
        k!("user"),
        sorted_unique(actor_name.into_iter().chain(target_name).collect()),
    );
    w.str_array(k!("hosts"), domain_text);
    w.close();

    w.open_object(k!("okta"));
    if let Some(outer) = outer {
        write_envelope(&mut w, outer, u);
    }
    if debug_context.is_some() {
        debug.write_parsed(&mut w, u);
    }
    if let Some(profiles) = cx.profiles {
        w.open_object(k!("profile"));
        write_user_details(&mut w, k!("actor"), &actor_profile);
        write_user_details(&mut w, k!("target"), &target_profile);
        write_users_details(&mut w, k!("targets"), profiles, user_target_ids(targets));
        write_device_details(&mut w, k!("device"), &device_profile);
        w.close();
        write_stamp(&mut w, k!("enrichment"), profiles, published);
    }
    w.open_object(k!("system"));
    write_system(
        &mut w,
        ev,
        SystemParts {
            actor,
            client,
            security,
            targets,
            app_target,
            ip_chain,
            request,
            outcome,
            debug_context,
            debug: &debug,
            unparsable_published: published_text.filter(|_| published_error.is_some()),
            geo,
            geolocation,
            ip_text,
            ip_is_address: ip.is_some(),
            raw_ua: raw_ua.filter(|_| usable_ua.is_none()),
            okta_ua,
        },
        u,
    );
    // Last: everything above may add to it.
    write_unmapped(&mut w, u);
    w.close();
    w.close();
    w.finish();
    debug_assert!(out.len() > start);

    Ok(EventSummary {
        id: id.to_owned(),
        // The same instant as @timestamp, which has microsecond precision.
        published: published.trunc_subsecs(6),
        category: first_category(class),
        published_fallback: published_error.is_some(),
    })
}

pub(crate) fn first_category(class: Class) -> &'static str {
    class.category.first().copied().unwrap_or("iam")
}

/// A value that is not Okta's "unknown" placeholder (nor empty).
pub(crate) fn known(s: &str) -> bool {
    !s.is_empty() && !s.eq_ignore_ascii_case(PLACEHOLDER)
}

/// The first target (an object) whose type is one of `kinds`.
fn first_target<'s, 'a>(targets: &'s [Target<'a>], kinds: &[&str]) -> Option<&'s Target<'a>> {
    targets
        .iter()
        .find(|t| t.other.is_none() && text(&t.kind).is_some_and(|k| kinds.contains(&k)))
}

/// The ids of every `User` target, in the event's order (what `okta.profile.targets` joins).
pub(crate) fn user_target_ids<'s>(targets: &'s [Target<'_>]) -> impl Iterator<Item = &'s str> {
    targets
        .iter()
        .filter(|t| t.other.is_none() && text(&t.kind) == Some("User"))
        .filter_map(|t| text(&t.id))
        .filter(|s| known(s))
}

/// `device.id`: Okta's device `id`, when it is a string.
pub(crate) fn device_id<'s>(device: &'s [(Cow<'_, str>, Json<'_>)]) -> Option<&'s str> {
    device
        .iter()
        .rev()
        .find_map(|(k, v)| match (k.as_ref(), v) {
            ("id", Json::Str(id)) => Some(id.as_ref()),
            _ => None,
        })
}

/// The LogEvent's sections that the `ecs` and `elastic` writers both read first, each
/// checked once: a section of the wrong JSON type goes to `unmapped`, in this order.
pub(crate) struct Sections<'s, 'a> {
    pub(crate) client: Option<&'s Client<'a>>,
    pub(crate) security: Option<&'s SecurityContext<'a>>,
    pub(crate) actor: Option<&'s Actor<'a>>,
    pub(crate) outcome: Option<&'s Outcome<'a>>,
    pub(crate) targets: &'s [Target<'a>],
    pub(crate) request: Option<&'s Request<'a>>,
    pub(crate) ip_chain: &'s [IpChainEntry<'a>],
    pub(crate) debug_context: Option<&'s DebugContext<'a>>,
    /// `debugContext.debugData`'s members (empty when it is not an object).
    pub(crate) debug_data: &'s [(Cow<'a, str>, Json<'a>)],
}

/// Reads the [`Sections`] of `ev`, recording misfits in `u`.
pub(crate) fn sections<'s, 'a: 's>(ev: &'s LogEvent<'a>, u: &mut Unmapped<'s>) -> Sections<'s, 'a> {
    let client = object(&ev.client, At::key("client"), u);
    let security = object(&ev.security_context, At::key("securityContext"), u);
    let actor = object(&ev.actor, At::key("actor"), u);
    let outcome = object(&ev.outcome, At::key("outcome"), u);
    let targets = list(&ev.target, At::key("target"), u);
    let request = object(&ev.request, At::key("request"), u);
    let ip_chain = request.map_or(&[][..], |r| {
        list(&r.ip_chain, At::key("request.ipChain"), u)
    });
    let debug_context = object(&ev.debug_context, At::key("debugContext"), u);
    let debug_data: &[(Cow<'a, str>, Json<'a>)] =
        match debug_context.and_then(|d| json(&d.debug_data)) {
            Some(Json::Obj(members)) => members,
            Some(other) => {
                u.push(At::key("debugContext"), "debugData", other);
                &[]
            }
            None => &[],
        };
    Sections {
        client,
        security,
        actor,
        outcome,
        targets,
        request,
        ip_chain,
        debug_context,
        debug_data,
    }
}

/// The typed object of an optional member; a non-object value goes to `unmapped`.
pub(crate) fn object<'s, 'a: 's, T: OktaObject<'a>>(
    value: &'s Option<T>,
    at: At,
    unmapped: &mut Unmapped<'s>,
) -> Option<&'s T> {
    let v = value.as_ref()?;
    match v.other() {
        Some(other) => {
            unmapped.push(at, "", other);
            None
        }
        None => Some(v),
    }
}

/// The items of an optional array member; a non-array value goes to `unmapped`.
pub(crate) fn list<'s, 'a, T>(
    value: &'s Option<List<'a, T>>,
    at: At,
    unmapped: &mut Unmapped<'s>,
) -> &'s [T] {
    match value {
        Some(list) => {
            if let Some(other) = &list.other {
                unmapped.push(at, "", other);
            }
            &list.items
        }
        None => &[],
    }
}

/// A free-form Okta object (detailEntry, changeDetails, ipDetails, ...): written
/// verbatim when it is an object, else kept under `okta.system.unmapped`.
fn free_form<'s, 'a>(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    value: Option<&'s Json<'a>>,
    at: At,
    okta_key: &str,
    unmapped: &mut Unmapped<'s>,
) {
    match json_opt(value) {
        Some(v) if v.is_object() => w.json(key, Some(v)),
        Some(v) => unmapped.push(at, okta_key, v),
        None => {}
    }
}

fn json_opt<'s, 'a>(value: Option<&'s Json<'a>>) -> Option<&'s Json<'a>> {
    value.filter(|v| !v.is_empty())
}

/// What `write_source` needs.
struct SourceParts<'s, 'a> {
    ip_text: Option<&'s str>,
    /// `ip_text` is cut out of a borrowed string: nothing to escape.
    ip_clean: bool,
    ip: Option<IpAddr>,
    /// `domain_text` is a borrowed string: nothing to escape.
    domain_clean: bool,
    domain_text: Option<&'s str>,
    domain_parts: Option<&'s DomainParts<'s>>,
    geo: Option<&'s Geo<'a>>,
    geolocation: Option<&'s Geolocation<'a>>,
    facts: &'s GeoFacts,
}

fn write_source(
    w: &mut JsonWriter<'_>,
    client: Option<&Client<'_>>,
    security: Option<&SecurityContext<'_>>,
    p: SourceParts<'_, '_>,
) {
    let facts = p.facts;
    w.open_object(k!("source"));
    w.str_clean_if(k!("ip"), p.ip.and(p.ip_text), p.ip_clean);
    // Sekoia.io: the domain when Okta has one, else the IP (else whatever Okta sent).
    let address_clean = if p.domain_text.is_some() {
        p.domain_clean
    } else {
        p.ip_clean
    };
    w.str_clean_if(k!("address"), p.domain_text.or(p.ip_text), address_clean);
    w.str_clean_if(k!("domain"), p.domain_text, p.domain_clean);
    if let Some(parts) = p.domain_parts {
        w.str(k!("registered_domain"), Some(&parts.registered));
        w.str(k!("top_level_domain"), Some(&parts.top_level));
        w.str(k!("subdomain"), parts.subdomain.as_deref());
    }

    let geo = p.geo;
    w.open_object(k!("geo"));
    let (city, clean) = okta_or(geo.map(|g| &g.city), facts.city_name.as_deref());
    w.str_clean_if(k!("city_name"), city, clean);
    let (region, clean) = okta_or(geo.map(|g| &g.state), facts.region_name.as_deref());
    w.str_clean_if(k!("region_name"), region, clean);
    let (country, clean) = okta_or(geo.map(|g| &g.country), facts.country_name.as_deref());
    w.str_clean_if(k!("country_name"), country, clean);
    w.str(k!("country_iso_code"), facts.country_iso_code.as_deref());
    w.str(k!("continent_name"), facts.continent_name.as_deref());
    w.str(k!("timezone"), facts.timezone.as_deref());
    let (postal, clean) = okta_or(geo.map(|g| &g.postal_code), facts.postal_code.as_deref());
    w.str_clean_if(k!("postal_code"), postal, clean);
    if let Some((lat, lon)) = p.geolocation.and_then(lat_lon).or(facts.location) {
        w.open_object(k!("location"));
        w.f64(k!("lat"), Some(lat));
        w.f64(k!("lon"), Some(lon));
        w.close();
    }
    w.close();

    w.open_object(k!("as"));
    let okta_as = security.and_then(|s| s.as_number).map(|n| n.0);
    w.u64(k!("number"), okta_as.or(facts.as_number));
    w.open_object(k!("organization"));
    let (org, clean) = okta_or(
        security.map(|s| &s.as_org),
        facts.as_organization.as_deref(),
    );
    w.str_clean_if(k!("name"), org, clean);
    w.close();
    w.close();

    w.open_object(k!("user"));
    if let Some(c) = client {
        w.text(k!("id"), &c.id);
    }
    w.close();
    w.close();
}

/// Okta's value, else the GeoIP database's; true when it is Okta's and borrowed (nothing
/// to escape).
fn okta_or<'s>(
    okta: Option<&'s Option<Text<'_>>>,
    fact: Option<&'s str>,
) -> (Option<&'s str>, bool) {
    match okta.and_then(|t| text(t).map(|s| (s, is_borrowed(t)))) {
        Some((s, clean)) => (Some(s), clean),
        None => (fact, false),
    }
}

/// `{lat, lon}` when both are there.
pub(crate) fn lat_lon(g: &Geolocation<'_>) -> Option<(f64, f64)> {
    Some((g.lat?.0, g.lon?.0))
}

/// `user_agent.*`. `raw_clean`: `raw` is a string serde_json borrowed (nothing to
/// escape, see [`crate::json::Text`]).
pub(crate) fn write_user_agent(
    w: &mut JsonWriter<'_>,
    raw: &str,
    raw_clean: bool,
    info: &UserAgentInfo,
    okta_os: Option<&str>,
) {
    w.open_object(k!("user_agent"));
    if raw_clean {
        w.clean_str(k!("original"), raw);
    } else {
        w.str(k!("original"), Some(raw));
    }
    // woothee's fields: checked once per agent (`UserAgentInfo::clean`).
    let info_str = |w: &mut JsonWriter<'_>, key: Key<'static>, value: Option<&str>| {
        if info.clean {
            w.clean_str(key, value.unwrap_or_default());
        } else {
            w.str(key, value);
        }
    };
    info_str(w, k!("name"), Some(&info.name));
    info_str(w, k!("version"), info.version.as_deref());
    w.open_object(k!("os"));
    let (name, version, clean) = match &info.os_name {
        Some(name) => (name.as_str(), info.os_version.as_deref(), info.clean),
        // woothee does not know the OS: use Okta's own reading of the agent.
        None => match okta_os.filter(|os| !os.eq_ignore_ascii_case("unknown")) {
            Some(os) => {
                let (name, version) = os_name_and_version(os);
                (name, version, false)
            }
            None => ("Other", None, true),
        },
    };
    let os_str = |w: &mut JsonWriter<'_>, key: Key<'static>, value: Option<&str>| {
        if clean {
            w.clean_str(key, value.unwrap_or_default());
        } else {
            w.str(key, value);
        }
    };
    os_str(w, k!("name"), Some(name));
    os_str(w, k!("version"), version);
    // ECS: the name with the version, when it is known.
    if let Some(version) = version {
        let mut full = String::with_capacity(name.len() + 1 + version.len());
        full.push_str(name);
        full.push(' ');
        full.push_str(version);
        os_str(w, k!("full"), Some(&full));
    }
    w.close();
    w.open_object(k!("device"));
    w.known_str(k!("name"), info.device_name);
    w.close();
    w.close();
}

/// The parts of the event `write_system` needs, already validated.
struct SystemParts<'s, 'a> {
    actor: Option<&'s Actor<'a>>,
    client: Option<&'s Client<'a>>,
    security: Option<&'s SecurityContext<'a>>,
    targets: &'s [Target<'a>],
    app_target: Option<&'s Target<'a>>,
    ip_chain: &'s [IpChainEntry<'a>],
    request: Option<&'s crate::model::Request<'a>>,
    outcome: Option<&'s crate::model::Outcome<'a>>,
    debug_context: Option<&'s crate::model::DebugContext<'a>>,
    debug: &'s DebugData<'s, 'a>,
    /// `published` when it is not the `@timestamp`.
    unparsable_published: Option<&'s str>,
    geo: Option<&'s Geo<'a>>,
    geolocation: Option<&'s Geolocation<'a>>,
    ip_text: Option<&'s str>,
    /// Whether client.ipAddress is an IP address (then it is `source.ip`).
    ip_is_address: bool,
    /// rawUserAgent when it did not become user_agent.original.
    raw_ua: Option<&'s str>,
    okta_ua: Option<&'s UserAgent<'a>>,
}

fn write_system<'s, 'a>(
    w: &mut JsonWriter<'_>,
    ev: &'s LogEvent<'a>,
    p: SystemParts<'s, 'a>,
    u: &mut Unmapped<'s>,
) {
    w.text(k!("version"), &ev.version);
    w.text(k!("severity"), &ev.severity);
    // Only when it did not become @timestamp (unparsable, kept for the record).
    w.str(k!("published"), p.unparsable_published);
    w.text(k!("legacy_event_type"), &ev.legacy_event_type);

    if let Some(actor) = p.actor {
        let at = At::key("actor");
        w.open_object(k!("actor"));
        w.text(k!("id"), &actor.id);
        w.text(k!("type"), &actor.kind);
        w.str(
            k!("alternate_id"),
            text(&actor.alternate_id).map(strip_backslashes),
        );
        w.text(k!("display_name"), &actor.display_name);
        free_form(
            w,
            k!("detail_entry"),
            actor.detail_entry.as_ref(),
            at,
            "detailEntry",
            u,
        );
        rest(
            w,
            actor,
            &["id", "type", "alternate_id", "display_name", "detail_entry"],
            at,
            u,
        );
        w.close();
    }

    // Sekoia.io: the first AppInstance target, with Okta's camelCase keys.
    if let Some(app) = p.app_target {
        w.open_object(k!("target"));
        w.text(k!("type"), &app.kind);
        w.text(k!("id"), &app.id);
        w.text(k!("alternateId"), &app.alternate_id);
        w.text(k!("displayName"), &app.display_name);
        w.close();
    }
    // Every target, with Okta's camelCase keys.
    w.open_array(k!("targets"));
    for (i, t) in p.targets.iter().enumerate() {
        let at = At::index("target", i);
        if let Some(other) = &t.other {
            u.push(at, "", other);
            continue;
        }
        w.open_object(k!(""));
        w.text(k!("id"), &t.id);
        w.text(k!("type"), &t.kind);
        w.text(k!("alternateId"), &t.alternate_id);
        w.text(k!("displayName"), &t.display_name);
        free_form(
            w,
            k!("detailEntry"),
            t.detail_entry.as_ref(),
            at,
            "detailEntry",
            u,
        );
        free_form(
            w,
            k!("changeDetails"),
            t.change_details.as_ref(),
            at,
            "changeDetails",
            u,
        );
        rest(
            w,
            t,
            &[
                "id",
                "type",
                "alternateId",
                "displayName",
                "detailEntry",
                "changeDetails",
            ],
            at,
            u,
        );
        w.close();
    }
    w.close();

    if let Some(client) = p.client {
        w.open_object(k!("client"));
        w.str(k!("ip_address"), p.ip_text.filter(|_| !p.ip_is_address));
        w.str(k!("zone"), text(&client.zone).filter(|z| *z != "null"));
        w.text(k!("device"), &client.device);
        if let Some(ua) = p.okta_ua {
            w.open_object(k!("user_agent"));
            w.str(k!("raw_user_agent"), p.raw_ua);
            w.text(k!("os"), &ua.os);
            w.text(k!("browser"), &ua.browser);
            rest(
                w,
                ua,
                &["raw_user_agent", "os", "browser"],
                At::key("client.userAgent"),
                u,
            );
            w.close();
        }
        if let Some(geo) = p.geo {
            w.open_object(k!("geographical_context"));
            if let Some(g) = p.geolocation {
                // Only a lone coordinate: a pair is source.geo.location.
                w.open_object(k!("geolocation"));
                if lat_lon(g).is_none() {
                    w.f64(k!("lat"), g.lat.map(|l| l.0));
                    w.f64(k!("lon"), g.lon.map(|l| l.0));
                }
                rest(
                    w,
                    g,
                    &["lat", "lon"],
                    At::key("client.geographicalContext.geolocation"),
                    u,
                );
                w.close();
            }
            rest(
                w,
                geo,
                &["geolocation"],
                At::key("client.geographicalContext"),
                u,
            );
            w.close();
        }
        rest(
            w,
            client,
            &[
                "ip_address",
                "zone",
                "device",
                "user_agent",
                "geographical_context",
            ],
            At::key("client"),
            u,
        );
        w.close();
    }

    free_form(w, k!("device"), json(&ev.device), At::ROOT, "device", u);

    if let Some(ac) = object(
        &ev.authentication_context,
        At::key("authenticationContext"),
        u,
    ) {
        let at = At::key("authenticationContext");
        w.open_object(k!("authentication_context"));
        w.open_object(k!("authentication"));
        w.text(k!("provider"), &ac.authentication_provider);
        w.close();
        w.open_object(k!("credential"));
        w.text(k!("provider"), &ac.credential_provider);
        w.text(k!("type"), &ac.credential_type);
        w.close();
        if let Some(issuer) = object(&ac.issuer, at.sub("issuer"), u) {
            w.open_object(k!("issuer"));
            w.text(k!("id"), &issuer.id);
            w.text(k!("type"), &issuer.kind);
            rest(w, issuer, &["id", "type"], at.sub("issuer"), u);
            w.close();
        }
        w.text(k!("interface"), &ac.interface);
        w.u64(
            k!("authentication_step"),
            ac.authentication_step.map(|s| s.0),
        );
        // Sekoia.io: "unknown" is Okta's placeholder for no external session.
        w.str(
            k!("external_session_id"),
            text(&ac.external_session_id).filter(|s| *s != PLACEHOLDER),
        );
        w.text(k!("root_session_id"), &ac.root_session_id);
        rest(
            w,
            ac,
            &[
                "authentication",
                "credential",
                "issuer",
                "interface",
                "authentication_step",
                "external_session_id",
                "root_session_id",
            ],
            at,
            u,
        );
        w.close();
    }

    let client_ip_details = p.security.and_then(|s| json(&s.ip_details));
    if let Some(sc) = p.security {
        let at = At::key("securityContext");
        w.open_object(k!("security_context"));
        w.text(k!("isp"), &sc.isp);
        w.bool(k!("is_proxy"), sc.is_proxy.map(|f| f.0));
        free_form(
            w,
            k!("ip_details"),
            json(&sc.ip_details),
            at,
            "ipDetails",
            u,
        );
        rest(w, sc, &["isp", "is_proxy", "ip_details"], at, u);
        w.close();
    }

    if let Some(dc) = p.debug_context {
        p.debug.write_system(w, u);
        w.open_object(k!("debug_context"));
        rest(w, dc, &[], At::key("debugContext"), u);
        w.close();
    }

    if let Some(o) = p.outcome {
        w.open_object(k!("outcome"));
        w.text(k!("result"), &o.result);
        w.text(k!("reason"), &o.reason);
        rest(w, o, &["result", "reason"], At::key("outcome"), u);
        w.close();
    }

    if let Some(tx) = object(&ev.transaction, At::key("transaction"), u) {
        let at = At::key("transaction");
        w.open_object(k!("transaction"));
        w.text(k!("id"), &tx.id);
        w.text(k!("type"), &tx.kind);
        free_form(w, k!("detail"), json(&tx.detail), at, "detail", u);
        rest(w, tx, &["id", "type", "detail"], at, u);
        w.close();
    }

    // Sekoia.io (parser f2e9043a): every ipServiceCategories object of the
    // chain, in order (a summary; each entry keeps its own ip_details).
    w.open_object(k!("ip_chain"));
    w.open_array(k!("ip_service_categories"));
    for entry in p.ip_chain {
        if let Some(Json::Arr(items)) = entry
            .ip_details
            .as_ref()
            .and_then(|d| d.get("ipServiceCategories"))
        {
            for item in items.iter().filter(|i| i.is_object()) {
                w.json(k!(""), Some(item));
            }
        }
    }
    w.close();
    w.close();

    if let Some(request) = p.request {
        w.open_object(k!("request"));
        w.open_array(k!("ip_chain"));
        for (i, entry) in p.ip_chain.iter().enumerate() {
            let at = At::index("request.ipChain", i);
            if let Some(other) = &entry.other {
                u.push(at, "", other);
                continue;
            }
            let entry_ip = text(&entry.ip);
            // The client's own hop repeats client.geographicalContext and
            // securityContext.ipDetails: those are written once, there.
            let client_hop = p.ip_is_address && entry_ip.map(str::trim) == p.ip_text;
            w.open_object(k!(""));
            w.str(k!("ip"), entry_ip);
            w.text(k!("version"), &entry.version);
            w.text(k!("source"), &entry.source);
            if let Some(geo) = object(
                &entry.geographical_context,
                at.sub("geographicalContext"),
                u,
            ) {
                if !(client_hop && p.geo.is_some_and(|c| same_geo(c, geo))) {
                    write_chain_geo(w, geo, at, u);
                }
            }
            let details = json(&entry.ip_details);
            if !(client_hop && details.is_some() && details == client_ip_details) {
                free_form(w, k!("ip_details"), details, at, "ipDetails", u);
            }
            rest(
                w,
                entry,
                &[
                    "ip",
                    "version",
                    "source",
                    "geographical_context",
                    "ip_details",
                ],
                at,
                u,
            );
            w.close();
        }
        w.close();
        rest(w, request, &["ip_chain"], At::key("request"), u);
        w.close();
    }

    // Members that recognise the other input forms, when a bare LogEvent has them.
    for (key, value) in [("message", &ev.message), ("detail-type", &ev.detail_type)] {
        w.json(key, json(value));
    }
    if let Some(detail) = ev.detail {
        if let Ok(value) = serde_json::from_str::<Json<'_>>(detail.get()) {
            w.json(k!("detail"), Some(&value));
        }
    }
    rest(w, ev, SYSTEM_KEYS, At::ROOT, u);
}

/// Whether two geographical contexts say the same (and carry nothing else).
fn same_geo(a: &Geo<'_>, b: &Geo<'_>) -> bool {
    let plain = |g: &Geo<'_>| {
        g.extra.is_empty()
            && g.misfits.is_empty()
            && g.geolocation
                .as_ref()
                .is_none_or(|l| l.other.is_none() && l.extra.is_empty() && l.misfits.is_empty())
    };
    plain(a)
        && plain(b)
        && a.city == b.city
        && a.state == b.state
        && a.country == b.country
        && a.postal_code == b.postal_code
        && a.geolocation.as_ref().map(|l| (l.lat, l.lon))
            == b.geolocation.as_ref().map(|l| (l.lat, l.lon))
}

/// An IP chain hop's geographicalContext, with snake_case keys.
fn write_chain_geo<'s, 'a>(w: &mut JsonWriter<'_>, geo: &'s Geo<'a>, at: At, u: &mut Unmapped<'s>) {
    let at_geo = at.sub("geographicalContext");
    w.open_object(k!("geographical_context"));
    w.text(k!("city"), &geo.city);
    w.text(k!("state"), &geo.state);
    w.text(k!("country"), &geo.country);
    w.text(k!("postal_code"), &geo.postal_code);
    if let Some(g) = object(
        &geo.geolocation,
        at.sub("geographicalContext.geolocation"),
        u,
    ) {
        w.open_object(k!("geolocation"));
        w.f64(k!("lat"), g.lat.map(|l| l.0));
        w.f64(k!("lon"), g.lon.map(|l| l.0));
        rest(
            w,
            g,
            &["lat", "lon"],
            at.sub("geographicalContext.geolocation"),
            u,
        );
        w.close();
    }
    rest(
        w,
        geo,
        &["city", "state", "country", "postal_code", "geolocation"],
        at_geo,
        u,
    );
    w.close();
}

/// A scalar as text (strings as they are, numbers and booleans as JSON
/// text); `None` for containers and null.
pub(crate) fn scalar_text<'s>(v: &'s Json<'_>) -> Option<Cow<'s, str>> {
    match v {
        Json::Str(s) => Some(Cow::Borrowed(s.as_ref())),
        Json::Num(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Json::Null | Json::Arr(_) | Json::Obj(_) => None,
    }
}

/// `okta.eventbridge.*` / `okta.wrapper.*`: the members of the object the
/// LogEvent came in (EventBridge `account` and `region` are `cloud.*`).
fn write_envelope<'s, 'a>(w: &mut JsonWriter<'_>, outer: Outer<'s, 'a>, u: &mut Unmapped<'s>) {
    let (key, envelope, at, at_resources) = match outer {
        Outer::EventBridge(e) => (
            "eventbridge",
            e,
            At::key("eventbridge"),
            "eventbridge.resources",
        ),
        Outer::Wrapper(e) => ("wrapper", e, At::key("wrapper"), "wrapper.resources"),
    };
    let in_cloud = matches!(outer, Outer::EventBridge(_));
    w.open_object(key);
    w.text(k!("id"), &envelope.id);
    w.text(k!("version"), &envelope.version);
    w.text(k!("detail_type"), &envelope.detail_type);
    w.text(k!("source"), &envelope.source);
    w.text(k!("time"), &envelope.time);
    if !in_cloud {
        w.text(k!("account"), &envelope.account);
        w.text(k!("region"), &envelope.region);
    }
    let resources = list(&envelope.resources, at.sub("resources"), u);
    w.open_array(k!("resources"));
    for (i, r) in resources.iter().enumerate() {
        match scalar_text(r) {
            Some(t) => w.str(k!(""), Some(&t)),
            None if r.is_empty() => {}
            None => u.push(At::index(at_resources, i), "", r),
        }
    }
    w.close();
    rest(
        w,
        envelope,
        &[
            "id",
            "version",
            "detail_type",
            "source",
            "time",
            "account",
            "region",
            "resources",
        ],
        at,
        u,
    );
    w.close();
}

/// `okta.system.unmapped`: `[{path, value}]`, `value` being the compact JSON
/// text of what was found at the Okta `path`.
pub(crate) fn write_unmapped(w: &mut JsonWriter<'_>, u: &Unmapped<'_>) {
    if u.0.is_empty() {
        return;
    }
    w.open_array(k!("unmapped"));
    let mut text = Vec::new();
    for (path, value) in &u.0 {
        w.open_object(k!(""));
        w.str(k!("path"), Some(path));
        text.clear();
        write_json(&mut text, value);
        w.str(k!("value"), std::str::from_utf8(&text).ok());
        w.close();
    }
    w.close();
}

/// Writes `obj`'s unknown members verbatim, except names the caller writes
/// itself at that level and values whose own fields would have more than one
/// JSON type (`["a", [false]]`); those, and `obj`'s misfits, go to `unmapped`.
pub(crate) fn rest<'s, 'a: 's, T: OktaObject<'a>>(
    w: &mut JsonWriter<'_>,
    obj: &'s T,
    taken: &[&str],
    at: At,
    u: &mut Unmapped<'s>,
) {
    for (key, value) in obj.extra() {
        if taken.contains(&key.as_ref()) || !value.has_one_type_per_field() {
            u.push(at, key, value);
        } else {
            w.json(Key::parsed(key), Some(value));
        }
    }
    u.misfits(at, obj);
}

/// Removes every trailing backslash (Sekoia.io's `rstrip("\\")`).
fn strip_backslashes(s: &str) -> &str {
    s.trim_end_matches('\\')
}

pub(crate) fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

pub(crate) fn sorted_unique(mut values: Vec<&str>) -> Vec<&str> {
    values.retain(|v| !v.is_empty());
    values.sort_unstable();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslashes_and_case_insensitive_search() {
        assert_eq!(strip_backslashes("a@b.c\\\\"), "a@b.c");
        assert!(contains_ignore_case("UNKNOWN-DOWNLOAD", "unknown"));
        assert!(!contains_ignore_case("Mozilla", "unknown"));
        assert_eq!(sorted_unique(vec!["b", "", "a", "b"]), vec!["a", "b"]);
    }
}
