//! [`ClientConfig`]: where the Okta org is, how to authenticate, TLS, proxy, timeouts and pacing.

use std::time::Duration;

use reqwest::Url;

use oktaflow_plumbing::{check_proxy_url, RetryPolicy, Secret, TlsConfig};

/// Largest `limit` Okta accepts on `GET /api/v1/logs`.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default share of the announced per-minute rate limit that oktaflow uses.
pub const DEFAULT_RATE_LIMIT_SHARE: f64 = 0.5;
/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on one response body: 64 MiB. The largest real page (1000 large events) is a
/// few MB, so only a broken or hostile server reaches it (see [`ClientConfig::max_response_body`]).
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 64 * 1024 * 1024;
/// Smallest accepted [`ClientConfig::max_response_body`]: 1 MiB.
pub const MIN_MAX_RESPONSE_BODY: u64 = 1024 * 1024;
/// Default OAuth scope requested for the System Log.
pub const LOGS_SCOPE: &str = "okta.logs.read";

/// A configuration value that cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ConfigError {
    /// The configuration field (e.g. `domain`, `page_size`, `tls.cert_file`).
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            field,
            reason: reason.into(),
        }
    }
}

/// The base URL of one Okta org: `https://{domain}` or, for the simulator, a loopback `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUrl {
    base: Url,
    label: String,
}

impl OrgUrl {
    /// From an Okta domain such as `acme.okta.com` (no scheme, no path); `https` is forced.
    pub fn from_domain(domain: &str) -> Result<OrgUrl, ConfigError> {
        let domain = domain.trim();
        if domain.is_empty() {
            return Err(ConfigError::new(
                "domain",
                "empty; expected a host name like acme.okta.com",
            ));
        }
        if domain.contains("://") {
            return Err(ConfigError::new(
                "domain",
                format!("`{domain}` has a scheme; give the host name only, like acme.okta.com (https is always used)"),
            ));
        }
        if domain.contains(['/', '?', '#', '@', ' ']) {
            return Err(ConfigError::new(
                "domain",
                format!(
                    "`{domain}` is not a host name; give the host name only, like acme.okta.com"
                ),
            ));
        }
        let base = Url::parse(&format!("https://{domain}/")).map_err(|e| {
            ConfigError::new(
                "domain",
                format!("`{domain}` is not a valid host name ({e})"),
            )
        })?;
        OrgUrl::checked(base, "domain")
    }

    /// From a base URL (`https://host[:port]`, or `http://` only for a loopback host such as
    /// `127.0.0.1`, `[::1]` or `localhost`); no path, query or credentials.
    pub fn from_base_url(url: &str) -> Result<OrgUrl, ConfigError> {
        let base = Url::parse(url.trim())
            .map_err(|e| ConfigError::new("okta_url", format!("`{url}` is not a URL ({e})")))?;
        match base.scheme() {
            "https" => {}
            "http" if oktaflow_plumbing::http::is_loopback(&base) => {}
            "http" => {
                return Err(ConfigError::new(
                    "okta_url",
                    format!("`{url}` uses plain http; only https is allowed except for a loopback host (127.0.0.1, ::1, localhost)"),
                ))
            }
            other => {
                return Err(ConfigError::new(
                    "okta_url",
                    format!("`{url}` has scheme `{other}`; use https://HOST"),
                ))
            }
        }
        if !(base.path() == "/" || base.path().is_empty())
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(ConfigError::new(
                "okta_url",
                format!("`{url}` has a path or query; give only scheme://host[:port]"),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ConfigError::new("okta_url", "must not contain credentials"));
        }
        OrgUrl::checked(base, "okta_url")
    }

    fn checked(base: Url, field: &'static str) -> Result<OrgUrl, ConfigError> {
        let Some(host) = base.host_str() else {
            return Err(ConfigError::new(field, "has no host"));
        };
        if host.is_empty() {
            return Err(ConfigError::new(field, "has no host"));
        }
        let label = match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Ok(OrgUrl { base, label })
    }

