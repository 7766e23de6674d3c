//! A cheap pre-check in front of the Sigma engine: computed once from the compiled rules, it
//! says, from a few fields read straight from the raw bytes, whether any rule *can* match an
//! event. Events that no rule can match skip the Sigma path entirely (no `serde_json::Value`
//! of the event, no engine call), which is most events: Okta's rules are gated on a handful of
//! `eventType`, `legacyEventType` or `displayMessage` values.
//!
//! # Soundness
//!
//! The gate may only ever let too much through. For each rule a *necessary condition* is
//! derived from its compiled detection: an item `field|modifier: value` becomes a test on the
//! field's values (equals, contains, starts with, ends with the case-folded literal; any folded
//! value satisfying it), `and` keeps every part, `or` needs one, and anything the analysis does
//! not understand (negation, regular expressions, numbers, keywords, `exists: false`, `null`,
//! field references, fields outside the LogEvent) becomes *true*. One rule whose condition
//! reduces to *true* opens the gate for every event.
//!
//! The fields are read by [`Gate::check`] from the raw JSON in one pass, with every spelling the
//! Sigma event accepts and more: names compared without regard to ASCII case at every level,
//! arrays crossed at every level, a dotted name also as one flat top-level key, every duplicate
//! key. Each value is projected as the engine's candidate index does (strings, numbers and
//! booleans by their text, arrays member by member, objects and `null` not at all), and
//! compared case-folded (`to_lowercase`, the engine's fold) with literals folded at load.
//!
//! An event that is not a plain LogEvent (an EventBridge envelope, a `message` wrapper) always
//! passes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use rsigma_eval::{CompiledDetection, CompiledDetectionItem, CompiledMatcher, CompiledRule};
use rsigma_parser::{ConditionExpr, Quantifier};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::event::OKTA_ROOTS;
use crate::event::{TopText, TEXT_PATHS};

/// At most this many distinct fields are gated on (a bit set); more opens the gate.
const MAX_PATHS: usize = 64;

/// A test on the folded values of one field.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Exact(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    /// The field is present (any value, `null` included).
    Present,
}

/// A necessary condition of a rule, over field tests.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    True,
    Leaf { path: usize, test: Test },
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

/// The gate of a rule set; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gate {
    /// `None`: every event passes.
    cond: Option<Cond>,
    /// Each gated field, its segments lower case.
    paths: Vec<Vec<String>>,
    /// Each gated field, whole, lower case (for a flat dotted top-level key).
    flat: Vec<String>,
}

impl Gate {
    /// The gate that lets every event through.
    pub(crate) fn open() -> Gate {
        Gate {
            cond: None,
            paths: Vec::new(),
            flat: Vec::new(),
        }
    }

    /// The gate of `rules` (the engine's compiled detection rules, filters applied).
    pub(crate) fn build(rules: &[CompiledRule]) -> Gate {
        let mut gate = Gate::open();
        let mut any = Vec::new();
        for rule in rules {
            let cond = gate.rule(rule);
            if cond == Cond::True {
                return Gate::open();
            }
            any.push(cond);
        }
        if gate.paths.len() > MAX_PATHS {
            return Gate::open();
        }
        gate.cond = Some(Cond::Any(any));
        gate
    }

    /// True when every event passes (nothing to gain from [`Gate::check`]).
    pub(crate) fn is_open(&self) -> bool {
        self.cond.is_none()
    }

    /// Whether some rule can match the event whose raw JSON text is `raw`. Unreadable input
    /// passes (the engine decides).
    pub(crate) fn check(&self, raw: &[u8]) -> bool {
        let Some(cond) = &self.cond else {
            return true;
        };
        let mut found = Found::default();
        let mut de = serde_json::Deserializer::from_slice(raw);
        let seed = Node {
            gate: self,
            active: Active::Top,
            found: &mut found,
        };
        if seed.deserialize(&mut de).is_err() || !found.plain {
            return true;
        }
        found.eval(cond)
    }

