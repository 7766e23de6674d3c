//! [`SqsSettings`]: the queue's keys of a `kind = "sqs"` source's table (`[sources.sqs]`), as
//! written, and their check into an [`SqsConfig`].

use std::path::PathBuf;
use std::time::Duration;

use oktaflow_plumbing::settings::read_each;
use oktaflow_plumbing::{secret_setting, Quantity, Secret, SettingError};
use serde::{Deserialize, Serialize};

use crate::{region_of_queue_url, Credentials, SqsConfig};

/// The standard AWS environment variables, used when the table names no key.
const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// The queue's keys (docs/configuration.md, `[sources.sqs]`); every one optional here,
/// checked by [`SqsSettings::config`].
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqsSettings {
    /// The queue URL (required).
    pub queue_url: Option<String>,
    /// The region (default: from the queue URL).
    pub region: Option<String>,
    /// Where requests go instead of the queue URL's host.
    pub endpoint: Option<String>,
    /// The access key id (not a secret).
    pub access_key_id: Option<String>,
    /// The secret access key itself.
    pub secret_access_key: Option<String>,
    /// A file holding the secret access key.
    pub secret_access_key_file: Option<PathBuf>,
    /// The environment variable holding the secret access key.
    pub secret_access_key_env: Option<String>,
    /// The session token of temporary credentials itself.
    pub session_token: Option<String>,
    /// A file holding the session token.
    pub session_token_file: Option<PathBuf>,
    /// The environment variable holding the session token.
    pub session_token_env: Option<String>,
    /// Long-poll wait (a duration in whole seconds).
    pub wait_time: Option<Quantity>,
    /// Visibility timeout of received messages (a duration in whole seconds).
    pub visibility_timeout: Option<Quantity>,
    /// Messages per receive.
    pub max_messages: Option<u32>,
    /// Messages received and not yet deleted, at most.
    pub max_in_flight: Option<usize>,
}

