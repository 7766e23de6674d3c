//! `debugContext.debugData`, written twice:
//!
//! * `okta.system.debug.<key>`: Sekoia.io's layout, the keys verbatim, values as
//!   strings, `behaviors` / `risk` as objects of strings, `threatSuspected` a boolean.
//! * `okta.debug_context.debug_data.*`: what an analyst queries, with the names of
//!   Elastic's Okta integration where it has them: the risk level and reasons, the
//!   behaviours that were POSITIVE, the Identity Threat Protection risk change
//!   (previous level, detection, issuer), typed identifiers, and the members Okta sends
//!   as JSON *text* (`logOnlySecurityData`, `tunnels`, `originalPrincipal`) parsed.
//!
//! Nothing here fails: a value that does not parse stays where it was (a string in
//! `okta.system.debug`) or goes to `okta.system.unmapped`; every key is kept.

use std::borrow::Cow;

use crate::ecs::{scalar_text, At, Unmapped};
use crate::json::Json;
use crate::kv;
use crate::writer::{k, JsonWriter, Key};

/// debugData members sent as JSON text that are parsed into
/// `okta.debug_context.debug_data.<key>` (and so left out of `okta.system.debug`).
const JSON_TEXT_MEMBERS: &[&str] = &["logOnlySecurityData", "tunnels", "originalPrincipal"];

/// `{key=value}` pairs of `risk` / `behaviors`.
pub(crate) type Pairs<'s> = Vec<(Cow<'s, str>, Cow<'s, str>)>;

/// What a `risk` or `behaviors` value holds.
enum KeyValues<'s> {
    /// Pairs (from `{k=v, ...}` text, JSON object text, or an object of scalars), and
    /// whether every key and value is known to hold nothing to escape (cut out of, or
    /// joined from, strings serde_json borrowed: see [`Json`]).
    Pairs(Pairs<'s>, bool),
    /// Nothing (`{}`, `""`).
    Empty,
    /// Something else: kept under `okta.system.unmapped`.
    Misfit,
}

/// Reads a `risk` or `behaviors` value. Only null and `""` are `Empty`: text without a
/// pair with a value (`{}`, `{level=}`, `[]`) is a misfit, kept under
/// `okta.system.unmapped`.
fn key_values<'s>(value: &'s Json<'_>) -> KeyValues<'s> {
    let (read, clean) = match value {
        Json::Str(s) if looks_like_json_object(s) => match json_text(s) {
            Some(parsed) => (
                object_pairs(&parsed).map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                        .collect()
                }),
                false,
            ),
            None => (None, false),
        },
        // A JSON array is not `{k=v}` text: kept as it is. (Text that opens with `{` but
        // is not object-like cannot be JSON, so only `[` is worth a parse.)
        Json::Str(s) if s.trim_start().starts_with('[') => match json_text(s) {
            Some(_) => (None, false),
            None => (kv::parse(s), is_borrowed(s)),
        },
        // The pairs are cut out of `s` (a value continued over a comma is joined with
        // `, `): nothing to escape when `s` had nothing.
        Json::Str(s) => (kv::parse(s), is_borrowed(s)),
        v if v.is_empty() => return KeyValues::Empty,
        Json::Obj(members) => (object_pairs(value), clean_scalars(members)),
        _ => (None, false),
    };
    match read {
        Some(pairs) if pairs.iter().any(|(_, v)| !v.is_empty()) => KeyValues::Pairs(pairs, clean),
        _ => KeyValues::Misfit,
    }
}

/// A string serde_json borrowed from its input: nothing to escape (see [`Json`]).
// The point is which `Cow` variant it is: a `&str` would not tell.
#[allow(clippy::ptr_arg)]
fn is_borrowed(s: &Cow<'_, str>) -> bool {
    matches!(s, Cow::Borrowed(_))
}

/// Whether the [`object_pairs`] of `members` hold nothing to escape: borrowed keys and
/// string values (numbers and booleans are written as their JSON text).
fn clean_scalars(members: &[(Cow<'_, str>, Json<'_>)]) -> bool {
    members.iter().all(|(k, v)| {
        is_borrowed(k)
            && match v {
                Json::Str(s) => is_borrowed(s),
                _ => true,
            }
    })
}

