//! Authentication: `SSWS` API tokens and OAuth 2.0 `private_key_jwt` access tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{Auth, ClientConfig, ConfigError, OrgUrl, LOGS_SCOPE};
use crate::error::{transport_error, FetchError};
use crate::stats::FetchStats;
use oktaflow_plumbing::Secret;

/// Lifetime of a client assertion (Okta accepts at most one hour).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);
/// Renew an access token at the earlier of 80 % of its lifetime and 60 s before expiry.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// Produces the `Authorization` header for System Log requests.
pub(crate) struct Authenticator {
    method: Method,
}

enum Method {
    Token(Secret),
    OAuth(Box<OAuthClient>),
}

struct OAuthClient {
    client_id: String,
    key: EncodingKey,
    algorithm: Algorithm,
    key_id: Option<String>,
    scope: String,
    token_url: Url,
    cached: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    header: HeaderValue,
    renew_at: Instant,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

impl Authenticator {
    /// Builds the authenticator; an OAuth private key is parsed and test-signed here so a bad
    /// key is a configuration error before any request.
    pub(crate) fn new(config: &ClientConfig) -> Result<Authenticator, ConfigError> {
        let method = match &config.auth {
            Auth::ApiToken(token) => Method::Token(token.clone()),
            Auth::OAuth {
                client_id,
                private_key,
                key_id,
                scopes,
            } => {
                // Select the provider explicitly; harmless if one is already installed.
                let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
                let (key, algorithm) = parse_private_key(private_key, client_id)?;
                let token_url = config
                    .org
                    .join("/oauth2/v1/token")
                    .ok_or_else(|| ConfigError::new("domain", "cannot build the token URL"))?;
                let scope = if scopes.is_empty() {
                    LOGS_SCOPE.to_string()
                } else {
                    scopes.join(" ")
                };
                Method::OAuth(Box::new(OAuthClient {
                    client_id: client_id.clone(),
                    key,
                    algorithm,
                    key_id: key_id.clone(),
                    scope,
                    token_url,
                    cached: Mutex::new(None),
                }))
            }
        };
        Ok(Authenticator { method })
    }

    /// True for OAuth (a 401 may mean the access token expired early: renew once).
    pub(crate) fn is_oauth(&self) -> bool {
        matches!(self.method, Method::OAuth(_))
    }

    /// The `Authorization` header value (marked sensitive), fetching or renewing the OAuth
    /// access token when needed.
    pub(crate) async fn header(
        &self,
        http: &reqwest::Client,
        org: &OrgUrl,
        stats: &FetchStats,
    ) -> Result<HeaderValue, FetchError> {
        match &self.method {
            Method::Token(token) => {
                let mut value = HeaderValue::from_str(&format!("SSWS {}", token.expose()))
                    .map_err(|_| {
                        FetchError::Config(ConfigError::new(
                            "api_token",
                            "contains characters not allowed in an HTTP header",
                        ))
                    })?;
                value.set_sensitive(true);
                Ok(value)
            }
            Method::OAuth(client) => client.header(http, org, stats).await,
        }
    }

