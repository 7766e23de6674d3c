//! [`Secret`] and [`SecretRef`]: credentials that never show themselves.
//!
//! A [`Secret`] wraps a [`secrecy::SecretString`]: `Debug` and `Display` print `[redacted]`,
//! the memory is zeroed when it is dropped, and the value is reachable only through
//! [`Secret::expose`], called only where a request header or a signature is built.
//! A [`SecretRef`] says where a secret is read from (an environment variable or a file),
//! never the secret itself, so configurations can name credentials without holding them.
//! Every value wrapped by [`Secret::new`] is also registered with [`crate::scrub`], so it is
//! scrubbed from any text that leaves the process, whatever the text's origin.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// A secret value (API token, private key PEM, password, access token).
///
/// `Debug` and `Display` print `[redacted]`; the value is reachable only through
/// [`Secret::expose`]. Equality compares the values (for tests and change detection; it
/// is never shown).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value and registers it with [`crate::scrub`] (pieces shorter than
    /// [`MIN_SECRET_LEN`](crate::scrub::MIN_SECRET_LEN) are not scrubbed).
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        crate::scrub::register(&value);
        Secret(SecretString::from(value))
    }

    /// Wraps a short-lived secret obtained at run time (an OAuth access token) **without**
    /// registering it with [`crate::scrub`], so that renewing it every hour does not grow
    /// the registry. Use [`Secret::new`] for everything read from the configuration.
    pub fn unlisted(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    /// The secret itself. Call only where it is put on the wire (header, signature).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// True when the secret is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

/// A secret that could not be read from where a [`SecretRef`] points; the message names the
/// setting and the source, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct SecretError {
    /// The secret's setting, e.g. `password`.
    pub key: &'static str,
    /// Why it could not be read, e.g. `environment variable ES_PASSWORD is not set`.
    pub reason: String,
}

/// Where a secret is read from: an environment variable or a file, never the
/// configuration itself (settings `<name>_env` and `<name>_file`, e.g.
/// `password_env = "ES_PASSWORD"` or `?api_key_file=/run/secrets/es_api_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The content of this file, surrounding whitespace trimmed.
    File(PathBuf),
}

impl SecretRef {
    /// Reads the secret. `key` names the setting in error messages (e.g. `password`).
    /// An unset variable, an unreadable file or an empty value is an error.
    pub fn resolve(&self, key: &'static str) -> Result<Secret, SecretError> {
        let error = |reason: String| SecretError { key, reason };
        let value = match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                error(format!(
                    "environment variable {var} is not set (or not UTF-8)"
                ))
            })?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        };
        if value.trim().is_empty() {
            return Err(error(format!("{} is empty", self.describe())));
        }
        Ok(Secret::new(value))
    }

    /// The secret named by a `<name>_env` / `<name>_file` pair of settings: at most one
    /// may be given. `key` names the pair in the error (e.g. `password_env`).
    pub fn from_pair(
        key: &'static str,
        env: Option<&str>,
        file: Option<&Path>,
    ) -> Result<Option<SecretRef>, SecretError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(SecretError {
                key,
                reason: "give either the _env or the _file setting, not both".into(),
            }),
            (Some(var), None) => Ok(Some(SecretRef::Env(var.to_owned()))),
            (None, Some(path)) => Ok(Some(SecretRef::File(path.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// Where the secret comes from, for messages (never the value).
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(var) => format!("environment variable {var}"),
            SecretRef::File(path) => format!("file {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("00abcSECRET");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "00abcSECRET");
    }

    #[test]
    fn blank_detection() {
        assert!(Secret::new("  \n").is_blank());
        assert!(!Secret::new("x").is_blank());
    }

    #[test]
    fn resolves_from_a_file_trimmed_and_refuses_missing_or_empty_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret\n").unwrap();
        let secret = SecretRef::File(path.clone()).resolve("token").unwrap();
        assert_eq!(secret.expose(), "s3cret");

        std::fs::write(&path, "\n").unwrap();
        let err = SecretRef::File(path).resolve("token").unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");

        let err = SecretRef::Env("OKTAFLOW_SINK_TEST_SURELY_UNSET".into())
            .resolve("password")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "password: environment variable OKTAFLOW_SINK_TEST_SURELY_UNSET is not set (or not UTF-8)"
        );
    }

    #[test]
    fn at_most_one_of_a_pair() {
        assert!(SecretRef::from_pair("password_env", Some("A"), Some(Path::new("f"))).is_err());
        assert_eq!(
            SecretRef::from_pair("password_env", Some("A"), None),
            Ok(Some(SecretRef::Env("A".into())))
        );
        assert_eq!(SecretRef::from_pair("password_env", None, None), Ok(None));
    }
}
