//! Alerts: documents of their own (`event.kind: alert`), with an id derived from the rule, the
//! group key and the window, so a replay after a crash and an idempotent store never double one.

use serde_json::{json, Map, Value};

use crate::event::{format_ms, Ecs, EventView, Facts};

/// The ruleset name of the built-in rules (`rule.ruleset`).
pub const BUILTIN_RULESET: &str = "oktaflow-builtin";

/// How serious an alert is. The risk score follows the usual 0–100 bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational, worth a look.
    Low,
    /// Likely unwanted.
    Medium,
    /// Likely an attack or a dangerous change.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `event.risk_score` (and `event.severity`): 21, 47, 73, 99.
    pub fn risk_score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }
}

/// What a rule is: its `rule.*` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// `rule.id`, e.g. `okta.brute_force_logins`.
    pub id: &'static str,
    /// `rule.name`.
    pub name: &'static str,
    /// `rule.description`.
    pub description: &'static str,
    /// `rule.reference`.
    pub reference: &'static str,
    /// `rule.ruleset`.
    pub ruleset: &'static str,
    /// `event.category` of the alert.
    pub category: &'static str,
}

/// One event that took part in an alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    /// `published`, ms since the epoch.
    pub ts: i64,
    /// The event's `uuid`.
    pub id: String,
}

/// An alert raised by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `event.id`: derived from the rule, the group key and the window (see [`alert_id`]).
    pub id: String,
    /// The rule that raised it.
    pub rule: RuleMeta,
    /// Its severity.
    pub severity: Severity,
    /// What the rule grouped on (an account, an IP, a session), `""` for single-event rules.
    pub group: String,
    /// `@timestamp`: the `published` of the event that completed the alert (ms).
    pub timestamp_ms: i64,
    /// The triggering events' ids, oldest first (all of them for a threshold rule).
    pub triggers: Vec<Trigger>,
    /// The alert document (ECS) as compact JSON text, written once when the alert is built:
    /// what [`Alert::to_json_bytes`] gives.
    json: Vec<u8>,
}

impl Alert {
    /// The alert document (ECS), parsed from its JSON text (a new value on every call: meant
    /// for tests and tools, not for the hot path, which takes [`Alert::json`]).
    pub fn document(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// The document as compact JSON text (what a sink writes).
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The document as compact JSON (what a sink writes).
    pub fn to_json(&self) -> String {
        String::from_utf8_lossy(&self.json).into_owned()
    }

    /// The same text as [`Alert::to_json`], as bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.json.clone()
    }

    /// The document's JSON text, without a copy.
    pub fn into_json_bytes(self) -> Vec<u8> {
        self.json
    }
}

/// The id of the alert of `rule` for `group` over `window` (an opaque, stable text such as the
/// first and last triggering event ids): a UUID (version 8) made of a 128-bit FNV-1a hash, the
/// same in every run, every build and on every machine.
pub fn alert_id(rule: &str, group: &str, window: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    for part in [rule, group, window] {
        // Each part is length-prefixed so ("ab", "c") and ("a", "bc") differ.
        for byte in (part.len() as u64)
            .to_le_bytes()
            .iter()
            .chain(part.as_bytes())
        {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    // RFC 9562 version 8 (custom) and the RFC variant.
    let hash = (hash & !(0xF << 76)) | (0x8 << 76);
    let hash = (hash & !(0x3 << 62)) | (0x2 << 62);
    uuid_text(hash)
}

/// `hash` as a UUID's text: 32 lowercase hex digits, most significant first, grouped 8-4-4-4-12.
fn uuid_text(hash: u128) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for nibble in 0..32 {
        if matches!(nibble, 8 | 12 | 16 | 20) {
            text.push('-');
        }
        let digit = (hash >> (124 - 4 * nibble)) & 0xF;
        text.push(char::from(HEX[digit as usize]));
    }
    text
}

/// What a rule knows when it fires; turned into an [`Alert`] by [`build`].
pub(crate) struct Firing<'e, 'a> {
    pub rule: RuleMeta,
    pub severity: Severity,
    pub group: String,
    /// The window part of the id.
    pub window: String,
    pub event: &'e EventView<'a>,
    pub triggers: Vec<Trigger>,
    /// A one-line summary (`message`).
    pub message: String,
    /// Rule-specific details under `oktaflow.alert.details`.
    pub details: Value,
}

/// Members of an alert's `rule` beyond [`RuleMeta`]'s: what a Sigma rule adds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RuleExtra<'x> {
    /// `rule.reference`.
    pub reference: Reference<'x>,
    /// `rule.author` (a one-item list).
    pub author: Option<&'x str>,
    /// `rule.license`.
    pub license: Option<&'x str>,
    /// `rule.tags` (left out when empty).
    pub tags: &'x [String],
}

