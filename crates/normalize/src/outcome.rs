//! Okta `outcome.result` → ECS `event.outcome`, and Okta `severity` → ECS
//! `event.severity`.

/// `event.outcome` for an Okta `outcome.result` (case-insensitive).
///
/// SUCCESS and ALLOW are `success`; FAILURE and DENY are `failure`; everything
/// else (SKIPPED, CHALLENGE, UNKNOWN, RATE_LIMIT, values Okta adds later) is
/// `unknown`, because it says nothing about whether the action succeeded.
pub(crate) fn event_outcome(result: &str) -> &'static str {
    const SUCCESS: &[&str] = &["SUCCESS", "ALLOW"];
    const FAILURE: &[&str] = &["FAILURE", "DENY"];
    if SUCCESS.iter().any(|s| s.eq_ignore_ascii_case(result)) {
        "success"
    } else if FAILURE.iter().any(|s| s.eq_ignore_ascii_case(result)) {
        "failure"
    } else {
        "unknown"
    }
}

/// `event.severity` for an Okta severity (case-insensitive): DEBUG 1, INFO 2,
/// WARN 3, ERROR 4 — higher is more severe. Other values give no number.
pub(crate) fn event_severity(severity: &str) -> Option<u8> {
    const LEVELS: &[(&str, u8)] = &[
        ("DEBUG", 1),
        ("INFO", 2),
        ("WARN", 3),
        ("WARNING", 3),
        ("ERROR", 4),
    ];
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(severity))
        .map(|(_, level)| *level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_okta_result_maps_to_an_ecs_outcome() {
        let cases = [
            ("SUCCESS", "success"),
            ("ALLOW", "success"),
            ("FAILURE", "failure"),
            ("DENY", "failure"),
            ("SKIPPED", "unknown"),
            ("CHALLENGE", "unknown"),
            ("UNKNOWN", "unknown"),
            ("RATE_LIMIT", "unknown"),
            ("success", "success"),
            ("", "unknown"),
        ];
        for (result, expected) in cases {
            assert_eq!(event_outcome(result), expected, "{result}");
        }
    }

    #[test]
    fn severities_are_ordered() {
        assert_eq!(event_severity("DEBUG"), Some(1));
        assert_eq!(event_severity("INFO"), Some(2));
        assert_eq!(event_severity("WARN"), Some(3));
        assert_eq!(event_severity("error"), Some(4));
        assert_eq!(event_severity("LOUD"), None);
    }
}