/// Writes `pairs` as the members of the open object; `clean`: see [`KeyValues::Pairs`].
fn write_pairs(w: &mut JsonWriter<'_>, pairs: &Pairs<'_>, clean: bool) {
    for (k, v) in pairs {
        if clean {
            w.clean_str(Key::Clean(k), v);
        } else {
            w.str(k, Some(v));
        }
    }
}

/// The members of an object whose values are all scalars (or empty), as text.
fn object_pairs<'s>(value: &'s Json<'_>) -> Option<Pairs<'s>> {
    let Json::Obj(members) = value else {
        return None;
    };
    let mut pairs = Vec::with_capacity(members.len());
    for (key, v) in members {
        match scalar_text(v) {
            Some(text) => pairs.push((Cow::Borrowed(key.as_ref()), text)),
            None if v.is_empty() => {}
            None => return None,
        }
    }
    Some(pairs)
}

/// The `{key=value}` pairs of a `risk` / `behaviors` value (text or object), when it
/// has some (for the `elastic` schema's flattened view), and whether they hold nothing
/// to escape (see [`KeyValues::Pairs`]).
pub(crate) fn pairs<'s>(value: &'s Json<'_>) -> Option<(Pairs<'s>, bool)> {
    match key_values(value) {
        KeyValues::Pairs(p, clean) => Some((p, clean)),
        KeyValues::Empty | KeyValues::Misfit => None,
    }
}

/// JSON text holding an object or an array, parsed (for `logOnlySecurityData`).
pub(crate) fn parse_json_text(s: &str) -> Option<Json<'_>> {
    json_text(s)
}

/// `{"...` (after whitespace): JSON object text rather than `{k=v}`.
fn looks_like_json_object(s: &str) -> bool {
    let s = s.trim_start();
    s.strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with(['"', '}']))
}

/// Parses JSON text holding an object or an array; `None` for anything else.
fn json_text(s: &str) -> Option<Json<'_>> {
    if !s.trim_start().starts_with(['{', '[']) {
        return None;
    }
    // Okta's JSON text (`logOnlySecurityData`, ...) is objects of plain strings: read by
    // `simple`, the same value serde_json gives; anything else goes to serde_json.
    if let Some(v) = simple::parse(s) {
        return Some(v);
    }
    serde_json::from_str::<Json<'_>>(s)
        .ok()
        .filter(|v| matches!(v, Json::Obj(_) | Json::Arr(_)))
}

/// A byte-level reader for the JSON text Okta puts in debugData: objects and arrays of
/// strings without escape sequences, `true`, `false` and `null`. It gives up (`None`) on
/// anything else (numbers, escapes, malformed text, deep nesting), and the caller asks
/// serde_json; what it accepts it reads as serde_json does (strings borrowed, members in
/// order, duplicates kept, only JSON whitespace, nothing after the value).
mod simple {
    use std::borrow::Cow;

    use crate::json::Json;

    /// Nesting this reader goes to before leaving the text to serde_json.
    const MAX_DEPTH: usize = 32;

