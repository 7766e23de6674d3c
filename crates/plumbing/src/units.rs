//! Sizes and durations as they are written in the configuration: `256MiB`, `1h30m`.
//!
//! [`parse_duration`] is the one duration syntax of every oktaflow setting (source, sinks,
//! command line); [`parse_size`] is the syntax of byte sizes. The functions of [`de`] read
//! them in `serde` structs, so a configuration says `request_timeout = "30s"` or
//! `max_bytes = "5MB"`.
//!
//! The duration syntax is oktaflow's own rather than `humantime`'s: `humantime` also takes
//! months and years (`5y`, whose length is ambiguous) and words oktaflow has never
//! accepted, and its messages do not say which units to use.

use std::time::Duration;

/// Parses `500ms`, `10s`, `2m`, `1h30m`, `7d`, `1w` (a sequence of number+unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration; use e.g. 60s, 2m, 1h, 7d".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{trimmed}` is not a duration; use e.g. 60s, 2m, 1h, 7d"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{trimmed}` has a number that is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let seconds_per = match unit {
            "ms" => {
                total += Duration::from_millis(number);
                continue;
            }
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 604_800,
            "" => {
                return Err(format!(
                    "`{trimmed}` needs a unit, e.g. {number}s or {number}m"
                ))
            }
            other => {
                return Err(format!(
                    "`{trimmed}` has an unknown unit `{other}`; use ms, s, m, h, d or w"
                ))
            }
        };
        let seconds = number
            .checked_mul(seconds_per)
            .ok_or_else(|| format!("`{trimmed}` is too large"))?;
        total += Duration::from_secs(seconds);
    }
    Ok(total)
}

/// Parses a byte size: a whole number of bytes (`1048576`), optionally followed by a unit,
/// decimal (`B`, `KB`, `MB`, `GB`, `TB`: powers of 1000) or binary (`KiB`, `MiB`, `GiB`,
/// `TiB`: powers of 1024). Units are case-insensitive; a space before the unit is allowed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let hint = "use e.g. 256MiB, 1GB or a number of bytes";
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    if digits == 0 {
        return Err(format!("`{trimmed}` is not a size; {hint}"));
    }
    let number: u64 = trimmed[..digits]
        .parse()
        .map_err(|_| format!("`{trimmed}` is too large"))?;
    let unit = trimmed[digits..].trim_start().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{trimmed}` has an unknown unit; use B, KB, MB, GB, KiB, MiB or GiB ({hint})"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{trimmed}` is too large"))
}

/// `serde` helpers for configuration structs: `#[serde(deserialize_with = "...")]`.
///
/// Durations are strings only (`"30s"`: a bare number has no unit); sizes are a whole
/// number of bytes or a string with a unit (`5000000`, `"5MB"`). Errors are the messages of
/// [`parse_duration`] and [`parse_size`], which quote the value and say what to write.
pub mod de {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\", \"2m\" or \"1h30m\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_duration(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
            Err(no_unit(n))
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
            Err(no_unit(n))
        }
    }

    /// A bare number where a duration is expected.
    fn no_unit<E: de::Error>(n: impl fmt::Display) -> E {
        E::custom(format!(
            "`{n}` needs a unit; write it as a string, e.g. \"{n}s\""
        ))
    }

    struct SizeVisitor;

    impl Visitor<'_> for SizeVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size such as 1048576, \"5MB\" or \"256MiB\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
            super::parse_size(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::custom(format!("`{n}` must not be negative")))
        }
    }

    /// A duration as a string (`"30s"`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DurationText(pub Duration);

    impl<'de> Deserialize<'de> for DurationText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(DurationVisitor).map(DurationText)
        }
    }

    /// A size as a number of bytes or a string with a unit (`"5MB"`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SizeText(pub u64);

    impl<'de> Deserialize<'de> for SizeText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(SizeVisitor).map(SizeText)
        }
    }

    /// Reads a duration (`"30s"`).
    pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        DurationText::deserialize(d).map(|t| t.0)
    }

    /// Reads an optional duration (`"30s"`).
    pub fn option_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<DurationText>::deserialize(d)?.map(|t| t.0))
    }

    /// Reads a size (`5000000` or `"5MB"`).
    pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        SizeText::deserialize(d).map(|t| t.0)
    }

    /// Reads an optional size (`5000000` or `"5MB"`).
    pub fn option_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Option::<SizeText>::deserialize(d)?.map(|t| t.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("60").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size(" 1 GB "), Ok(1_000_000_000));
        assert_eq!(parse_size("64kib"), Ok(65_536));
        assert_eq!(parse_size("10B"), Ok(10));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        for bad in ["", "MiB", "1.5GiB", "-1", "12 parsecs", "1MiB2"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("99999999999TiB")
            .unwrap_err()
            .contains("too large"));
        assert_eq!(
            parse_size("5 furlongs").unwrap_err(),
            "`5 furlongs` has an unknown unit; use B, KB, MB, GB, KiB, MiB or GiB (use e.g. \
             256MiB, 1GB or a number of bytes)"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Settings {
        #[serde(default, deserialize_with = "de::option_duration")]
        timeout: Option<Duration>,
        #[serde(default, deserialize_with = "de::option_size")]
        max_bytes: Option<u64>,
    }

    #[test]
    fn serde_helpers_read_strings_and_byte_counts() {
        let s: Settings =
            serde_json::from_value(serde_json::json!({"timeout": "1m30s", "max_bytes": "5MB"}))
                .unwrap();
        assert_eq!(s.timeout, Some(Duration::from_secs(90)));
        assert_eq!(s.max_bytes, Some(5_000_000));
        let s: Settings = serde_json::from_value(serde_json::json!({"max_bytes": 1024})).unwrap();
        assert_eq!((s.timeout, s.max_bytes), (None, Some(1024)));
        let err =
            serde_json::from_value::<Settings>(serde_json::json!({"timeout": 30})).unwrap_err();
        assert!(err.to_string().contains("needs a unit"), "{err}");
        let err =
            serde_json::from_value::<Settings>(serde_json::json!({"timeout": "5y"})).unwrap_err();
        assert!(err.to_string().contains("unknown unit"), "{err}");
    }
}
