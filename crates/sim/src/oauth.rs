//! OAuth 2.0 client-credentials flow with `private_key_jwt` client authentication,
//! as Okta's org authorization server implements it for service apps
//! (`POST /oauth2/v1/token`), and the access tokens it issues.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::error::SimError;
use crate::generate_ids::base62_id;

/// The scope that grants read access to the System Log.
pub const LOGS_SCOPE: &str = "okta.logs.read";
/// The only client assertion type Okta accepts for `private_key_jwt`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest allowed assertion lifetime (Okta: one hour).
const MAX_ASSERTION_LIFETIME: u64 = 3600;

/// An OAuth 2.0 service app (client credentials with `private_key_jwt`).
#[derive(Clone, Debug)]
pub struct OAuthClientConfig {
    /// The app's client id: the assertion's `iss` and `sub`.
    pub client_id: String,
    /// PEM public key (RSA `PUBLIC KEY`/`RSA PUBLIC KEY` or EC P-256 `PUBLIC KEY`)
    /// that verifies the client assertion (RS256 / ES256).
    pub public_key_pem: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_lifetime: Duration,
    /// Scopes granted to the app; a request for any other scope gets `invalid_scope`.
    pub granted_scopes: Vec<String>,
}

impl OAuthClientConfig {
    /// A service app granted `okta.logs.read`, with Okta's default one-hour tokens.
    pub fn new(client_id: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        OAuthClientConfig {
            client_id: client_id.into(),
            public_key_pem: public_key_pem.into(),
            token_lifetime: Duration::from_secs(3600),
            granted_scopes: vec![LOGS_SCOPE.to_string()],
        }
    }
}
const LEEWAY_SECS: u64 = 30;

/// Kind of public key configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    Ec,
}

/// Parses a PEM public key as RSA, then as EC P-256.
pub(crate) fn parse_public_key(pem: &str) -> Result<(DecodingKey, KeyKind), SimError> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((key, KeyKind::Rsa));
    }
    match DecodingKey::from_ec_pem(pem.as_bytes()) {
        Ok(key) => Ok((key, KeyKind::Ec)),
        Err(e) => Err(SimError::InvalidConfig(format!(
            "oauth.public_key_pem is neither an RSA nor an EC public key in PEM form: {e}"
        ))),
    }
}

/// An OAuth error answer: HTTP status, `error`, `error_description`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    /// The JSON body Okta sends.
    pub(crate) fn body(&self) -> String {
        serde_json::json!({"error": self.error, "error_description": self.description}).to_string()
    }
}

/// A successful token response.
#[derive(Debug)]
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
}

impl IssuedToken {
    /// The JSON body Okta sends.
    pub(crate) fn body(&self) -> String {
        serde_json::json!({
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "access_token": self.access_token,
            "scope": self.scope,
        })
        .to_string()
    }
}

/// Result of checking a bearer token against a required scope.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BearerCheck {
    Valid,
    /// Unknown or expired: 401.
    Invalid,
    /// Valid but without the scope: 403.
    MissingScope,
}

#[derive(Deserialize)]
struct AssertionClaims {
    exp: u64,
    jti: Option<String>,
}

/// The token endpoint's state: the configured app, issued tokens and seen `jti`s.
pub(crate) struct OAuthServer {
    client: Option<(OAuthClientConfig, DecodingKey, KeyKind)>,
    tokens: HashMap<String, (Instant, Vec<String>)>,
    used_jtis: HashMap<String, u64>,
    counter: u64,
    salt: u64,
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl OAuthServer {
    /// The endpoint for `client` (None = OAuth disabled: every request is `invalid_client`).
    pub(crate) fn new(client: Option<&OAuthClientConfig>, salt: u64) -> Result<Self, SimError> {
        let client = match client {
            Some(c) => {
                let (key, kind) = parse_public_key(&c.public_key_pem)?;
                Some((c.clone(), key, kind))
            }
            None => None,
        };
        Ok(OAuthServer {
            client,
            tokens: HashMap::new(),
            used_jtis: HashMap::new(),
            counter: 0,
            salt,
        })
    }

    /// Handles a token request given its form fields and the audiences the
    /// assertion may name (the token endpoint URL as the client addressed it).
    pub(crate) fn token(
        &mut self,
        form: &HashMap<String, String>,
        audiences: &[String],
    ) -> Result<IssuedToken, OAuthError> {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        if field("grant_type") != "client_credentials" {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("The authorization grant type is not supported by the authorization server: '{}'.", field("grant_type")),
            ));
        }
        let invalid_client = |why: &str| OAuthError::new(401, "invalid_client", why);
        let Some((config, key, kind)) = &self.client else {
            return Err(invalid_client("Client authentication failed. Either the client or the client credentials are invalid."));
        };
        if field("client_assertion_type") != ASSERTION_TYPE || field("client_assertion").is_empty()
        {
            return Err(invalid_client("Client authentication failed. Either the client or the client credentials are invalid."));
        }
        let mut validation = Validation::new(if *kind == KeyKind::Rsa {
            Algorithm::RS256
        } else {
            Algorithm::ES256
        });
        validation.algorithms = match kind {
            KeyKind::Rsa => vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
            KeyKind::Ec => vec![Algorithm::ES256],
        };
        validation.set_audience(audiences);
        validation.set_issuer(&[config.client_id.as_str()]);
        validation.sub = Some(config.client_id.clone());
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = LEEWAY_SECS;
        let claims =
            jsonwebtoken::decode::<AssertionClaims>(field("client_assertion"), key, &validation)
                .map_err(|e| {
                    invalid_client(&format!("The client_assertion token is invalid: {e}."))
                })?
                .claims;
        let now = epoch_now();
        if claims.exp > now + MAX_ASSERTION_LIFETIME + LEEWAY_SECS {
            return Err(invalid_client(
                "The client_assertion token has an expiration too far into the future.",
            ));
        }
        let jti = match claims.jti {
            Some(jti) if !jti.is_empty() => jti,
            _ => {
                return Err(invalid_client(
                    "The client_assertion token must contain a 'jti' claim.",
                ))
            }
        };
        self.used_jtis.retain(|_, exp| *exp + LEEWAY_SECS >= now);
        if self.used_jtis.contains_key(&jti) {
            return Err(invalid_client(
                "The client_assertion token has already been used.",
            ));
        }
        let requested: Vec<String> = field("scope")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if requested.is_empty() || requested.iter().any(|s| !config.granted_scopes.contains(s)) {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            ));
        }
        self.used_jtis.insert(jti, claims.exp);
        self.counter += 1;
        let access_token = format!(
            "sim.{}",
            base62_id(self.counter ^ self.salt.rotate_left(17), 40)
        );
        let lifetime = config.token_lifetime;
        let now_instant = Instant::now();
        self.tokens.retain(|_, (expires, _)| *expires > now_instant);
        self.tokens.insert(
            access_token.clone(),
            (now_instant + lifetime, requested.clone()),
        );
        Ok(IssuedToken {
            access_token,
            expires_in: lifetime.as_secs(),
            scope: requested.join(" "),
        })
    }

    /// Whether `token` is a live token carrying `scope`.
    pub(crate) fn check_bearer(&self, token: &str, scope: &str, now: Instant) -> BearerCheck {
        match self.tokens.get(token) {
            Some((expires, _)) if *expires <= now => BearerCheck::Invalid,
            Some((_, scopes)) if scopes.iter().any(|s| s == scope) => BearerCheck::Valid,
            Some(_) => BearerCheck::MissingScope,
            None => BearerCheck::Invalid,
        }
    }
}
