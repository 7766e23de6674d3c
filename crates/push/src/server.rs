//! [`Receiver`]: the listener, the request handler and the queue of [`Delivery`]s.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::auth::Auth;
use crate::config::{ConfigError, ReceiverConfig, TlsFiles};
use crate::stats::{Answer, ReceiverStats};

/// The receiver could not start: a bad setting, unusable TLS files, or the address taken.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate or key file cannot be read or used.
    #[error("{key} {path}: {reason}")]
    Tls {
        /// `tls.cert_file` or `tls.key_file` (or `tls` when the pair does not fit).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The system's answer.
        source: std::io::Error,
    },
}

/// One accepted request: its body (an EventBridge envelope, unparsed) and the [`Reply`]
/// that answers it.
#[derive(Debug)]
pub struct Delivery {
    /// The request body as received.
    pub body: Bytes,
    /// When the body was fully received.
    pub received_at: SystemTime,
    /// Answers the request; dropping it answers `503`.
    pub reply: Reply,
}

/// Answers one request. While it lives it holds one of the receiver's in-flight slots, so
/// the memory of undecided deliveries stays bounded.
#[derive(Debug)]
pub struct Reply {
    tx: oneshot::Sender<Result<(), String>>,
    /// The receiver's in-flight slot (`None` for a [`Delivery::detached`]).
    _slot: Option<OwnedSemaphorePermit>,
}

impl Reply {
    /// The event is durable in every sink and in the checkpoint: answer `200`.
    pub fn ack(self) {
        let _ = self.tx.send(Ok(()));
    }

    /// The event could not be made durable: answer `503` so the sender retries. The reason
    /// is logged (scrubbed), never sent to the client.
    pub fn fail(self, reason: impl Into<String>) {
        let _ = self.tx.send(Err(reason.into()));
    }
}

impl Delivery {
    /// Same as [`Reply::ack`].
    pub fn ack(self) {
        self.reply.ack();
    }

    /// Same as [`Reply::fail`].
    pub fn fail(self, reason: impl Into<String>) {
        self.reply.fail(reason);
    }

    /// A delivery that did not come through the receiver (e.g. a message of the SQS
    /// consumer, `oktaflow-sqs`): the consumer's decision arrives on the returned [`Verdict`].
    pub fn detached(body: Bytes, received_at: SystemTime) -> (Delivery, Verdict) {
        let (tx, rx) = oneshot::channel();
        let delivery = Delivery {
            body,
            received_at,
            reply: Reply { tx, _slot: None },
        };
        (delivery, Verdict { rx })
    }
}

/// The decision on a [`Delivery::detached`]: resolves to `Ok(())` when it was acknowledged
/// (durable in every sink and the checkpoint) and to `Err(reason)` when it failed or was
/// dropped undecided.
#[derive(Debug)]
pub struct Verdict {
    rx: oneshot::Receiver<Result<(), String>>,
}

impl std::future::Future for Verdict {
    type Output = Result<(), String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.rx).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| Err("dropped before it was acknowledged".to_string()))
        })
    }
}

/// A queue of [`Delivery`]s fed by something other than the receiver (the SQS consumer):
/// what [`DeliverySender::send`] sends, [`Deliveries::recv`] returns, in order. At most
/// `capacity` deliveries wait in it.
pub fn delivery_queue(capacity: usize) -> (DeliverySender, Deliveries) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (DeliverySender { tx }, Deliveries { rx })
}

/// The sending side of a [`delivery_queue`].
#[derive(Debug, Clone)]
pub struct DeliverySender {
    tx: mpsc::Sender<Delivery>,
}

impl DeliverySender {
    /// Queues `delivery`, waiting while the queue is full; gives it back when the
    /// [`Deliveries`] side is gone.
    pub async fn send(&self, delivery: Delivery) -> Result<(), Delivery> {
        self.tx.send(delivery).await.map_err(|e| e.0)
    }
}

/// The queue of accepted requests, in the order their bodies were received.
#[derive(Debug)]
pub struct Deliveries {
    rx: mpsc::Receiver<Delivery>,
}

impl Deliveries {
    /// The next delivery; `None` once the receiver has stopped and the queue is empty.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// The next delivery if one is queued now.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.rx.try_recv().ok()
    }

    /// How many deliveries are queued now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when none is queued now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

struct Shared {
    auth: Auth,
    max_body: usize,
    ack_timeout: Duration,
    read_timeout: Duration,
    slots: Arc<Semaphore>,
    queue: mpsc::Sender<Delivery>,
    stats: Arc<ReceiverStats>,
}

