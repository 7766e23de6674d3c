//! A fast reader of the LogEvent members the rules need, for JSON text a parser has already
//! accepted (the pipeline's normalizer parsed every event the detect stage sees).
//!
//! It walks the objects that hold the wanted members (`actor`, `client`, `debugContext`, ...)
//! and skips every other value by its brackets and string quotes, without decoding it: a
//! fraction of the serde pass of [`super::EventView::from_bytes`], which reads (and checks)
//! every byte through the deserializer. It fills the same [`LogEvent`] model, so the facts are
//! built by the same code.
//!
//! It gives up (`None`: the caller reads the event with serde instead, which gives the exact
//! answer, error included) on anything that is not plain: an escape in a wanted string or in a
//! member name, a number where text is wanted, a wanted member given twice, an envelope or
//! wrapper form, bytes after the object, or anything it cannot follow. It never panics: on
//! text that is not JSON it returns `None` or facts of no consequence, never reads out of
//! bounds.

use std::borrow::Cow;

use super::{
    AuthenticationContext, Client, DebugContext, DebugData, GeographicalContext, Geolocation, List,
    LogEvent, Number, Obj, Outcome, RawParty, SecurityContext, Text, TopText, TOP_TEXTS,
};

/// The LogEvent members of `raw` the rules read, or `None` when the serde pass must decide.
pub(super) fn log_event(raw: &[u8]) -> Option<LogEvent<'_>> {
    let mut cur = Cur { b: raw, i: 0 };
    cur.ws();
    let mut ev = LogEvent::default();
    let mut seen = 0u32;
    let mut other_event_type = false;
    let mut top_texts = [TopText::Absent; 2];
    cur.object(|cur, key| {
        // Names that spell a Sigma-read member in another case, or the members the prefilter
        // compares (only names of these lengths can).
        let top = match key.len() {
            9 => {
                if key != b"eventType" && key.eq_ignore_ascii_case(b"eventType") {
                    // `eventtype`, `EventType`, ...: a name the Sigma event also reads as
                    // `eventType`.
                    other_event_type = true;
                }
                None
            }
            14 | 15 => TOP_TEXTS
                .iter()
                .position(|name| name.as_bytes().eq_ignore_ascii_case(key)),
            _ => None,
        };
        if let Some(t) = top {
            // Kept only for the Sigma prefilter (the rules do not read it): never a reason to
            // give up, since the serde pass does not read it either.
            let first = top_texts[t] == TopText::Absent;
            top_texts[t] = TopText::Other;
            if first && key == TOP_TEXTS[t].as_bytes() && cur.peek() == Some(b'"') {
                let start = cur.i;
                if let Some(text) = cur.plain_string() {
                    top_texts[t] = TopText::Plain(text);
                    return Some(());
                }
                cur.i = start;
            }
            return cur.skip();
        }
        let bit = match key {
            b"uuid" => 0,
            b"published" => 1,
            b"eventType" => 2,
            b"actor" => 3,
            b"target" => 4,
            b"client" => 5,
            b"outcome" => 6,
            b"securityContext" => 7,
            b"authenticationContext" => 8,
            b"debugContext" => 9,
            // Envelope and wrapper forms: the serde pass unwraps them.
            b"detail" | b"message" => return None,
            _ => return cur.skip(),
        };
        if seen & (1 << bit) != 0 {
            return None;
        }
        seen |= 1 << bit;
        match bit {
            0 => ev.uuid = cur.text()?,
            1 => ev.published = cur.text()?,
            2 => ev.event_type = cur.text()?,
            3 => ev.actor = cur.obj(party)?,
            4 => ev.target = cur.list(party)?,
            5 => ev.client = cur.obj(client)?,
            6 => ev.outcome = cur.obj(outcome)?,
            7 => ev.security_context = cur.obj(security)?,
            8 => ev.authentication_context = cur.obj(authentication)?,
            _ => ev.debug_context = cur.obj(debug_context)?,
        }
        Some(())
    })?;
    cur.ws();
    if cur.i != raw.len() || (ev.uuid.0.is_none() && ev.event_type.0.is_none()) {
        return None;
    }
    ev.event_type_alone = ev.event_type.0.is_some() && !other_event_type;
    ev.top_texts = [top_texts[0], top_texts[1], TopText::Other, TopText::Other];
    Some(ev)
}

