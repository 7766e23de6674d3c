//! AWS Signature Version 4 for the few requests the consumer sends: `POST /` with a JSON
//! body (the SQS JSON protocol), signed headers `content-type`, `host`, `x-amz-date`,
//! `x-amz-security-token` (with temporary credentials) and `x-amz-target`.
//!
//! The steps of the AWS reference ("Create a signed AWS API request"): canonical request,
//! string to sign over its SHA-256, a signing key derived from the secret by four
//! HMAC-SHA256 rounds (date, region, service, `aws4_request`), the signature in hex.

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, Utc};

use crate::Credentials;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// One request to sign: method, path, query (already canonical: sorted, encoded), the
/// headers to sign (lower-case names, trimmed values) and the body.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: &'a [u8],
}

/// The headers to add to `request`: `x-amz-date`, `x-amz-security-token` (temporary
/// credentials) and `authorization`, for `service` in `region` at `now`.
pub(crate) fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    headers.push(("x-amz-date".into(), amz_date.clone()));
    let token = credentials.session_token.as_ref().map(|t| t.expose());
    if let Some(token) = token {
        headers.push(("x-amz-security-token".into(), token.to_string()));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::new();
    canonical.push_str(request.method);
    canonical.push('\n');
    canonical.push_str(request.path);
    canonical.push('\n');
    canonical.push_str(request.query);
    canonical.push('\n');
    for (name, value) in &headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&sha256_hex(request.body));

    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let secret = format!("AWS4{}", credentials.secret_access_key.expose());
    let key = hmac_sha256(secret.as_bytes(), date.as_bytes());
    let key = hmac_sha256(key.as_ref(), region.as_bytes());
    let key = hmac_sha256(key.as_ref(), service.as_bytes());
    let key = hmac_sha256(key.as_ref(), b"aws4_request");
    let signature = hex(hmac_sha256(key.as_ref(), string_to_sign.as_bytes()).as_ref());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    let mut out = vec![("x-amz-date", amz_date)];
    if let Some(token) = token {
        out.push(("x-amz-security-token", token.to_string()));
    }
    out.push(("authorization", authorization));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use oktaflow_plumbing::Secret;

    fn example_credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::unlisted("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::unlisted),
        }
    }

    #[test]
    fn the_aws_test_suite_get_vanilla_signature() {
        // aws-sig-v4-test-suite/get-vanilla: GET / on example.amazonaws.com, service
        // "service", us-east-1, 2015-08-30T12:36:00Z.
        let now = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let request = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: vec![("host", "example.amazonaws.com".into())],
            body: b"",
        };
        let headers = sign(
            &request,
            &example_credentials(None),
            "us-east-1",
            "service",
            now,
        );
        assert_eq!(headers[0], ("x-amz-date", "20150830T123600Z".to_string()));
        assert_eq!(
            headers[1].1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let now = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: vec![("host", "sqs.us-east-1.amazonaws.com".into())],
            body: b"{}",
        };
        let headers = sign(
            &request,
            &example_credentials(Some("tok")),
            "us-east-1",
            "sqs",
            now,
        );
        assert_eq!(headers[1], ("x-amz-security-token", "tok".to_string()));
        assert!(headers[2]
            .1
            .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
        assert!(!headers[2].1.contains("wJalr"));
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
