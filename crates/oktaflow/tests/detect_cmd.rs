//! `oktaflow detect` and `oktaflow rules test` end to end: spawns the built binary on the real
//! Okta events of `fixtures/okta/` and the shipped SigmaHQ rules of `rules/sigma/okta/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped_rules() -> String {
    repo().join("rules/sigma/okta").display().to_string()
}

/// Every fixture LogEvent (each file holds one event, pretty-printed), in file order.
fn fixture_events() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures/okta"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("fixture");
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).expect("fixture is JSON"))
        })
        .collect()
}

/// The fixtures as one input: pretty-printed values one after the other.
fn fixture_input() -> Vec<u8> {
    let mut input = Vec::new();
    for (_, v) in fixture_events() {
        input.extend(serde_json::to_vec_pretty(&v).expect("serializes"));
        input.push(b'\n');
    }
    input
}

/// The uuid of the LogEvent in fixture `name` (the event itself, or an envelope's detail).
fn uuid_of(name: &str) -> String {
    let (_, v) = fixture_events()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    v["uuid"]
        .as_str()
        .or(v["detail"]["uuid"].as_str())
        .expect("uuid")
        .to_owned()
}

fn oktaflow(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oktaflow"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oktaflow binary runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin).expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("oktaflow finishes")
}

fn ndjson(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// (ruleset, rule name, first triggering event id) of every alert.
fn summary(alerts: &[Value]) -> Vec<(String, String, String)> {
    alerts
        .iter()
        .map(|a| {
            assert_eq!(a["event"]["kind"], "alert", "{a}");
            (
                a["rule"]["ruleset"].as_str().expect("ruleset").to_owned(),
                a["rule"]["name"].as_str().expect("name").to_owned(),
                a["oktaflow"]["alert"]["event_ids"][0]
                    .as_str()
                    .expect("event id")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn detect_runs_builtin_and_sigma_rules_over_real_okta_events() {
    let rules = shipped_rules();
    let out = oktaflow(&["detect", "--rules", &rules], &fixture_input());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = ndjson(&out.stdout);
    let got = summary(&alerts);
    for (ruleset, name, fixture) in [
        (
            "oktaflow-builtin",
            "Okta API token created",
            "system_api_token_create",
        ),
        ("sigma", "Okta API Token Created", "system_api_token_create"),
        (
            "sigma",
            "Okta Security Threat Detected",
            "security_threat_detected",
        ),
        (
            "sigma",
            "Okta Admin Role Assigned to an User or Group",
            "user_account_privilege_grant",
        ),
        (
            "sigma",
            "Okta Policy Modified or Deleted",
            "policy_lifecycle_update",
        ),
        (
            "sigma",
            "Okta Suspicious Activity Reported by End-user",
            "user_account_report_suspicious_activity",
        ),
        // displayMessage "Max sign in attempts exceeded" on a real user.account.lock.
        ("sigma", "Okta User Account Locked Out", "user_account_lock"),
    ] {
        let want = (ruleset.to_owned(), name.to_owned(), uuid_of(fixture));
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
    // A sigma alert names its rule's author (the Detection Rule License asks for it).
    let sigma = alerts
        .iter()
        .find(|a| a["rule"]["ruleset"] == "sigma")
        .expect("a sigma alert");
    assert!(sigma["rule"]["author"][0].is_string(), "{sigma}");

    // The same input gives the same alerts, with the same ids.
    let again = oktaflow(&["detect", "--rules", &rules], &fixture_input());
    assert_eq!(again.stdout, out.stdout);

    // --no-builtin: the Sigma rules only.
    let only = oktaflow(
        &["detect", "--no-builtin", "--rules", &rules],
        &fixture_input(),
    );
    assert_eq!(only.status.code(), Some(0));
    let only = ndjson(&only.stdout);
    assert!(!only.is_empty());
    assert!(only.iter().all(|a| a["rule"]["ruleset"] == "sigma"));
    assert_eq!(
        only.len(),
        alerts
            .iter()
            .filter(|a| a["rule"]["ruleset"] == "sigma")
            .count()
    );
}

#[test]
fn detect_reads_a_file_and_rejects_what_is_not_an_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    let mut text = fixture_input();
    text.extend_from_slice(b"{\"not\": \"an okta event\"}\n");
    std::fs::write(&input, &text).expect("write");
    let dead = dir.path().join("dead.ndjson");
    let out = oktaflow(
        &[
            "detect",
            "--input",
            &input.display().to_string(),
            "--dead-letter",
            &dead.display().to_string(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "rejected input: exit 1");
    let alerts = ndjson(&out.stdout);
    assert!(
        summary(&alerts)
            .iter()
            .any(|(set, name, _)| set == "oktaflow-builtin" && name == "Okta API token created"),
        "the other events were evaluated"
    );
    let dead = ndjson(&std::fs::read(&dead).expect("dead letters"));
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["line"].is_number());
}

#[test]
fn detect_refuses_rules_that_do_not_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.yml"), "title: broken\ndetection: [").expect("write");
    let out = oktaflow(
        &["detect", "--rules", &dir.path().display().to_string()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yml"), "{stderr}");
}

#[test]
fn rules_test_passes_every_shipped_case() {
    let out = oktaflow(&["rules", "test", &shipped_rules()], b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let cases: usize = std::fs::read_dir(repo().join("rules/sigma/okta"))
        .expect("rules")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".tests.json"))
        .map(|p| {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
            v["cases"].as_array().expect("cases").len()
        })
        .sum();
    assert!(cases >= 42, "two cases per rule at least: {cases}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count(),
        cases
    );
    assert!(!stdout.contains("FAIL "));
}

#[test]
fn rules_test_reports_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = std::fs::read_to_string(repo().join("rules/sigma/okta/okta_user_created.yml"))
        .expect("rule");
    std::fs::write(dir.path().join("created.yml"), rule).expect("write");
    std::fs::write(
        dir.path().join("created.tests.json"),
        r#"{"cases":[{"name":"expects nothing but the rule fires","expect":[],
            "events":[{"uuid":"u1","published":"2024-05-01T10:00:00Z",
                       "eventType":"user.lifecycle.create"}]}]}"#,
    )
    .expect("write");
    let out = oktaflow(&["rules", "test", &dir.path().display().to_string()], b"");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL ") && stdout.contains("b6c718dd-8f53-4b9f-98d8-93fdca966969"),
        "{stdout}"
    );
    // A case file that is not in the format: exit 2.
    std::fs::write(dir.path().join("created.tests.json"), "{\"case\": []}").expect("write");
    let out = oktaflow(&["rules", "test", &dir.path().display().to_string()], b"");
    assert_eq!(out.status.code(), Some(2));
}
