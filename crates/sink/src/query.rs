//! The options of a sink spec (`KIND:URL?key=value&...`) read into the same configuration
//! structs as a `[[sinks]]` table: a dotted key is a key of a table (`tls.ca_file=/ca.pem`
//! is `[sinks.tls] ca_file = "/ca.pem"`), and a value is read as whatever the field needs
//! (`batch.max_docs=500` a number, `request.compression=false` a boolean, `request.timeout=30s`
//! a duration).

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// An option that cannot be read; the message names it (`batch.max_docs: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError(pub(crate) String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

impl de::Error for QueryError {
    fn custom<T: fmt::Display>(msg: T) -> QueryError {
        QueryError(msg.to_string())
    }
}

/// A value or a table of options.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Table(Vec<(String, Node)>),
}

/// Reads `pairs` (decoded keys and values, in order) into `T`.
pub(crate) fn from_pairs<T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, QueryError> {
    let mut root = Vec::new();
    for (key, value) in pairs {
        insert(&mut root, &key, &key, value)?;
    }
    T::deserialize(NodeDeserializer {
        node: Node::Table(root),
        path: String::new(),
    })
}

/// Reads a query string (`a=1&tls.ca_file=%2Fca.pem`) into `T`, after the `leading` pairs.
pub(crate) fn from_query<T: DeserializeOwned>(
    leading: &[(&str, &str)],
    query: &str,
) -> Result<T, QueryError> {
    let pairs = leading
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    from_pairs(pairs)
}

fn insert(
    table: &mut Vec<(String, Node)>,
    full: &str,
    key: &str,
    value: String,
) -> Result<(), QueryError> {
    let (head, rest) = match key.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (key, None),
    };
    if head.is_empty() {
        return Err(QueryError(format!("`{full}` is not an option name")));
    }
    let existing = table.iter_mut().find(|(k, _)| k == head);
    match (existing, rest) {
        (None, None) => table.push((head.to_owned(), Node::Leaf(value))),
        (None, Some(rest)) => {
            let mut inner = Vec::new();
            insert(&mut inner, full, rest, value)?;
            table.push((head.to_owned(), Node::Table(inner)));
        }
        (Some((_, Node::Table(inner))), Some(rest)) => insert(inner, full, rest, value)?,
        (Some((_, Node::Leaf(_))), None) => {
            return Err(QueryError(format!("{full}: is given twice")))
        }
        (Some(_), _) => {
            return Err(QueryError(format!(
                "{full}: is given both as a value and as a table"
            )))
        }
    }
    Ok(())
}

struct NodeDeserializer {
    node: Node,
    /// The dotted name of this node, for messages.
    path: String,
}

impl NodeDeserializer {
    fn leaf(&self) -> Option<&str> {
        match &self.node {
            Node::Leaf(text) => Some(text),
            Node::Table(_) => None,
        }
    }

    fn error(&self, what: &str) -> QueryError {
        match self.leaf() {
            Some(text) => QueryError(format!("{}: `{text}` is not {what}", self.path)),
            None => QueryError(format!("{}: is a table, not {what}", self.path)),
        }
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, QueryError> {
        self.leaf()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| self.error(what))
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $ty:ty,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
                let value: $ty = self.parse("a number")?;
                visitor.$visit(value)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        match self.node {
            Node::Leaf(text) => visitor.visit_string(text),
            Node::Table(entries) => visitor.visit_map(TableAccess {
                entries: entries.into_iter(),
                value: None,
                path: self.path,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        match self.leaf().map(str::trim) {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => Err(self.error("true or false")),
        }
    }

    parse_number! {
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_f32 visit_f32 f32,
        deserialize_f64 visit_f64 f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        match self.leaf() {
            Some(text) => {
                let text: StrDeserializer<'_, QueryError> = text.into_deserializer();
                visitor.visit_enum(text)
            }
            None => Err(self.error("a name")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        match self.node {
            Node::Table(_) => self.deserialize_any(visitor),
            Node::Leaf(_) => Err(QueryError(format!(
                "{0}: is a table; give its keys as {0}.KEY=VALUE",
                self.path
            ))),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        identifier ignored_any i128 u128
    }
}

struct TableAccess {
    entries: std::vec::IntoIter<(String, Node)>,
    value: Option<(String, Node)>,
    path: String,
}

impl<'de> de::MapAccess<'de> for TableAccess {
    type Error = QueryError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, QueryError> {
        let Some((key, node)) = self.entries.next() else {
            return Ok(None);
        };
        let result = seed.deserialize(key.as_str().into_deserializer()).map(Some);
        self.value = Some((key, node));
        result.map_err(|e: QueryError| self.prefix(&e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, QueryError> {
        let (key, node) = self
            .value
            .take()
            .ok_or_else(|| QueryError("a value without its key".into()))?;
        let path = if self.path.is_empty() {
            key
        } else {
            format!("{}.{key}", self.path)
        };
        seed.deserialize(NodeDeserializer {
            node,
            path: path.clone(),
        })
        .map_err(|e| {
            if e.0.starts_with(&format!("{path}: ")) || e.0.starts_with(&format!("{path}.")) {
                e
            } else {
                QueryError(format!("{path}: {e}"))
            }
        })
    }
}

impl TableAccess {
    /// An error about a key of this table (an unknown field) names the table.
    fn prefix(&self, error: &QueryError) -> QueryError {
        if self.path.is_empty() {
            error.clone()
        } else {
            QueryError(format!("{}: {error}", self.path))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        ca_file: Option<String>,
        verify: Option<bool>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Outer {
        url: String,
        max_docs: usize,
        inner: Inner,
        #[serde(deserialize_with = "oktaflow_plumbing::units::de::option_duration")]
        timeout: Option<Duration>,
        headers: BTreeMap<String, String>,
    }

    #[test]
    fn dotted_keys_are_tables_and_values_take_the_field_type() {
        let outer: Outer = from_query(
            &[("url", "http://x")],
            "max_docs=5&inner.ca_file=%2Fca.pem&inner.verify=false&timeout=1m&headers.X-A=b",
        )
        .unwrap();
        assert_eq!(outer.url, "http://x");
        assert_eq!(outer.max_docs, 5);
        assert_eq!(outer.inner.ca_file.as_deref(), Some("/ca.pem"));
        assert_eq!(outer.inner.verify, Some(false));
        assert_eq!(outer.timeout, Some(Duration::from_secs(60)));
        assert_eq!(outer.headers["X-A"], "b");
    }

    #[test]
    fn errors_name_the_option() {
        let err = from_query::<Outer>(&[], "max_docs=many").unwrap_err();
        assert_eq!(err.0, "max_docs: `many` is not a number");
        let err = from_query::<Outer>(&[], "inner.verify=maybe").unwrap_err();
        assert_eq!(err.0, "inner.verify: `maybe` is not true or false");
        let err = from_query::<Outer>(&[], "inner.verfy=1").unwrap_err();
        assert!(err.0.starts_with("inner: unknown field `verfy`"), "{err}");
        let err = from_query::<Outer>(&[], "inner=1").unwrap_err();
        assert!(err.0.starts_with("inner: is a table"), "{err}");
        let err = from_query::<Outer>(&[], "max_docs=1&max_docs=2").unwrap_err();
        assert_eq!(err.0, "max_docs: is given twice");
        let err = from_query::<Outer>(&[], "timeout=30").unwrap_err();
        assert!(err.0.starts_with("timeout: `30` needs a unit"), "{err}");
    }
}
