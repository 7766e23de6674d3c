//! [`build_client`]: the one `reqwest` client builder of oktaflow, for the Okta client and
//! every network sink: [`TlsConfig`] (extra CA, client certificate, verification), request
//! timeout, proxy, no redirects.
//!
//! Redirects are never followed: a redirect would resend credentials elsewhere. A loopback
//! host (the simulator, a local store) is always reached directly, whatever the proxy
//! environment variables say.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::error_chain::error_chain;

/// TLS settings of a connection (the `tls` table of the source and of every network sink).
///
/// ```toml
/// [source.tls]            # or [sinks.tls]
/// ca_file = "/etc/oktaflow/corp-ca.pem"
/// cert_file = "/etc/oktaflow/client.pem"
/// key_file = "/etc/oktaflow/client.key"
/// verify_certificate = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Extra trusted CA certificates (PEM bundle), added to the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS; needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Verify the server certificate (default true). Turning it off is for lab setups only.
    pub verify_certificate: bool,
}

impl TlsConfig {
    /// Checks the settings without reading any file: a client certificate and its key go
    /// together.
    pub fn check(&self) -> Result<(), HttpConfigError> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err(HttpConfigError::new(
                "tls.key_file",
                "a client certificate needs its private key (tls.key_file)",
            )),
            (None, Some(_)) => Err(HttpConfigError::new(
                "tls.cert_file",
                "a client key needs its certificate (tls.cert_file)",
            )),
            _ => Ok(()),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> TlsConfig {
        TlsConfig {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_certificate: true,
        }
    }
}

/// An HTTP client setting that cannot be used: `key` names it (`tls.ca_file`,
/// `tls.cert_file`, `tls.key_file`, `proxy_url`, `tls`), `reason` says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct HttpConfigError {
    /// The setting.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl HttpConfigError {
    fn new(key: &'static str, reason: impl Into<String>) -> HttpConfigError {
        HttpConfigError {
            key,
            reason: reason.into(),
        }
    }
}

/// Everything [`build_client`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// TLS settings (files are read when the client is built).
    pub tls: TlsConfig,
    /// Timeout of one request (connect + response + body); connecting alone gets at most
    /// 10 s of it.
    pub request_timeout: Duration,
    /// HTTP(S) proxy URL, e.g. `http://proxy.corp:3128`. Without it the standard proxy
    /// environment variables apply, except for a loopback `target`.
    pub proxy_url: Option<String>,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
}