    /// Forgets the cached access token (after a 401).
    pub(crate) async fn invalidate(&self) {
        if let Method::OAuth(client) = &self.method {
            *client.cached.lock().await = None;
        }
    }
}

impl OAuthClient {
    async fn header(
        &self,
        http: &reqwest::Client,
        org: &OrgUrl,
        stats: &FetchStats,
    ) -> Result<HeaderValue, FetchError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.renew_at {
                return Ok(token.header.clone());
            }
        }
        let fresh = self.request_token(http, org, stats).await?;
        let header = fresh.header.clone();
        *cached = Some(fresh);
        Ok(header)
    }

    fn assertion(&self) -> Result<String, FetchError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: self.token_url.as_str(),
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
            jti: random_jti(),
        };
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            FetchError::Config(ConfigError::new(
                "oauth.private_key_file",
                format!("cannot sign the client assertion ({e})"),
            ))
        })
    }

    async fn request_token(
        &self,
        http: &reqwest::Client,
        org: &OrgUrl,
        stats: &FetchStats,
    ) -> Result<CachedToken, FetchError> {
        let assertion = self.assertion()?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        stats.record_token_request();
        let response = http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(org, e, false))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| FetchError::Body {
            org: org.label().to_string(),
            detail: format!("token response: {}", oktaflow_plumbing::error_chain(&e)),
        })?;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(FetchError::Server {
                org: org.label().to_string(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            let detail = match serde_json::from_slice::<OAuthErrorBody>(&body) {
                Ok(OAuthErrorBody {
                    error,
                    error_description,
                }) => format!(
                    "HTTP {}: {}{}",
                    status.as_u16(),
                    error.unwrap_or_else(|| "error".into()),
                    error_description
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
                Err(_) => format!("HTTP {}", status.as_u16()),
            };
            return Err(FetchError::OAuth {
                org: org.label().to_string(),
                detail: crate::error::server_text(&detail),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| FetchError::Body {
            org: org.label().to_string(),
            detail: format!("token response is not valid JSON ({e})"),
        })?;
        let token_type = token.token_type.unwrap_or_else(|| "Bearer".into());
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(FetchError::OAuth {
                org: org.label().to_string(),
                detail: format!("token type `{}` is not supported; turn off DPoP (Require Demonstrating Proof of Possession) for the service app", crate::error::server_text(&token_type)),
            });
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600).max(1));
        let access = Secret::unlisted(token.access_token);
        let mut header =
            HeaderValue::from_str(&format!("Bearer {}", access.expose())).map_err(|_| {
                FetchError::OAuth {
                    org: org.label().to_string(),
                    detail: "the access token contains characters not allowed in a header".into(),
                }
            })?;
        header.set_sensitive(true);
        Ok(CachedToken {
            header,
            renew_at: Instant::now() + renew_after(lifetime),
        })
    }
}

/// When to renew a token valid for `lifetime`: at 80 % of it, and at least 60 s before expiry.
pub(crate) fn renew_after(lifetime: Duration) -> Duration {
    let eighty = lifetime.mul_f64(0.8);
    let margin = lifetime.saturating_sub(RENEW_MARGIN);
    eighty.min(margin)
}

fn random_jti() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a PEM private key: RSA (PKCS#1 or PKCS#8) → RS256, EC P-256 → ES256, P-384 → ES384.
fn parse_private_key(
    pem: &Secret,
    client_id: &str,
) -> Result<(EncodingKey, Algorithm), ConfigError> {
    let bytes = pem.expose().as_bytes();
    let field = "oauth.private_key_file";
    if !pem.expose().contains("-----BEGIN") {
        return Err(ConfigError::new(
            field,
            "is not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)",
        ));
    }
    let mut candidates = Vec::new();
    if let Ok(key) = EncodingKey::from_rsa_pem(bytes) {
        candidates.push((key, Algorithm::RS256));
    }
    if let Ok(key) = EncodingKey::from_ec_pem(bytes) {
        candidates.push((key.clone(), Algorithm::ES256));
        candidates.push((key, Algorithm::ES384));
    }
    let probe = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: "probe",
        iat: 0,
        exp: 1,
        jti: String::new(),
    };
    for (key, algorithm) in candidates {
        if jsonwebtoken::encode(&Header::new(algorithm), &probe, &key).is_ok() {
            return Ok((key, algorithm));
        }
    }
    Err(ConfigError::new(
        field,
        "cannot use the private key: give an unencrypted RSA (2048+ bits) or EC P-256/P-384 key in PEM",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_before_expiry() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(2880)
        );
        assert_eq!(
            renew_after(Duration::from_secs(100)),
            Duration::from_secs(40)
        );
        assert_eq!(renew_after(Duration::from_secs(30)), Duration::ZERO);
    }

    #[test]
    fn jti_is_random_hex() {
        let a = random_jti();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_jti());
    }

    #[test]
    fn bad_key_is_a_config_error_without_the_key() {
        let key = Secret::new(
            "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n",
        );
        let err = parse_private_key(&key, "client")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("oauth.private_key_file"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
        let err = parse_private_key(&Secret::new("nope"), "client")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a PEM"), "{err}");
    }
}
