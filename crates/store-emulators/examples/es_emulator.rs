//! Serves the Elasticsearch `_bulk` emulator alone, for profiling a sink by hand:
//! `cargo run --release -p oktaflow-store-emulators --example es_emulator [PORT]` (default 9200), then
//! `oktaflow run ... --sink elasticsearch:http://127.0.0.1:PORT`. Prints the document count
//! of the default data stream every 5 s.

use std::net::SocketAddr;
use std::time::Duration;

use oktaflow_store_emulators::elasticsearch::EsEmulator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 9200,
    };
    let es = EsEmulator::start(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("Elasticsearch bulk emulator at {}", es.base_url());
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            () = tokio::time::sleep(Duration::from_secs(5)) => {
                println!(
                    "{} documents, {} bulk requests",
                    es.count("logs-okta.system-default"),
                    es.bulk_requests()
                );
            }
        }
    }
    es.shutdown().await;
    Ok(())
}
