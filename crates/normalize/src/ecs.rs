//! The mapping of one [`LogEvent`] to its ECS document (see `docs/fields.md`).

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::SubsecRound;

use crate::category::{classify, Class};
use crate::domain::{self, DomainParts};
use crate::error::NormalizeError;
use crate::geoip::{GeoFacts, GeoIp};
use crate::json::Json;
use crate::kv;
use crate::model::{
    json, text, Actor, AuthenticationContext, Client, DebugContext, Geo, IpChainEntry, Issuer,
    LogEvent, Outcome, Request, SecurityContext, Target, Transaction, UserAgent,
};
use crate::outcome::{event_outcome, event_severity};
use crate::timestamp;
use crate::user_agent::{os_name_and_version, UserAgentInfo, UserAgentParser};
use crate::writer::JsonWriter;
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

/// What the mapping needs besides the event.
pub(crate) struct Context<'n> {
    pub(crate) psl: &'n publicsuffix::List,
    pub(crate) geoip: Option<&'n GeoIp>,
    pub(crate) user_agents: &'n mut UserAgentParser,
}

/// Values that ECS has no home for and that did not fit their Okta place
/// (wrong JSON type); written under `okta.system.unmapped` by Okta path.
type Unmapped<'s, 'a> = Vec<(Cow<'s, str>, &'s Json<'a>)>;

/// Maps `ev` and appends its document to `out`. `original` is the raw LogEvent
/// text for `event.original`, when wanted. On error nothing is written.
pub(crate) fn write_document(
    cx: &mut Context<'_>,
    ev: &LogEvent<'_>,
    original: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<EventSummary, NormalizeError> {
    let id = text(&ev.uuid).ok_or(NormalizeError::MissingField("uuid"))?;
    let published_text = text(&ev.published).ok_or(NormalizeError::MissingField("published"))?;
    let published =
        timestamp::parse(published_text).map_err(|reason| NormalizeError::InvalidField {
            field: "published",
            reason,
        })?;
    let event_type = text(&ev.event_type).ok_or(NormalizeError::MissingField("eventType"))?;
    let class = classify(event_type);

    let mut unmapped: Unmapped<'_, '_> = Vec::new();
    let client = object(&ev.client, "client", &mut unmapped);
    let security = object(&ev.security_context, "securityContext", &mut unmapped);
    let actor = object(&ev.actor, "actor", &mut unmapped);
    let targets: &[Target<'_>] = match &ev.target {
        Some(list) => {
            if let Some(other) = &list.other {
                unmapped.push((Cow::Borrowed("target"), other));
            }
            &list.items
        }
        None => &[],
    };
    let ip_chain: &[IpChainEntry<'_>] = match object(&ev.request, "request", &mut unmapped) {
        Some(Request {
            ip_chain: Some(list),
            ..
        }) => {
            if let Some(other) = &list.other {
                unmapped.push((Cow::Borrowed("request.ipChain"), other));
            }
            &list.items
        }
        _ => &[],
    };

    // Source address facts.
    let ip_text = client.and_then(|c| text(&c.ip_address)).map(str::trim);
    let ip: Option<IpAddr> = ip_text.and_then(|s| s.parse().ok());
    let domain_text = security.and_then(|s| text(&s.domain));
    let domain_parts = domain_text.and_then(|d| domain::split(cx.psl, d));
    let facts = match (cx.geoip, ip) {
        (Some(g), Some(ip)) => g.lookup(ip),
        _ => GeoFacts::default(),
    };

    // User agent.
    let okta_ua = client.and_then(|c| object(&c.user_agent, "client.userAgent", &mut unmapped));
    let raw_ua = okta_ua.and_then(|u| text(&u.raw_user_agent));
    let usable_ua = raw_ua.filter(|raw| !contains_ignore_case(raw, "unknown"));
    let ua_info = usable_ua.map(|raw| cx.user_agents.parse(raw));

    // People.
    let actor_name = actor
        .and_then(|a| text(&a.alternate_id))
        .map(strip_backslashes)
        .filter(|s| !s.is_empty());
    let user_target = targets
        .iter()
        .find(|t| t.other.is_none() && matches!(text(&t.kind), Some("User" | "AppUser")));
    let target_name = user_target
        .and_then(|t| text(&t.alternate_id))
        .map(strip_backslashes)
        .filter(|s| !s.is_empty());
    let group_target = targets
        .iter()
        .find(|t| t.other.is_none() && text(&t.kind) == Some("UserGroup"));
    let app_target = targets
        .iter()
        .find(|t| t.other.is_none() && text(&t.kind) == Some("AppInstance"));

    let start = out.len();
    let mut w = JsonWriter::new(out);
    w.str("@timestamp", Some(&timestamp::format(&published)));

    // event.*
    w.open_object("event");
    w.str("kind", Some("event"));
    w.str("id", Some(id));
    w.str("action", Some(event_type));
    w.str_array("category", class.category.iter().copied());
    w.str_array("type", class.kind.iter().copied());
    let outcome = object(&ev.outcome, "outcome", &mut unmapped);
    w.str(
        "outcome",
        outcome.and_then(|o| text(&o.result)).map(event_outcome),
    );
    let severity = text(&ev.severity);
    w.u64("severity", severity.and_then(event_severity).map(u64::from));
    w.str("reason", text(&ev.display_message));
    w.str("dataset", Some(DATASET));
    w.str("original", original);
    w.close();

    w.open_object("observer");
    w.str("vendor", Some(VENDOR));
    w.str("product", Some(PRODUCT));
    w.str("type", Some(OBSERVER_TYPE));
    w.close();

    write_source(
        &mut w,
        client,
        security,
        ip_text,
        ip,
        domain_text,
        domain_parts.as_ref(),
        &facts,
    );
    write_user(&mut w, actor, actor_name, user_target, target_name);

    if let Some(group) = group_target {
        w.open_object("group");
        w.str("id", text(&group.id));
        w.str("name", text(&group.display_name));
        w.close();
    }

    if let (Some(raw), Some(info)) = (usable_ua, ua_info.as_deref()) {
        write_user_agent(&mut w, raw, info, okta_ua.and_then(|u| text(&u.os)));
    }

    // related.*
    w.open_object("related");
    let mut ips: Vec<&str> = ip.and(ip_text).into_iter().collect();
    ips.extend(
        ip_chain
            .iter()
            .filter_map(|e| text(&e.ip).map(str::trim))
            .filter(|s| s.parse::<IpAddr>().is_ok()),
    );
    w.str_array("ip", sorted_unique(ips));
    w.str_array(
        "user",
        sorted_unique(actor_name.into_iter().chain(target_name).collect()),
    );
    w.str_array("hosts", domain_text);
    w.close();

    w.open_object("okta");
    w.open_object("system");
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
            outcome,
            ip_text: ip_text.filter(|_| ip.is_none()),
            raw_ua: raw_ua.filter(|_| usable_ua.is_none()),
            okta_ua,
        },
        &mut unmapped,
    );
    w.close();
    w.close();
    w.finish();
    debug_assert!(out.len() > start);

    Ok(EventSummary {
        id: id.to_owned(),
        // The same instant as @timestamp, which has microsecond precision.
        published: published.trunc_subsecs(6),
        category: first_category(class),
    })
}

