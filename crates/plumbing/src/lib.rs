//! # oktaflow-plumbing: what the source and the sinks share
//!
//! Small pieces that every network-facing crate of oktaflow needs, written once:
//!
//! * [`secret`] — [`Secret`] (a redacting, zeroed-on-drop string, on top of `secrecy`) and
//!   [`SecretRef`] (a secret read from an environment variable or a file).
//! * [`scrub`](mod@scrub) — the one secret-scrubbing rule: every [`Secret`] is registered and
//!   [`scrub()`] replaces it in any text leaving the process ([`ScrubWriter`] for log lines,
//!   [`install_panic_hook`] for panics, [`scrub_authorization`] for error bodies).
//! * [`retry`] — [`RetryPolicy`] and [`Backoff`]: capped exponential backoff with full
//!   jitter, the one retry rule.
//! * [`http`] — [`build_client`]: the `reqwest` client with [`TlsConfig`] (`ca_file`,
//!   `cert_file`, `key_file`, `verify_certificate`), request timeout, proxy, no redirects.
//! * [`units`] — [`parse_duration`] (`30s`, `1h30m`) and [`parse_size`] (`5MB`, `256MiB`),
//!   and `serde` helpers for configuration structs ([`units::de`]).
//! * [`framing`] — JSON framing: [`split_events`] for page bodies and [`Records`] for any
//!   stream of JSON values (NDJSON, concatenated or pretty-printed objects, arrays).
//! * [`settings`] — what the crates' configuration tables share: [`SettingError`] (a key
//!   and why), [`Quantity`] (a duration or size as written) and [`secret_setting`].
//! * [`error_chain`](fn@error_chain) — an error and its sources on one line.
//! * [`lock`] — exclusive advisory file locks that die with the process, and who holds one.
//!
//! `oktaflow-fetch` and `oktaflow-sink` depend on this crate, never on each other.
//!
//! ```
//! use std::time::Duration;
//! use oktaflow_plumbing::{parse_duration, Backoff, RetryPolicy, Secret};
//!
//! let token = Secret::new("00abc");
//! assert_eq!(format!("{token:?}"), "[redacted]");
//! assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
//! let mut backoff = Backoff::new(RetryPolicy::default());
//! assert!(backoff.next_random_delay() <= Duration::from_millis(500));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error_chain;
pub mod framing;
pub mod http;
pub mod lock;
pub mod retry;
pub mod scrub;
pub mod secret;
pub mod settings;
pub mod units;

pub use error_chain::error_chain;
pub use framing::{split_events, RawEvent, Record, Records, SplitError};
pub use http::{build_client, check_proxy_url, ClientOptions, HttpConfigError, TlsConfig};
pub use lock::{lock_holder, try_lock_exclusive};
pub use retry::{Backoff, RetryPolicy};
pub use scrub::{install_panic_hook, scrub, scrub_authorization, ScrubWriter, REDACTED};
pub use secret::{Secret, SecretError, SecretRef};
pub use settings::{secret_setting, Quantity, SettingError};
pub use units::{parse_duration, parse_size};
