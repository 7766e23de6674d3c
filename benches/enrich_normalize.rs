//! Identity enrichment's cost: `oktaflow normalize` with and without `--profiles` on a store
//! of 100,000 users and 50,000 devices, and that store's size.
//!
//! Generates realistic events (`oktaflow_sim::generate::EventGenerator`) into a temporary
//! NDJSON file, fills a profile store (`oktaflow_enrich::ProfileStore`, one commit as a refresh
//! does) with every actor and device of those events plus synthetic ones up to the sizes
//! asked (20 groups, 1 % of users with an admin role), then times, alternating in the same
//! run, `oktaflow normalize --schema ecs` without and with `--profiles STORE` (spawn to exit,
//! output to `/dev/null`, peak RSS = the child's `VmHWM`), and prints the medians, the
//! enrichment overhead (issue 13's goal: at most 10 %) and the peak RSS with the store's
//! snapshot in memory (goal: under 150 MB).
//!
//! Run: `cargo bench -p oktaflow-benches --bench enrich_normalize` (builds the release
//! `oktaflow` binary first, or set `OKTAFLOW_BIN`). Environment: `OKTAFLOW_BENCH_EVENTS`
//! (default 200000), `OKTAFLOW_BENCH_USERS` (100000), `OKTAFLOW_BENCH_DEVICES` (50000),
//! `OKTAFLOW_BENCH_RUNS` (3), `OKTAFLOW_BENCH_SEED` (42), `OKTAFLOW_BENCH_DIR` (write the
//! events and stores there and keep them, e.g. to count instructions with callgrind; default:
//! a temporary directory).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::DateTime;
use oktaflow_enrich::{DeviceRecord, GroupRecord, ProfileStore, Refresh, UserRecord};
use oktaflow_sim::generate::EventGenerator;
use support::{env_number, load_average, oktaflow, oktaflow_binary, timed};