    /// The org's name for messages and logs, e.g. `acme.okta.com` or `127.0.0.1:8080`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The base URL, e.g. `https://acme.okta.com/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// True when requests go to a loopback host (the simulator).
    pub fn is_loopback(&self) -> bool {
        oktaflow_plumbing::http::is_loopback(&self.base)
    }

    /// `base` joined with an absolute path (and query), e.g. `/api/v1/logs?after=x`.
    pub(crate) fn join(&self, path_and_query: &str) -> Option<Url> {
        self.base.join(path_and_query).ok()
    }
}

/// How oktaflow authenticates to the org.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: SSWS <token>` (an admin API token).
    ApiToken(Secret),
    /// OAuth 2.0 service app: a `private_key_jwt` client assertion exchanged for an access token
    /// at `/oauth2/v1/token` (client credentials grant).
    OAuth {
        /// The service app's client id.
        client_id: String,
        /// The private key as PEM text (RSA → RS256, EC P-256 → ES256, EC P-384 → ES384).
        private_key: Secret,
        /// The `kid` of the key registered in Okta, when the app has several keys.
        key_id: Option<String>,
        /// Scopes to request; empty means `okta.logs.read`.
        scopes: Vec<String>,
    },
}

impl Auth {
    /// A one-line hint telling the user which credential to check after a 401.
    pub(crate) fn fix_hint(&self) -> &'static str {
        match self {
            Auth::ApiToken(_) => "check OKTA_API_TOKEN (or api_token / api_token_file)",
            Auth::OAuth { .. } => {
                "check the OAuth client_id, private key and key_id of the service app"
            }
        }
    }
}

/// Everything needed to talk to one Okta org's System Log API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the org is.
    pub org: OrgUrl,
    /// How to authenticate.
    pub auth: Auth,
    /// TLS settings (the files are read when the client is built).
    pub tls: TlsConfig,
    /// HTTP(S) proxy URL, e.g. `http://proxy.corp:3128`. Without it, the standard proxy
    /// environment variables apply (except for loopback orgs, which are always reached directly).
    pub proxy_url: Option<String>,
    /// Timeout of one HTTP request (connect + response + body).
    pub request_timeout: Duration,
    /// Events per page (`limit`), 1..=1000.
    pub page_size: u32,
    /// Share of the announced per-minute rate limit oktaflow may use, in (0, 1].
    pub rate_limit_share: f64,
    /// Backoff for transient failures.
    pub retry: RetryPolicy,
    /// Largest response body read, in bytes (default [`DEFAULT_MAX_RESPONSE_BODY`]). Enforced
    /// while the body streams in: a body over it is dropped as soon as the cap is passed,
    /// retried like a truncated body, and halts the source after a few attempts.
    pub max_response_body: u64,
}

