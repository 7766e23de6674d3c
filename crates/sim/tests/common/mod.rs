//! Helpers shared by the integration tests.
#![allow(dead_code)]

use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use reqwest::header::HeaderMap;

/// Starts a simulator on a free loopback port.
pub async fn start(config: SimConfig) -> SimHandle {
    let addr = "127.0.0.1:0".parse().expect("loopback literal");
    Simulator::start(config, addr)
        .await
        .expect("simulator starts")
}

/// A client that never reuses connections (a dropped connection must not hide a retry).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client builds")
}

/// `GET url` with the simulator's SSWS token.
pub async fn get(client: &reqwest::Client, sim: &SimHandle, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("Authorization", format!("SSWS {}", sim.config().api_token))
        .send()
        .await
        .expect("request succeeds")
}

/// The URL of the `Link` header with relation `rel`.
pub fn link(headers: &HeaderMap, rel: &str) -> Option<String> {
    let wanted = format!("rel=\"{rel}\"");
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains(&wanted))
        .and_then(|v| v.split_once('<'))
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(url, _)| url.to_string())
}

/// The uuids (and published times) of a page body.
pub fn page_events(body: &[u8]) -> Vec<(String, String)> {
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(body).expect("page is a JSON array");
    events
        .iter()
        .map(|e| {
            (
                e["uuid"].as_str().expect("uuid").to_string(),
                e["published"].as_str().expect("published").to_string(),
            )
        })
        .collect()
}

/// Follows `rel="next"` from `url` until an empty page; returns the events and the last next link.
pub async fn drain(
    client: &reqwest::Client,
    sim: &SimHandle,
    url: String,
) -> (Vec<(String, String)>, String) {
    let mut url = url;
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let response = get(client, sim, &url).await;
        assert_eq!(response.status(), 200, "page {url}");
        let next = link(response.headers(), "next").expect("polling pages always have a next link");
        let body = response.bytes().await.expect("body");
        let events = page_events(&body);
        if events.is_empty() {
            return (all, next);
        }
        all.extend(events);
        url = next;
    }
    panic!("pagination did not end");
}

/// The polling start URL covering the whole backlog.
pub fn start_url(sim: &SimHandle, limit: usize) -> String {
    let since = sim
        .oldest_published()
        .expect("backlog is not empty")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!("{}/api/v1/logs?since={since}&limit={limit}", sim.base_url())
}