fn first_category(class: Class) -> &'static str {
    class.category.first().copied().unwrap_or("iam")
}

/// The typed object of an optional member; a non-object value goes to `unmapped`.
fn object<'s, 'a, T: HasOther<'a>>(
    value: &'s Option<T>,
    path: &'static str,
    unmapped: &mut Unmapped<'s, 'a>,
) -> Option<&'s T> {
    let v = value.as_ref()?;
    match v.other() {
        Some(other) => {
            unmapped.push((Cow::Borrowed(path), other));
            None
        }
        None => Some(v),
    }
}

/// Access to the `other` member of the generated Okta models.
pub(crate) trait HasOther<'a> {
    fn other(&self) -> Option<&Json<'a>>;
}

macro_rules! has_other {
    ($($t:ident),*) => {$(
        impl<'a> HasOther<'a> for $t<'a> {
            fn other(&self) -> Option<&Json<'a>> {
                self.other.as_ref()
            }
        }
    )*};
}
has_other!(
    Actor,
    Client,
    UserAgent,
    Geo,
    AuthenticationContext,
    Issuer,
    SecurityContext,
    DebugContext,
    Outcome,
    Transaction,
    Request
);

#[allow(clippy::too_many_arguments)]
fn write_source(
    w: &mut JsonWriter<'_>,
    client: Option<&Client<'_>>,
    security: Option<&SecurityContext<'_>>,
    ip_text: Option<&str>,
    ip: Option<IpAddr>,
    domain_text: Option<&str>,
    parts: Option<&DomainParts<'_>>,
    facts: &GeoFacts,
) {
    w.open_object("source");
    w.str("ip", ip.and(ip_text));
    // Sekoia.io: the domain when Okta has one, else the IP (else whatever Okta sent).
    w.str("address", domain_text.or(ip_text));
    w.str("domain", domain_text);
    if let Some(p) = parts {
        w.str("registered_domain", Some(&p.registered));
        w.str("top_level_domain", Some(&p.top_level));
        w.str("subdomain", p.subdomain.as_deref());
    }

    let geo = client
        .and_then(|c| c.geographical_context.as_ref())
        .filter(|g| g.other.is_none());
    let pick = |okta: Option<&str>, maxmind: &Option<String>| -> Option<String> {
        okta.map(str::to_owned).or_else(|| maxmind.clone())
    };
    w.open_object("geo");
    w.str(
        "city_name",
        pick(geo.and_then(|g| text(&g.city)), &facts.city_name).as_deref(),
    );
    w.str(
        "region_name",
        pick(geo.and_then(|g| text(&g.state)), &facts.region_name).as_deref(),
    );
    w.str(
        "country_name",
        pick(geo.and_then(|g| text(&g.country)), &facts.country_name).as_deref(),
    );
    w.str("country_iso_code", facts.country_iso_code.as_deref());
    w.str("continent_name", facts.continent_name.as_deref());
    w.str("timezone", facts.timezone.as_deref());
    w.str(
        "postal_code",
        pick(geo.and_then(|g| text(&g.postal_code)), &facts.postal_code).as_deref(),
    );
    if let Some((lat, lon)) = geo
        .and_then(|g| lat_lon(g.geolocation.as_ref()))
        .or(facts.location)
    {
        w.open_object("location");
        w.f64("lat", Some(lat));
        w.f64("lon", Some(lon));
        w.close();
    }
    w.close();

    w.open_object("as");
    let okta_as = security
        .and_then(|s| s.as_number.as_ref())
        .and_then(Json::as_u64);
    w.u64("number", okta_as.or(facts.as_number));
    w.open_object("organization");
    let okta_org = security.and_then(|s| text(&s.as_org));
    w.str("name", okta_org.or(facts.as_organization.as_deref()));
    w.close();
    w.close();

    w.open_object("user");
    w.str("id", client.and_then(|c| text(&c.id)));
    w.close();
    w.close();
}

