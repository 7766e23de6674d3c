//! What the detect stage costs the pipeline: the same backfill as `pipeline_backfill` (a),
//! `oktaflow run --once` from the Okta API simulator into the file sink with backfill
//! concurrency one, in three configurations: the detect stage off (`[detect] enabled =
//! false`), the built-in rules only (the default), and the built-in rules plus the 21 shipped
//! SigmaHQ Okta rules (`[detect] rules = ["rules/sigma/okta"]`). Reported: CPU time (user +
//! system of the `oktaflow` process, from `/proc` of the exited child) per event, and each
//! case's ratio to detect off. The budget: every built-in and shipped rule on costs at
//! most +20 % CPU per event. CPU time, not wall time: this machine is shared, and waiting for a
//! core is not work.
//!
//! Run: `cargo bench -p oktaflow-benches --bench detect_cost`.
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 200000), `OKTAFLOW_BENCH_SEED` (default 42),
//! `OKTAFLOW_BENCH_RUNS` (interleaved rounds, default 3; medians are compared).

mod support;

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use support::{count_lines, env_number, load_average, report, timed};

const TOKEN: &str = "bench-token";

/// The three configurations: label and the `oktaflow.toml` of each.
fn cases(rules: &Path) -> [(&'static str, String); 3] {
    [
        ("detect off", "[detect]\nenabled = false\n".to_owned()),
        ("built-in rules (default)", String::new()),
        (
            "built-in + 21 shipped Sigma rules",
            format!("[detect]\nrules = [{:?}]\n", rules.display().to_string()),
        ),
    ]
}

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 200_000)? as usize;
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;
    let runs = env_number("OKTAFLOW_BENCH_RUNS", 3)?.max(1) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/sigma/okta");
    let rules = rules.canonicalize()?;
    println!("detect_cost: {events} events, seed {seed}");
    println!("load average before: {}", load_average());
    let sim = runtime.block_on(Simulator::start(
        SimConfig {
            seed,
            events,
            late_fraction: 0.0,
            rate_limit_per_minute: Some(100_000_000),
            api_token: TOKEN.into(),
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    ))?;
    let cases = cases(&rules);
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut written_by_case = vec![0; cases.len()];
    for round in 1..=runs {
        println!("round {round} of {runs}");
        for (i, (label, toml)) in cases.iter().enumerate() {
            let config = dir.path().join(format!("case{i}.toml"));
            std::fs::write(&config, toml)?;
            let out = dir.path().join(format!("events{i}.ndjson"));
            let state = dir.path().join(format!("state{i}-{round}"));
            let run = timed(&mut run_command(&sim, &config, &out, &state))?;
            let written = count_lines(&out)?;
            report(&format!("  {label}"), written, &run);
            written_by_case[i] = written;
            cpu[i].push(run.cpu.as_secs_f64());
            // The alert file beside the events, if any.
            for file in std::fs::read_dir(dir.path())? {
                let path = file?.path();
                if path.extension().is_some_and(|e| e == "ndjson") {
                    std::fs::remove_file(path)?;
                }
            }
        }
    }
    runtime.block_on(sim.shutdown());
    if written_by_case.iter().any(|w| *w != written_by_case[0]) {
        return Err(format!("the cases wrote different event counts: {written_by_case:?}").into());
    }
    let median = |values: &[f64]| {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let off = median(&cpu[0]);
    let n = written_by_case[0].max(1) as f64;
    println!("medians of {runs} rounds, {} events:", written_by_case[0]);
    for (i, (label, _)) in cases.iter().enumerate() {
        let c = median(&cpu[i]);
        println!(
            "  {label}: CPU {c:.2} s = {:.2} µs/event, {:+.1} % against detect off (per round: {})",
            c * 1e6 / n,
            (c / off - 1.0) * 100.0,
            cpu[i]
                .iter()
                .zip(&cpu[0])
                .map(|(c, o)| format!("{:+.1} %", (c / o - 1.0) * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("load average after: {}", load_average());
    Ok(())
}

fn run_command(sim: &SimHandle, config: &Path, out: &Path, state: &Path) -> Command {
    let mut cmd = support::oktaflow();
    cmd.env_clear()
        .env("OKTA_API_TOKEN", TOKEN)
        .env("OKTAFLOW_PAGE_SIZE", "1000")
        .env("RUST_LOG", "warn")
        .arg("run")
        .arg("--config")
        .arg(config)
        .args(["--once", "--start-from", "2d", "--okta-url"])
        .arg(sim.base_url())
        .arg("--state-dir")
        .arg(state)
        .arg("--sink")
        .arg(format!("file:{}", out.display()))
        .arg("--backfill-concurrency")
        .arg("1");
    cmd
}
