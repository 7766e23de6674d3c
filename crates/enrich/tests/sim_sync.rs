//! The sync against the simulator's directory API, joined onto events by the normalizer:
//! the issue's "done when" cases (role grant, department change, deactivation), a restart
//! that does not download the org again, and the profile documents.

use std::sync::Arc;
use std::time::Duration;

use oktaflow_enrich::{EnrichOptions, Enricher, STORE_FILE};
use oktaflow_fetch::{Auth, ClientConfig, OktaClient, OrgUrl, RetryPolicy, Secret};
use oktaflow_normalize::{Normalizer, Options};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use serde_json::Value;

async fn sim() -> SimHandle {
    let config = SimConfig {
        events: 10,
        ..SimConfig::default()
    };
    Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("simulator starts")
}

fn client(sim: &SimHandle) -> Arc<OktaClient> {
    let mut config = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).expect("url"),
        Auth::ApiToken(Secret::new(&sim.config().api_token)),
    );
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
    };
    Arc::new(OktaClient::new(config).expect("client"))
}

fn options() -> EnrichOptions {
    EnrichOptions {
        rate_limit_share: 1.0,
        ..EnrichOptions::default()
    }
}

/// A login of `user` at `published`, normalized to ECS with the current profiles.
fn login(enricher: &Enricher, user: &str, published: &str) -> Value {
    let event = format!(
        r#"{{"uuid":"ev-{user}-{published}","published":"{published}","eventType":"user.session.start",
        "actor":{{"id":"{user}","type":"User","alternateId":"someone@acme.com","displayName":"Someone"}},
        "outcome":{{"result":"SUCCESS"}}}}"#
    );
    let mut normalizer = Normalizer::new(Options {
        profiles: enricher.handle().current(),
        ..Options::default()
    });
    normalizer
        .normalize_value(event.as_bytes())
        .expect("normalizes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_in_okta_show_on_later_events_after_a_refresh() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let enricher =
        Enricher::open(&dir.path().join(STORE_FILE), client(&sim), options()).expect("open");
    let empty = enricher.handle().current().expect("an empty snapshot");
    assert_eq!(
        (empty.version, empty.user_count()),
        (0, 0),
        "nothing before the first sync"
    );
    let first = enricher.refresh().await.expect("first refresh");
    assert_eq!(first.users_read, 600);
    assert_eq!(first.devices_read, 600);
    let ids = sim.directory_user_ids();
    // Not an admin in the generated org (admins are users 0, 37, 74, ...).
    let user = ids[5].as_str();

    let before = login(&enricher, user, "2024-05-01T10:00:00Z");
    let profile = &before["okta"]["profile"]["actor"];
    assert_eq!(profile["known"], true, "{before}");
    assert_eq!(profile["privileged"], false);
    assert!(before["user"].get("roles").is_none());
    let department = profile["department"]
        .as_str()
        .expect("department")
        .to_string();

    // A role grant, a department change and a deactivation in Okta...
    assert!(sim.grant_admin_role(user, "SUPER_ADMIN"));
    assert!(sim.set_user_department(user, "Security"));
    assert!(sim.set_user_status(&ids[6], "DEPROVISIONED"));
    // ...are not there before the next refresh...
    let stale = login(&enricher, user, "2024-05-01T10:01:00Z");
    assert_eq!(stale["okta"]["profile"]["actor"]["department"], department);

    // ...and are after it, read incrementally.
    let second = enricher.refresh().await.expect("second refresh");
    assert_eq!(
        second.users_read, 2,
        "only the changed users are read again"
    );
    assert_eq!(second.devices_read, 0);
    assert!(second.committed.changed_users.contains(&user.to_string()));
    let after = login(&enricher, user, "2024-05-01T10:02:00Z");
    assert_eq!(after["user"]["roles"], serde_json::json!(["SUPER_ADMIN"]));
    let profile = &after["okta"]["profile"]["actor"];
    assert_eq!(profile["privileged"], true);
    assert_eq!(profile["department"], "Security");
    assert_eq!(after["okta"]["enrichment"]["version"], 2);
    let gone = login(&enricher, &ids[6], "2024-05-01T10:03:00Z");
    assert_eq!(gone["okta"]["profile"]["actor"]["status"], "DEPROVISIONED");
    // An unknown user never blocks: the document says so.
    let unknown = login(&enricher, "00unobody", "2024-05-01T10:04:00Z");
    assert_eq!(unknown["okta"]["profile"]["actor"]["known"], false);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_store_and_reads_only_changes() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let enricher =
            Enricher::open(&dir.path().join(STORE_FILE), client(&sim), options()).expect("open");
        enricher.refresh().await.expect("first refresh");
    }
    let users_before = sim.directory_requests("users");
    let devices_before = sim.directory_requests("devices");
    // Restarted: the last snapshot is joined before any request.
    let enricher =
        Enricher::open(&dir.path().join(STORE_FILE), client(&sim), options()).expect("reopen");
    let ids = sim.directory_user_ids();
    let doc = login(&enricher, &ids[1], "2024-05-01T10:00:00Z");
    assert_eq!(doc["okta"]["profile"]["actor"]["known"], true);
    assert_eq!(sim.directory_requests("users"), users_before);
    // The next refresh reads one page of (no) changes per listing, not the org.
    let report = enricher.refresh().await.expect("refresh");
    assert_eq!(report.users_read, 0);
    assert_eq!(report.devices_read, 0);
    assert_eq!(sim.directory_requests("users"), users_before + 1);
    assert_eq!(sim.directory_requests("devices"), devices_before + 1);
    assert!(report.committed.changed_users.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_documents_for_changed_users() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let enricher = Enricher::open(
        &dir.path().join(STORE_FILE),
        client(&sim),
        EnrichOptions {
            devices: false,
            ..options()
        },
    )
    .expect("open");
    enricher.refresh().await.expect("first");
    let user = sim.directory_user_ids()[3].clone();
    sim.set_user_department(&user, "Legal");
    let report = enricher.refresh().await.expect("second");
    let snapshot = enricher.handle().current().expect("snapshot");
    let docs = oktaflow_enrich::profile_documents(&report.committed, &snapshot);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].id, format!("{user}@2"));
    let doc: Value = serde_json::from_str(&docs[0].json).expect("JSON");
    assert_eq!(doc["okta"]["profile"]["department"], "Legal");
    assert_eq!(doc["event"]["dataset"], "okta.users");
    // The same documents appended to the profile stream of the options.
    let stream = dir.path().join("okta-users.ndjson");
    let enricher = {
        drop(enricher);
        Enricher::open(
            &dir.path().join(STORE_FILE),
            client(&sim),
            EnrichOptions {
                devices: false,
                profiles_file: Some(stream.clone()),
                ..options()
            },
        )
        .expect("reopen")
    };
    sim.set_user_department(&user, "Finance");
    enricher.refresh().await.expect("third");
    let lines = std::fs::read_to_string(&stream).expect("stream");
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("\"department\":\"Finance\""), "{lines}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_one_line_naming_it() {
    // An OAuth app granted the System Log and users, but not devices.
    let mut oauth = oktaflow_sim::OAuthClientConfig::new(
        "0oa-enrich",
        include_str!("../../fetch/tests/data/test_rsa_pub.pem"),
    );
    oauth.granted_scopes = vec![
        "okta.logs.read".into(),
        "okta.users.read".into(),
        "okta.groups.read".into(),
        "okta.roles.read".into(),
    ];
    let sim = Simulator::start(
        SimConfig {
            events: 10,
            oauth: Some(oauth),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("simulator starts");
    let scopes: Vec<String> = [
        "okta.logs.read",
        "okta.users.read",
        "okta.groups.read",
        "okta.roles.read",
    ]
    .map(String::from)
    .to_vec();
    let mut config = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).expect("url"),
        Auth::OAuth {
            client_id: "0oa-enrich".into(),
            private_key: Secret::new(include_str!("../../fetch/tests/data/test_rsa_key.pem")),
            key_id: None,
            scopes,
        },
    );
    config.request_timeout = Duration::from_secs(5);
    let client = Arc::new(OktaClient::new(config).expect("client"));
    let checks = oktaflow_enrich::probe(&client, &options()).await;
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|c| c.outcome.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(checks.len(), 4);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("okta.devices.read"), "{}", failed[0]);
    assert!(!failed[0].contains('\n'));
    // The refresh fails the same way; the store keeps its last snapshot.
    let dir = tempfile::tempdir().expect("tempdir");
    let enricher = Enricher::open(&dir.path().join(STORE_FILE), client, options()).expect("open");
    let error = enricher.refresh().await.expect_err("devices are refused");
    assert!(error.to_string().contains("okta.devices.read"), "{error}");
    sim.shutdown().await;
}

