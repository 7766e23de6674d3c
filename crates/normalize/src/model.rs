//! The Okta System Log `LogEvent` model, borrowed from the input.
//!
//! Every member is optional and lenient (see [`crate::json`]): the model keeps
//! what it does not know in `extra` so the output can carry it on.

use serde_json::value::RawValue;

use crate::json::{okta_object, Flag, Float, Int, Json, List, Text};

okta_object!(
    /// One System Log event (`GET /api/v1/logs` element). `message`, `detail`
    /// and `detail-type` are read to recognise the wrapper and EventBridge forms.
    LogEvent {
        "uuid" => uuid: Text<'a>,
        "published" => published: Text<'a>,
        "eventType" => event_type: Text<'a>,
        "version" => version: Text<'a>,
        "severity" => severity: Text<'a>,
        "legacyEventType" => legacy_event_type: Text<'a>,
        "displayMessage" => display_message: Text<'a>,
        "actor" => actor: Actor<'a>,
        "client" => client: Client<'a>,
        "device" => device: Json<'a>,
        "authenticationContext" => authentication_context: AuthenticationContext<'a>,
        "securityContext" => security_context: SecurityContext<'a>,
        "debugContext" => debug_context: DebugContext<'a>,
        "outcome" => outcome: Outcome<'a>,
        "transaction" => transaction: Transaction<'a>,
        "request" => request: Request<'a>,
        "target" => target: List<'a, Target<'a>>,
        "message" => message: Json<'a>,
        "detail-type" => detail_type: Json<'a>,
        "detail" => detail: &'a RawValue,
    }
);

okta_object!(
    /// The entity that performed the action.
    Actor {
        "id" => id: Text<'a>,
        "type" => kind: Text<'a>,
        "alternateId" => alternate_id: Text<'a>,
        "displayName" => display_name: Text<'a>,
        "detailEntry" => detail_entry: Json<'a>,
    }
);

okta_object!(
    /// The client that made the request.
    Client {
        "id" => id: Text<'a>,
        "userAgent" => user_agent: UserAgent<'a>,
        "zone" => zone: Text<'a>,
        "device" => device: Text<'a>,
        "ipAddress" => ip_address: Text<'a>,
        "geographicalContext" => geographical_context: Geo<'a>,
    }
);

okta_object!(
    /// Okta's own parse of the client's user agent.
    UserAgent {
        "rawUserAgent" => raw_user_agent: Text<'a>,
        "os" => os: Text<'a>,
        "browser" => browser: Text<'a>,
    }
);

okta_object!(
    /// Okta's geolocation of an IP address.
    Geo {
        "city" => city: Text<'a>,
        "state" => state: Text<'a>,
        "country" => country: Text<'a>,
        "postalCode" => postal_code: Text<'a>,
        "geolocation" => geolocation: Geolocation<'a>,
    }
);

okta_object!(
    /// Coordinates of a geographical context.
    Geolocation {
        "lat" => lat: Float,
        "lon" => lon: Float,
    }
);

okta_object!(
    /// How the actor authenticated.
    AuthenticationContext {
        "authenticationProvider" => authentication_provider: Text<'a>,
        "credentialProvider" => credential_provider: Text<'a>,
        "credentialType" => credential_type: Text<'a>,
        "issuer" => issuer: Issuer<'a>,
        "interface" => interface: Text<'a>,
        "authenticationStep" => authentication_step: Int,
        "externalSessionId" => external_session_id: Text<'a>,
        "rootSessionId" => root_session_id: Text<'a>,
    }
);

okta_object!(
    /// The issuer of the credential.
    Issuer {
        "id" => id: Text<'a>,
        "type" => kind: Text<'a>,
    }
);

okta_object!(
    /// Network facts about the client IP.
    SecurityContext {
        "asNumber" => as_number: Int,
        "asOrg" => as_org: Text<'a>,
        "isp" => isp: Text<'a>,
        "domain" => domain: Text<'a>,
        "isProxy" => is_proxy: Flag,
        "ipDetails" => ip_details: Json<'a>,
    }
);

okta_object!(
    /// Debug information; `debugData` is free-form.
    DebugContext {
        "debugData" => debug_data: Json<'a>,
    }
);

okta_object!(
    /// Result of the action.
    Outcome {
        "result" => result: Text<'a>,
        "reason" => reason: Text<'a>,
    }
);

okta_object!(
    /// The request's transaction.
    Transaction {
        "id" => id: Text<'a>,
        "type" => kind: Text<'a>,
        "detail" => detail: Json<'a>,
    }
);

okta_object!(
    /// The HTTP request behind the event.
    Request {
        "ipChain" => ip_chain: List<'a, IpChainEntry<'a>>,
    }
);

okta_object!(
    /// One IP address the request went through.
    IpChainEntry {
        "ip" => ip: Text<'a>,
        "geographicalContext" => geographical_context: Geo<'a>,
        "version" => version: Text<'a>,
        "source" => source: Text<'a>,
        "ipDetails" => ip_details: Json<'a>,
    }
);

okta_object!(
    /// An entity the action was performed on.
    Target {
        "id" => id: Text<'a>,
        "type" => kind: Text<'a>,
        "alternateId" => alternate_id: Text<'a>,
        "displayName" => display_name: Text<'a>,
        "detailEntry" => detail_entry: Json<'a>,
        "changeDetails" => change_details: Json<'a>,
    }
);

okta_object!(
    /// The object around a LogEvent in the wrapper and EventBridge forms: its
    /// LogEvent member is skipped, everything else is kept for the output.
    Envelope {
        "message" => message: &'a RawValue,
        "detail" => detail: &'a RawValue,
        "version" => version: Text<'a>,
        "id" => id: Text<'a>,
        "detail-type" => detail_type: Text<'a>,
        "source" => source: Text<'a>,
        "account" => account: Text<'a>,
        "time" => time: Text<'a>,
        "region" => region: Text<'a>,
        "resources" => resources: List<'a, Json<'a>>,
    }
);

/// The non-empty text of an optional field.
pub(crate) fn text<'s>(t: &'s Option<Text<'_>>) -> Option<&'s str> {
    t.as_ref().and_then(Text::non_empty)
}

/// True when `t` is a string serde_json borrowed from its input: nothing to escape (see
/// [`Text`]).
pub(crate) fn is_borrowed(t: &Option<Text<'_>>) -> bool {
    matches!(t, Some(Text(std::borrow::Cow::Borrowed(_))))
}

/// The value of an optional free-form field, when it carries information.
pub(crate) fn json<'s, 'a>(j: &'s Option<Json<'a>>) -> Option<&'s Json<'a>> {
    j.as_ref().filter(|j| !j.is_empty())
}