    pub(super) fn parse(s: &str) -> Option<Json<'_>> {
        let mut r = Reader { s, at: 0 };
        r.ws();
        let value = r.value(0)?;
        r.ws();
        (r.at == s.len()).then_some(value)
    }

    struct Reader<'s> {
        s: &'s str,
        at: usize,
    }

    impl<'s> Reader<'s> {
        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.at).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }

        fn eat(&mut self, b: u8) -> Option<()> {
            (self.peek() == Some(b)).then(|| self.at += 1)
        }

        fn value(&mut self, depth: usize) -> Option<Json<'s>> {
            match self.peek()? {
                b'"' => Some(Json::Str(Cow::Borrowed(self.string()?))),
                b'{' if depth < MAX_DEPTH => self.object(depth + 1),
                b'[' if depth < MAX_DEPTH => self.array(depth + 1),
                b't' => self.word("true", Json::Bool(true)),
                b'f' => self.word("false", Json::Bool(false)),
                b'n' => self.word("null", Json::Null),
                _ => None,
            }
        }

        fn word(&mut self, word: &str, value: Json<'s>) -> Option<Json<'s>> {
            self.s[self.at..].starts_with(word).then(|| {
                self.at += word.len();
                value
            })
        }

        /// A string without escape sequences or control bytes (serde_json refuses the
        /// latter; the former it would decode).
        fn string(&mut self) -> Option<&'s str> {
            self.eat(b'"')?;
            let start = self.at;
            let rest = &self.s.as_bytes()[start..];
            let len = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            if rest[len] != b'"' {
                return None;
            }
            self.at = start + len + 1;
            // Quotes are ASCII: both ends are on character boundaries.
            self.s.get(start..start + len)
        }

        fn object(&mut self, depth: usize) -> Option<Json<'s>> {
            self.eat(b'{')?;
            let mut members = Vec::new();
            self.ws();
            if self.eat(b'}').is_some() {
                return Some(Json::Obj(members));
            }
            loop {
                let key = self.string()?;
                self.ws();
                self.eat(b':')?;
                self.ws();
                members.push((Cow::Borrowed(key), self.value(depth)?));
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    b'}' => {
                        self.at += 1;
                        return Some(Json::Obj(members));
                    }
                    _ => return None,
                }
            }
        }

        fn array(&mut self, depth: usize) -> Option<Json<'s>> {
            self.eat(b'[')?;
            let mut items = Vec::new();
            self.ws();
            if self.eat(b']').is_some() {
                return Some(Json::Arr(items));
            }
            loop {
                items.push(self.value(depth)?);
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    b']' => {
                        self.at += 1;
                        return Some(Json::Arr(items));
                    }
                    _ => return None,
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::parse;
        use crate::json::Json;

        /// What it reads is what serde_json reads; what it leaves, serde_json reads or
        /// refuses.
        #[test]
        fn agrees_with_serde_json() {
            let cases = [
                r#"{"risk":{"level":"LOW"},"behaviors":{"New IP":"NEGATIVE"},"network":{"ip":"1.2.3.4","version":"V4"}}"#,
                r#" { "a" : [ "x" , true , false , null , { } , [ ] ] , "a" : "dup" } "#,
                r#"[{"anonymous":true,"operator":"EXAMPLE_VPN","type":"VPN"}]"#,
                "{}",
                "[]",
                "{\"t\":\"\ttab\"}",
                r#"{"esc":"a\"b"}"#,
                r#"{"n":1}"#,
                r#"{"a":"b",}"#,
                r#"{"a":"b"} x"#,
                r#"{"a":"b""#,
                r#"{"a" "b"}"#,
                r#"["a",]"#,
                r#"{"a":tru}"#,
                r#"{"ü":"ø"}"#,
                "{\"a\":\"b\"}\u{a0}",
                &format!("{}{}", "[".repeat(40), "]".repeat(40)),
            ];
            for case in cases {
                let serde = serde_json::from_str::<Json<'_>>(case).ok();
                // When it gives up, serde_json decides.
                if let Some(ours) = parse(case) {
                    assert_eq!(Some(ours), serde, "{case}");
                }
            }
            assert!(parse(cases[0]).is_some());
            assert!(parse(cases[1]).is_some());
            assert!(parse(cases[2]).is_some());
            assert!(parse(r#"{"esc":"a\"b"}"#).is_none());
            assert!(parse(r#"{"a":"b"} x"#).is_none());
        }
    }
}

/// The value of the last member `key` of `pairs` (none when it is empty).
pub(crate) fn pair<'p>(pairs: Option<&'p Pairs<'_>>, key: &str) -> Option<&'p str> {
    pairs?
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.is_empty())
}

/// The pairs of a `risk` / `behaviors` value that has some.
fn pairs_of<'p, 's>(which: &'p Option<KeyValues<'s>>) -> Option<&'p Pairs<'s>> {
    match which {
        Some(KeyValues::Pairs(p, _)) => Some(p),
        _ => None,
    }
}

/// debugData, read once for both places it is written.
pub(crate) struct DebugData<'s, 'a> {
    members: &'s [(Cow<'a, str>, Json<'a>)],
    risk: Option<KeyValues<'s>>,
    behaviors: Option<KeyValues<'s>>,
    /// The JSON-text members that parsed (or were objects / arrays already), by name.
    parsed: Vec<(&'static str, Json<'s>)>,
    /// `threatSuspected`, `dtHash`, `rootSessionId`, `rootApiTokenId`, `requestApiTokenId`.
    ids: [Option<&'s Json<'a>>; 5],
}

/// The debugData members of [`DebugData::ids`], in order.
const ID_MEMBERS: [&str; 5] = [
    "threatSuspected",
    "dtHash",
    "rootSessionId",
    "rootApiTokenId",
    "requestApiTokenId",
];

impl<'s, 'a> DebugData<'s, 'a> {
    /// Reads `members` (debugData's members, in order).
    pub(crate) fn new(members: &'s [(Cow<'a, str>, Json<'a>)]) -> Self {
        let mut data = DebugData {
            members,
            risk: None,
            behaviors: None,
            parsed: Vec::new(),
            ids: [None; 5],
        };
        for (key, value) in members {
            match key.as_ref() {
                "risk" => data.risk = Some(key_values(value)),
                "behaviors" => data.behaviors = Some(key_values(value)),
                name => {
                    if let Some(i) = ID_MEMBERS.iter().position(|m| *m == name) {
                        data.ids[i] = Some(value);
                        continue;
                    }
                    if let Some(name) = JSON_TEXT_MEMBERS.iter().find(|m| **m == name) {
                        let parsed = match value {
                            Json::Str(s) => json_text(s),
                            Json::Obj(_) | Json::Arr(_) => Some(value.clone()),
                            _ => None,
                        };
                        if let Some(parsed) = parsed {
                            data.parsed.retain(|(n, _)| n != name);
                            data.parsed.push((name, parsed));
                        }
                    }
                }
            }
        }
        data
    }

    fn parsed(&self, name: &str) -> Option<&Json<'s>> {
        self.parsed.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Keeps debugData member `name` verbatim under `unmapped` (its parse wrote nothing).
    fn keep(&self, name: &str, u: &mut Unmapped<'s>) {
        if let Some(value) = self.member(name) {
            u.push(At::key("debugContext.debugData"), name, value);
        }
    }

    fn is_parsed(&self, name: &str) -> bool {
        self.parsed(name).is_some()
    }

    fn member(&self, name: &str) -> Option<&'s Json<'a>> {
        if let Some(i) = ID_MEMBERS.iter().position(|m| *m == name) {
            return self.ids[i];
        }
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// `okta.system.debug`: keys verbatim, values as strings, except `behaviors` and
    /// `risk` (objects of strings) and `threatSuspected` (a boolean). The JSON-text
    /// members that parsed are in `okta.debug_context.debug_data` instead; anything
    /// else that is not a scalar goes to `unmapped`.
    pub(crate) fn write_system(&'s self, w: &mut JsonWriter<'_>, u: &mut Unmapped<'s>) {
        let at = At::key("debugContext.debugData");
        w.open_object(k!("debug"));
        for (key, value) in self.members {
            match key.as_ref() {
                name @ ("behaviors" | "risk") => {
                    let read = if name == "risk" {
                        &self.risk
                    } else {
                        &self.behaviors
                    };
                    match read {
                        Some(KeyValues::Pairs(pairs, clean)) => {
                            w.open_object(Key::parsed(key));
                            write_pairs(w, pairs, *clean);
                            w.close();
                        }
                        Some(KeyValues::Empty) | None => {}
                        Some(KeyValues::Misfit) => u.push(at, key, value),
                    }
                }
                "threatSuspected" => match value.as_bool() {
                    Some(b) => w.bool(key, Some(b)),
                    None => u.push(at, key, value),
                },
                name if self.is_parsed(name) => {}
                _ => match value {
                    Json::Str(text) => w.parsed_str(Key::parsed(key), text),
                    _ => match scalar_text(value) {
                        Some(t) => w.str(Key::parsed(key), Some(&t)),
                        None => u.push(at, key, value),
                    },
                },
            }
        }
        w.close();
    }

    /// `okta.debug_context.debug_data`: the parsed view (see `docs/fields.md`).
    pub(crate) fn write_parsed(&'s self, w: &mut JsonWriter<'_>, u: &mut Unmapped<'s>) {
        let log_only = self.parsed("logOnlySecurityData");
        let log_only_risk = log_only.and_then(|l| l.get("risk")).map(key_values);
        let log_only_behaviors = log_only.and_then(|l| l.get("behaviors")).map(key_values);
        let risk = pairs_of(&self.risk);
        let log_risk = pairs_of(&log_only_risk);
        // Elastic's order: the log-only risk first, then debugData.risk.
        let risk_of = |key: &str| pair(log_risk, key).or_else(|| pair(risk, key));
        let itp_of = |key: &str| pair(risk, key).or_else(|| pair(log_risk, key));

        w.open_object(k!("debug_context"));
        w.open_object(k!("debug_data"));
        w.str(k!("risk_level"), risk_of("level"));
        w.str_array(
            k!("risk_reasons"),
            risk_of("reasons")
                .into_iter()
                .flat_map(|r| r.split(','))
                .map(str::trim),
        );
        w.str(k!("risk_previous_level"), itp_of("previousLevel"));
        w.str(k!("risk_detection_name"), itp_of("detectionName"));
        w.str(k!("risk_issuer"), itp_of("issuer"));
        let behaviors = pairs_of(&self.behaviors).or_else(|| pairs_of(&log_only_behaviors));
        w.str_array(
            k!("risk_behaviors"),
            behaviors
                .into_iter()
                .flatten()
                .filter(|(_, v)| v.trim().eq_ignore_ascii_case("POSITIVE"))
                .map(|(k, _)| k.as_ref()),
        );
        w.bool(k!("threat_suspected"), self.ids[0].and_then(Json::as_bool));
        let id = |i: usize| self.ids[i].and_then(scalar_text);
        w.str(k!("dt_hash"), id(1).as_deref());
        w.str(k!("root_session_id"), id(2).as_deref());
        w.str(k!("root_api_token_id"), id(3).as_deref());
        w.str(k!("request_api_token_id"), id(4).as_deref());

        if let Some(log_only) = log_only {
            let at = At::key("debugContext.debugData.logOnlySecurityData");
            match log_only {
                Json::Obj(members) => {
                    w.open_object(k!("logOnlySecurityData"));
                    for (key, value) in members {
                        match key.as_ref() {
                            "risk" | "behaviors" => {
                                let read = if key == "risk" {
                                    &log_only_risk
                                } else {
                                    &log_only_behaviors
                                };
                                match read {
                                    Some(KeyValues::Pairs(pairs, clean)) => {
                                        w.open_object(Key::parsed(key));
                                        write_pairs(w, pairs, *clean);
                                        w.close();
                                    }
                                    Some(KeyValues::Empty) | None => {}
                                    Some(KeyValues::Misfit) => u.push(at, key, value),
                                }
                            }
                            _ => write_leaves_as_text(
                                w,
                                Key::parsed(key),
                                value,
                                at,
                                &SubPath::new(key),
                                u,
                            ),
                        }
                    }
                    if !w.close_kept() {
                        self.keep("logOnlySecurityData", u);
                    }
                }
                _ => self.keep("logOnlySecurityData", u),
            }
        }

        if let Some(tunnels) = self.parsed("tunnels") {
            let items: &[Json<'s>] = match tunnels {
                Json::Arr(items) => items,
                one @ Json::Obj(_) => std::slice::from_ref(one),
                _ => &[],
            };
            if items.iter().all(|t| t.is_object() || t.is_empty()) {
                w.open_array(k!("tunnels"));
                for (i, tunnel) in items.iter().enumerate() {
                    let Json::Obj(members) = tunnel else {
                        continue;
                    };
                    w.open_object(k!(""));
                    for (key, value) in members {
                        match (key.as_ref(), value.as_bool()) {
                            ("anonymous", Some(b)) => w.bool(key, Some(b)),
                            _ => write_leaves_as_text(
                                w,
                                Key::parsed(key),
                                value,
                                At::index("debugContext.debugData.tunnels", i),
                                &SubPath::new(key),
                                u,
                            ),
                        }
                    }
                    w.close();
                }
                if !w.close_kept() {
                    self.keep("tunnels", u);
                }
            } else {
                self.keep("tunnels", u);
            }
        }

        if let Some(principal) = self.parsed("originalPrincipal") {
            if principal.is_object() {
                w.open_object(k!("originalPrincipal"));
                if let Json::Obj(members) = principal {
                    for (key, value) in members {
                        write_leaves_as_text(
                            w,
                            Key::parsed(key),
                            value,
                            At::key("debugContext.debugData.originalPrincipal"),
                            &SubPath::new(key),
                            u,
                        );
                    }
                }
                if !w.close_kept() {
                    self.keep("originalPrincipal", u);
                }
            } else {
                self.keep("originalPrincipal", u);
            }
        }
        w.close();
        w.close();
    }
}

/// Writes `value` with every scalar as its text (so each field is a string in every
/// document): objects member by member, arrays of scalars as arrays of strings, arrays
/// of objects as arrays of objects. An array that mixes objects with other values
/// goes to `unmapped` (`at` + `okta_key` is its Okta path).
fn write_leaves_as_text<'s>(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    value: &'s Json<'s>,
    at: At,
    okta_key: &SubPath<'_>,
    u: &mut Unmapped<'s>,
) {
    match value {
        Json::Obj(members) => {
            w.open_object(key);
            for (k, v) in members {
                let sub = SubPath {
                    parent: Some(okta_key),
                    key: k,
                };
                write_leaves_as_text(w, Key::parsed(k), v, at, &sub, u);
            }
            w.close();
        }
        Json::Arr(items) => {
            let objects = items.iter().filter(|i| i.is_object()).count();
            let scalars = items
                .iter()
                .filter(|i| !i.is_empty() && scalar_text(i).is_some())
                .count();
            let nested = items
                .iter()
                .any(|i| matches!(i, Json::Arr(_)) && !i.is_empty());
            if nested || (objects > 0 && scalars > 0) {
                u.push(at, &okta_key.text(), value);
                return;
            }
            w.open_array(key);
            for item in items {
                match item {
                    Json::Obj(_) => write_leaves_as_text(w, k!(""), item, at, okta_key, u),
                    other => w.str(k!(""), scalar_text(other).as_deref()),
                }
            }
            w.close();
        }
        Json::Str(text) => w.parsed_str(key, text),
        other => w.str(key, scalar_text(other).as_deref()),
    }
}

/// An Okta key path below an [`At`] (`network.ip`), joined only when something goes
/// to `unmapped`.
struct SubPath<'p> {
    parent: Option<&'p SubPath<'p>>,
    key: &'p str,
}

impl<'p> SubPath<'p> {
    fn new(key: &'p str) -> Self {
        SubPath { parent: None, key }
    }

    fn text(&self) -> String {
        match self.parent {
            Some(parent) => join(&parent.text(), self.key),
            None => self.key.to_owned(),
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_owned()
    } else {
        format!("{a}.{b}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::Normalizer;

    /// The document of a `policy.evaluate_sign_on` event with `debug_data`.
    fn doc(debug_data: Value) -> Value {
        let event = json!({
            "uuid": "d1", "published": "2024-05-01T10:00:00Z",
            "eventType": "policy.evaluate_sign_on",
            "debugContext": {"debugData": debug_data},
        });
        Normalizer::default()
            .normalize_value(event.to_string().as_bytes())
            .expect("normalizes")
    }

    fn parsed(doc: &Value) -> &Value {
        &doc["okta"]["debug_context"]["debug_data"]
    }

    #[test]
    fn risk_text_gives_the_level_and_every_reason() {
        let d =
            doc(json!({"risk": "{reasons=Anomalous Device, Anomalous Location, level=MEDIUM}"}));
        assert_eq!(parsed(&d)["risk_level"], "MEDIUM");
        assert_eq!(
            parsed(&d)["risk_reasons"],
            json!(["Anomalous Device", "Anomalous Location"])
        );
        // Sekoia.io's layout stays as it was.
        assert_eq!(
            d["okta"]["system"]["debug"]["risk"],
            json!({"reasons": "Anomalous Device, Anomalous Location", "level": "MEDIUM"})
        );
    }

    #[test]
    fn positive_behaviors_are_listed() {
        let d = doc(json!({
            "behaviors": "{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=POSITIVE, Velocity=NEGATIVE}"
        }));
        assert_eq!(
            parsed(&d)["risk_behaviors"],
            json!(["New Device", "New IP"])
        );
    }

    #[test]
    fn itp_risk_change_fields() {
        let d = doc(json!({
            "risk": "{previousLevel=LOW, level=MEDIUM, detectionName=Session Influenced User Risk, reasons=idxGuvnnpQKQ8uVw56TGp23Qg, issuer=OKTA}",
            "traceId": "65d65fa6-b5a9-50e9-b6f1-637b9fb71c50"
        }));
        let p = parsed(&d);
        assert_eq!(p["risk_previous_level"], "LOW");
        assert_eq!(p["risk_level"], "MEDIUM");
        assert_eq!(p["risk_detection_name"], "Session Influenced User Risk");
        assert_eq!(p["risk_reasons"], json!(["idxGuvnnpQKQ8uVw56TGp23Qg"]));
        assert_eq!(p["risk_issuer"], "OKTA");
        assert_eq!(
            d["okta"]["system"]["debug"]["traceId"],
            "65d65fa6-b5a9-50e9-b6f1-637b9fb71c50"
        );
    }

    #[test]
    fn log_only_security_data_as_text_or_object() {
        let data = json!({
            "risk": {"level": "HIGH", "reasons": "New Device, New IP"},
            "behaviors": {"New Device": "POSITIVE", "New IP": "NEGATIVE"},
            "extra": 7
        });
        for value in [Value::from(data.to_string()), data.clone()] {
            let d = doc(json!({"logOnlySecurityData": value}));
            let p = parsed(&d);
            assert_eq!(p["risk_level"], "HIGH");
            assert_eq!(p["risk_reasons"], json!(["New Device", "New IP"]));
            assert_eq!(p["risk_behaviors"], json!(["New Device"]));
            assert_eq!(p["logOnlySecurityData"]["risk"]["level"], "HIGH");
            assert_eq!(
                p["logOnlySecurityData"]["behaviors"]["New Device"],
                "POSITIVE"
            );
            assert_eq!(p["logOnlySecurityData"]["extra"], "7");
            // Written once: not also as text in okta.system.debug.
            assert!(d["okta"]["system"].get("debug").is_none(), "{d}");
        }
    }

    #[test]
    fn tunnels_and_original_principal_are_parsed() {
        let d = doc(json!({
            "tunnels": "[{\"anonymous\":true,\"operator\":\"EXAMPLE_VPN\",\"type\":\"VPN\"}]",
            "originalPrincipal": "{\"id\":\"00u1\",\"type\":\"User\",\"alternateId\":\"admin@example.com\",\"displayName\":\"Admin\"}",
            "threatSuspected": "true",
            "dtHash": "abc",
            "rootSessionId": "idx1",
            "rootApiTokenId": "00T1",
            "requestApiTokenId": "00T2"
        }));
        let p = parsed(&d);
        assert_eq!(
            p["tunnels"],
            json!([{"anonymous": true, "operator": "EXAMPLE_VPN", "type": "VPN"}])
        );
        assert_eq!(
            p["originalPrincipal"],
            json!({"id": "00u1", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"})
        );
        assert_eq!(p["threat_suspected"], true);
        assert_eq!(p["dt_hash"], "abc");
        assert_eq!(p["root_session_id"], "idx1");
        assert_eq!(p["root_api_token_id"], "00T1");
        assert_eq!(p["request_api_token_id"], "00T2");
        assert!(d["okta"]["system"].get("unmapped").is_none(), "{d}");
    }

    #[test]
    fn malformed_values_are_kept_not_lost() {
        let d = doc(json!({
            "logOnlySecurityData": "{\"risk\": {\"level\": ",
            "tunnels": "[1, {\"type\": \"VPN\"}]",
            "originalPrincipal": "[\"x\"]",
            "risk": "no pairs here",
            "behaviors": "{}",
            "threatSuspected": "maybe"
        }));
        let system = &d["okta"]["system"];
        // Text that is not JSON stays text.
        assert_eq!(
            system["debug"]["logOnlySecurityData"],
            "{\"risk\": {\"level\": "
        );
        let unmapped: Vec<String> = system["unmapped"]
            .as_array()
            .expect("unmapped")
            .iter()
            .map(|u| u["path"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(
            unmapped,
            [
                "debugContext.debugData.tunnels",
                "debugContext.debugData.originalPrincipal",
                "debugContext.debugData.behaviors",
                "debugContext.debugData.risk",
                "debugContext.debugData.threatSuspected",
            ],
            "{d}"
        );
    }
}
