//! Text that needs escaping, wherever an event can carry it, comes out as valid JSON in
//! every schema with its value intact. The writer skips the escape scan for strings
//! serde_json borrowed from the input (they cannot hold `"`, `\` or a control byte); this
//! guards the places where a string is cut out of *unescaped* text instead (Okta's
//! `{key=value}` strings, JSON text inside debugData, user agents).

use oktaflow_normalize::{Normalizer, Options, Schema};
use serde_json::Value;

/// Every string leaf of `v`.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(members) => {
            for (k, m) in members {
                out.push(k.clone());
                strings(m, out);
            }
        }
        _ => {}
    }
}

#[test]
fn escaped_text_everywhere_stays_valid_json_with_its_value_in_every_schema() {
    // Quotes, backslashes and control characters (as JSON escapes) in: actor names,
    // target names, the user agent, {k=v} keys and values of `behaviors` and `risk`,
    // an unknown debugData member and its key, JSON text inside debugData (its inner
    // strings escaped twice), outcome reason and a target's detailEntry.
    let event = r#"{"uuid":"esc-1","published":"2024-05-01T09:00:00Z","eventType":"user.session.start",
      "displayMessage":"User \"login\"\\n to Okta","severity":"INFO",
      "actor":{"id":"00u1","type":"User","alternateId":"a\\b@example.com","displayName":"Ann \"The\" Admin\t"},
      "client":{"ipAddress":"192.0.2.7","userAgent":{"rawUserAgent":"Mozilla/5.0 \"quoted\" \\ agent","os":"Mac \"OS\"","browser":"CHROME"}},
      "outcome":{"result":"FAILURE","reason":"INVALID \"CREDENTIALS\"\u0001"},
      "target":[{"id":"0oa1","type":"AppInstance","alternateId":"app\\one","displayName":"App \"One\"","detailEntry":{"k\"ey":"v\\al"}}],
      "debugContext":{"debugData":{
        "behaviors":"{New \"Geo\"=POSITIVE, New\\Device=NEG\"ATIVE, Velocity=NEGATIVE}",
        "risk":"{reasons=Anomalous \"Device\", New\\IP, level=MEDIUM}",
        "logOnlySecurityData":"{\"risk\":{\"level\":\"LOW\",\"reasons\":\"a \\\"quoted\\\" reason\\\\\"},\"behaviors\":{\"New \\\"IP\\\"\":\"POSITIVE\"}}",
        "tunnels":"[{\"operator\":\"Op \\\"VPN\\\"\",\"type\":\"VPN\"}]",
        "un\"known":"va\"lue\\\n",
        "requestUri":"/api/v1/\"x\""}}}"#;
    let _: Value = serde_json::from_str(event).expect("the test event is JSON");
    for schema in Schema::ALL.iter().copied() {
        let mut normalizer = Normalizer::new(Options {
            schema,
            ..Options::default()
        });
        let mut out = Vec::new();
        let result = if schema == Schema::Ocsf {
            normalizer.normalize_ocsf_into(event.as_bytes(), None, &mut out)
        } else {
            normalizer.normalize_into(event.as_bytes(), &mut out)
        };
        result.unwrap_or_else(|e| panic!("{schema}: {e}"));
        let doc: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "{schema}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        });
        let mut got = Vec::new();
        strings(&doc, &mut got);
        // The values with escapes that every schema keeps verbatim somewhere.
        for needle in [
            "Ann \"The\" Admin\t",
            "App \"One\"",
            "Mozilla/5.0 \"quoted\" \\ agent",
            "va\"lue\\\n",
            "New\\Device",
            "NEG\"ATIVE",
            "Op \"VPN\"",
            "a \"quoted\" reason\\",
        ] {
            // Parsed (JSON text inside debugData) or kept as that text.
            let as_text = needle.replace('\\', "\\\\").replace('"', "\\\"");
            assert!(
                got.iter()
                    .any(|s| s.contains(needle) || s.contains(&as_text)),
                "{schema}: {needle:?} lost; got {got:?}"
            );
        }
    }
}