/// Reads an object's wanted members with `each(cur, key)` per member; a member given twice
/// gives up.
fn members<'a, T: Default>(
    cur: &mut Cur<'a>,
    names: &[&[u8]],
    mut set: impl FnMut(&mut Cur<'a>, usize, &mut T) -> Option<()>,
) -> Option<T> {
    let mut out = T::default();
    let mut seen = 0u32;
    cur.object(|cur, key| match names.iter().position(|n| *n == key) {
        Some(bit) => {
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            set(cur, bit, &mut out)
        }
        None => cur.skip(),
    })?;
    Some(out)
}

fn party<'a>(cur: &mut Cur<'a>) -> Option<RawParty<'a>> {
    members(
        cur,
        &[b"id", b"type", b"alternateId", b"displayName"],
        |cur, field, p: &mut RawParty<'a>| {
            let text = cur.text()?;
            match field {
                0 => p.id = text,
                1 => p.kind = text,
                2 => p.alternate_id = text,
                _ => p.display_name = text,
            }
            Some(())
        },
    )
}

fn client<'a>(cur: &mut Cur<'a>) -> Option<Client<'a>> {
    members(
        cur,
        &[b"id", b"ipAddress", b"geographicalContext"],
        |cur, field, c: &mut Client<'a>| {
            match field {
                0 => c.id = cur.text()?,
                1 => c.ip_address = cur.text()?,
                _ => c.geographical_context = cur.obj(geo)?,
            }
            Some(())
        },
    )
}

fn geo<'a>(cur: &mut Cur<'a>) -> Option<GeographicalContext<'a>> {
    members(
        cur,
        &[b"city", b"state", b"country", b"geolocation"],
        |cur, field, g: &mut GeographicalContext<'a>| {
            match field {
                0 => g.city = cur.text()?,
                1 => g.state = cur.text()?,
                2 => g.country = cur.text()?,
                _ => g.geolocation = cur.obj(geolocation)?,
            }
            Some(())
        },
    )
}

fn geolocation(cur: &mut Cur<'_>) -> Option<Geolocation> {
    members(cur, &[b"lat", b"lon"], |cur, field, g: &mut Geolocation| {
        let n = cur.number()?;
        if field == 0 {
            g.lat = n;
        } else {
            g.lon = n;
        }
        Some(())
    })
}

fn outcome<'a>(cur: &mut Cur<'a>) -> Option<Outcome<'a>> {
    members(
        cur,
        &[b"result", b"reason"],
        |cur, field, o: &mut Outcome<'a>| {
            let text = cur.text()?;
            if field == 0 {
                o.result = text;
            } else {
                o.reason = text;
            }
            Some(())
        },
    )
}

fn security<'a>(cur: &mut Cur<'a>) -> Option<SecurityContext<'a>> {
    members(
        cur,
        &[b"asNumber", b"asOrg"],
        |cur, field, s: &mut SecurityContext<'a>| {
            if field == 0 {
                s.as_number = cur.number()?;
            } else {
                s.as_org = cur.text()?;
            }
            Some(())
        },
    )
}

fn authentication<'a>(cur: &mut Cur<'a>) -> Option<AuthenticationContext<'a>> {
    members(
        cur,
        &[b"externalSessionId"],
        |cur, _, a: &mut AuthenticationContext<'a>| {
            a.external_session_id = cur.text()?;
            Some(())
        },
    )
}

fn debug_context<'a>(cur: &mut Cur<'a>) -> Option<DebugContext<'a>> {
    members(cur, &[b"debugData"], |cur, _, d: &mut DebugContext<'a>| {
        d.debug_data = cur.obj(debug_data)?;
        Some(())
    })
}

fn debug_data<'a>(cur: &mut Cur<'a>) -> Option<DebugData<'a>> {
    members(
        cur,
        &[
            b"privilegeGranted",
            b"dtHash",
            b"factor",
            b"pushOnlyResponseType",
        ],
        |cur, field, d: &mut DebugData<'a>| {
            let text = cur.text()?;
            match field {
                0 => d.privilege_granted = text,
                1 => d.dt_hash = text,
                2 => d.factor = text,
                _ => d.push_only_response_type = text,
            }
            Some(())
        },
    )
}