    fn path(&mut self, field: &str) -> Option<usize> {
        let segments: Vec<String> = field.split('.').map(str::to_ascii_lowercase).collect();
        let plain = segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        // Only LogEvent fields: any other root is read from the ECS document.
        if !plain
            || !OKTA_ROOTS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&segments[0]))
        {
            return None;
        }
        if let Some(i) = self.paths.iter().position(|p| *p == segments) {
            return Some(i);
        }
        self.flat.push(field.to_ascii_lowercase());
        self.paths.push(segments);
        Some(self.paths.len() - 1)
    }

    fn rule(&mut self, rule: &CompiledRule) -> Cond {
        if rule.conditions.is_empty() {
            return Cond::True;
        }
        any(rule
            .conditions
            .iter()
            .map(|c| self.condition(c, rule))
            .collect())
    }

    fn condition(&mut self, cond: &ConditionExpr, rule: &CompiledRule) -> Cond {
        match cond {
            ConditionExpr::Identifier(name) => match rule.detections.get(name) {
                Some(d) => self.detection(d),
                None => Cond::True,
            },
            ConditionExpr::And(parts) => {
                all(parts.iter().map(|p| self.condition(p, rule)).collect())
            }
            ConditionExpr::Or(parts) => {
                any(parts.iter().map(|p| self.condition(p, rule)).collect())
            }
            ConditionExpr::Not(_) => Cond::True,
            ConditionExpr::Selector {
                quantifier,
                pattern,
            } => {
                let mut names: Vec<&String> = rule
                    .detections
                    .keys()
                    .filter(|n| pattern.matches_detection_name(n))
                    .collect();
                names.sort();
                let parts: Vec<Cond> = names
                    .into_iter()
                    .filter_map(|n| rule.detections.get(n))
                    .map(|d| self.detection(d))
                    .collect();
                match quantifier {
                    _ if parts.is_empty() => Cond::True,
                    Quantifier::Count(0) => Cond::True,
                    Quantifier::All => all(parts),
                    Quantifier::Any | Quantifier::Count(_) => any(parts),
                }
            }
        }
    }

    fn detection(&mut self, detection: &CompiledDetection) -> Cond {
        match detection {
            CompiledDetection::AllOf(items) if items.is_empty() => Cond::True,
            CompiledDetection::AllOf(items) => all(items.iter().map(|i| self.item(i)).collect()),
            CompiledDetection::AnyOf(subs) if subs.is_empty() => Cond::True,
            CompiledDetection::AnyOf(subs) => any(subs.iter().map(|d| self.detection(d)).collect()),
            CompiledDetection::And(subs) if subs.is_empty() => Cond::True,
            CompiledDetection::And(subs) => all(subs.iter().map(|d| self.detection(d)).collect()),
            // Keywords (every string of the event), array scopes, element bodies: not gated.
            _ => Cond::True,
        }
    }

    fn item(&mut self, item: &CompiledDetectionItem) -> Cond {
        let Some(field) = item.field.as_deref() else {
            return Cond::True;
        };
        match item.exists {
            Some(false) => return Cond::True,
            Some(true) => {
                return match self.path(field) {
                    Some(path) => Cond::Leaf {
                        path,
                        test: Test::Present,
                    },
                    None => Cond::True,
                };
            }
            None => {}
        }
        if matches!(item.matcher, CompiledMatcher::Null) {
            return Cond::True;
        }
        let Some(path) = self.path(field) else {
            return Cond::True;
        };
        match self.matcher(&item.matcher, path) {
            // A field item is false on an absent field (its matcher is not `Null`).
            Cond::True => Cond::Leaf {
                path,
                test: Test::Present,
            },
            cond => cond,
        }
    }

    fn matcher(&mut self, matcher: &CompiledMatcher, path: usize) -> Cond {
        let leaf =
            |value: &str, case_insensitive: bool, make: fn(String) -> Test| match fold_literal(
                value,
                case_insensitive,
            ) {
                Some(v) => Cond::Leaf {
                    path,
                    test: make(v),
                },
                None => Cond::True,
            };
        match matcher {
            CompiledMatcher::Exact {
                value,
                case_insensitive,
            } => leaf(value, *case_insensitive, Test::Exact),
            CompiledMatcher::Contains {
                value,
                case_insensitive,
            } => leaf(value, *case_insensitive, Test::Contains),
            CompiledMatcher::StartsWith {
                value,
                case_insensitive,
            } => leaf(value, *case_insensitive, Test::StartsWith),
            CompiledMatcher::EndsWith {
                value,
                case_insensitive,
            } => leaf(value, *case_insensitive, Test::EndsWith),
            CompiledMatcher::AhoCorasickSet {
                needles,
                case_insensitive,
                ..
            } => any(needles
                .iter()
                .map(|n| leaf(n, *case_insensitive, Test::Contains))
                .collect()),
            CompiledMatcher::AnyOf(children) => {
                any(children.iter().map(|c| self.matcher(c, path)).collect())
            }
            CompiledMatcher::AllOf(children) => {
                all(children.iter().map(|c| self.matcher(c, path)).collect())
            }
            CompiledMatcher::CaseInsensitiveGroup { children, mode } => {
                let parts = children.iter().map(|c| self.matcher(c, path)).collect();
                match mode {
                    rsigma_eval::matcher::GroupMode::Any => any(parts),
                    rsigma_eval::matcher::GroupMode::All => all(parts),
                }
            }
            _ => Cond::True,
        }
    }
}

