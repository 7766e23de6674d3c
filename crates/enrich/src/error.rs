//! [`EnrichError`]: what can go wrong keeping the profile store.

use std::path::PathBuf;

/// An error of the profile store or its sync. `Display` is one line naming the fix; it
/// never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The store file could not be opened or created.
    #[error("cannot open the profile store {path}: {detail} — check the state directory")]
    Open {
        /// The store file.
        path: PathBuf,
        /// The store's message.
        detail: String,
    },
    /// Reading or writing the store failed.
    #[error("profile store {path}: {detail}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// The store's message.
        detail: String,
    },
    /// Okta refused or failed a request (the same one-line errors as the System Log).
    #[error(transparent)]
    Fetch(#[from] oktaflow_fetch::FetchError),
    /// Okta refused or failed a request of one listing (the same one-line errors as the
    /// System Log; `endpoint` labels metrics).
    #[error("{error}")]
    Request {
        /// What the endpoint lists (`users`, `groups`, `devices`, ...).
        endpoint: &'static str,
        /// The request's error.
        #[source]
        error: oktaflow_fetch::FetchError,
    },
    /// An Okta answer that is not the JSON expected.
    #[error("unexpected {what} answer from Okta: {detail}")]
    Parse {
        /// Which listing.
        what: &'static str,
        /// The JSON error.
        detail: String,
    },
}

impl EnrichError {
    /// What failed, for a metric label: the listing (`users`, `groups`, `admin role
    /// assignments`, `devices`, ...), `okta` for a request of no known listing, or `store`.
    pub fn endpoint(&self) -> &'static str {
        match self {
            EnrichError::Open { .. } | EnrichError::Store { .. } => "store",
            EnrichError::Fetch(_) => "okta",
            EnrichError::Request { endpoint, .. } => endpoint,
            EnrichError::Parse { what, .. } => what,
        }
    }
}
