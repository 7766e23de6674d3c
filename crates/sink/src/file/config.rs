//! [`FileConfig`] and [`Rotation`]: the settings of a `file` sink, from a `[[sinks]]` table
//! (`kind = "file"`) or a `file:PATH?option=value&...` spec.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::SinkConfigError;
use oktaflow_plumbing::{parse_duration, parse_size};

/// When the file sink starts a new file. Everything is off by default: one file that grows
/// forever, as without rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `rotate_size`: the next non-empty batch goes to a new file once the active file holds
    /// at least this many committed bytes (a threshold, not a cap: batches are never split).
    pub size: Option<u64>,
    /// `rotate_interval`: the next non-empty batch goes to a new file once the first batch
    /// of the active file was written at least this long ago.
    pub interval: Option<Duration>,
    /// `rotate_keep`: after a rotation, only this many rotated files are kept; older ones
    /// are deleted (default: all are kept).
    pub keep: Option<u32>,
}

impl Rotation {
    /// Whether the sink rotates at all (`rotate_size` or `rotate_interval` is set).
    pub fn is_enabled(&self) -> bool {
        self.size.is_some() || self.interval.is_some()
    }
}

/// The settings of a file sink: `path` and the optional `rotate_*` keys, validated when they
/// are read (so a bad value is refused with the configuration, before any work starts).
///
/// ```toml
/// [[sinks]]
/// kind = "file"
/// path = "/var/log/oktaflow/okta.ndjson"
/// rotate_size = "256MiB"
/// rotate_interval = "1d"
/// rotate_keep = 30
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawFileConfig")]
pub struct FileConfig {
    /// The active output file.
    pub path: PathBuf,
    /// When to start a new file (off by default).
    pub rotation: Rotation,
}

impl FileConfig {
    /// A file sink writing `path`, without rotation.
    pub fn new(path: impl Into<PathBuf>) -> FileConfig {
        FileConfig {
            path: path.into(),
            rotation: Rotation::default(),
        }
    }
}

impl From<PathBuf> for FileConfig {
    fn from(path: PathBuf) -> FileConfig {
        FileConfig::new(path)
    }
}

impl From<&str> for FileConfig {
    fn from(path: &str) -> FileConfig {
        FileConfig::new(path)
    }
}

/// Shortest `rotate_interval`.
const MIN_ROTATE_INTERVAL: Duration = Duration::from_secs(1);

/// The keys as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFileConfig {
    path: PathBuf,
    rotate_size: Option<Scalar>,
    rotate_interval: Option<Scalar>,
    rotate_keep: Option<Scalar>,
}

impl TryFrom<RawFileConfig> for FileConfig {
    type Error = SinkConfigError;

    fn try_from(raw: RawFileConfig) -> Result<FileConfig, SinkConfigError> {
        if raw.path.as_os_str().is_empty() {
            return Err(SinkConfigError::invalid(
                "path",
                "is empty; give the output file, e.g. okta.ndjson",
            ));
        }
        let size = match raw.rotate_size {
            None => None,
            Some(Scalar::Int(bytes)) => Some(
                u64::try_from(bytes)
                    .map_err(|_| SinkConfigError::invalid("rotate_size", "must not be negative"))?,
            ),
            Some(Scalar::Text(text)) => {
                Some(parse_size(&text).map_err(|e| SinkConfigError::invalid("rotate_size", e))?)
            }
        };
        if size == Some(0) {
            return Err(SinkConfigError::invalid(
                "rotate_size",
                "must be at least 1 byte; leave it out for no size rotation",
            ));
        }
        let interval = match raw.rotate_interval {
            None => None,
            Some(Scalar::Int(seconds)) => {
                Some(Duration::from_secs(u64::try_from(seconds).map_err(
                    |_| SinkConfigError::invalid("rotate_interval", "must not be negative"),
                )?))
            }
            Some(Scalar::Text(text)) => Some(
                parse_duration(&text)
                    .map_err(|e| SinkConfigError::invalid("rotate_interval", e))?,
            ),
        };
        if interval.is_some_and(|i| i < MIN_ROTATE_INTERVAL) {
            return Err(SinkConfigError::invalid(
                "rotate_interval",
                "must be at least 1s; leave it out for no time rotation",
            ));
        }
        let keep = match raw.rotate_keep {
            None => None,
            Some(Scalar::Int(n)) => Some(n),
            Some(Scalar::Text(text)) => Some(text.trim().parse::<i64>().map_err(|_| {
                SinkConfigError::invalid("rotate_keep", format!("`{text}` is not a whole number"))
            })?),
        };
        let keep = match keep {
            None => None,
            Some(n) if n < 1 => {
                return Err(SinkConfigError::invalid(
                    "rotate_keep",
                    "must be at least 1; leave it out to keep every rotated file",
                ))
            }
            Some(n) => Some(u32::try_from(n).map_err(|_| {
                SinkConfigError::invalid("rotate_keep", format!("{n} is too large"))
            })?),
        };
        let rotation = Rotation {
            size,
            interval,
            keep,
        };
        if rotation.keep.is_some() && !rotation.is_enabled() {
            return Err(SinkConfigError::invalid(
                "rotate_keep",
                "needs rotate_size or rotate_interval (without them nothing is rotated)",
            ));
        }
        Ok(FileConfig {
            path: raw.path,
            rotation,
        })
    }
}

