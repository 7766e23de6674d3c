//! Pagination, late events, bounded queries, validation and determinism.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use common::{client, drain, get, link, page_events, start, start_url};
use oktaflow_sim::SimConfig;

fn published(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("published parses")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn polling_with_since_and_after_delivers_every_event_exactly_once_in_visibility_order() {
    let config = SimConfig {
        seed: 11,
        events: 2_500,
        late_fraction: 0.1,
        late_delay: Duration::from_secs(1800),
        backlog_end: Some(Utc::now() - chrono::Duration::hours(1)),
        ..SimConfig::default()
    };
    let sim = start(config).await;
    assert_eq!(sim.pending_events(), 0);
    let client = client();
    for limit in [1000, 333] {
        let (events, last_next) = drain(&client, &sim, start_url(&sim, limit)).await;
        let uuids: Vec<String> = events.iter().map(|(u, _)| u.clone()).collect();
        assert_eq!(uuids.len(), 2_500);
        assert_eq!(
            uuids.iter().collect::<HashSet<_>>().len(),
            2_500,
            "no duplicates"
        );
        assert_eq!(
            uuids,
            sim.delivered_order(),
            "the cursor walks the visibility order"
        );
        // Late events make the visibility order differ from published order.
        let out_of_order = events
            .windows(2)
            .filter(|w| published(&w[1].1) < published(&w[0].1))
            .count();
        assert!(
            out_of_order > 0,
            "late events appear after later-published ones"
        );
        // The empty page's next link is still usable and still empty.
        let response = get(&client, &sim, &last_next).await;
        assert_eq!(response.status(), 200);
        assert!(link(response.headers(), "next").is_some());
        assert!(link(response.headers(), "self").is_some());
        assert!(page_events(&response.bytes().await.expect("body")).is_empty());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn late_events_arrive_after_the_cursor_and_a_published_time_resume_loses_them() {
    let config = SimConfig {
        seed: 5,
        events: 400,
        backlog_span: Duration::from_secs(3600),
        late_fraction: 0.5,
        late_delay: Duration::from_secs(3000),
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let client = client();
    let (first, next) = drain(&client, &sim, start_url(&sim, 1000)).await;
    let max_published = first
        .iter()
        .map(|(_, p)| published(p))
        .max()
        .expect("backlog delivered");

    sim.add_events(40);
    let added: Vec<String> = sim.delivered_order().split_off(first.len());
    assert_eq!(added.len(), 40);

    // A cursor follower gets every new event, late ones included.
    let (after_cursor, _) = drain(&client, &sim, next).await;
    let late: Vec<&(String, String)> = after_cursor
        .iter()
        .filter(|(_, p)| published(p) < max_published)
        .collect();
    assert_eq!(
        after_cursor
            .iter()
            .map(|(u, _)| u.clone())
            .collect::<Vec<_>>(),
        added
    );
    assert!(
        !late.is_empty(),
        "some new events were published before the last one already delivered"
    );

    // A collector resuming from the last published time misses them.
    let since = max_published.to_rfc3339_opts(SecondsFormat::Millis, true);
    let url = format!("{}/api/v1/logs?since={since}&limit=1000", sim.base_url());
    let (resumed, _) = drain(&client, &sim, url).await;
    let resumed: HashSet<String> = resumed.into_iter().map(|(u, _)| u).collect();
    assert!(late.iter().all(|(u, _)| !resumed.contains(u)));
    sim.shutdown().await;
}

#[tokio::test]
async fn bounded_queries_return_the_window_in_published_order_and_end() {
    let end = Utc::now() - chrono::Duration::minutes(5);
    let config = SimConfig {
        seed: 3,
        events: 1_200,
        backlog_end: Some(end),
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let client = client();
    let since = end - chrono::Duration::hours(12);
    let until = end - chrono::Duration::hours(6);
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut url = Some(format!(
        "{}/api/v1/logs?since={}&until={}&limit=200",
        sim.base_url(),
        fmt(since),
        fmt(until)
    ));
    let mut events = Vec::new();
    let mut pages = 0;
    while let Some(u) = url.take() {
        let response = get(&client, &sim, &u).await;
        assert_eq!(response.status(), 200);
        url = link(response.headers(), "next");
        events.extend(page_events(&response.bytes().await.expect("body")));
        pages += 1;
        assert!(pages < 100, "bounded pagination ends");
    }
    // A quarter of the 24 h backlog lies in the 6 h window.
    assert!(
        (250..=350).contains(&events.len()),
        "{} events in the window",
        events.len()
    );
    let expected = sim.delivered_order().len() as f64 * 0.25;
    assert!((events.len() as f64 - expected).abs() < 50.0);
    let keys: Vec<(DateTime<Utc>, String)> = events
        .iter()
        .map(|(u, p)| (published(p), u.clone()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ordered by (published, uuid), no repeats"
    );
    assert!(keys.iter().all(|(p, _)| *p >= since && *p < until));
    sim.shutdown().await;
}

#[tokio::test]
async fn default_limit_and_okta_validation_errors() {
    let sim = start(SimConfig {
        events: 300,
        ..SimConfig::default()
    })
    .await;
    let client = client();
    let base = format!("{}/api/v1/logs", sim.base_url());
    let response = get(&client, &sim, &base).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        response.headers().get("x-rate-limit-limit").is_none(),
        "no limit configured, no headers"
    );
    assert_eq!(
        page_events(&response.bytes().await.expect("body")).len(),
        100
    );

    for (query, code) in [
        ("limit=1001", "E0000001"),
        ("limit=0", "E0000001"),
        ("limit=ten", "E0000001"),
        ("since=yesterday", "E0000030"),
        ("until=2024-13-01T00:00:00Z", "E0000030"),
        (
            "since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z",
            "E0000001",
        ),
        ("after=forged-cursor", "E0000001"),
        ("sortOrder=DESCENDING", "E0000001"),
    ] {
        let response = get(&client, &sim, &format!("{base}?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.expect("error body is JSON");
        assert_eq!(body["errorCode"], code, "{query}");
        for field in ["errorSummary", "errorLink", "errorId"] {
            assert!(
                body[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} in {body}"
            );
        }
        assert!(body["errorCauses"].is_array());
    }
    // A bounded cursor is refused in a polling query.
    let bounded = format!("{base}?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&limit=10");
    let response = get(&client, &sim, &bounded).await;
    let next = link(response.headers(), "next").expect("more remain");
    let cursor = next
        .split("after=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("after param");
    let response = get(&client, &sim, &format!("{base}?after={cursor}")).await;
    assert_eq!(response.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_pages_other_seed_other_events() {
    let end = Some(Utc::now() - chrono::Duration::hours(2));
    let config = |seed| SimConfig {
        seed,
        events: 500,
        backlog_end: end,
        ..SimConfig::default()
    };
    let (a, b, c) = (
        start(config(9)).await,
        start(config(9)).await,
        start(config(10)).await,
    );
    let client = client();
    let page = |sim: &oktaflow_sim::SimHandle| {
        format!(
            "{}/api/v1/logs?since=2000-01-01T00:00:00Z&limit=1000",
            sim.base_url()
        )
    };
    let body_a = get(&client, &a, &page(&a))
        .await
        .bytes()
        .await
        .expect("body");
    let body_b = get(&client, &b, &page(&b))
        .await
        .bytes()
        .await
        .expect("body");
    let body_c = get(&client, &c, &page(&c))
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(body_a, body_b);
    assert_ne!(body_a, body_c);
    assert_eq!(a.delivered_order(), b.delivered_order());
    let uuids_a: HashSet<String> = a.delivered_order().into_iter().collect();
    assert!(c.delivered_order().iter().all(|u| !uuids_a.contains(u)));
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_host_gets_404_like_a_wrong_okta_domain() {
    let sim = start(SimConfig {
        events: 10,
        expected_host: Some("acme.okta.com".into()),
        ..SimConfig::default()
    })
    .await;
    let client = client();
    let url = format!("{}/api/v1/logs", sim.base_url());
    let response = get(&client, &sim, &url).await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["errorCode"], "E0000007");
    let response = client
        .get(&url)
        .header("Host", "acme.okta.com")
        .header("Authorization", format!("SSWS {}", sim.config().api_token))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let next = link(response.headers(), "next").expect("next");
    assert!(
        next.starts_with("http://acme.okta.com/api/v1/logs?after="),
        "links use the org's host: {next}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn live_events_are_added_while_running() {
    let sim = start(SimConfig {
        events: 10,
        live_events_per_sec: 200.0,
        late_fraction: 0.0,
        ..SimConfig::default()
    })
    .await;
    let before = sim.visible_events();
    let mut after = before;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = sim.visible_events();
        if after >= before + 20 {
            break;
        }
    }
    assert!(
        after >= before + 20,
        "live events appear ({before} -> {after})"
    );
    sim.shutdown().await;
}
