//! Measures event generation speed: `cargo run --release -p oktaflow-sim --example generate_speed [N]`.

use std::time::Instant;

use chrono::{Duration, Utc};
use oktaflow_sim::generate::EventGenerator;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut generator = EventGenerator::new(1);
    let start_time = Utc::now() - Duration::days(1);
    let mut out = String::with_capacity(4096);
    let mut bytes = 0usize;
    let started = Instant::now();
    for i in 0..n {
        out.clear();
        generator.write_event(
            start_time + Duration::milliseconds(i as i64 * 400),
            &mut out,
        );
        bytes += out.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{n} events, {:.0} events/s, {:.1} MB/s, average {} bytes/event",
        n as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
        bytes / n.max(1)
    );
    println!("sample: {}", generator.event(Utc::now()));
}
