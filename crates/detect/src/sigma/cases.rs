//! Test cases kept beside Sigma rule files: `X.yml` has its cases in `X.tests.json`.
//!
//! ```json
//! {
//!   "cases": [
//!     { "name": "API token created",
//!       "events": [ { "uuid": "t1", "published": "2024-05-01T10:00:00Z",
//!                     "eventType": "system.api_token.create" } ],
//!       "expect": ["19951c21-229d-4ccb-8774-b993c3ff3c5c"] },
//!     { "name": "another event type", "events": [ ... ], "expect": [] }
//!   ]
//! }
//! ```
//!
//! Each case runs its `events` (Okta LogEvents, or any input form the detector accepts), in
//! order, through a fresh detector holding the whole rule set of the folder (so a correlation
//! may use rules of other files) and no built-in rule. `expect` is the list of `rule.id`s of
//! the alerts raised by the rules *of this file*, in the order they are raised (alerts of
//! other files' rules are ignored): `[]` says the file's rules must stay quiet.

use serde::Deserialize;
use serde_json::Value;

use crate::config::RulesConfig;
use crate::engine::Detector;
use crate::event::EventView;
use crate::sigma::SigmaRules;

/// The test cases of one rule file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The cases, run in order, each on a fresh detector.
    pub cases: Vec<Case>,
}

impl CaseFile {
    /// Reads a case file's JSON text.
    pub fn from_json(text: &str) -> Result<CaseFile, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows (printed by `oktaflow rules test`).
    pub name: String,
    /// The events, in `published` order.
    pub events: Vec<Value>,
    /// The `rule.id` of every alert the file's rules must raise, in order (`[]`: none).
    pub expect: Vec<String>,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// The case file.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// The alerts expected (rule ids).
    pub expected: Vec<String>,
    /// The alerts raised by the file's rules (rule ids).
    pub got: Vec<String>,
    /// Why the case could not run (an event the detector refused), if so.
    pub error: Option<String>,
}

impl CaseOutcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.expected == self.got
    }

    /// The outcome of a rule file that has no case file.
    pub(crate) fn missing(rule_file: &str, cases: &std::path::Path) -> CaseOutcome {
        CaseOutcome {
            file: rule_file.to_owned(),
            name: "(no test cases)".into(),
            expected: Vec::new(),
            got: Vec::new(),
            error: Some(format!("no test cases: write {}", cases.display())),
        }
    }
}

/// Runs every case of `file` against `rules`, counting the alerts of the rules in `under_test`.
pub fn run_cases(
    rules: &SigmaRules,
    under_test: &[String],
    file: &CaseFile,
    file_name: &str,
) -> Vec<CaseOutcome> {
    file.cases
        .iter()
        .map(|case| {
            let mut outcome = CaseOutcome {
                file: file_name.to_owned(),
                name: case.name.clone(),
                expected: case.expect.clone(),
                got: Vec::new(),
                error: None,
            };
            match run_case(rules, under_test, case) {
                Ok(got) => outcome.got = got,
                Err(error) => outcome.error = Some(error),
            }
            outcome
        })
        .collect()
}

fn run_case(rules: &SigmaRules, under_test: &[String], case: &Case) -> Result<Vec<String>, String> {
    let mut detector =
        Detector::with_sigma(RulesConfig::none(), rules).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    for (i, raw) in case.events.iter().enumerate() {
        let event =
            EventView::from_value(raw, None).map_err(|e| format!("event {}: {e}", i + 1))?;
        for alert in detector.observe(&event) {
            if under_test.iter().any(|id| id == alert.rule.id) {
                got.push(alert.rule.id.to_owned());
            }
        }
    }
    Ok(got)
}
