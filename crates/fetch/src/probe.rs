//! Checking that an Okta org can be read, without reading it: resolve the org's host (or the
//! proxy's), connect to it, then ONE `GET /api/v1/logs?limit=1` with the configured
//! credentials, which proves the domain, the credentials and their permission to read the
//! System Log at once. `oktaflow check` prints the steps.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{ClientConfig, FetchError, FetchStats, OktaClient, PageRequest};

/// Longest wait for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the request's counters are looked at while it runs.
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// The outcome of one step of a [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The step passed; what was found.
    Ok(String),
    /// The step failed; what is wrong and how to fix it (never a secret).
    Fail(String),
    /// The step was not run because an earlier one failed; why.
    Skipped(String),
}

/// One step of a [`probe`], in order: `resolve`, `connect`, `system log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// Which step.
    pub check: &'static str,
    /// What it found.
    pub outcome: ProbeOutcome,
}

impl ProbeStep {
    fn new(check: &'static str, outcome: ProbeOutcome) -> ProbeStep {
        ProbeStep { check, outcome }
    }
}

/// Where the connection goes: the org itself, or the HTTP proxy in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// `Some(proxy URL without credentials)` when a proxy is used.
    proxy: Option<String>,
}

/// Probes the org of `client`: resolve, connect, then one System Log request of one event
/// from `since`. Always three steps; the ones after a failure are skipped.
pub async fn probe(client: &ClientConfig, since: DateTime<Utc>) -> Vec<ProbeStep> {
    use ProbeOutcome::{Fail, Ok as Pass, Skipped};
    let org = client.org.label().to_string();
    let mut steps = Vec::with_capacity(3);
    let skip = |steps: &mut Vec<ProbeStep>, checks: &[&'static str], why: &str| {
        for check in checks {
            steps.push(ProbeStep::new(check, Skipped(why.to_string())));
        }
    };

    let target = match target(client) {
        Ok(target) => target,
        Err(detail) => {
            steps.push(ProbeStep::new("resolve", Fail(detail)));
            skip(&mut steps, &["connect", "system log"], "skipped");
            return steps;
        }
    };
    let via = target
        .proxy
        .as_ref()
        .map(|p| format!(" (proxy {p})"))
        .unwrap_or_default();

    let addresses = match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
        Ok(found) => found.collect::<Vec<SocketAddr>>(),
        Err(error) => {
            let detail = if target.proxy.is_some() {
                format!("cannot resolve proxy host {} ({error})", target.host)
            } else {
                FetchError::Unresolvable {
                    org: org.clone(),
                    detail: error.to_string(),
                }
                .to_string()
            };
            steps.push(ProbeStep::new("resolve", Fail(detail)));
            skip(
                &mut steps,
                &["connect", "system log"],
                "skipped: not resolved",
            );
            return steps;
        }
    };
    let resolved = if target.host.parse::<std::net::IpAddr>().is_ok() {
        format!("{}{via}: an IP address, nothing to resolve", target.host)
    } else {
        format!("{}{via} → {}", target.host, list_ips(&addresses))
    };
    steps.push(ProbeStep::new("resolve", Pass(resolved)));

    match connect(&addresses).await {
        Ok(address) => steps.push(ProbeStep::new(
            "connect",
            Pass(format!("TCP connection to {address}{via}")),
        )),
        Err(error) => {
            steps.push(ProbeStep::new(
                "connect",
                Fail(format!(
                    "cannot connect to {}:{}{via} ({error}) — check the port, firewall and proxy settings",
                    target.host, target.port
                )),
            ));
            skip(&mut steps, &["system log"], "skipped: not reachable");
            return steps;
        }
    }

    steps.push(ProbeStep::new(
        "system log",
        check_system_log(client, since).await,
    ));
    steps
}

