//! The `elastic` schema: the document Elastic's Okta integration (`okta` package,
//! `system` data stream, ingest pipeline `default.yml` with `use_flattened_debug.yml`)
//! produces for a LogEvent, so that Kibana's Okta dashboards and Elastic's prebuilt
//! Okta detection rules work on oktaflow's output unchanged (see `docs/fields.md`,
//! "elastic schema", and `docs/conformance.md` for the comparison with Elastic's own
//! pipeline tests).
//!
//! The LogEvent is parsed once, by the same model as the `ecs` schema; only the
//! writing differs. Where Elastic loses something oktaflow keeps it, in fields
//! Elastic does not use (listed in `docs/fields.md`).

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{SubsecRound, Timelike};

use crate::category::classify;
use crate::debug::{pair, pairs, parse_json_text, Pairs};
use crate::ecs::{
    self, contains_ignore_case, first_category, lat_lon, object, rest, scalar_text, sections,
    write_unmapped, write_user_agent, At, Context, Essentials, Outer, Sections, Unmapped,
};
use crate::error::NormalizeError;
use crate::geoip::GeoFacts;
use crate::json::{Json, OktaObject};
use crate::model::{is_borrowed, json, text, Geo, LogEvent, Target};
use crate::profile::{
    write_device_details, write_stamp, write_user_details, write_users_details, DeviceLookup,
    UserLookup,
};
use crate::timestamp;
use crate::writer::{k, JsonWriter, Key};
use crate::EventSummary;

/// `ecs.version` of the documents Elastic's pipeline writes.
pub(crate) const ECS_VERSION: &str = "8.11.0";
/// `event.dataset` and `data_stream.dataset` of Elastic's Okta System Log data stream.
pub(crate) const DATASET: &str = "okta.system";

/// Elastic's categorization of one event type: `event.category`, `event.type`.
type ElasticClass = (Vec<&'static str>, Vec<&'static str>);

/// Elastic's `event.category` / `event.type` for the event types its pipeline
/// names, in the order its `append` processors add them; `None` for the others.
/// Computed once.
fn elastic_class(event_type: &str) -> Option<&'static ElasticClass> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<&'static str, ElasticClass>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(elastic_table).get(event_type)
}

/// Every event type Elastic's pipeline names, with its categorization.
fn elastic_table() -> std::collections::HashMap<&'static str, ElasticClass> {
    const IAM: &[&str] = &[
        "group.user_membership.add",
        "group.user_membership.remove",
        "user.lifecycle.activate",
        "user.lifecycle.create",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
    ];
    const CONFIGURATION: &[&str] = &[
        "policy.lifecycle.activate",
        "policy.lifecycle.create",
        "policy.lifecycle.deactivate",
        "policy.lifecycle.delete",
        "policy.lifecycle.update",
        "policy.rule.activate",
        "policy.rule.add",
        "policy.rule.deactivate",
        "policy.rule.delete",
        "application.lifecycle.create",
        "application.lifecycle.delete",
        "policy.rule.update",
        "application.lifecycle.activate",
        "application.lifecycle.deactivate",
        "application.lifecycle.update",
    ];
    const AUTHENTICATION: &[&str] = &[
        "user.session.start",
        "user.session.end",
        "user.authentication.sso",
        "policy.evaluate_sign_on",
    ];
    const SESSION: &[&str] = &["user.session.start", "user.session.end"];
    const RATE: &[&str] = &[
        "system.org.rate_limit.warning",
        "system.org.rate_limit.violation",
        "core.concurrency.org.limit.violation",
    ];
    const NETWORK: &[&str] = &[
        "system.org.rate_limit.warning",
        "system.org.rate_limit.violation",
        "core.concurrency.org.limit.violation",
        "security.request.blocked",
    ];
    const GROUP: &[&str] = &["group.user_membership.add", "group.user_membership.remove"];
    const USER_INFO: &[&str] = &[
        "user.lifecycle.activate",
        "user.lifecycle.create",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.authentication.sso",
        "user.session.start",
        "user.session.end",
        "application.user_membership.add",
        "application.user_membership.remove",
        "application.user_membership.change_username",
    ];
    const CHANGE: &[&str] = &[
        "user.lifecycle.activate",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "group.user_membership.add",
        "group.user_membership.remove",
        "policy.lifecycle.activate",
        "policy.lifecycle.deactivate",
        "policy.lifecycle.update",
        "policy.rule.activate",
        "policy.rule.add",
        "policy.rule.deactivate",
        "policy.rule.update",
        "application.user_membership.add",
        "application.user_membership.remove",
        "application.user_membership.change_username",
    ];
    const CREATION: &[&str] = &[
        "user.lifecycle.create",
        "policy.lifecycle.create",
        "application.lifecycle.create",
    ];
    const DELETION: &[&str] = &["policy.lifecycle.delete", "application.lifecycle.delete"];
    const CATEGORIES: &[(&str, &[&str])] = &[
        ("iam", IAM),
        ("configuration", CONFIGURATION),
        ("authentication", AUTHENTICATION),
        ("session", SESSION),
    ];
    const TYPES: &[(&str, &[&str])] = &[
        ("info", RATE),
        ("network", NETWORK),
        ("start", &["user.session.start"]),
        ("end", &["user.session.end"]),
        ("group", GROUP),
        ("info", USER_INFO),
        ("change", CHANGE),
        ("creation", CREATION),
        ("deletion", DELETION),
        ("info", &["policy.evaluate_sign_on"]),
    ];
    let pick = |event_type: &str, table: &[(&'static str, &[&'static str])]| {
        let mut values: Vec<&'static str> = Vec::new();
        for (value, types) in table {
            // Elastic appends `network` twice for security.request.blocked: once is enough.
            if types.contains(&event_type) && !values.contains(value) {
                values.push(value);
            }
        }
        values
    };
    CATEGORIES
        .iter()
        .chain(TYPES)
        .flat_map(|(_, types)| types.iter().copied())
        .map(|event_type| {
            let class = (pick(event_type, CATEGORIES), pick(event_type, TYPES));
            (event_type, class)
        })
        .collect()
}

