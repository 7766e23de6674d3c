//! [`ReceiverConfig`]: what the receiver listens on and accepts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Auth;

/// The default request size limit: 256 KB, EventBridge's largest event (an envelope with a
/// LogEvent is a few KB).
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;
/// Default bound of requests handled at once (below the 1,024 connections served).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 500;

/// How long a request waits by default for its event to become durable before it is
/// answered `503`: 4 s, under the 5 s after which an EventBridge API destination gives up
/// on a request (and retries it).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(4);

/// The TLS certificate chain and private key (PEM files) the receiver serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// The receiver's settings. `Debug` never shows the credential.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The address to listen on (port 0: any free port, see [`crate::Receiver::local_addr`]).
    pub listen: SocketAddr,
    /// The certificate and key; `None` serves plain HTTP, allowed only on a loopback address.
    pub tls: Option<TlsFiles>,
    /// The credential every request must carry.
    pub auth: Auth,
    /// The largest request body accepted (larger: `413`).
    pub max_body: usize,
    /// How many requests may be handled at once (read, queued, waiting for durability);
    /// one more is answered `429`. Memory for bodies stays under `max_in_flight × max_body`.
    pub max_in_flight: usize,
    /// How many connections are served at once; further connections wait to be accepted.
    pub max_connections: usize,
    /// How long a request waits for its event to become durable (then `503`).
    pub ack_timeout: Duration,
    /// How long a client may take to send its TLS handshake, headers or body.
    pub read_timeout: Duration,
}

impl ReceiverConfig {
    /// Settings with the defaults: 256 KB bodies, 500 requests in flight, 1,024
    /// connections, a 4 s acknowledgement timeout and a 10 s read timeout.
    ///
    /// The in-flight bound sits below the connection bound on purpose: an HTTP/1.1 client
    /// (EventBridge) sends one request per connection at a time, so with the bound above
    /// the connection limit a burst would wait unanswered at `accept` instead of getting
    /// `429` (measured with `benches/push_burst.rs`).
    pub fn new(listen: SocketAddr, tls: Option<TlsFiles>, auth: Auth) -> ReceiverConfig {
        ReceiverConfig {
            listen,
            tls,
            auth,
            max_body: DEFAULT_MAX_BODY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_connections: 1_024,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            read_timeout: Duration::from_secs(10),
        }
    }

    /// Checks the settings without reading any file or binding anything.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::new(
                "tls",
                format!(
                    "listening on {} needs tls.cert_file and tls.key_file; plain http is allowed only on a loopback address (127.0.0.1, ::1)",
                    self.listen
                ),
            ));
        }
        match &self.auth {
            Auth::ApiKey { value, .. } if value.is_blank() => {
                return Err(ConfigError::new("api_key", "the API key is empty"));
            }
            Auth::Basic { username, .. }
                if username.trim().is_empty() || username.contains(':') =>
            {
                return Err(ConfigError::new(
                    "username",
                    "the Basic user name is empty or contains `:`",
                ));
            }
            Auth::Basic { password, .. } if password.is_blank() => {
                return Err(ConfigError::new("password", "the Basic password is empty"));
            }
            _ => {}
        }
        for (key, value) in [
            ("max_body", self.max_body),
            ("max_in_flight", self.max_in_flight),
            ("max_connections", self.max_connections),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.ack_timeout.is_zero() || self.read_timeout.is_zero() {
            return Err(ConfigError::new(
                "ack_timeout",
                "ack_timeout and read_timeout must be above zero",
            ));
        }
        Ok(())
    }
}

/// A receiver setting that cannot be used: `key` names it, `reason` says why (never a
/// secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    /// The setting, e.g. `tls.cert_file`.
    pub key: &'static str,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderName;
    use oktaflow_plumbing::Secret;

    fn key() -> Auth {
        Auth::ApiKey {
            header: HeaderName::from_static("x-key"),
            value: Secret::new("0123456789abcdef"),
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let local = ReceiverConfig::new("127.0.0.1:0".parse().unwrap(), None, key());
        assert_eq!(local.check(), Ok(()));
        let v6 = ReceiverConfig::new("[::1]:9000".parse().unwrap(), None, key());
        assert_eq!(v6.check(), Ok(()));
        let open = ReceiverConfig::new("0.0.0.0:8443".parse().unwrap(), None, key());
        let err = open.check().unwrap_err();
        assert_eq!(err.key, "tls");
        assert!(err.to_string().contains("0.0.0.0:8443"), "{err}");
        let tls = TlsFiles {
            cert_file: "c.pem".into(),
            key_file: "k.pem".into(),
        };
        let open = ReceiverConfig::new("0.0.0.0:8443".parse().unwrap(), Some(tls), key());
        assert_eq!(open.check(), Ok(()));
    }

    #[test]
    fn refuses_empty_credentials_and_zero_bounds() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let basic = |user: &str, pass: &str| Auth::Basic {
            username: user.into(),
            password: Secret::new(pass),
        };
        let err = ReceiverConfig::new(addr, None, basic("a:b", "password-x"))
            .check()
            .unwrap_err();
        assert_eq!(err.key, "username");
        let err = ReceiverConfig::new(addr, None, basic("eb", " "))
            .check()
            .unwrap_err();
        assert_eq!(err.key, "password");
        let mut config = ReceiverConfig::new(addr, None, key());
        config.max_in_flight = 0;
        assert_eq!(config.check().unwrap_err().key, "max_in_flight");
    }
}
