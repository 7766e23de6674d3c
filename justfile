# Shortcuts for the plain cargo commands in README.md (`just` is optional).

# The main job on a fresh machine: the pipeline against the built-in Okta API simulator.
demo:
    cargo run --release -- demo

# Normalize the shipped sample of Okta events to ECS on stdout.
sample:
    cargo run --release -- normalize --input fixtures/okta-sample.ndjson

# The whole test suite (what CI runs after the lints).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Re-bless the golden ECS files after an intended mapping change; review `git diff fixtures/`.
bless:
    OKTAFLOW_BLESS=1 cargo test -p oktaflow-normalize --test golden --test ocsf_catalog

# Benchmarks: the library on the fixture mix (criterion), then `oktaflow normalize`
# on 200,000 generated events against a serde_json Value round trip (the bench crate
# benches/ also has pipeline_backfill, sinks_backfill and sinks).
bench:
    cargo bench -p oktaflow-normalize --bench normalize
    cargo bench -p oktaflow-benches --bench normalize_throughput

# Everything CI runs.
ci:
    bash .ci/run
