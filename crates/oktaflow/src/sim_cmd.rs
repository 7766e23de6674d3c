//! `oktaflow sim`: the Okta System Log API simulator in the foreground, until Ctrl-C.

use std::net::SocketAddr;

use oktaflow_sim::{SimConfig, Simulator};

use crate::cli::SimArgs;
use crate::exit::Exit;
use crate::progress::Console;
use crate::run_cmd::stop_on_signals;

/// Why the simulator could not run; `Display` is the one-line message.
#[derive(Debug, thiserror::Error)]
pub enum SimCmdError {
    /// The simulator refused its configuration.
    #[error("{0}")]
    Config(String),
    /// It could not start (port in use, ...).
    #[error("{0}")]
    Start(String),
}

impl SimCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            SimCmdError::Config(_) => Exit::Usage,
            SimCmdError::Start(_) => Exit::Io,
        }
    }
}

/// The simulator configuration the arguments describe.
pub fn sim_config(args: &SimArgs) -> Result<SimConfig, SimCmdError> {
    let config = SimConfig {
        seed: args.seed,
        events: args.events,
        live_events_per_sec: args.live_rate,
        rate_limit_per_minute: args.rate_limit,
        fault_rate: args.fault_rate,
        late_fraction: args.late_fraction,
        attacks: args.attacks,
        api_token: args
            .token
            .clone()
            .unwrap_or_else(|| format!("sim-{:032x}", rand::random::<u128>())),
        ..SimConfig::default()
    };
    config
        .validate()
        .map_err(|e| SimCmdError::Config(e.to_string()))?;
    Ok(config)
}

/// Runs `oktaflow sim`.
pub fn run(args: &SimArgs) -> Result<Exit, SimCmdError> {
    let config = sim_config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| SimCmdError::Start(format!("cannot start the async runtime: {e}")))?;
    let _console = Console::init("warn");
    runtime.block_on(async {
        let token = config.api_token.clone();
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let sim = Simulator::start(config, addr)
            .await
            .map_err(|e| SimCmdError::Start(e.to_string()))?;
        let url = sim.base_url();
        println!(
            "Okta System Log simulator at {url} ({} events, seed {})",
            args.events, args.seed
        );
        println!("  token: {token}");
        println!(
            "  try:   OKTA_API_TOKEN={token} oktaflow run --okta-url {url} --sink file:okta.ndjson --once"
        );
        println!("Ctrl-C stops it.");
        let mut stop = stop_on_signals();
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        let stats = sim.stats();
        sim.shutdown().await;
        println!(
            "simulator stopped: {} requests, {} pages, {} events served, {} rate-limited, {} faults injected",
            stats.requests,
            stats.pages_served,
            stats.events_served,
            stats.rate_limited,
            stats.faults_injected()
        );
        Ok(Exit::Ok)
    })
}
