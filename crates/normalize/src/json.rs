//! Lenient, borrowing JSON building blocks for the Okta model.
//!
//! * [`Json`] is a small JSON tree whose strings borrow from the input where
//!   possible. It carries free-form parts of a LogEvent (debugData, detailEntry,
//!   unknown members) to the output, where the writer drops nulls,
//!   empty strings and members/elements that end up empty.
//! * [`Member`] is how a model member is read: never failing on a type
//!   mismatch, a value that does not fit its member's type is handed back as a
//!   [`Json`] *misfit*, which the model keeps (with its Okta key) so the output
//!   can put it under `okta.system.unmapped` instead of changing a field's type.
//! * [`Text`] accepts strings and other scalars (a number becomes its JSON
//!   text); an object or array is a misfit, never stringified.
//! * [`Int`], [`Flag`] and [`Float`] accept their JSON type or a string that
//!   parses as one (`"0"`, `"false"`, `"-33.86"`); anything else is a misfit.
//! * [`List`] accepts any JSON value where Okta documents an array.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The mapping kind of a field (see [`Json::has_one_type_per_field`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Num,
    Str,
    Obj,
}

/// Records the kind of every field of `v` (at `path`, relative to the value
/// being checked) in `kinds`; false as soon as one field has two kinds.
fn field_kinds(
    v: &Json<'_>,
    path: &mut String,
    kinds: &mut std::collections::BTreeMap<String, Kind>,
) -> bool {
    if v.is_empty() {
        return true;
    }
    let kind = match v {
        Json::Null => return true,
        Json::Bool(_) => Kind::Bool,
        Json::Num(_) => Kind::Num,
        Json::Str(_) => Kind::Str,
        Json::Arr(items) => return items.iter().all(|item| field_kinds(item, path, kinds)),
        Json::Obj(_) => Kind::Obj,
    };
    if !record_kind(path, kind, kinds) {
        return false;
    }
    let Json::Obj(members) = v else {
        return true;
    };
    let len = path.len();
    for (key, value) in members {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        let fits = field_kinds(value, path, kinds);
        path.truncate(len);
        if !fits {
            return false;
        }
    }
    true
}

/// Records `kind` at `path` and "object" at each of its dotted prefixes.
fn record_kind(
    path: &str,
    kind: Kind,
    kinds: &mut std::collections::BTreeMap<String, Kind>,
) -> bool {
    let mut fits = |p: &str, k: Kind| match kinds.get(p) {
        Some(seen) => *seen == k,
        None => {
            kinds.insert(p.to_owned(), k);
            true
        }
    };
    if !fits(path, kind) {
        return false;
    }
    let mut prefix = path;
    while let Some((head, _)) = prefix.rsplit_once('.') {
        if !fits(head, Kind::Obj) {
            return false;
        }
        prefix = head;
    }
    true
}

/// A borrowed JSON value.
///
/// A `Cow::Borrowed` string or key is only ever made by the visitors here, from a
/// string serde_json borrowed from the text it parsed: one without escape sequences,
/// which therefore holds no `"`, `\\` or control byte. The writer copies such strings
/// without its escape scan (`writer::write_json`); code that builds a `Json` must keep
/// that (an owned string for anything else).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// True when the value carries no information: null, "", or a container
    /// whose members are all empty. Such values are omitted from the output.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Json::Null => true,
            Json::Bool(_) | Json::Num(_) => false,
            Json::Str(s) => s.is_empty(),
            Json::Arr(items) => items.iter().all(Json::is_empty),
            Json::Obj(members) => members.iter().all(|(_, v)| v.is_empty()),
        }
    }

    /// True when every field of the value, as a search engine's dynamic
    /// mapping sees it once written, has one JSON type: arrays are transparent
    /// (`["a", "b"]` is a string field, `["a", [false]]` a string and a boolean
    /// one), a key with dots names nested objects, and empty members (which the
    /// writer drops) do not count. Scalars always qualify.
    pub(crate) fn has_one_type_per_field(&self) -> bool {
        match self {
            Json::Null | Json::Bool(_) | Json::Num(_) | Json::Str(_) => true,
            Json::Arr(_) | Json::Obj(_) => {
                let mut kinds = std::collections::BTreeMap::new();
                field_kinds(self, &mut String::new(), &mut kinds)
            }
        }
    }

    /// The value of member `key`, when this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as a float, from a number or a numeric string.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => n.as_f64(),
            Json::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    /// The value as an unsigned integer, from an integral number or numeric string.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                    .map(|f| f as u64)
            }),
            Json::Str(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
    }

    /// The value as a boolean, from a boolean or the strings "true"/"false".
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            Json::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Json::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Compact JSON text of the value (empty members dropped).
    #[cfg(test)]
    pub(crate) fn to_text(&self) -> String {
        let mut out = Vec::new();
        crate::writer::write_json(&mut out, self);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// True for an object.
    pub(crate) fn is_object(&self) -> bool {
        matches!(self, Json::Obj(_))
    }
}