/// A login from `device` by `user`, normalized with the current profiles.
fn login_from(enricher: &Enricher, user: &str, device: &str) -> Value {
    let event = serde_json::json!({
        "uuid": format!("e-{user}-{device}"),
        "published": "2024-05-01T10:00:00Z",
        "eventType": "user.session.start",
        "actor": {"id": user, "type": "User", "alternateId": "someone@example.com"},
        "device": {"id": device},
        "outcome": {"result": "SUCCESS"},
    })
    .to_string();
    let mut normalizer = oktaflow_normalize::Normalizer::default();
    normalizer.set_profiles(enricher.handle().current());
    normalizer
        .normalize_value(event.as_bytes())
        .expect("normalizes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resync_drops_deleted_users_and_devices_and_keeps_deactivated_ones() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(STORE_FILE);
    let enricher = Enricher::open(&path, client(&sim), options()).expect("open");
    let first = enricher.refresh().await.expect("first refresh");
    assert!(first.full, "the first pull reads everything");
    let users = sim.directory_user_ids();
    let devices = sim.directory_device_ids();
    let (deleted, deactivated) = (users[7].clone(), users[8].clone());
    // An admin (users 0, 37, 74, ... hold roles) and a member of groups, deleted in Okta.
    let deleted_admin = users[37].clone();
    assert_eq!(
        login_from(&enricher, &deleted_admin, &devices[9])["okta"]["profile"]["actor"]
            ["privileged"],
        true
    );
    assert!(sim.set_user_status(&deactivated, "DEPROVISIONED"));
    assert!(sim.set_user_status(&deleted, "DEPROVISIONED"));
    assert!(sim.delete_user(&deleted));
    assert!(sim.delete_user(&deleted_admin));
    assert!(sim.delete_device(&devices[9]));

    // An incremental refresh cannot see a deletion (Okta lists none): the deleted user keeps
    // its last known profile (the deactivation before the deletion is not listed either).
    let incremental = enricher.refresh().await.expect("incremental refresh");
    assert!(!incremental.full);
    assert!(incremental.committed.removed_users.is_empty());
    assert_eq!(
        login_from(&enricher, &deleted, &devices[9])["okta"]["profile"]["actor"]["known"],
        true
    );

    // The full resync (due after `full_resync`; a zero period makes every refresh one)
    // removes them, and keeps the deactivated user with its status.
    drop(enricher);
    let enricher = Enricher::open(
        &path,
        client(&sim),
        EnrichOptions {
            full_resync: Duration::ZERO,
            ..options()
        },
    )
    .expect("reopen");
    let full = enricher.refresh().await.expect("full refresh");
    assert!(full.full);
    assert_eq!(full.users_read, 598, "every user but the two deleted");
    assert_eq!(full.devices_read, 599);
    let mut removed = vec![deleted.clone(), deleted_admin.clone()];
    removed.sort();
    assert_eq!(full.committed.removed_users, removed);
    assert_eq!(full.committed.removed_devices, vec![devices[9].clone()]);
    let store = enricher.store();
    assert!(store.user(&deleted).expect("read").is_none());
    assert_eq!(store.counts().expect("counts"), (598, 599));

    let doc = login_from(&enricher, &deleted, &devices[9]);
    assert_eq!(
        doc["okta"]["profile"]["actor"],
        serde_json::json!({"known": false})
    );
    assert_eq!(
        doc["okta"]["profile"]["device"],
        serde_json::json!({"known": false})
    );
    let doc = login_from(&enricher, &deleted_admin, &devices[10]);
    assert_eq!(doc["okta"]["profile"]["actor"]["known"], false);
    assert!(doc["user"].get("roles").is_none(), "{doc}");
    let doc = login_from(&enricher, &deactivated, &devices[10]);
    assert_eq!(doc["okta"]["profile"]["actor"]["known"], true);
    assert_eq!(doc["okta"]["profile"]["actor"]["status"], "DEPROVISIONED");
    assert_eq!(doc["okta"]["profile"]["device"]["known"], true);

    // Nothing deleted since: the next full pull removes nothing.
    let again = enricher.refresh().await.expect("full refresh again");
    assert!(again.full && again.committed.removed_users.is_empty());
    assert!(again.committed.removed_devices.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_directory_gets_at_most_its_share_while_logs_keep_polling() {
    // Every directory endpoint allows 600 requests a minute; at the default share (20 %) the
    // sync may send 120 a minute, 0.5 s apart. Counted by the simulator on its own clock: in
    // any 3 s, at most 6 requests of one endpoint (+2 for requests that a loaded machine
    // delivers closer together than they were sent). Unpaced, the 17 admin-role reads
    // (`roles`) and the group member reads (`groups`) would arrive within a fraction of a
    // second. A load can only delay requests, so the bound does not flake.
    const LIMIT: u32 = 600;
    let sim = Simulator::start(
        SimConfig {
            events: 10,
            directory_rate_limit_per_minute: Some(LIMIT),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let enricher = Enricher::open(
        &dir.path().join(STORE_FILE),
        client(&sim),
        EnrichOptions {
            devices: false,
            ..EnrichOptions::default()
        },
    )
    .expect("open");
    assert_eq!(enricher.options().rate_limit_share, 0.2);

    // Log polling meanwhile, through its own client and pacer.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (stop, logs) = (Arc::clone(&stop), client(&sim));
        tokio::spawn(async move {
            let mut polls = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let request = oktaflow_fetch::PageRequest::Start {
                    since: chrono::Utc::now() - chrono::Duration::hours(1),
                    until: None,
                };
                logs.fetch(&request).await.expect("log page");
                polls += 1;
            }
            polls
        })
    };
    let report = enricher.refresh().await.expect("refresh");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let polls = poller.await.expect("poller");

    let window = Duration::from_secs(3);
    let allowed = (0.2 * f64::from(LIMIT) * 3.0 / 60.0) as usize + 2;
    let mut counted = 0;
    for family in ["users", "roles", "groups", "iam"] {
        let peak = sim.peak_within(family, window);
        assert!(
            peak <= allowed,
            "{family}: {peak} requests within 3 s, the share allows {allowed}"
        );
        counted += sim.directory_requests(family);
        // The simulator's own 60 s windows never came near the limit (no 429).
        assert!(sim.directory_peak_per_window(family) <= LIMIT / 5 + 1);
    }
    assert_eq!(counted, report.requests, "every request counted");
    let busiest = ["users", "roles", "groups", "iam"]
        .map(|f| (sim.directory_requests(f), f))
        .into_iter()
        .max()
        .expect("families");
    assert!(
        busiest.0 > allowed as u64,
        "enough requests of one endpoint to exceed the bound when unpaced: {busiest:?}"
    );
    // Log polling kept going while the sync ran: System Log requests arrived between the
    // sync's first and last request, interleaved with it (never held behind the sync).
    let order = sim.arrival_order();
    let first = order
        .iter()
        .position(|f| *f != "logs")
        .expect("a directory request");
    let last = order
        .iter()
        .rposition(|f| *f != "logs")
        .expect("a directory request");
    let during = order[first..last].iter().filter(|f| **f == "logs").count();
    let directory = order[first..=last].iter().filter(|f| **f != "logs").count();
    assert!(
        during >= directory,
        "only {during} log requests during {directory} directory requests ({polls} polls in all)"
    );
    sim.shutdown().await;
}
