//! Runs the fixture mix many times, for instruction counting with callgrind.
//!
//! `profile_mix <normalize|elastic|ocsf|value> <rounds> [events.ndjson]`: `normalize`
//! runs `Normalizer::normalize_into` on every `fixtures/okta/*.json` (compact form), or on
//! every line of `events.ndjson` when given, `rounds` times (`elastic`, `ocsf`: the same
//! with that schema); `value` does a `serde_json::Value` parse + re-serialize of the same
//! inputs instead (the comparison pass of the benches). Run it twice under
//! `valgrind --tool=callgrind`, with `rounds` = 1 and N + 1, and divide the difference in
//! instructions by N × events: that removes the start-up cost (reading files, parsing the
//! Public Suffix List) and the one-time work of the first round (woothee compiles its
//! regular expressions on the first user agent, the caches fill). See
//! `docs/performance.md`. With `PROFILE_MIX_DUMP=path` set, the first round's documents
//! are also written to `path`, one a line (to compare outputs before and after a change).

use std::path::Path;
use std::process::ExitCode;

use oktaflow_normalize::{Normalizer, Options, Schema};
use serde_json::Value;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(rounds)) = (
        args.get(1),
        args.get(2).and_then(|r| r.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: profile_mix <normalize|elastic|ocsf|value> <rounds> [events.ndjson]");
        return ExitCode::from(2);
    };
    let mut inputs = Vec::new();
    if let Some(file) = args.get(3) {
        match std::fs::read(file) {
            Ok(bytes) => inputs.extend(
                bytes
                    .split(|b| *b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(<[u8]>::to_vec),
            ),
            Err(e) => {
                eprintln!("cannot read {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
        return run(mode, rounds, &inputs);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/okta");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string()))
            .and_then(|v| serde_json::to_vec(&v).map_err(|e| e.to_string()));
        match parsed {
            Ok(compact) => inputs.push(compact),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    run(mode, rounds, &inputs)
}

fn run(mode: &str, rounds: usize, inputs: &[Vec<u8>]) -> ExitCode {
    let schema = match mode {
        "elastic" => Schema::Elastic,
        "ocsf" => Schema::Ocsf,
        _ => Schema::Ecs,
    };
    let mut normalizer = Normalizer::new(Options {
        schema,
        ..Options::default()
    });
    let mut out = Vec::with_capacity(64 * 1024);
    let mut bytes = 0usize;
    let mut dump = std::env::var_os("PROFILE_MIX_DUMP").map(|_| Vec::new());
    for round in 0..rounds {
        for input in inputs {
            out.clear();
            match mode {
                "normalize" | "elastic" | "ocsf" => {
                    let _ = normalizer.normalize_into(input, &mut out);
                }
                "value" => {
                    if let Ok(value) = serde_json::from_slice::<Value>(input) {
                        let _ = serde_json::to_writer(&mut out, &value);
                    }
                }
                other => {
                    eprintln!("unknown mode {other:?} (normalize, elastic, ocsf or value)");
                    return ExitCode::from(2);
                }
            }
            bytes += out.len();
            if let Some(dump) = dump.as_mut().filter(|_| round == 0) {
                dump.extend_from_slice(&out);
                dump.push(b'\n');
            }
        }
    }
    if let (Some(path), Some(dump)) = (std::env::var_os("PROFILE_MIX_DUMP"), dump) {
        if let Err(e) = std::fs::write(&path, dump) {
            eprintln!("cannot write {}: {e}", Path::new(&path).display());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "{mode}: {} events x {rounds} rounds, {bytes} output bytes",
        inputs.len()
    );
    ExitCode::SUCCESS
}
