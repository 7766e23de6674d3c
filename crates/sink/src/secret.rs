//! [`Secret`] and [`SecretRef`]: store credentials that never show themselves.
//!
//! `oktaflow-sink` does not depend on `oktaflow-fetch`, so it carries its own copy of
//! the tiny redacting wrapper (`oktaflow_fetch::Secret` has the same behaviour).

use std::fmt;
use std::path::PathBuf;

use crate::SinkConfigError;

/// A secret value (password, API key, HEC token).
///
/// `Debug` and `Display` print `[redacted]`; the value is reachable only through
/// [`Secret::expose`], called only where a request header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call only where it is put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

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
    pub fn resolve(&self, key: &'static str) -> Result<Secret, SinkConfigError> {
        let value = match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| SinkConfigError::Secret {
                key,
                reason: format!("environment variable {var} is not set (or not UTF-8)"),
            })?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| SinkConfigError::Secret {
                    key,
                    reason: format!("cannot read {}: {e}", path.display()),
                })?
                .trim()
                .to_owned(),
        };
        if value.trim().is_empty() {
            return Err(SinkConfigError::Secret {
                key,
                reason: format!("{} is empty", self.describe()),
            });
        }
        Ok(Secret(value))
    }

    /// The secret named by a `<name>_env` / `<name>_file` pair of settings: at most one
    /// may be given.
    pub fn from_pair(
        key: &'static str,
        env: Option<&str>,
        file: Option<&std::path::Path>,
    ) -> Result<Option<SecretRef>, SinkConfigError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(SinkConfigError::Invalid {
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
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
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
}