impl SqsSettings {
    /// The queue's configuration and where its credentials came from (for `check`; never the
    /// secret), secrets read (files, or variables through `env`: the table's `*_env` keys, or
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` when the table
    /// has no key); every problem found, each named by its key within the table.
    pub fn config(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(SqsConfig, String), Vec<SettingError>> {
        let mut errors = Vec::new();
        let Some(queue_url) = self.queue_url.as_deref().map(str::trim) else {
            let reason = "a kind = \"sqs\" source needs sqs.queue_url, e.g. \"https://sqs.eu-west-1.amazonaws.com/123456789012/okta-log-stream\"";
            return Err(vec![SettingError::new("queue_url", reason)]);
        };
        let region = match &self.region {
            Some(region) => Some(region.trim().to_string()),
            None => region_of_queue_url(queue_url),
        };
        if region.is_none() {
            errors.push(SettingError::new(
                "region",
                "the queue URL does not name a region (not sqs.REGION.amazonaws.com); set sqs.region",
            ));
        }
        let credentials = self.credentials(env, &mut errors);
        let [wait_time, visibility_timeout] = read_each(
            &mut errors,
            [
                ("wait_time", self.wait_time.as_ref()),
                ("visibility_timeout", self.visibility_timeout.as_ref()),
            ],
            whole_seconds,
        );
        let (Some(region), Some((credentials, from)), true) =
            (region, credentials, errors.is_empty())
        else {
            return Err(errors);
        };
        let mut config = SqsConfig::new(queue_url, region, credentials);
        config.endpoint = self.endpoint.as_deref().map(|e| e.trim().to_string());
        config.wait_time = wait_time.unwrap_or(config.wait_time);
        config.visibility_timeout = visibility_timeout.unwrap_or(config.visibility_timeout);
        config.max_messages = self.max_messages.unwrap_or(config.max_messages);
        config.max_in_flight = self.max_in_flight.unwrap_or(config.max_in_flight);
        config
            .check()
            .map_err(|e| vec![SettingError::new(e.key, e.reason)])?;
        Ok((config, from))
    }

    /// The credentials from the table, else from the standard AWS environment variables,
    /// and where they came from.
    fn credentials(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        errors: &mut Vec<SettingError>,
    ) -> Option<(Credentials, String)> {
        let key_in_table = self.access_key_id.is_some()
            || self.secret_access_key.is_some()
            || self.secret_access_key_file.is_some()
            || self.secret_access_key_env.is_some();
        if !key_in_table {
            return from_environment(self, env, errors);
        }
        let id = self.access_key_id.as_deref().map(|s| s.trim().to_string());
        if id.is_none() {
            let reason = "a secret key is set without its access_key_id";
            errors.push(SettingError::new("access_key_id", reason));
        }
        let secret = secret_setting(
            [
                "secret_access_key",
                "secret_access_key_file",
                "secret_access_key_env",
            ],
            self.secret_access_key.as_deref(),
            self.secret_access_key_file.as_deref(),
            self.secret_access_key_env.as_deref(),
            env,
        );
        let token = secret_setting(
            ["session_token", "session_token_file", "session_token_env"],
            self.session_token.as_deref(),
            self.session_token_file.as_deref(),
            self.session_token_env.as_deref(),
            env,
        );
        let secret = match secret {
            Ok(Some(secret)) => Some(secret),
            Ok(None) => {
                errors.push(SettingError::new(
                    "secret_access_key_file",
                    "access_key_id is set without its secret; set secret_access_key_file or secret_access_key_env",
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let session_token = token.map_err(|e| errors.push(e)).ok()?;
        let credentials = Credentials {
            access_key_id: id?,
            secret_access_key: secret?,
            session_token,
        };
        Some((credentials, "the configuration".to_string()))
    }
}

/// The credentials of the standard AWS environment variables (no key in the table).
fn from_environment(
    settings: &SqsSettings,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<SettingError>,
) -> Option<(Credentials, String)> {
    let tokens = [
        ("session_token", settings.session_token.is_some()),
        ("session_token_file", settings.session_token_file.is_some()),
        ("session_token_env", settings.session_token_env.is_some()),
    ];
    for (key, _) in tokens.into_iter().filter(|(_, given)| *given) {
        let reason = "a session token needs access_key_id and its secret in [sources.sqs]";
        errors.push(SettingError::new(key, reason));
    }
    let var = |name: &str| {
        env(name)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let (Some(access_key_id), Some(secret)) = (var(AWS_ACCESS_KEY_ID), var(AWS_SECRET_ACCESS_KEY))
    else {
        errors.push(SettingError::new(
            "access_key_id",
            "no AWS credentials: set access_key_id with secret_access_key_file (or _env), or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ));
        return None;
    };
    let credentials = Credentials {
        access_key_id,
        secret_access_key: Secret::new(secret),
        session_token: var(AWS_SESSION_TOKEN).map(Secret::new),
    };
    let from = format!("environment {AWS_ACCESS_KEY_ID}/{AWS_SECRET_ACCESS_KEY}");
    Some((credentials, from))
}

/// A duration SQS takes: whole seconds.
fn whole_seconds(value: &Quantity) -> Result<Duration, String> {
    match value.duration()? {
        d if d.subsec_nanos() != 0 => Err("SQS counts whole seconds; use e.g. \"20s\"".into()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/okta";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn keys(errors: &[SettingError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    fn table_keys() -> SqsSettings {
        SqsSettings {
            queue_url: Some(QUEUE.into()),
            access_key_id: Some("AKIDOKTAFLOW".into()),
            secret_access_key_env: Some("SQS_SECRET".into()),
            ..SqsSettings::default()
        }
    }

    #[test]
    fn region_from_the_url_and_credentials_from_the_table_or_the_environment() {
        let env = |name: &str| match name {
            "SQS_SECRET" => Some("table-secret-0123".to_string()),
            "AWS_ACCESS_KEY_ID" => Some("AKIDENV".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("env-secret-0123".to_string()),
            _ => None,
        };
        let settings = SqsSettings {
            wait_time: Some(Quantity::Text("10s".into())),
            visibility_timeout: Some(Quantity::Number(120)),
            max_messages: Some(5),
            ..table_keys()
        };
        let (config, from) = settings.config(&env).unwrap();
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.credentials.access_key_id, "AKIDOKTAFLOW");
        assert_eq!(
            config.credentials.secret_access_key.expose(),
            "table-secret-0123"
        );
        assert_eq!(config.wait_time, Duration::from_secs(10));
        assert_eq!(config.visibility_timeout, Duration::from_secs(120));
        assert_eq!(config.max_messages, 5);
        assert_eq!(from, "the configuration");
        let bare = SqsSettings {
            queue_url: Some(QUEUE.into()),
            ..SqsSettings::default()
        };
        let (config, from) = bare.config(&env).unwrap();
        assert_eq!(config.credentials.access_key_id, "AKIDENV");
        assert!(from.contains("AWS_ACCESS_KEY_ID"), "{from}");
        let errors = bare.config(&no_env).unwrap_err();
        assert_eq!(keys(&errors), ["access_key_id"]);
    }

    #[test]
    fn every_problem_is_named_by_its_key_and_no_secret_is_shown() {
        let env = |name: &str| (name == "SQS_SECRET").then(|| "table-secret-0123".to_string());
        let errors = SqsSettings::default().config(&env).unwrap_err();
        assert_eq!(keys(&errors), ["queue_url"]);
        let local = SqsSettings {
            queue_url: Some("http://127.0.0.1:9324/000000000000/q".into()),
            wait_time: Some(Quantity::Text("1500ms".into())),
            visibility_timeout: Some(Quantity::Text("never".into())),
            ..table_keys()
        };
        let errors = local.config(&env).unwrap_err();
        assert_eq!(keys(&errors), ["region", "wait_time", "visibility_timeout"]);
        let too_many = SqsSettings {
            max_messages: Some(11),
            ..table_keys()
        };
        assert_eq!(keys(&too_many.config(&env).unwrap_err()), ["max_messages"]);
        let half = SqsSettings {
            secret_access_key_env: None,
            session_token: Some("token-0123".into()),
            ..table_keys()
        };
        assert_eq!(
            keys(&half.config(&env).unwrap_err()),
            ["secret_access_key_file"]
        );
        let token_only = SqsSettings {
            queue_url: Some(QUEUE.into()),
            session_token_env: Some("T".into()),
            ..SqsSettings::default()
        };
        let errors = token_only.config(&no_env).unwrap_err();
        assert_eq!(keys(&errors), ["session_token_env", "access_key_id"]);
        assert!(!format!("{errors:?}").contains("table-secret-0123"));
    }
}