/// What an alert's `rule.reference` is.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) enum Reference<'x> {
    /// [`RuleMeta::reference`], a text.
    #[default]
    Meta,
    /// No `rule.reference` member.
    Absent,
    /// A list of them.
    Many(&'x [String]),
}

/// The alert of a rule's firing (see [`build_with`]).
pub(crate) fn build(firing: Firing<'_, '_>) -> Alert {
    build_with(firing, &RuleExtra::default())
}

/// The alert of a rule's firing, with `extra` members in `rule`. The document is written
/// straight as JSON text, members in the order a `serde_json::Map` (sorted) would give
/// them, and the triggering event's party members ([`PARTY_KEYS`]) are copied as the text
/// they have in the normalized document (checked to read as JSON, not decoded), so the text
/// parses to the document the old `Value` tree held.
pub(crate) fn build_with(firing: Firing<'_, '_>, extra: &RuleExtra<'_>) -> Alert {
    let Firing {
        rule,
        severity,
        group,
        window,
        event,
        triggers,
        message,
        details,
    } = firing;
    let facts = event.facts();
    let id = alert_id(rule.id, &group, &window);
    let ts = facts.published_ms;
    let start = triggers.first().map_or(ts, |t| t.ts);
    let end_text = format_ms(ts);
    let parties = parties_of(facts, event);
    let party_len: usize = parties.iter().flatten().map(Party::len_hint).sum();
    // The fixed part is some 700 bytes; the details rarely reach 300.
    let texts = message.len() + rule.description.len() + rule.name.len() + 40 * triggers.len();
    let mut w = Writer(Vec::with_capacity(1024 + party_len + texts));
    w.raw(r#"{"@timestamp":"#);
    w.str(&end_text);
    w.party(r#","client":"#, &parties[2]);
    w.raw(r#","event":{"action":"#);
    w.str(&facts.event_type);
    w.raw(r#","category":["#);
    w.str(rule.category);
    w.raw(r#"],"dataset":"okta.alert","end":"#);
    w.str(&end_text);
    w.raw(r#","id":"#);
    w.str(&id);
    w.raw(r#","kind":"alert","module":"okta","risk_score":"#);
    w.num(u64::from(severity.risk_score()));
    w.raw(r#","severity":"#);
    w.num(u64::from(severity.risk_score()));
    w.raw(r#","start":"#);
    if start == ts {
        w.str(&end_text);
    } else {
        w.str(&format_ms(start));
    }
    w.raw(r#","type":["info"]},"labels":{"severity":"#);
    w.str(severity.as_str());
    w.raw(r#"},"message":"#);
    w.str(&message);
    w.raw(concat!(
        r#","observer":{"product":"Okta Identity Cloud","type":"iam","vendor":"Okta"}"#,
        r#","oktaflow":{"alert":{"count":"#
    ));
    w.num(triggers.len() as u64);
    w.raw(r#","details":"#);
    w.value(&details);
    w.raw(r#","event_ids":["#);
    for (i, t) in triggers.iter().enumerate() {
        if i > 0 {
            w.raw(",");
        }
        w.str(&t.id);
    }
    w.raw(r#"],"group":"#);
    w.str(&group);
    w.raw("}}");
    w.party(r#","related":"#, &parties[4]);
    w.raw(r#","rule":{"#);
    if let Some(author) = extra.author {
        w.raw(r#""author":["#);
        w.str(author);
        w.raw("],");
    }
    w.raw(r#""description":"#);
    w.str(rule.description);
    w.raw(r#","id":"#);
    w.str(rule.id);
    if let Some(license) = extra.license {
        w.raw(r#","license":"#);
        w.str(license);
    }
    w.raw(r#","name":"#);
    w.str(rule.name);
    match extra.reference {
        Reference::Meta => {
            w.raw(r#","reference":"#);
            w.str(rule.reference);
        }
        Reference::Absent => {}
        Reference::Many(list) => {
            w.raw(r#","reference":"#);
            w.strs(list);
        }
    }
    w.raw(r#","ruleset":"#);
    w.str(rule.ruleset);
    if !extra.tags.is_empty() {
        w.raw(r#","tags":"#);
        w.strs(extra.tags);
    }
    w.raw("}");
    w.party(r#","source":"#, &parties[1]);
    w.party(r#","user":"#, &parties[0]);
    w.party(r#","user_agent":"#, &parties[3]);
    w.raw("}");
    Alert {
        id,
        rule,
        severity,
        group,
        timestamp_ms: ts,
        triggers,
        json: w.0,
    }
}

/// A JSON text being written (always valid UTF-8: every piece is).
struct Writer(Vec<u8>);

impl Writer {
    /// JSON text as it is.
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A string, escaped as serde_json escapes it ([`crate::json_out::write_str`]).
    fn str(&mut self, s: &str) {
        crate::json_out::write_str(&mut self.0, s);
    }

    /// A list of strings.
    fn strs(&mut self, list: &[String]) {
        self.raw("[");
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.str(s);
        }
        self.raw("]");
    }

    /// An unsigned integer.
    fn num(&mut self, n: u64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A value, as serde_json writes it.
    fn value(&mut self, value: &Value) {
        let at = self.0.len();
        // Writing a `Value` into a `Vec` does not fail; should it, the member is `null`
        // rather than cut text.
        if serde_json::to_writer(&mut self.0, value).is_err() {
            self.0.truncate(at);
            self.raw("null");
        }
    }

    /// `key` (quoted, with its comma and colon) and the party member, if there is one.
    fn party(&mut self, key: &str, party: &Option<Party<'_>>) {
        match party {
            None => {}
            Some(Party::Raw(text)) => {
                self.raw(key);
                self.0.extend_from_slice(text);
            }
            Some(Party::Borrowed(value)) => {
                self.raw(key);
                self.value(value);
            }
            Some(Party::Owned(value)) => {
                self.raw(key);
                self.value(value);
            }
        }
    }
}

/// A party member of an alert ([`PARTY_KEYS`]).
enum Party<'a> {
    /// JSON text from the normalized document, checked to read as a `Value` (UTF-8 included).
    Raw(&'a [u8]),
    /// A member of a parsed normalized document.
    Borrowed(&'a Value),
    /// Decoded from the whole document, or made from the event's facts.
    Owned(Value),
}

impl Party<'_> {
    /// About how long its text is.
    fn len_hint(&self) -> usize {
        match self {
            Party::Raw(text) => text.len(),
            Party::Borrowed(_) | Party::Owned(_) => 256,
        }
    }
}

/// Actor (`user`), target (`user.target`), `source` (IP, AS, geo) of the triggering event, in
/// [`PARTY_KEYS`] order: from the normalized document when the caller passed it (it has the
/// GeoIP enrichment and the normalizer's exact layout), else from the raw Okta fields.
fn parties_of<'a>(facts: &Facts<'_>, event: &EventView<'a>) -> [Option<Party<'a>>; 5] {
    let mut out: [Option<Party<'a>>; 5] = Default::default();
    let copied = match event.ecs() {
        Some(Ecs::Value(Value::Object(ecs))) => {
            for (key, slot) in PARTY_KEYS.iter().zip(&mut out) {
                *slot = ecs.get(*key).map(Party::Borrowed);
            }
            true
        }
        Some(Ecs::Value(_)) | None => false,
        // Only the copied members are read; the rest of the document is skipped.
        Some(Ecs::Bytes(bytes)) => match raw_parties(bytes) {
            Some(members) => {
                out = members;
                true
            }
            None => false,
        },
    };
    if copied && (out[0].is_some() || out[1].is_some()) {
        return out;
    }
    let (user, source) = fact_parties(facts);
    if let Some(user) = user {
        out[0] = Some(Party::Owned(user));
    }
    if let Some(source) = source {
        out[1] = Some(Party::Owned(source));
    }
    out
}

/// `user` and `source` from the raw Okta fields (`None`: nothing to say).
fn fact_parties(facts: &Facts<'_>) -> (Option<Value>, Option<Value>) {
    let mut user = Map::new();
    put(&mut user, "id", facts.actor_id.as_deref());
    put(&mut user, "name", facts.actor_alternate_id.as_deref());
    put(&mut user, "full_name", facts.actor_display_name.as_deref());
    if let Some(target) = &facts.target {
        let mut t = Map::new();
        put(&mut t, "id", target.id.as_deref());
        put(&mut t, "name", target.alternate_id.as_deref());
        put(&mut t, "full_name", target.display_name.as_deref());
        if !t.is_empty() {
            user.insert("target".into(), Value::Object(t));
        }
    }
    let mut source = Map::new();
    put(&mut source, "ip", facts.client_ip.as_deref());
    let mut geo = Map::new();
    put(&mut geo, "city_name", facts.geo_city.as_deref());
    put(&mut geo, "region_name", facts.geo_state.as_deref());
    put(&mut geo, "country_name", facts.geo_country.as_deref());
    if let Some(p) = facts.geo_point {
        geo.insert("location".into(), json!({ "lat": p.lat, "lon": p.lon }));
    }
    if !geo.is_empty() {
        source.insert("geo".into(), Value::Object(geo));
    }
    let mut asn = Map::new();
    if let Some(n) = facts.as_number {
        asn.insert("number".into(), json!(n));
    }
    if let Some(org) = facts.as_org.as_deref() {
        asn.insert("organization".into(), json!({ "name": org }));
    }
    if !asn.is_empty() {
        source.insert("as".into(), Value::Object(asn));
    }
    let object = |m: Map<String, Value>| (!m.is_empty()).then_some(Value::Object(m));
    (object(user), object(source))
}

/// The members of the normalized document an alert copies.
const PARTY_KEYS: [&str; 5] = ["user", "source", "client", "user_agent", "related"];

/// The [`PARTY_KEYS`] members of the normalized document `bytes` (`None`: not a JSON object).
/// The members are found by a scan that skips the rest of the document by its brackets and
/// quotes (a fraction of serde's pass, which reads every byte), and each is checked to read
/// as a `Value` without building one (no allocation) and kept as its text; where the scan
/// gives up (an escaped member name, text it cannot follow) or a member does not read,
/// serde reads the whole document (as the decoding before did).
fn raw_parties(bytes: &[u8]) -> Option<[Option<Party<'_>>; 5]> {
    if let Some(spans) = crate::event::top_members(bytes, &PARTY_KEYS) {
        if spans.iter().flatten().all(|text| reads_as_value(text)) {
            return Some(spans.map(|span| span.map(Party::Raw)));
        }
    }
    serde_json::from_slice::<Parties>(bytes)
        .ok()
        .map(|p| p.0.map(|v| v.map(Party::Owned)))
}

/// Whether `text` is one JSON value that serde_json reads as a `Value`: a quick check of
/// the grammar (and of UTF-8) that says yes only where serde_json surely reads it, and asks
/// serde_json (see [`Valid`]) about the rest (text that is not JSON, and what it cannot be
/// sure of: an exponent or a very long number, which may be out of range, a `\u` escape of
/// a surrogate, deep nesting).
fn reads_as_value(text: &[u8]) -> bool {
    let surely = simdutf8::basic::from_utf8(text).is_ok() && {
        let mut check = Check { b: text, i: 0 };
        check.value(0).is_some() && check.i == text.len()
    };
    surely || serde_json::from_slice::<Valid>(text).is_ok()
}

/// The quick check of [`reads_as_value`]: `None` where it is not sure.
struct Check<'b> {
    b: &'b [u8],
    i: usize,
}

impl Check<'_> {
    /// Nesting it checks; deeper asks serde_json (whose limit is 128).
    const DEPTH: usize = 64;

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, text: &[u8]) -> Option<()> {
        let end = self.i + text.len();
        (self.b.get(self.i..end)? == text).then(|| self.i = end)
    }

    /// The value at the cursor (no white space before it).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' | b'[' if depth >= Self::DEPTH => None,
            b'{' => self.items(b'}', |check| {
                check.string()?;
                check.ws();
                check.eat(b":")?;
                check.ws();
                check.value(depth + 1)
            }),
            b'[' => self.items(b']', |check| check.value(depth + 1)),
            b't' => self.eat(b"true"),
            b'f' => self.eat(b"false"),
            b'n' => self.eat(b"null"),
            _ => self.number(),
        }
    }

    /// The items of the object or array whose opening bracket is at the cursor, up to its
    /// `close`, each read by `item` (white space around it skipped).
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.eat(&[close]).is_some() {
            return Some(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b if b == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string: no control character, only JSON's escapes, no `\u` escape of a surrogate.
    fn string(&mut self) -> Option<()> {
        self.eat(b"\"")?;
        loop {
            self.i += crate::event::string_stop(self.b.get(self.i..)?, true)?;
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return Some(()),
                b'\\' => match self.peek()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                    b'u' => {
                        let hex = self.b.get(self.i + 1..self.i + 5)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit)
                            || matches!(hex[0], b'd' | b'D')
                                && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                        {
                            return None;
                        }
                        self.i += 5;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// A number without an exponent and of at most 300 digits (so in range):
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let at = self.i;
            self.digits();
            if self.i == at {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E' | b'0'..=b'9')) || self.i - start > 300 {
            return None;
        }
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }
}

/// A JSON value read through to the end and dropped: it reads exactly where a `Value` would
/// (numbers in range, strings UTF-8 with valid escapes, nesting within serde_json's limit),
/// without allocating.
struct Valid;

impl<'de> serde::Deserialize<'de> for Valid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Valid;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_unit<E>(self) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Valid, A::Error> {
                while seq.next_element::<Valid>()?.is_some() {}
                Ok(Valid)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Valid, A::Error> {
                while map.next_entry::<Valid, Valid>()?.is_some() {}
                Ok(Valid)
            }
        }
        d.deserialize_any(V)
    }
}

/// The [`PARTY_KEYS`] members of a normalized document (the last one when a member is given
/// twice, as a parsed `Value` keeps it); any other member is skipped undecoded. A document
/// that is not a JSON object does not read.
struct Parties([Option<Value>; 5]);

impl<'de> serde::Deserialize<'de> for Parties {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Parties;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Parties, A::Error> {
                let mut out: [Option<Value>; 5] = Default::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match PARTY_KEYS.iter().position(|k| *k == key) {
                        Some(i) => out[i] = Some(map.next_value()?),
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Parties(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Value` tree the alert document was built as before it was written directly (the
    /// code as it was, kept as the reference).
    mod reference {
        use super::super::{fact_parties, Parties, PARTY_KEYS};
        use crate::event::{format_ms, Ecs, EventView, Facts};
        use serde_json::{json, Map, Value};

        /// Sigma's `rule` members: references, author, license, tags.
        pub(super) type Sigma = (Vec<String>, Option<String>, Option<String>, Vec<String>);

        pub(super) struct Input<'e, 'a> {
            pub firing: super::super::Firing<'e, 'a>,
            /// Sigma's references, author, license and tags.
            pub sigma: Option<Sigma>,
        }

        pub(super) fn build(input: Input<'_, '_>) -> Value {
            let super::super::Firing {
                rule,
                severity,
                group,
                window,
                event,
                triggers,
                message,
                details,
            } = input.firing;
            let facts = event.facts();
            let id = super::super::alert_id(rule.id, &group, &window);
            let ts = facts.published_ms;
            let start = triggers.first().map_or(ts, |t| t.ts);
            let ids: Vec<&str> = triggers.iter().map(|t| t.id.as_str()).collect();
            let mut doc = json!({
                "@timestamp": format_ms(ts),
                "message": message,
                "event": {
                    "kind": "alert",
                    "id": id,
                    "category": [rule.category],
                    "type": ["info"],
                    "action": facts.event_type,
                    "severity": severity.risk_score(),
                    "risk_score": severity.risk_score(),
                    "start": format_ms(start),
                    "end": format_ms(ts),
                    "dataset": "okta.alert",
                    "module": "okta",
                },
                "rule": {
                    "id": rule.id,
                    "name": rule.name,
                    "description": rule.description,
                    "reference": rule.reference,
                    "ruleset": rule.ruleset,
                },
                "labels": { "severity": severity.as_str() },
                "oktaflow": { "alert": {
                    "group": group,
                    "event_ids": ids,
                    "count": triggers.len(),
                    "details": details,
                }},
                "observer": { "vendor": "Okta", "product": "Okta Identity Cloud", "type": "iam" },
            });
            if let Value::Object(top) = &mut doc {
                add_parties(top, facts, event);
            }
            if let Some((references, author, license, tags)) = input.sigma {
                if let Some(rule) = doc.get_mut("rule").and_then(Value::as_object_mut) {
                    match references.len() {
                        0 => {
                            rule.remove("reference");
                        }
                        1 => {}
                        _ => {
                            rule.insert("reference".into(), json!(references));
                        }
                    }
                    if let Some(author) = &author {
                        rule.insert("author".into(), json!([author]));
                    }
                    if let Some(license) = &license {
                        rule.insert("license".into(), json!(license));
                    }
                    if !tags.is_empty() {
                        rule.insert("tags".into(), json!(tags));
                    }
                }
            }
            doc
        }

        fn add_parties(top: &mut Map<String, Value>, facts: &Facts<'_>, event: &EventView<'_>) {
            let copied = match event.ecs() {
                Some(Ecs::Value(Value::Object(ecs))) => {
                    for key in PARTY_KEYS {
                        if let Some(v) = ecs.get(key) {
                            top.insert(key.to_owned(), v.clone());
                        }
                    }
                    true
                }
                Some(Ecs::Value(_)) | None => false,
                Some(Ecs::Bytes(bytes)) => match parties(bytes) {
                    Some(members) => {
                        for (key, value) in PARTY_KEYS.iter().zip(members) {
                            if let Some(value) = value {
                                top.insert((*key).to_owned(), value);
                            }
                        }
                        true
                    }
                    None => false,
                },
            };
            if copied && (top.contains_key("user") || top.contains_key("source")) {
                return;
            }
            // The facts' parties are the production code's (`fact_parties`): what this reference
            // checks is how the document around them is written.
            let (user, source) = fact_parties(facts);
            if let Some(user) = user {
                top.insert("user".into(), user);
            }
            if let Some(source) = source {
                top.insert("source".into(), source);
            }
        }

        fn parties(bytes: &[u8]) -> Option<[Option<Value>; 5]> {
            if let Some(spans) = crate::event::top_members(bytes, &PARTY_KEYS) {
                let mut out: [Option<Value>; 5] = Default::default();
                let decoded = spans.iter().zip(&mut out).all(|(span, slot)| match span {
                    None => true,
                    Some(text) => match serde_json::from_slice(text) {
                        Ok(value) => {
                            *slot = Some(value);
                            true
                        }
                        Err(_) => false,
                    },
                });
                if decoded {
                    return Some(out);
                }
            }
            serde_json::from_slice::<Parties>(bytes).ok().map(|p| p.0)
        }
    }

    const RAW: &str = r#"{"uuid":"u-1","published":"2024-05-01T10:00:00.123Z","eventType":"user.session.start","actor":{"id":"00u1","alternateId":"al\"ice@example.com","displayName":"Alice \\ A"},"client":{"ipAddress":"81.2.69.142","geographicalContext":{"city":"London","state":"England","country":"United Kingdom","geolocation":{"lat":51.5,"lon":-0.12}}},"securityContext":{"asNumber":64500,"asOrg":"Example AS"},"target":[{"id":"00u2","alternateId":"bob@example.com","displayName":"Bob","type":"User"}]}"#;

    /// Normalized documents: every party with escapes and numbers, a missing party, a party
    /// given twice, no `user` nor `source` (the facts fill them in), an escaped member name
    /// (the scan gives up, serde reads the whole document), text that is not JSON, a number
    /// out of range, not an object.
    const DOCS: [&str; 12] = [
        r#"{"@timestamp":"2024-05-01T10:00:00.123Z","user":{"name":"al\"ice@example.com","full_name":"Alice \\ A \u00e9\/","id":"00u1","target":{"name":"bob"}},"source":{"ip":"81.2.69.142","geo":{"location":{"lat":51.5,"lon":-0.12},"city_name":"London"},"as":{"number":64500,"organization":{"name":"Example AS"}}},"client":{"ip":"81.2.69.142","x":[1,2.5,-3e2,true,null,{}]},"user_agent":{"original":"Mozilla/5.0 (X11; \"Linux\")","os":{"name":"Linux"}},"related":{"ip":["81.2.69.142"],"user":["al\"ice@example.com","00u1"]},"event":{"kind":"event"}}"#,
        r#"{"source":{"ip":"1.2.3.4"},"event":{"kind":"event"},"related":{"ip":["1.2.3.4"]}}"#,
        r#"{"user":{"name":"first"},"source":{"ip":"1.2.3.4"},"user":{"name":"last","id":"é😀"}}"#,
        r#"{"client":{"ip":"1.2.3.4"},"user_agent":{"original":"curl"}}"#,
        r#"{"us\u0065r":{"name":"escaped name"},"source":{"ip":"1.2.3.4"},"client":{"ip":"5.6.7.8"}}"#,
        r#"  {"user" : {"name" : "spaced"} , "source":null }  "#,
        r#"{"user":{"name":tru},"source":{"ip":"1.2.3.4"}}"#,
        r#"{"user":{"n":1e400},"source":{"ip":"1.2.3.4"}}"#,
        r#"{"user":{"n":"\ud800"},"source":{"ip":"1.2.3.4"}}"#,
        r#"[1,2]"#,
        r#"{}"#,
        r#"{"user":"x","related":{"deep":[[[{"a":{"b":[]}}]]]}}"#,
    ];

    fn firing<'e, 'a>(event: &'e EventView<'a>, case: usize) -> Firing<'e, 'a> {
        let rule = RuleMeta {
            id: "okta.test",
            name: "Test \"rule\"",
            description: "Tab\there, newline\n, control \u{1} and é",
            reference: "https://example.com/r",
            ruleset: BUILTIN_RULESET,
            category: "authentication",
        };
        let triggers: Vec<Trigger> = match case % 3 {
            0 => Vec::new(),
            1 => vec![Trigger {
                ts: event.facts().published_ms,
                id: "u-1".into(),
            }],
            _ => vec![
                Trigger {
                    ts: 1_714_550_000_000,
                    id: "u-0\"".into(),
                },
                Trigger {
                    ts: event.facts().published_ms,
                    id: "u-1".into(),
                },
            ],
        };
        Firing {
            rule,
            severity: [
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
            ][case % 4],
            group: if case.is_multiple_of(2) {
                String::new()
            } else {
                "al\"ice@example.com".into()
            },
            window: format!("w{case}"),
            event,
            triggers,
            message: format!("Message {case}: \"quoted\" \\ \u{7f} 😀"),
            details: json!({"z": [1, 2.5, {"k": null}], "a": "x\u{1f}y", "n": -7, "case": case}),
        }
    }

    /// The directly written document parses to the `Value` tree built before, for every
    /// kind of normalized document, a parsed one, none, and with Sigma's `rule` members.
    #[test]
    fn written_alerts_are_the_value_tree_alerts() {
        let sigma_cases: [Option<reference::Sigma>; 4] = [
            None,
            Some((Vec::new(), None, None, Vec::new())),
            Some((
                vec!["https://example.com/r".into()],
                Some("A \"B\"".into()),
                Some("DRL".into()),
                vec!["attack.t1110".into(), "x\\y".into()],
            )),
            Some((
                vec!["https://a".into(), "https://b\u{0}".into()],
                None,
                Some("MIT".into()),
                Vec::new(),
            )),
        ];
        let mut case = 0;
        let check = |event: &EventView<'_>, case: usize, what: &str| {
            for sigma in &sigma_cases {
                let written = match sigma {
                    None => build(firing(event, case)),
                    Some((references, author, license, tags)) => build_with(
                        firing(event, case),
                        &RuleExtra {
                            reference: match references.len() {
                                0 => Reference::Absent,
                                1 => Reference::Meta,
                                _ => Reference::Many(references),
                            },
                            author: author.as_deref(),
                            license: license.as_deref(),
                            tags,
                        },
                    ),
                };
                let expected = reference::build(reference::Input {
                    firing: firing(event, case),
                    sigma: sigma.clone(),
                });
                let text = std::str::from_utf8(written.json()).expect("UTF-8");
                let parsed: Value = serde_json::from_str(text).expect("JSON");
                assert_eq!(parsed, expected, "{what}, case {case}: {text}");
                assert_eq!(written.document(), expected, "{what}");
                assert_eq!(written.to_json(), text);
                assert_eq!(written.to_json_bytes(), written.json());
                assert_eq!(
                    written.id,
                    expected["event"]["id"].as_str().expect("id"),
                    "{what}"
                );
                // Outside the copied members the text is serde_json's, byte for byte.
                if !matches!(event.ecs(), Some(Ecs::Bytes(_))) {
                    assert_eq!(text, expected.to_string(), "{what}");
                }
            }
        };
        for doc in DOCS {
            let event = EventView::from_bytes(RAW.as_bytes(), Some(Ecs::Bytes(doc.as_bytes())))
                .expect("event");
            check(&event, case, doc);
            // Which way the parties came: copied as text, decoded from the whole document,
            // or from the event's facts.
            let alert = build(firing(&event, case));
            let text = std::str::from_utf8(alert.json()).expect("UTF-8");
            let user = &alert.document()["user"];
            match case {
                0 => assert!(
                    text.contains(r#""full_name":"Alice \\ A \u00e9\/""#),
                    "{text}"
                ),
                1 => assert_eq!(user, &Value::Null),
                2 => assert_eq!(user["name"], "last"),
                3 | 6 | 7 | 8 | 9 | 10 => assert_eq!(user["name"], "al\"ice@example.com"),
                4 => assert_eq!(user["name"], "escaped name"),
                5 => assert_eq!(user["name"], "spaced"),
                _ => assert_eq!(user, "x"),
            }
            let value: Option<Value> = serde_json::from_str(doc).ok();
            if let Some(value) = &value {
                let event =
                    EventView::from_bytes(RAW.as_bytes(), Some(Ecs::Value(value))).expect("event");
                check(&event, case, &format!("parsed {doc}"));
            }
            case += 1;
        }
        let event = EventView::from_bytes(RAW.as_bytes(), None).expect("event");
        check(&event, case, "no document");
        let bare = r#"{"uuid":"u-2","published":"2024-05-01T10:00:00Z","eventType":"x"}"#;
        let event = EventView::from_bytes(bare.as_bytes(), None).expect("event");
        check(&event, case + 1, "no parties at all");
    }

    /// The quick check says yes only to text serde_json reads as a `Value` (and yes to the
    /// normalizer's usual members); `reads_as_value` is serde_json's answer.
    #[test]
    fn the_quick_check_is_never_wrong() {
        let surely = |text: &[u8]| {
            simdutf8::basic::from_utf8(text).is_ok() && {
                let mut check = Check { b: text, i: 0 };
                check.value(0).is_some() && check.i == text.len()
            }
        };
        let mut texts: Vec<Vec<u8>> = [
            r#"{"name":"al\"ice","n":[0,-1,2.50,-0.0,12345678901234567890123],"t":true,"f":false,"z":null,"e":{},"a":[],"u":"\u00e9\/\b\f\n\r\t\\"}"#,
            r#"{"ip":["81.2.69.142"],"user":["x"]}"#,
            r#"[1e5, 1E400, 1.5e-3, 01, 1., .5, -, -a, 1.e3, "\ud800", "\uDBFF\uDC00", "\u12", "\x", "a	b"]"#,
            r#"{"a" : [ 1 , { "b" : "c" } ] , "d" : "é😀" }"#,
            r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
            r#"{"a":tru,"b":nul,"c":fals,"d":truex}"#,
        ]
        .iter()
        .map(|t| t.as_bytes().to_vec())
        .collect();
        texts.push(format!("[{}]", "9".repeat(400)).into_bytes());
        texts.push(format!("[{}]", "9".repeat(290)).into_bytes());
        texts.push(b"[\"\xff\"]".to_vec());
        assert!(surely(&texts[0]) && surely(&texts[1]) && surely(&texts[3]));
        // Every cut, every byte changed to one of JSON's own, and every split element of
        // the texts above.
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for text in &texts {
            for end in 0..=text.len() {
                cases.push(text[..end].to_vec());
            }
            for at in 0..text.len() {
                for b in *b"\"\\{}[],:0-.eEu9 \x01" {
                    let mut t = text.clone();
                    t[at] = b;
                    cases.push(t);
                }
            }
            if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(text) {
                cases.extend(items.iter().map(|v| v.to_string().into_bytes()));
            }
        }
        for text in texts.iter().chain(&cases) {
            let serde = serde_json::from_slice::<Value>(text).is_ok();
            if surely(text) {
                assert!(serde, "{}", String::from_utf8_lossy(text));
            }
            assert_eq!(
                reads_as_value(text),
                serde,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Strings are escaped as serde_json escapes them.
    #[test]
    fn strings_are_escaped_like_serde_json() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀\u{2028}\u{fffd}");
        for s in [all.as_str(), "", "plain", "\"", "\\", "a\u{1f}b"] {
            let mut w = Writer(Vec::new());
            w.str(s);
            assert_eq!(w.0, serde_json::to_vec(s).expect("JSON"), "{s:?}");
        }
        for n in [0u64, 7, 10, 99, 12_345, u64::MAX] {
            let mut w = Writer(Vec::new());
            w.num(n);
            assert_eq!(w.0, n.to_string().into_bytes());
        }
    }

    /// `alert_id("okta.brute_force_logins", "alice@example.com", "w1")` (computed apart from
    /// this code).
    const PINNED_ID: &str = "99612a94-4942-88a9-a336-a0b4730267e8";

    #[test]
    fn alert_ids_are_stable_uuids() {
        let a = alert_id("okta.brute_force_logins", "alice@example.com", "w1");
        assert_eq!(
            a,
            alert_id("okta.brute_force_logins", "alice@example.com", "w1")
        );
        assert_ne!(
            a,
            alert_id("okta.brute_force_logins", "alice@example.com", "w2")
        );
        assert_ne!(
            a,
            alert_id("okta.brute_force_logins", "bob@example.com", "w1")
        );
        assert_ne!(alert_id("r", "ab", "c"), alert_id("r", "a", "bc"));
        // The ids of every earlier release (pinned), and the text as `format!` gave it.
        assert_eq!(
            alert_id("okta.brute_force_logins", "alice@example.com", "w1"),
            PINNED_ID
        );
        for hash in [0u128, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            let h = format!("{hash:032x}");
            let old = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            assert_eq!(uuid_text(hash), old);
        }
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8: {a}");
        assert!(
            matches!(&a[19..20], "8" | "9" | "a" | "b"),
            "RFC variant: {a}"
        );
    }
}