/// The raw JSON text of the last top-level member named `names[i]` (compared exactly) of the
/// object `raw`, for each `i`; every other value is skipped by its brackets and quotes, not
/// decoded. `None` (the caller decodes the whole text instead) when `raw` is not one object,
/// possibly with white space around it, or a member name holds an escape. Meant for text a
/// JSON writer produced (the normalizer's documents): the skipped values are not checked.
pub(crate) fn top_members<'a, const N: usize>(
    raw: &'a [u8],
    names: &[&str; N],
) -> Option<[Option<&'a [u8]>; N]> {
    let mut out = [None; N];
    let mut cur = Cur { b: raw, i: 0 };
    cur.ws();
    cur.object(|cur, key| {
        let start = cur.i;
        cur.skip()?;
        if let Some(i) = names.iter().position(|n| n.as_bytes() == key) {
            out[i] = Some(cur.b.get(start..cur.i)?);
        }
        Some(())
    })?;
    cur.ws();
    (cur.i == raw.len()).then_some(out)
}

/// The index in `rest` (text inside a JSON string) of the first `"` or `\\`, and with
/// `control` also of the first byte below 0x20. Most strings of a document are short: eight
/// bytes at a time in a word (where `memchr` spends more setting up than searching), then
/// `memchr` for what is left of a long string.
#[inline(always)]
pub(crate) fn string_stop(rest: &[u8], control: bool) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    /// Words looked at before `memchr` takes over (without `control`).
    const WORDS: usize = 4;
    let mut at = 0;
    let mut words = 0;
    while let Some(chunk) = rest.get(at..at + 8) {
        if !control && words == WORDS {
            return memchr::memchr2(b'"', b'\\', &rest[at..]).map(|i| at + i);
        }
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let v = u64::from_le_bytes(word);
        // A byte of `x` is flagged where it is zero; above the lowest zero byte a borrow can
        // flag others, so only the lowest flag counts.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x;
        let q = v ^ (ONES * u64::from(b'"'));
        let s = v ^ (ONES * u64::from(b'\\'));
        let mut hit = zero(q) | zero(s);
        if control {
            // Below 0x20: subtracting 0x20 wraps into the high bit, which the byte lacks.
            hit |= v.wrapping_sub(ONES * 0x20) & !v;
        }
        hit &= HIGH;
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
        words += 1;
    }
    rest.get(at..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || (control && b < 0x20))
        .map(|i| at + i)
}

/// Calls `each(name, value)` for every top-level member of the object `raw`, in order
/// (duplicates included): the name's raw bytes and the raw JSON text of its value, skipped by
/// its brackets and quotes, not decoded or checked. `None` (the caller decodes the text
/// instead) when `raw` is not one object, possibly with white space around it, a member name
/// holds an escape, or `each` says `None`. Meant for text a parser already accepted.
pub(crate) fn top_spans<'a>(
    raw: &'a [u8],
    mut each: impl FnMut(&'a [u8], &'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut cur = Cur { b: raw, i: 0 };
    cur.ws();
    cur.object(|cur, key| {
        let start = cur.i;
        cur.skip()?;
        each(key, cur.b.get(start..cur.i)?)
    })?;
    cur.ws();
    (cur.i == raw.len()).then_some(())
}