/// `and`: true parts drop out; all true is true.
fn all(parts: Vec<Cond>) -> Cond {
    let mut parts: Vec<Cond> = parts.into_iter().filter(|p| *p != Cond::True).collect();
    match parts.len() {
        0 => Cond::True,
        1 => parts.pop().unwrap_or(Cond::True),
        _ => Cond::All(parts),
    }
}

/// `or`: one true part makes it true.
fn any(mut parts: Vec<Cond>) -> Cond {
    if parts.is_empty() || parts.contains(&Cond::True) {
        return Cond::True;
    }
    if parts.len() == 1 {
        return parts.pop().unwrap_or(Cond::True);
    }
    Cond::Any(parts)
}

/// A matcher literal in the folded form event values are compared in, or `None` when it cannot
/// be folded faithfully (the engine's own rule: a case-sensitive non-ASCII literal).
fn fold_literal(value: &str, case_insensitive: bool) -> Option<String> {
    if value.is_empty() {
        // Contains "" holds for every value: only presence is left.
        return None;
    }
    if case_insensitive {
        Some(value.to_owned())
    } else if value.is_ascii() {
        Some(value.to_ascii_lowercase())
    } else {
        None
    }
}

/// What the scan found of the gated fields.
#[derive(Default)]
struct Found<'a> {
    /// Bit `i`: field `i` is present.
    present: u64,
    /// (field, folded value) of every projection.
    values: Vec<(usize, Cow<'a, str>)>,
    /// A plain LogEvent: a top-level `eventType` or `uuid`.
    plain: bool,
}

impl<'a> Found<'a> {
    fn add(&mut self, path: usize, text: Cow<'a, str>) {
        self.present |= 1 << path;
        let folded = match text {
            Cow::Borrowed(s) => fold(s),
            Cow::Owned(s) => Cow::Owned(fold(&s).into_owned()),
        };
        self.values.push((path, folded));
    }

    fn eval(&self, cond: &Cond) -> bool {
        match cond {
            Cond::True => true,
            Cond::All(parts) => parts.iter().all(|p| self.eval(p)),
            Cond::Any(parts) => parts.iter().any(|p| self.eval(p)),
            Cond::Leaf { path, test } => {
                if self.present & (1 << path) == 0 {
                    return false;
                }
                let mut values = self
                    .values
                    .iter()
                    .filter(|(p, _)| p == path)
                    .map(|(_, v)| v.as_ref());
                match test {
                    Test::Present => true,
                    Test::Exact(lit) => values.any(|v| v == lit),
                    Test::Contains(lit) => values.any(|v| v.contains(lit.as_str())),
                    Test::StartsWith(lit) => values.any(|v| v.starts_with(lit.as_str())),
                    Test::EndsWith(lit) => values.any(|v| v.ends_with(lit.as_str())),
                }
            }
        }
    }
}

/// `needle` occurs in `haystack`, ASCII case ignored (as `windows(..).any(eq_ignore_ascii_case)`
/// says; the first byte is compared by itself first: most positions end there).
fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    (0..=haystack.len() - needle.len()).any(|i| {
        haystack[i].eq_ignore_ascii_case(&first)
            && haystack[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
    })
}

/// The literal of a value test (`""` for [`Test::Present`]).
fn test_literal(test: &Test) -> &str {
    match test {
        Test::Exact(l) | Test::Contains(l) | Test::StartsWith(l) | Test::EndsWith(l) => l,
        Test::Present => "",
    }
}

/// The engine's fold (`to_lowercase`), without allocating for lower-case ASCII.
fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else if s.is_ascii() {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Where the scan is in the gated paths.
#[derive(Clone)]
enum Active {
    /// The top-level object.
    Top,
    /// (field, segments matched so far) pairs; `matched == len` is the field's value.
    At(Vec<(usize, usize)>),
}

/// The scan of one JSON value.
struct Node<'g, 'f, 'a> {
    gate: &'g Gate,
    active: Active,
    found: &'f mut Found<'a>,
}

