//! Measures backlog generation, memory and page serving of a large simulator:
//! `cargo run --release -p oktaflow-sim --example serve_backlog [EVENTS]`.

use std::time::Instant;

use oktaflow_sim::{SimConfig, Simulator};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let config = SimConfig {
        events,
        late_fraction: 0.0,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse()?).await?;
    println!(
        "backlog of {events} events ready in {:.1} s, RSS {:.0} MB",
        started.elapsed().as_secs_f64(),
        rss_mb()
    );
    let client = reqwest::Client::new();
    let since = sim
        .oldest_published()
        .ok_or("empty backlog")?
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut url = format!("{}/api/v1/logs?since={since}&limit=1000", sim.base_url());
    let token = format!("SSWS {}", sim.config().api_token);
    let (mut pages, mut bytes) = (0usize, 0usize);
    let started = Instant::now();
    loop {
        let response = client
            .get(&url)
            .header("Authorization", &token)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()).into());
        }
        let next = response
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.contains("rel=\"next\""))
            .and_then(|v| v.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(u, _)| u.to_string())
            .ok_or("no next link")?;
        let body = response.bytes().await?;
        if body.len() <= 2 {
            break;
        }
        pages += 1;
        bytes += body.len();
        url = next;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "served {pages} pages, {:.0} MB in {secs:.1} s: {:.0} events/s, {:.0} MB/s; RSS {:.0} MB",
        bytes as f64 / 1e6,
        sim.stats().events_served as f64 / secs,
        bytes as f64 / 1e6 / secs,
        rss_mb()
    );
    sim.shutdown().await;
    Ok(())
}