/// A position in the input.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// The raw text of the string at the cursor (after its opening quote) up to the closing
    /// quote, which is consumed; `None` when it holds an escape or does not end.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = self.b.get(self.i..)?;
        let end = string_stop(rest, false)?;
        if rest[end] != b'"' {
            return None;
        }
        self.i += end + 1;
        Some(&rest[..end])
    }

    /// Skips the string at the cursor (escapes included).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = self.b.get(self.i..)?;
            let at = string_stop(rest, false)?;
            if rest[at] == b'"' {
                self.i += at + 1;
                return Some(());
            }
            // A backslash and the byte it escapes.
            self.i += at + 2;
        }
    }

    /// Skips the value at the cursor.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                // On a local index, strings skipped in line: most of a document's bytes are
                // in containers skipped here.
                let b = self.b;
                let mut i = self.i;
                let mut depth = 0usize;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'"' => {
                            i += 1;
                            loop {
                                let at = i + string_stop(b.get(i..)?, false)?;
                                if b.get(at) == Some(&b'"') {
                                    i = at + 1;
                                    break;
                                }
                                // A backslash and the byte it escapes.
                                i = at + 2;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i = i + 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                None
            }
            _ => {
                // A number or a literal: up to the next delimiter.
                let start = self.i;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }

    /// Calls `each(cur, key)` for every member of the object at the cursor, with the cursor on
    /// the member's value; `each` consumes the value.
    fn object(&mut self, mut each: impl FnMut(&mut Cur<'a>, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let key = self.plain_string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            each(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A member read like [`Text`]: a string, `true`/`false` as text, `null` and containers
    /// as absent; a number or an escaped string gives up.
    fn text(&mut self) -> Option<Text<'a>> {
        match self.peek()? {
            b'"' => {
                let s = std::str::from_utf8(self.plain_string()?).ok()?;
                Some(Text(Some(Cow::Borrowed(s))))
            }
            b'{' | b'[' => self.skip().map(|()| Text(None)),
            b't' => self
                .literal(b"true")
                .map(|()| Text(Some(Cow::Borrowed("true")))),
            b'f' => self
                .literal(b"false")
                .map(|()| Text(Some(Cow::Borrowed("false")))),
            b'n' => self.literal(b"null").map(|()| Text(None)),
            _ => None,
        }
    }

    /// A member read like [`Number`]: a number, or a string holding one.
    fn number(&mut self) -> Option<Number> {
        match self.peek()? {
            b'"' => {
                let s = std::str::from_utf8(self.plain_string()?).ok()?;
                Some(Number(
                    s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                ))
            }
            b'{' | b'[' => self.skip().map(|()| Number(None)),
            b't' => self.literal(b"true").map(|()| Number(None)),
            b'f' => self.literal(b"false").map(|()| Number(None)),
            b'n' => self.literal(b"null").map(|()| Number(None)),
            _ => {
                let start = self.i;
                self.skip()?;
                // serde_json's own number reading, so the value is the same to the bit.
                let n: f64 = serde_json::from_slice(&self.b[start..self.i]).ok()?;
                Some(Number(n.is_finite().then_some(n)))
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A member read like [`Obj`]: an object through `read`, anything else absent.
    fn obj<T>(&mut self, read: impl FnOnce(&mut Cur<'a>) -> Option<T>) -> Option<Obj<T>> {
        if self.peek()? == b'{' {
            read(self).map(|t| Obj(Some(t)))
        } else {
            self.skip_scalar_or_array().map(|()| Obj(None))
        }
    }

    /// A member read like [`List`] of [`Obj`]: an array whose objects go through `read`.
    fn list<T>(&mut self, mut read: impl FnMut(&mut Cur<'a>) -> Option<T>) -> Option<List<Obj<T>>> {
        if self.peek()? != b'[' {
            return self.skip_scalar_or_array().map(|()| List(None));
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']').is_some() {
            return Some(List(Some(items)));
        }
        loop {
            self.ws();
            items.push(self.obj(&mut read)?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(List(Some(items)));
                }
                _ => return None,
            }
        }
    }

    /// Skips a value that is not read; a number gives up like [`Cur::text`] does not need
    /// to, since serde reads any scalar as absent here.
    fn skip_scalar_or_array(&mut self) -> Option<()> {
        self.skip()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EventView, Facts};

    fn both(raw: &[u8]) -> (Option<String>, String) {
        let fast = super::log_event(raw)
            .map(|top| format!("{:?}", Facts::from_top(top).map(|f| f.into_owned())));
        let slow = format!(
            "{:?}",
            EventView::from_bytes(raw, None).map(|v| v.facts().clone().into_owned())
        );
        (fast, slow)
    }

    #[test]
    fn the_fast_reader_agrees_with_serde_or_gives_up() {
        let cases: &[&[u8]] = &[
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00.123Z","eventType":"user.session.start",
            "actor":{"id":"00u1","type":"User","alternateId":"Alice@Example.com","displayName":"Alice","detailEntry":{"a":[1,{"b":"}"}]}},
            "client":{"userAgent":{"rawUserAgent":"x \"quoted\" \\ y"},"ipAddress":"203.0.113.9","geographicalContext":{"city":"Paris","country":"France",
              "geolocation":{"lat":48.85,"lon":2.35}}},
            "outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},
            "securityContext":{"asNumber":3215,"asOrg":"orange","isProxy":false},
            "authenticationContext":{"externalSessionId":"102abc"},
            "debugContext":{"debugData":{"dtHash":"ff00","privilegeGranted":"Super administrator","behaviors":"{New IP=POSITIVE}"}},
            "target":[{"id":"00u2","type":"User","alternateId":"bob@example.com","displayName":"Bob"},{"id":"x"}]}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x",
            "actor":"not an object","target":{"not":"an array"},
            "client":{"ipAddress":"42","geographicalContext":{"geolocation":{"lat":"48.5","lon":[1]}}},
            "securityContext":{"asNumber":"3215"},"outcome":null,"debugContext":[1,2]}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x","target":[1,"a",null,{"alternateId":true}],
            "securityContext":{"asNumber":1.5e3,"asOrg":null},"client":{"geographicalContext":{"geolocation":{"lat":-1e-2,"lon":180}}}}"#,
            br#" {"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x","target":[]} "#,
            br#"{"uuid":"u1","published":"yesterday","eventType":"x"}"#,
            br#"{"uuid":"u1","eventType":"x"}"#,
        ];
        for raw in cases {
            let (fast, slow) = both(raw);
            assert_eq!(
                fast.as_deref(),
                Some(slow.as_str()),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        // The serde pass decides these (escapes, numbers as text, duplicates, envelopes,
        // trailing bytes).
        let give_up: &[&[u8]] = &[
            br#"{"uuid":"u\u0031","published":"2024-05-01T10:00:00Z","eventType":"x"}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x","client":{"ipAddress":42}}"#,
            br#"{"uuid":"u1","uuid":"u2","published":"2024-05-01T10:00:00Z","eventType":"x"}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x","actor":{"id":"a","id":"b"}}"#,
            br#"{"detail":{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x"}}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x"} x"#,
            br#"{"version":"0"}"#,
            br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x""#,
            b"[1]",
            b"",
        ];
        for raw in give_up {
            assert!(
                super::log_event(raw).is_none(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn agrees_with_serde_on_every_fixture_event() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut events: Vec<Vec<u8>> = std::fs::read_to_string(root.join("okta-sample.ndjson"))
            .expect("fixtures/okta-sample.ndjson")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        for entry in std::fs::read_dir(root.join("okta")).expect("fixtures/okta") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                events.push(std::fs::read(&path).expect("a fixture"));
            }
        }
        let mut fast = 0;
        for raw in &events {
            let (f, slow) = both(raw);
            if let Some(f) = f {
                assert_eq!(f, slow, "{}", String::from_utf8_lossy(raw));
                fast += 1;
            }
        }
        assert!(
            fast * 10 >= events.len() * 9,
            "{fast} of {} read fast",
            events.len()
        );
    }

    #[test]
    fn top_texts_are_plain_only_when_spelled_once_exactly() {
        use super::super::TopText;
        let read = |members: &str| {
            let raw = format!(
                r#"{{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x"{members}}}"#
            );
            let ev = super::log_event(raw.as_bytes()).expect("read fast");
            let tops = ev.top_texts.map(|t| match t {
                TopText::Plain(s) => format!("plain {}", String::from_utf8_lossy(s)),
                other => format!("{other:?}"),
            });
            (ev.event_type_alone, tops)
        };
        let plain = |s: &str| format!("plain {s}");
        assert_eq!(
            read(r#","displayMessage":"A b","legacyEventType":"l""#),
            (
                true,
                [plain("A b"), plain("l"), "Other".into(), "Other".into()]
            )
        );
        assert_eq!(
            read(""),
            (
                true,
                [
                    "Absent".into(),
                    "Absent".into(),
                    "Other".into(),
                    "Other".into()
                ]
            )
        );
        assert_eq!(
            read(r#","displaymessage":"A","EventType":"y""#),
            (
                false,
                [
                    "Other".into(),
                    "Absent".into(),
                    "Other".into(),
                    "Other".into()
                ]
            )
        );
        assert_eq!(
            read(r#","displayMessage":"A","displayMessage":"B","legacyEventType":5"#),
            (
                true,
                [
                    "Other".into(),
                    "Other".into(),
                    "Other".into(),
                    "Other".into()
                ]
            )
        );
        assert_eq!(
            read(r#","displayMessage":"A\"b","legacyEventType":{"x":"}"}"#),
            (
                true,
                [
                    "Other".into(),
                    "Other".into(),
                    "Other".into(),
                    "Other".into()
                ]
            )
        );
        // `requestUri` is known from the normalizer's parts only, never from this reader.
        assert_eq!(
            read(r#","debugContext":{"debugData":{"requestUri":"/admin"}}"#).1[2],
            "Other"
        );
        // Nor `isProxy`.
        assert_eq!(read(r#","securityContext":{"isProxy":true}"#).1[3], "Other");
    }

    /// `top_members` finds what a parsed `Value` holds under each name (the last of a
    /// duplicate), or gives up; it never panics on cut input.
    #[test]
    fn top_members_are_the_parsed_members() {
        const NAMES: [&str; 3] = ["user", "source", "related"];
        let docs = [
            r#"{"user":{"name":"a"},"source":{"ip":"1.2.3.4","geo":{"x":[1,2,{"y":"}]"}]}},"related":{"ip":["1"]}}"#,
            r#" { "@timestamp" : "t", "user" : "s\"}" , "n": -1.5e3, "b": [true, null, {}],"source":null } "#,
            r#"{"user":1,"user":{"last":true},"other":{"user":{"inner":1}}}"#,
            r#"{}"#,
            r#"{"event":{"kind":"event"}}"#,
        ];
        for doc in docs {
            let spans = super::top_members(doc.as_bytes(), &NAMES).expect("read");
            let value: serde_json::Value = serde_json::from_str(doc).expect("JSON");
            for (name, span) in NAMES.iter().zip(spans) {
                let got: Option<serde_json::Value> =
                    span.map(|s| serde_json::from_slice(s).expect("a value"));
                assert_eq!(got.as_ref(), value.get(name), "{name} of {doc}");
            }
        }
        for doc in [r#"[1]"#, r#"{"us\u0065r":1}"#, r#"{"user":1} x"#, r#""#] {
            assert!(
                super::top_members(doc.as_bytes(), &NAMES).is_none(),
                "{doc}"
            );
        }
        let doc = docs[0].as_bytes();
        for end in 0..doc.len() {
            let _ = super::top_members(&doc[..end], &NAMES);
        }
    }

    /// `string_stop` finds the first `"` or `\\` (and byte below 0x20 when asked), as a
    /// plain search does, wherever it is and whatever is around it.
    #[test]
    fn string_stop_is_the_first_stop() {
        let plain = |t: &[u8], control: bool| {
            t.iter()
                .position(|&b| b == b'"' || b == b'\\' || (control && b < 0x20))
        };
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..80 {
            let base: Vec<u8> = (0..len).map(|i| b"ab\xc3\xa9\x7f\xff !~"[i % 8]).collect();
            texts.push(base.clone());
            for at in 0..len {
                for stop in [
                    b'"',
                    b'\\',
                    0x00,
                    0x1f,
                    0x20,
                    0x21,
                    0x5c ^ 0x80,
                    0x22 ^ 0x80,
                ] {
                    let mut t = base.clone();
                    t[at] = stop;
                    texts.push(t.clone());
                    if at + 3 < len {
                        t[at + 3] = b'"';
                        texts.push(t);
                    }
                }
            }
        }
        for t in &texts {
            for control in [false, true] {
                assert_eq!(
                    super::string_stop(t, control),
                    plain(t, control),
                    "{t:?} {control}"
                );
            }
        }
    }

    #[test]
    fn never_panics_on_cut_input() {
        let raw = br#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"x","actor":{"id":"a"},"target":[{"id":"t","x":[1,{"y":"z\"}"}]}],"client":{"geographicalContext":{"geolocation":{"lat":1,"lon":2}}}}"#;
        for end in 0..raw.len() {
            let _ = super::log_event(&raw[..end]);
        }
    }
}