/// The first target whose type is `kind`, ignoring case (Elastic's test).
fn target_of<'s, 'a>(targets: &'s [Target<'a>], kind: &str) -> Option<&'s Target<'a>> {
    targets
        .iter()
        .find(|t| t.other.is_none() && text(&t.kind).is_some_and(|k| k.eq_ignore_ascii_case(kind)))
}

/// `@timestamp` as Elastic's date processor writes it: milliseconds when the
/// time has no finer part (Okta's `published` never has), else microseconds. Written
/// into `buf`, without allocating.
fn elastic_timestamp<'b>(
    t: &chrono::DateTime<chrono::Utc>,
    buf: &'b mut [u8; timestamp::LEN],
) -> Cow<'b, str> {
    let millis = t.nanosecond().is_multiple_of(1_000_000) && t.nanosecond() < 1_000_000_000;
    let fixed = matches!(timestamp::format(t, buf), Cow::Borrowed(s) if s.len() == timestamp::LEN);
    if millis && fixed {
        // `YYYY-MM-DDTHH:MM:SS.mmm` + `Z`, from `YYYY-MM-DDTHH:MM:SS.mmmuuuZ`.
        buf[23] = b'Z';
        return String::from_utf8_lossy(&buf[..24]);
    }
    timestamp::format(t, buf)
}

