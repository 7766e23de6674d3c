//! `[sources.sqs]` of a `kind = "sqs"` source: the queue an EventBridge rule sends Okta Log
//! Streaming events to (keys in docs/configuration.md).

use std::path::PathBuf;

use oktaflow_fetch::Secret;
use serde::{Deserialize, Serialize};

use super::{DurationText, View};

/// `[sources.sqs]`: every key, checked later by [`sqs_source`].
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SqsSchema {
    queue_url: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    secret_access_key_file: Option<PathBuf>,
    secret_access_key_env: Option<String>,
    session_token: Option<String>,
    session_token_file: Option<PathBuf>,
    session_token_env: Option<String>,
    wait_time: Option<DurationText>,
    visibility_timeout: Option<DurationText>,
    max_messages: Option<u32>,
    max_in_flight: Option<usize>,
    dedup_window: Option<usize>,
    gap_fill: Option<bool>,
    gap_jump: Option<DurationText>,
    gap_silence: Option<DurationText>,
    gap_overlap: Option<DurationText>,
    gap_settle: Option<DurationText>,
}

/// An SQS push source's settings (`kind = "sqs"`, table `sqs`).
#[derive(Debug, Clone)]
pub struct SqsSource {
    /// The queue, region, credentials and polling settings.
    pub config: oktaflow_sqs::SqsConfig,
    /// De-duplication window and batch linger.
    pub options: oktaflow_pipeline::PushOptions,
    /// True when the source also has API credentials; without them `check` does not probe
    /// the org.
    pub api_credentials: bool,
    /// Where the credentials came from (for `check`; never the secret).
    pub credentials_from: String,
}

/// The standard AWS environment variables, used when `[sources.sqs]` names no key.
const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// One secret slot filled by `inline`, `file` or `env` (the name of an environment
/// variable): at most one of them; `None` when none is set.
fn secret_of(
    v: &mut View,
    inline: &'static str,
    file: &'static str,
    env: &'static str,
) -> Option<Secret> {
    let given: Vec<&'static str> = [inline, file, env]
        .into_iter()
        .filter(|k| v.present(k))
        .collect();
    if given.len() > 1 {
        let origin = v.origin(given[1]);
        v.bad(
            given[1],
            &origin,
            format!("{} are set; keep one", given.join(" and ")),
        );
        return None;
    }
    match given.first().copied() {
        Some(k) if k == inline => v.get::<String>(inline).map(|s| Secret::new(s.value.trim())),
        Some(k) if k == file => v.read_file(file).map(|s| Secret::new(s.expose().trim())),
        Some(_) => {
            let name = v.get::<String>(env)?;
            match std::env::var(name.value.trim()) {
                Ok(value) if !value.trim().is_empty() => Some(Secret::new(value.trim())),
                _ => {
                    let reason = format!("environment variable {} is not set or empty", name.value);
                    v.bad(env, &name.origin, reason);
                    None
                }
            }
        }
        None => None,
    }
}

