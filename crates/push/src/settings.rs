//! [`ReceiverSettings`]: the receiver's keys of a `kind = "eventbridge"` source's table
//! (`[sources.eventbridge]`), as written, and their check into a [`ReceiverConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use oktaflow_plumbing::settings::read_each;
use oktaflow_plumbing::{secret_setting, Quantity, SettingError};
use serde::{Deserialize, Serialize};

use crate::{Auth, HeaderName, ReceiverConfig, TlsFiles};

/// The receiver's keys (docs/configuration.md, `[sources.eventbridge]`); every one optional
/// here, checked by [`ReceiverSettings::config`].
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSettings {
    /// `IP:PORT` to listen on (required).
    pub listen: Option<String>,
    /// Certificate chain (PEM); with `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// Private key (PEM); with `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Header of the API key (default `x-api-key`).
    pub api_key_header: Option<String>,
    /// A file holding the API key.
    pub api_key_file: Option<PathBuf>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Basic authentication's user name.
    pub username: Option<String>,
    /// A file holding the Basic password.
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the Basic password.
    pub password_env: Option<String>,
    /// Largest request body (a size).
    pub max_body: Option<Quantity>,
    /// Requests handled at once.
    pub max_in_flight: Option<usize>,
    /// How long a request waits to be durable (a duration).
    pub ack_timeout: Option<Quantity>,
}

