//! [`FetchError`]: what can go wrong talking to Okta, split into halts and transient failures.

use std::time::Duration;

use crate::config::{ConfigError, OrgUrl};
use oktaflow_plumbing::error_chain;

/// An error from the Okta client. `Display` is one line naming the org and the fix; it never
/// contains a secret.
///
/// [`LogSource::next_page`](crate::LogSource::next_page) returns only halts
/// ([`FetchError::is_halt`]); transient errors are retried inside it and logged at `warn`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// HTTP 400: Okta refused the query.
    #[error("Okta rejected the System Log query for {org} (HTTP 400: {summary}) — check start_from (at most 180 days back) and page_size")]
    BadRequest {
        /// The org label.
        org: String,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// HTTP 401: the credential is wrong, expired or revoked.
    #[error("authentication failed for {org} (HTTP 401) — {hint}")]
    Unauthorized {
        /// The org label.
        org: String,
        /// Which credential to check.
        hint: &'static str,
    },
    /// HTTP 403: the credential lacks the permission to read the System Log.
    #[error("access to the System Log of {org} denied (HTTP 403: {summary}) — give the API token's admin a read-only admin role, or grant the OAuth app the okta.logs.read scope")]
    Forbidden {
        /// The org label.
        org: String,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// HTTP 403 from a management API endpoint (identity enrichment): a missing scope.
    #[error("reading the {what} of {org} denied (HTTP 403: {summary}) — grant the OAuth app the {scope} scope (or give the API token's admin a read-only admin role), or turn {what} enrichment off")]
    ApiForbidden {
        /// The org label.
        org: String,
        /// What was read (`users`, `devices`, ...).
        what: &'static str,
        /// The OAuth scope that reads it.
        scope: &'static str,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// HTTP 400, 404 or another unexpected status from a management API endpoint.
    #[error("Okta refused {path} for {org} (HTTP {status}: {summary})")]
    ApiRefused {
        /// The org label.
        org: String,
        /// The request path (no query).
        path: String,
        /// The status code.
        status: u16,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// HTTP 404: this host has no System Log API (wrong domain).
    #[error(
        "{org} has no Okta System Log API (HTTP 404) — check the Okta domain (like acme.okta.com)"
    )]
    NotFound {
        /// The org label.
        org: String,
    },
    /// The org's host name did not resolve on the very first request.
    #[error("cannot resolve {org} — check the Okta domain and this host's DNS ({detail})")]
    Unresolvable {
        /// The org label.
        org: String,
        /// The resolver's message.
        detail: String,
    },
    /// The OAuth token endpoint refused the client assertion.
    #[error("OAuth token request to {org} failed ({detail}) — check the service app's client_id, its registered public key (key_id) and that it is granted okta.logs.read")]
    OAuth {
        /// The org label.
        org: String,
        /// Okta's `error` / `error_description`.
        detail: String,
    },
    /// Okta answered something oktaflow cannot follow (unexpected status, missing next link).
    #[error("unexpected answer from {org}: {detail}")]
    Protocol {
        /// The org label.
        org: String,
        /// What was unexpected.
        detail: String,
    },
    /// The client configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// HTTP 429 (transient): waiting until the rate-limit window resets.
    #[error(
        "rate limited by {org} (HTTP 429); waiting {wait:?} for the rate-limit window to reset"
    )]
    RateLimited {
        /// The org label.
        org: String,
        /// How long to wait before the next request.
        wait: Duration,
    },
    /// HTTP 5xx or 408 (transient).
    #[error("{org} answered HTTP {status}")]
    Server {
        /// The org label.
        org: String,
        /// The status code.
        status: u16,
    },
    /// Connection, TLS or timeout failure (transient).
    #[error("request to {org} failed: {detail}")]
    Transport {
        /// The org label.
        org: String,
        /// The transport error chain (without URL).
        detail: String,
    },
    /// A truncated or unparsable response body (transient).
    #[error("bad response body from {org}: {detail}")]
    Body {
        /// The org label.
        org: String,
        /// What was wrong with the body.
        detail: String,
    },
}

/// The kind of a [`FetchError`], for exit codes and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchErrorKind {
    /// HTTP 400.
    BadRequest,
    /// HTTP 401.
    Unauthorized,
    /// HTTP 403.
    Forbidden,
    /// HTTP 404.
    NotFound,
    /// DNS failure before any successful request.
    Unresolvable,
    /// Token endpoint refused the client.
    OAuth,
    /// Unexpected answer.
    Protocol,
    /// Invalid configuration.
    Config,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx / 408.
    Server,
    /// Connection / TLS / timeout.
    Transport,
    /// Truncated or unparsable body.
    Body,
}

