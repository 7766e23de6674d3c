//! `oktaflow run` against the simulator: every event exactly once and in order despite faults,
//! a rate-limit storm and late events; resuming; OAuth service-app auth.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_sim::{FaultKinds, OAuthClientConfig, SimConfig};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_faults_lose_and_duplicate_nothing() {
    let faults = FaultKinds {
        slow_delay: Duration::from_secs(3), // beyond the 2 s request timeout
        ..FaultKinds::default()
    };
    let sim = start_sim(SimConfig {
        fault_rate: 0.1,
        faults,
        ..quiet(3_000)
    })
    .await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);

    let written = ids(&work.out);
    assert_eq!(written.len(), 3_000);
    assert_eq!(written, sim.delivered_order());
    assert!(
        sim.stats().faults_injected() >= 2,
        "faults were injected: {:?}",
        sim.stats()
    );
    assert_eq!(work.committed_offset(), file_len(&work.out));
    sim.shutdown().await;
}

/// Other integrations spend more than the org's whole budget in every (2 s) window: oktaflow
/// waits for each window's reset instead of collecting 429s, and delivers everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_gets_few_429s_and_delivers_everything() {
    let sim = start_sim(SimConfig {
        rate_limit_per_minute: Some(1_200),
        other_integrations_per_minute: 1_800,
        rate_limit_window: Duration::from_secs(2),
        ..quiet(2_000)
    })
    .await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 0.5");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);

    assert_eq!(ids(&work.out), sim.delivered_order());
    let stats = sim.stats();
    eprintln!("storm: {stats:?}");
    let pages = stats.pages_served;
    assert!(pages >= 21, "20 full pages and a last one: {stats:?}");
    assert!(stats.rate_limited <= 2, "few 429s: {stats:?}");
    sim.shutdown().await;
}

/// Okta makes some events visible late, with a `published` before events already delivered:
/// following the cursor delivers them; resuming from the last `published` would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_visible_events_are_all_delivered() {
    let sim = start_sim(SimConfig {
        late_fraction: 0.3,
        late_delay: Duration::from_secs(90),
        ..quiet(1_000)
    })
    .await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let first = ids(&work.out);
    let newest_before = newest_published(&work.out);

    sim.add_events(200);
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let all = ids(&work.out);
    assert_eq!(all, sim.delivered_order());
    assert!(
        all.len() >= first.len() + 200,
        "{} then {}",
        first.len(),
        all.len()
    );
    assert_eq!(&all[..first.len()], &first[..]);
    let late = published_times(&work.out)[first.len()..]
        .iter()
        .filter(|published| **published < newest_before)
        .count();
    assert!(
        (20..=120).contains(&late),
        "about 30% of the 200 new events were published before the first run's newest event: {late}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_writes_only_new_events() {
    let sim = start_sim(quiet(1_500)).await;
    let work = Workdir::new();
    work.write_config(&sim, 200, "rate_limit_share = 1.0");
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let first = std::fs::read(&work.out).expect("output");
    assert_eq!(ids(&work.out).len(), 1_500);

    // Nothing new: nothing written.
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    assert_eq!(std::fs::read(&work.out).expect("output"), first);

    // New events: only they are appended.
    sim.add_events(40);
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let all = std::fs::read(&work.out).expect("output");
    assert_eq!(&all[..first.len()], &first[..]);
    assert_eq!(ids(&work.out), sim.delivered_order());
    assert_eq!(ids(&work.out).len(), 1_540);
    assert_eq!(work.committed_offset(), all.len() as u64);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_service_app_end_to_end() {
    let (private_pem, public_pem) = ec_p256_key_pair();
    let sim = start_sim(SimConfig {
        oauth: Some(OAuthClientConfig::new("0oa-pipeline-test", public_pem)),
        ..quiet(500)
    })
    .await;
    let work = Workdir::new();
    let key = work.dir.path().join("service-app.pem");
    std::fs::write(&key, &private_pem).expect("key written");
    work.write_config(
        &sim,
        100,
        &format!(
            "rate_limit_share = 1.0\n[source.oauth]\nclient_id = \"0oa-pipeline-test\"\nprivate_key_file = \"{}\"\n",
            key.display()
        ),
    );
    let output = finish(work.run_cmd(None, &["--once"])).await;
    assert_success(&output);
    assert_eq!(ids(&work.out), sim.delivered_order());
    assert_eq!(ids(&work.out).len(), 500);
    let stats = sim.stats();
    assert!(stats.tokens_issued >= 1, "{stats:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let key_body = private_pem.lines().nth(1).expect("PEM body line");
    assert!(!stderr.contains(key_body), "{stderr}");
    sim.shutdown().await;
}

/// A fresh EC P-256 key pair as PEM (PKCS#8 private key, SPKI public key).
fn ec_p256_key_pair() -> (String, String) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::Engine;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key generated");
    let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8 encoding");
    // SubjectPublicKeyInfo of an uncompressed P-256 point.
    const SPKI_PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut spki = SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let pem = |label: &str, der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    };
    (pem("PRIVATE KEY", pkcs8.as_ref()), pem("PUBLIC KEY", &spki))
}

fn published_times(path: &std::path::Path) -> Vec<DateTime<Utc>> {
    std::fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            doc["@timestamp"]
                .as_str()
                .expect("@timestamp")
                .parse()
                .expect("RFC 3339 time")
        })
        .collect()
}

fn newest_published(path: &std::path::Path) -> DateTime<Utc> {
    published_times(path)
        .into_iter()
        .max()
        .expect("at least one event")
}