fn main() -> Result<(), Box<dyn Error>> {
    let binary = oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 200_000)?;
    let users = env_number("OKTAFLOW_BENCH_USERS", 100_000)? as usize;
    let devices = env_number("OKTAFLOW_BENCH_DEVICES", 50_000)? as usize;
    let runs = env_number("OKTAFLOW_BENCH_RUNS", 3)?.max(1);
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;

    let temp = tempfile::tempdir()?;
    let kept = std::env::var_os("OKTAFLOW_BENCH_DIR").map(std::path::PathBuf::from);
    if let Some(kept) = &kept {
        std::fs::create_dir_all(kept)?;
    }
    let dir = Dir(kept.as_deref().unwrap_or(temp.path()));
    let input = dir.path().join("events.ndjson");
    let (actors, device_ids) = generate(&input, events, seed)?;
    println!(
        "enrich_normalize: {events} events, {} distinct actors, {} distinct devices",
        actors.len(),
        device_ids.len()
    );

    // A store of just the events' actors and devices: every event is joined, loading it
    // costs nothing, so its timing is the join's cost per event.
    let small_path = dir.path().join("small.redb");
    fill_store(
        &small_path,
        actors.clone(),
        device_ids.clone(),
        actors.len(),
        device_ids.len(),
    )?;
    let store_path = dir.path().join("profiles.redb");
    let started = Instant::now();
    fill_store(&store_path, actors, device_ids, users, devices)?;
    let written = started.elapsed();
    let size = std::fs::metadata(&store_path)?.len();
    println!(
        "profile store: {users} users, {devices} devices, 20 groups: {:.1} MiB on disk after the first pull ({} B per profile, written in {:.1} s)",
        size as f64 / 1048576.0,
        size / (users + devices).max(1) as u64,
        written.as_secs_f64(),
    );
    // Loading the big store's snapshot alone: an empty input.
    let empty = dir.path().join("empty.ndjson");
    File::create(&empty)?;
    let load = time_normalize(&empty, Some(&store_path), dir.path())?;
    println!(
        "loading the snapshot of {users} users + {devices} devices: {:.2} s, peak RSS {:.1} MiB",
        load.0.as_secs_f64(),
        load.1 as f64 / 1024.0
    );

    println!("load average before: {}", load_average());
    let mut plain_times = Vec::new();
    let mut joined_times = Vec::new();
    let mut enriched_times = Vec::new();
    let (mut plain_rss, mut enriched_rss) = (0, 0);
    for run in 1..=runs {
        let plain = time_normalize(&input, None, dir.path())?;
        let joined = time_normalize(&input, Some(&small_path), dir.path())?;
        let enriched = time_normalize(&input, Some(&store_path), dir.path())?;
        println!(
            "run {run}/{runs}: plain {:.2} s (peak RSS {:.1} MiB) | joined, small store {:.2} s (+{:.1} %) | joined, big store {:.2} s (peak RSS {:.1} MiB, +{:.1} % with the load)",
            plain.0.as_secs_f64(),
            plain.1 as f64 / 1024.0,
            joined.0.as_secs_f64(),
            (joined.0.as_secs_f64() / plain.0.as_secs_f64() - 1.0) * 100.0,
            enriched.0.as_secs_f64(),
            enriched.1 as f64 / 1024.0,
            (enriched.0.as_secs_f64() / plain.0.as_secs_f64() - 1.0) * 100.0
        );
        plain_times.push(plain.0);
        joined_times.push(joined.0);
        enriched_times.push(enriched.0);
        plain_rss = plain_rss.max(plain.1);
        enriched_rss = enriched_rss.max(enriched.1);
    }
    let plain = median(&mut plain_times);
    let joined = median(&mut joined_times);
    let enriched = median(&mut enriched_times);
    println!("median of {runs} run(s):");
    println!(
        "  oktaflow normalize --schema ecs                {:.2} s = {:.0} events/s",
        plain.as_secs_f64(),
        events as f64 / plain.as_secs_f64()
    );
    println!(
        "  ... --profiles (events' users, every event joined) {:.2} s = {:.0} events/s: join overhead {:+.1} % (goal: at most +10 %)",
        joined.as_secs_f64(),
        events as f64 / joined.as_secs_f64(),
        (joined.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "  ... --profiles ({users} users + {devices} devices) {:.2} s = {:.0} events/s: {:+.1} %, of which loading the snapshot {:.2} s (once per process / per refresh, on another thread in `run`)",
        enriched.as_secs_f64(),
        events as f64 / enriched.as_secs_f64(),
        (enriched.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0,
        load.0.as_secs_f64()
    );
    println!(
        "  peak RSS: plain {:.1} MiB, with {users} users + {devices} devices {:.1} MiB (goal: under 150 MB)",
        plain_rss as f64 / 1024.0,
        enriched_rss as f64 / 1024.0
    );
    println!("load average after: {}", load_average());
    Ok(())
}

/// Where the bench writes its files (`path()` as `tempfile::TempDir` has it).
struct Dir<'p>(&'p Path);

impl Dir<'_> {
    fn path(&self) -> &Path {
        self.0
    }
}