/// A setting that is an integer in TOML or a string (always, in a spec's query).
enum Scalar {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                // Past i64 as text, so that the key's own check reports it.
                Ok(i64::try_from(v).map_or_else(|_| Scalar::Text(v.to_string()), Scalar::Int))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<FileConfig, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn rotation_keys_are_read_from_strings_and_integers() {
        let config = parse(json!({
            "path": "okta.ndjson",
            "rotate_size": "256MiB",
            "rotate_interval": "1h",
            "rotate_keep": 30
        }))
        .unwrap();
        assert_eq!(config.path, PathBuf::from("okta.ndjson"));
        assert_eq!(
            config.rotation,
            Rotation {
                size: Some(256 << 20),
                interval: Some(Duration::from_secs(3600)),
                keep: Some(30),
            }
        );
        let config = parse(json!({
            "path": "okta.ndjson", "rotate_size": 4096, "rotate_interval": 60, "rotate_keep": "2"
        }))
        .unwrap();
        assert_eq!(config.rotation.size, Some(4096));
        assert_eq!(config.rotation.interval, Some(Duration::from_secs(60)));
        assert_eq!(config.rotation.keep, Some(2));
        let plain = parse(json!({"path": "okta.ndjson"})).unwrap();
        assert_eq!(plain, FileConfig::new("okta.ndjson"));
        assert!(!plain.rotation.is_enabled());
    }

    #[test]
    fn bad_rotation_keys_are_refused_with_the_key_named() {
        // (the table's keys besides `path`, what the error starts with)
        let cases = [
            (
                r#"{"rotate_size": "big"}"#,
                "rotate_size: `big` is not a size",
            ),
            (
                r#"{"rotate_size": 0}"#,
                "rotate_size: must be at least 1 byte",
            ),
            (
                r#"{"rotate_size": -5}"#,
                "rotate_size: must not be negative",
            ),
            (
                r#"{"rotate_interval": "1y"}"#,
                "rotate_interval: `1y` has an unknown",
            ),
            (
                r#"{"rotate_interval": "500ms"}"#,
                "rotate_interval: must be at least 1s",
            ),
            (
                r#"{"rotate_interval": -1}"#,
                "rotate_interval: must not be negative",
            ),
            (
                r#"{"rotate_size": 9, "rotate_keep": 0}"#,
                "rotate_keep: must be at least 1",
            ),
            (
                r#"{"rotate_size": 9, "rotate_keep": "x"}"#,
                "rotate_keep: `x` is not a whole",
            ),
            (
                r#"{"rotate_keep": 3}"#,
                "rotate_keep: needs rotate_size or rotate_interval",
            ),
            (
                r#"{"rotate_interval": 18446744073709551615}"#,
                "rotate_interval: `18446744073709551615` needs a unit",
            ),
            (
                r#"{"rotate_size": 9, "rotate_keep": 9999999999}"#,
                "rotate_keep: 9999999999 is too large",
            ),
            (r#"{"rotate_sise": 3}"#, "unknown field `rotate_sise`"),
            (r#"{"path": ""}"#, "path: is empty"),
        ];
        for (keys, expected) in cases {
            let mut value: serde_json::Value = serde_json::from_str(keys).unwrap();
            let table = value.as_object_mut().unwrap();
            table.entry("path").or_insert(json!("okta.ndjson"));
            let err = parse(value.clone()).unwrap_err();
            assert!(err.starts_with(expected), "{value}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
