//! Tokens never appear in logs, errors, `Debug` output or panic messages.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use oktaflow_fetch::{
    Auth, ClientConfig, LogSource, OrgUrl, RetryPolicy, Secret, SourceOptions, StartPoint,
};
use oktaflow_sim::{FaultKinds, SimConfig, Simulator};
use tracing_subscriber::fmt::MakeWriter;

const TOKEN: &str = "sim-TOPSECRET-7c1e55";
const WRONG: &str = "wrong-TOPSECRET-0b9d";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn config(base: &str, token: &str) -> ClientConfig {
    let mut config = ClientConfig::new(
        OrgUrl::from_base_url(base).unwrap(),
        Auth::ApiToken(Secret::new(token)),
    );
    config.page_size = 100;
    config.rate_limit_share = 1.0;
    config.request_timeout = Duration::from_secs(1);
    config.retry = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
    };
    config
}

#[test]
fn no_secret_in_logs_errors_debug_or_panics() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut texts = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let sim = Simulator::start(
                SimConfig {
                    events: 1_000,
                    api_token: TOKEN.into(),
                    rate_limit_per_minute: Some(60_000),
                    late_fraction: 0.0,
                    fault_rate: 0.3,
                    faults: FaultKinds {
                        slow_delay: Duration::from_secs(2),
                        ..FaultKinds::default()
                    },
                    ..SimConfig::default()
                },
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap();
            let start = sim.oldest_published().unwrap() - TimeDelta::seconds(1);
            // Good token, many retried faults (warn lines), debug request lines.
            let good = config(&sim.base_url(), TOKEN);
            texts.push(format!("{good:?}"));
            let mut source =
                LogSource::new(good, StartPoint::Since(start), SourceOptions::default()).unwrap();
            texts.push(format!("{source:?}"));
            loop {
                let page = source.next_page().await.unwrap();
                if page.caught_up {
                    texts.push(format!("{:?}", page.state_after));
                    break;
                }
            }
            assert!(
                source.stats().snapshot().retries > 0,
                "faults were retried and logged"
            );
            // Wrong token: a halt.
            let mut bad = LogSource::new(
                config(&sim.base_url(), WRONG),
                StartPoint::Since(start),
                SourceOptions::default(),
            )
            .unwrap();
            let error = bad.next_page().await.unwrap_err();
            texts.push(error.to_string());
            texts.push(format!("{error:?}"));
            sim.shutdown().await;
        });
    });
    // A panic carrying a config prints only its Debug form.
    let panic = std::panic::catch_unwind(|| {
        let config = config("http://127.0.0.1:1", TOKEN);
        panic!("boom with {config:?}");
    })
    .unwrap_err();
    texts.push(panic.downcast_ref::<String>().cloned().unwrap_or_default());

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying System Log request"),
        "warn lines were captured"
    );
    assert!(
        logs.contains("GET System Log page"),
        "debug lines were captured"
    );
    texts.push(logs);
    for text in &texts {
        assert!(!text.contains("TOPSECRET"), "secret leaked in: {text}");
    }
    assert!(texts[0].contains("[redacted]"));
}