/// The one System Log request: `limit=1` from `since`, with the configured credentials (an
/// OAuth source fetches its access token first).
async fn check_system_log(client: &ClientConfig, since: DateTime<Utc>) -> ProbeOutcome {
    let mut config = client.clone();
    config.page_size = 1;
    let timeout = config.request_timeout;
    let okta = match OktaClient::new(config) {
        Ok(okta) => okta,
        Err(error) => return ProbeOutcome::Fail(format!("{}: {}", error.field, error.reason)),
    };
    let request = PageRequest::Start { since, until: None };
    let stats = okta.stats().clone();
    // `fetch` retries transient failures forever; the probe wants one answer, so it stops at
    // the first retry and reports what that first attempt got (the fetch crate logs the cause).
    let outcome = tokio::select! {
        result = okta.fetch(&request) => Some(result),
        () = first_retry(&stats) => None,
        () = tokio::time::sleep(timeout * 2 + Duration::from_secs(5)) => None,
    };
    let snapshot = stats.snapshot();
    let limit = match snapshot.last_rate_limit_remaining {
        Some(remaining) => format!("; rate limit remaining this minute: {remaining}"),
        None => String::new(),
    };
    match outcome {
        Some(Ok(page)) => ProbeOutcome::Ok(format!(
            "credentials accepted, the System Log is readable ({} event{} since start_from){limit}",
            page.events.len(),
            if page.events.len() == 1 { "" } else { "s" }
        )),
        Some(Err(error)) => ProbeOutcome::Fail(error.to_string()),
        None => ProbeOutcome::Fail(transient_detail(&snapshot.by_status, client)),
    }
}

/// Resolves when the request's first attempt has failed transiently.
async fn first_retry(stats: &FetchStats) {
    while stats.snapshot().retries == 0 {
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// The detail of a request whose first attempt failed transiently.
fn transient_detail(
    by_status: &std::collections::BTreeMap<u16, u64>,
    client: &ClientConfig,
) -> String {
    let org = client.org.label();
    if by_status.contains_key(&429) {
        return format!(
            "{org} answered HTTP 429: the System Log rate limit is spent right now (other integrations?) — check again in a minute"
        );
    }
    if let Some(status) = by_status.keys().find(|s| **s >= 500 || **s == 408) {
        return format!(
            "{org} answered HTTP {status} (a server-side error) — check again later; `run` would retry"
        );
    }
    format!(
        "no complete answer from {org} within {:?} (TLS failure, reset or timeout; the warning above has the cause) — check TLS settings, proxy and request_timeout",
        client.request_timeout
    )
}

/// The host and port the connection goes to.
fn target(client: &ClientConfig) -> Result<Target, String> {
    let base = client.org.base();
    let org_host = base
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .ok_or_else(|| format!("{} has no host", client.org.label()))?;
    let org_port = base.port_or_known_default().unwrap_or(443);
    let proxy = match &client.proxy_url {
        Some(proxy) => Some(proxy.clone()),
        None if client.org.is_loopback() => None,
        None => environment_proxy(base.scheme()),
    };
    let Some(proxy) = proxy else {
        return Ok(Target {
            host: org_host,
            port: org_port,
            proxy: None,
        });
    };
    let url = reqwest::Url::parse(&proxy).map_err(|e| format!("proxy URL is not a URL ({e})"))?;
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .ok_or_else(|| "proxy URL has no host".to_string())?;
    let port = url.port_or_known_default().unwrap_or(3128);
    let shown = format!("{}://{host}:{port}", url.scheme());
    Ok(Target {
        host,
        port,
        proxy: Some(shown),
    })
}

/// The proxy the HTTP client takes from the environment for `scheme` (`NO_PROXY` is not
/// consulted).
fn environment_proxy(scheme: &str) -> Option<String> {
    let names: &[&str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// Connects to the first address that accepts; the error of the last one otherwise.
async fn connect(addresses: &[SocketAddr]) -> std::io::Result<SocketAddr> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_stream)) => return Ok(*address),
            Ok(Err(error)) => last = error,
            Err(_) => {
                last = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("timed out after {CONNECT_TIMEOUT:?}"),
                )
            }
        }
    }
    Err(last)
}

/// The distinct IPs of `addresses`, at most three named.
fn list_ips(addresses: &[SocketAddr]) -> String {
    let mut ips: Vec<String> = Vec::new();
    for address in addresses {
        let ip = address.ip().to_string();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    match ips.len() {
        0 => "no address".to_string(),
        1..=3 => ips.join(", "),
        n => format!("{} (+{} more)", ips[..3].join(", "), n - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn ip_lists_are_short() {
        let a = |n: u8| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 443);
        assert_eq!(list_ips(&[a(1), a(1)]), "10.0.0.1");
        assert_eq!(
            list_ips(&[a(1), a(2), a(3), a(4), a(5)]),
            "10.0.0.1, 10.0.0.2, 10.0.0.3 (+2 more)"
        );
        assert_eq!(list_ips(&[]), "no address");
    }
}
