//! Checks of one Okta source: [`oktaflow_fetch::probe`] (resolve, connect, one System Log
//! request) as rows of the `check` table.

use oktaflow_fetch::ProbeOutcome;
use tracing::{debug, Instrument};

use crate::config::SourceConfig;
use crate::logging::source_span;

use super::report::Row;

/// Runs the checks of `source`; the rows in order: resolve, connect, system log.
pub async fn check_source(source: &SourceConfig) -> Vec<Row> {
    let span = source_span(&source.name);
    async {
        debug!(org = source.client.org.label(), "checking source");
        let subject = format!("source {}", source.name);
        let mut reached = true;
        let mut rows = Vec::new();
        if let Some(push) = &source.push {
            rows.push(check_receiver(&subject, push).await);
            if !push.api_credentials {
                rows.push(Row::skipped(
                    &subject,
                    "org",
                    "no API credentials: the source only receives (no gap filling)",
                ));
                return rows;
            }
        }
        if let Some(sqs) = &source.sqs {
            rows.push(check_queue(&subject, sqs).await);
            if !sqs.api_credentials {
                rows.push(Row::skipped(
                    &subject,
                    "org",
                    "no API credentials: the source only consumes the queue (no gap filling)",
                ));
                return rows;
            }
        }
        let mut probed: Vec<Row> = oktaflow_fetch::probe(&source.client, source.start_from)
            .await
            .into_iter()
            .map(|step| match step.outcome {
                ProbeOutcome::Ok(detail) => Row::ok(&subject, step.check, detail),
                ProbeOutcome::Fail(detail) => {
                    reached = false;
                    Row::fail(&subject, step.check, detail)
                }
                ProbeOutcome::Skipped(detail) => {
                    reached = false;
                    Row::skipped(&subject, step.check, detail)
                }
            })
            .collect();
        rows.append(&mut probed);
        if let Some(options) = &source.enrichment {
            rows.extend(check_enrichment(source, options, reached).await);
        }
        rows
    }
    .instrument(span)
    .await
}

/// One row per endpoint identity enrichment reads, with its OAuth scope: read, refused (the
/// one-line error names the missing scope) or skipped when the org was not reached.
async fn check_enrichment(
    source: &SourceConfig,
    options: &oktaflow_pipeline::EnrichOptions,
    reached: bool,
) -> Vec<Row> {
    let subject = format!("source {}", source.name);
    let client = match oktaflow_fetch::OktaClient::new(source.client.clone()) {
        Ok(client) if reached => client,
        Ok(_) => {
            return vec![Row::skipped(
                &subject,
                "enrichment",
                "the org was not reached",
            )]
        }
        Err(e) => return vec![Row::fail(&subject, "enrichment", e.to_string())],
    };
    oktaflow_enrich::probe(&client, options)
        .await
        .into_iter()
        .map(|check| {
            let label = format!("{} ({})", check.endpoint.what, check.endpoint.scope);
            match check.outcome {
                Ok(()) => Row::ok(&subject, "enrichment", format!("{label}: readable")),
                Err(e) => Row::fail(&subject, "enrichment", format!("{label}: {e}")),
            }
        })
        .collect()
}

/// The push receiver of a `kind = "eventbridge"` source: its certificate and key load and
/// its address can be listened on (bound, then released at once).
async fn check_receiver(subject: &str, push: &crate::config::PushSource) -> Row {
    let config = &push.receiver;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "plain http (loopback)"
    };
    let auth = match &config.auth {
        oktaflow_push::Auth::ApiKey { header, .. } => format!("API key in header {header}"),
        oktaflow_push::Auth::Basic { username, .. } => format!("Basic as {username}"),
    };
    match oktaflow_push::Receiver::bind(config.clone()).await {
        Ok((receiver, _deliveries)) => {
            let addr = receiver
                .local_addr()
                .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
            Row::ok(
                subject,
                "receiver",
                format!("{scheme} on {addr} can listen; {auth}"),
            )
        }
        Err(error) => Row::fail(subject, "receiver", error.to_string()),
    }
}

/// `GetQueueAttributes` of the queue: it exists and the key may read its attributes (the
/// other actions, ReceiveMessage, DeleteMessage and ChangeMessageVisibility, are only
/// exercised by `run`: checking them would take or change messages).
async fn check_queue(subject: &str, sqs: &crate::config::SqsSource) -> Row {
    let config = &sqs.config;
    let client = match oktaflow_sqs::SqsClient::new(config) {
        Ok(client) => client,
        Err(error) => return Row::fail(subject, "queue", error.to_string()),
    };
    match client.attributes().await {
        Ok(attributes) => {
            let get = |name: &str| attributes.get(name).map_or("?", String::as_str);
            let redrive = if attributes.contains_key("RedrivePolicy") {
                "a redrive policy (dead-letter queue)"
            } else {
                "no redrive policy (no dead-letter queue)"
            };
            Row::ok(
                subject,
                "queue",
                format!(
                    "{} readable with key {} ({}): {} messages visible, {} in flight, {redrive}",
                    config.queue_url,
                    config.credentials.access_key_id,
                    sqs.credentials_from,
                    get("ApproximateNumberOfMessages"),
                    get("ApproximateNumberOfMessagesNotVisible"),
                ),
            )
        }
        Err(error) => {
            let hint = error.hint().map(|h| format!(" — {h}")).unwrap_or_default();
            Row::fail(subject, "queue", format!("{error}{hint}"))
        }
    }
}
