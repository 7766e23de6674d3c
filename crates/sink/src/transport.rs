//! HTTP helpers of the network sinks: client (the shared builder), URL checks, gzip and
//! the mapping of transport failures and HTTP statuses to [`SinkError`]s.

use std::io::Write;
use std::time::Duration;

use oktaflow_plumbing::http::ClientOptions;
use oktaflow_plumbing::{error_chain, TlsConfig};
use reqwest::Url;

use crate::{SinkConfigError, SinkError};

/// Builds the HTTP client of a sink with the shared builder: TLS settings, timeouts, no
/// redirects (a redirect would resend credentials elsewhere), no proxy for loopback stores.
pub(crate) fn build_client(
    url: &Url,
    tls: &TlsConfig,
    timeout: Duration,
) -> Result<reqwest::Client, SinkConfigError> {
    Ok(oktaflow_plumbing::build_client(
        url,
        &ClientOptions::new(tls.clone(), timeout),
    )?)
}

/// Checks a `url` setting while it is read (`#[serde(deserialize_with)]`), so a table with a
/// bad URL is refused with the rest of the configuration.
pub(crate) fn deserialize_base_url<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse_base_url(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

/// Parses a store's base URL: `http` or `https`, a host, no credentials (they belong
/// in the `_env`/`_file` secret settings), no query or fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, SinkConfigError> {
    let url = Url::parse(text)
        .map_err(|e| SinkConfigError::invalid("url", format!("`{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SinkConfigError::invalid(
            "url",
            format!("`{text}` must start with http:// or https://"),
        ));
    }
    if url.host().is_none() {
        return Err(SinkConfigError::invalid(
            "url",
            format!("`{text}` has no host"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SinkConfigError::invalid(
            "url",
            "holds credentials; give the user in `user` and the password through \
             password_env or password_file instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SinkConfigError::invalid(
            "url",
            format!("`{text}` must not have a query or fragment"),
        ));
    }
    Ok(url)
}

/// The URL without a trailing slash, for sink names.
pub(crate) fn display_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// `base` joined with `path` (relative to the base's own path).
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

/// Gzip-compresses a request body (fast level: the CPU matters more than the last bytes).
pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 6 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// A failed request that got no HTTP answer: always retryable.
pub(crate) fn transport_error(sink: &str, error: reqwest::Error) -> SinkError {
    let error = error.without_url();
    SinkError::Unreachable {
        sink: sink.to_owned(),
        detail: error_chain(&error),
    }
}

/// Maps a whole-request HTTP failure: 401/403 → [`SinkError::Auth`], 408/429/5xx →
/// [`SinkError::Busy`] (retryable), any other status → [`SinkError::Refused`].
pub(crate) fn status_error(
    sink: &str,
    status: u16,
    detail: String,
    auth_hint: &'static str,
) -> SinkError {
    let sink = sink.to_owned();
    match status {
        401 | 403 => SinkError::Auth {
            sink,
            status,
            detail,
            hint: auth_hint,
        },
        408 | 429 | 500..=599 => SinkError::Busy {
            sink,
            status,
            detail,
        },
        _ => SinkError::Refused {
            sink,
            status,
            detail,
        },
    }
}

/// A store's error body shortened to one line of at most 300 characters.
pub(crate) fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        let cut: String = flat.chars().take(300).collect();
        format!("{cut}…")
    } else if flat.is_empty() {
        "(empty response)".to_owned()
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("https://es.corp:9200").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8123/").is_ok());
        let err = parse_base_url("https://elastic:changeme@es:9200").unwrap_err();
        assert!(!err.to_string().contains("changeme"), "{err}");
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("es:9200").is_err());
        assert!(parse_base_url("https://es:9200/?x=1").is_err());
    }

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = parse_base_url("https://proxy.corp/es/").unwrap();
        assert_eq!(
            endpoint(&base, "/_bulk").as_str(),
            "https://proxy.corp/es/_bulk"
        );
        let base = parse_base_url("http://127.0.0.1:9200").unwrap();
        assert_eq!(
            endpoint(&base, "_bulk").as_str(),
            "http://127.0.0.1:9200/_bulk"
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let body = b"{\"a\":1}\n".repeat(100);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&body)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn statuses_map_to_retryable_or_not() {
        assert!(status_error("s", 503, "x".into(), "h").is_retryable());
        assert!(status_error("s", 429, "x".into(), "h").is_retryable());
        assert!(!status_error("s", 401, "x".into(), "h").is_retryable());
        assert!(!status_error("s", 400, "x".into(), "h").is_retryable());
    }

    #[test]
    fn long_bodies_are_cut_to_one_line() {
        assert_eq!(one_line("a\n  b"), "a b");
        assert_eq!(one_line("x".repeat(500).as_str()).chars().count(), 301);
        assert_eq!(one_line(""), "(empty response)");
    }
}
