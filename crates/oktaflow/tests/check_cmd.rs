//! `oktaflow check` against the Okta API simulator: a good configuration and broken ones, each
//! failure's message asserted, and nothing ever written.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use oktaflow_sim::{OAuthClientConfig, SimConfig, SimHandle, Simulator};
use tokio::process::Command;

const TOKEN: &str = "check-test-SECRET-4c1d9e";
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

async fn start_sim(config: SimConfig) -> SimHandle {
    Simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

fn sim_config() -> SimConfig {
    SimConfig {
        events: 50,
        late_fraction: 0.0,
        api_token: TOKEN.to_string(),
        ..SimConfig::default()
    }
}

/// A temporary directory holding only the config file; the state dir and the output file are
/// inside it but must never be created by `check`.
struct Workdir {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
    out: PathBuf,
}

impl Workdir {
    fn new() -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("oktaflow.toml");
        let state = dir.path().join("state");
        let out = dir.path().join("out.ndjson");
        Workdir {
            dir,
            config,
            state,
            out,
        }
    }

    /// The top-level keys pointing into this directory, for a config file.
    fn header(&self) -> String {
        format!(
            "state_dir = \"{}\"\nsinks = [\"file:{}\", \"stdout\"]\n",
            self.state.display(),
            self.out.display()
        )
    }

    /// Writes a config whose single source points at `url`, with `extra` source lines.
    fn write_source(&self, url: &str, extra: &str) {
        self.write(&format!(
            "{}\n[source]\nname = \"prod\"\nokta_url = \"{url}\"\nstart_from = \"2d\"\nrequest_timeout = \"5s\"\n{extra}",
            self.header()
        ));
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.config, text).expect("config written");
    }

    /// Runs `oktaflow [global] check --config <file> [args]` with a clean environment plus `env`.
    async fn check(&self, env: &[(&str, &str)], global: &[&str], args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oktaflow"));
        cmd.env_clear()
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .args(global)
            .arg("check")
            .arg("--config")
            .arg(&self.config)
            .args(args);
        for (name, value) in env {
            cmd.env(name, value);
        }
        tokio::time::timeout(RUN_TIMEOUT, cmd.output())
            .await
            .expect("oktaflow check finishes")
            .expect("oktaflow runs")
    }

    /// Fails unless the directory holds exactly the config file.
    fn assert_nothing_written(&self) {
        let entries: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, vec!["oktaflow.toml".to_string()]);
        assert!(!self.state.exists() && !self.out.exists());
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The table row for `subject` and `check`: (result, detail).
fn row(output: &Output, subject: &str, check: &str) -> (String, String) {
    let table = stdout(output);
    for line in table.lines() {
        let cells: Vec<String> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        if cells.len() >= 3 && cells[0] == subject && cells[1] == check {
            let detail = cells.get(3..).map(|d| d.join("  ")).unwrap_or_default();
            return (cells[2].clone(), detail);
        }
    }
    panic!("no row `{subject}` / `{check}` in:\n{table}");
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_no_secret(output: &Output) {
    for text in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_config_passes_every_check_and_writes_nothing() {
    let sim = start_sim(sim_config()).await;
    let work = Workdir::new();
    work.write_source(&sim.base_url(), "");
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 0);

    let (result, detail) = row(&output, "config", "schema");
    assert_eq!(result, "OK");
    assert!(detail.contains("no unknown keys"), "{detail}");
    assert_eq!(
        row(&output, "config", "values"),
        ("OK".into(), "1 source (prod), 2 sinks".into())
    );
    let state_subject = format!("state_dir {}", work.state.display());
    let (result, detail) = row(&output, &state_subject, "writable");
    assert_eq!(result, "OK");
    assert!(detail.contains("`run` will create it"), "{detail}");
    assert_eq!(
        row(&output, "source prod", "resolve"),
        (
            "OK".into(),
            "127.0.0.1: an IP address, nothing to resolve".into()
        )
    );
    let (result, detail) = row(&output, "source prod", "connect");
    assert_eq!(result, "OK");
    assert!(detail.contains(&sim.local_addr().to_string()), "{detail}");
    let (result, detail) = row(&output, "source prod", "system log");
    assert_eq!(result, "OK");
    assert!(
        detail.starts_with(
            "credentials accepted, the System Log is readable (1 event since start_from)"
        ),
        "{detail}"
    );
    let out_subject = format!("sink file:{}", work.out.display());
    let (result, detail) = row(&output, &out_subject, "writable");
    assert_eq!(result, "OK");
    assert!(detail.starts_with("will be created in "), "{detail}");
    assert_eq!(row(&output, "sink stdout", "writable").0, "OK");
    assert!(stdout(&output).ends_with("\nall 8 checks passed\n"));

    assert_eq!(sim.stats().requests, 1, "exactly one System Log request");
    assert_no_secret(&output);
    work.assert_nothing_written();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_the_401_message() {
    let sim = start_sim(sim_config()).await;
    let work = Workdir::new();
    work.write_source(&sim.base_url(), "");
    let output = work
        .check(&[("OKTA_API_TOKEN", "not-the-right-token")], &[], &[])
        .await;
    assert_exit(&output, 1);
    let (result, detail) = row(&output, "source prod", "system log");
    assert_eq!(result, "FAIL");
    assert_eq!(
        detail,
        format!(
            "authentication failed for {} (HTTP 401) — check OKTA_API_TOKEN (or api_token / api_token_file)",
            sim.local_addr()
        )
    );
    assert!(stdout(&output).ends_with("\n1 check failed, 7 passed\n"));
    assert!(!stdout(&output).contains("not-the-right-token"));
    work.assert_nothing_written();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_fails_with_the_404_message() {
    let sim = start_sim(SimConfig {
        expected_host: Some("acme.okta.com".into()),
        ..sim_config()
    })
    .await;
    let work = Workdir::new();
    work.write_source(&sim.base_url(), "");
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 1);
    let (result, detail) = row(&output, "source prod", "system log");
    assert_eq!(result, "FAIL");
    assert_eq!(
        detail,
        format!(
            "{} has no Okta System Log API (HTTP 404) — check the Okta domain (like acme.okta.com)",
            sim.local_addr()
        )
    );
    work.assert_nothing_written();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_logs_scope_fails_with_the_403_message() {
    let (private_pem, public_pem) = ec_p256_key_pair();
    let mut oauth = OAuthClientConfig::new("0oa-check-test", public_pem);
    oauth.granted_scopes = vec!["okta.users.read".into()];
    let sim = start_sim(SimConfig {
        oauth: Some(oauth),
        ..sim_config()
    })
    .await;
    let work = Workdir::new();
    let key = work.dir.path().join("key.pem");
    std::fs::write(&key, &private_pem).expect("key written");
    work.write_source(
        &sim.base_url(),
        &format!(
            "[source.oauth]\nclient_id = \"0oa-check-test\"\nprivate_key_file = \"{}\"\nscopes = [\"okta.users.read\"]\n",
            key.display()
        ),
    );
    let output = work.check(&[], &[], &[]).await;
    assert_exit(&output, 1);
    let (result, detail) = row(&output, "source prod", "system log");
    assert_eq!(result, "FAIL");
    assert!(
        detail.starts_with(&format!(
            "access to the System Log of {} denied (HTTP 403:",
            sim.local_addr()
        )) && detail.ends_with("grant the OAuth app the okta.logs.read scope"),
        "{detail}"
    );
    let key_body = private_pem.lines().nth(1).expect("PEM body line");
    assert!(!stdout(&output).contains(key_body));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(key_body));
    std::fs::remove_file(&key).expect("key removed");
    work.assert_nothing_written();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_port_fails_the_connect_check() {
    // Bind a port, then free it: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let work = Workdir::new();
    work.write_source(&format!("http://127.0.0.1:{port}"), "");
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 1);
    let (result, detail) = row(&output, "source prod", "connect");
    assert_eq!(result, "FAIL");
    assert!(
        detail.starts_with(&format!("cannot connect to 127.0.0.1:{port} (")),
        "{detail}"
    );
    assert!(
        detail.contains("check the port, firewall and proxy"),
        "{detail}"
    );
    assert_eq!(
        row(&output, "source prod", "system log"),
        ("-".into(), "skipped: not reachable".into())
    );
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_domain_fails_the_resolve_check() {
    let work = Workdir::new();
    work.write(&format!(
        "{}\n[source]\nname = \"prod\"\ndomain = \"no-such-org.invalid\"\n",
        work.header()
    ));
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 1);
    let (result, detail) = row(&output, "source prod", "resolve");
    assert_eq!(result, "FAIL");
    assert!(
        detail.starts_with(
            "cannot resolve no-such-org.invalid — check the Okta domain and this host's DNS ("
        ),
        "{detail}"
    );
    assert_eq!(row(&output, "source prod", "connect").0, "-");
    assert_eq!(row(&output, "source prod", "system log").0, "-");
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_all_reported_with_their_location() {
    let work = Workdir::new();
    work.write(&format!(
        "{}\n[source]\nokta_url = \"http://127.0.0.1:1\"\nintervall = \"60s\"\npage_size = \"many\"\n[source.tls]\nverify = false\n",
        work.header()
    ));
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 2);
    let table = stdout(&output);
    let path = work.config.display().to_string();
    let errors: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("config") && l.contains("FAIL"))
        .collect();
    assert_eq!(errors.len(), 3, "{table}");
    assert!(
        errors[0].contains(&format!(
            "{path}:6:1: unknown field `intervall`, expected one of"
        )),
        "{table}"
    );
    assert!(
        errors[1].contains(&format!(
            "{path}:7:13: invalid type: string \"many\", expected u32"
        )),
        "{table}"
    );
    assert!(
        errors[2].contains(&format!("{path}:9:1: unknown field `verify`")),
        "{table}"
    );
    assert!(
        !table.contains("source prod"),
        "no source is checked: {table}"
    );
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_duration_is_reported_with_its_key_and_origin() {
    let work = Workdir::new();
    work.write_source("http://127.0.0.1:1", "interval = \"5x\"\n");
    let output = work.check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[]).await;
    assert_exit(&output, 2);
    let (result, detail) = row(&output, "config", "values");
    assert_eq!(result, "FAIL");
    assert_eq!(
        detail,
        format!(
            "source.interval (from {} [source] interval): `5x` has an unknown unit `x`; use ms, s, m, h, d or w",
            work.config.display()
        )
    );

    // A flag overrides the file, and the error names the flag (`--interval`, also when given
    // by its old name `--poll-interval`).
    for flag in ["--interval", "--poll-interval"] {
        let output = work
            .check(&[("OKTA_API_TOKEN", TOKEN)], &[], &[flag, "5s"])
            .await;
        assert_exit(&output, 2);
        assert_eq!(
            row(&output, "config", "values").1,
            "source.interval (from --interval): `5s` is out of range; use 10s..1d"
        );
    }
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_value_is_reported_not_just_the_first() {
    let work = Workdir::new();
    work.write_source(
        "http://127.0.0.1:1",
        "interval = \"5s\"\npage_size = 5000\nsilence_alert = \"500ms\"\n",
    );
    let output = work
        .check(
            &[
                ("OKTA_API_TOKEN", TOKEN),
                ("OKTAFLOW_RATE_LIMIT_SHARE", "2"),
            ],
            &[],
            &[],
        )
        .await;
    assert_exit(&output, 2);
    let table = stdout(&output);
    let problems: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("config") && l.contains("FAIL"))
        .collect();
    let path = work.config.display().to_string();
    let expected = [
        format!("source.page_size (from {path} [source] page_size): 5000 is out of range"),
        "source.rate_limit_share (from OKTAFLOW_RATE_LIMIT_SHARE): 2 is out of range".to_string(),
        format!("source.interval (from {path} [source] interval): `5s` is out of range"),
        format!("source.silence_alert (from {path} [source] silence_alert): `500ms` is too short"),
    ];
    assert_eq!(problems.len(), expected.len(), "{table}");
    for (line, expected) in problems.iter().zip(&expected) {
        assert!(
            line.contains("values") && line.contains(expected.as_str()),
            "{table}"
        );
    }
    assert!(
        !table.contains("source prod"),
        "no source is checked: {table}"
    );
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_a_config_error() {
    let work = Workdir::new();
    work.write_source("http://127.0.0.1:1", "");
    let output = work.check(&[], &[], &[]).await;
    assert_exit(&output, 2);
    let (result, detail) = row(&output, "config", "values");
    assert_eq!(result, "FAIL");
    assert!(
        detail.starts_with("source.api_token (from defaults): no credentials; set OKTA_API_TOKEN"),
        "{detail}"
    );
    work.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_source_among_several_is_reported_alone() {
    let sim = start_sim(sim_config()).await;
    let work = Workdir::new();
    work.write(&format!(
        "{}\n[[sources]]\nname = \"good\"\nokta_url = \"{url}\"\napi_token = \"{TOKEN}\"\n\n[[sources]]\nname = \"revoked\"\nokta_url = \"{url}\"\napi_token = \"revoked-token\"\n",
        work.header(),
        url = sim.base_url()
    ));
    let output = work.check(&[], &[], &[]).await;
    assert_exit(&output, 1);
    assert_eq!(
        row(&output, "config", "values").1,
        "2 sources (good, revoked), 2 sinks"
    );
    assert_eq!(row(&output, "source good", "system log").0, "OK");
    let (result, detail) = row(&output, "source revoked", "system log");
    assert_eq!(result, "FAIL");
    assert!(detail.starts_with("authentication failed for"), "{detail}");
    assert_no_secret(&output);
    work.assert_nothing_written();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_tagged_with_the_source() {
    let sim = start_sim(sim_config()).await;
    let work = Workdir::new();
    work.write_source(&sim.base_url(), "");
    let output = work
        .check(
            &[
                ("OKTA_API_TOKEN", TOKEN),
                ("RUST_LOG", "warn,oktaflow=debug"),
            ],
            &["--log-format", "json"],
            &[],
        )
        .await;
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let checking = lines
        .iter()
        .find(|l| l["fields"]["message"] == "checking source")
        .unwrap_or_else(|| panic!("no `checking source` line in {stderr}"));
    assert_eq!(checking["level"], "DEBUG");
    assert_eq!(checking["target"], "oktaflow::check_cmd::source");
    assert_eq!(checking["span"]["source"], "prod");
    assert_eq!(checking["fields"]["org"], sim.local_addr().to_string());
    sim.shutdown().await;
}

/// A fresh EC P-256 key pair as PEM (PKCS#8 private key, SPKI public key).
fn ec_p256_key_pair() -> (String, String) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::Engine;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key generated");
    let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8 encoding");
    // SubjectPublicKeyInfo prefix of an uncompressed P-256 point.
    const SPKI_PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut spki = SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let pem = |label: &str, der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    };
    (pem("PRIVATE KEY", pkcs8.as_ref()), pem("PUBLIC KEY", &spki))
}