/// `{lat, lon}` when both are usable numbers.
fn lat_lon(geolocation: Option<&Json<'_>>) -> Option<(f64, f64)> {
    let g = geolocation?;
    Some((g.get("lat")?.as_f64()?, g.get("lon")?.as_f64()?))
}

fn write_user(
    w: &mut JsonWriter<'_>,
    actor: Option<&Actor<'_>>,
    actor_name: Option<&str>,
    target: Option<&Target<'_>>,
    target_name: Option<&str>,
) {
    w.open_object("user");
    w.str("id", actor.and_then(|a| text(&a.id)));
    w.str("name", actor_name);
    w.str("email", actor_name.filter(|n| n.contains('@')));
    w.str("full_name", actor.and_then(|a| text(&a.display_name)));
    if let Some(t) = target {
        w.open_object("target");
        w.str("id", text(&t.id));
        w.str("name", target_name);
        w.str("email", target_name.filter(|n| n.contains('@')));
        w.str("full_name", text(&t.display_name));
        w.close();
    }
    w.close();
}

fn write_user_agent(
    w: &mut JsonWriter<'_>,
    raw: &str,
    info: &UserAgentInfo,
    okta_os: Option<&str>,
) {
    w.open_object("user_agent");
    w.str("original", Some(raw));
    w.str("name", Some(&info.name));
    w.str("version", info.version.as_deref());
    w.open_object("os");
    match &info.os_name {
        Some(name) => {
            w.str("name", Some(name));
            w.str("version", info.os_version.as_deref());
        }
        // woothee does not know the OS: use Okta's own reading of the agent.
        None => match okta_os.filter(|os| !os.eq_ignore_ascii_case("unknown")) {
            Some(os) => {
                let (name, version) = os_name_and_version(os);
                w.str("name", Some(name));
                w.str("version", version);
            }
            None => w.str("name", Some("Other")),
        },
    }
    w.close();
    w.open_object("device");
    w.str("name", Some(info.device_name));
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
    outcome: Option<&'s Outcome<'a>>,
    /// client.ipAddress when it is not an IP address (so not in source.ip).
    ip_text: Option<&'s str>,
    /// rawUserAgent when it did not become user_agent.original.
    raw_ua: Option<&'s str>,
    okta_ua: Option<&'s UserAgent<'a>>,
}

