//! HTTP plumbing shared by the network sinks: client, URL checks, gzip, backoff and
//! the mapping of transport failures and HTTP statuses to [`SinkError`]s.

use std::io::Write;
use std::time::Duration;

use rand::Rng;
use reqwest::Url;

use crate::{SinkConfigError, SinkError, TlsOptions};

/// Builds the HTTP client of a sink: TLS settings, timeouts, no redirects (a redirect
/// would resend credentials elsewhere), no proxy for loopback stores.
pub(crate) fn build_client(
    url: &Url,
    tls: &TlsOptions,
    timeout: Duration,
) -> Result<reqwest::Client, SinkConfigError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30));
    if is_loopback(url) {
        builder = builder.no_proxy();
    }
    builder = tls.apply(builder)?;
    builder.build().map_err(|e| SinkConfigError::Tls {
        key: "tls",
        reason: format!("cannot build the HTTP client ({})", error_chain(&e)),
    })
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
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

/// The error and its sources on one line (reqwest hides the interesting part, like
/// "connection refused", in the source chain). Never includes the URL's query.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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

/// Capped exponential backoff with full jitter, for a sink's own retries of items.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`, doubling up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The next delay: uniformly random in [delay/2, delay].
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = delay / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
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
    fn backoff_doubles_within_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let d: Vec<Duration> = (0..4).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[1] >= Duration::from_millis(100) && d[1] <= Duration::from_millis(200));
        assert!(d[3] >= Duration::from_millis(200) && d[3] <= Duration::from_millis(400));
    }

    #[test]
    fn long_bodies_are_cut_to_one_line() {
        assert_eq!(one_line("a\n  b"), "a b");
        assert_eq!(one_line("x".repeat(500).as_str()).chars().count(), 301);
        assert_eq!(one_line(""), "(empty response)");
    }
}