/// Maps `ev` to Elastic's document and appends it to `out`.
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
    } = ecs::essentials(ev, cx.fetched_at)?;
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
        debug_data,
        ..
    } = sections(ev, u);
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
    let auth = object(
        &ev.authentication_context,
        At::key("authenticationContext"),
        u,
    );
    let transaction = object(&ev.transaction, At::key("transaction"), u);

    // Elastic's `convert` to `ip`: only an IP address becomes okta.client.ip.
    let ip_text = client.and_then(|c| text(&c.ip_address)).map(str::trim);
    let ip: Option<IpAddr> = ip_text.and_then(|s| s.parse().ok());
    let ip_text = ip.and(ip_text);
    let facts = match (cx.geoip, ip) {
        (Some(g), Some(ip)) => g.lookup(ip),
        _ => GeoFacts::default(),
    };
    let okta_ua = client.and_then(|c| object(&c.user_agent, At::key("client.userAgent"), u));
    let raw_ua = okta_ua.and_then(|ua| text(&ua.raw_user_agent));
    let usable_ua = raw_ua.filter(|raw| !contains_ignore_case(raw, "unknown"));
    let ua_info = usable_ua.map(|raw| cx.user_agents.parse(raw));

    let actor_alternate_id = actor.and_then(|a| text(&a.alternate_id));
    // Elastic keeps the whole alternateId (elastic/integrations#13404, okta 3.x; before
    // it, grok's `%{USER}` kept only the part before the `@`).
    let user_name = actor_alternate_id;
    // Elastic's user.email, client.user.email and source.user.email: an address-like alternateId.
    let actor_email = actor_alternate_id.filter(|a| a.contains('@'));
    let actor_id = actor.and_then(|a| text(&a.id));
    let actor_display = actor.and_then(|a| text(&a.display_name));
    let user_target = target_of(targets, "user");
    let group_target = target_of(targets, "usergroup");
    let target_full_name = user_target.and_then(|t| text(&t.display_name));
    let as_org = security.and_then(|s| text(&s.as_org));
    let domain = security.and_then(|s| text(&s.domain));

    let start = out.len();
    let mut w = JsonWriter::new(out);
    let mut stamp = [0u8; timestamp::LEN];
    // Digits and `-:.TZ+`: nothing to escape.
    w.clean_str(k!("@timestamp"), &elastic_timestamp(&published, &mut stamp));
    w.open_object(k!("ecs"));
    w.known_str(k!("version"), ECS_VERSION);
    w.close();
    w.open_object(k!("data_stream"));
    w.known_str(k!("type"), "logs");
    w.known_str(k!("dataset"), DATASET);
    w.close();

    w.open_object(k!("event"));
    w.known_str(k!("kind"), "event");
    // `id` and `event_type` are these two, not empty.
    w.text(k!("id"), &ev.uuid);
    w.text(k!("action"), &ev.event_type);
    // The event types Elastic names get its values; what it leaves without a
    // category or type gets oktaflow's own categorization.
    let elastic = elastic_class(event_type);
    let category: &[&'static str] = match elastic {
        Some((category, _)) if !category.is_empty() => category,
        _ => class.category,
    };
    let kind: &[&'static str] = match elastic {
        Some((_, kind)) if !kind.is_empty() => kind,
        _ => class.kind,
    };
    w.known_str_array(k!("category"), category.iter().copied());
    w.known_str_array(k!("type"), kind.iter().copied());
    let result = outcome.and_then(|o| text(&o.result));
    let event_outcome = match result {
        Some(r) if r.eq_ignore_ascii_case("success") || r.eq_ignore_ascii_case("allow") => {
            "success"
        }
        Some(r) if r.eq_ignore_ascii_case("failure") || r.eq_ignore_ascii_case("deny") => "failure",
        _ => "unknown",
    };
    w.known_str(k!("outcome"), event_outcome);
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

    if let Some(Outer::EventBridge(envelope)) = outer {
        w.open_object(k!("cloud"));
        w.known_str(k!("provider"), "aws");
        w.open_object(k!("account"));
        w.text(k!("id"), &envelope.account);
        w.close();
        w.text(k!("region"), &envelope.region);
        w.close();
    }

    // client.* / source.*: the same facts on both sides, as Elastic writes them.
    w.open_object(k!("client"));
    w.str(k!("ip"), ip_text);
    w.str(k!("domain"), domain);
    if let Some(g) = geo {
        w.open_object(k!("geo"));
        w.text(k!("city_name"), &g.city);
        w.text(k!("region_name"), &g.state);
        w.text(k!("country_name"), &g.country);
        // A geo_point needs both coordinates (a lone one would fail the document).
        if let Some((lat, lon)) = geolocation.and_then(lat_lon) {
            w.open_object(k!("location"));
            w.f64(k!("lat"), Some(lat));
            w.f64(k!("lon"), Some(lon));
            w.close();
        }
        w.close();
    }
    w.open_object(k!("as"));
    w.open_object(k!("organization"));
    w.str(k!("name"), as_org);
    w.close();
    w.close();
    write_pseudo_user(&mut w, user_name, actor_id, actor_display, actor_email);
    w.close();

    w.open_object(k!("source"));
    w.str(k!("ip"), ip_text);
    w.str(k!("domain"), domain);
    // Elastic's GeoIP databases when oktaflow has some (`--geoip`); else Okta's own
    // geolocation, so that source.geo.* is never empty when Okta knows the place.
    write_source_geo(&mut w, geo, geolocation, &facts);
    w.open_object(k!("as"));
    w.u64(
        k!("number"),
        facts
            .as_number
            .or(security.and_then(|s| s.as_number).map(|n| n.0)),
    );
    w.open_object(k!("organization"));
    w.str(k!("name"), facts.as_organization.as_deref().or(as_org));
    w.close();
    w.close();
    write_pseudo_user(&mut w, user_name, actor_id, actor_display, actor_email);
    w.close();

    // Identity enrichment: the actor's, the User target's and the device's profiles.
    let (actor_profile, target_profile, device_profile) = match cx.profiles {
        Some(p) => (
            p.lookup_user(
                actor
                    .filter(|a| text(&a.kind) == Some("User"))
                    .and(actor_id),
            ),
            p.lookup_user(
                user_target
                    .filter(|t| text(&t.kind) == Some("User"))
                    .and_then(|t| text(&t.id)),
            ),
            p.lookup_device(match json(&ev.device) {
                Some(Json::Obj(device)) => ecs::device_id(device),
                _ => None,
            }),
        ),
        None => (UserLookup::Off, UserLookup::Off, DeviceLookup::Off),
    };
    let actor_found = match &actor_profile {
        UserLookup::Found(p) => Some(*p),
        _ => None,
    };

    w.open_object(k!("user"));
    w.str(k!("name"), user_name);
    w.str(k!("full_name"), actor_display);
    // As Elastic (since okta 3.x) and its prebuilt rules read it; else the profile's.
    w.str(
        k!("email"),
        actor_email.or(actor_found.and_then(|p| p.email())),
    );
    if let Some(p) = actor_found {
        w.str_array(k!("roles"), p.roles().iter().map(|r| r.as_ref()));
        w.open_object(k!("group"));
        w.str_array(k!("name"), p.groups().iter().map(|g| g.as_ref()));
        w.close();
    }
    w.open_object(k!("target"));
    if let Some(t) = user_target {
        w.text(k!("id"), &t.id);
        w.str(k!("full_name"), target_full_name);
        // Elastic's `login`, which Okta targets rarely have; else an address-like alternateId.
        let login = t.extra.iter().rev().find_map(|(k, v)| match v {
            Json::Str(s) if k == "login" => Some(s.as_ref()),
            _ => None,
        });
        w.str(
            k!("email"),
            login.or(text(&t.alternate_id).filter(|a| a.contains('@'))),
        );
    }
    if let Some(g) = group_target {
        w.open_object(k!("group"));
        w.text(k!("id"), &g.id);
        w.text(k!("name"), &g.display_name);
        w.close();
    }
    w.close();
    w.close();

    if let (Some(raw), Some(info)) = (usable_ua, ua_info.as_deref()) {
        let raw_clean = okta_ua.is_some_and(|ua| is_borrowed(&ua.raw_user_agent));
        write_user_agent(
            &mut w,
            raw,
            raw_clean,
            info,
            okta_ua.and_then(|ua| text(&ua.os)),
        );
    } else if let Some(raw) = raw_ua {
        w.open_object(k!("user_agent"));
        w.str(k!("original"), Some(raw));
        w.close();
    }

    w.open_object(k!("related"));
    w.str_array(k!("ip"), ip_text);
    let mut users: Vec<&str> = Vec::with_capacity(3);
    for name in [actor_display, target_full_name, user_name]
        .into_iter()
        .flatten()
    {
        if !users.contains(&name) {
            users.push(name);
        }
    }
    w.str_array(k!("user"), users);
    w.close();

    if let DeviceLookup::Found(d) = &device_profile {
        w.open_object(k!("device"));
        w.str(k!("id"), Some(d.id()));
        w.str(k!("manufacturer"), d.manufacturer());
        w.open_object(k!("model"));
        w.str(k!("identifier"), d.model());
        w.close();
        w.close();
    }

    // okta.*
    w.open_object(k!("okta"));
    if let Some(profiles) = cx.profiles {
        w.open_object(k!("profile"));
        write_user_details(&mut w, k!("actor"), &actor_profile);
        write_user_details(&mut w, k!("target"), &target_profile);
        write_users_details(
            &mut w,
            k!("targets"),
            profiles,
            ecs::user_target_ids(targets),
        );
        write_device_details(&mut w, k!("device"), &device_profile);
        w.close();
        write_stamp(&mut w, k!("enrichment"), profiles, published);
    }
    w.text(k!("uuid"), &ev.uuid);
    w.text(k!("event_type"), &ev.event_type);
    w.text(k!("display_message"), &ev.display_message);
    w.text(k!("severity"), &ev.severity);
    w.text(k!("version"), &ev.version);
    w.text(k!("legacy_event_type"), &ev.legacy_event_type);
    // Only when it did not become @timestamp: Elastic keeps ingest time and loses it.
    w.str(
        k!("published"),
        published_text.filter(|_| published_error.is_some()),
    );

    if let Some(a) = actor {
        w.open_object(k!("actor"));
        w.str(k!("id"), actor_id);
        w.text(k!("type"), &a.kind);
        w.str(k!("alternate_id"), actor_alternate_id);
        w.str(k!("display_name"), actor_display);
        w.json(k!("detail_entry"), json(&a.detail_entry));
        w.close();
    }

    if let Some(c) = client {
        w.open_object(k!("client"));
        w.text(k!("id"), &c.id);
        w.str(k!("ip"), ip_text);
        w.text(k!("device"), &c.device);
        w.text(k!("zone"), &c.zone);
        if let Some(ua) = okta_ua {
            w.open_object(k!("user_agent"));
            w.text(k!("browser"), &ua.browser);
            w.text(k!("os"), &ua.os);
            w.str(k!("raw_user_agent"), raw_ua);
            w.close();
        }
        w.close();
    }

    if let Some(Json::Obj(device)) = json(&ev.device) {
        w.open_object(k!("device"));
        for (key, value) in device {
            // Elastic parses the JSON text of `device_integrator`.
            let parsed = match (key.as_ref(), value) {
                ("device_integrator", Json::Str(s)) => parse_json_text(s),
                _ => None,
            };
            w.json(key, Some(parsed.as_ref().unwrap_or(value)));
        }
        w.close();
    }

    if let Some(o) = outcome {
        w.open_object(k!("outcome"));
        w.str(k!("result"), result);
        w.text(k!("reason"), &o.reason);
        w.close();
    }

    w.open_array(k!("target"));
    for (i, t) in targets.iter().enumerate() {
        if let Some(other) = &t.other {
            u.push(At::index("target", i), "", other);
            continue;
        }
        w.open_object(k!(""));
        w.text(k!("id"), &t.id);
        w.text(k!("type"), &t.kind);
        w.text(k!("alternate_id"), &t.alternate_id);
        w.text(k!("display_name"), &t.display_name);
        // Elastic keeps only these two members of detailEntry.
        if let Some(Json::Obj(entry)) = json(&t.detail_entry) {
            w.open_object(k!("detailEntry"));
            for (key, value) in entry {
                if matches!(
                    key.as_ref(),
                    "methodTypeUsed" | "methodUsedVerifiedProperties"
                ) {
                    w.json(key, Some(value));
                }
            }
            w.close();
        }
        w.json(k!("changeDetails"), json(&t.change_details));
        for (key, value) in t.extra.iter() {
            w.json(key, Some(value));
        }
        w.close();
    }
    w.close();

    if let Some(tx) = transaction {
        w.open_object(k!("transaction"));
        w.text(k!("id"), &tx.id);
        w.text(k!("type"), &tx.kind);
        if let Some(detail) = json(&tx.detail) {
            w.open_object(k!("detail"));
            w.json(k!("request_api_token_id"), detail.get("requestApiTokenId"));
            w.json(k!("root_api_token_id"), detail.get("rootApiTokenId"));
            w.close();
        }
        w.close();
    }

    if !debug_data.is_empty() {
        write_debug(&mut w, debug_data);
    }

    if let Some(ac) = auth {
        w.open_object(k!("authentication_context"));
        // Elastic renames `interface` onto authentication_provider when that is free.
        w.str(
            k!("authentication_provider"),
            text(&ac.authentication_provider).or(text(&ac.interface)),
        );
        w.text(k!("interface"), &ac.interface);
        w.u64(
            k!("authentication_step"),
            ac.authentication_step.map(|s| s.0),
        );
        w.text(k!("credential_provider"), &ac.credential_provider);
        w.text(k!("credential_type"), &ac.credential_type);
        w.text(k!("external_session_id"), &ac.external_session_id);
        w.text(k!("root_session_id"), &ac.root_session_id);
        if let Some(issuer) = object(&ac.issuer, At::key("authenticationContext.issuer"), u) {
            w.open_object(k!("issuer"));
            w.text(k!("id"), &issuer.id);
            w.text(k!("type"), &issuer.kind);
            w.close();
        }
        w.close();
    }

    if let Some(sc) = security {
        w.open_object(k!("security_context"));
        w.open_object(k!("as"));
        w.u64(k!("number"), sc.as_number.map(|n| n.0));
        w.open_object(k!("organization"));
        w.str(k!("name"), as_org);
        w.close();
        w.close();
        w.str(k!("domain"), domain);
        w.bool(k!("is_proxy"), sc.is_proxy.map(|f| f.0));
        w.text(k!("isp"), &sc.isp);
        w.close();
    }

    if request.is_some() {
        w.open_object(k!("request"));
        w.open_array(k!("ip_chain"));
        for (i, entry) in ip_chain.iter().enumerate() {
            let at = At::index("request.ipChain", i);
            if let Some(other) = &entry.other {
                u.push(at, "", other);
                continue;
            }
            w.open_object(k!(""));
            w.text(k!("ip"), &entry.ip);
            w.text(k!("version"), &entry.version);
            w.text(k!("source"), &entry.source);
            if let Some(g) = object(
                &entry.geographical_context,
                at.sub("geographicalContext"),
                u,
            ) {
                write_chain_geo(&mut w, g);
            }
            w.json(k!("ipDetails"), json(&entry.ip_details));
            rest(
                &mut w,
                entry,
                &[
                    "ip",
                    "version",
                    "source",
                    "geographical_context",
                    "ipDetails",
                ],
                at,
                u,
            );
            w.close();
        }
        w.close();
        w.close();
    }

    // What Elastic would have dropped silently (members it does not know, values of
    // the wrong JSON type): kept, with their Okta path.
    keep_unknown(u, At::key(""), ev);
    if let Some(a) = actor {
        keep_unknown(u, At::key("actor"), a);
    }
    if let Some(c) = client {
        keep_unknown(u, At::key("client"), c);
    }
    if let Some(o) = outcome {
        keep_unknown(u, At::key("outcome"), o);
    }
    if let Some(ac) = auth {
        keep_unknown(u, At::key("authenticationContext"), ac);
    }
    if let Some(sc) = security {
        keep_unknown(u, At::key("securityContext"), sc);
    }
    if let Some(tx) = transaction {
        keep_unknown(u, At::key("transaction"), tx);
    }
    write_unmapped(&mut w, u);
    w.close();
    w.finish();
    debug_assert!(out.len() > start);

    Ok(EventSummary {
        id: id.to_owned(),
        published: published.trunc_subsecs(6),
        category: category
            .first()
            .copied()
            .unwrap_or_else(|| first_category(class)),
        published_fallback: published_error.is_some(),
    })
}