/// Visitor building a [`Json`]; shared by the lenient model types, which turn
/// any non-object value into a [`Json`] with it.
pub(crate) struct JsonVisitor<'a>(pub(crate) PhantomData<&'a ()>);

impl<'a> JsonVisitor<'a> {
    pub(crate) fn new() -> Self {
        JsonVisitor(PhantomData)
    }
}

impl<'a> Visitor<'a> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Num(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Num))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        Json::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Json<'a>>()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // debugData, the largest free-form object, has 10 to 16 members: one allocation.
        let mut members = Vec::with_capacity(16);
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            let v: Json<'a> = map.next_value()?;
            members.push((k, v));
        }
        Ok(Json::Obj(members))
    }
}

impl<'a> Deserialize<'a> for Json<'a> {
    fn deserialize<D: Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor::new())
    }
}

/// An object key, borrowed when it has no escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'a> Deserialize<'a> for Key<'a> {
    fn deserialize<D: Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'a> Visitor<'a> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A value Okta documents as a string. Other scalars are taken as their JSON
/// text (`42` → `"42"`); objects and arrays are misfits (see [`Member`]).
/// `Cow::Borrowed` only for a string serde_json borrowed from its input (no escape
/// sequence, so nothing to escape: see `JsonWriter::text`) and for `true`/`false`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Text<'_> {
    /// The text, or `None` when it is empty.
    pub(crate) fn non_empty(&self) -> Option<&str> {
        Some(self.0.as_ref()).filter(|s| !s.is_empty())
    }
}

/// What reading one member gave: `Ok(None)` for null (nothing to keep),
/// `Ok(Some(v))` for a usable value, `Err(json)` for a value whose JSON type
/// does not fit the member (a misfit, kept verbatim by the caller).
pub(crate) type Read<'a, T> = Result<Option<T>, Json<'a>>;

/// A type a model member can have; reading never fails on a type mismatch.
pub(crate) trait Member<'a>: Sized {
    /// Reads the member's value.
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error>;
}

/// [`DeserializeSeed`] reading a [`Member`] (for `MapAccess::next_value_seed`).
pub(crate) struct MemberSeed<T>(PhantomData<T>);

impl<T> MemberSeed<T> {
    pub(crate) fn new() -> Self {
        MemberSeed(PhantomData)
    }
}

impl<'a, T: Member<'a>> DeserializeSeed<'a> for MemberSeed<T> {
    type Value = Read<'a, T>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::read(d)
    }
}

impl<'a> Member<'a> for Json<'a> {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        Option::<Json<'a>>::deserialize(d).map(Ok)
    }
}

impl<'a> Member<'a> for &'a serde_json::value::RawValue {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        Option::<&'a serde_json::value::RawValue>::deserialize(d).map(Ok)
    }
}

impl<'a, T: Deserialize<'a>> Member<'a> for List<'a, T> {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        Option::<List<'a, T>>::deserialize(d).map(Ok)
    }
}

