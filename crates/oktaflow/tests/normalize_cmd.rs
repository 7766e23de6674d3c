//! `oktaflow normalize` end to end: spawns the built binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

/// A realistic Okta System Log LogEvent.
fn log_event(uuid: &str, published: &str, event_type: &str) -> Value {
    json!({
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "legacyEventType": "core.user_auth.login_success",
        "displayMessage": "User login to Okta",
        "actor": {
            "id": "00u1abcd2EFGH3ijk4x7",
            "type": "User",
            "alternateId": "jane.doe@example.com",
            "displayName": "Jane Doe",
            "detailEntry": null
        },
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "os": "Windows 10",
                "browser": "CHROME"
            },
            "zone": "null",
            "device": "Computer",
            "id": null,
            "ipAddress": "203.0.113.7",
            "geographicalContext": {
                "city": "Paris",
                "state": "Ile-de-France",
                "country": "France",
                "postalCode": "75001",
                "geolocation": {"lat": 48.8566, "lon": 2.3522}
            }
        },
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [],
        "transaction": {"type": "WEB", "id": "Y2xpZW50LXRyYW5zYWN0aW9u", "detail": {}},
        "debugContext": {"debugData": {"requestId": "Y2xpZW50LXJlcXVlc3Q", "requestUri": "/api/v1/authn"}},
        "authenticationContext": {
            "authenticationProvider": null,
            "credentialProvider": null,
            "credentialType": null,
            "issuer": null,
            "interface": null,
            "authenticationStep": 0,
            "externalSessionId": "102bZDNFfWaQSyEZQuDgWt-uQ"
        },
        "securityContext": {
            "asNumber": 64496,
            "asOrg": "example transit",
            "isp": "example isp",
            "domain": "example.net",
            "isProxy": false
        },
        "request": {"ipChain": [{"ip": "203.0.113.7", "geographicalContext": null, "version": "V4", "source": null}]}
    })
}

fn events() -> Vec<Value> {
    vec![
        log_event(
            "a1b2c3d4-0001-11ef-9f6e-1b2c3d4e5f60",
            "2024-05-02T09:49:52.213Z",
            "user.session.start",
        ),
        log_event(
            "a1b2c3d4-0002-11ef-9f6e-1b2c3d4e5f60",
            "2024-05-02T09:50:01.000Z",
            "user.authentication.sso",
        ),
        log_event(
            "a1b2c3d4-0003-11ef-9f6e-1b2c3d4e5f60",
            "2024-05-02T09:51:17.554Z",
            "user.session.end",
        ),
    ]
}

