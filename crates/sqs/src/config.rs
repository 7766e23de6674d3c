//! [`SqsConfig`]: what the consumer needs to reach and read the queue.

use std::fmt;
use std::time::Duration;

use oktaflow_plumbing::Secret;
use reqwest::Url;

/// The longest long poll SQS allows (`WaitTimeSeconds` 20).
pub const MAX_WAIT_TIME: Duration = Duration::from_secs(20);
/// The default long-poll wait: the longest.
pub const DEFAULT_WAIT_TIME: Duration = MAX_WAIT_TIME;
/// The default visibility timeout of a received message (extended while it waits).
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);
/// The default bound on messages received and not yet deleted or released.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 20_000;
/// The longest visibility timeout SQS allows (12 hours).
const MAX_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(12 * 3600);

/// AWS credentials: an access key id, its secret key and, for temporary credentials, the
/// session token. `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (`AKIA...`, `ASIA...`): not a secret, it names the key.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials (STS).
    pub session_token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// A setting that cannot be used: which one and why (one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sqs.{key}: {reason}")]
pub struct ConfigError {
    /// The setting (`queue_url`, `region`, `endpoint`, `wait_time`, ...).
    pub key: &'static str,
    /// Why it cannot be used.
    pub reason: String,
}

impl ConfigError {
    fn new(key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key,
            reason: reason.into(),
        }
    }
}

/// How to reach and read one queue.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue URL (`https://sqs.<region>.amazonaws.com/<account>/<queue>`).
    pub queue_url: String,
    /// The region the requests are signed for.
    pub region: String,
    /// The credentials requests are signed with.
    pub credentials: Credentials,
    /// Where requests go instead of the queue URL's host (a VPC endpoint, a test server).
    pub endpoint: Option<String>,
    /// Long-poll wait of one `ReceiveMessage` (0..=20 s).
    pub wait_time: Duration,
    /// Visibility timeout given to received messages; extended while they wait to be
    /// durable (1 s..=12 h).
    pub visibility_timeout: Duration,
    /// Messages per `ReceiveMessage` (1..=10).
    pub max_messages: u32,
    /// Messages received and not yet deleted or released, at most.
    pub max_in_flight: usize,
    /// TLS settings of the HTTP client.
    pub tls: oktaflow_plumbing::TlsConfig,
    /// HTTP(S) proxy.
    pub proxy_url: Option<String>,
}

impl SqsConfig {
    /// A configuration with the defaults: 20 s long polls, 60 s visibility, 10 messages per
    /// receive.
    pub fn new(
        queue_url: impl Into<String>,
        region: impl Into<String>,
        credentials: Credentials,
    ) -> SqsConfig {
        SqsConfig {
            queue_url: queue_url.into(),
            region: region.into(),
            credentials,
            endpoint: None,
            wait_time: DEFAULT_WAIT_TIME,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_messages: 10,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            tls: oktaflow_plumbing::TlsConfig::default(),
            proxy_url: None,
        }
    }

    /// Checks every setting; the first problem, naming its key.
    pub fn check(&self) -> Result<(), ConfigError> {
        let queue = parse_url("queue_url", &self.queue_url)?;
        if queue.path().trim_matches('/').is_empty() {
            return Err(ConfigError::new(
                "queue_url",
                format!(
                    "`{}` has no queue path; use https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE",
                    self.queue_url
                ),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            parse_url("endpoint", endpoint)?;
        }
        let region = self.region.trim();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ConfigError::new(
                "region",
                format!("`{}` is not a region; use e.g. \"us-east-1\"", self.region),
            ));
        }
        if self.credentials.access_key_id.trim().is_empty() {
            return Err(ConfigError::new("access_key_id", "is empty"));
        }
        if self.credentials.secret_access_key.is_blank() {
            return Err(ConfigError::new("secret_access_key", "is empty"));
        }
        if self.wait_time > MAX_WAIT_TIME {
            return Err(ConfigError::new(
                "wait_time",
                format!("{}s is above SQS's 20s", self.wait_time.as_secs()),
            ));
        }
        if self.visibility_timeout < Duration::from_secs(1)
            || self.visibility_timeout > MAX_VISIBILITY_TIMEOUT
        {
            return Err(ConfigError::new(
                "visibility_timeout",
                "is out of range; use 1s..12h",
            ));
        }
        if !(1..=10).contains(&self.max_messages) {
            return Err(ConfigError::new(
                "max_messages",
                format!("{} is out of range; use 1..=10", self.max_messages),
            ));
        }
        if self.max_in_flight < self.max_messages as usize {
            return Err(ConfigError::new(
                "max_in_flight",
                "must be at least max_messages",
            ));
        }
        Ok(())
    }

