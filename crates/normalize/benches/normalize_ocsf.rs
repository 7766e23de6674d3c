//! The OCSF mapping of the fixture mix (`fixtures/okta/*.json`) against the ECS mapping and a
//! plain `serde_json::Value` parse + re-serialize of the same inputs (issue 11: OCSF at or
//! below 0.8x the roundtrip).
//!
//! `cargo bench -p oktaflow-normalize --bench normalize_ocsf`; every benchmark processes the
//! whole mix per iteration, so time / events = ns per event.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oktaflow_normalize::{Normalizer, Options};
use serde_json::Value;

/// Compact JSON of every fixture (one event per file, as the API sends it).
fn fixture_mix() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/okta");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let value: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            serde_json::to_vec(&value).expect("a Value serializes")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = fixture_mix();
    let mut normalizer = Normalizer::new(Options::default());
    let mut out = Vec::with_capacity(64 * 1024);
    let valid = inputs
        .iter()
        .filter(|i| normalizer.normalize_ocsf_into(i, None, &mut out).is_ok())
        .count();
    eprintln!(
        "fixture mix: {} events ({valid} valid), {} bytes",
        inputs.len(),
        inputs.iter().map(Vec::len).sum::<usize>()
    );

    let mut group = c.benchmark_group("fixture_mix_ocsf");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("oktaflow_normalize_ocsf", |b| {
        b.iter(|| {
            for input in &inputs {
                out.clear();
                let _ = black_box(normalizer.normalize_ocsf_into(black_box(input), None, &mut out));
            }
            black_box(out.len())
        })
    });
    group.bench_function("oktaflow_normalize_ecs", |b| {
        b.iter(|| {
            for input in &inputs {
                out.clear();
                let _ = black_box(normalizer.normalize_into(black_box(input), &mut out));
            }
            black_box(out.len())
        })
    });
    group.bench_function("serde_json_value_roundtrip", |b| {
        b.iter(|| {
            for input in &inputs {
                out.clear();
                let value: Value =
                    serde_json::from_slice(black_box(input)).expect("fixtures are JSON");
                serde_json::to_writer(&mut out, &value).expect("a Value serializes");
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