impl FetchErrorKind {
    /// A short stable label, e.g. `unauthorized`.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchErrorKind::BadRequest => "bad_request",
            FetchErrorKind::Unauthorized => "unauthorized",
            FetchErrorKind::Forbidden => "forbidden",
            FetchErrorKind::NotFound => "not_found",
            FetchErrorKind::Unresolvable => "unresolvable",
            FetchErrorKind::OAuth => "oauth",
            FetchErrorKind::Protocol => "protocol",
            FetchErrorKind::Config => "config",
            FetchErrorKind::RateLimited => "rate_limited",
            FetchErrorKind::Server => "server",
            FetchErrorKind::Transport => "transport",
            FetchErrorKind::Body => "body",
        }
    }
}

impl FetchError {
    /// The kind of this error.
    pub fn kind(&self) -> FetchErrorKind {
        match self {
            FetchError::BadRequest { .. } => FetchErrorKind::BadRequest,
            FetchError::Unauthorized { .. } => FetchErrorKind::Unauthorized,
            FetchError::Forbidden { .. } | FetchError::ApiForbidden { .. } => {
                FetchErrorKind::Forbidden
            }
            FetchError::ApiRefused { .. } => FetchErrorKind::Protocol,
            FetchError::NotFound { .. } => FetchErrorKind::NotFound,
            FetchError::Unresolvable { .. } => FetchErrorKind::Unresolvable,
            FetchError::OAuth { .. } => FetchErrorKind::OAuth,
            FetchError::Protocol { .. } => FetchErrorKind::Protocol,
            FetchError::Config(_) => FetchErrorKind::Config,
            FetchError::RateLimited { .. } => FetchErrorKind::RateLimited,
            FetchError::Server { .. } => FetchErrorKind::Server,
            FetchError::Transport { .. } => FetchErrorKind::Transport,
            FetchError::Body { .. } => FetchErrorKind::Body,
        }
    }

    /// True when retrying cannot help: the source must stop and the user must fix something.
    /// False for transient failures, which the client retries by itself.
    pub fn is_halt(&self) -> bool {
        !matches!(
            self.kind(),
            FetchErrorKind::RateLimited
                | FetchErrorKind::Server
                | FetchErrorKind::Transport
                | FetchErrorKind::Body
        )
    }
}

/// A server's error text (an `errorSummary`, an OAuth `error_description`) made safe to show:
/// on one line, with `Authorization`-like values and every registered secret replaced
/// ([`oktaflow_plumbing::scrub`]). A misbehaving proxy or gateway may echo the request's
/// credentials in its error body; this keeps them out of every error, for library users too.
pub(crate) fn server_text(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = oktaflow_plumbing::scrub(&line);
    oktaflow_plumbing::scrub_authorization(&line).into_owned()
}

/// Classifies a send error: a DNS failure before the org was ever reached halts; anything else
/// is transient.
pub(crate) fn transport_error(
    org: &OrgUrl,
    error: reqwest::Error,
    first_contact: bool,
) -> FetchError {
    let error = error.without_url();
    let detail = error_chain(&error);
    let dns = detail.contains("dns error") || detail.contains("failed to lookup address");
    if first_contact && dns && error.is_connect() {
        return FetchError::Unresolvable {
            org: org.label().to_string(),
            detail,
        };
    }
    let detail = if error.is_timeout() {
        format!("timed out ({detail})")
    } else {
        detail
    };
    FetchError::Transport {
        org: org.label().to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halts_and_transients() {
        let org = "acme.okta.com".to_string();
        let halt = FetchError::Unauthorized {
            org: org.clone(),
            hint: "check OKTA_API_TOKEN (or api_token / api_token_file)",
        };
        assert!(halt.is_halt());
        assert_eq!(halt.kind().as_str(), "unauthorized");
        assert_eq!(
            halt.to_string(),
            "authentication failed for acme.okta.com (HTTP 401) — check OKTA_API_TOKEN (or api_token / api_token_file)"
        );
        let transient = FetchError::Server { org, status: 503 };
        assert!(!transient.is_halt());
        assert!(!transient.to_string().contains('\n'));
    }
}