/// The bound receiver. [`Receiver::serve`] answers requests until its shutdown future
/// completes.
pub struct Receiver {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    max_connections: usize,
    read_timeout: Duration,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Checks the settings, loads the certificate and key, and binds the address. Returns the
    /// receiver and the queue its requests arrive on.
    pub async fn bind(config: ReceiverConfig) -> Result<(Receiver, Deliveries), ServeError> {
        config.check()?;
        let tls = config.tls.as_ref().map(load_tls).transpose()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let (queue, rx) = mpsc::channel(config.max_in_flight);
        let shared = Arc::new(Shared {
            auth: config.auth,
            max_body: config.max_body,
            ack_timeout: config.ack_timeout,
            read_timeout: config.read_timeout,
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            queue,
            stats: Arc::new(ReceiverStats::default()),
        });
        let receiver = Receiver {
            listener,
            tls,
            shared,
            max_connections: config.max_connections,
            read_timeout: config.read_timeout,
        };
        Ok((receiver, Deliveries { rx }))
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The receiver's counters.
    pub fn stats(&self) -> Arc<ReceiverStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Accepts connections and answers requests until `shutdown` completes. Connections
    /// already open finish their requests in their own tasks.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&self.shared));
        let connections = Arc::new(Semaphore::new(self.max_connections));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                permit = Arc::clone(&connections).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: wait a moment instead of spinning.
                        tracing::warn!(error = %e, "push receiver: cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let tls = self.tls.clone();
            let service = TowerToHyperService::new(app.clone());
            let read_timeout = self.read_timeout;
            tokio::spawn(async move {
                let _permit = permit;
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout);
                let served = match tls {
                    Some(acceptor) => {
                        match tokio::time::timeout(read_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls_stream)) => {
                                builder
                                    .serve_connection(TokioIo::new(tls_stream), service)
                                    .await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "push receiver: TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        }
                    }
                    None => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(error = %e, "push receiver: connection ended with an error");
                }
            });
        }
    }
}

fn tls_error(key: &'static str, path: &std::path::Path, reason: impl ToString) -> ServeError {
    ServeError::Tls {
        key,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Reads the certificate chain and key and builds the TLS acceptor (TLS 1.2 and 1.3,
/// ALPN h2 and http/1.1).
fn load_tls(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let cert_path = &files.cert_file;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| tls_error("tls.cert_file", cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_error("tls.cert_file", cert_path, e))?;
    if certs.is_empty() {
        return Err(tls_error(
            "tls.cert_file",
            cert_path,
            "holds no PEM certificate",
        ));
    }
    let key_path = &files.key_file;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| tls_error("tls.key_file", key_path, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("tls", cert_path, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            tls_error(
                "tls",
                cert_path,
                format!("the certificate and the key do not fit together ({e})"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn answer(shared: &Shared, what: Answer, status: StatusCode, text: &'static str) -> Response {
    shared.stats.count(what);
    (status, text).into_response()
}

/// Decrements the in-flight gauge when a request is answered, whichever way.
struct InFlight(Arc<ReceiverStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.add_in_flight(-1);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !matches!(parts.method, Method::POST | Method::PUT) {
        return answer(
            &shared,
            Answer::BadMethod,
            StatusCode::METHOD_NOT_ALLOWED,
            "POST or PUT an event\n",
        );
    }
    if !shared.auth.allows(&parts.headers) {
        shared.stats.count(Answer::Unauthorized);
        let mut response = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
        if let Some(challenge) = shared.auth.challenge() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        return response;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.max_body as u64) {
        return answer(
            &shared,
            Answer::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        );
    }
    let Ok(slot) = Arc::clone(&shared.slots).try_acquire_owned() else {
        shared.stats.count(Answer::Throttled);
        let mut response = (StatusCode::TOO_MANY_REQUESTS, "busy, retry later\n").into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    };
    shared.stats.add_in_flight(1);
    let _in_flight = InFlight(Arc::clone(&shared.stats));
    let body = match read_body(body, shared.max_body, shared.read_timeout).await {
        Ok(body) => body,
        Err(response) => {
            let what = if response.0 == StatusCode::PAYLOAD_TOO_LARGE {
                Answer::TooLarge
            } else {
                Answer::Failed
            };
            return answer(&shared, what, response.0, response.1);
        }
    };
    let body_len = body.len();
    let (tx, rx) = oneshot::channel();
    let delivery = Delivery {
        body,
        received_at: SystemTime::now(),
        reply: Reply {
            tx,
            _slot: Some(slot),
        },
    };
    // The queue holds as many deliveries as there are slots, and this one holds a slot: it
    // can only be refused when the consumer has gone.
    if shared.queue.try_send(delivery).is_err() {
        return answer(
            &shared,
            Answer::Failed,
            StatusCode::SERVICE_UNAVAILABLE,
            "not accepting events now\n",
        );
    }
    match tokio::time::timeout(shared.ack_timeout, rx).await {
        Ok(Ok(Ok(()))) => {
            shared.stats.add_body_bytes(body_len);
            answer(&shared, Answer::Accepted, StatusCode::OK, "ok\n")
        }
        Ok(Ok(Err(reason))) => {
            tracing::warn!(
                reason = %oktaflow_plumbing::scrub(&reason),
                "push receiver: an event could not be made durable; answered 503 so it is retried"
            );
            answer(
                &shared,
                Answer::Failed,
                StatusCode::SERVICE_UNAVAILABLE,
                "not durable, retry\n",
            )
        }
        Ok(Err(_)) => answer(
            &shared,
            Answer::Failed,
            StatusCode::SERVICE_UNAVAILABLE,
            "not durable, retry\n",
        ),
        Err(_) => answer(
            &shared,
            Answer::Failed,
            StatusCode::SERVICE_UNAVAILABLE,
            "not durable in time, retry\n",
        ),
    }
}

async fn read_body(
    body: Body,
    max: usize,
    read_timeout: Duration,
) -> Result<Bytes, (StatusCode, &'static str)> {
    match tokio::time::timeout(read_timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"))
        }
        Ok(Err(_)) => Err((StatusCode::BAD_REQUEST, "cannot read the request body\n")),
        Err(_) => Err((StatusCode::REQUEST_TIMEOUT, "request body too slow\n")),
    }
}