/// `obj`'s members the model does not know, and its misfits, into `okta.unmapped`.
fn keep_unknown<'s, 'a: 's, T: OktaObject<'a>>(u: &mut Unmapped<'s>, at: At, obj: &'s T) {
    for (key, value) in obj.extra() {
        u.push(at, key, value);
    }
    u.misfits(at, obj);
}

/// `client.user.*` / `source.user.*`: the actor, as Elastic copies it to both.
fn write_pseudo_user(
    w: &mut JsonWriter<'_>,
    name: Option<&str>,
    id: Option<&str>,
    full_name: Option<&str>,
    email: Option<&str>,
) {
    w.open_object(k!("user"));
    w.str(k!("id"), id);
    w.str(k!("name"), name);
    w.str(k!("full_name"), full_name);
    w.str(k!("email"), email);
    w.close();
}

fn write_source_geo(
    w: &mut JsonWriter<'_>,
    geo: Option<&Geo<'_>>,
    geolocation: Option<&crate::model::Geolocation<'_>>,
    facts: &GeoFacts,
) {
    w.open_object(k!("geo"));
    w.str(
        k!("city_name"),
        facts
            .city_name
            .as_deref()
            .or(geo.and_then(|g| text(&g.city))),
    );
    w.str(
        k!("region_name"),
        facts
            .region_name
            .as_deref()
            .or(geo.and_then(|g| text(&g.state))),
    );
    w.str(
        k!("country_name"),
        facts
            .country_name
            .as_deref()
            .or(geo.and_then(|g| text(&g.country))),
    );
    w.str(k!("country_iso_code"), facts.country_iso_code.as_deref());
    w.str(k!("continent_name"), facts.continent_name.as_deref());
    w.str(k!("timezone"), facts.timezone.as_deref());
    w.str(
        k!("postal_code"),
        facts
            .postal_code
            .as_deref()
            .or(geo.and_then(|g| text(&g.postal_code))),
    );
    if let Some((lat, lon)) = facts.location.or(geolocation.and_then(lat_lon)) {
        w.open_object(k!("location"));
        w.f64(k!("lat"), Some(lat));
        w.f64(k!("lon"), Some(lon));
        w.close();
    }
    w.close();
}