fn write_system<'s, 'a>(
    w: &mut JsonWriter<'_>,
    ev: &'s LogEvent<'a>,
    p: SystemParts<'s, 'a>,
    unmapped: &mut Unmapped<'s, 'a>,
) {
    w.str("version", text(&ev.version));
    w.str("severity", text(&ev.severity));
    w.str("legacy_event_type", text(&ev.legacy_event_type));

    if let Some(actor) = p.actor {
        w.open_object("actor");
        w.str("id", text(&actor.id));
        w.str("type", text(&actor.kind));
        w.str(
            "alternate_id",
            actor.alternate_id.as_ref().map(|t| strip_backslashes(&t.0)),
        );
        w.str("display_name", text(&actor.display_name));
        w.json("detail_entry", json(&actor.detail_entry));
        extras(
            w,
            &actor.extra,
            &["id", "type", "alternate_id", "display_name", "detail_entry"],
            "actor",
            unmapped,
        );
        w.close();
    }

    // Sekoia.io: the first AppInstance target, with Okta's camelCase keys.
    if let Some(app) = p.app_target {
        w.open_object("target");
        w.str("type", text(&app.kind));
        w.str("id", text(&app.id));
        w.str("alternateId", text(&app.alternate_id));
        w.str("displayName", text(&app.display_name));
        w.close();
    }
    // Every target, verbatim (camelCase keys as Okta sends them).
    w.open_array("targets");
    for t in p.targets {
        match &t.other {
            Some(other) => w.json("", Some(other)),
            None => {
                w.open_object("");
                w.str("id", text(&t.id));
                w.str("type", text(&t.kind));
                w.str("alternateId", text(&t.alternate_id));
                w.str("displayName", text(&t.display_name));
                w.json("detailEntry", json(&t.detail_entry));
                w.json("changeDetails", json(&t.change_details));
                extras(
                    w,
                    &t.extra,
                    &[
                        "id",
                        "type",
                        "alternateId",
                        "displayName",
                        "detailEntry",
                        "changeDetails",
                    ],
                    "target",
                    unmapped,
                );
                w.close();
            }
        }
    }
    w.close();

    if let Some(client) = p.client {
        w.open_object("client");
        w.str("ip_address", p.ip_text);
        w.str("zone", text(&client.zone).filter(|z| *z != "null"));
        w.str("device", text(&client.device));
        if let Some(ua) = p.okta_ua {
            w.open_object("user_agent");
            w.str("raw_user_agent", p.raw_ua);
            w.str("os", text(&ua.os));
            w.str("browser", text(&ua.browser));
            extras(
                w,
                &ua.extra,
                &["raw_user_agent", "os", "browser"],
                "client.userAgent",
                unmapped,
            );
            w.close();
        }
        match &client.geographical_context {
            Some(geo) if geo.other.is_some() => {
                if let Some(other) = &geo.other {
                    unmapped.push((Cow::Borrowed("client.geographicalContext"), other));
                }
            }
            Some(geo) => {
                w.open_object("geographical_context");
                if lat_lon(geo.geolocation.as_ref()).is_none() {
                    w.json("geolocation", json(&geo.geolocation));
                }
                extras(
                    w,
                    &geo.extra,
                    &["geolocation"],
                    "client.geographicalContext",
                    unmapped,
                );
                w.close();
            }
            None => {}
        }
        extras(
            w,
            &client.extra,
            &[
                "ip_address",
                "zone",
                "device",
                "user_agent",
                "geographical_context",
            ],
            "client",
            unmapped,
        );
        w.close();
    }

    w.json("device", json(&ev.device));

    if let Some(ac) = object(
        &ev.authentication_context,
        "authenticationContext",
        unmapped,
    ) {
        w.open_object("authentication_context");
        w.open_object("authentication");
        w.str("provider", text(&ac.authentication_provider));
        w.close();
        w.open_object("credential");
        w.str("provider", text(&ac.credential_provider));
        w.str("type", text(&ac.credential_type));
        w.close();
        if let Some(issuer) = object(&ac.issuer, "authenticationContext.issuer", unmapped) {
            w.open_object("issuer");
            w.str("id", text(&issuer.id));
            w.str("type", text(&issuer.kind));
            extras(
                w,
                &issuer.extra,
                &["id", "type"],
                "authenticationContext.issuer",
                unmapped,
            );
            w.close();
        }
        w.str("interface", text(&ac.interface));
        w.json("authentication_step", json(&ac.authentication_step));
        // Sekoia.io: "unknown" is Okta's placeholder for no external session.
        w.str(
            "external_session_id",
            text(&ac.external_session_id).filter(|s| *s != "unknown"),
        );
        w.str("root_session_id", text(&ac.root_session_id));
        extras(
            w,
            &ac.extra,
            &[
                "authentication",
                "credential",
                "issuer",
                "interface",
                "authentication_step",
                "external_session_id",
                "root_session_id",
            ],
            "authenticationContext",
            unmapped,
        );
        w.close();
    }

    if let Some(sc) = p.security {
        w.open_object("security_context");
        w.str("isp", text(&sc.isp));
        w.json("is_proxy", json(&sc.is_proxy));
        if sc.as_number.as_ref().and_then(Json::as_u64).is_none() {
            w.json("as_number", json(&sc.as_number));
        }
        w.json("ip_details", json(&sc.ip_details));
        extras(
            w,
            &sc.extra,
            &["isp", "is_proxy", "as_number", "ip_details"],
            "securityContext",
            unmapped,
        );
        w.close();
    }

    if let Some(dc) = object(&ev.debug_context, "debugContext", unmapped) {
        write_debug(w, json(&dc.debug_data), unmapped);
        w.open_object("debug_context");
        extras(w, &dc.extra, &[], "debugContext", unmapped);
        w.close();
    }

    if let Some(o) = p.outcome {
        w.open_object("outcome");
        w.str("result", text(&o.result));
        w.str("reason", text(&o.reason));
        extras(w, &o.extra, &["result", "reason"], "outcome", unmapped);
        w.close();
    }

    if let Some(tx) = object(&ev.transaction, "transaction", unmapped) {
        w.open_object("transaction");
        w.str("id", text(&tx.id));
        w.str("type", text(&tx.kind));
        w.json("detail", json(&tx.detail));
        extras(
            w,
            &tx.extra,
            &["id", "type", "detail"],
            "transaction",
            unmapped,
        );
        w.close();
    }

    // Sekoia.io (parser f2e9043a): every ipServiceCategories entry of the chain.
    w.open_object("ip_chain");
    w.open_array("ip_service_categories");
    for entry in p.ip_chain {
        if let Some(Json::Arr(items)) = entry
            .ip_details
            .as_ref()
            .and_then(|d| d.get("ipServiceCategories"))
        {
            for item in items {
                w.json("", Some(item));
            }
        }
    }
    w.close();
    w.close();

    if let Some(request) = ev.request.as_ref().filter(|r| r.other.is_none()) {
        w.open_object("request");
        w.open_array("ip_chain");
        for entry in p.ip_chain {
            match &entry.other {
                Some(other) => w.json("", Some(other)),
                None => {
                    w.open_object("");
                    w.str("ip", text(&entry.ip));
                    w.str("version", text(&entry.version));
                    w.json("source", json(&entry.source));
                    if let Some(geo) = &entry.geographical_context {
                        write_okta_geo(w, geo, unmapped);
                    }
                    w.json("ip_details", json(&entry.ip_details));
                    extras(
                        w,
                        &entry.extra,
                        &[
                            "ip",
                            "version",
                            "source",
                            "geographical_context",
                            "ip_details",
                        ],
                        "request.ipChain",
                        unmapped,
                    );
                    w.close();
                }
            }
        }
        w.close();
        extras(w, &request.extra, &["ip_chain"], "request", unmapped);
        w.close();
    }

    // Members of the LogEvent this model does not know, verbatim.
    for (key, value) in [("message", &ev.message), ("detail-type", &ev.detail_type)] {
        if let Some(v) = json(value) {
            w.json(key, Some(v));
        }
    }
    extras(w, &ev.extra, SYSTEM_KEYS, "", unmapped);

    if !unmapped.is_empty() {
        w.open_object("unmapped");
        for (path, value) in unmapped.iter() {
            w.json(path, Some(value));
        }
        w.close();
    }
}

