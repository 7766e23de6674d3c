//! The receiver over real sockets: TLS, authentication, limits, back-pressure and the rule
//! that a request is answered 200 only once its delivery is acknowledged.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderName;
use oktaflow_plumbing::{build_client, ClientOptions, Secret, TlsConfig};
use oktaflow_push::{Auth, Deliveries, Receiver, ReceiverConfig, ServeError, TlsFiles};
use tokio::sync::oneshot;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/push")
        .join(name)
}

fn api_key() -> Auth {
    Auth::ApiKey {
        header: HeaderName::from_static("x-oktaflow-key"),
        value: Secret::new("push-test-key-0123456789"),
    }
}

fn tls_files() -> TlsFiles {
    TlsFiles {
        cert_file: fixture("localhost.pem"),
        key_file: fixture("localhost.key"),
    }
}

/// A running receiver: its URL, its queue, and the sender that stops it.
struct Running {
    url: String,
    deliveries: Deliveries,
    stats: std::sync::Arc<oktaflow_push::ReceiverStats>,
    _stop: oneshot::Sender<()>,
}

async fn start(config: ReceiverConfig) -> Running {
    let tls = config.tls.is_some();
    let (receiver, deliveries) = Receiver::bind(config).await.unwrap();
    let addr = receiver.local_addr().unwrap();
    let stats = receiver.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(receiver.serve(async {
        let _ = stopped.await;
    }));
    let url = if tls {
        format!("https://localhost:{}/events", addr.port())
    } else {
        format!("http://{addr}/events")
    };
    Running {
        url,
        deliveries,
        stats,
        _stop: stop,
    }
}

fn client(url: &str) -> reqwest::Client {
    let tls = TlsConfig {
        ca_file: Some(fixture("ca.pem")),
        ..TlsConfig::default()
    };
    build_client(
        &url.parse().unwrap(),
        &ClientOptions::new(tls, Duration::from_secs(20)),
    )
    .unwrap()
}

const ENVELOPE: &str = r#"{"version":"0","id":"e1","detail-type":"SystemLog","source":"aws.partner/okta.com/x/y","detail":{"uuid":"u-1","published":"2026-12-05T00:00:00.000Z"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_api_key_answers_200_only_after_the_ack() {
    let mut running = start(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Some(tls_files()),
        api_key(),
    ))
    .await;
    let client = client(&running.url);
    let request = client
        .post(&running.url)
        .header("x-oktaflow-key", "push-test-key-0123456789")
        .body(ENVELOPE)
        .send();
    let pending = tokio::spawn(request);
    let delivery = running.deliveries.recv().await.unwrap();
    assert_eq!(&delivery.body[..], ENVELOPE.as_bytes());
    // Not answered while the delivery is undecided.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    assert_eq!(running.stats.in_flight(), 1);
    delivery.ack();
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(running.stats.accepted(), 1);
    assert_eq!(running.stats.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_401_405_413_and_503() {
    let mut config =
        ReceiverConfig::new("127.0.0.1:0".parse().unwrap(), Some(tls_files()), api_key());
    config.max_body = 1_000;
    config.ack_timeout = Duration::from_millis(300);
    let mut running = start(config).await;
    let client = client(&running.url);
    let url = running.url.clone();

    for key in [None, Some("wrong"), Some("push-test-key-012345678")] {
        let mut request = client.post(&url).body(ENVELOPE);
        if let Some(key) = key {
            request = request.header("x-oktaflow-key", key);
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "{key:?}");
    }
    assert_eq!(running.stats.unauthorized(), 3);

    let get = client
        .get(&url)
        .header("x-oktaflow-key", "push-test-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);

    let big = client
        .post(&url)
        .header("x-oktaflow-key", "push-test-key-0123456789")
        .body(vec![b'x'; 1_001])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // A chunked body (no Content-Length) over the limit is refused too.
    let stream = futures_stream(vec![vec![b'y'; 600], vec![b'y'; 600]]);
    let chunked = client
        .post(&url)
        .header("x-oktaflow-key", "push-test-key-0123456789")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);
    assert_eq!(running.stats.too_large(), 2);
    assert!(running.deliveries.is_empty());

    // fail -> 503, dropped -> 503, no answer in time -> 503.
    for how in ["fail", "drop", "late"] {
        let pending = tokio::spawn(
            client
                .post(&url)
                .header("x-oktaflow-key", "push-test-key-0123456789")
                .body(ENVELOPE)
                .send(),
        );
        let delivery = running.deliveries.recv().await.unwrap();
        match how {
            "fail" => delivery.fail("sink down"),
            "drop" => drop(delivery),
            _ => {
                tokio::time::sleep(Duration::from_millis(600)).await;
                delivery.ack();
            }
        }
        assert_eq!(pending.await.unwrap().unwrap().status(), 503, "{how}");
    }
    assert_eq!(running.stats.failed(), 3);
    assert_eq!(running.stats.accepted(), 0);
}

fn futures_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::iter(chunks.into_iter().map(Ok))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_429_when_the_in_flight_bound_is_reached() {
    let mut config = ReceiverConfig::new("127.0.0.1:0".parse().unwrap(), None, api_key());
    config.max_in_flight = 2;
    let mut running = start(config).await;
    let client = client(&running.url);
    let send = || {
        client
            .post(&running.url)
            .header("x-oktaflow-key", "push-test-key-0123456789")
            .body(ENVELOPE)
            .send()
    };
    let first = tokio::spawn(send());
    let second = tokio::spawn(send());
    let a = running.deliveries.recv().await.unwrap();
    let b = running.deliveries.recv().await.unwrap();
    let third = send().await.unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["retry-after"], "1");
    assert_eq!(running.stats.throttled(), 1);
    // (Which request `a` and `b` belong to is up to the scheduler.)
    a.ack();
    b.ack();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);
    // The slots are free again.
    let fourth = tokio::spawn(send());
    running.deliveries.recv().await.unwrap().ack();
    assert_eq!(fourth.await.unwrap().unwrap().status(), 200);
    assert_eq!(running.stats.accepted(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth() {
    let auth = Auth::Basic {
        username: "eventbridge".into(),
        password: Secret::new("basic-password-0123"),
    };
    let mut running = start(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Some(tls_files()),
        auth,
    ))
    .await;
    let client = client(&running.url);
    let wrong = client
        .post(&running.url)
        .basic_auth("eventbridge", Some("nope"))
        .body(ENVELOPE)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Basic realm=\"oktaflow\""
    );
    let pending = tokio::spawn(
        client
            .post(&running.url)
            .basic_auth("eventbridge", Some("basic-password-0123"))
            .body(ENVELOPE)
            .send(),
    );
    running.deliveries.recv().await.unwrap().ack();
    assert_eq!(pending.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn bind_refuses_plain_http_off_loopback_and_bad_tls_files_in_one_line() {
    let err = Receiver::bind(ReceiverConfig::new(
        "0.0.0.0:0".parse().unwrap(),
        None,
        api_key(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, ServeError::Config(_)), "{err}");
    assert!(err.to_string().starts_with("tls: "), "{err}");

    let missing = TlsFiles {
        cert_file: fixture("missing.pem"),
        key_file: fixture("localhost.key"),
    };
    let err = Receiver::bind(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Some(missing),
        api_key(),
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("tls.cert_file ") && text.contains("missing.pem"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");

    // The CA's certificate with the leaf's key: the pair does not fit.
    let mismatched = TlsFiles {
        cert_file: fixture("ca.pem"),
        key_file: fixture("localhost.key"),
    };
    let err = Receiver::bind(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Some(mismatched),
        api_key(),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("do not fit"), "{err}");
}