/// An IP chain hop's geographicalContext, renamed as Elastic does.
fn write_chain_geo(w: &mut JsonWriter<'_>, g: &Geo<'_>) {
    w.open_object(k!("geographical_context"));
    w.text(k!("city"), &g.city);
    w.text(k!("state"), &g.state);
    w.text(k!("country"), &g.country);
    w.text(k!("postal_code"), &g.postal_code);
    if let Some(l) = g.geolocation.as_ref().filter(|l| l.other.is_none()) {
        w.open_object(k!("geolocation"));
        w.f64(k!("lat"), l.lat.map(|v| v.0));
        w.f64(k!("lon"), l.lon.map(|v| v.0));
        w.close();
    }
    for (key, value) in g.extra.iter() {
        w.json(key, Some(value));
    }
    w.close();
}

/// `okta.debug_context.debug_data`: `flattened` (debugData as it came, with
/// `logOnlySecurityData` parsed and `risk` / `behaviors` as objects) and the
/// fields Elastic takes out of it.
fn write_debug(w: &mut JsonWriter<'_>, members: &[(Cow<'_, str>, Json<'_>)]) {
    let member = |name: &str| {
        members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    };
    let log_only: Option<Cow<'_, Json<'_>>> = match member("logOnlySecurityData") {
        Some(Json::Str(s)) => parse_json_text(s).map(Cow::Owned),
        Some(v @ Json::Obj(_)) => Some(Cow::Borrowed(v)),
        _ => None,
    };
    // Elastic's `json` processor on `tunnels` (anonymizer / VPN hops): JSON text to an array.
    let objects = |t: &Json<'_>| matches!(t, Json::Arr(items) if items.iter().all(Json::is_object));
    let tunnels: Option<Cow<'_, Json<'_>>> = match member("tunnels") {
        Some(Json::Str(s)) => parse_json_text(s).filter(objects).map(Cow::Owned),
        Some(v) if objects(v) => Some(Cow::Borrowed(v)),
        _ => None,
    };
    let risk = member("risk").and_then(pairs);
    let behaviors = member("behaviors").and_then(pairs);
    let log_risk_value = log_only.as_deref().and_then(|l| l.get("risk"));
    let log_risk = log_risk_value.and_then(pairs);

    w.open_object(k!("debug_context"));
    w.open_object(k!("debug_data"));
    w.open_object(k!("flattened"));
    let parsed = Parsed {
        log_only: log_only.as_deref(),
        tunnels: tunnels.as_deref(),
        risk: risk.as_ref().map(|(p, clean)| (p, *clean)),
        behaviors: behaviors.as_ref().map(|(p, clean)| (p, *clean)),
    };
    write_members(w, members, None, &parsed);
    w.close();
    // Elastic's other layout (`remove_flattened_debug`, which some prebuilt rules query:
    // `okta.debug_context.debug_data.behaviors`): the same members directly here, but
    // the ones written under their Elastic names below.
    write_members(w, members, Some(DEBUG_TAKEN), &parsed);
    for (from, to) in [
        ("deviceFingerprint", "device_fingerprint"),
        ("requestId", "request_id"),
        ("requestUri", "request_uri"),
        ("threatSuspected", "threat_suspected"),
        ("url", "url"),
        ("dtHash", "dt_hash"),
        ("clientSecret", "client_secret"),
        ("grantType", "grant_type"),
        ("grantedScopes", "granted_scopes"),
        ("requestedScopes", "requested_scopes"),
    ] {
        w.json(to, member(from));
    }
    let log_risk = log_risk.as_ref().map(|(p, _)| p);
    let risk = risk.as_ref().map(|(p, _)| p);
    let risk_of = |key: &str| pair(log_risk, key).or_else(|| pair(risk, key));
    w.str(k!("risk_level"), risk_of("level"));
    w.str_array(
        k!("risk_reasons"),
        risk_of("reasons")
            .into_iter()
            .flat_map(|r| r.split(','))
            .map(str::trim),
    );
    w.str(
        k!("factor"),
        member("factor").and_then(scalar_text).as_deref(),
    );
    w.str_array(
        k!("risk_behaviors"),
        behaviors
            .iter()
            .flat_map(|(p, _)| p)
            .filter(|(_, v)| v == "POSITIVE")
            .map(|(k, _)| k.as_ref()),
    );
    w.close();
    w.close();
}

