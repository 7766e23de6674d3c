//! What the configuration tables of the crates share: [`SettingError`] (a key of a table and
//! why its value cannot be used), [`Quantity`] (a duration or a size as written) and
//! [`secret_setting`] (a secret given inline, by file or by environment variable).
//!
//! A crate that owns a table (`[sources.sqs]`, `[sources.eventbridge]`) deserializes it into
//! its own `serde` struct and checks it into its config, returning every problem as a
//! [`SettingError`] named by the key within the table; the binary adds the table's name and
//! where the value came from.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{parse_duration, parse_size, Secret};

/// A setting of a table that cannot be used: its key within the table and why (one line,
/// never a secret's value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct SettingError {
    /// The key within its table, e.g. `wait_time`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl SettingError {
    /// A problem of `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> SettingError {
        SettingError {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// A duration or a size as written in the configuration: text with a unit (`"20s"`,
/// `"64KiB"`) or, in the file, a whole number (seconds for a duration, bytes for a size).
/// Read by [`Quantity::duration`] or [`Quantity::size`], so that a bad value is one problem
/// among the others, not the end of parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Quantity {
    /// A whole number.
    Number(u64),
    /// Text, e.g. `"1h30m"` or `"off"`.
    Text(String),
}

impl Quantity {
    /// As text (`60` is `"60s"`).
    pub fn into_text(self) -> String {
        match self {
            Quantity::Number(seconds) => format!("{seconds}s"),
            Quantity::Text(text) => text,
        }
    }

    /// The duration ([`parse_duration`]; a number is seconds).
    pub fn duration(&self) -> Result<Duration, String> {
        match self {
            Quantity::Number(seconds) => Ok(Duration::from_secs(*seconds)),
            Quantity::Text(text) => parse_duration(text),
        }
    }

    /// The size in bytes ([`parse_size`]; a number is bytes).
    pub fn size(&self) -> Result<u64, String> {
        match self {
            Quantity::Number(bytes) => Ok(*bytes),
            Quantity::Text(text) => parse_size(text),
        }
    }
}

/// Reads each `(key, quantity)` with `read`, collecting every problem into `errors`; `None`
/// where a value is absent or wrong.
pub fn read_each<T, const N: usize>(
    errors: &mut Vec<SettingError>,
    values: [(&str, Option<&Quantity>); N],
    read: impl Fn(&Quantity) -> Result<T, String>,
) -> [Option<T>; N] {
    values.map(|(key, value)| {
        let value = value?;
        read(value)
            .map_err(|reason| errors.push(SettingError::new(key, reason)))
            .ok()
    })
}

/// The secret of a slot that keys `names` = (`inline`, `file`, `env`) can fill: its value in
/// the configuration, a file (trimmed) or the name of an environment variable (read with
/// `env`). At most one may be given; `Ok(None)` when none is. Errors name the key, never
/// the value.
pub fn secret_setting(
    names: [&str; 3],
    inline: Option<&str>,
    file: Option<&Path>,
    env_name: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, SettingError> {
    let given = [inline.is_some(), file.is_some(), env_name.is_some()];
    let keys: Vec<&str> = names
        .iter()
        .zip(given)
        .filter(|(_, g)| *g)
        .map(|(k, _)| *k)
        .collect();
    if keys.len() > 1 {
        let reason = format!("{} are set; keep one", keys.join(" and "));
        return Err(SettingError::new(keys[1], reason));
    }
    let value = match (inline, file, env_name) {
        (Some(value), _, _) => value.to_string(),
        (_, Some(path), _) => {
            let shown = path.display();
            match std::fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => text,
                Ok(_) => return Err(SettingError::new(names[1], format!("{shown} is empty"))),
                Err(e) => {
                    let reason = format!("cannot read {shown}: {e}");
                    return Err(SettingError::new(names[1], reason));
                }
            }
        }
        (_, _, Some(name)) => match env(name.trim()) {
            Some(value) if !value.trim().is_empty() => value,
            _ => {
                let reason = format!("environment variable {name} is not set or empty");
                return Err(SettingError::new(names[2], reason));
            }
        },
        (None, None, None) => return Ok(None),
    };
    Ok(Some(Secret::new(value.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["password", "password_file", "password_env"];

    #[test]
    fn quantities_read_as_durations_or_sizes() {
        assert_eq!(Quantity::Number(60).duration(), Ok(Duration::from_secs(60)));
        assert_eq!(
            Quantity::Text("1m30s".into()).duration(),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(Quantity::Number(1024).size(), Ok(1024));
        assert_eq!(Quantity::Text("64KiB".into()).size(), Ok(65_536));
        assert!(Quantity::Text("soon".into()).duration().is_err());
        assert_eq!(Quantity::Number(5).into_text(), "5s");
        let mut errors = Vec::new();
        let good = Quantity::Text("2s".into());
        let bad = Quantity::Text("x".into());
        let [a, b, c] = read_each(
            &mut errors,
            [("a", Some(&good)), ("b", Some(&bad)), ("c", None)],
            Quantity::duration,
        );
        assert_eq!((a, b, c), (Some(Duration::from_secs(2)), None, None));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "b");
    }

    #[test]
    fn a_secret_slot_takes_one_source_and_never_shows_the_value() {
        let env = |name: &str| (name == "PW").then(|| " from-env-0123 \n".to_string());
        let none = |_: &str| None;
        let s = secret_setting(NAMES, None, None, Some("PW"), &env).unwrap();
        assert_eq!(s.unwrap().expose(), "from-env-0123");
        let s = secret_setting(NAMES, Some(" inline-0123 "), None, None, &none).unwrap();
        assert_eq!(s.unwrap().expose(), "inline-0123");
        assert_eq!(secret_setting(NAMES, None, None, None, &none), Ok(None));
        let e = secret_setting(NAMES, Some("inline-0123"), None, Some("PW"), &env).unwrap_err();
        assert_eq!(e.key, "password_env");
        assert!(!e.to_string().contains("inline-0123"), "{e}");
        let e = secret_setting(NAMES, None, None, Some("UNSET"), &env).unwrap_err();
        assert_eq!(e.key, "password_env");
        assert!(e.reason.contains("UNSET"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "file-secret-0123\n").unwrap();
        let s = secret_setting(NAMES, None, Some(&file), None, &none).unwrap();
        assert_eq!(s.unwrap().expose(), "file-secret-0123");
        std::fs::write(&file, " \n").unwrap();
        let e = secret_setting(NAMES, None, Some(&file), None, &none).unwrap_err();
        assert_eq!(e.key, "password_file");
        assert!(e.reason.ends_with("is empty"), "{e}");
        let missing = dir.path().join("missing");
        let e = secret_setting(NAMES, None, Some(&missing), None, &none).unwrap_err();
        assert!(e.reason.starts_with("cannot read"), "{e}");
    }
}
