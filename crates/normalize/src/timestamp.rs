//! `published` → `@timestamp`: UTC with exactly six fraction digits and `Z`.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};

/// Parses Okta's `published`: RFC 3339 with any offset and any fraction
/// (none to nanoseconds); a timestamp without offset is taken as UTC.
pub(crate) fn parse(published: &str) -> Result<DateTime<Utc>, String> {
    let s = published.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .map_err(|_| format!("`{s}` is not an RFC 3339 timestamp"))
}

/// Length of a formatted timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
pub(crate) const LEN: usize = 27;

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, truncated) in
/// `buf`, without allocating. Years outside 0..=9999 fall back to chrono's
/// own ISO 8601 rendering.
pub(crate) fn format<'b>(t: &DateTime<Utc>, buf: &'b mut [u8; LEN]) -> Cow<'b, str> {
    use chrono::Datelike;
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return Cow::Owned(t.format("%+").to_string());
    }
    let micros = (t.nanosecond() % 1_000_000_000) / 1_000;
    let put = |buf: &mut [u8], at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(buf, 0, 4, year as u32);
    buf[4] = b'-';
    put(buf, 5, 2, t.month());
    buf[7] = b'-';
    put(buf, 8, 2, t.day());
    buf[10] = b'T';
    put(buf, 11, 2, t.hour());
    buf[13] = b':';
    put(buf, 14, 2, t.minute());
    buf[16] = b':';
    // A leap second (nanosecond >= 1e9) keeps second 59 and shows .999999 at most.
    put(buf, 17, 2, t.second());
    buf[19] = b'.';
    put(buf, 20, 6, micros.min(999_999));
    buf[26] = b'Z';
    // Only ASCII digits and separators were written.
    String::from_utf8_lossy(&buf[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(s: &str) -> String {
        let mut buf = [0u8; LEN];
        format(&parse(s).expect("valid timestamp"), &mut buf).into_owned()
    }

    #[test]
    fn milliseconds_become_microseconds() {
        assert_eq!(
            normalized("2022-11-10T09:49:52.213Z"),
            "2022-11-10T09:49:52.213000Z"
        );
    }

    #[test]
    fn no_fraction_gets_six_zero_digits() {
        assert_eq!(
            normalized("2022-11-02T12:00:00Z"),
            "2022-11-02T12:00:00.000000Z"
        );
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(
            normalized("2022-11-10T11:49:52.213+02:00"),
            "2022-11-10T09:49:52.213000Z"
        );
        assert_eq!(
            normalized("2022-12-31T23:30:00-01:00"),
            "2023-01-01T00:30:00.000000Z"
        );
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        assert_eq!(
            normalized("2022-11-10T09:49:52.123456789Z"),
            "2022-11-10T09:49:52.123456Z"
        );
    }

    #[test]
    fn missing_offset_is_utc() {
        assert_eq!(
            normalized("2022-11-10T09:49:52.5"),
            "2022-11-10T09:49:52.500000Z"
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_value() {
        let err = parse("yesterday").expect_err("not a timestamp");
        assert!(err.contains("yesterday"), "{err}");
        assert!(parse("").is_err());
    }
}
