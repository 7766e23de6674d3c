//! Signatures, bad credentials and missing permissions against a real server that checks
//! them: moto in authentication mode (`/moto-api/reset-auth`), where every request after
//! the first few must be signed (Signature Version 4, checked) by a key of a moto IAM user
//! whose policy allows the action. A test binary of its own with one test: cargo runs test
//! binaries one after the other, so no other test uses the server while authentication is
//! on, and it is turned off again when the test ends, also on a failure.

use std::io::{Read, Write};
use std::time::Duration;

use oktaflow_plumbing::Secret;
use oktaflow_sqs::testing::{send, server_url, test_credentials};
use oktaflow_sqs::{Credentials, SqsClient, SqsConfig, SqsError};
use serde_json::json;

/// Sets moto's number of unauthenticated actions (`inf`: authentication off) with a plain
/// blocking request, so that it also works from `Drop`.
fn reset_auth(url: &str, count: &str) {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("the test server");
    let request = format!(
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{count}",
        count.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("reset-auth sent");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "{answer}"
    );
}

/// Authentication on while it lives.
struct AuthOn(String);

impl Drop for AuthOn {
    fn drop(&mut self) {
        reset_auth(&self.0, "inf");
    }
}

/// An IAM query-protocol action (unauthenticated: only within the first actions).
async fn iam(url: &str, params: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("Version", "2010-05-08"));
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(format!("{url}/"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("IAM request");
    let status = response.status();
    let text = response.text().await.expect("IAM answer");
    assert!(status.is_success(), "{text}");
    text
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn tag(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).expect(name) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).expect(name) + start;
    xml[start..end].to_string()
}

/// A user with an access key (and `policy`, if any): its credentials.
async fn user(url: &str, name: &str, policy: Option<&str>) -> Credentials {
    iam(url, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let key = iam(url, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    if let Some(policy) = policy {
        iam(
            url,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "oktaflow"),
                ("PolicyDocument", policy),
            ],
        )
        .await;
    }
    Credentials {
        access_key_id: tag(&key, "AccessKeyId"),
        secret_access_key: Secret::unlisted(tag(&key, "SecretAccessKey")),
        session_token: None,
    }
}

fn client(queue_url: &str, credentials: Credentials) -> SqsClient {
    let mut config = SqsConfig::new(queue_url, "us-east-1", credentials);
    config.wait_time = Duration::from_secs(1);
    SqsClient::new(&config).unwrap()
}

fn code_of(error: &SqsError) -> &str {
    match error {
        SqsError::Service { code, .. } => code,
        other => panic!("not a service error: {other}"),
    }
}

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn signatures_are_accepted_and_bad_keys_and_missing_permissions_are_permanent() {
    let url = server_url();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // Six actions without authentication: two users, a key each, a policy, the queue.
    reset_auth(&url, "6");
    let _auth = AuthOn(url.clone());
    // The policy of docs/push.md, plus SendMessage for the test and the two batch actions:
    // AWS grants those with DeleteMessage and ChangeMessageVisibility, moto asks for them by
    // name.
    let reader = user(
        &url,
        &format!("oktaflow-reader-{stamp}"),
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:ChangeMessageVisibility","sqs:GetQueueAttributes","sqs:SendMessage","sqs:DeleteMessageBatch","sqs:ChangeMessageVisibilityBatch"],"Resource":"*"}]}"#),
    )
    .await;
    let stranger = user(&url, &format!("oktaflow-stranger-{stamp}"), None).await;
    let setup = client(&format!("{url}/123456789012/bootstrap"), test_credentials());
    let queue_url = setup
        .request(
            "CreateQueue",
            &json!({"QueueName": format!("auth-{stamp}")}),
        )
        .await
        .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();

    // From now on every request is checked. The reader's signed requests pass: the
    // signature computed here is the one the server computes.
    let good = client(&queue_url, reader.clone());
    good.attributes().await.unwrap();
    send(&good, "{\"signed\":true}").await.unwrap();
    let messages = good.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let handles = vec![messages[0].receipt_handle.clone()];
    assert!(good
        .change_visibility(&handles, Duration::from_secs(40))
        .await
        .unwrap()
        .is_empty());
    assert!(good.delete(&handles).await.unwrap().is_empty());

    // A wrong secret for the key: SignatureDoesNotMatch, permanent, never echoed.
    let wrong = Credentials {
        secret_access_key: Secret::unlisted("not-the-secret-of-this-key"),
        ..reader.clone()
    };
    let error = client(&queue_url, wrong).attributes().await.unwrap_err();
    assert_eq!(code_of(&error), "SignatureDoesNotMatch", "{error}");
    assert!(!error.is_transient());
    assert!(error
        .hint()
        .is_some_and(|h| h.contains("secret_access_key")));
    assert!(!error.to_string().contains("not-the-secret-of-this-key"));
    assert!(!error.to_string().contains('\n'));

    // A key AWS does not know.
    let unknown = Credentials {
        access_key_id: "AKIAOKTAFLOWUNKNOWN1".into(),
        ..reader.clone()
    };
    let error = client(&queue_url, unknown).attributes().await.unwrap_err();
    assert_eq!(code_of(&error), "InvalidClientTokenId", "{error}");
    assert!(!error.is_transient());

    // A key without a policy for SQS: AccessDenied, with the actions to grant.
    let error = client(&queue_url, stranger)
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(code_of(&error).starts_with("AccessDenied"), "{error}");
    assert!(!error.is_transient());
    assert!(
        error
            .hint()
            .is_some_and(|h| h.contains("sqs:ReceiveMessage")),
        "{error}"
    );
}