/// debugData members written directly under `okta.debug_context.debug_data` by name,
/// or under another name there (left out of the copy of the members at that level).
/// `clientSecret`, `grantType`, `grantedScopes`, `requestedScopes` are not: Elastic's
/// `remove_flattened_debug` layout keeps them under their own names, its flattened layout
/// writes them as `client_secret`, ...; the direct copy has both.
const DEBUG_TAKEN: &[&str] = &[
    "flattened",
    "deviceFingerprint",
    "device_fingerprint",
    "requestId",
    "request_id",
    "requestUri",
    "request_uri",
    "threatSuspected",
    "threat_suspected",
    "url",
    "dtHash",
    "dt_hash",
    "client_secret",
    "grant_type",
    "granted_scopes",
    "requested_scopes",
    "risk_level",
    "risk_reasons",
    "factor",
    "risk_behaviors",
];

/// debugData's members, read once.
struct Parsed<'p, 'a> {
    log_only: Option<&'p Json<'a>>,
    tunnels: Option<&'p Json<'a>>,
    /// The pairs, and whether they hold nothing to escape.
    risk: Option<(&'p Pairs<'p>, bool)>,
    behaviors: Option<(&'p Pairs<'p>, bool)>,
}

/// debugData's members: verbatim (`direct` is `None`: the flattened copy), with
/// `logOnlySecurityData` and `tunnels` parsed and `risk` / `behaviors` as objects (and
/// `risk_object`, as Elastic keeps it). The direct copy (`Some(skip)`) leaves out the `skip`
/// names and keeps each field's JSON type the same in every document: `risk`, `behaviors`,
/// `logOnlySecurityData`, `originalPrincipal` only as objects, `tunnels` only as an array of
/// objects, every other member only
/// when it is a scalar, as text (the rest is in the flattened copy).
fn write_members(
    w: &mut JsonWriter<'_>,
    members: &[(Cow<'_, str>, Json<'_>)],
    direct: Option<&[&str]>,
    p: &Parsed<'_, '_>,
) {
    // The direct copy writes its keys as Elastic's `remove_flattened_debug` layout does:
    // spaces and dashes as `_`, at every depth (`New Geo-Location` -> `New_Geo_Location`).
    let rename = direct.is_some();
    let put = |w: &mut JsonWriter<'_>, key: &Cow<'_, str>, value: Option<&Json<'_>>| match value {
        Some(v) if rename => write_underscored(w, key, v),
        _ => w.json(Key::parsed(key), value),
    };
    for (key, value) in members {
        match key.as_ref() {
            name if direct.is_some_and(|skip| skip.contains(&name)) => {}
            "logOnlySecurityData" if p.log_only.is_some() => put(w, key, p.log_only),
            "tunnels" if p.tunnels.is_some() => put(w, key, p.tunnels),
            "risk" if p.risk.is_some() => {
                write_pairs(w, key, p.risk, rename);
                // Elastic's kv fails on an item without `=` (`reasons=A, B`) and then
                // keeps the original text beside its own parse: the same here.
                if let Json::Str(text) = value {
                    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
                    if inner.split(", ").any(|item| !item.contains('=')) {
                        w.str(k!("risk_object"), Some(text));
                    }
                }
            }
            "behaviors" if p.behaviors.is_some() => write_pairs(w, key, p.behaviors, rename),
            _ if direct.is_none() => w.json(Key::parsed(key), Some(value)),
            "originalPrincipal" => {
                let parsed = match value {
                    Json::Str(s) => parse_json_text(s),
                    _ => None,
                };
                let principal = parsed.as_ref().unwrap_or(value);
                if principal.is_object() {
                    put(w, key, Some(principal));
                }
            }
            "risk" | "behaviors" | "logOnlySecurityData" | "tunnels" => {}
            _ => match (key, value) {
                (Cow::Borrowed(name), Json::Str(text)) => {
                    w.parsed_str(Key::Underscored(name), text);
                }
                _ => w.str(underscored(key).as_ref(), scalar_text(value).as_deref()),
            },
        }
    }
}

