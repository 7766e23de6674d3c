//! The configured `start_from` of a source: where a source with no checkpoint begins.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use oktaflow_plumbing::parse_duration;

/// Parses `start_from`: RFC 3339 (`2024-05-01T00:00:00Z`), a date (`2024-05-01`, midnight UTC)
/// or a duration back from now (`7d`).
pub fn parse_start_from(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let trimmed = text.trim();
    let start = if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        t.with_timezone(&Utc)
    } else if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        date.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("`{trimmed}` is not a valid date"))?
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) && !trimmed.contains(['-', ':']) {
        let back = parse_duration(trimmed)?;
        let back = TimeDelta::from_std(back).map_err(|_| format!("`{trimmed}` is too far back"))?;
        now.checked_sub_signed(back)
            .ok_or_else(|| format!("`{trimmed}` is too far back"))?
    } else {
        return Err(format!(
            "`{trimmed}` is neither a time (2024-05-01T00:00:00Z, 2024-05-01) nor a duration back from now (7d)"
        ));
    };
    if start > now + TimeDelta::minutes(1) {
        return Err(format!("`{trimmed}` is in the future"));
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn start_points() {
        assert_eq!(
            parse_start_from("7d", now()),
            Ok(now() - TimeDelta::days(7))
        );
        assert_eq!(
            parse_start_from("2024-05-01", now()),
            Ok("2024-05-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_start_from("2024-05-01T02:00:00+02:00", now()),
            Ok("2024-05-01T00:00:00Z".parse().unwrap())
        );
        assert!(parse_start_from("2024-13-01", now()).is_err());
    }
}