impl ClientConfig {
    /// A configuration with the defaults: page size 1000, rate-limit share 0.5, 30 s timeout.
    pub fn new(org: OrgUrl, auth: Auth) -> ClientConfig {
        ClientConfig {
            org,
            auth,
            tls: TlsConfig::default(),
            proxy_url: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            page_size: MAX_PAGE_SIZE,
            rate_limit_share: DEFAULT_RATE_LIMIT_SHARE,
            retry: RetryPolicy::default(),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::new(
                "page_size",
                format!("{} is out of range; use 1..=1000", self.page_size),
            ));
        }
        if !(self.rate_limit_share > 0.0 && self.rate_limit_share <= 1.0) {
            return Err(ConfigError::new(
                "rate_limit_share",
                format!(
                    "{} is out of range; use a fraction in (0, 1], e.g. 0.5",
                    self.rate_limit_share
                ),
            ));
        }
        if self.request_timeout < Duration::from_secs(1)
            || self.request_timeout > Duration::from_secs(600)
        {
            return Err(ConfigError::new(
                "request_timeout",
                format!("{:?} is out of range; use 1s..10m", self.request_timeout),
            ));
        }
        if self.retry.base.is_zero() || self.retry.cap < self.retry.base {
            return Err(ConfigError::new(
                "retry",
                "base must be > 0 and cap >= base",
            ));
        }
        if self.max_response_body < MIN_MAX_RESPONSE_BODY {
            return Err(ConfigError::new(
                "max_response_body",
                format!(
                    "{} bytes is too small; use at least 1 MiB (default 64 MiB)",
                    self.max_response_body
                ),
            ));
        }
        if let Some(proxy) = &self.proxy_url {
            check_proxy_url(proxy).map_err(|e| ConfigError::new(e.key, e.reason))?;
        }
        self.tls
            .check()
            .map_err(|e| ConfigError::new(e.key, e.reason))?;
        match &self.auth {
            Auth::ApiToken(token) => {
                if token.is_blank() {
                    return Err(ConfigError::new("api_token", "is empty"));
                }
                if token
                    .expose()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(ConfigError::new(
                        "api_token",
                        "contains whitespace; copy the token without spaces or line breaks",
                    ));
                }
            }
            Auth::OAuth {
                client_id,
                private_key,
                scopes,
                ..
            } => {
                if client_id.trim().is_empty() {
                    return Err(ConfigError::new("oauth.client_id", "is empty"));
                }
                if private_key.is_blank() {
                    return Err(ConfigError::new("oauth.private_key_file", "is empty"));
                }
                if scopes
                    .iter()
                    .any(|s| s.trim().is_empty() || s.contains(' '))
                {
                    return Err(ConfigError::new(
                        "oauth.scopes",
                        "scopes must be single words",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_forces_https() {
        let org = OrgUrl::from_domain("acme.okta.com").unwrap();
        assert_eq!(org.base().as_str(), "https://acme.okta.com/");
        assert_eq!(org.label(), "acme.okta.com");
        assert!(!org.is_loopback());
    }

    #[test]
    fn domain_rejects_scheme_and_path() {
        let err = OrgUrl::from_domain("https://acme.okta.com").unwrap_err();
        assert_eq!(err.field, "domain");
        assert!(err.to_string().contains("scheme"), "{err}");
        let err = OrgUrl::from_domain("acme.okta.com/api").unwrap_err();
        assert!(err.to_string().contains("host name only"), "{err}");
        assert!(OrgUrl::from_domain("").is_err());
    }

    #[test]
    fn base_url_allows_http_only_on_loopback() {
        let org = OrgUrl::from_base_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(org.label(), "127.0.0.1:8080");
        assert!(org.is_loopback());
        assert!(OrgUrl::from_base_url("http://[::1]:9")
            .unwrap()
            .is_loopback());
        assert!(OrgUrl::from_base_url("http://localhost:9").is_ok());
        let err = OrgUrl::from_base_url("http://acme.okta.com").unwrap_err();
        assert!(err.to_string().contains("only https"), "{err}");
        assert!(OrgUrl::from_base_url("https://acme.okta.com").is_ok());
        assert!(OrgUrl::from_base_url("https://acme.okta.com/api/v1").is_err());
        assert!(OrgUrl::from_base_url("ftp://acme.okta.com").is_err());
        assert!(OrgUrl::from_base_url("https://u:p@acme.okta.com").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let org = OrgUrl::from_domain("acme.okta.com").unwrap();
        let mut config = ClientConfig::new(org, Auth::ApiToken(Secret::new("tok")));
        assert!(config.validate().is_ok());
        config.page_size = 1001;
        assert_eq!(config.validate().unwrap_err().field, "page_size");
        config.page_size = 100;
        config.max_response_body = 1000;
        assert_eq!(config.validate().unwrap_err().field, "max_response_body");
        config.max_response_body = MIN_MAX_RESPONSE_BODY;
        assert!(config.validate().is_ok());
        config.rate_limit_share = 0.0;
        assert_eq!(config.validate().unwrap_err().field, "rate_limit_share");
        config.rate_limit_share = 1.0;
        config.proxy_url = Some("socks5://x:1".into());
        assert_eq!(config.validate().unwrap_err().field, "proxy_url");
        config.proxy_url = None;
        config.auth = Auth::ApiToken(Secret::new("a b"));
        assert_eq!(config.validate().unwrap_err().field, "api_token");
        config.auth = Auth::ApiToken(Secret::new("ok"));
        config.tls.cert_file = Some("client.pem".into());
        assert_eq!(config.validate().unwrap_err().field, "tls.key_file");
    }
}