/// `[sources.sqs]` of a `kind = "sqs"` source, checked; every problem recorded in `v`.
pub(super) fn sqs_source(v: &mut View, api_credentials: bool) -> Option<SqsSource> {
    let Some(queue_url) = v.get::<String>("sqs.queue_url") else {
        v.bad(
            "sqs.queue_url",
            "defaults",
            "a kind = \"sqs\" source needs sqs.queue_url, e.g. \"https://sqs.eu-west-1.amazonaws.com/123456789012/okta-log-stream\"",
        );
        return None;
    };
    let region = match v.get::<String>("sqs.region") {
        Some(region) => Some(region.value.trim().to_string()),
        None => {
            let derived = oktaflow_sqs::region_of_queue_url(&queue_url.value);
            if derived.is_none() {
                v.bad(
                    "sqs.region",
                    &queue_url.origin,
                    "the queue URL does not name a region (not sqs.REGION.amazonaws.com); set sqs.region",
                );
            }
            derived
        }
    };

    // Credentials: from the table, else the standard AWS environment variables.
    let key_in_table = [
        "sqs.access_key_id",
        "sqs.secret_access_key",
        "sqs.secret_access_key_file",
        "sqs.secret_access_key_env",
    ]
    .into_iter()
    .any(|k| v.present(k));
    let (access_key_id, secret_access_key, session_token, credentials_from) = if key_in_table {
        let id = v
            .get::<String>("sqs.access_key_id")
            .map(|s| s.value.trim().to_string());
        if id.is_none() {
            let origin = v.origin("sqs");
            v.bad(
                "sqs.access_key_id",
                &origin,
                "a secret key is set without its access_key_id",
            );
        }
        let secret = secret_of(
            v,
            "sqs.secret_access_key",
            "sqs.secret_access_key_file",
            "sqs.secret_access_key_env",
        );
        if secret.is_none()
            && !v.present("sqs.secret_access_key_env")
            && !v.present("sqs.secret_access_key_file")
        {
            let origin = v.origin("sqs");
            v.bad(
                "sqs.secret_access_key_file",
                &origin,
                "access_key_id is set without its secret; set secret_access_key_file or secret_access_key_env",
            );
        }
        let token = secret_of(
            v,
            "sqs.session_token",
            "sqs.session_token_file",
            "sqs.session_token_env",
        );
        (id, secret, token, "the configuration".to_string())
    } else {
        for key in [
            "sqs.session_token",
            "sqs.session_token_file",
            "sqs.session_token_env",
        ] {
            if v.present(key) {
                let origin = v.origin(key);
                v.bad(
                    key,
                    &origin,
                    "a session token needs access_key_id and its secret in [sources.sqs]",
                );
            }
        }
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        match (env(AWS_ACCESS_KEY_ID), env(AWS_SECRET_ACCESS_KEY)) {
            (Some(id), Some(secret)) => (
                Some(id),
                Some(Secret::new(secret)),
                env(AWS_SESSION_TOKEN).map(Secret::new),
                format!("environment {AWS_ACCESS_KEY_ID}/{AWS_SECRET_ACCESS_KEY}"),
            ),
            _ => {
                let origin = v.origin("sqs");
                v.bad(
                    "sqs.access_key_id",
                    &origin,
                    "no AWS credentials: set access_key_id with secret_access_key_file (or _env), or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                );
                (None, None, None, String::new())
            }
        }
    };

    let endpoint = v
        .get::<String>("sqs.endpoint")
        .map(|e| e.value.trim().to_string());
    let wait_time = v.duration("sqs.wait_time");
    let visibility = v.duration("sqs.visibility_timeout");
    let max_messages = v.typed::<u32>("sqs.max_messages");
    let max_in_flight = v.typed::<usize>("sqs.max_in_flight");
    let dedup_window = v.typed::<usize>("sqs.dedup_window");

    let credentials = oktaflow_sqs::Credentials {
        access_key_id: access_key_id?,
        secret_access_key: secret_access_key?,
        session_token,
    };
    let mut config = oktaflow_sqs::SqsConfig::new(queue_url.value.trim(), region?, credentials);
    config.endpoint = endpoint;
    if let Some((wait, _)) = wait_time {
        config.wait_time = wait;
    }
    if let Some((timeout, _)) = visibility {
        config.visibility_timeout = timeout;
    }
    if let Some(n) = max_messages {
        config.max_messages = n.value;
    }
    if let Some(n) = max_in_flight {
        config.max_in_flight = n.value;
    }
    if config.visibility_timeout.subsec_nanos() != 0 || config.wait_time.subsec_nanos() != 0 {
        let key = if config.wait_time.subsec_nanos() != 0 {
            "sqs.wait_time"
        } else {
            "sqs.visibility_timeout"
        };
        let origin = v.origin(key);
        v.bad(key, &origin, "SQS counts whole seconds; use e.g. \"20s\"");
        return None;
    }
    if let Err(e) = config.check() {
        let key = format!("sqs.{}", e.key);
        let origin = v.origin(&key);
        v.bad(&key, &origin, e.reason);
        return None;
    }
    let mut options = oktaflow_pipeline::PushOptions {
        linger: oktaflow_pipeline::DEFAULT_SQS_LINGER,
        ..oktaflow_pipeline::PushOptions::default()
    };
    if let Some(n) = dedup_window {
        if n.value == 0 {
            v.bad("sqs.dedup_window", &n.origin, "must be at least 1");
            return None;
        }
        options.dedup_window = n.value;
    }
    options.gap_fill = super::gap_fill_options(v, "sqs", api_credentials);
    Some(SqsSource {
        config,
        options,
        api_credentials,
        credentials_from,
    })
}