    /// Where requests are sent: the endpoint, or the queue URL's scheme, host and port.
    pub fn endpoint_url(&self) -> Result<Url, ConfigError> {
        let (key, text) = match &self.endpoint {
            Some(endpoint) => ("endpoint", endpoint.as_str()),
            None => ("queue_url", self.queue_url.as_str()),
        };
        let mut url = parse_url(key, text)?;
        url.set_path("/");
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }
}

fn parse_url(key: &'static str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(key, format!("`{text}` is not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if oktaflow_plumbing::http::is_loopback(&url) => {}
        "http" => {
            return Err(ConfigError::new(
                key,
                format!("`{text}`: plain http only on loopback; use https://"),
            ))
        }
        other => {
            return Err(ConfigError::new(
                key,
                format!("scheme `{other}` is not supported; use https://"),
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(key, format!("`{text}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            key,
            "must not hold credentials; use access_key_id and secret_access_key",
        ));
    }
    Ok(url)
}

/// The region of a standard queue URL (`https://sqs.eu-west-1.amazonaws.com/...` →
/// `eu-west-1`; also the legacy `eu-west-1.queue.amazonaws.com`), `None` for other hosts.
pub fn region_of_queue_url(queue_url: &str) -> Option<String> {
    let url = Url::parse(queue_url.trim()).ok()?;
    let host = url.host_str()?;
    let labels: Vec<&str> = host.split('.').collect();
    let region = match labels.as_slice() {
        ["sqs", region, "amazonaws", ..] => region,
        [region, "queue", "amazonaws", ..] => region,
        ["vpce", ..] | [] => return None,
        _ => return None,
    };
    Some((*region).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> SqsConfig {
        SqsConfig::new(
            url,
            "us-east-1",
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::unlisted("secret-key-123"),
                session_token: None,
            },
        )
    }

    #[test]
    fn the_region_comes_from_a_standard_queue_url() {
        assert_eq!(
            region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/okta"),
            Some("eu-west-1".into())
        );
        assert_eq!(
            region_of_queue_url("https://us-east-2.queue.amazonaws.com/123456789012/okta"),
            Some("us-east-2".into())
        );
        assert_eq!(
            region_of_queue_url("http://127.0.0.1:4566/000000000000/q"),
            None
        );
    }

    #[test]
    fn settings_are_checked_one_key_at_a_time() {
        let good = config("https://sqs.us-east-1.amazonaws.com/123456789012/okta");
        assert_eq!(good.check(), Ok(()));
        assert_eq!(
            good.endpoint_url().unwrap().as_str(),
            "https://sqs.us-east-1.amazonaws.com/"
        );
        let plain = config("http://sqs.example.com/1/q");
        assert_eq!(plain.check().unwrap_err().key, "queue_url");
        assert_eq!(config("http://127.0.0.1:9/1/q").check(), Ok(()));
        assert_eq!(
            config("https://sqs.us-east-1.amazonaws.com/")
                .check()
                .unwrap_err()
                .key,
            "queue_url"
        );
        let mut wait = good.clone();
        wait.wait_time = Duration::from_secs(21);
        assert_eq!(wait.check().unwrap_err().key, "wait_time");
        let mut many = good.clone();
        many.max_messages = 11;
        assert_eq!(many.check().unwrap_err().key, "max_messages");
        let mut region = good.clone();
        region.region = "US East".into();
        assert_eq!(region.check().unwrap_err().key, "region");
        let mut endpoint = good;
        endpoint.endpoint = Some("https://vpce-1.sqs.us-east-1.vpce.amazonaws.com".into());
        assert_eq!(
            endpoint.endpoint_url().unwrap().as_str(),
            "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com/"
        );
    }

    #[test]
    fn debug_hides_the_secret_and_the_token() {
        let mut c = config("https://sqs.us-east-1.amazonaws.com/1/q");
        c.credentials.session_token = Some(Secret::unlisted("session-tok-456"));
        let text = format!("{c:?}");
        assert!(text.contains("AKIDEXAMPLE"));
        assert!(!text.contains("secret-key-123") && !text.contains("session-tok-456"));
    }
}