/// Writes `count` generated events; returns the actor ids and device ids they mention.
fn generate(
    path: &Path,
    count: u64,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>), Box<dyn Error>> {
    let mut generator = EventGenerator::new(seed);
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
    let start = DateTime::from_timestamp(1_714_521_600, 0).ok_or("bad start time")?;
    let mut actors = HashSet::new();
    let mut devices = HashSet::new();
    for i in 0..count {
        let published = start + chrono::TimeDelta::milliseconds(250 * i as i64);
        let event = generator.event(published);
        let value: serde_json::Value = serde_json::from_str(&event)?;
        if let Some(id) = value["actor"]["id"].as_str() {
            actors.insert(id.to_string());
        }
        if let Some(id) = value["device"]["id"].as_str() {
            devices.insert(id.to_string());
        }
        out.write_all(event.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    let mut actors: Vec<String> = actors.into_iter().collect();
    actors.sort();
    let mut devices: Vec<String> = devices.into_iter().collect();
    devices.sort();
    Ok((actors, devices))
}

/// One commit of `users` users (the event actors first) in 20 groups, 1 % admins, and
/// `devices` devices (the events' first).
fn fill_store(
    path: &Path,
    mut actors: Vec<String>,
    mut device_ids: Vec<String>,
    users: usize,
    devices: usize,
) -> Result<(), Box<dyn Error>> {
    const DEPARTMENTS: &[&str] = &["Engineering", "Finance", "Sales", "Support", "Legal", "IT"];
    if path.exists() {
        // A kept directory (OKTAFLOW_BENCH_DIR) of an earlier run: one fresh first pull.
        std::fs::remove_file(path)?;
    }
    for i in actors.len()..users {
        actors.push(format!("00ubench{i:012}"));
    }
    actors.truncate(users);
    for i in device_ids.len()..devices {
        device_ids.push(format!("guobench{i:012}"));
    }
    device_ids.truncate(devices);
    let mut refresh = Refresh::default();
    let mut groups: Vec<GroupRecord> = (0..20)
        .map(|g| GroupRecord {
            id: format!("00gbench{g:012}"),
            name: format!("Group {g}"),
            last_membership_updated: None,
            members: Vec::new(),
        })
        .collect();
    let mut roles = BTreeMap::new();
    for (i, id) in actors.iter().enumerate() {
        refresh.users.push(UserRecord {
            id: id.clone(),
            login: Some(format!("user{i}@example.com")),
            email: Some(format!("user{i}@example.com")),
            first_name: Some(format!("First{i}")),
            last_name: Some(format!("Last{i}")),
            display_name: Some(format!("First{i} Last{i}")),
            status: Some("ACTIVE".into()),
            department: Some(DEPARTMENTS[i % DEPARTMENTS.len()].into()),
            title: Some("Engineer".into()),
            manager: Some(format!("Manager {}", i % 500)),
            employee_number: Some(format!("{}", 100_000 + i)),
            organization: Some("Acme".into()),
            last_updated: Some("2024-05-01T10:00:00.000Z".into()),
        });
        groups[0].members.push(id.clone());
        groups[1 + i % 19].members.push(id.clone());
        if i % 100 == 0 {
            roles.insert(id.clone(), vec!["ORG_ADMIN".to_string()]);
        }
    }
    for (i, id) in device_ids.iter().enumerate() {
        refresh.devices.push(DeviceRecord {
            id: id.clone(),
            name: Some(format!("Device {i}")),
            platform: Some("WINDOWS".into()),
            model: Some("Latitude 7440".into()),
            manufacturer: Some("Dell Inc.".into()),
            os_version: Some("10.0.22631".into()),
            status: Some("ACTIVE".into()),
            managed: Some(i % 3 != 0),
            registered: Some(true),
            users: vec![actors[i % actors.len().max(1)].clone()],
            last_updated: Some("2024-05-01T10:00:00.000Z".into()),
        });
    }
    refresh.groups = Some(groups);
    refresh.roles = Some(roles);
    refresh.synced_at = Some(chrono::Utc::now());
    let store = ProfileStore::open(path)?;
    store.commit(&refresh)?;
    Ok(())
}

/// One `oktaflow normalize` run: wall time and peak RSS (KiB).
fn time_normalize(
    input: &Path,
    profiles: Option<&Path>,
    dir: &Path,
) -> Result<(Duration, u64), Box<dyn Error>> {
    let mut cmd = oktaflow();
    cmd.arg("normalize")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg("/dev/null")
        .arg("--dead-letter")
        .arg(dir.join("dead.ndjson"))
        .args(["--schema", "ecs"]);
    if let Some(store) = profiles {
        cmd.arg("--profiles").arg(store);
    }
    let run = timed(&mut cmd)?;
    Ok((run.elapsed, run.rss_kib))
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