impl ReceiverSettings {
    /// The receiver's configuration, its secrets read (files, or variables through `env`);
    /// every problem found, each named by its key within the table.
    pub fn config(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ReceiverConfig, Vec<SettingError>> {
        let mut errors = Vec::new();
        let listen = self.listen_address(&mut errors);
        let tls = self.tls_files(&mut errors);
        let auth = self.auth(env).map_err(|e| errors.extend(e)).ok();
        let [max_body] = read_each(
            &mut errors,
            [("max_body", self.max_body.as_ref())],
            Quantity::size,
        );
        let [ack_timeout] = read_each(
            &mut errors,
            [("ack_timeout", self.ack_timeout.as_ref())],
            Quantity::duration,
        );
        let (Some(listen), Some(auth), true) = (listen, auth, errors.is_empty()) else {
            return Err(errors);
        };
        let mut receiver = ReceiverConfig::new(listen, tls, auth);
        receiver.max_body = max_body.map_or(receiver.max_body, |b| b as usize);
        receiver.max_in_flight = self.max_in_flight.unwrap_or(receiver.max_in_flight);
        receiver.ack_timeout = ack_timeout.unwrap_or(receiver.ack_timeout);
        receiver.check().map_err(|e| {
            let key = match e.key {
                "tls" => "tls_cert_file",
                "api_key" => "api_key_file",
                "password" => "password_file",
                key => key,
            };
            vec![SettingError::new(key, e.reason)]
        })?;
        Ok(receiver)
    }

    fn listen_address(&self, errors: &mut Vec<SettingError>) -> Option<SocketAddr> {
        let Some(listen) = &self.listen else {
            errors.push(SettingError::new(
                "listen",
                "a kind = \"eventbridge\" source needs eventbridge.listen, e.g. \"0.0.0.0:8443\"",
            ));
            return None;
        };
        let addr = listen.trim().parse().ok();
        if addr.is_none() {
            let reason =
                format!("`{listen}` is not an address; use IP:PORT, e.g. \"0.0.0.0:8443\"");
            errors.push(SettingError::new("listen", reason));
        }
        addr
    }

    fn tls_files(&self, errors: &mut Vec<SettingError>) -> Option<TlsFiles> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => {
                for (name, path) in [("tls_cert_file", cert), ("tls_key_file", key)] {
                    if let Err(e) = std::fs::metadata(path) {
                        let reason = format!("cannot read {}: {e}", path.display());
                        errors.push(SettingError::new(name, reason));
                    }
                }
                Some(TlsFiles {
                    cert_file: cert.clone(),
                    key_file: key.clone(),
                })
            }
            (None, None) => None,
            _ => {
                errors.push(SettingError::new(
                    "tls_cert_file",
                    "give both eventbridge.tls_cert_file and eventbridge.tls_key_file",
                ));
                None
            }
        }
    }

    fn auth(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Auth, Vec<SettingError>> {
        let one = |key: &str, reason: &str| vec![SettingError::new(key, reason)];
        let has_key = self.api_key_file.is_some() || self.api_key_env.is_some();
        let has_basic =
            self.username.is_some() || self.password_file.is_some() || self.password_env.is_some();
        match (has_key, has_basic) {
            (true, true) => Err(one(
                "api_key_file",
                "both an API key and Basic credentials are set; an EventBridge connection sends one",
            )),
            (false, false) => Err(one(
                "api_key_file",
                "no credential; set api_key_file or api_key_env (with api_key_header), or username with password_file or password_env",
            )),
            (true, false) => {
                let header = self.api_key_header.as_deref().unwrap_or("x-api-key");
                let names = ["api_key", "api_key_file", "api_key_env"];
                let file = self.api_key_file.as_deref();
                let value = secret_setting(names, None, file, self.api_key_env.as_deref(), env);
                match (HeaderName::from_bytes(header.trim().as_bytes()), value) {
                    (Ok(header), Ok(Some(value))) => Ok(Auth::ApiKey { header, value }),
                    (Err(_), _) => Err(one(
                        "api_key_header",
                        &format!("`{header}` is not a header name"),
                    )),
                    (_, Err(e)) => Err(vec![e]),
                    (_, Ok(None)) => Err(one("api_key_file", "no API key")),
                }
            }
            (false, true) => {
                let names = ["password", "password_file", "password_env"];
                let file = self.password_file.as_deref();
                let password = secret_setting(names, None, file, self.password_env.as_deref(), env);
                match (self.username.clone(), password) {
                    (Some(username), Ok(Some(password))) => Ok(Auth::Basic { username, password }),
                    (None, _) => Err(one("username", "Basic needs a username")),
                    (_, Err(e)) => Err(vec![e]),
                    (_, Ok(None)) => Err(one(
                        "password_file",
                        "Basic needs password_file or password_env",
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn keys(errors: &[SettingError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn an_api_key_receiver_with_its_limits() {
        let env = |name: &str| (name == "KEY").then(|| "eventbridge-key-0123\n".to_string());
        let settings = ReceiverSettings {
            listen: Some("127.0.0.1:8088".into()),
            api_key_header: Some("x-oktaflow-key".into()),
            api_key_env: Some("KEY".into()),
            max_body: Some(Quantity::Text("64KiB".into())),
            max_in_flight: Some(100),
            ack_timeout: Some(Quantity::Text("3s".into())),
            ..ReceiverSettings::default()
        };
        let config = settings.config(&env).unwrap();
        assert_eq!(config.max_body, 64 * 1024);
        assert_eq!(config.max_in_flight, 100);
        assert_eq!(config.ack_timeout, Duration::from_secs(3));
        match config.auth {
            Auth::ApiKey { header, value } => {
                assert_eq!(header.as_str(), "x-oktaflow-key");
                assert_eq!(value.expose(), "eventbridge-key-0123");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let settings = ReceiverSettings {
            listen: Some("anywhere".into()),
            tls_cert_file: Some("cert.pem".into()),
            max_body: Some(Quantity::Text("lots".into())),
            ack_timeout: Some(Quantity::Text("soon".into())),
            ..ReceiverSettings::default()
        };
        let errors = settings.config(&no_env).unwrap_err();
        assert_eq!(
            keys(&errors),
            [
                "listen",
                "tls_cert_file",
                "api_key_file",
                "max_body",
                "ack_timeout"
            ]
        );
        let basic = ReceiverSettings {
            listen: Some("0.0.0.0:8443".into()),
            username: Some("eb".into()),
            password_env: Some("SURELY_UNSET".into()),
            ..ReceiverSettings::default()
        };
        let errors = basic.config(&no_env).unwrap_err();
        assert_eq!(keys(&errors), ["password_env"]);
        let env = |_: &str| Some("password-0123".to_string());
        let errors = basic.config(&env).unwrap_err();
        assert_eq!(keys(&errors), ["tls_cert_file"], "plain http off loopback");
        assert!(!format!("{errors:?}").contains("password-0123"));
        let no_listen = ReceiverSettings::default().config(&no_env).unwrap_err();
        assert_eq!(keys(&no_listen), ["listen", "api_key_file"]);
    }
}
