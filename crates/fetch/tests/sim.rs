//! The fetch crate against the Okta API simulator: pagination, faults, rate limits, auth,
//! backfill and resume.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use oktaflow_fetch::{
    Auth, ClientConfig, FetchError, FetchErrorKind, LogSource, OrgUrl, Page, RetryPolicy, Secret,
    SourceOptions, SourceState, StartPoint,
};
use oktaflow_sim::{FaultKinds, OAuthClientConfig, SimConfig, SimHandle, Simulator};

const TOKEN: &str = "sim-SECRET-token-4f2a9c";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_sim(config: SimConfig) -> SimHandle {
    let config = SimConfig {
        api_token: TOKEN.to_string(),
        ..config
    };
    Simulator::start(config, loopback())
        .await
        .expect("simulator starts")
}

/// A quiet org: no late events, a generous rate limit.
fn quiet(events: usize) -> SimConfig {
    SimConfig {
        events,
        late_fraction: 0.0,
        rate_limit_per_minute: Some(60_000),
        ..SimConfig::default()
    }
}

fn client(sim: &SimHandle, auth: Auth, page_size: u32) -> ClientConfig {
    let org = OrgUrl::from_base_url(&sim.base_url()).expect("loopback base URL");
    let mut config = ClientConfig::new(org, auth);
    config.page_size = page_size;
    config.rate_limit_share = 1.0;
    config.request_timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(200),
    };
    config
}

fn token_client(sim: &SimHandle, page_size: u32) -> ClientConfig {
    client(sim, Auth::ApiToken(Secret::new(TOKEN)), page_size)
}

fn start_of(sim: &SimHandle) -> DateTime<Utc> {
    sim.oldest_published().expect("the simulator has events") - TimeDelta::seconds(1)
}

fn options(k: usize) -> SourceOptions {
    SourceOptions {
        poll_interval: Duration::from_secs(10),
        backfill_concurrency: k,
        ..SourceOptions::default()
    }
}

fn uuids(page: &Page) -> Vec<String> {
    page.events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(e.as_bytes()).expect("event JSON");
            v["uuid"].as_str().expect("uuid").to_string()
        })
        .collect()
}

/// Pages until caught up; returns the uuids in delivery order and the last state.
async fn drain(source: &mut LogSource) -> (Vec<String>, SourceState) {
    let mut all = Vec::new();
    loop {
        let page = source.next_page().await.expect("no halt");
        all.extend(uuids(&page));
        if page.caught_up {
            return (all, page.state_after);
        }
    }
}

fn assert_no_duplicates(ids: &[String]) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicates delivered");
}

