//! SSWS and OAuth 2.0 (`private_key_jwt`) authentication.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{client, start};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use oktaflow_sim::{OAuthClientConfig, SimConfig, SimHandle, ASSERTION_TYPE, LOGS_SCOPE};

const CLIENT_ID: &str = "0oa1simtestclient";
const RSA_PRIVATE: &str = include_str!("keys/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa_public.pem");
const EC_PRIVATE: &str = include_str!("keys/ec_private.pem");
const EC_PUBLIC: &str = include_str!("keys/ec_public.pem");
const OTHER_RSA_PRIVATE: &str = include_str!("keys/other_rsa_private.pem");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn assertion(
    sim: &SimHandle,
    key: &EncodingKey,
    alg: Algorithm,
    jti: &str,
    aud: Option<String>,
) -> String {
    let claims = serde_json::json!({
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": aud.unwrap_or_else(|| format!("{}/oauth2/v1/token", sim.base_url())),
        "iat": now(),
        "exp": now() + 300,
        "jti": jti,
    });
    encode(&Header::new(alg), &claims, key).expect("test assertion signs")
}

async fn request_token(sim: &SimHandle, assertion: &str, scope: &str) -> reqwest::Response {
    client()
        .post(format!("{}/oauth2/v1/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("token request")
}

async fn logs_with(sim: &SimHandle, authorization: Option<String>) -> reqwest::Response {
    let mut request = client().get(format!("{}/api/v1/logs?limit=5", sim.base_url()));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("logs request")
}

async fn oauth_sim(public_key: &str, configure: impl FnOnce(&mut OAuthClientConfig)) -> SimHandle {
    let mut oauth = OAuthClientConfig::new(CLIENT_ID, public_key);
    configure(&mut oauth);
    start(SimConfig {
        events: 20,
        oauth: Some(oauth),
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn ssws_token_is_checked() {
    let sim = start(SimConfig {
        events: 20,
        ..SimConfig::default()
    })
    .await;
    for auth in [
        None,
        Some("SSWS wrong-token".to_string()),
        Some("Bearer not-issued".to_string()),
        Some("Basic abc".to_string()),
    ] {
        let response = logs_with(&sim, auth.clone()).await;
        assert_eq!(response.status(), 401, "{auth:?}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
    }
    let response = logs_with(&sim, Some(format!("SSWS {}", sim.config().api_token))).await;
    assert_eq!(response.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn rs256_and_es256_assertions_get_tokens_that_read_logs() {
    for (public, private, alg) in [
        (
            RSA_PUBLIC,
            EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("rsa key"),
            Algorithm::RS256,
        ),
        (
            EC_PUBLIC,
            EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("ec key"),
            Algorithm::ES256,
        ),
    ] {
        let sim = oauth_sim(public, |_| {}).await;
        let response = request_token(
            &sim,
            &assertion(&sim, &private, alg, "jti-1", None),
            LOGS_SCOPE,
        )
        .await;
        assert_eq!(response.status(), 200, "{alg:?}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], LOGS_SCOPE);
        assert_eq!(body["expires_in"], 3600);
        let token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        let response = logs_with(&sim, Some(format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(sim.stats().tokens_issued, 1);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn bad_assertions_are_rejected() {
    let sim = oauth_sim(RSA_PUBLIC, |_| {}).await;
    let good = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("rsa key");
    let other = EncodingKey::from_rsa_pem(OTHER_RSA_PRIVATE.as_bytes()).expect("other key");
    let cases = [
        (
            "signed by another key",
            assertion(&sim, &other, Algorithm::RS256, "a", None),
        ),
        (
            "wrong audience",
            assertion(
                &sim,
                &good,
                Algorithm::RS256,
                "b",
                Some("https://evil.example/oauth2/v1/token".into()),
            ),
        ),
        ("not a JWT", "garbage".to_string()),
    ];
    for (what, jwt) in cases {
        let response = request_token(&sim, &jwt, LOGS_SCOPE).await;
        assert_eq!(response.status(), 401, "{what}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["error"], "invalid_client", "{what}");
    }
    // A replayed jti is refused.
    let jwt = assertion(&sim, &good, Algorithm::RS256, "once", None);
    assert_eq!(request_token(&sim, &jwt, LOGS_SCOPE).await.status(), 200);
    assert_eq!(request_token(&sim, &jwt, LOGS_SCOPE).await.status(), 401);
    // A scope the app was not granted.
    let jwt = assertion(&sim, &good, Algorithm::RS256, "scope", None);
    let response = request_token(&sim, &jwt, "okta.users.manage").await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_scope");
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_without_the_logs_scope_get_403_and_expired_tokens_401() {
    let sim = oauth_sim(RSA_PUBLIC, |c| {
        c.granted_scopes.push("okta.users.read".into());
        c.token_lifetime = Duration::ZERO;
    })
    .await;
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("rsa key");
    let fetch_token = |jti: &'static str, scope: &'static str| {
        let jwt = assertion(&sim, &key, Algorithm::RS256, jti, None);
        let sim = &sim;
        async move {
            let body: serde_json::Value = request_token(sim, &jwt, scope)
                .await
                .json()
                .await
                .expect("JSON");
            body["access_token"]
                .as_str()
                .expect("token issued")
                .to_string()
        }
    };
    // Zero lifetime: the token is expired as soon as it is issued.
    let expired = fetch_token("x1", LOGS_SCOPE).await;
    let response = logs_with(&sim, Some(format!("Bearer {expired}"))).await;
    assert_eq!(response.status(), 401);
    let www = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    sim.shutdown().await;

    let sim = oauth_sim(RSA_PUBLIC, |c| {
        c.granted_scopes.push("okta.users.read".into())
    })
    .await;
    let jwt = assertion(&sim, &key, Algorithm::RS256, "y1", None);
    let body: serde_json::Value = request_token(&sim, &jwt, "okta.users.read")
        .await
        .json()
        .await
        .expect("JSON");
    let token = body["access_token"].as_str().expect("token issued");
    let response = logs_with(&sim, Some(format!("Bearer {token}"))).await;
    assert_eq!(response.status(), 403);
    let www = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(www.contains("insufficient_scope"), "{www}");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["errorCode"], "E0000006");
    sim.shutdown().await;
}
