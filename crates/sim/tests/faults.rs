//! Rate limiting and fault injection, observed with a real HTTP client.

mod common;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{client, get, link, page_events, start, start_url};
use oktaflow_sim::{FaultKind, FaultKinds, SimConfig, SimHandle};

fn header_u64(response: &reqwest::Response, name: &str) -> u64 {
    response.headers()[name]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("integer header")
}

#[tokio::test]
async fn rate_limit_headers_count_down_then_429() {
    let sim = start(SimConfig {
        events: 50,
        rate_limit_per_minute: Some(5),
        ..SimConfig::default()
    })
    .await;
    let client = client();
    let url = format!("{}/api/v1/logs?limit=10", sim.base_url());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut resets = HashSet::new();
    for expected_remaining in (0..5).rev() {
        let response = get(&client, &sim, &url).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header_u64(&response, "x-rate-limit-limit"), 5);
        assert_eq!(
            header_u64(&response, "x-rate-limit-remaining"),
            expected_remaining
        );
        resets.insert(header_u64(&response, "x-rate-limit-reset"));
    }
    let response = get(&client, &sim, &url).await;
    assert_eq!(response.status(), 429);
    assert_eq!(header_u64(&response, "x-rate-limit-remaining"), 0);
    let reset = header_u64(&response, "x-rate-limit-reset");
    assert!(resets.len() == 1 && resets.contains(&reset), "one window");
    assert!(
        reset > now && reset <= now + 61,
        "reset is the window end in epoch seconds"
    );
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["errorCode"], "E0000047");
    assert_eq!(
        body["errorSummary"],
        "API call exceeded rate limit due to too many requests."
    );
    assert_eq!(sim.stats().rate_limited, 1);
    sim.shutdown().await;
}

async fn faulty(kind: FaultKind) -> SimHandle {
    let mut faults = FaultKinds::only(kind);
    faults.slow_delay = Duration::from_secs(3);
    start(SimConfig {
        events: 50,
        fault_rate: 1.0,
        faults,
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn server_errors_carry_okta_error_bodies() {
    for (kind, status, code) in [
        (FaultKind::InternalError, 500, "E0000009"),
        (FaultKind::ServiceUnavailable, 503, "E0000010"),
    ] {
        let sim = faulty(kind).await;
        let response = get(&client(), &sim, &format!("{}/api/v1/logs", sim.base_url())).await;
        assert_eq!(response.status(), status);
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["errorCode"], code);
        assert_eq!(sim.stats().faults.get(&kind), Some(&1));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn dropped_connection_gives_no_response() {
    let sim = faulty(FaultKind::DropConnection).await;
    let result = client()
        .get(format!("{}/api/v1/logs", sim.base_url()))
        .header("Authorization", format!("SSWS {}", sim.config().api_token))
        .send()
        .await;
    let error = result.expect_err("the connection closes without a response");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    assert_eq!(sim.stats().faults.get(&FaultKind::DropConnection), Some(&1));
    assert!(sim.stats().by_status.is_empty(), "no response was sent");
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_response_outlasts_a_client_timeout() {
    let sim = faulty(FaultKind::SlowResponse).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let error = client
        .get(format!("{}/api/v1/logs", sim.base_url()))
        .header("Authorization", format!("SSWS {}", sim.config().api_token))
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout(), "{error:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_body_fails_while_reading() {
    let sim = faulty(FaultKind::TruncatedBody).await;
    let response = get(
        &client(),
        &sim,
        &format!("{}/api/v1/logs?limit=20", sim.base_url()),
    )
    .await;
    assert_eq!(response.status(), 200, "status and headers arrive");
    let promised: usize = response.headers()["content-length"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!(promised > 1000);
    assert!(response.bytes().await.is_err(), "the body is cut short");
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_never_lose_or_duplicate_events_for_a_retrying_cursor_follower() {
    let faults = FaultKinds {
        slow_response: false,
        ..FaultKinds::default()
    };
    let sim = start(SimConfig {
        seed: 21,
        events: 1_500,
        fault_rate: 0.4,
        faults,
        ..SimConfig::default()
    })
    .await;
    let client = client();
    let mut url = start_url(&sim, 50);
    let mut delivered = Vec::new();
    let mut failures = 0;
    for _ in 0..500 {
        let attempt = client
            .get(&url)
            .header("Authorization", format!("SSWS {}", sim.config().api_token))
            .send()
            .await;
        let Ok(response) = attempt else {
            failures += 1;
            continue;
        };
        if response.status() != 200 {
            failures += 1;
            continue;
        }
        let Some(next) = link(response.headers(), "next") else {
            panic!("polling page without next")
        };
        let Ok(body) = response.bytes().await else {
            failures += 1;
            continue;
        };
        let events = page_events(&body);
        if events.is_empty() {
            break;
        }
        delivered.extend(events.into_iter().map(|(u, _)| u));
        url = next;
    }
    assert!(failures > 0, "faults were injected");
    assert_eq!(
        delivered,
        sim.delivered_order(),
        "retrying the same URL loses and repeats nothing"
    );
    let stats = sim.stats();
    assert_eq!(stats.faults_injected(), failures);
    assert!(
        stats.faults.len() >= 3,
        "several kinds drawn: {:?}",
        stats.faults
    );
    sim.shutdown().await;
}
