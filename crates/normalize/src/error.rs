//! Error types.

/// Why an input could not be normalized. Every message names the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The input is not valid JSON (or not UTF-8).
    #[error("input is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The input is JSON but not an object.
    #[error("input is not a JSON object (a LogEvent, a {{\"message\": ...}} wrapper or an EventBridge envelope)")]
    NotAnObject,
    /// A wrapper or EventBridge envelope does not contain a usable LogEvent.
    #[error("{form} does not contain a LogEvent: {reason}")]
    InvalidEnvelope {
        /// Which input form was recognised ("message wrapper", "EventBridge envelope").
        form: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A field every LogEvent has (uuid, published, eventType) is missing, null or empty.
    #[error("LogEvent has no `{0}`")]
    MissingField(&'static str),
    /// A required field is present but unusable.
    #[error("LogEvent field `{field}` is unusable: {reason}")]
    InvalidField {
        /// The Okta field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why MaxMind databases could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoIpError {
    /// Neither a city nor an ASN database was given.
    #[error("no GeoIP database given (need a city and/or an ASN .mmdb)")]
    NoDatabase,
    /// The bytes are not a valid MaxMind DB.
    #[error("the GeoIP {which} database is not a valid MaxMind DB: {source}")]
    InvalidDatabase {
        /// "city" or "ASN".
        which: &'static str,
        /// The reader's error.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// A schema name that is not one of [`crate::Schema::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema `{name}` (expected one of: {known})")]
pub struct SchemaError {
    /// The name given.
    pub name: String,
    /// The known names, comma-separated.
    pub known: String,
}
