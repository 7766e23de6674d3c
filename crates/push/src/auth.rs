//! How a request authenticates: as an EventBridge connection sends its credential.

use axum::http::{header, HeaderMap, HeaderName};
use base64::Engine;
use oktaflow_plumbing::Secret;
use subtle::ConstantTimeEq;

/// The credential every request must carry (an EventBridge connection's authorization
/// type `API_KEY` or `BASIC`). `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A header named `header` whose value is `value` (connection type `API_KEY`).
    ApiKey {
        /// The header's name, e.g. `x-oktaflow-key`.
        header: HeaderName,
        /// Its value.
        value: Secret,
    },
    /// `Authorization: Basic base64(username:password)` (connection type `BASIC`).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl Auth {
    /// True when `headers` carry the credential. The comparison takes the same time whatever
    /// the request sent (it depends only on the configured credential's length).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match self {
            Auth::ApiKey { header, value } => {
                let provided = headers.get(header).map(|v| v.as_bytes()).unwrap_or(b"");
                ct_equal(provided, value.expose().as_bytes())
            }
            Auth::Basic { username, password } => {
                let decoded = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        let (scheme, rest) = v.trim().split_once(' ')?;
                        scheme
                            .eq_ignore_ascii_case("basic")
                            .then(|| rest.trim().to_owned())
                    })
                    .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                    .unwrap_or_default();
                let (user, pass) = match decoded.iter().position(|&b| b == b':') {
                    Some(at) => (&decoded[..at], &decoded[at + 1..]),
                    None => (&decoded[..], &b""[..]),
                };
                // Both halves are always compared (no early exit on a wrong user name).
                let user_ok = ct_equal(user, username.as_bytes());
                let pass_ok = ct_equal(pass, password.expose().as_bytes());
                user_ok & pass_ok
            }
        }
    }

    /// The `WWW-Authenticate` challenge sent with a `401`, if the scheme has one.
    pub(crate) fn challenge(&self) -> Option<&'static str> {
        match self {
            Auth::ApiKey { .. } => None,
            Auth::Basic { .. } => Some("Basic realm=\"oktaflow\""),
        }
    }
}

/// Constant-time equality whose time depends only on `expected`'s length: `provided` is
/// copied into a buffer of that length and compared byte for byte, the lengths apart.
fn ct_equal(provided: &[u8], expected: &[u8]) -> bool {
    let mut padded = vec![0u8; expected.len()];
    let n = provided.len().min(expected.len());
    padded[..n].copy_from_slice(&provided[..n]);
    let same_len = (provided.len() as u64).ct_eq(&(expected.len() as u64));
    (padded.as_slice().ct_eq(expected) & same_len).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(ct_equal(b"abc", b"abc"));
        assert!(!ct_equal(b"abd", b"abc"));
        assert!(!ct_equal(b"ab", b"abc"));
        assert!(!ct_equal(b"abcd", b"abc"));
        assert!(!ct_equal(b"", b"abc"));
        assert!(ct_equal(b"", b""));
    }

    #[test]
    fn api_key_header() {
        let auth = Auth::ApiKey {
            header: HeaderName::from_static("x-api-key"),
            value: Secret::new("k3y-value-long-enough"),
        };
        assert!(auth.allows(&headers("x-api-key", "k3y-value-long-enough")));
        assert!(auth.allows(&headers("X-Api-Key", "k3y-value-long-enough")));
        assert!(!auth.allows(&headers("x-api-key", "k3y-value-long-enougH")));
        assert!(!auth.allows(&headers("x-other", "k3y-value-long-enough")));
        assert!(!auth.allows(&HeaderMap::new()));
        assert!(!format!("{auth:?}").contains("k3y"), "{auth:?}");
    }

    #[test]
    fn basic() {
        let auth = Auth::Basic {
            username: "eventbridge".into(),
            password: Secret::new("pa:ss-word-long"),
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let good = format!("Basic {}", b64("eventbridge:pa:ss-word-long"));
        assert!(auth.allows(&headers("authorization", &good)));
        let lower = format!("basic {}", b64("eventbridge:pa:ss-word-long"));
        assert!(auth.allows(&headers("authorization", &lower)));
        for bad in [
            format!("Basic {}", b64("eventbridge:wrong")),
            format!("Basic {}", b64("other:pa:ss-word-long")),
            format!("Basic {}", b64("eventbridge")),
            format!("Bearer {}", b64("eventbridge:pa:ss-word-long")),
            "Basic !!!not-base64".to_owned(),
        ] {
            assert!(!auth.allows(&headers("authorization", &bad)), "{bad}");
        }
        assert!(!format!("{auth:?}").contains("pa:ss"), "{auth:?}");
        assert_eq!(auth.challenge(), Some("Basic realm=\"oktaflow\""));
    }
}