/// Okta's geographicalContext inside the IP chain, with snake_case keys.
fn write_okta_geo<'s, 'a>(
    w: &mut JsonWriter<'_>,
    geo: &'s Geo<'a>,
    unmapped: &mut Unmapped<'s, 'a>,
) {
    if let Some(other) = &geo.other {
        w.json("geographical_context", Some(other));
        return;
    }
    w.open_object("geographical_context");
    w.str("city", text(&geo.city));
    w.str("state", text(&geo.state));
    w.str("country", text(&geo.country));
    w.str("postal_code", text(&geo.postal_code));
    w.json("geolocation", json(&geo.geolocation));
    extras(
        w,
        &geo.extra,
        &["city", "state", "country", "postal_code", "geolocation"],
        "request.ipChain.geographicalContext",
        unmapped,
    );
    w.close();
}

/// `okta.system.debug`: debugData keys verbatim; `behaviors` and `risk`
/// strings parsed into objects; `threatSuspected` as a boolean.
fn write_debug<'s, 'a>(
    w: &mut JsonWriter<'_>,
    data: Option<&'s Json<'a>>,
    unmapped: &mut Unmapped<'s, 'a>,
) {
    let Some(data) = data else { return };
    let Json::Obj(members) = data else {
        unmapped.push((Cow::Borrowed("debugContext.debugData"), data));
        return;
    };
    w.open_object("debug");
    for (key, value) in members {
        match (key.as_ref(), value) {
            ("behaviors" | "risk", Json::Str(s)) => match kv::parse(s) {
                Some(pairs) => {
                    w.open_object(key);
                    for (k, v) in &pairs {
                        w.str(k, Some(v));
                    }
                    w.close();
                }
                None if s.trim().trim_matches(|c| c == '{' || c == '}').is_empty() => {}
                None => unmapped.push((Cow::Owned(format!("debugContext.debugData.{key}")), value)),
            },
            ("threatSuspected", v) => match v.as_bool() {
                Some(b) => w.bool(key, Some(b)),
                None => w.json(key, Some(v)),
            },
            _ => w.json(key, Some(value)),
        }
    }
    w.close();
}

/// Writes unknown members verbatim, except names the caller writes itself at
/// that level, which go to `unmapped` under `path.name`.
fn extras<'s, 'a>(
    w: &mut JsonWriter<'_>,
    members: &'s [(Cow<'a, str>, Json<'a>)],
    taken: &[&str],
    path: &str,
    unmapped: &mut Unmapped<'s, 'a>,
) {
    for (key, value) in members {
        if taken.contains(&key.as_ref()) {
            let full = if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            };
            unmapped.push((Cow::Owned(full), value));
        } else {
            w.json(key, Some(value));
        }
    }
}

/// Removes every trailing backslash (Sekoia.io's `rstrip("\\")`).
fn strip_backslashes(s: &str) -> &str {
    s.trim_end_matches('\\')
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn sorted_unique(mut values: Vec<&str>) -> Vec<&str> {
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