impl<'g, 'f, 'a> Node<'g, 'f, 'a> {
    fn terminals(&self) -> impl Iterator<Item = usize> + '_ {
        let pairs: &[(usize, usize)] = match &self.active {
            Active::Top => &[],
            Active::At(pairs) => pairs,
        };
        pairs
            .iter()
            .filter(|(p, m)| *m == self.gate.paths[*p].len())
            .map(|(p, _)| *p)
    }

    fn scalar(self, text: Option<Cow<'a, str>>) {
        let paths: Vec<usize> = self.terminals().collect();
        for p in paths {
            match &text {
                Some(t) => self.found.add(p, t.clone()),
                None => self.found.present |= 1 << p,
            }
        }
    }
}

impl<'de: 'a, 'g, 'f, 'a> DeserializeSeed<'de> for Node<'g, 'f, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'g, 'f, 'a> Visitor<'de> for Node<'g, 'f, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Some(Cow::Borrowed(if v { "true" } else { "false" })));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Some(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        if i64::try_from(v).is_err() {
            // The engine may see it as a float: both texts.
            let paths: Vec<usize> = self.terminals().collect();
            for p in paths {
                self.found.add(p, Cow::Owned((v as f64).to_string()));
            }
        }
        self.scalar(Some(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Some(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.scalar(Some(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Some(Cow::Owned(v.to_owned())));
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(None);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar(None);
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Arrays are crossed: every member is at the same place in every path.
        let Node {
            gate,
            active,
            found,
        } = self;
        if matches!(active, Active::Top) {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while seq
            .next_element_seed(Node {
                gate,
                active: active.clone(),
                found,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Node {
            gate,
            active,
            found,
        } = self;
        // An object at the end of a path: present, no value.
        if let Active::At(pairs) = &active {
            for (p, m) in pairs {
                if *m == gate.paths[*p].len() {
                    found.present |= 1 << p;
                }
            }
        }
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let mut next = Vec::new();
            match &active {
                Active::Top => {
                    if key == "eventType" || key == "uuid" {
                        found.plain = true;
                    }
                    for (p, segments) in gate.paths.iter().enumerate() {
                        if segments[0].eq_ignore_ascii_case(&key) {
                            next.push((p, 1));
                        } else if gate.flat[p].eq_ignore_ascii_case(&key) {
                            next.push((p, segments.len()));
                        }
                    }
                }
                Active::At(pairs) => {
                    for &(p, m) in pairs {
                        if let Some(segment) = gate.paths[p].get(m) {
                            if segment.eq_ignore_ascii_case(&key) {
                                next.push((p, m + 1));
                            }
                        }
                    }
                }
            }
            if next.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Node {
                    gate,
                    active: Active::At(next),
                    found,
                })?;
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A byte-level prefilter in front of [`Gate::check`]: the gate's condition with each literal
/// test replaced by "the literal occurs somewhere in the raw bytes, ASCII case ignored", all
/// literals searched (with `memchr::memmem`, only as far as the condition needs them) in the
/// input lower-cased once, when one is needed. An event for which it is false skips the Sigma
/// path without the gate's JSON scan.
///
/// # Soundness
///
/// It may only answer "no" when no rule can match. It answers only for input with no `\u`
/// escape: there every character of a JSON string other than `"`, `\`, `/` and controls
/// (which may be escaped as `\"`, `\\`, `\/`, `\n`, ...) is written as it is, so a field value
/// whose fold equals, contains, starts or ends with a folded literal free of those characters
/// makes that literal occur in the bytes, ASCII case ignored, whatever the key or nesting (the
/// prefilter does not look at keys at all). Non-ASCII input is answered too, unless it holds
/// one of the two non-ASCII characters whose lower case holds an ASCII character
/// ([`FOLDS_TO_ASCII`]): every other non-ASCII character folds to non-ASCII characters only, so
/// an ASCII literal in a folded value comes from the same ASCII bytes of the input. Booleans
/// project to `true`/`false`, written as such. Numbers project to a text the input may spell
/// otherwise (`1e2`), so a literal made only of characters a number's text can hold
/// (`0-9 . + - e E`) is not searched (its test counts as true), nor is a non-ASCII literal, one
/// with a character JSON may escape, or a presence test.
///
/// `eventType` equal to a literal (what most Okta rules test first) is not searched: it is
/// compared with the `eventType` [`crate::EventView`] parsed, when that member is known to be
/// the only one any rule reads under that name: the fast reader saw every top-level member
/// name (none escaped) and only one equals `eventType` without regard to ASCII case
/// ([`crate::EventView::event_type_alone`]; the Sigma event reads a one-segment name from the
/// top-level members only), or else the lower-cased input holds `"eventtype"` exactly once
/// (then the member is the only one of that name in any case, anywhere; without `\u` escapes
/// a member name is written as it is). Likewise a test on `displayMessage` or
/// `legacyEventType` is made on the member's value when the fast reader found it a plain
/// string under the only top-level name that equals it in any case, or found no such name
/// (the test is false: a field item is false on an absent field), or found that name holding
/// no text (`null`, containers of `null` and `""`: the normalizer's parts,
/// [`crate::TopPart::NoText`]; every literal tested is non-empty, so the test is false);
/// otherwise its literal is searched. So is a test on `debugContext.debugData.requestUri`, when the normalizer's parse
/// ([`crate::EventParts`]) found it a plain string under the only name, at every level, the
/// Sigma event could read under that path (or found none): every name at each level that
/// equals the path's segment without regard to ASCII case, or begins with it and a `.` (a
/// dotted name), is the one exact spelling, given once in `debugData` (the last one of a
/// duplicate `debugContext` or `debugData`, as in the Sigma event's parse; see
/// [`crate::TopPart`]). The input is lower-cased only when a literal is searched.
///
/// Input with a `\u` escape or one of those two characters gets no answer when a literal must
/// be searched, nor input where the `eventType` comparison is needed and neither condition
/// above holds: the gate decides.
#[derive(Debug, Clone)]
pub(crate) struct Prefilter {
    /// One searcher per literal (lower case), searched in the lower-cased input on demand.
    finders: Vec<memchr::memmem::Finder<'static>>,
    cond: Pre,
    /// The input, ASCII lower case (reused from event to event).
    low: Vec<u8>,
    /// Whether `cond` tests the event's `eventType` ([`Pre::EventType`]).
    uses_event_type: bool,
    /// Finds `"eventtype"` (a member name, or a value, in any case) in the lower-cased input.
    event_type_name: memchr::memmem::Finder<'static>,
    /// Finds `\u` (a `\u` escape, or a `\\` before a `u`: either way the input is not
    /// searched) in the input.
    unicode_escape: memchr::memmem::Finder<'static>,
    /// `cond` with its `eventType` tests decided, per `eventType` seen (as the event gives it):
    /// most events then cost one lookup and the few member tests of the rules that do not
    /// test `eventType`. At most [`MAX_EVENT_TYPES`] entries; past that, `cond` is evaluated.
    by_event_type: HashMap<Box<str>, Pre, ahash::RandomState>,
}

/// At most this many `eventType`s get a decided condition ([`Prefilter::by_event_type`]);
/// Okta has a few hundred.
const MAX_EVENT_TYPES: usize = 4096;

/// The prefilter's condition: literal `i` occurs.
#[derive(Debug, Clone, PartialEq)]
enum Pre {
    True,
    /// Never holds (an `eventType` test decided false).
    False,
    Lit(usize),
    /// The event's folded `eventType` equals this.
    EventType(String),
    /// The test on the value of the member [`TEXT_PATHS`]`[field]`, when the fast reader or
    /// the parts found it plain or absent ([`TopText`]); else literal `lit` occurs.
    Top {
        field: usize,
        test: Test,
        lit: usize,
    },
    All(Vec<Pre>),
    Any(Vec<Pre>),
}

/// The UTF-8 of the only non-ASCII characters whose `to_lowercase` holds an ASCII character:
/// U+0130 (`İ` → `i̇`) and U+212A (Kelvin sign → `k`). Input holding one gets no prefilter
/// answer; a test checks the list against every `char`.
const FOLDS_TO_ASCII: [&[u8]; 2] = ["\u{130}".as_bytes(), "\u{212a}".as_bytes()];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// At most this many literals (a fixed bit set, no allocation per event).
const MAX_LITERALS: usize = 256;

impl Prefilter {
    /// The prefilter of `gate`; `None` when it could never say no (an open gate, or a condition
    /// with no searchable literal where it matters).
    pub(crate) fn build(gate: &Gate) -> Option<Prefilter> {
        let cond = gate.cond.as_ref()?;
        let mut literals: Vec<String> = Vec::new();
        let event_type = gate.paths.iter().position(|p| *p == ["eventtype"]);
        let tops = TEXT_PATHS.map(|path| {
            gate.paths.iter().position(|p| {
                p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
        });
        let fields = Fields { event_type, tops };
        let pre = Self::lower(cond, &fields, &mut literals);
        if pre == Pre::True || literals.len() > MAX_LITERALS {
            return None;
        }
        let finders = literals
            .iter()
            .map(|l| memchr::memmem::Finder::new(l.as_bytes()).into_owned())
            .collect();
        Some(Prefilter {
            finders,
            uses_event_type: pre.uses_event_type(),
            cond: pre,
            low: Vec::new(),
            event_type_name: memchr::memmem::Finder::new(b"\"eventtype\"").into_owned(),
            unicode_escape: memchr::memmem::Finder::new(b"\\u").into_owned(),
            by_event_type: HashMap::default(),
        })
    }

    fn lower(cond: &Cond, fields: &Fields, literals: &mut Vec<String>) -> Pre {
        match cond {
            Cond::True => Pre::True,
            Cond::All(parts) => {
                let mut parts: Vec<Pre> = parts
                    .iter()
                    .map(|p| Self::lower(p, fields, literals))
                    .filter(|p| *p != Pre::True)
                    .collect();
                // Cheap tests first (see [`Pre::cost`]): `and` is the same in any order.
                parts.sort_by_key(Pre::cost);
                match parts.len() {
                    0 => Pre::True,
                    1 => parts.pop().unwrap_or(Pre::True),
                    _ => Pre::All(parts),
                }
            }
            Cond::Any(parts) => {
                let mut parts: Vec<Pre> = parts
                    .iter()
                    .map(|p| Self::lower(p, fields, literals))
                    .collect();
                if parts.is_empty() || parts.contains(&Pre::True) {
                    return Pre::True;
                }
                // Cheap tests first: `or` is the same in any order.
                parts.sort_by_key(Pre::cost);
                match parts.len() {
                    1 => parts.pop().unwrap_or(Pre::True),
                    _ => Pre::Any(parts),
                }
            }
            Cond::Leaf { path, test } => {
                let lit = match test {
                    Test::Exact(l)
                    | Test::Contains(l)
                    | Test::StartsWith(l)
                    | Test::EndsWith(l) => l,
                    Test::Present => return Pre::True,
                };
                // Not a character JSON may escape (`"`, `\\`, `/`, controls): outside `\u`
                // escapes, the other characters of a value are written as they are.
                let searchable = lit.is_ascii()
                    && lit
                        .bytes()
                        .any(|b| !(b.is_ascii_digit() || b"+-.eE".contains(&b)))
                    && !lit
                        .bytes()
                        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == b'/');
                if !searchable {
                    return Pre::True;
                }
                if let (Test::Exact(l), Some(p)) = (test, fields.event_type) {
                    if *path == p {
                        return Pre::EventType(l.clone());
                    }
                }
                let folded = lit.to_ascii_lowercase();
                let lit = match literals.iter().position(|l| *l == folded) {
                    Some(i) => i,
                    None => {
                        literals.push(folded);
                        literals.len() - 1
                    }
                };
                match fields.tops.iter().position(|t| *t == Some(*path)) {
                    Some(field) => Pre::Top {
                        field,
                        test: test.clone(),
                        lit,
                    },
                    None => Pre::Lit(lit),
                }
            }
        }
    }

    /// `Some(false)`: no rule can match the event whose raw JSON text is `raw`. `Some(true)`:
    /// some rule may. `None`: the input is not one the prefilter answers for (see the type's
    /// documentation).
    ///
    /// `event_type` is the `eventType` [`crate::EventView`] read from `raw`; `alone` is
    /// [`crate::EventView::event_type_alone`]: then that member is known to be the only one
    /// any rule reads under that name, and the input is lower-cased (and checked for `\u`
    /// escapes) only if a literal must be searched. Most events are answered by their
    /// `eventType` alone.
    pub(crate) fn check(
        &mut self,
        raw: &[u8],
        event_type: &str,
        alone: bool,
        tops: &[TopText<'_>; 4],
    ) -> Option<bool> {
        let mut input = Input {
            finders: &self.finders,
            unicode_escape: &self.unicode_escape,
            raw,
            low: &mut self.low,
            lowered: None,
            event_type: "",
            tops,
        };
        if self.uses_event_type && !alone {
            if !input.lower() {
                return None;
            }
            if self.event_type_name.find_iter(input.low).take(2).count() != 1 {
                // Another member named `eventType` in some case (or the name as a value): the
                // one `EventView` read may not be the only one the engine sees.
                return None;
            }
        }
        // Bit i of `searched`: literal i was looked for; of `found`: it occurs.
        let mut memo = Memo {
            searched: [0; MAX_LITERALS / 64],
            found: [0; MAX_LITERALS / 64],
        };
        // The same answer as `cond`'s wherever `cond`'s is one: the decided tests are those
        // `eval_pre` would make (it tests `eventType` before any search in each `and` / `or`),
        // so at most a search `cond` would have reached in input that cannot be searched is
        // skipped (an answer where `cond` has none; both are sound). A decided condition tests
        // no `eventType`: the fold below is not needed for it. (Without `eventType` tests the
        // map stays empty.)
        if let Some(decided) = self.by_event_type.get(event_type) {
            return eval_pre(decided, &mut input, &mut memo);
        }
        let folded = fold(event_type);
        input.event_type = &folded;
        if !self.uses_event_type {
            return eval_pre(&self.cond, &mut input, &mut memo);
        }
        if self.by_event_type.len() >= MAX_EVENT_TYPES {
            return eval_pre(&self.cond, &mut input, &mut memo);
        }
        let decided = self.cond.decide_event_type(&folded);
        let answer = eval_pre(&decided, &mut input, &mut memo);
        self.by_event_type.insert(event_type.into(), decided);
        answer
    }
}

/// Which literals were searched for, and found, in one input.
struct Memo {
    searched: [u64; MAX_LITERALS / 64],
    found: [u64; MAX_LITERALS / 64],
}

/// What the prefilter's condition is evaluated on.
struct Input<'a> {
    finders: &'a [memchr::memmem::Finder<'static>],
    /// [`Prefilter::unicode_escape`].
    unicode_escape: &'a memchr::memmem::Finder<'static>,
    /// The input.
    raw: &'a [u8],
    /// The input, lower case, once [`Input::lower`] made it.
    low: &'a mut Vec<u8>,
    /// Whether [`Input::lower`] ran, and whether the input can be answered for.
    lowered: Option<bool>,
    /// The event's `eventType`, folded.
    event_type: &'a str,
    /// The event's [`TEXT_PATHS`] members as the fast reader or the parts found them.
    tops: &'a [TopText<'a>; 4],
}

/// Which gated fields the prefilter compares with what [`crate::EventView`] read.
struct Fields {
    /// The gated field `eventType`.
    event_type: Option<usize>,
    /// The gated fields of [`TEXT_PATHS`].
    tops: [Option<usize>; 4],
}

impl Input<'_> {
    /// Lower-cases the input into `low` (once); false when the input is not one literals can
    /// be searched in (a `\u` escape, or a non-ASCII character that folds to ASCII).
    fn lower(&mut self) -> bool {
        *self.lowered.get_or_insert_with(|| {
            let raw = self.raw;
            if self.unicode_escape.find(raw).is_some()
                || (!raw.is_ascii() && FOLDS_TO_ASCII.iter().any(|c| contains(raw, c)))
            {
                return false;
            }
            self.low.clear();
            self.low.extend_from_slice(raw);
            self.low.make_ascii_lowercase();
            true
        })
    }
}

impl Pre {
    /// A rank of what evaluating the condition may cost: comparing the `eventType` (0), a
    /// member's value when known, else a search (1), a literal search, which lower-cases the
    /// whole input once (2); a compound, its dearest part. Parts are evaluated cheapest first,
    /// so most events are answered without lower-casing them. The answer does not depend on
    /// the order (`and` / `or` of the same parts); only whether a search in input that cannot
    /// be searched is reached (then the gate decides) does.
    fn cost(&self) -> u8 {
        match self {
            Pre::True | Pre::False | Pre::EventType(_) => 0,
            Pre::Top { .. } => 1,
            Pre::Lit(_) => 2,
            Pre::All(parts) | Pre::Any(parts) => parts.iter().map(Pre::cost).max().unwrap_or(0),
        }
    }

    fn uses_event_type(&self) -> bool {
        match self {
            Pre::EventType(_) => true,
            Pre::True | Pre::False | Pre::Lit(_) | Pre::Top { .. } => false,
            Pre::All(parts) | Pre::Any(parts) => parts.iter().any(Pre::uses_event_type),
        }
    }

    /// The condition for events whose folded `eventType` is `event_type`: every
    /// [`Pre::EventType`] test decided, `and` / `or` simplified (order kept).
    fn decide_event_type(&self, event_type: &str) -> Pre {
        match self {
            Pre::EventType(lit) if lit == event_type => Pre::True,
            Pre::EventType(_) => Pre::False,
            Pre::All(parts) => Pre::decide_each(parts, event_type, Pre::False, Pre::True, Pre::All),
            Pre::Any(parts) => Pre::decide_each(parts, event_type, Pre::True, Pre::False, Pre::Any),
            other => other.clone(),
        }
    }

    /// [`Pre::decide_event_type`] of each of `parts` joined by `join` (`and`: absorbing
    /// `False`, neutral `True`; `or`: the other way round), simplified.
    fn decide_each(
        parts: &[Pre],
        event_type: &str,
        absorbing: Pre,
        neutral: Pre,
        join: fn(Vec<Pre>) -> Pre,
    ) -> Pre {
        let mut kept = Vec::new();
        for part in parts {
            let part = part.decide_event_type(event_type);
            if part == absorbing {
                return absorbing;
            }
            if part != neutral {
                kept.push(part);
            }
        }
        match kept.len() {
            0 => neutral,
            1 => kept.pop().unwrap_or(neutral),
            _ => join(kept),
        }
    }
}

/// Evaluates `cond`, searching each literal at most once, only when needed; `None` when a
/// literal must be searched in input the prefilter does not answer for.
fn eval_pre(cond: &Pre, input: &mut Input<'_>, memo: &mut Memo) -> Option<bool> {
    Some(match cond {
        Pre::True => true,
        Pre::False => false,
        Pre::EventType(lit) => input.event_type == lit,
        Pre::Top { field, test, lit } => {
            let value = match input.tops.get(*field) {
                // A field item with a non-empty literal is false on an absent field, and
                // on one holding no text (`null`, empty containers).
                Some(TopText::Absent | TopText::NoText) => return Some(false),
                Some(TopText::Plain(value)) => *value,
                // Not known plain: the literal is searched in the bytes.
                _ => return eval_pre(&Pre::Lit(*lit), input, memo),
            };
            if value.is_ascii() {
                // ASCII is UTF-8, and its fold is its ASCII lower case: compared as such,
                // without making it (literals are folded already).
                let (v, l) = (value, test_literal(test).as_bytes());
                match test {
                    Test::Exact(_) => v.eq_ignore_ascii_case(l),
                    Test::Contains(_) => contains_ignore_ascii_case(v, l),
                    Test::StartsWith(_) => {
                        v.len() >= l.len() && v[..l.len()].eq_ignore_ascii_case(l)
                    }
                    Test::EndsWith(_) => {
                        v.len() >= l.len() && v[v.len() - l.len()..].eq_ignore_ascii_case(l)
                    }
                    Test::Present => true,
                }
            } else {
                let Ok(value) = std::str::from_utf8(value) else {
                    // Not UTF-8 after all: the literal is searched in the bytes.
                    return eval_pre(&Pre::Lit(*lit), input, memo);
                };
                let value = fold(value);
                match test {
                    Test::Exact(l) => *value == **l,
                    Test::Contains(l) => value.contains(l.as_str()),
                    Test::StartsWith(l) => value.starts_with(l.as_str()),
                    Test::EndsWith(l) => value.ends_with(l.as_str()),
                    Test::Present => true,
                }
            }
        }
        Pre::Lit(i) => {
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if memo.searched[word] & bit == 0 {
                if !input.lower() {
                    return None;
                }
                memo.searched[word] |= bit;
                if input.finders[*i].find(input.low).is_some() {
                    memo.found[word] |= bit;
                }
            }
            memo.found[word] & bit != 0
        }
        Pre::All(parts) => {
            for part in parts {
                if !eval_pre(part, input, memo)? {
                    return Some(false);
                }
            }
            true
        }
        Pre::Any(parts) => {
            for part in parts {
                if eval_pre(part, input, memo)? {
                    return Some(true);
                }
            }
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_non_ascii_chars_fold_to_ascii() {
        let found: Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()))
            .collect();
        let listed: Vec<char> = FOLDS_TO_ASCII
            .iter()
            .filter_map(|b| std::str::from_utf8(b).ok())
            .filter_map(|s| s.chars().next())
            .collect();
        assert_eq!(found, listed);
    }
}