impl<'a> Member<'a> for Text<'a> {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        fn owned<'a>(s: String) -> Read<'a, Text<'a>> {
            Ok(Some(Text(Cow::Owned(s))))
        }
        impl<'a> Visitor<'a> for V<'a> {
            type Value = Read<'a, Text<'a>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
                Ok(Ok(Some(Text(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(owned(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Ok(Some(Text(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                })))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(owned(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(owned(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(match serde_json::Number::from_f64(v) {
                    Some(n) => owned(n.to_string()),
                    None => Ok(None),
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Ok(None))
            }
            fn visit_seq<A: SeqAccess<'a>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Ok(misfit(JsonVisitor::new().visit_seq(seq)?))
            }
            fn visit_map<A: MapAccess<'a>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(misfit(JsonVisitor::new().visit_map(map)?))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A misfit, unless it carries nothing (`[]`, `{}`), which is simply absent.
fn misfit<'a, T>(json: Json<'a>) -> Read<'a, T> {
    if json.is_empty() {
        Ok(None)
    } else {
        Err(json)
    }
}

/// Reads any JSON value and converts it with `convert`; what does not convert
/// is a misfit.
fn coerce<'a, D: Deserializer<'a>, T>(
    d: D,
    convert: impl Fn(&Json<'a>) -> Option<T>,
) -> Result<Read<'a, T>, D::Error> {
    let json = Json::deserialize(d)?;
    if json.is_empty() {
        return Ok(Ok(None));
    }
    Ok(convert(&json).map(Some).ok_or(json))
}

/// A non-negative integer (Okta `asNumber`, `authenticationStep`); integral
/// numbers and strings holding one are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int(pub(crate) u64);

impl<'a> Member<'a> for Int {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        coerce(d, |j| j.as_u64().map(Int))
    }
}

/// A boolean (Okta `isProxy`); the strings "true"/"false" are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub(crate) bool);

impl<'a> Member<'a> for Flag {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        coerce(d, |j| j.as_bool().map(Flag))
    }
}

/// A finite number (Okta `lat`, `lon`); numeric strings are accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Float(pub(crate) f64);

impl<'a> Member<'a> for Float {
    fn read<D: Deserializer<'a>>(d: D) -> Result<Read<'a, Self>, D::Error> {
        coerce(d, |j| j.as_f64().map(Float))
    }
}

/// Access to what every generated Okta model keeps besides its known members.
pub(crate) trait OktaObject<'a> {
    /// The whole value, when it was not an object.
    fn other(&self) -> Option<&Json<'a>>;
    /// Members the model does not know, in input order.
    fn extra(&self) -> &[(Cow<'a, str>, Json<'a>)];
    /// Known members whose value had an unusable JSON type.
    fn misfits(&self) -> &[(&'static str, Json<'a>)];
}

/// A value Okta documents as an array of `T`. Anything else is kept in `other`.
#[derive(Debug)]
pub(crate) struct List<'a, T> {
    pub(crate) items: Vec<T>,
    pub(crate) other: Option<Json<'a>>,
}

impl<T> Default for List<'_, T> {
    fn default() -> Self {
        List {
            items: Vec::new(),
            other: None,
        }
    }
}

impl<'a, T: Deserialize<'a>> Deserialize<'a> for List<'a, T> {
    fn deserialize<D: Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, T>(PhantomData<(&'a (), T)>);
        impl<'a, T: Deserialize<'a>> V<'a, T> {
            fn other(json: Json<'a>) -> List<'a, T> {
                List {
                    items: Vec::new(),
                    other: Some(json),
                }
            }
        }
        impl<'a, T: Deserialize<'a>> Visitor<'a> for V<'a, T> {
            type Value = List<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(List { items, other: None })
            }
            fn visit_map<A: MapAccess<'a>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(Self::other(JsonVisitor::new().visit_map(map)?))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Self::other(Json::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Self::other(Json::Num(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Self::other(Json::Num(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Self::other(JsonVisitor::new().visit_f64(v)?))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
                Ok(Self::other(Json::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Self::other(Json::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(List::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Declares an Okta object model: a struct of optional known members, the
/// members it does not know (`extra`, in input order) and, when the value was
/// not an object at all, the value itself (`other`). Deserializing never fails
/// on a type mismatch; only malformed JSON fails. The same model is also read by
/// the fast path ([`crate::fast`]), which gives up where it could differ.
macro_rules! okta_object {
    ($(#[$meta:meta])* $name:ident { $($key:literal => $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub(crate) struct $name<'a> {
            $(pub(crate) $field: Option<$ty>,)*
            /// Members not in the model, kept verbatim.
            pub(crate) extra: Vec<(std::borrow::Cow<'a, str>, $crate::json::Json<'a>)>,
            /// Known members whose value had an unusable JSON type, by Okta key.
            pub(crate) misfits: Vec<(&'static str, $crate::json::Json<'a>)>,
            /// The whole value, when it was not an object.
            pub(crate) other: Option<$crate::json::Json<'a>>,
        }

        impl<'a> serde::Deserialize<'a> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
                use serde::de::{self, MapAccess, SeqAccess, Visitor};
                use $crate::json::{Json, JsonVisitor, Key};
                struct V<'a>(std::marker::PhantomData<&'a ()>);
                impl<'a> V<'a> {
                    fn other(json: Json<'a>) -> $name<'a> {
                        $name { other: Some(json), ..Default::default() }
                    }
                }
                impl<'a> Visitor<'a> for V<'a> {
                    type Value = $name<'a>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
                            match key.as_ref() {
                                $($key => match map.next_value_seed(
                                    $crate::json::MemberSeed::<$ty>::new(),
                                )? {
                                    Ok(value) => out.$field = value,
                                    Err(misfit) => out.misfits.push(($key, misfit)),
                                },)*
                                _ => {
                                    let value: Json<'a> = map.next_value()?;
                                    out.extra.push((key, value));
                                }
                            }
                        }
                        Ok(out)
                    }
                    fn visit_seq<A: SeqAccess<'a>>(self, seq: A) -> Result<Self::Value, A::Error> {
                        Ok(Self::other(JsonVisitor::new().visit_seq(seq)?))
                    }
                    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Bool(v)))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Num(v.into())))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Num(v.into())))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                        Ok(Self::other(JsonVisitor::new().visit_f64(v)?))
                    }
                    fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Str(std::borrow::Cow::Borrowed(v))))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Str(std::borrow::Cow::Owned(v.to_owned()))))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok(Self::other(Json::Null))
                    }
                }
                d.deserialize_any(V(std::marker::PhantomData))
            }
        }

        impl<'a> $crate::json::Member<'a> for $name<'a> {
            fn read<D: serde::Deserializer<'a>>(
                d: D,
            ) -> Result<$crate::json::Read<'a, Self>, D::Error> {
                <Option<$name<'a>> as serde::Deserialize<'a>>::deserialize(d).map(Ok)
            }
        }

        impl<'a> $crate::fast::FastObject<'a> for $name<'a> {
            fn read_members(r: &mut $crate::fast::Reader<'a>, out: &mut Self) -> Option<()> {
                let mut first = true;
                while let Some(key) = r.member(&mut first)? {
                    match key.as_ref() {
                        $($key => {
                            if let Err(misfit) =
                                <$ty as $crate::fast::FastMember<'a>>::read_into(r, &mut out.$field)?
                            {
                                out.misfits.push(($key, misfit));
                            }
                        })*
                        _ => {
                            let value = r.json()?;
                            out.extra.push((key, value));
                        }
                    }
                }
                Some(())
            }
            fn from_other(json: $crate::json::Json<'a>) -> Self {
                $name { other: Some(json), ..Default::default() }
            }
        }

        impl<'a> $crate::fast::FastMember<'a> for $name<'a> {
            fn read_into(
                r: &mut $crate::fast::Reader<'a>,
                slot: &mut Option<Self>,
            ) -> Option<$crate::fast::Stored<'a>> {
                $crate::fast::object_member(r, slot)
            }
        }

        impl<'a> $crate::fast::FastElement<'a> for $name<'a> {
            fn push_element(r: &mut $crate::fast::Reader<'a>, items: &mut Vec<Self>) -> Option<()> {
                $crate::fast::object_element(r, items)
            }
        }

        impl<'a> $crate::json::OktaObject<'a> for $name<'a> {
            fn other(&self) -> Option<&$crate::json::Json<'a>> {
                self.other.as_ref()
            }
            fn extra(&self) -> &[(std::borrow::Cow<'a, str>, $crate::json::Json<'a>)] {
                &self.extra
            }
            fn misfits(&self) -> &[(&'static str, $crate::json::Json<'a>)] {
                &self.misfits
            }
        }
    };
}
pub(crate) use okta_object;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_drops_nulls_and_empty_containers_on_output() {
        let v: Json =
            serde_json::from_str(r#"{"a":null,"b":"","c":{"d":null},"e":[null,1,{}],"f":0}"#)
                .expect("valid JSON");
        assert_eq!(v.to_text(), r#"{"e":[1],"f":0}"#);
        assert!(!v.is_empty());
        let empty: Json = serde_json::from_str(r#"{"a":{"b":[null,""]}}"#).expect("valid JSON");
        assert!(empty.is_empty());
    }

    #[test]
    fn json_borrows_strings_without_escapes() {
        let v: Json = serde_json::from_str(r#"{"a":"plain","b":"esc\"aped"}"#).expect("valid JSON");
        assert!(matches!(
            v.get("a"),
            Some(Json::Str(Cow::Borrowed("plain")))
        ));
        assert!(matches!(v.get("b"), Some(Json::Str(Cow::Owned(s))) if s == "esc\"aped"));
    }

    fn read<'a, T: Member<'a>>(s: &'a str) -> Read<'a, T> {
        let mut de = serde_json::Deserializer::from_str(s);
        T::read(&mut de).expect("valid JSON")
    }

    #[test]
    fn text_accepts_scalars_and_hands_back_containers() {
        fn t(s: &str) -> Result<Option<String>, Json<'_>> {
            read::<Text>(s).map(|t| t.map(|t| t.0.into_owned()))
        }
        assert_eq!(t(r#""x""#), Ok(Some("x".to_owned())));
        assert_eq!(t("12"), Ok(Some("12".to_owned())));
        assert_eq!(t("-3"), Ok(Some("-3".to_owned())));
        assert_eq!(t("1.5"), Ok(Some("1.5".to_owned())));
        assert_eq!(t("true"), Ok(Some("true".to_owned())));
        assert_eq!(t("null"), Ok(None));
        assert_eq!(t("[]"), Ok(None));
        let misfit = t(r#"{"k":[1,null]}"#).expect_err("an object is a misfit");
        assert_eq!(misfit.to_text(), r#"{"k":[1]}"#);
    }

    #[test]
    fn typed_scalars_coerce_strings_that_parse() {
        assert_eq!(read::<Int>("0"), Ok(Some(Int(0))));
        assert_eq!(read::<Int>(r#""3741""#), Ok(Some(Int(3741))));
        assert_eq!(read::<Int>(r#""""#), Ok(None));
        assert!(read::<Int>(r#""first""#).is_err());
        assert!(read::<Int>("-1").is_err());
        assert_eq!(read::<Flag>(r#""false""#), Ok(Some(Flag(false))));
        assert_eq!(read::<Flag>("true"), Ok(Some(Flag(true))));
        assert!(read::<Flag>("1").is_err());
        assert_eq!(read::<Float>(r#""-33.8688""#), Ok(Some(Float(-33.8688))));
        assert_eq!(read::<Float>("151.2"), Ok(Some(Float(151.2))));
        assert!(read::<Float>(r#""north""#).is_err());
        assert!(read::<Float>("[1]").is_err());
    }

    #[test]
    fn numeric_accessors_are_lenient() {
        fn j(s: &str) -> Json<'_> {
            serde_json::from_str(s).expect("valid JSON")
        }
        assert_eq!(j("3741").as_u64(), Some(3741));
        assert_eq!(j("\"3741\"").as_u64(), Some(3741));
        assert_eq!(j("3741.0").as_u64(), Some(3741));
        assert_eq!(j("-1").as_u64(), None);
        assert_eq!(j("\"48.5\"").as_f64(), Some(48.5));
        assert_eq!(j("\"False\"").as_bool(), Some(false));
        assert_eq!(j("{}").as_bool(), None);
    }

    #[test]
    fn one_type_per_field_sees_through_arrays_and_dotted_keys() {
        fn one(s: &str) -> bool {
            serde_json::from_str::<Json>(s)
                .expect("valid JSON")
                .has_one_type_per_field()
        }
        assert!(one(r#""a""#));
        assert!(one(r#"["a", ["b"], null, ""]"#));
        assert!(one(r#"[{"k": 1}, {"k": [2]}, {"j": "x"}]"#));
        assert!(one(r#"[1, 2.5]"#));
        assert!(one(r#"["a", [null], {}]"#));
        assert!(!one(r#"["a", [false]]"#));
        assert!(!one(r#"["a", {"k": 1}]"#));
        assert!(!one(r#"[{"k": 1}, {"k": "1"}]"#));
        assert!(!one(r#"{"a.b": 1, "a": {"b": true}}"#));
        assert!(!one(r#"{"a.b": 1, "a": 2}"#));
    }

    okta_object!(Probe { "a" => a: Text<'a>, "l" => l: List<'a, Json<'a>>, "n" => n: Int });

    #[test]
    fn okta_object_keeps_unknown_members_and_non_objects() {
        let p: Probe = serde_json::from_str(r#"{"a":1,"z":{"y":true},"l":["q",2],"n":"x"}"#)
            .expect("valid JSON");
        assert_eq!(p.a.map(|t| t.0.into_owned()), Some("1".to_owned()));
        assert_eq!(p.extra.len(), 1);
        assert_eq!(p.extra[0].0, "z");
        assert_eq!(p.n, None);
        assert_eq!(p.misfits, vec![("n", Json::Str(Cow::Borrowed("x")))]);
        let l = p.l.expect("l is present");
        assert_eq!(l.items.len(), 2);
        let not_object: Probe = serde_json::from_str("[1,2]").expect("valid JSON");
        assert!(not_object.other.is_some());
        let bad_list: Probe = serde_json::from_str(r#"{"l":"scalar"}"#).expect("valid JSON");
        assert!(bad_list.l.expect("l is present").other.is_some());
    }
}