impl ClientOptions {
    /// Options with this TLS configuration and timeout, no proxy URL, a 30 s idle pool.
    pub fn new(tls: TlsConfig, request_timeout: Duration) -> ClientOptions {
        ClientOptions {
            tls,
            request_timeout,
            proxy_url: None,
            pool_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Builds the client that talks to `target` (its host decides whether proxies apply): reads
/// the TLS files, sets timeouts and the proxy, turns redirects off.
pub fn build_client(
    target: &Url,
    options: &ClientOptions,
) -> Result<reqwest::Client, HttpConfigError> {
    let timeout = options.request_timeout;
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(options.pool_idle_timeout);
    builder = apply_tls(&options.tls, builder)?;
    match &options.proxy_url {
        Some(proxy) => {
            check_proxy_url(proxy)?;
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|e| HttpConfigError::new("proxy_url", error_chain(&e)))?;
            builder = builder.proxy(proxy);
        }
        None if is_loopback(target) => builder = builder.no_proxy(),
        None => {}
    }
    builder.build().map_err(|e| {
        HttpConfigError::new(
            "tls",
            format!("cannot build the HTTP client ({})", error_chain(&e)),
        )
    })
}

/// Checks a proxy URL: it parses and its scheme is `http` or `https`.
pub fn check_proxy_url(proxy: &str) -> Result<(), HttpConfigError> {
    let url = Url::parse(proxy)
        .map_err(|e| HttpConfigError::new("proxy_url", format!("`{proxy}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpConfigError::new(
            "proxy_url",
            format!(
                "scheme `{}` is not supported; use http:// or https://",
                url.scheme()
            ),
        ));
    }
    Ok(())
}

/// Applies `tls` to a client builder, reading its files.
fn apply_tls(
    tls: &TlsConfig,
    mut builder: reqwest::ClientBuilder,
) -> Result<reqwest::ClientBuilder, HttpConfigError> {
    tls.check()?;
    if let Some(path) = &tls.ca_file {
        let pem = read(path, "tls.ca_file")?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            HttpConfigError::new(
                "tls.ca_file",
                format!(
                    "{} is not a PEM certificate bundle ({})",
                    path.display(),
                    error_chain(&e)
                ),
            )
        })?;
        if certs.is_empty() {
            return Err(HttpConfigError::new(
                "tls.ca_file",
                format!("{} holds no certificate", path.display()),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        let cert = read(cert, "tls.cert_file")?;
        let key = read(key, "tls.key_file")?;
        let mut pem = Vec::with_capacity(cert.len() + key.len() + 1);
        pem.extend_from_slice(&cert);
        pem.push(b'\n');
        pem.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&pem);
        // Both buffers held the private key.
        for buffer in [key, pem] {
            drop(secrecy::SecretSlice::from(buffer));
        }
        let identity = identity.map_err(|_| {
            HttpConfigError::new(
                "tls.cert_file",
                "cannot use the client certificate and key (expected a PEM certificate \
                 and a PKCS#8, RSA or EC key)",
            )
        })?;
        builder = builder.identity(identity);
    }
    if !tls.verify_certificate {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, HttpConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| HttpConfigError::new(key, format!("cannot read {}: {e}", path.display())))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(HttpConfigError::new(
            key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(bytes)
}

/// True when `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn tls_files_are_checked_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("ca.pem");
        std::fs::write(&bogus, "not a certificate").unwrap();
        let target = url("https://es.corp:9200");
        let options = |tls| ClientOptions::new(tls, Duration::from_secs(5));
        let err = build_client(
            &target,
            &options(TlsConfig {
                ca_file: Some(bogus),
                ..TlsConfig::default()
            }),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("tls.ca_file: "), "{err}");
        let err = build_client(
            &target,
            &options(TlsConfig {
                cert_file: Some(dir.path().join("c.pem")),
                ..TlsConfig::default()
            }),
        )
        .unwrap_err();
        assert_eq!(err.key, "tls.key_file");
        let err = build_client(
            &target,
            &options(TlsConfig {
                ca_file: Some(dir.path().join("missing.pem")),
                ..TlsConfig::default()
            }),
        )
        .unwrap_err();
        assert!(err.reason.starts_with("cannot read "), "{err}");
        assert!(build_client(&target, &options(TlsConfig::default())).is_ok());
    }

    #[test]
    fn proxies_are_checked() {
        let mut options = ClientOptions::new(TlsConfig::default(), Duration::from_secs(5));
        options.proxy_url = Some("socks5://x:1".into());
        let err = build_client(&url("https://acme.okta.com"), &options).unwrap_err();
        assert_eq!(err.key, "proxy_url");
        options.proxy_url = Some("http://proxy.corp:3128".into());
        assert!(build_client(&url("https://acme.okta.com"), &options).is_ok());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback(&url("http://127.0.0.1:9200")));
        assert!(is_loopback(&url("http://[::1]:9")));
        assert!(is_loopback(&url("http://LOCALHOST:9")));
        assert!(!is_loopback(&url("https://acme.okta.com")));
    }

    #[test]
    fn tls_tables_refuse_unknown_keys() {
        let tls: TlsConfig =
            serde_json::from_value(serde_json::json!({"ca_file": "/ca.pem"})).unwrap();
        assert!(tls.verify_certificate);
        let err =
            serde_json::from_value::<TlsConfig>(serde_json::json!({"verify": false})).unwrap_err();
        assert!(err.to_string().contains("unknown field `verify`"), "{err}");
    }
}