#[tokio::test]
async fn polling_delivers_every_event_once_in_order() {
    let sim = start_sim(quiet(2_500)).await;
    let mut source = LogSource::new(
        token_client(&sim, 200),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let (ids, state) = drain(&mut source).await;
    assert_eq!(ids, sim.delivered_order());
    assert!(
        state
            .next
            .as_deref()
            .is_some_and(|n| n.starts_with("/api/v1/logs?")),
        "{state:?}"
    );
    assert!(state.backfill.is_none());
    let stats = source.stats().snapshot();
    assert_eq!(stats.events, 2_500);
    assert_eq!(stats.by_status.get(&200).copied(), Some(stats.requests));
    // New events after catching up come on the next poll, from the cursor.
    sim.add_events(7);
    let page = tokio::time::timeout(Duration::from_secs(30), source.next_page())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(uuids(&page).len(), 7);
    assert!(page.caught_up);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_at_ten_percent_lose_and_duplicate_nothing() {
    let faults = FaultKinds {
        slow_delay: Duration::from_secs(4),
        ..FaultKinds::default()
    };
    let sim = start_sim(SimConfig {
        fault_rate: 0.1,
        faults,
        seed: 11,
        ..quiet(3_000)
    })
    .await;
    let mut source = LogSource::new(
        token_client(&sim, 50),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let (ids, _) = drain(&mut source).await;
    assert_eq!(ids, sim.delivered_order());
    let stats = source.stats().snapshot();
    let injected = sim.stats().faults_injected();
    eprintln!("faults: injected {injected}, client {stats:?}");
    assert!(injected > 0, "the simulator injected faults");
    assert!(
        stats.retries >= injected,
        "every fault was retried: {stats:?} vs {injected}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_token_halts_with_an_actionable_message() {
    let sim = start_sim(quiet(10)).await;
    let config = client(&sim, Auth::ApiToken(Secret::new("wrong-token")), 100);
    let mut source = LogSource::new(config, StartPoint::Since(start_of(&sim)), options(1)).unwrap();
    let error = source.next_page().await.unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::Unauthorized);
    assert!(error.is_halt());
    let label = sim.local_addr().to_string();
    assert_eq!(
        error.to_string(),
        format!("authentication failed for {label} (HTTP 401) — check OKTA_API_TOKEN (or api_token / api_token_file)")
    );
    assert_eq!(source.stats().snapshot().requests, 1, "no retry on 401");
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_domain_halts_with_404() {
    let sim = start_sim(SimConfig {
        expected_host: Some("acme.okta.com".into()),
        ..quiet(10)
    })
    .await;
    let mut source = LogSource::new(
        token_client(&sim, 100),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let error = source.next_page().await.unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::NotFound);
    assert!(
        error
            .to_string()
            .contains("(HTTP 404) — check the Okta domain"),
        "{error}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unresolvable_domain_halts_on_first_request() {
    let org = OrgUrl::from_domain("oktaflow-test.invalid").unwrap();
    let mut config = ClientConfig::new(org, Auth::ApiToken(Secret::new(TOKEN)));
    config.request_timeout = Duration::from_secs(5);
    let mut source = LogSource::new(config, StartPoint::Since(Utc::now()), options(1)).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), source.next_page()).await;
    let error = result
        .expect("DNS failure is reported, not retried forever")
        .unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::Unresolvable, "{error}");
    assert!(
        error
            .to_string()
            .starts_with("cannot resolve oktaflow-test.invalid — check the Okta domain"),
        "{error}"
    );
}

fn oauth_sim(events: usize, key: &str) -> SimConfig {
    SimConfig {
        oauth: Some(OAuthClientConfig::new("0oa-test-client", key)),
        ..quiet(events)
    }
}

#[tokio::test]
async fn oauth_private_key_jwt_flow_rsa_and_ec() {
    for (private, public) in [
        (
            include_str!("data/test_rsa_key.pem"),
            include_str!("data/test_rsa_pub.pem"),
        ),
        (
            include_str!("data/test_ec_p256_key.pem"),
            include_str!("data/test_ec_p256_pub.pem"),
        ),
    ] {
        let sim = start_sim(oauth_sim(1_200, public)).await;
        let auth = Auth::OAuth {
            client_id: "0oa-test-client".into(),
            private_key: Secret::new(private),
            key_id: None,
            scopes: Vec::new(),
        };
        let mut source = LogSource::new(
            client(&sim, auth, 250),
            StartPoint::Since(start_of(&sim)),
            options(1),
        )
        .unwrap();
        let (ids, _) = drain(&mut source).await;
        assert_eq!(ids, sim.delivered_order());
        let stats = source.stats().snapshot();
        assert_eq!(
            stats.token_requests, 1,
            "the access token is cached: {stats:?}"
        );
        assert_eq!(sim.stats().tokens_issued, 1);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn oauth_unknown_client_halts() {
    let sim = start_sim(oauth_sim(10, include_str!("data/test_rsa_pub.pem"))).await;
    let auth = Auth::OAuth {
        client_id: "0oa-someone-else".into(),
        private_key: Secret::new(include_str!("data/test_rsa_key.pem")),
        key_id: None,
        scopes: Vec::new(),
    };
    let mut source = LogSource::new(
        client(&sim, auth, 100),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let error = source.next_page().await.unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::OAuth, "{error}");
    assert!(error.is_halt());
    assert!(
        error
            .to_string()
            .contains("check the service app's client_id"),
        "{error}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn backfill_with_four_workers_delivers_the_same_set_as_polling() {
    // 5 % of events become visible 2 minutes after their `published` (all visible by now).
    let config = SimConfig {
        events: 6_000,
        late_fraction: 0.05,
        backlog_end: Some(Utc::now() - TimeDelta::minutes(5)),
        rate_limit_per_minute: Some(60_000),
        seed: 5,
        ..SimConfig::default()
    };
    let sim = start_sim(config).await;
    let start = start_of(&sim);
    let mut k1 = LogSource::new(
        token_client(&sim, 300),
        StartPoint::Since(start),
        options(1),
    )
    .unwrap();
    let (polled, _) = drain(&mut k1).await;
    assert_eq!(polled, sim.delivered_order());

    let mut k4 = LogSource::new(
        token_client(&sim, 300),
        StartPoint::Since(start),
        options(4),
    )
    .unwrap();
    assert!(k4.state().is_backfilling());
    let first = k4.next_page().await.unwrap();
    let mut backfilled = uuids(&first);
    // Live events arrive while the backfill runs; polling after it picks them up.
    sim.add_events(50);
    let (rest, state) = drain(&mut k4).await;
    backfilled.extend(rest);
    assert!(
        state.backfill.is_none(),
        "the backfill finished and polling took over"
    );
    assert_no_duplicates(&backfilled);
    let expected: HashSet<String> = sim.delivered_order().into_iter().collect();
    let backfilled_set: HashSet<String> = backfilled.iter().cloned().collect();
    assert_eq!(
        backfilled_set, expected,
        "K=4 delivered exactly the org's events"
    );
    let polled_set: HashSet<String> = polled.into_iter().collect();
    assert_eq!(backfilled_set.difference(&polled_set).count(), 50);
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_from_a_saved_state_continues_exactly() {
    for k in [1, 3] {
        let sim = start_sim(quiet(4_000)).await;
        let start = start_of(&sim);
        let mut first = LogSource::new(
            token_client(&sim, 150),
            StartPoint::Since(start),
            options(k),
        )
        .unwrap();
        let mut delivered = Vec::new();
        let mut saved = None;
        for _ in 0..7 {
            let page = first.next_page().await.unwrap();
            delivered.extend(uuids(&page));
            // Round-trip the state through JSON, as the checkpoint does.
            let json = serde_json::to_string(&page.state_after).unwrap();
            saved = Some(serde_json::from_str::<SourceState>(&json).unwrap());
        }
        // A page fetched but never made durable is lost with the process.
        let _lost = first.next_page().await.unwrap();
        drop(first);
        let mut second = LogSource::new(
            token_client(&sim, 150),
            StartPoint::Resume(saved.unwrap()),
            options(k),
        )
        .unwrap();
        let (rest, _) = drain(&mut second).await;
        delivered.extend(rest);
        assert_no_duplicates(&delivered);
        if k == 1 {
            assert_eq!(delivered, sim.delivered_order(), "K=1 resumes in order");
        } else {
            let expected: HashSet<String> = sim.delivered_order().into_iter().collect();
            assert_eq!(
                delivered.iter().cloned().collect::<HashSet<_>>(),
                expected,
                "K={k}"
            );
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn resume_refuses_another_orgs_state() {
    let sim = start_sim(quiet(10)).await;
    let state = SourceState::polling("acme.okta.com", Utc::now());
    let error = LogSource::new(
        token_client(&sim, 100),
        StartPoint::Resume(state),
        options(1),
    )
    .unwrap_err();
    assert!(matches!(error, FetchError::Config(_)));
    assert!(
        error.to_string().contains("belongs to acme.okta.com"),
        "{error}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelled_next_page_loses_nothing() {
    let sim = start_sim(SimConfig {
        page_latency: Duration::from_millis(50),
        ..quiet(900)
    })
    .await;
    let mut source = LogSource::new(
        token_client(&sim, 100),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let mut ids = Vec::new();
    let mut cancelled = 0;
    loop {
        // Alternate: cancel one call mid-flight, then let the next one finish.
        if cancelled < 5
            && tokio::time::timeout(Duration::from_millis(10), source.next_page())
                .await
                .is_err()
        {
            cancelled += 1;
        }
        let page = source.next_page().await.unwrap();
        ids.extend(uuids(&page));
        if page.caught_up {
            break;
        }
    }
    assert!(cancelled > 0);
    assert_eq!(ids, sim.delivered_order());
    sim.shutdown().await;
}

/// A minute-long window whose budget other integrations burn fast: oktaflow backs off to the
/// window reset instead of hammering 429s.
#[tokio::test]
async fn rate_limit_storm_is_met_with_few_429s() {
    let sim = start_sim(SimConfig {
        rate_limit_per_minute: Some(600),
        other_integrations_per_minute: 6_000,
        ..quiet(3_000)
    })
    .await;
    let mut config = token_client(&sim, 100);
    config.rate_limit_share = 0.5;
    let mut source = LogSource::new(config, StartPoint::Since(start_of(&sim)), options(1)).unwrap();
    let (ids, _) = tokio::time::timeout(Duration::from_secs(150), drain(&mut source))
        .await
        .expect("finishes");
    assert_eq!(ids, sim.delivered_order());
    let stats = source.stats().snapshot();
    let served_429 = sim.stats().rate_limited;
    eprintln!("storm: {stats:?}; simulator: {:?}", sim.stats());
    assert!(stats.rate_limited <= 2, "few 429s: {stats:?}");
    assert_eq!(stats.rate_limited, served_429);
    sim.shutdown().await;
}

/// Issue 15, point 4: a checkpoint taken with `limit=100` and resumed with `page_size` 1000
/// drains everything in one `--once`-style run (the resumed cursor follows the page size).
#[tokio::test]
async fn resume_after_a_page_size_change_drains_everything() {
    let sim = start_sim(quiet(5_000)).await;
    let mut first = LogSource::new(
        token_client(&sim, 100),
        StartPoint::Since(start_of(&sim)),
        options(1),
    )
    .unwrap();
    let mut delivered = Vec::new();
    let mut saved = None;
    for _ in 0..3 {
        let page = first.next_page().await.unwrap();
        delivered.extend(uuids(&page));
        let json = serde_json::to_string(&page.state_after).unwrap();
        saved = Some(serde_json::from_str::<SourceState>(&json).unwrap());
    }
    drop(first);
    let saved = saved.unwrap();
    assert!(
        saved
            .next
            .as_deref()
            .is_some_and(|n| n.contains("limit=100")),
        "{saved:?}"
    );
    let mut second = LogSource::new(
        token_client(&sim, 1000),
        StartPoint::Resume(saved),
        options(1),
    )
    .unwrap();
    let (rest, state) = drain(&mut second).await;
    delivered.extend(rest);
    assert_eq!(delivered.len(), 5_000, "one drain fetched every event");
    assert_eq!(delivered, sim.delivered_order());
    assert!(
        state
            .next
            .as_deref()
            .is_some_and(|n| n.contains("limit=1000")),
        "{state:?}"
    );
    // 4,700 events at 1000 per page: 5 pages, not 47.
    assert!(
        second.stats().snapshot().pages <= 6,
        "{:?}",
        second.stats().snapshot()
    );
    sim.shutdown().await;
}