/// A key as Elastic's `remove_flattened_debug` layout renames it: spaces and dashes as `_`.
fn underscored(key: &str) -> Cow<'_, str> {
    if key.contains([' ', '-']) {
        Cow::Owned(key.replace([' ', '-'], "_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// `value` under `key`, every object key (at any depth, in arrays too) [`underscored`].
// The point is which `Cow` variant the key is: a `&str` would not tell.
#[allow(clippy::ptr_arg)]
fn write_underscored(w: &mut JsonWriter<'_>, key: &Cow<'_, str>, value: &Json<'_>) {
    // A borrowed key has nothing to escape, and none after the renaming.
    let renamed;
    let name = match key {
        Cow::Borrowed(key) => Key::Underscored(key),
        Cow::Owned(key) => {
            renamed = underscored(key);
            Key::Text(&renamed)
        }
    };
    match value {
        Json::Obj(members) => {
            w.open_object(name);
            for (k, v) in members {
                write_underscored(w, k, v);
            }
            w.close();
        }
        Json::Arr(items) => {
            w.open_array(name);
            for item in items {
                write_underscored(w, &Cow::Borrowed(""), item);
            }
            w.close();
        }
        scalar => w.json(name, Some(scalar)),
    }
}

/// `pairs` as an object under `key`, its keys [`underscored`] when `rename`; `pairs`'
/// flag: they hold nothing to escape.
// The point is which `Cow` variant the key is: a `&str` would not tell.
#[allow(clippy::ptr_arg)]
fn write_pairs(
    w: &mut JsonWriter<'_>,
    key: &Cow<'_, str>,
    pairs: Option<(&Pairs<'_>, bool)>,
    rename: bool,
) {
    w.open_object(Key::parsed(key));
    if let Some((pairs, clean)) = pairs {
        for (k, v) in pairs {
            if clean {
                let name = if rename {
                    Key::Underscored(k)
                } else {
                    Key::Clean(k)
                };
                w.clean_str(name, v);
            } else {
                let k = if rename {
                    underscored(k)
                } else {
                    Cow::Borrowed(k.as_ref())
                };
                w.str(k.as_ref(), Some(v));
            }
        }
    }
    w.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elastic_categories_follow_its_append_order() {
        let class = |t| elastic_class(t).cloned();
        assert_eq!(
            class("user.session.start"),
            Some((vec!["authentication", "session"], vec!["start", "info"]))
        );
        assert_eq!(
            class("security.request.blocked"),
            Some((vec![], vec!["network"]))
        );
        assert_eq!(
            class("system.org.rate_limit.warning"),
            Some((vec![], vec!["info", "network"]))
        );
        assert_eq!(
            class("user.lifecycle.create"),
            Some((vec!["iam"], vec!["info", "creation"]))
        );
        assert_eq!(
            class("policy.rule.update"),
            Some((vec!["configuration"], vec!["change"]))
        );
        assert_eq!(elastic_class("user.account.lock"), None);
    }

    #[test]
    fn timestamps_keep_milliseconds_as_elastic_writes_them() {
        let mut buf = [0u8; timestamp::LEN];
        for (input, written) in [
            ("2020-02-14T22:18:51.843Z", "2020-02-14T22:18:51.843Z"),
            ("2020-02-14T22:18:51Z", "2020-02-14T22:18:51.000Z"),
            ("2020-02-14T23:18:51.843+01:00", "2020-02-14T22:18:51.843Z"),
            ("2020-02-14T22:18:51.843211Z", "2020-02-14T22:18:51.843211Z"),
        ] {
            let t = timestamp::parse(input).expect("time");
            assert_eq!(elastic_timestamp(&t, &mut buf), written, "{input}");
        }
    }
}