fn ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `oktaflow normalize ARGS` with `stdin` as standard input.
fn normalize(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oktaflow"))
        .arg("normalize")
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

/// Parses NDJSON, checking that every line is one JSON document.
fn ndjson(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("output is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The `event.id` of every ECS document, checking each has an `@timestamp`.
fn event_ids(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|doc| {
            assert!(doc["@timestamp"].is_string(), "no @timestamp in {doc}");
            doc["event"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no event.id in {doc}"))
                .to_owned()
        })
        .collect()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn ndjson_from_stdin_in_all_three_input_forms_comes_out_in_order() {
    let events = events();
    let raw = events[0].to_string();
    let wrapper = json!({"message": events[1].to_string(), "source": "okta"});
    let eventbridge = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "SystemLog",
        "source": "aws.partner/okta.com/example/okta-log-stream",
        "account": "111122223333",
        "time": "2024-05-02T09:51:18Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": events[2],
    });
    let input = format!("{raw}\n\n{wrapper}\r\n   \n{eventbridge}");

    let out = normalize(&[], input.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(event_ids(&ndjson(&out.stdout)), ids(&events));
}

#[test]
fn a_saved_json_array_page_is_streamed_element_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("page.json");
    let events = events();
    std::fs::write(&input, serde_json::to_vec_pretty(&events).unwrap()).unwrap();

    let out = normalize(&["--input", path_arg(&input)], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(event_ids(&ndjson(&out.stdout)), ids(&events));

    // Two pages saved one after the other read as one stream.
    let two_pages = format!(
        "{}\n{}\n",
        Value::from(events[..2].to_vec()),
        Value::from(events[2..].to_vec())
    );
    let out = normalize(&[], two_pages.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(event_ids(&ndjson(&out.stdout)), ids(&events));
}

#[test]
fn bad_lines_are_dead_lettered_and_good_lines_still_written_in_order() {
    let events = events();
    let mut input = Vec::new();
    input.extend_from_slice(format!("{}\n", events[0]).as_bytes());
    input.extend_from_slice(b"this is not json\n");
    input.extend_from_slice(b"{\"uuid\": \"x\", \"eventType\": \"user.session.start\"}\n");
    input.extend_from_slice(b"{\"uuid\": \"caf\xe9\"}\n");
    input.extend_from_slice(format!("{}\n", events[1]).as_bytes());
    input.extend_from_slice(b"[1, 2]\n");
    input.extend_from_slice(format!("{}\n", events[2]).as_bytes());

    let out = normalize(&[], &input);
    assert_eq!(out.status.code(), Some(1));
    // The event without `published` is kept, at the time the run read it.
    let docs = ndjson(&out.stdout);
    let mut expected = ids(&events);
    expected.insert(1, "x".to_owned());
    assert_eq!(event_ids(&docs), expected);
    assert_eq!(docs[1]["tags"], json!(["okta_published_unparsable"]));

    let dead = ndjson(&out.stderr);
    let lines: Vec<u64> = dead.iter().map(|d| d["line"].as_u64().unwrap()).collect();
    // `[1, 2]`: two elements, neither an object.
    assert_eq!(lines, vec![2, 4, 6, 6]);
    assert_eq!(dead[0]["raw"], "this is not json");
    assert_eq!(dead[1]["raw"], "{\"uuid\": \"caf\u{fffd}\"}");
    assert!(
        dead[1]["error"].as_str().unwrap().contains("UTF-8"),
        "{}",
        dead[1]
    );
    assert!(
        dead[2]["error"]
            .as_str()
            .unwrap()
            .contains("not a JSON object"),
        "{}",
        dead[2]
    );
    for letter in &dead {
        assert!(!letter["error"].as_str().unwrap().is_empty(), "{letter}");
    }
}

#[test]
fn output_and_dead_letters_go_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    let output = dir.path().join("out.ndjson");
    let dead = dir.path().join("dead.ndjson");
    let events = events();
    // A stale output is replaced, not appended to.
    std::fs::write(&output, "stale\n").unwrap();
    let mut text = String::new();
    for (i, event) in events.iter().enumerate() {
        text.push_str(&format!("{event}\n"));
        if i == 0 {
            text.push_str("{\"truncated\": \n");
        }
    }
    std::fs::write(&input, text).unwrap();

    let out = normalize(
        &[
            "--input",
            path_arg(&input),
            "--output",
            path_arg(&output),
            "--dead-letter",
            path_arg(&dead),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 input(s) rejected") && stderr.contains("dead.ndjson"),
        "{stderr}"
    );
    assert_eq!(
        event_ids(&ndjson(&std::fs::read(&output).unwrap())),
        ids(&events)
    );
    let dead = ndjson(&std::fs::read(&dead).unwrap());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["line"], 2);
    assert_eq!(dead[0]["raw"], "{\"truncated\":");
    assert!(
        dead[0]["error"].as_str().unwrap().contains("incomplete"),
        "{}",
        dead[0]
    );
}

#[test]
fn a_truncated_array_keeps_its_complete_elements() {
    let events = events();
    let full = Value::from(events.clone()).to_string();
    let cut = &full[..full.len() - 40];
    let out = normalize(&[], cut.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(event_ids(&ndjson(&out.stdout)), ids(&events[..2]));
    let dead = ndjson(&out.stderr);
    assert_eq!(dead.len(), 1);
    // The line the cut element starts on (the page is one line).
    assert_eq!(dead[0]["line"], 1);
    assert!(dead[0]["error"].as_str().unwrap().contains("truncated"));
}

#[test]
fn pretty_printed_and_jq_output_from_stdin_dash() {
    let events = events();
    // `jq . page.json`: pretty objects one after the other; a pretty array; compact
    // objects run together.
    let mut input = String::new();
    input.push_str(&serde_json::to_string_pretty(&events[0]).unwrap());
    input.push('\n');
    input.push_str(&serde_json::to_string_pretty(&Value::from(vec![events[1].clone()])).unwrap());
    input.push_str(&events[2].to_string());
    input.push_str(&events[0].to_string());
    let out = normalize(&["--input", "-"], input.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut expected = ids(&events);
    expected.push(expected[0].clone());
    assert_eq!(event_ids(&ndjson(&out.stdout)), expected);
}

#[test]
fn a_cut_pretty_event_is_dead_lettered_and_reading_resumes() {
    let events = events();
    let pretty = serde_json::to_string_pretty(&events[1]).unwrap();
    // Cut inside a string: the rest of the event is lost, with a reason.
    let cut = pretty.find("Jane Doe").unwrap() + 2;
    let input = format!(
        "{}\n{}\n{}\n",
        events[0],
        &pretty[..cut],
        serde_json::to_string_pretty(&events[2]).unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let dead_file = dir.path().join("dead.ndjson");
    let out = normalize(&["--dead-letter", path_arg(&dead_file)], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        event_ids(&ndjson(&out.stdout)),
        vec![ids(&events)[0].clone(), ids(&events)[2].clone()]
    );
    let dead = ndjson(&std::fs::read(&dead_file).unwrap());
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["line"], 2);
    assert_eq!(dead[0]["raw"], pretty[..cut]);
    assert!(
        dead[0]["error"].as_str().unwrap().contains("incomplete"),
        "{}",
        dead[0]
    );
}

#[test]
fn an_unparsable_published_is_kept_marked_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let dead_file = dir.path().join("dead.ndjson");
    let mut event = events()[0].clone();
    event["published"] = json!("2024-13-45 25:61");
    event["eventType"] = json!("system.idp.lifecycle.create");
    let before = chrono::Utc::now();
    let out = normalize(
        &["--dead-letter", path_arg(&dead_file)],
        format!("{event}\n").as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = ndjson(&out.stdout);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["tags"], json!(["okta_published_unparsable"]));
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("published"));
    assert_eq!(doc["okta"]["system"]["published"], "2024-13-45 25:61");
    let stamp: chrono::DateTime<chrono::Utc> = doc["@timestamp"].as_str().unwrap().parse().unwrap();
    assert!(stamp >= before - chrono::Duration::seconds(1) && stamp <= chrono::Utc::now());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 event(s)"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_with_one_line_and_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.ndjson");
    let out = normalize(&["--input", path_arg(&missing)], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.ndjson"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    let input = dir.path().join("in.ndjson");
    let content = format!("{}\n", events()[0]);
    std::fs::write(&input, &content).unwrap();
    let out = normalize(
        &["--input", path_arg(&input), "--output", path_arg(&input)],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("same file"));
    assert_eq!(std::fs::read_to_string(&input).unwrap(), content);

    // A directory as the input is a usage error too, and no output is created for it.
    let output = dir.path().join("out.ndjson");
    let out = normalize(
        &[
            "--input",
            path_arg(dir.path()),
            "--output",
            path_arg(&output),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "oktaflow: error: cannot open --input {}: is a directory\n",
            dir.path().display()
        )
    );
    assert!(!output.exists());

    let out = normalize(&["--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_formats_dead_letters_and_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_oktaflow"))
        .args(["normalize", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--input",
        "--output",
        "--dead-letter",
        "--include-original",
        "--geoip-city",
        "--geoip-asn",
        "NDJSON",
        "JSON array",
        "EventBridge",
        "\"line\"",
        "Exit codes",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let top = Command::new(env!("CARGO_BIN_EXE_oktaflow"))
        .arg("--help")
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(
        top.contains("Exit codes") && top.contains("normalize"),
        "{top}"
    );
}

#[test]
fn schema_elastic_writes_elastics_layout_and_a_bad_schema_is_refused_first() {
    let input: Vec<u8> = events()
        .iter()
        .flat_map(|e| format!("{e}\n").into_bytes())
        .collect();
    let out = normalize(&["--schema", "elastic"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = ndjson(&out.stdout);
    assert_eq!(docs.len(), events().len());
    for doc in &docs {
        assert_eq!(doc["event"]["dataset"], "okta.system");
        assert_eq!(doc["okta"]["uuid"], doc["event"]["id"]);
        assert_eq!(doc["okta"]["actor"]["alternate_id"], "jane.doe@example.com");
    }
    // The default is ECS.
    let out = normalize(&[], &input);
    assert_eq!(ndjson(&out.stdout)[0]["event"]["dataset"], "system-log");

    // A bad name: exit 2, one line naming the choices, nothing read or written.
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("out.ndjson");
    let out = normalize(&["--schema", "elk", "--output", path_arg(&output)], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown schema `elk` (expected one of: ecs, elastic, ocsf)"),
        "{stderr}"
    );
    assert!(!output.exists());
}

#[test]
fn schema_ocsf_writes_one_ocsf_event_per_input() {
    let input: Vec<u8> = events()
        .iter()
        .flat_map(|e| format!("{e}\n").into_bytes())
        .collect();
    let out = normalize(&["--schema", "ocsf"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = ndjson(&out.stdout);
    assert_eq!(docs.len(), events().len());
    for doc in &docs {
        assert_eq!(doc["metadata"]["version"], "1.8.0");
        assert!(doc["class_uid"].as_u64().is_some(), "{doc}");
        assert!(doc["time"].as_i64().is_some(), "{doc}");
        assert!(doc.get("@timestamp").is_none(), "{doc}");
    }
}

#[test]
fn profiles_of_a_store_are_joined_and_a_missing_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("profiles-okta.redb");
    {
        let store = oktaflow_enrich::ProfileStore::open(&store_path).expect("store");
        let user = oktaflow_enrich::UserRecord {
            id: "00u1jane".into(),
            login: Some("jane@example.com".into()),
            email: Some("jane@example.com".into()),
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            display_name: Some("Jane Doe".into()),
            status: Some("SUSPENDED".into()),
            department: Some("Finance".into()),
            title: None,
            manager: None,
            employee_number: None,
            organization: None,
            last_updated: None,
        };
        store
            .commit(&oktaflow_enrich::Refresh {
                users: vec![user],
                roles: Some(
                    [("00u1jane".to_string(), vec!["SUPER_ADMIN".to_string()])]
                        .into_iter()
                        .collect(),
                ),
                ..oktaflow_enrich::Refresh::default()
            })
            .expect("commit");
    }
    let mut event = log_event("p1", "2024-05-01T10:00:00Z", "user.session.start");
    event["actor"] = json!({"id": "00u1jane", "type": "User", "alternateId": "jane@example.com"});
    let output = normalize(
        &["--profiles", path_arg(&store_path)],
        event.to_string().as_bytes(),
    );
    assert!(output.status.success(), "{output:?}");
    let docs = ndjson(&output.stdout);
    assert_eq!(docs[0]["user"]["roles"], json!(["SUPER_ADMIN"]));
    assert_eq!(docs[0]["okta"]["profile"]["actor"]["status"], "SUSPENDED");
    assert_eq!(docs[0]["okta"]["profile"]["actor"]["department"], "Finance");

    let missing = dir.path().join("nope.redb");
    let output = normalize(&["--profiles", path_arg(&missing)], b"");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--profiles"), "{stderr}");
    assert!(!missing.exists(), "a missing store is not created");
}
